#include "planner/search/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>

namespace galvatron::search {

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) {
    num_threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  workers_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::Enqueue(absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(task));
}

void ThreadPool::WorkerLoop() {
  while (true) {
    absl::AnyInvocable<void()> task;
    {
      absl::MutexLock lock(&mu_);
      // Wakes when there is work, or when stopping and the queue is drained.
      mu_.Await(absl::Condition(this, &ThreadPool::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping_ and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

namespace {

// Shared by the caller of ParallelFor and its helper tasks; a helper that
// starts after the loop has finished finds no index left and never touches fn.
struct ParallelForState {
  ParallelForState(int64_t n, const std::function<void(int64_t)>* fn) : n(n), fn(fn) {}

  const int64_t n;
  const std::function<void(int64_t)>* const fn;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  int64_t finished ABSL_GUARDED_BY(mu) = 0;  // indices run or skipped
  std::exception_ptr error ABSL_GUARDED_BY(mu);

  bool AllFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return finished == n; }

  // Claims and runs indices until none is left.
  void Work() {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      std::exception_ptr thrown;
      if (!failed.load(std::memory_order_relaxed)) {
        try {
          (*fn)(i);
        } catch (...) {
          thrown = std::current_exception();
          failed.store(true, std::memory_order_relaxed);
        }
      }
      absl::MutexLock lock(&mu);
      if (thrown && !error) error = thrown;
      ++finished;
    }
  }
};

}  // namespace

void ParallelFor(ThreadPool* pool, int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (pool == nullptr || n == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto state = std::make_shared<ParallelForState>(n, &fn);
  const int64_t helpers = std::min<int64_t>(n - 1, pool->num_threads());
  for (int64_t h = 0; h < helpers; ++h) {
    // The future is dropped: completion is tracked through state->finished.
    pool->Submit([state] { state->Work(); });
  }
  state->Work();
  std::exception_ptr error;
  {
    absl::MutexLock lock(&state->mu);
    state->mu.Await(absl::Condition(state.get(), &ParallelForState::AllFinished));
    error = state->error;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace galvatron::search
