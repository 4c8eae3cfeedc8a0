#include "planner/search_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/message_text.h"
#include "common/model_catalog.h"
#include "common/model_validation.h"
#include "common/plan_explanation.h"
#include "common/plan_request_flags.h"
#include "common/profile_validation.h"
#include "common/status_macros.h"
#include "galvatron/v1/service.pb.h"
#include "interop/galvatron_config.h"
#include "interop/galvatron_hardware.h"
#include "interop/galvatron_model.h"
#include "interop/galvatron_search_yaml.h"
#include "planner/search/fit_suggestions.h"
#include "planner/search/plan_builder.h"

namespace galvatron::planner {

namespace {

// "true"/"false"/"1"/"0" of a Galvatron switch flag; nullopt when empty.
absl::StatusOr<std::optional<bool>> SwitchFlag(const std::string& flag, const std::string& text) {
  if (text.empty()) return std::optional<bool>();
  if (text == "true" || text == "1") return std::optional<bool>(true);
  if (text == "false" || text == "0") return std::optional<bool>(false);
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": \"", text, "\", expected true, false, 1 or 0"));
}

// Galvatron's search_dist.yaml under the flags: every setting the file makes
// that no flag on the command line gave. The file implies galvatron mode
// unless --mode says otherwise. Returns what the file sets that the search
// does not act on, for the user.
absl::StatusOr<std::vector<std::string>> ApplyGalvatronYaml(SearchCommandConfig* c) {
  ASSIGN_OR_RETURN(interop::GalvatronSearchYaml y,
                   interop::ReadGalvatronSearchYaml(c->galvatron_yaml));
  const auto unset = [&](const char* flag) { return c->given.count(flag) == 0; };
  const std::string where = absl::StrCat("--galvatron-yaml ", c->galvatron_yaml);
  if (unset("--mode")) c->mode = "galvatron";
  if (y.model_size && unset("--model")) c->model = *y.model_size;
  if (y.seq_length && unset("--seq")) c->seq = *y.seq_length;
  if (y.time_profile_mode && unset("--time-profile-mode")) {
    c->time_profile_mode = *y.time_profile_mode;
  }
  if (y.memory_profile_mode && unset("--memory-profile-mode")) {
    c->memory_profile_mode = *y.memory_profile_mode;
  }
  const auto switch_text = [](bool v) { return std::string(v ? "true" : "false"); };
  if (y.sequence_parallel && unset("--sequence-parallel")) {
    c->sequence_parallel = switch_text(*y.sequence_parallel);
  }
  if (y.global_memory_buffer && unset("--global-memory-buffer")) {
    c->global_memory_buffer = switch_text(*y.global_memory_buffer);
  }
  if (y.async_grad_reduce && unset("--async-grad-reduce")) {
    c->async_grad_reduce = switch_text(*y.async_grad_reduce);
  }
  if (y.fine_grained && unset("--fine-grained-mode")) c->fine_grained_mode = *y.fine_grained;
  if (y.costmodel_coe && unset("--costmodel-coe")) c->costmodel_coe = *y.costmodel_coe;
  if (y.default_dp_type && unset("--default-dp-type")) {
    if (*y.default_dp_type == "zero3") {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       ": parallelism_info.default_dp_type: \"zero3\", expected ddp or zero2 (for "
                       "ZeRO-3 everywhere, keep zero2 and disable dp's other types)"));
    }
    c->default_dp_type = *y.default_dp_type;
  }
  if (y.pipeline_type && unset("--pipeline")) {
    c->pipeline = *y.pipeline_type == "pipedream_flush" ? "1f1b" : "gpipe";
  }
  if (y.num_nodes && unset("--num-nodes")) c->num_nodes = *y.num_nodes;
  if (y.gpus_per_node && unset("--gpus-per-node")) c->gpus_per_node = *y.gpus_per_node;
  if (y.memory_constraint_gb && unset("--memory")) {
    c->memory =
        absl::StrCat(static_cast<int64_t>(std::llround(*y.memory_constraint_gb * 1024)), "MiB");
  }
  if (unset("--global-batch")) {
    // Galvatron's defaults: min_bsz = max_bsz = bsz_scale = 8.
    const int lo = y.min_bsz.value_or(8), hi = y.max_bsz.value_or(8);
    c->global_batch =
        lo == hi ? std::to_string(lo) : absl::StrCat(lo, "..", hi, ":", y.bsz_scale.value_or(8));
  }
  if (y.bsz_scale && unset("--bsz-scale")) c->bsz_scale = *y.bsz_scale;
  if (y.settle_bsz && *y.settle_bsz > 0 && unset("--settle-bsz")) c->settle_bsz = *y.settle_bsz;
  if (y.settle_chunk && *y.settle_chunk > 0 && unset("--micro-batches") &&
      unset("--settle-chunk")) {
    c->micro_batches = *y.settle_chunk;
  }
  if (!y.disabled.empty() && unset("--disable")) c->disable = absl::StrJoin(y.disabled, ",");
  if (y.max_tp_deg && y.max_sp_deg && *y.max_tp_deg != *y.max_sp_deg) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": search_space_info.max_tp_deg ", *y.max_tp_deg, " and max_sp_deg ",
                     *y.max_sp_deg, " differ; the search has one limit for both (--max-tp)"));
  }
  const std::optional<int> max_tp = y.max_tp_deg ? y.max_tp_deg : y.max_sp_deg;
  if (max_tp && unset("--max-tp")) c->max_tp = *max_tp;
  if (y.max_pp_deg && unset("--max-pp")) c->max_pp = *y.max_pp_deg;
  if (y.mixed_precision && unset("--mixed-precision")) c->mixed_precision = *y.mixed_precision;
  return y.ignored;
}

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
    if (!c.memory_profile_mode.empty()) {
      ASSIGN_OR_RETURN(files.memory_profile_mode,
                       interop::ParseGalvatronMemoryProfileMode(c.memory_profile_mode));
    }
    ASSIGN_OR_RETURN(files.sequence_parallel,
                     SwitchFlag("--sequence-parallel", c.sequence_parallel));
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
  if (c.settle_bsz > 0) request.set_global_batch(c.settle_bsz);  // Galvatron's -1: none
  if (c.bsz_scale > 0 && request.has_global_batch_range()) {
    request.mutable_global_batch_range()->set_step(c.bsz_scale);
  } else if (c.bsz_scale < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bsz-scale: ", c.bsz_scale, ", expected an integer >= 1"));
  }
  v1::GalvatronSettings g;
  ASSIGN_OR_RETURN(std::optional<bool> sp, SwitchFlag("--sequence-parallel", c.sequence_parallel));
  if (sp) g.set_sequence_parallel(*sp);
  ASSIGN_OR_RETURN(std::optional<bool> buffer,
                   SwitchFlag("--global-memory-buffer", c.global_memory_buffer));
  if (buffer) g.set_global_memory_buffer(*buffer);
  ASSIGN_OR_RETURN(std::optional<bool> async,
                   SwitchFlag("--async-grad-reduce", c.async_grad_reduce));
  if (async) g.set_async_grad_reduce(*async);
  if (c.fine_grained_mode == 0 || c.fine_grained_mode == 1) {
    g.set_fine_grained(c.fine_grained_mode == 1);
  } else if (c.fine_grained_mode != -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fine-grained-mode: ", c.fine_grained_mode, ", expected 1 or 0"));
  }
  if (c.costmodel_coe != 0) g.set_costmodel_coe(c.costmodel_coe);
  if (g.ByteSizeLong() > 0) *request.mutable_galvatron() = g;
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

// The search's inputs from the command's flags (and its YAML file);
// `effective` receives the flags with the YAML file's settings applied.
absl::StatusOr<search::PlanInputs> Prepare(const SearchCommandConfig& config,
                                           SearchCommandConfig* effective) {
  SearchCommandConfig& c = *effective;
  c = config;
  if (!c.galvatron_yaml.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::string> ignored, ApplyGalvatronYaml(&c));
    for (const std::string& line : ignored) {
      std::fprintf(stderr, "galvatron-planner search: note: --galvatron-yaml: %s\n", line.c_str());
    }
  }
  if (c.model.empty()) {
    return absl::InvalidArgumentError(
        "--model: required (a ModelSpec JSON file or a catalog name), or model_info.model_size "
        "in --galvatron-yaml");
  }
  if (c.memory.empty()) {
    return absl::InvalidArgumentError(
        "--memory: required (e.g. 36GiB), or hardware_info.memory_constraint in "
        "--galvatron-yaml");
  }
  ASSIGN_OR_RETURN(v1::PlanRequest request, MakeRequest(c));
  search::PlanInputs inputs;
  ASSIGN_OR_RETURN(inputs.model, LoadModelArgument(c.model));
  if (!c.mixed_precision.empty()) {
    if (c.mixed_precision == "bf16") {
      inputs.model.set_precision(v1::PRECISION_BF16_MIXED);
    } else if (c.mixed_precision == "fp16") {
      inputs.model.set_precision(v1::PRECISION_FP16_MIXED);
    } else if (c.mixed_precision == "fp32") {
      inputs.model.set_precision(v1::PRECISION_FP32);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--mixed-precision: \"", c.mixed_precision,
                                                     "\", expected bf16, fp16 or fp32"));
    }
  }
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
    if (calibration.sync_factor() != 0 && !fine(calibration.sync_factor())) {
      return absl::InvalidArgumentError(
          absl::StrCat("--calibration ", c.calibration, ": syncFactor ", calibration.sync_factor(),
                       ", expected a finite number > 0 (or absent: the communication factor)"));
    }
    if (!calibration.cluster().empty() && calibration.cluster() != inputs.hardware.cluster()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--calibration ", c.calibration, ": cluster \"", calibration.cluster(),
                       "\", the hardware profile's is \"", inputs.hardware.cluster(), "\""));
    }
    inputs.calibration = std::move(calibration);
  }

  return inputs;
}

// What would make an infeasible request fit (--explain), on stdout.
int ExplainInfeasible(const SearchCommandConfig& config, const search::PlanInputs& inputs,
                      const absl::Status& why) {
  std::printf("nothing fits: %s\n", std::string(why.message()).c_str());
  search::FitSuggestionOptions options;
  options.build.threads = config.threads;
  if (!config.quiet) {
    options.progress = [](const std::string& line) {
      std::fprintf(stderr, "explain: %s\n", line.c_str());
    };
  }
  absl::StatusOr<std::vector<search::FitSuggestion>> suggestions =
      search::SuggestFits(inputs, options);
  if (!suggestions.ok()) {
    std::fprintf(stderr, "galvatron-planner search: --explain: %s\n",
                 std::string(suggestions.status().message()).c_str());
    return 1;
  }
  if (suggestions->empty()) {
    std::printf(
        "no single change tried makes it fit (memory up to %dx, devices up to %dx, a "
        "smaller global batch, the request's own limits lifted)\n",
        options.max_memory_factor, options.max_device_factor);
    return 3;
  }
  std::printf("what would make it fit (each change alone, with the plan the search then finds):\n");
  for (const search::FitSuggestion& s : *suggestions) {
    const v1::Plan& p = s.plan;
    std::printf(
        "  %-13s %s\n                %.4g samples/s: pp%d, global batch %d in %d "
        "micro-batches\n",
        (s.kind + ":").c_str(), s.change.c_str(), p.prediction().samples_per_second(), p.pp(),
        p.global_batch(), p.micro_batches());
  }
  return 3;
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

// --galvatron-inputs-out: the inputs as Galvatron's engine reads them under
// its `path`: hardware_configs/ and configs/ (its default folders).
absl::Status WriteGalvatronInputs(const SearchCommandConfig& config,
                                  const search::PlanInputs& inputs) {
  int batch_sizes = 1;  // static: Galvatron takes one value per layer type
  if (config.time_profile_mode == "batch") {
    batch_sizes = 8;  // Galvatron's batch mode fits a line through >= 8 sizes
  } else if (config.time_profile_mode != "static") {
    return absl::InvalidArgumentError(absl::StrCat(
        "time profile mode \"", config.time_profile_mode,
        "\" (--time-profile-mode, or profiling_info.time_profile_mode in --galvatron-yaml): the "
        "inputs are written for static or batch (sequence mode needs profiles at several "
        "sequence lengths, which one search does not have)"));
  }
  ASSIGN_OR_RETURN(search::SearchInputProfiles profiles,
                   search::InputProfilesFor(inputs, batch_sizes));
  const std::filesystem::path dir(config.galvatron_inputs_out);
  RETURN_IF_ERROR(
      interop::WriteGalvatronHardware(inputs.hardware, (dir / "hardware_configs").string()));
  RETURN_IF_ERROR(interop::WriteGalvatronModelProfiles(profiles.model, profiles.profiles,
                                                       (dir / "configs").string())
                      .status());
  std::string layer_configs;
  for (const auto& p : profiles.profiles) {
    if (&p == &profiles.profiles.back()) break;  // the embedding/head
    const int seq = p.activations_size() > 0 ? p.activations(0).seq_len() : 0;
    absl::StrAppend(&layer_configs, layer_configs.empty() ? "" : ", ", p.layer_type(), " (seq ",
                    seq, ")");
  }
  std::fprintf(stderr,
               "galvatron-planner search: Galvatron's inputs written under %s (hardware_configs/, "
               "configs/ for model \"%s\" in %s; layer types in Galvatron's order: %s)\n",
               dir.string().c_str(), profiles.model.name().c_str(),
               PrecisionToken(profiles.model.precision()).c_str(), layer_configs.c_str());
  const std::string sp_time =
      interop::SpTimeFileName(inputs.hardware.num_nodes(), inputs.hardware.devices_per_node());
  if (!std::filesystem::exists(dir / "hardware_configs" / sp_time)) {
    std::fprintf(stderr,
                 "galvatron-planner search: note: the hardware profile has no collective times "
                 "by message size, so there is no %s; Galvatron's engine reads one (a probe by "
                 "`galvatron-worker probe` measures them)\n",
                 sp_time.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int RunSearchCommand(const SearchCommandConfig& config) {
  SearchCommandConfig effective;
  absl::StatusOr<search::PlanInputs> inputs = Prepare(config, &effective);
  if (!inputs.ok()) {
    std::fprintf(stderr, "galvatron-planner search: %s\n",
                 std::string(inputs.status().message()).c_str());
    return 1;
  }
  if (!config.galvatron_inputs_out.empty()) {
    // The time mode of the YAML file too: the files are for that search.
    if (absl::Status written = WriteGalvatronInputs(effective, *inputs); !written.ok()) {
      std::fprintf(stderr, "galvatron-planner search: --galvatron-inputs-out: %s\n",
                   std::string(written.message()).c_str());
      return 1;
    }
  }
  search::PlanBuildOptions build;
  build.threads = config.threads;
  ProgressPrinter printer;
  if (!config.quiet) {
    build.progress = [&printer](const search::SearchProgress& p) { printer.Print(p); };
  }
  absl::StatusOr<v1::Plan> plan = search::BuildPlan(*inputs, build);
  if (config.explain && absl::IsResourceExhausted(plan.status())) {
    return ExplainInfeasible(config, *inputs, plan.status());
  }
  if (!plan.ok()) {
    std::fprintf(stderr, "galvatron-planner search: %s\n",
                 std::string(plan.status().message()).c_str());
    return absl::IsResourceExhausted(plan.status()) ? 3 : 1;
  }
  if (!config.galvatron_config_out.empty()) {
    interop::GalvatronConfigOptions options;
    // Galvatron mode writes the default type it searched with (as Galvatron
    // does); the extended mode's plans carry theirs.
    if (plan->mode() == v1::COST_MODEL_MODE_GALVATRON) {
      options.default_dp_type =
          plan->request().default_dp_type() == v1::DATA_PARALLEL_TYPE_ZERO2 ? "zero2" : "ddp";
    }
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
    if (config.explain) std::cerr << text::ExplainRunnersUp(*plan);
  } else {
    std::cout << Readable(*plan);
    if (config.explain) std::cout << text::ExplainRunnersUp(*plan);
  }
  return 0;
}

}  // namespace galvatron::planner
