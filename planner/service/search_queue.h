// The plan searches of RequestPlan (and of jobs), run on the queue's own
// threads:
//
//  * Bounded: at most `max_running` searches run at once; at most
//    `max_queued` wait to start, at most `max_queued_per_caller` of them
//    from one caller; a call beyond either bound is answered
//    RESOURCE_EXHAUSTED naming the limit (and the planner flag that sets it).
//  * Fair: a free search thread takes the next search from the callers in
//    turn (round-robin over the callers with queued searches, each caller's
//    own searches in order), so one caller's many searches cannot hold back
//    another caller's single one.
//  * Shared: calls with equal keys (the plan id, a hash of the search's
//    inputs) wait for one search. The search belongs to no call: it runs
//    while at least one call waits for it, so a call that goes away (its
//    client cancelled, its deadline passed) leaves it running for the
//    others; when the last one goes, a queued search is dropped and a running
//    one is cancelled (its cancel flag turns true; the search engine stops
//    within milliseconds).
//  * Bounded in threads: gRPC's synchronous server holds one thread per call
//    in flight; the calls waiting here (every sharer of a search included)
//    are at most `max_waiting_calls`, so searches can never take every
//    thread and starve the cheap calls.
//
// Searches run at a lower CPU priority (`nice`) than the threads that serve
// calls, and each gets its share of the cores (`threads` divided by the
// searches running when it starts).
//
// Thread-safe: every field below is guarded by mu_; the searches run on
// worker threads owned by the queue, outside the lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::planner {

struct SearchQueueOptions {
  // Searches running at once; 0 = max(1, cores / 2).
  int max_running = 0;
  // Searches waiting for a free search thread, from all callers.
  int max_queued = 16;
  // Of those, from one caller; 0 = max(1, max_queued / 4).
  int max_queued_per_caller = 0;
  // Calls waiting for a search (queued, running or shared); 0 = 4 ×
  // (max_running + max_queued).
  int max_waiting_calls = 0;
  // Threads of one search when it runs alone (0 = all cores); divided by the
  // searches running when a search starts.
  int threads = 0;
  // Added to the nice value of the search threads (Linux: per thread, and
  // inherited by the search's own thread pool); 0 leaves it.
  int nice = 10;
  // How often a waiting call asks whether its client is still there.
  absl::Duration poll_interval = absl::Milliseconds(50);
};

// What a search is given: `cancelled()` turns true once nobody waits for its
// result (or the queue shuts down); `threads` is its share of the cores.
using SearchFunction =
    std::function<absl::StatusOr<v1::Plan>(const std::function<bool()>& cancelled, int threads)>;

// One call asking for a search. The defaults describe the planner's own
// calls (jobs): no client to lose, and they wait when the queue is full;
// RequestPlan sets every field.
struct SearchCall {
  // Calls with equal keys share one search.
  std::string key;
  // Who asks (a token's name, or the client's address): fairness and the
  // per-caller bound.
  std::string caller = "planner";
  // Asked every poll_interval while the call waits: a non-OK status (the
  // client cancelled, the deadline passed) ends the wait with that status.
  // Empty: the call waits until its search ends.
  std::function<absl::Status()> still_wanted;
  // Wait even when the queue is full instead of answering RESOURCE_EXHAUSTED
  // (the planner's own searches: jobs, whose number their drivers bound).
  bool wait_when_full = true;
};

class SearchQueue {
 public:
  struct Stats {
    int64_t started = 0;    // searches started on a search thread
    int64_t shared = 0;     // calls that joined a search already queued or running
    int64_t finished = 0;   // searches that ended (any status)
    int64_t cancelled = 0;  // searches dropped or stopped because nobody waited
    int64_t rejected = 0;   // calls answered RESOURCE_EXHAUSTED
    int running = 0;
    int queued = 0;
    int waiting_calls = 0;
  };

  explicit SearchQueue(SearchQueueOptions options = {});
  // Shutdown().
  ~SearchQueue();

  SearchQueue(const SearchQueue&) = delete;
  SearchQueue& operator=(const SearchQueue&) = delete;

  // Runs `search` for `call` (or joins the search of an equal key) and
  // returns its result. RESOURCE_EXHAUSTED beyond the bounds, UNAVAILABLE
  // once shut down, the status of call.still_wanted when the caller left.
  absl::StatusOr<v1::Plan> Run(const SearchCall& call, SearchFunction search)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Cancels the running searches, answers every waiting call UNAVAILABLE
  // and joins the search threads. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `timeout` for `condition(stats())` to hold (checked whenever
  // the figures change); returns whether it held. For tests and benchmarks.
  bool AwaitStats(const std::function<bool(const Stats&)>& condition, absl::Duration timeout) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The bounds in force (defaults resolved).
  const SearchQueueOptions& options() const { return options_; }

 private:
  enum class State { kQueued, kRunning, kDone };
  struct Search {
    std::string key;
    std::string caller;
    SearchFunction function;
    State state = State::kQueued;
    int waiters = 0;
    // Read by the search without the lock.
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
    std::optional<absl::StatusOr<v1::Plan>> result;
  };

  void SearchThread() ABSL_LOCKS_EXCLUDED(mu_);
  // Admits `call`: joins the search of its key or queues a new one; the id.
  absl::StatusOr<int64_t> Enter(const SearchCall& call, SearchFunction search)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why `call` cannot wait for a new search now, or OK.
  absl::Status Admit(const SearchCall& call) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The next queued search, round-robin over the callers.
  int64_t TakeNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A call stops waiting for search `id` (it ended, or the caller left).
  void Leave(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { changed_.SignalAll(); }

  const SearchQueueOptions options_;
  mutable absl::Mutex mu_;
  // Wakes the search threads (work queued, shutdown).
  absl::CondVar work_;
  // Wakes the waiting calls and AwaitStats (a search ended, figures changed).
  mutable absl::CondVar changed_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<int64_t, Search> searches_ ABSL_GUARDED_BY(mu_);     // by id
  absl::flat_hash_map<std::string, int64_t> by_key_ ABSL_GUARDED_BY(mu_);  // not cancelled
  // Queued search ids by caller, each caller's in arrival order.
  std::map<std::string, std::deque<int64_t>> queued_ ABSL_GUARDED_BY(mu_);
  // The caller the last search was taken from (round-robin).
  std::string last_caller_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  absl::Mutex join_mu_;                                         // Shutdown() joins under it
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);  // filled by the constructor
};

}  // namespace galvatron::planner
