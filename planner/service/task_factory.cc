#include "planner/service/task_factory.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/field_checks.h"
#include "common/model_validation.h"
#include "common/status_macros.h"
#include "planner/service/placement.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using field_checks::CheckNonNegativeFinite;
using field_checks::CheckRange;
using field_checks::Invalid;
using field_checks::Quoted;

namespace {

constexpr int kMaxTaskNodes = 4096;
constexpr int kMaxProfileSizes = 64;
constexpr size_t kMaxReasonBytes = 1024;

void AddParts(const Placement& placement, v1::Task* task) {
  for (const NodeRanks& share : placement.nodes) {
    v1::TaskNode* part = task->add_nodes();
    part->set_node(share.node);
    part->set_first_rank(share.first_rank);
    part->set_num_ranks(share.num_ranks);
    part->set_state(v1::TASK_STATE_PENDING);
  }
  task->set_world_size(placement.world_size);
}

// The noise fields both specs share (0: the worker's default).
template <typename Spec>
absl::Status ValidateNoiseFields(const std::string& prefix, const Spec& spec) {
  RETURN_IF_ERROR(CheckNonNegativeFinite(prefix + ".noise_threshold", spec.noise_threshold()));
  RETURN_IF_ERROR(CheckNonNegativeFinite(prefix + ".load_threshold", spec.load_threshold()));
  return CheckRange(prefix + ".max_remeasure", spec.max_remeasure(), 0, 100);
}

}  // namespace

absl::Status ValidateProbeSpec(const v1::ProbeTaskSpec& probe) {
  RETURN_IF_ERROR(CheckRange("probe.min_bytes", probe.min_bytes(), 0, int64_t{1} << 40));
  RETURN_IF_ERROR(CheckRange("probe.max_bytes", probe.max_bytes(), 0, int64_t{1} << 40));
  if (probe.min_bytes() > 0 && probe.max_bytes() > 0 && probe.max_bytes() < probe.min_bytes()) {
    return Invalid("probe.max_bytes", absl::StrCat(probe.max_bytes()),
                   absl::StrCat("expected at least probe.min_bytes (", probe.min_bytes(), ")"));
  }
  RETURN_IF_ERROR(CheckRange("probe.warmup", probe.warmup(), 0, 1000));
  RETURN_IF_ERROR(CheckRange("probe.repeats", probe.repeats(), 0, 10000));
  const std::string& backend = probe.backend();
  if (!backend.empty() && backend != "auto" && backend != "gloo" && backend != "nccl") {
    return Invalid("probe.backend", Quoted(backend), "expected gloo, nccl, auto or empty");
  }
  RETURN_IF_ERROR(ValidateNoiseFields("probe", probe));
  return CheckNonNegativeFinite("probe.timeout_seconds", probe.timeout_seconds());
}

absl::Status ValidateProfileSpec(const v1::ProfileTaskSpec& profile) {
  if (profile.micro_batches_size() > kMaxProfileSizes) {
    return Invalid("profile.micro_batches", absl::StrCat(profile.micro_batches_size(), " values"),
                   absl::StrCat("expected at most ", kMaxProfileSizes));
  }
  for (int i = 0; i < profile.micro_batches_size(); ++i) {
    RETURN_IF_ERROR(CheckRange(absl::StrCat("profile.micro_batches[", i, "]"),
                               profile.micro_batches(i), 1, 4096));
  }
  if (profile.seq_lens_size() > kMaxProfileSizes) {
    return Invalid("profile.seq_lens", absl::StrCat(profile.seq_lens_size(), " values"),
                   absl::StrCat("expected at most ", kMaxProfileSizes));
  }
  for (int i = 0; i < profile.seq_lens_size(); ++i) {
    RETURN_IF_ERROR(
        CheckRange(absl::StrCat("profile.seq_lens[", i, "]"), profile.seq_lens(i), 1, 1 << 20));
  }
  RETURN_IF_ERROR(ValidateNoiseFields("profile", profile));
  return CheckNonNegativeFinite("profile.time_budget_seconds", profile.time_budget_seconds());
}

absl::StatusOr<v1::Task> TaskFactory::Create(const v1::CreateTaskRequest& request,
                                             const v1::ModelSpec* model,
                                             const TaskBoard::Select& reuse) {
  if (request.kind() != v1::TASK_KIND_PROBE && request.kind() != v1::TASK_KIND_PROFILE) {
    return Invalid("kind", absl::StrCat(static_cast<int>(request.kind())),
                   "expected TASK_KIND_PROBE or TASK_KIND_PROFILE");
  }
  RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
  if (request.nodes_size() > kMaxTaskNodes) {
    return Invalid("nodes", absl::StrCat(request.nodes_size(), " names"),
                   absl::StrCat("expected at most ", kMaxTaskNodes));
  }
  for (int i = 0; i < request.nodes_size(); ++i) {
    RETURN_IF_ERROR(ValidateName(absl::StrCat("nodes[", i, "]"), request.nodes(i)));
  }
  if (request.reason().size() > kMaxReasonBytes) {
    return Invalid("reason", absl::StrCat(request.reason().size(), " bytes"),
                   absl::StrCat("expected at most ", kMaxReasonBytes));
  }
  ASSIGN_OR_RETURN(std::vector<v1::Node> alive, nodes_->AliveNodes(request.cluster()));
  if (alive.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cluster ", Quoted(request.cluster()),
                     " has no alive node: start galvatron-agent --cluster ", request.cluster(),
                     " on its nodes (galvatron nodes list shows them)"));
  }
  ASSIGN_OR_RETURN(std::vector<v1::Node> chosen,
                   SelectNamedNodes(request.cluster(), alive, request.nodes()));

  v1::Task task;  // the id is given by the board
  task.set_kind(request.kind());
  task.set_cluster(request.cluster());
  task.set_state(v1::TASK_STATE_PENDING);
  task.set_reason(request.reason().empty() ? "requested by a client" : request.reason());
  *task.mutable_created_at() = NowTimestamp();

  if (request.kind() == v1::TASK_KIND_PROBE) {
    RETURN_IF_ERROR(ValidateProbeSpec(request.probe()));
    *task.mutable_probe() = request.probe();
    ASSIGN_OR_RETURN(Placement placement, PlaceOneRankPerDevice(chosen.empty() ? alive : chosen));
    AddParts(placement, &task);
  } else {
    if (model == nullptr && request.model().empty()) {
      return Invalid("model", "\"\"", "expected the name of a stored or built-in model");
    }
    RETURN_IF_ERROR(ValidateProfileSpec(request.profile()));
    *task.mutable_profile() = request.profile();
    if (model != nullptr) {
      *task.mutable_profile()->mutable_model() = *model;
    } else {
      ASSIGN_OR_RETURN(*task.mutable_profile()->mutable_model(), models_->Get(request.model(), 0));
    }
    if (chosen.size() > 1) {
      return Invalid("nodes", absl::StrCat(chosen.size(), " names"),
                     "a profile task runs on one node, expected at most one");
    }
    if (!chosen.empty()) {
      AddParts(PlaceOnLeastLoaded(chosen, {}), &task);
    } else {
      // Spread profile tasks: the alive node with the fewest parts of tasks
      // in flight. Read without holding the board, so two tasks created at
      // once may pick the same node; that only makes one wait for the other.
      std::map<std::string, int> load;
      for (const v1::Task& active : board_->Unfinished(
               [&](const v1::Task& t) { return t.cluster() == request.cluster(); })) {
        for (const v1::TaskNode& part : active.nodes()) ++load[part.node()];
      }
      AddParts(PlaceOnLeastLoaded(alive, load), &task);
    }
  }

  return Put(std::move(task), reuse);
}

absl::StatusOr<v1::Task> TaskFactory::CreateTrain(const std::string& cluster,
                                                  const Placement& placement,
                                                  v1::TrainTaskSpec spec,
                                                  const std::string& reason) {
  RETURN_IF_ERROR(ValidateName("cluster", cluster));
  if (placement.nodes.empty() || placement.world_size < 1) {
    return Invalid("placement", "no ranks", "expected at least one rank on one node");
  }
  v1::Task task;
  task.set_kind(v1::TASK_KIND_TRAIN);
  task.set_cluster(cluster);
  task.set_state(v1::TASK_STATE_PENDING);
  task.set_reason(reason);
  *task.mutable_created_at() = NowTimestamp();
  *task.mutable_train() = std::move(spec);
  AddParts(placement, &task);
  return Put(std::move(task), nullptr);
}

absl::StatusOr<v1::Task> TaskFactory::Put(v1::Task task, const TaskBoard::Select& reuse) {
  TaskBoard::Added added = board_->Add(std::move(task), reuse);
  if (!added.write.has_value()) return added.task;  // an in-flight task does the work
  const v1::Task& created = added.task;
  RETURN_IF_ERROR(board_->Commit(std::move(*added.write)));
  spdlog::info("{} created: {} on {} ({} node(s), {} rank(s)); {}", created.id(),
               KindName(created.kind()), created.cluster(), created.nodes_size(),
               created.world_size(), created.reason());
  // A node lost between AliveNodes above and Add was not on the board when
  // the node manager told the listeners; look again now that it is.
  for (const v1::TaskNode& part : created.nodes()) {
    if (!nodes_->IsAlive(created.cluster(), part.node())) {
      FailTasksOfLostNode(board_, created.cluster(), part.node(), TaskNumber(created.id()));
    }
  }
  return created;
}

}  // namespace galvatron::planner
