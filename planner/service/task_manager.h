// TaskManager hands work to node agents and collects its results: a probe
// task measures the cluster's interconnect (→ a HardwareProfile), a profile
// task measures a model's layer types on one node (→ ComputeProfiles).
//
// Delivery is a long poll: an idle agent calls PollTask and the call returns
// when a task for its node exists (or after the wait). A task spanning several
// nodes is handed to the node of rank 0 first; the others get it once rank 0
// reports the address of the c10d store its worker hosts. Agents report
// progress and finally success (rank 0's node with the result) or failure;
// the first failure fails the task, and later reports of the other nodes are
// answered `cancel` so that they stop their workers.
//
// Every state change of a task is stored (a new version of its row); progress
// is kept in memory. A planner restart fails the tasks that were in flight
// (their agents' sessions died with it) with a message saying so. A node that
// is lost while its part is pending or running fails the task.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "galvatron/v1/task.grpc.pb.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/model_manager.h"
#include "planner/service/node_manager.h"
#include "planner/store/store.h"

namespace galvatron::planner {

struct TaskManagerOptions {
  // The longest PollTask / GetTask wait a caller may ask for.
  absl::Duration max_wait = absl::Seconds(60);
  // How often in-flight tasks are checked for lost nodes.
  absl::Duration check_interval = absl::Milliseconds(250);
};

// Thread-safe. Long polls wait on `mu_` and wake at least once a second to
// notice a cancelled call.
class TaskManager final : public v1::TaskService::Service {
 public:
  TaskManager(store::Store* store, NodeManager* nodes, ModelManager* models,
              HardwareProfileManager* hardware, ComputeProfileManager* compute,
              const TaskManagerOptions& options = {});
  ~TaskManager() override;

  // Reads the stored tasks (for the next id) and fails those a previous
  // planner left in flight; starts the lost-node checker. Call once.
  absl::Status Start();
  // Wakes every long poll (they answer at once) and stops the checker.
  void Shutdown();

  absl::StatusOr<v1::Task> Create(const v1::CreateTaskRequest& request);
  // `cancelled` (may be null) ends a long poll early.
  absl::StatusOr<v1::GetTaskResponse> Get(const v1::GetTaskRequest& request,
                                          const grpc::ServerContext* context = nullptr);
  absl::StatusOr<v1::ListTasksResponse> List(const v1::ListTasksRequest& request);
  absl::StatusOr<v1::Task> Cancel(const std::string& id);
  absl::StatusOr<v1::PollTaskResponse> Poll(const v1::PollTaskRequest& request,
                                            const grpc::ServerContext* context = nullptr);
  absl::StatusOr<v1::ReportTaskResponse> Report(const v1::ReportTaskRequest& request);
  absl::StatusOr<v1::MeasureMissingResponse> MeasureMissing(
      const v1::ModelSpec& model, const std::string& cluster, const std::string& reason);

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
  struct Active {
    v1::Task task;
    int64_t revision = 0;
  };

  // Builds, stores and registers a new task (under mu_).
  absl::StatusOr<v1::Task> CreateLocked(v1::CreateTaskRequest request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Persist(const v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Touch(Active* active) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends an active task in `state` with `message`, stores it and forgets it.
  void Finish(int64_t number, v1::TaskState state, const std::string& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores the result rank 0 reported; its error fails the task.
  absl::Status StoreResult(const v1::ReportTaskRequest& report, v1::Task* task);
  absl::StatusOr<v1::Task> Stored(const std::string& id);
  void CheckLostNodes() ABSL_LOCKS_EXCLUDED(mu_);
  void CheckerLoop();

  store::Store* const store_;
  NodeManager* const nodes_;
  ModelManager* const models_;
  HardwareProfileManager* const hardware_;
  ComputeProfileManager* const compute_;
  const TaskManagerOptions options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_revision_ ABSL_GUARDED_BY(mu_) = 1;
  // In-flight (PENDING or RUNNING) tasks by number; finished ones are read
  // from the store.
  std::map<int64_t, Active> active_ ABSL_GUARDED_BY(mu_);
  std::thread checker_;
};

// "task-17" → 17; 0 when `id` is not a task id.
int64_t TaskNumber(const std::string& id);

}  // namespace galvatron::planner
