#include "planner/service/task_handout.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/field_checks.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using field_checks::CheckRange;

absl::StatusOr<v1::PollTaskResponse> HandOut::Poll(const v1::PollTaskRequest& request,
                                                   const grpc::ServerContext* context) {
  RETURN_IF_ERROR(
      CheckRange("wait_ms", request.wait_ms(), 0, absl::ToInt64Milliseconds(max_wait_)));
  RETURN_IF_ERROR(nodes_->CheckSession(request.cluster(), request.node(), request.session_id()));
  const absl::Time deadline = absl::Now() + absl::Milliseconds(request.wait_ms());
  FailOrphans(request.cluster(), request.node());
  ASSIGN_OR_RETURN(std::optional<v1::PollTaskResponse> part,
                   LongPoll<v1::PollTaskResponse>(*revisions_, deadline, context, [&] {
                     return TakePart(request.cluster(), request.node());
                   }));
  return part.has_value() ? std::move(*part) : v1::PollTaskResponse();
}

void HandOut::FailOrphans(const std::string& cluster, const std::string& node) {
  auto running_here = [&](const v1::Task& task) {
    if (task.cluster() != cluster) return false;
    for (const v1::TaskNode& part : task.nodes()) {
      if (part.node() == node && part.state() == v1::TASK_STATE_RUNNING) return true;
    }
    return false;
  };
  for (const v1::Task& task : board_->Unfinished(running_here)) {
    absl::StatusOr<TaskBoard::Updated> failed = board_->Update(
        TaskNumber(task.id()), [&](TaskBoard::Entry& entry) -> absl::StatusOr<TaskBoard::Change> {
          if (!running_here(entry.task)) return TaskBoard::Change::kNone;
          FinishTask(&entry.task, v1::TASK_STATE_FAILED,
                     absl::StrCat("the agent of node ", node,
                                  " restarted while running its part of the task"));
          return TaskBoard::Change::kState;
        });
    if (failed.ok() && failed->write.has_value()) {
      board_->Commit(std::move(*failed->write)).IgnoreError();  // Commit logs
    }
  }
}

absl::StatusOr<std::optional<v1::PollTaskResponse>> HandOut::TakePart(const std::string& cluster,
                                                                      const std::string& node) {
  int index = -1;
  auto first_ready = [&](const v1::Task& task) {
    if (task.cluster() != cluster) return -1;
    for (int i = 0; i < task.nodes_size(); ++i) {
      const v1::TaskNode& part = task.nodes(i);
      if (part.node() == node && part.state() == v1::TASK_STATE_PENDING &&
          MayStartPart(part.first_rank(), !task.store_address().empty())) {
        return i;
      }
    }
    return -1;
  };
  ASSIGN_OR_RETURN(
      TaskBoard::Updated taken,
      board_->UpdateFirst([&](const v1::Task& task) { return first_ready(task) >= 0; },
                          [&](TaskBoard::Entry& entry) -> absl::StatusOr<TaskBoard::Change> {
                            v1::Task& task = entry.task;
                            index = first_ready(task);
                            if (index < 0) return TaskBoard::Change::kNone;
                            task.mutable_nodes(index)->set_state(v1::TASK_STATE_RUNNING);
                            if (task.state() == v1::TASK_STATE_PENDING) {
                              task.set_state(v1::TASK_STATE_RUNNING);
                              *task.mutable_started_at() = NowTimestamp();
                            }
                            return TaskBoard::Change::kState;
                          }));
  if (!taken.changed) return std::nullopt;
  // The agent gets its part only once the part's state is durable (a crash
  // before that leaves no record of a part the agent may be running).
  RETURN_IF_ERROR(board_->Commit(std::move(*taken.write)));
  if (taken.task.nodes(index).first_rank() == 0) {
    spdlog::info("{} started on {}", taken.task.id(), node);
  }
  v1::PollTaskResponse response;
  *response.mutable_task() = std::move(taken.task);
  response.set_node_index(index);
  return response;
}

}  // namespace galvatron::planner
