// HandOut gives agents their parts of tasks: PollTask, an idle agent's long
// poll.
//
// Two-phase hand-out: work spanning several nodes meets at a rendezvous
// hosted by rank 0 (the c10d TCPStore of its worker), whose address is known
// only once that worker serves. So the node holding rank 0 gets its part
// first; it reports the store's address (ReportTask), and only then do the
// other nodes get theirs, with the address in the task. A single-node task
// goes out at once.
//
// An agent polls only when idle, so a part still RUNNING on the polling node
// was lost with the agent's previous life (it restarted): that task fails.
//
// Thread model: thread-safe; no state of its own. Each look at the board is
// one TaskBoard call under the board's lock; between looks a poll waits on
// Revisions with no lock held; the hand-out's row is written (Commit) after
// the board's lock is released, and the part is answered only once it is.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "galvatron/v1/task.pb.h"
#include "grpcpp/server_context.h"
#include "planner/service/long_poll.h"
#include "planner/service/node_manager.h"
#include "planner/service/task_board.h"

namespace galvatron::planner {

// The two-phase rule: may the part holding ranks from `first_rank` start,
// given whether the rendezvous address is known yet?
inline bool MayStartPart(int first_rank, bool rendezvous_known) {
  return first_rank == 0 || rendezvous_known;
}

class HandOut {
 public:
  HandOut(TaskBoard* board, NodeManager* nodes, Revisions* revisions, absl::Duration max_wait)
      : board_(board), nodes_(nodes), revisions_(revisions), max_wait_(max_wait) {}

  // A part for the polling node (the task and the index of its part), or an
  // empty response once request.wait_ms passes. `context` (may be null) ends
  // the wait early when the call is cancelled.
  absl::StatusOr<v1::PollTaskResponse> Poll(const v1::PollTaskRequest& request,
                                            const grpc::ServerContext* context);

 private:
  // Fails the tasks whose part on `node` is still RUNNING.
  void FailOrphans(const std::string& cluster, const std::string& node);
  // Marks the first part that may start on `node` RUNNING and stores it;
  // nullopt when there is none.
  absl::StatusOr<std::optional<v1::PollTaskResponse>> TakePart(const std::string& cluster,
                                                               const std::string& node);

  TaskBoard* const board_;
  NodeManager* const nodes_;
  Revisions* const revisions_;
  const absl::Duration max_wait_;
};

}  // namespace galvatron::planner
