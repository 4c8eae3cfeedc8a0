#include "planner/service/task_board.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

int64_t TaskNumber(const std::string& id) {
  int64_t number = 0;
  if (id.rfind("task-", 0) != 0 || !absl::SimpleAtoi(id.substr(5), &number) || number <= 0) {
    return 0;
  }
  return number;
}

bool Terminal(v1::TaskState state) {
  return state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_FAILED ||
         state == v1::TASK_STATE_CANCELLED;
}

std::string KindName(v1::TaskKind kind) {
  switch (kind) {
    case v1::TASK_KIND_PROBE:
      return "probe";
    case v1::TASK_KIND_PROFILE:
      return "profile";
    case v1::TASK_KIND_TRAIN:
      return "train";
    default:
      return "unknown";
  }
}

google::protobuf::Timestamp NowTimestamp() {
  return MicrosToTimestamp(absl::ToUnixMicros(absl::Now()));
}

void FinishTask(v1::Task* task, v1::TaskState state, const std::string& message) {
  task->set_state(state);
  task->set_message(message);
  *task->mutable_finished_at() = NowTimestamp();
  if (state == v1::TASK_STATE_SUCCEEDED) task->set_progress(1);
}

absl::Status StoreTaskRow(store::Store* store, const v1::Task& task) {
  store::NewRow row;
  row.key = task.id();
  row.id_prefix = task.id() + "@";
  row.tag = task.cluster();
  row.payload = DeterministicBytes(task);
  return store->Append(store::Table::kTasks, row).status();
}

namespace {

void LogFinished(const v1::Task& task) {
  if (task.state() == v1::TASK_STATE_SUCCEEDED) {
    spdlog::info("{} ({} on {}) succeeded: {}", task.id(), KindName(task.kind()), task.cluster(),
                 absl::StrJoin(task.result_ids(), ", "));
  } else {
    spdlog::warn("{} ({} on {}) {}: {}", task.id(), KindName(task.kind()), task.cluster(),
                 task.state() == v1::TASK_STATE_CANCELLED ? "cancelled" : "failed", task.message());
  }
}

}  // namespace

TaskBoard::TaskBoard(store::Store* store, Revisions* revisions)
    : store_(store), revisions_(revisions) {}

void TaskBoard::SetNextNumber(int64_t next) {
  absl::MutexLock lock(&mu_);
  next_number_ = next;
}

TaskBoard::Added TaskBoard::Add(v1::Task draft, const Select& reuse) {
  absl::MutexLock lock(&mu_);
  if (reuse) {
    for (const auto& [number, entry] : entries_) {
      if (!Terminal(entry.task.state()) && reuse(entry.task)) return Added{entry.task, {}};
    }
  }
  const int64_t number = next_number_++;
  draft.set_id(absl::StrCat("task-", number));
  Entry& entry = entries_[number];
  entry.task = std::move(draft);
  entry.revision = revisions_->Bump();
  return Added{entry.task, Write{entry.task, writes_.Take(entry.task.id())}};
}

void TaskBoard::Restore(v1::Task task) {
  absl::MutexLock lock(&mu_);
  const int64_t number = TaskNumber(task.id());
  next_number_ = std::max(next_number_, number + 1);
  Entry& entry = entries_[number];
  entry.task = std::move(task);
  entry.revision = revisions_->Bump();
}

absl::StatusOr<TaskBoard::Updated> TaskBoard::Apply(Entry& entry, const Mutation& mutation) {
  Updated updated;
  updated.on_board = true;
  if (Terminal(entry.task.state())) {
    updated.task = entry.task;
    updated.revision = -1;
    return updated;
  }
  Entry copy = entry;
  ASSIGN_OR_RETURN(const Change change, mutation(copy));
  if (change != Change::kNone) {
    updated.changed = true;
    entry = std::move(copy);
    entry.revision = revisions_->Bump();
    if (change == Change::kState) {
      updated.write.emplace(Write{entry.task, writes_.Take(entry.task.id())});
    }
  }
  updated.task = entry.task;
  updated.revision = Terminal(entry.task.state()) ? -1 : entry.revision;
  return updated;
}

absl::StatusOr<TaskBoard::Updated> TaskBoard::Update(int64_t number, const Mutation& mutation) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(number);
  if (it == entries_.end()) return Updated();
  return Apply(it->second, mutation);
}

absl::StatusOr<TaskBoard::Updated> TaskBoard::UpdateFirst(const Select& select,
                                                          const Mutation& mutation) {
  absl::MutexLock lock(&mu_);
  for (auto& [number, entry] : entries_) {
    if (Terminal(entry.task.state()) || !select(entry.task)) continue;
    ASSIGN_OR_RETURN(Updated updated, Apply(entry, mutation));
    if (updated.changed) return updated;
  }
  return Updated();
}

absl::Status TaskBoard::Commit(Write write) {
  const int64_t number = TaskNumber(write.task.id());
  const bool finished = Terminal(write.task.state());
  absl::Status status;
  {
    WriteSequencer::Ticket ticket = std::move(write.ticket);
    ticket.WaitTurn();
    status = StoreTaskRow(store_, write.task);
    if (finished && status.ok()) {
      absl::MutexLock lock(&mu_);
      entries_.erase(number);
    }
  }  // the ticket ends here: the task's next write may go
  if (finished) {
    LogFinished(write.task);
    if (!status.ok()) {
      spdlog::error(
          "cannot store the end of {}: {}; it stays in memory until the planner "
          "restarts",
          write.task.id(), std::string(status.message()));
    }
    return status;
  }
  if (status.ok()) return status;
  spdlog::error("cannot store a change of {}: {}", write.task.id(), std::string(status.message()));
  const std::string message =
      absl::StrCat("the planner cannot store the task's state: ", status.message());
  absl::StatusOr<Updated> failed = Update(number, [&](Entry& entry) -> absl::StatusOr<Change> {
    FinishTask(&entry.task, v1::TASK_STATE_FAILED, message);
    return Change::kState;
  });
  if (failed.ok() && failed->write.has_value()) Commit(std::move(*failed->write)).IgnoreError();
  return status;
}

std::optional<TaskBoard::View> TaskBoard::Find(int64_t number) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(number);
  if (it == entries_.end()) return std::nullopt;
  const Entry& entry = it->second;
  return View{entry.task, Terminal(entry.task.state()) ? -1 : entry.revision};
}

std::vector<v1::Task> TaskBoard::Unfinished(const Select& select) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Task> tasks;
  for (const auto& [number, entry] : entries_) {
    if (!Terminal(entry.task.state()) && select(entry.task)) tasks.push_back(entry.task);
  }
  return tasks;
}

void FailTasksOfLostNode(TaskBoard* board, const std::string& cluster, const std::string& node,
                         int64_t only) {
  auto has_part = [&](const v1::Task& task) {
    if (task.cluster() != cluster || (only != 0 && TaskNumber(task.id()) != only)) return false;
    for (const v1::TaskNode& part : task.nodes()) {
      if (part.node() == node && !Terminal(part.state())) return true;
    }
    return false;
  };
  for (const v1::Task& task : board->Unfinished(has_part)) {
    absl::StatusOr<TaskBoard::Updated> failed = board->Update(
        TaskNumber(task.id()), [&](TaskBoard::Entry& entry) -> absl::StatusOr<TaskBoard::Change> {
          for (const v1::TaskNode& part : entry.task.nodes()) {
            if (part.node() != node || Terminal(part.state())) continue;
            FinishTask(
                &entry.task, v1::TASK_STATE_FAILED,
                absl::StrCat("node ", node, " of cluster ", cluster,
                             " was lost (no heartbeat from its agent) while its part was ",
                             part.state() == v1::TASK_STATE_RUNNING ? "running" : "pending"));
            return TaskBoard::Change::kState;
          }
          return TaskBoard::Change::kNone;
        });
    if (!failed.ok()) {
      spdlog::error("cannot fail {}: {}", task.id(), std::string(failed.status().message()));
    } else if (failed->write.has_value()) {
      board->Commit(std::move(*failed->write)).IgnoreError();  // Commit logs
    }
  }
}

}  // namespace galvatron::planner
