#include "planner/service/task_reports.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/field_checks.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using field_checks::CheckNonNegativeFinite;
using field_checks::Invalid;
using field_checks::Quoted;
using Change = TaskBoard::Change;

namespace {

// The index of `node`'s part in `task`, or -1.
int PartIndex(const v1::Task& task, const std::string& node) {
  for (int i = 0; i < task.nodes_size(); ++i) {
    if (task.nodes(i).node() == node) return i;
  }
  return -1;
}

bool AllSucceeded(const v1::Task& task) {
  return std::all_of(task.nodes().begin(), task.nodes().end(),
                     [](const v1::TaskNode& n) { return n.state() == v1::TASK_STATE_SUCCEEDED; });
}

// Progress of the task: the least of its nodes. The reporting node's is
// `progress`; the other running nodes' own values are not kept, so each
// counts with the task's last overall value; pending nodes count 0 and
// succeeded ones 1.
void UpdateProgress(v1::Task* task, const std::string& reporter, double progress) {
  std::map<std::string, double> by_node;
  by_node[reporter] = std::min(1.0, progress);
  for (const v1::TaskNode& node : task->nodes()) {
    if (node.node() != reporter && node.state() == v1::TASK_STATE_RUNNING) {
      by_node[node.node()] = task->progress();
    }
  }
  double least = 1;
  for (const v1::TaskNode& node : task->nodes()) {
    auto it = by_node.find(node.node());
    const double p = node.state() == v1::TASK_STATE_SUCCEEDED ? 1.0
                     : it == by_node.end()                    ? 0.0
                                                              : it->second;
    least = std::min(least, p);
  }
  task->set_progress(least);
}

// Marks `node`'s part SUCCEEDED; the task succeeds with the last part.
void PartSucceeded(v1::Task* task, int index, const std::string& message) {
  v1::TaskNode* part = task->mutable_nodes(index);
  part->set_state(v1::TASK_STATE_SUCCEEDED);
  part->set_message(message);
  if (AllSucceeded(*task)) {
    FinishTask(task, v1::TASK_STATE_SUCCEEDED, message.empty() ? "done" : message);
  }
}

}  // namespace

absl::StatusOr<v1::ReportTaskResponse> ReportHandler::Report(const v1::ReportTaskRequest& request) {
  if (absl::Status session =
          nodes_->CheckSession(request.cluster(), request.node(), request.session_id());
      !session.ok()) {
    // ABORTED, not NOT_FOUND: the agent registers again and sends the
    // report anew (its workers may go on: the task may be waiting for it
    // after a planner restart); NOT_FOUND means the task is gone.
    if (absl::IsNotFound(session)) {
      return absl::AbortedError(absl::StrCat(session.message(), "; register again and retry"));
    }
    return session;
  }
  const int64_t number = TaskNumber(request.task_id());
  if (number == 0) {
    return Invalid("task_id", Quoted(request.task_id()), "expected a task id like task-1");
  }
  const v1::TaskState state = request.state();
  if (state != v1::TASK_STATE_RUNNING && state != v1::TASK_STATE_SUCCEEDED &&
      state != v1::TASK_STATE_FAILED) {
    return Invalid("state", absl::StrCat(static_cast<int>(state)),
                   "expected TASK_STATE_RUNNING, TASK_STATE_SUCCEEDED or TASK_STATE_FAILED");
  }
  RETURN_IF_ERROR(CheckNonNegativeFinite("progress", request.progress()));
  if (train_listener_ != nullptr) {
    // Before the task changes: once a reader sees it ended, what its last
    // reports carried has been taken.
    std::optional<TaskBoard::View> view = board_->Find(number);
    if (view.has_value() && view->task.kind() == v1::TASK_KIND_TRAIN &&
        !Terminal(view->task.state())) {
      RETURN_IF_ERROR(train_listener_->OnTrainReport(view->task, request));
    } else if (request.has_failure()) {
      // The task ended already, often because a peer of this worker failed
      // when it died and the peer's node reported first: the job may still
      // want to name the worker that died.
      std::optional<v1::Task> ended;
      if (view.has_value()) {
        ended = std::move(view->task);
      } else if (auto row = store_->Get(store::Table::kTasks, request.task_id(), 0);
                 row.ok() && row->has_value()) {
        if (auto task = DecodeRow<v1::Task>(store::Table::kTasks, **row); task.ok()) {
          ended = std::move(*task);
        }
      }
      if (ended.has_value() && ended->kind() == v1::TASK_KIND_TRAIN) {
        train_listener_->OnTrainReport(*ended, request).IgnoreError();
      }
    }
  }

  // Step 1, under the board's lock: check the part, apply the progress, end
  // the part unless rank 0's result must be stored first.
  bool store_result = false;
  ASSIGN_OR_RETURN(
      TaskBoard::Updated updated,
      board_->Update(number, [&](TaskBoard::Entry& entry) -> absl::StatusOr<Change> {
        v1::Task& task = entry.task;
        if (task.cluster() != request.cluster()) {
          return Invalid("cluster", Quoted(request.cluster()),
                         absl::StrCat("expected ", Quoted(task.cluster()), ", the task's cluster"));
        }
        const int index = PartIndex(task, request.node());
        if (index < 0) {
          return absl::FailedPreconditionError(
              absl::StrCat("node ", Quoted(request.node()), " has no part in ", task.id()));
        }
        v1::TaskNode* part = task.mutable_nodes(index);
        if (part->state() != v1::TASK_STATE_RUNNING) {
          return absl::FailedPreconditionError(absl::StrCat("the part of node ", request.node(),
                                                            " in ", task.id(), " is not running"));
        }
        const bool rank0 = part->first_rank() == 0;
        if (state == v1::TASK_STATE_SUCCEEDED && rank0 && entry.result_pending) {
          return absl::FailedPreconditionError(absl::StrCat("the result of node ", request.node(),
                                                            " for ", task.id(),
                                                            " is being stored already"));
        }
        if (!request.store_address().empty() && rank0 && task.store_address().empty()) {
          task.set_store_address(request.store_address());
          spdlog::info("{}: rank 0 store at {}", task.id(), request.store_address());
        }
        if (!request.progress_message().empty()) {
          task.set_progress_message(
              task.nodes_size() > 1 ? absl::StrCat(request.node(), ": ", request.progress_message())
                                    : request.progress_message());
        }
        UpdateProgress(&task, request.node(), request.progress());
        if (state == v1::TASK_STATE_FAILED) {
          part->set_state(v1::TASK_STATE_FAILED);
          part->set_message(request.message());
          FinishTask(&task, v1::TASK_STATE_FAILED,
                     absl::StrCat("node ", request.node(), ": ",
                                  request.message().empty() ? "failed" : request.message()));
          return Change::kState;
        }
        if (state == v1::TASK_STATE_SUCCEEDED) {
          if (rank0) {
            entry.result_pending = true;
            store_result = true;
            return Change::kProgress;
          }
          PartSucceeded(&task, index, request.message());
          return Change::kState;
        }
        return Change::kProgress;  // progress and the store address live in memory
      }));
  if (!updated.on_board || !updated.changed) return AnswerEnded(request, updated);
  if (updated.write.has_value()) RETURN_IF_ERROR(board_->Commit(std::move(*updated.write)));
  v1::ReportTaskResponse response;
  if (state == v1::TASK_STATE_FAILED) {
    response.set_cancel(true);  // the node's other workers stop
    return response;
  }
  if (!store_result) return response;

  // Step 2, no lock held: store the result (the profile managers validate
  // it). Step 3, under the board's lock: end the part, or fail the task if
  // the result was rejected.
  std::vector<std::string> result_ids;
  const absl::Status stored = StoreResult(request, updated.task, &result_ids);
  ASSIGN_OR_RETURN(TaskBoard::Updated ended,
                   board_->Update(number, [&](TaskBoard::Entry& entry) -> absl::StatusOr<Change> {
                     entry.result_pending = false;
                     v1::Task& task = entry.task;
                     if (!stored.ok()) {
                       FinishTask(&task, v1::TASK_STATE_FAILED,
                                  absl::StrCat("the result of node ", request.node(),
                                               " was rejected: ", stored.message()));
                       return Change::kState;
                     }
                     for (const std::string& id : result_ids) task.add_result_ids(id);
                     PartSucceeded(&task, PartIndex(task, request.node()), request.message());
                     return Change::kState;
                   }));
  if (!ended.on_board || !ended.changed) {
    // The task ended meanwhile (cancelled, a node lost); the stored result
    // is a valid measurement and stays.
    if (stored.ok()) {
      spdlog::warn("{} ended while its result was being stored; the result ({}) stays",
                   request.task_id(), result_ids.empty() ? "" : result_ids.front());
    }
    return AnswerEnded(request, ended);
  }
  RETURN_IF_ERROR(board_->Commit(std::move(*ended.write)));
  response.set_cancel(!stored.ok());
  return response;
}

absl::StatusOr<v1::ReportTaskResponse> ReportHandler::AnswerEnded(
    const v1::ReportTaskRequest& request, const TaskBoard::Updated& updated) {
  v1::TaskState state = updated.task.state();
  if (!updated.on_board) {
    // Finished and stored, or unknown.
    ASSIGN_OR_RETURN(std::optional<store::Row> row,
                     store_->Get(store::Table::kTasks, request.task_id(), 0));
    if (!row) {
      return absl::NotFoundError(absl::StrCat("task ", Quoted(request.task_id()), " not found"));
    }
    ASSIGN_OR_RETURN(v1::Task stored, DecodeRow<v1::Task>(store::Table::kTasks, *row));
    state = stored.state();
  }
  v1::ReportTaskResponse response;
  response.set_cancel(state != v1::TASK_STATE_SUCCEEDED);
  return response;
}

absl::Status ReportHandler::StoreResult(const v1::ReportTaskRequest& report, const v1::Task& task,
                                        std::vector<std::string>* result_ids) {
  if (task.kind() == v1::TASK_KIND_PROBE) {
    if (!report.has_hardware()) {
      return absl::InvalidArgumentError(
          "hardware: rank 0 reported success without the hardware profile");
    }
    v1::HardwareProfile profile = report.hardware();
    profile.set_cluster(task.cluster());
    profile.set_source(v1::PROFILE_SOURCE_MEASURED);
    ASSIGN_OR_RETURN(v1::HardwareProfile stored, hardware_->Put(std::move(profile)));
    result_ids->push_back(stored.id());
    return absl::OkStatus();
  }
  if (task.kind() == v1::TASK_KIND_TRAIN) return absl::OkStatus();  // the job records it
  if (report.compute_size() == 0) {
    return absl::InvalidArgumentError("compute: the worker reported success without profiles");
  }
  std::vector<v1::ComputeProfile> profiles(report.compute().begin(), report.compute().end());
  for (v1::ComputeProfile& profile : profiles) {
    profile.set_cluster(task.cluster());
    profile.set_source(v1::PROFILE_SOURCE_MEASURED);
    ASSIGN_OR_RETURN(v1::ComputeProfile stored, compute_->Put(std::move(profile)));
    result_ids->push_back(stored.id());
  }
  return absl::OkStatus();
}

}  // namespace galvatron::planner
