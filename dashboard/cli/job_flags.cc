#include "dashboard/cli/job_flags.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/json_file.h"
#include "common/model_catalog.h"
#include "common/plan_request_flags.h"
#include "common/status_macros.h"
#include "interop/galvatron_config.h"

namespace galvatron::cli {
namespace {

absl::Status Bad(absl::string_view flag, absl::string_view value, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", value, "\", expected ", expected));
}

// An integer flag: unset ("") leaves *out alone.
absl::Status ParseIntFlag(absl::string_view flag, const std::string& text, int64_t min,
                          absl::string_view expected, int64_t* out) {
  if (text.empty()) return absl::OkStatus();
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min) return Bad(flag, text, expected);
  *out = value;
  return absl::OkStatus();
}

// A value that names a file rather than something stored on the planner.
bool LooksLikePath(const std::string& value) {
  return absl::StrContains(value, '/') || absl::EndsWithIgnoreCase(value, ".json");
}

bool IsFile(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

absl::Status ParseModel(const std::string& value, v1::SubmitJobRequest* request) {
  if (value.empty()) {
    return Bad("--model", value, "a stored or catalog model name, or a ModelSpec JSON file");
  }
  if (IsFile(value)) {
    ASSIGN_OR_RETURN(*request->mutable_model_spec(), LoadModelArgument(value, "--model"));
    return absl::OkStatus();
  }
  if (LooksLikePath(value)) {
    return Bad("--model", value,
               "a ModelSpec JSON file (there is no such file) or a stored or catalog model name");
  }
  request->set_model(value);
  return absl::OkStatus();
}

absl::Status ParsePlan(const std::string& value, JobSubmission* submission) {
  if (value.empty()) return absl::OkStatus();
  if (!IsFile(value)) {
    if (LooksLikePath(value)) {
      return Bad("--plan", value, "a plan file (there is no such file) or the id of a stored plan");
    }
    submission->request.set_plan_id(value);
    return absl::OkStatus();
  }
  submission->plan_file = value;
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(value));
  const interop::GalvatronConfigSniff sniff = interop::SniffGalvatronConfig(text);
  if (sniff.is_config) {
    if (!sniff.has_world_size) {
      submission->galvatron_config = std::move(text);  // converted for the job's world size
      return absl::OkStatus();
    }
    auto imported = interop::ImportGalvatronConfig(text, value);
    if (!imported.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--plan: ", imported.status().message()));
    }
    *submission->request.mutable_plan() = std::move(imported->plan);
    submission->notes = std::move(imported->notes);
    return absl::OkStatus();
  }
  v1::Plan plan;
  absl::Status parsed = JsonToMessage(text, value, &plan);
  if (parsed.ok() && plan.layers_size() > 0) {
    *submission->request.mutable_plan() = std::move(plan);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--plan: \"", value,
      "\" is neither our Plan JSON (what `galvatron --json plan` prints, with \"layers\") nor "
      "a Galvatron strategy file (galvatron_config_*.json, with \"pp_deg\"): ",
      parsed.ok() ? std::string("it has no layers") : std::string(parsed.message())));
}

absl::Status ParseTraining(const JobSubmitFlags& f, v1::TrainingOptions* t) {
  int64_t value = 0;
  RETURN_IF_ERROR(ParseIntFlag("--steps", f.steps, 1, "a positive number of steps", &value));
  t->set_steps(value);
  value = 0;
  RETURN_IF_ERROR(ParseIntFlag("--seed", f.seed, 1, "a positive integer", &value));
  t->set_seed(value);
  value = 0;
  RETURN_IF_ERROR(ParseIntFlag("--checkpoint-every", f.checkpoint_every, 0,
                               "a number of steps >= 0 (0: at the end only)", &value));
  t->set_checkpoint_every(value);
  value = 0;
  RETURN_IF_ERROR(ParseIntFlag("--max-restarts", f.max_restarts, 0, "an integer >= 0", &value));
  if (value > INT32_MAX) return Bad("--max-restarts", f.max_restarts, "an integer >= 0");
  t->set_max_restarts(static_cast<int32_t>(value));
  if (!f.lr.empty()) {
    double lr = 0;
    if (!absl::SimpleAtod(f.lr, &lr) || !std::isfinite(lr) || lr <= 0) {
      return Bad("--lr", f.lr, "a positive learning rate, e.g. 3e-4");
    }
    t->set_learning_rate(lr);
  }
  if (!f.dtype.empty()) {
    if (f.dtype != "float32" && f.dtype != "float64" && f.dtype != "bfloat16") {
      return Bad("--dtype", f.dtype, "float32, float64 or bfloat16");
    }
    t->set_dtype(f.dtype);
  }
  t->set_dataset(f.data);
  t->set_checkpoint_dir(f.checkpoint_dir);
  t->set_export_safetensors(f.export_model);
  return absl::OkStatus();
}

absl::Status ParseNodes(const std::string& text, v1::SubmitJobRequest* request) {
  std::set<std::string> seen;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::string node(absl::StripAsciiWhitespace(part));
    if (!seen.insert(node).second) {
      return Bad("--nodes", text, absl::StrCat("each node once (", node, " is given twice)"));
    }
    request->add_nodes(std::move(node));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JobSubmission> ParseJobSubmitFlags(const JobSubmitFlags& flags) {
  JobSubmission submission;
  v1::SubmitJobRequest& request = submission.request;
  RETURN_IF_ERROR(ParseModel(flags.model, &request));
  if (flags.cluster.empty()) return Bad("--cluster", flags.cluster, "a cluster name");
  request.set_cluster(flags.cluster);

  // The spellings `galvatron plan` reads, into a scratch PlanRequest.
  v1::PlanRequest scratch;
  RETURN_IF_ERROR(ParseMemoryFlag(flags.memory, &scratch));
  request.set_memory_budget_bytes(scratch.memory_budget_bytes());
  // Without --global-batch: the plan's with --plan, else 8 (as `galvatron plan`).
  const std::string batch =
      !flags.global_batch.empty() ? flags.global_batch : (flags.plan.empty() ? "8" : "");
  if (!batch.empty()) {
    RETURN_IF_ERROR(ParseGlobalBatchFlag(batch, &scratch));
    if (scratch.has_global_batch_range()) {
      *request.mutable_global_batch_range() = scratch.global_batch_range();
    } else {
      request.set_global_batch(scratch.global_batch());
    }
  }
  RETURN_IF_ERROR(ParseTraining(flags, request.mutable_training()));
  RETURN_IF_ERROR(ParseNodes(flags.nodes, &request));
  RETURN_IF_ERROR(ParsePlan(flags.plan, &submission));
  return submission;
}

absl::Status CompleteGalvatronPlan(int world_size, JobSubmission* submission) {
  if (submission->galvatron_config.empty()) return absl::OkStatus();
  interop::GalvatronConfigReadOptions options;
  options.world_size = world_size;
  auto imported =
      interop::ImportGalvatronConfig(submission->galvatron_config, submission->plan_file, options);
  if (!imported.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--plan: ", imported.status().message()));
  }
  *submission->request.mutable_plan() = std::move(imported->plan);
  submission->notes = std::move(imported->notes);
  submission->galvatron_config.clear();
  return absl::OkStatus();
}

absl::StatusOr<v1::JobState> ParseJobStateFlag(const std::string& text) {
  if (text.empty()) return v1::JOB_STATE_UNSPECIFIED;
  std::vector<std::string> names;
  const std::string wanted = absl::AsciiStrToLower(text);
  for (int i = v1::JobState_MIN; i <= v1::JobState_MAX; ++i) {
    if (!v1::JobState_IsValid(i) || i == v1::JOB_STATE_UNSPECIFIED) continue;
    const auto state = static_cast<v1::JobState>(i);
    std::string name =
        absl::AsciiStrToLower(absl::StripPrefix(v1::JobState_Name(state), "JOB_STATE_"));
    if (name == wanted) return state;
    names.push_back(std::move(name));
  }
  return Bad("--state", text, absl::StrCat("one of ", absl::StrJoin(names, ", ")));
}

}  // namespace galvatron::cli
