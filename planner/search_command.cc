#include "planner/search_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/json_file.h"
#include "common/message_text.h"
#include "common/model_catalog.h"
#include "common/model_validation.h"
#include "common/plan_request_flags.h"
#include "common/profile_validation.h"
#include "common/status_macros.h"
#include "galvatron/v1/service.pb.h"
#include "interop/galvatron_config.h"
#include "interop/galvatron_hardware.h"
#include "interop/galvatron_model.h"
#include "planner/search/plan_builder.h"

namespace galvatron::planner {

namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::StatusOr<v1::HardwareProfile> LoadHardware(const SearchCommandConfig& c) {
  if (c.hardware.empty()) {
    return absl::InvalidArgumentError(
        "--hardware: required (a HardwareProfile JSON file or Galvatron's hardware_configs "
        "folder)");
  }
  if (IsDirectory(c.hardware)) {
    interop::GalvatronHardwareFiles files;
    files.directory = c.hardware;
    files.num_nodes = c.num_nodes;
    files.gpus_per_node = c.gpus_per_node;
    files.cluster = c.cluster;
    return interop::ReadGalvatronHardware(files);
  }
  v1::HardwareProfile profile;
  RETURN_IF_ERROR(ReadJsonFile(c.hardware, &profile));
  RETURN_IF_ERROR(ValidateHardwareProfile(profile));
  return profile;
}

// Galvatron's profile folder: one computation_profiling_*.json and one
// memory_profiling_*.json.
absl::StatusOr<std::string> FindOne(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, prefix) && absl::EndsWith(name, ".json")) {
      found.push_back(entry.path().string());
    }
  }
  if (found.size() == 1) return found[0];
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat("--compute: no ", prefix, "*.json in ", dir));
  }
  std::sort(found.begin(), found.end());
  return absl::InvalidArgumentError(absl::StrCat("--compute: several ", prefix, "*.json in ", dir,
                                                 " (", absl::StrJoin(found, ", "),
                                                 "); keep one per folder"));
}

absl::StatusOr<std::vector<v1::ComputeProfile>> LoadCompute(const SearchCommandConfig& c,
                                                            const v1::ModelSpec& model,
                                                            const std::string& cluster) {
  std::vector<v1::ComputeProfile> out;
  if (c.compute.empty()) return out;
  if (IsDirectory(c.compute)) {
    interop::GalvatronModelFiles files;
    ASSIGN_OR_RETURN(files.computation_profile_path, FindOne(c.compute, "computation_profiling_"));
    ASSIGN_OR_RETURN(files.memory_profile_path, FindOne(c.compute, "memory_profiling_"));
    files.spec = model;
    files.cluster = cluster;
    files.seq_len = c.seq;
    ASSIGN_OR_RETURN(files.time_profile_mode,
                     interop::ParseGalvatronTimeProfileMode(c.time_profile_mode));
    return interop::ReadGalvatronModelProfiles(files);
  }
  for (absl::string_view part : absl::StrSplit(c.compute, ',', absl::SkipEmpty())) {
    const std::string path(part);
    ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
    v1::ListComputeProfilesResponse list;
    if (JsonToMessage(text, path, &list).ok()) {
      for (const auto& p : list.profiles()) out.push_back(p);
      continue;
    }
    v1::ComputeProfile profile;
    RETURN_IF_ERROR(JsonToMessage(text, path, &profile));
    out.push_back(std::move(profile));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    absl::Status valid = ValidateComputeProfile(out[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--compute: profile ", i, ": ", valid.message()));
    }
  }
  return out;
}

absl::StatusOr<v1::PlanRequest> MakeRequest(const SearchCommandConfig& c) {
  v1::PlanRequest request;
  RETURN_IF_ERROR(ParseMemoryFlag(c.memory, &request));
  RETURN_IF_ERROR(ParseGlobalBatchFlag(c.global_batch, &request));
  RETURN_IF_ERROR(ParsePipelineFlag(c.pipeline, &request));
  RETURN_IF_ERROR(ParseDisableFlag(c.disable, &request));
  RETURN_IF_ERROR(ParseModeFlag(c.mode, &request));
  request.set_seq_len(c.seq);
  request.set_max_tp(c.max_tp);
  request.set_max_pp(c.max_pp);
  request.set_time_limit_seconds(c.time_limit);
  request.set_top_k(c.top_k);
  request.set_micro_batches(c.micro_batches);
  if (c.default_dp_type == "zero2") {
    request.set_default_dp_type(v1::DATA_PARALLEL_TYPE_ZERO2);
  } else if (c.default_dp_type == "ddp") {
    request.set_default_dp_type(v1::DATA_PARALLEL_TYPE_DDP);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--default-dp-type: \"", c.default_dp_type, "\", expected ddp or zero2"));
  }
  return request;
}

// Prints the search's progress on stderr at most twice a second, and the
// last report always. Thread-safe: the search's worker threads call Print().
class ProgressPrinter {
 public:
  void Print(const search::SearchProgress& p) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const auto now = std::chrono::steady_clock::now();
    if (p.tasks_done != p.tasks_total && now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    std::fprintf(
        stderr, "search: %lld/%lld tasks, best %s\n", static_cast<long long>(p.tasks_done),
        static_cast<long long>(p.tasks_total),
        p.best_samples_per_second > 0
            ? absl::StrFormat("%.3f samples/s (%s)", p.best_samples_per_second, p.best_description)
                  .c_str()
            : "none yet");
  }

 private:
  absl::Mutex mu_;
  std::chrono::steady_clock::time_point last_ ABSL_GUARDED_BY(mu_) =
      std::chrono::steady_clock::now() - std::chrono::seconds(10);
};

absl::StatusOr<v1::Plan> Run(const SearchCommandConfig& c) {
  ASSIGN_OR_RETURN(v1::PlanRequest request, MakeRequest(c));
  search::PlanInputs inputs;
  ASSIGN_OR_RETURN(inputs.model, LoadModelArgument(c.model));
  ASSIGN_OR_RETURN(inputs.hardware, LoadHardware(c));
  ASSIGN_OR_RETURN(inputs.compute, LoadCompute(c, inputs.model, inputs.hardware.cluster()));
  request.set_model(inputs.model.name());
  request.set_cluster(inputs.hardware.cluster());
  inputs.request = request;
  if (!c.calibration.empty()) {
    v1::Calibration calibration;
    RETURN_IF_ERROR(ReadJsonFile(c.calibration, &calibration));
    const auto fine = [](double f) { return std::isfinite(f) && f > 0; };
    if (!fine(calibration.compute_factor()) || !fine(calibration.communication_factor())) {
      return absl::InvalidArgumentError(
          absl::StrCat("--calibration ", c.calibration, ": computeFactor ",
                       calibration.compute_factor(), ", communicationFactor ",
                       calibration.communication_factor(), ", expected both finite and > 0"));
    }
    if (!calibration.cluster().empty() && calibration.cluster() != inputs.hardware.cluster()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--calibration ", c.calibration, ": cluster \"", calibration.cluster(),
                       "\", the hardware profile's is \"", inputs.hardware.cluster(), "\""));
    }
    inputs.calibration = std::move(calibration);
  }

  search::PlanBuildOptions build;
  build.threads = c.threads;
  ProgressPrinter printer;
  if (!c.quiet) {
    build.progress = [&printer](const search::SearchProgress& p) { printer.Print(p); };
  }
  return search::BuildPlan(inputs, build);
}

std::string Readable(const v1::Plan& plan) {
  std::string out = text::PlanDetails(plan);
  if (plan.runners_up_size() > 0) {
    absl::StrAppend(&out, "runners-up:\n");
    for (const auto& r : plan.runners_up()) {
      absl::StrAppend(
          &out,
          absl::StrFormat(
              "  %8.3f samples/s  %s%s\n", r.prediction().samples_per_second(), r.description(),
              r.prediction().warnings().empty() ? "" : " (breaks a physical bound: see --json)"));
    }
  }
  const auto& s = plan.search();
  absl::StrAppend(
      &out,
      absl::StrFormat("search:       %lld tasks, %lld DP states, %.2f s on %d threads%s\n",
                      static_cast<long long>(s.tasks_done()),
                      static_cast<long long>(s.states_explored()), s.wall_seconds(), s.threads(),
                      s.time_limit_hit() ? " (time limit hit: best plan so far)" : ""));
  return out;
}

}  // namespace

int RunSearchCommand(const SearchCommandConfig& config) {
  absl::StatusOr<v1::Plan> plan = Run(config);
  if (!plan.ok()) {
    std::fprintf(stderr, "galvatron-planner search: %s\n",
                 std::string(plan.status().message()).c_str());
    return absl::IsResourceExhausted(plan.status()) ? 3 : 1;
  }
  if (!config.galvatron_config_out.empty()) {
    interop::GalvatronConfigOptions options;
    if (config.mode == "galvatron") options.default_dp_type = config.default_dp_type;
    auto json = interop::WriteGalvatronConfig(*plan, options);
    absl::Status written =
        json.ok() ? WriteTextFile(config.galvatron_config_out, *json) : json.status();
    if (!written.ok()) {
      std::fprintf(stderr, "galvatron-planner search: --galvatron-config-out: %s\n",
                   std::string(written.message()).c_str());
      return 1;
    }
  }
  if (config.json) {
    std::cout << MessageToJson(*plan) << "\n";
  } else {
    std::cout << Readable(*plan);
  }
  return 0;
}

}  // namespace galvatron::planner
