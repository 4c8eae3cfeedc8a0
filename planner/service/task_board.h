// TaskBoard: the tasks in flight, in memory, and the writing of their rows.
//
// A task is on the board from its creation until the row of its final state
// is written; finished tasks are read from the store. Every state change of
// a task is a new version of its row (tasks table, key = task id).
//
// Writes without the lock: a change is made under mu_ (on a copy of the
// entry, kept only when the change succeeds), gets a new revision (waking
// long polls) and, when it must be stored, a WriteSequencer ticket of the
// task taken under mu_. The caller then calls Commit, which waits for the
// task's earlier tickets and appends the row with mu_ released. So
//  - no reader (Get, List, PollTask of any node, the lost-node listener)
//    waits for a commit, which is an fsync with synchronous=FULL;
//  - the rows of one task are appended in the order their changes were made,
//    so the newest stored version is always the newest change written;
//  - a call that changes a task answers only after its row is durable. Other
//    readers may see the change in memory a few milliseconds before it is
//    durable; if the planner dies in between, that change is lost with the
//    rest of the in-flight state, and a restart fails every task that was in
//    flight anyway (TaskManager::Start).
// A write that fails fails its task (if it was not finished yet): the store
// is the record, and a task whose progress cannot be recorded cannot be
// trusted to finish. A task whose final row cannot be written stays on the
// board so that readers see how it ended.
//
// Thread model: thread-safe. mu_ guards the entries and the task numbers and
// is never held across a store call or a callback other than the mutation
// and selection functions given to it (which must not call the board). Lock
// order: mu_ -> Revisions::mu_, WriteSequencer::mu_ (both taken briefly
// inside it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "galvatron/v1/task.pb.h"
#include "planner/service/long_poll.h"
#include "planner/service/write_sequencer.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// "task-17" -> 17; 0 when `id` is not a task id.
int64_t TaskNumber(const std::string& id);
bool Terminal(v1::TaskState state);
// "probe", "profile" (for logs).
std::string KindName(v1::TaskKind kind);
// Ends `task` in `state` (terminal) with `message`, now.
void FinishTask(v1::Task* task, v1::TaskState state, const std::string& message);
google::protobuf::Timestamp NowTimestamp();
// Appends a version of the task's row.
absl::Status StoreTaskRow(store::Store* store, const v1::Task& task);

class TaskBoard {
 public:
  // What a mutation did: nothing (the entry is left as it was), progress
  // only (a new revision, nothing stored), or a state change (a new
  // revision and a row to write).
  enum class Change { kNone, kProgress, kState };

  struct Entry {
    v1::Task task;
    int64_t revision = 0;
    // Rank 0's node reported success and its result is being stored
    // (outside any lock); another success report must not store it twice.
    bool result_pending = false;
  };
  // Runs under mu_ on a copy of the entry; must not call the board. An
  // error or kNone discards the copy.
  using Mutation = std::function<absl::StatusOr<Change>(Entry& entry)>;
  using Select = std::function<bool(const v1::Task& task)>;

  // The row a change needs written: the task as the change left it, and
  // its place among the task's writes. Pass it to Commit.
  struct Write {
    v1::Task task;
    WriteSequencer::Ticket ticket;
  };

  struct Updated {
    // false: the task is not on the board (finished and stored, or unknown);
    // nothing else is set.
    bool on_board = false;
    // The task after the change; as it was when it had finished already (the
    // mutation is not called then) or the mutation did nothing.
    v1::Task task;
    int64_t revision = 0;
    bool changed = false;        // the mutation changed something
    std::optional<Write> write;  // set for a state change
  };

  struct Added {
    v1::Task task;
    std::optional<Write> write;  // absent when an existing task was reused
  };

  // A task as a reader sees it; revision -1 once it has finished (it never
  // changes again).
  struct View {
    v1::Task task;
    int64_t revision = 0;
  };

  TaskBoard(store::Store* store, Revisions* revisions);
  TaskBoard(const TaskBoard&) = delete;
  TaskBoard& operator=(const TaskBoard&) = delete;

  // Numbers of new tasks continue from `next` (after the stored ones).
  void SetNextNumber(int64_t next) ABSL_LOCKS_EXCLUDED(mu_);

  // Puts `draft` on the board as "task-<next number>", unless `reuse` (may
  // be null) holds for an unfinished task, which is returned instead. Both
  // under mu_: two callers never both add where the second should reuse.
  Added Add(v1::Task draft, const Select& reuse) ABSL_LOCKS_EXCLUDED(mu_);

  // Puts a stored task back on the board as it was (a training task that
  // runs on through a planner restart); nothing is written.
  void Restore(v1::Task task) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<Updated> Update(int64_t number, const Mutation& mutation) ABSL_LOCKS_EXCLUDED(mu_);
  // Update of the first (lowest-numbered) unfinished task for which `select`
  // holds and `mutation` changes something; on_board is false if none.
  absl::StatusOr<Updated> UpdateFirst(const Select& select, const Mutation& mutation)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Writes the row of `write` once the task's earlier writes are done, with
  // mu_ released; a finished task leaves the board once its final row is
  // written. On error the task fails (that failure is written too, if the
  // store takes it) and the error is returned.
  absl::Status Commit(Write write) ABSL_LOCKS_EXCLUDED(mu_);

  std::optional<View> Find(int64_t number) ABSL_LOCKS_EXCLUDED(mu_);
  // Copies of the unfinished tasks for which `select` holds, by number.
  std::vector<v1::Task> Unfinished(const Select& select) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Applies `mutation` to a copy of `entry`; on a change stores the copy and
  // returns the write.
  absl::StatusOr<Updated> Apply(Entry& entry, const Mutation& mutation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* const store_;
  Revisions* const revisions_;
  WriteSequencer writes_;

  absl::Mutex mu_;
  int64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// The rule for a node found lost: every unfinished task of `cluster` with an
// unfinished part on `node` fails, naming the node ("... was lost (no
// heartbeat from its agent) while its part was running"). `only` limits it
// to one task number (0 = all). Stores each failure; errors are logged.
void FailTasksOfLostNode(TaskBoard* board, const std::string& cluster, const std::string& node,
                         int64_t only = 0);

}  // namespace galvatron::planner
