// A small fixed-size thread pool for the search's independent tasks (each
// (batch, micro-batches, pp, tp/sp mode, buffer) task runs its stage DPs alone).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace galvatron::search {

// A fixed set of worker threads that run submitted tasks in FIFO order.
//
// Thread model: thread-safe. Submit may be called from any thread, including
// from inside a task. The queue and the stop flag are guarded by mu_. The
// destructor runs every task already queued, then joins the workers; it must
// not race with Submit (the owner destroys the pool after its producers are
// done) and must not run on a worker thread. A task that blocks on the future of
// a task queued behind it can deadlock a pool that is too small — use
// ParallelFor, whose caller works too, for nested parallel loops.
class ThreadPool {
 public:
  // num_threads <= 0: std::thread::hardware_concurrency() (at least 1).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()); }

  // Queues fn() and returns the future of its result; an exception thrown by
  // fn is stored in the future.
  template <typename F>
  auto Submit(F&& fn) -> std::future<std::invoke_result_t<std::decay_t<F>&>> {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    std::packaged_task<R()> task(std::forward<F>(fn));
    std::future<R> result = task.get_future();
    Enqueue([task = std::move(task)]() mutable { task(); });
    return result;
  }

 private:
  void Enqueue(absl::AnyInvocable<void()> task);
  void WorkerLoop();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;  // written only by the constructor
};

// Runs fn(i) for every i in [0, n), on the pool's workers and on the calling
// thread, and returns when all calls have finished. Indices are handed out one
// at a time in increasing order, so uneven tasks balance. pool == nullptr runs
// serially. Safe to call from inside a pool task (the caller never waits for a
// queued helper, only for calls already running). If calls throw, the first
// exception is rethrown here after all calls have finished; the remaining
// indices are skipped.
void ParallelFor(ThreadPool* pool, int64_t n, const std::function<void(int64_t)>& fn);

}  // namespace galvatron::search
