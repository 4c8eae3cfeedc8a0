// TaskManager is the TaskService: it hands work to node agents and collects
// its results. A probe task measures the cluster's interconnect (-> a
// HardwareProfile), a profile task measures a model's layer types on one
// node (-> ComputeProfiles).
//
// It is a facade over the pieces that do the work, each in its own file:
//   task_board.h     the tasks in flight and the ordered writing of their rows
//   long_poll.h      waiting on a revision (GetTask, PollTask)
//   placement.h      which nodes and devices take which ranks
//   task_factory.h   checking a CreateTaskRequest and creating the task
//   task_handout.h   PollTask and the two-phase hand-out (rank 0 first)
//   task_reports.h   ReportTask: the state machine and storing results
//   measure_missing.h  MeasureMissing's policy
//
// Every state change of a task is stored (a new version of its row);
// progress is kept in memory. A planner restart fails the tasks that were in
// flight (their agents' sessions died with it) with a message saying so,
// except training tasks whose every part was running: their agents keep the
// workers running while the planner is away, register again and go on
// reporting, so those go back on the board as they were (the job manager
// fails one whose nodes do not come back). A
// node that is lost while its part is pending or running fails the task:
// NodeManager calls OnNodeLost (the composition root wires it).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "galvatron/v1/task.grpc.pb.h"
#include "planner/service/access.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/long_poll.h"
#include "planner/service/measure_missing.h"
#include "planner/service/model_manager.h"
#include "planner/service/node_manager.h"
#include "planner/service/task_board.h"
#include "planner/service/task_factory.h"
#include "planner/service/task_handout.h"
#include "planner/service/task_reports.h"
#include "planner/store/store.h"

namespace galvatron::planner {

struct TaskManagerOptions {
  // The longest PollTask / GetTask wait a caller may ask for.
  absl::Duration max_wait = absl::Seconds(60);
};

// Thread-safe: it has no lock of its own; the board, Revisions and the
// managers it calls are thread-safe, and no lock is held across a store
// write (task_board.h says how writes are ordered). Long polls wait on
// Revisions and wake at least once a second to notice a cancelled call.
class TaskManager final : public v1::TaskService::Service, public GuardedService {
 public:
  TaskManager(store::Store* store, NodeManager* nodes, ModelManager* models,
              HardwareProfileManager* hardware, ComputeProfileManager* compute,
              const TaskManagerOptions& options = {});
  ~TaskManager() override;

  // Reads the stored tasks (for the next id) and fails those a previous
  // planner left in flight. Call once, before serving.
  absl::Status Start();
  // Wakes every long poll (they answer at once); later polls answer at once.
  void Shutdown();

  // NodeManager's lost-node listener: fails the tasks with an unfinished
  // part on `node`. Runs on NodeManager's deadline thread.
  void OnNodeLost(const v1::Node& node);

  absl::StatusOr<v1::Task> Create(const v1::CreateTaskRequest& request);
  // A training task of a job (TaskFactory::CreateTrain).
  absl::StatusOr<v1::Task> CreateTrain(const std::string& cluster, const Placement& placement,
                                       v1::TrainTaskSpec spec, const std::string& reason) {
    return factory_.CreateTrain(cluster, placement, std::move(spec), reason);
  }
  // Set once, before serving: who takes the reports of training tasks.
  void SetTrainListener(TrainReportListener* listener) { reports_.SetTrainListener(listener); }
  // `context` (may be null) ends a long poll early.
  absl::StatusOr<v1::GetTaskResponse> Get(const v1::GetTaskRequest& request,
                                          const grpc::ServerContext* context = nullptr);
  absl::StatusOr<v1::ListTasksResponse> List(const v1::ListTasksRequest& request);
  absl::StatusOr<v1::Task> Cancel(const std::string& id);
  // Ends an unfinished task FAILED with `message` (the job manager: a node
  // that did not re-attach); the task as it ended, or as it was if it had.
  absl::StatusOr<v1::Task> Fail(const std::string& id, const std::string& message);
  absl::StatusOr<v1::PollTaskResponse> Poll(const v1::PollTaskRequest& request,
                                            const grpc::ServerContext* context = nullptr);
  absl::StatusOr<v1::ReportTaskResponse> Report(const v1::ReportTaskRequest& request);
  absl::StatusOr<v1::MeasureMissingResponse> MeasureMissing(const v1::ModelSpec& model,
                                                            const std::string& cluster,
                                                            const std::string& reason);

  grpc::Status CreateTask(grpc::ServerContext* context, const v1::CreateTaskRequest* request,
                          v1::Task* response) override;
  grpc::Status GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                       v1::GetTaskResponse* response) override;
  grpc::Status ListTasks(grpc::ServerContext* context, const v1::ListTasksRequest* request,
                         v1::ListTasksResponse* response) override;
  grpc::Status CancelTask(grpc::ServerContext* context, const v1::CancelTaskRequest* request,
                          v1::Task* response) override;
  grpc::Status PollTask(grpc::ServerContext* context, const v1::PollTaskRequest* request,
                        v1::PollTaskResponse* response) override;
  grpc::Status ReportTask(grpc::ServerContext* context, const v1::ReportTaskRequest* request,
                          v1::ReportTaskResponse* response) override;
  grpc::Status MeasureMissing(grpc::ServerContext* context,
                              const v1::MeasureMissingRequest* request,
                              v1::MeasureMissingResponse* response) override;

 private:
  // The task as a reader sees it now: from the board while it is on it
  // (revision -1 once finished), else from the store (revision -1).
  absl::StatusOr<v1::GetTaskResponse> Current(const std::string& id);

  store::Store* const store_;
  ModelManager* const models_;
  const TaskManagerOptions options_;
  Revisions revisions_;
  TaskBoard board_;
  TaskFactory factory_;
  HandOut handout_;
  ReportHandler reports_;
  MeasurePolicy measure_;
};

}  // namespace galvatron::planner
