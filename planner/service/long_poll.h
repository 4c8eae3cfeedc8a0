// Waiting: long polls on a revision counter.
//
// Revisions is a counter that grows with every change a manager makes to
// what its long polls watch (for tasks: every change of a task in flight).
// A long poll reads the counter, looks at the state, and when there is
// nothing to answer yet waits for the counter to move past what it read; a
// change made after the read therefore always wakes it, and the waiting
// needs no lock of the manager.
//
// Thread model: thread-safe. mu_ guards the counter and the stop flag and is
// never held while calling out. Waiters wake at least once a second so that
// a call its client cancelled ends soon (gRPC offers no cancellation callback
// to a synchronous handler, only ServerContext::IsCancelled to poll).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace galvatron::planner {

class Revisions {
 public:
  Revisions() = default;
  Revisions(const Revisions&) = delete;
  Revisions& operator=(const Revisions&) = delete;

  int64_t Current() ABSL_LOCKS_EXCLUDED(mu_);
  // A new revision (returned), waking every waiter.
  int64_t Bump() ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes every waiter; from now on waits return at once.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  bool stopped() ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until the revision is no longer `seen`, Stop, `deadline`, or
  // `context` (may be null) is cancelled, whichever comes first.
  void WaitForChange(int64_t seen, absl::Time deadline, const grpc::ServerContext* context)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  // Starts from the clock (microseconds), so that a revision a client saw
  // before a planner restart is not handed out again after it.
  int64_t revision_ ABSL_GUARDED_BY(mu_) = absl::ToUnixMicros(absl::Now());
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// The loop of a long poll: calls `attempt` until it has an answer, and
// between attempts waits for the next revision. nullopt once `deadline`
// passes, `revisions` stop or `context` (may be null) is cancelled without an
// answer; an error of `attempt` ends the poll. `attempt` runs with no lock of
// Revisions held.
template <typename T>
absl::StatusOr<std::optional<T>> LongPoll(
    Revisions& revisions, absl::Time deadline, const grpc::ServerContext* context,
    const std::function<absl::StatusOr<std::optional<T>>()>& attempt) {
  while (true) {
    // Read before looking, so that a change made after the look moves the
    // revision past `seen` and the wait below returns at once.
    const int64_t seen = revisions.Current();
    absl::StatusOr<std::optional<T>> answer = attempt();
    if (!answer.ok() || answer->has_value()) return answer;
    if (revisions.stopped() || absl::Now() >= deadline ||
        (context != nullptr && context->IsCancelled())) {
      return std::optional<T>();
    }
    revisions.WaitForChange(seen, deadline, context);
  }
}

}  // namespace galvatron::planner
