#include "planner/service/job_steps.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/field_checks.h"
#include "common/model_validation.h"
#include "common/rank_layout.h"
#include "common/status_macros.h"

namespace galvatron::planner {

using field_checks::CheckNonNegativeFinite;
using field_checks::CheckRange;
using field_checks::Invalid;
using field_checks::Quoted;

namespace {

constexpr int64_t kMaxSteps = int64_t{1} << 40;
constexpr int kMaxRestarts = 100;
constexpr int kMaxJobNodes = 4096;

}  // namespace

int64_t JobNumber(const std::string& id) {
  int64_t number = 0;
  if (!absl::StartsWith(id, "job-") || !absl::SimpleAtoi(id.substr(4), &number) || number <= 0) {
    return 0;
  }
  return absl::StrCat("job-", number) == id ? number : 0;
}

absl::Status ValidateSubmission(const v1::SubmitJobRequest& request,
                                v1::TrainingOptions* training) {
  RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
  if (request.memory_budget_bytes() <= 0) {
    return Invalid("memory_budget_bytes", absl::StrCat(request.memory_budget_bytes()),
                   "a memory budget per device above 0 (e.g. --memory 4GiB)");
  }
  switch (request.batch_case()) {
    case v1::SubmitJobRequest::kGlobalBatch:
      RETURN_IF_ERROR(CheckRange("global_batch", request.global_batch(), 1, 1 << 24));
      break;
    case v1::SubmitJobRequest::kGlobalBatchRange: {
      const v1::GlobalBatchRange& range = request.global_batch_range();
      RETURN_IF_ERROR(CheckRange("global_batch_range.min", range.min(), 1, 1 << 24));
      RETURN_IF_ERROR(CheckRange("global_batch_range.max", range.max(), range.min(), 1 << 24));
      RETURN_IF_ERROR(CheckRange("global_batch_range.step", range.step(), 0, 1 << 24));
      break;
    }
    case v1::SubmitJobRequest::BATCH_NOT_SET:
      break;
  }
  if (request.nodes_size() > kMaxJobNodes) {
    return Invalid("nodes", absl::StrCat(request.nodes_size(), " names"),
                   absl::StrCat("at most ", kMaxJobNodes));
  }
  std::set<std::string> seen;
  for (int i = 0; i < request.nodes_size(); ++i) {
    RETURN_IF_ERROR(ValidateName(absl::StrCat("nodes[", i, "]"), request.nodes(i)));
    if (!seen.insert(request.nodes(i)).second) {
      return Invalid(absl::StrCat("nodes[", i, "]"), Quoted(request.nodes(i)), "each node once");
    }
  }
  if (!request.plan_id().empty() && request.has_plan()) {
    return Invalid("plan_id", Quoted(request.plan_id()),
                   "either a plan id or a whole plan, not both");
  }

  *training = request.training();
  RETURN_IF_ERROR(CheckRange("training.steps", training->steps(), 0, kMaxSteps));
  if (training->steps() == 0) training->set_steps(10);
  if (training->seed() == 0) training->set_seed(1234);
  if (training->dataset().empty()) training->set_dataset("synthetic");
  RETURN_IF_ERROR(
      CheckRange("training.checkpoint_every", training->checkpoint_every(), 0, kMaxSteps));
  if (training->dtype().empty()) training->set_dtype("float32");
  if (training->dtype() != "float32" && training->dtype() != "float64" &&
      training->dtype() != "bfloat16") {
    return Invalid("training.dtype", Quoted(training->dtype()), "float32, float64 or bfloat16");
  }
  RETURN_IF_ERROR(CheckNonNegativeFinite("training.learning_rate", training->learning_rate()));
  RETURN_IF_ERROR(CheckRange("training.max_restarts", training->max_restarts(), 0, kMaxRestarts));
  for (const std::string* path : {&training->dataset(), &training->checkpoint_dir()}) {
    if (path->find('\0') != std::string::npos || path->size() > 4096) {
      return Invalid(path == &training->dataset() ? "training.dataset" : "training.checkpoint_dir",
                     absl::StrCat(path->size(), " bytes"), "a path of at most 4096 bytes");
    }
  }
  // Every node's agent makes <checkpoint_dir>/<job id> and refuses a folder
  // that is relative (to what?) or climbs with "..": say so at submission.
  if (const std::string& dir = training->checkpoint_dir(); !dir.empty()) {
    const std::filesystem::path path(dir);
    if (!path.is_absolute() || path.lexically_normal() != path) {
      return Invalid("training.checkpoint_dir", Quoted(dir),
                     "an absolute path without \".\" or \"..\" parts (a folder on every node)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::PlanRequest> JobPlanRequest(const v1::Job& job, const v1::ModelSpec& model,
                                               const v1::HardwareProfile& hardware,
                                               const std::vector<v1::Node>& nodes) {
  v1::PlanRequest request;
  request.set_model(model.name());
  request.set_model_version(model.version());
  request.set_memory_budget_bytes(job.memory_budget_bytes());
  if (job.batch_case() == v1::Job::kGlobalBatch) {
    request.set_global_batch(job.global_batch());
  } else if (job.batch_case() == v1::Job::kGlobalBatchRange) {
    *request.mutable_global_batch_range() = job.global_batch_range();
  }
  const int devices = nodes.empty() ? 0 : std::max(1, nodes.front().devices_size());
  if (static_cast<int>(nodes.size()) == hardware.num_nodes() &&
      devices == hardware.devices_per_node()) {
    request.set_cluster(job.cluster());
    return request;
  }
  if (devices != hardware.devices_per_node() ||
      static_cast<int>(nodes.size()) > hardware.num_nodes()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the job's nodes (", nodes.size(), " × ", devices,
                     " devices) do not match the hardware "
                     "profile ",
                     hardware.id(), " of cluster ", job.cluster(), " (", hardware.num_nodes(),
                     " × ", hardware.devices_per_node(),
                     "): probe the cluster again (galvatron profiles "
                     "probe --cluster ",
                     job.cluster(), ")"));
  }
  // Fewer nodes than the profile measured: the same interconnect, cut. It
  // keeps the profile's id, so that the plan names the profile it came from
  // and the cluster's calibration (learned on that profile) applies.
  v1::HardwareProfile cut = hardware;
  cut.set_num_nodes(static_cast<int>(nodes.size()));
  cut.clear_version();
  cut.clear_created_at();
  *request.mutable_hardware() = std::move(cut);
  return request;
}

absl::Status CheckGroupsInsideNodes(const v1::Plan& plan, const Placement& placement) {
  std::vector<std::string> node_of(placement.world_size);
  for (const NodeRanks& share : placement.nodes) {
    for (int i = 0; i < share.num_ranks; ++i) node_of[share.first_rank + i] = share.node;
  }
  auto check = [&](const std::string& what, int tp) -> absl::Status {
    LayoutDegrees degrees;
    degrees.world = placement.world_size;
    degrees.pp = std::max(1, plan.pp());
    degrees.tp = std::max(1, tp);
    degrees.dp = degrees.world / degrees.pp / degrees.tp;
    ASSIGN_OR_RETURN(std::vector<StageGroups> stages, AllGroups(degrees));
    for (const StageGroups& stage : stages) {
      for (const std::vector<int>& group : stage.tp_groups) {
        std::set<std::string> nodes;
        for (int rank : group) nodes.insert(node_of[rank]);
        if (nodes.size() > 1) {
          return absl::FailedPreconditionError(absl::StrCat(
              what, ": the tensor/sequence-parallel group of ranks ", absl::StrJoin(group, ","),
              " would span nodes ", absl::StrJoin(nodes, ", "),
              "; a group must sit inside one node (tp at most the devices per node, and "
              "dividing them)"));
        }
      }
    }
    return absl::OkStatus();
  };
  for (int i = 0; i < plan.layers_size(); ++i) {
    RETURN_IF_ERROR(check(absl::StrCat("layers[", i, "]"), plan.layers(i).tp()));
  }
  return check("embedding", plan.embedding().vocab_tp());
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  double lower = *std::max_element(values.begin(), values.begin() + mid);
  return (lower + upper) / 2;
}

double RelativeSpread(std::vector<double> values) {
  if (values.size() < 3) return 0;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    const double position = q * static_cast<double>(values.size() - 1);
    const size_t low = static_cast<size_t>(std::floor(position));
    const size_t high = std::min(values.size() - 1, low + 1);
    return values[low] + (values[high] - values[low]) * (position - static_cast<double>(low));
  };
  const double median = at(0.5);
  return median > 0 ? (at(0.9) - at(0.1)) / median : 0;
}

int64_t WarmupSteps(int64_t total_steps) { return total_steps > 10 ? total_steps / 10 : 1; }

}  // namespace galvatron::planner
