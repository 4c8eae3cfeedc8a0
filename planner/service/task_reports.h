// ReportHandler: what agents report about their parts of tasks (ReportTask)
// and what it does to the task.
//
// State machine of a part: PENDING -> RUNNING (handed out, task_handout.h)
// -> SUCCEEDED | FAILED (reported here). Of the task: PENDING -> RUNNING
// (its first part handed out) -> SUCCEEDED (every part succeeded) | FAILED
// (a part failed, its result was rejected, a node was lost or its agent
// restarted) | CANCELLED (a client). A report may carry
//  - progress (0..1) and a progress message: kept in memory only; the task's
//    progress is that of its slowest node;
//  - rank 0's rendezvous address: the other parts may then be handed out;
//  - FAILED: the task fails at once; the other nodes' next reports are
//    answered `cancel` so that they stop their workers;
//  - SUCCEEDED from rank 0's node with the result: the result (a hardware
//    profile or compute profiles) is validated and stored through the
//    profile managers; a rejected result fails the task. A training task
//    has no result of its own: its parts' metrics, logs and checkpoints go
//    to the TrainReportListener with every report.
// A report for a task that has ended is answered `cancel` unless the task
// succeeded.
//
// Thread model: thread-safe; no state of its own. The task is changed under
// the board's lock in short steps; the result is stored and the task's row
// written with no lock held (between the steps the entry's result_pending
// flag keeps a second success report from storing the result again).
#pragma once

#include "absl/status/statusor.h"
#include "galvatron/v1/task.pb.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/node_manager.h"
#include "planner/service/task_board.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// Takes what the parts of a training task report (rank 0's step metrics,
// log tails, checkpoint shards, a failure) before the report changes the
// task, so that a task seen SUCCEEDED or FAILED has had its last metrics
// and logs taken: the job manager. Called with no lock of the task manager
// held, possibly from several report calls at once.
class TrainReportListener {
 public:
  virtual ~TrainReportListener() = default;
  // `task` is the training task as it was when the report came. An error
  // rejects the report; the agent sends it again. A report that carries a
  // worker's failure is passed on even after the task ended (another
  // node's failure may have ended it first); its result is then ignored.
  virtual absl::Status OnTrainReport(const v1::Task& task, const v1::ReportTaskRequest& report) = 0;
};

class ReportHandler {
 public:
  ReportHandler(TaskBoard* board, store::Store* store, NodeManager* nodes,
                HardwareProfileManager* hardware, ComputeProfileManager* compute)
      : board_(board), store_(store), nodes_(nodes), hardware_(hardware), compute_(compute) {}

  absl::StatusOr<v1::ReportTaskResponse> Report(const v1::ReportTaskRequest& request);

  // Set once, before reports are served (the composition root).
  void SetTrainListener(TrainReportListener* listener) { train_listener_ = listener; }

 private:
  // Stores the result rank 0's node reported; appends the stored ids to
  // `result_ids`. An invalid result is an error (the task then fails).
  absl::Status StoreResult(const v1::ReportTaskRequest& report, const v1::Task& task,
                           std::vector<std::string>* result_ids);
  // The answer to a report about a task that has ended.
  absl::StatusOr<v1::ReportTaskResponse> AnswerEnded(const v1::ReportTaskRequest& request,
                                                     const TaskBoard::Updated& updated);

  TaskBoard* const board_;
  store::Store* const store_;
  NodeManager* const nodes_;
  HardwareProfileManager* const hardware_;
  ComputeProfileManager* const compute_;
  TrainReportListener* train_listener_ = nullptr;
};

}  // namespace galvatron::planner
