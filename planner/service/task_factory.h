// TaskFactory turns a CreateTaskRequest into a task on the board: it checks
// the request (every field, naming it), chooses the nodes (placement.h: a
// probe takes one rank per device of every chosen node, a profile one rank
// on one node), puts the task on the board (or finds an in-flight task that
// already does the work) and stores it.
//
// Thread model: thread-safe; no state of its own. It calls the thread-safe
// board and managers without holding any lock.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "galvatron/v1/task.pb.h"
#include "planner/service/model_manager.h"
#include "planner/service/node_manager.h"
#include "planner/service/placement.h"
#include "planner/service/task_board.h"

namespace galvatron::planner {

// Checks of a task's specs; 0 / "" mean the worker's defaults.
absl::Status ValidateProbeSpec(const v1::ProbeTaskSpec& probe);
absl::Status ValidateProfileSpec(const v1::ProfileTaskSpec& profile);

class TaskFactory {
 public:
  TaskFactory(TaskBoard* board, NodeManager* nodes, ModelManager* models)
      : board_(board), nodes_(nodes), models_(models) {}

  // Creates the task `request` describes and returns it once stored.
  // `model` (may be null) is the spec a profile task measures instead of
  // looking request.model() up (a plan request may name a spec that is not
  // stored). `reuse` (may be null): return the first in-flight task for
  // which it holds instead of creating one (checked atomically with the
  // creation, TaskBoard::Add).
  absl::StatusOr<v1::Task> Create(const v1::CreateTaskRequest& request,
                                  const v1::ModelSpec* model = nullptr,
                                  const TaskBoard::Select& reuse = nullptr);

  // A training task (jobs only; clients cannot create one): the parts and
  // ranks of `placement` on `cluster`, each rank on the device the job's
  // ranks name. The spec was checked by the job manager.
  absl::StatusOr<v1::Task> CreateTrain(const std::string& cluster, const Placement& placement,
                                       v1::TrainTaskSpec spec, const std::string& reason);

 private:
  // Puts the task on the board (or finds the in-flight one `reuse` selects)
  // and stores it; fails it at once if one of its nodes was lost meanwhile.
  absl::StatusOr<v1::Task> Put(v1::Task task, const TaskBoard::Select& reuse);

  TaskBoard* const board_;
  NodeManager* const nodes_;
  ModelManager* const models_;
};

}  // namespace galvatron::planner
