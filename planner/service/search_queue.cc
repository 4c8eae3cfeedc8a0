#include "planner/service/search_queue.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

namespace {

int Cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

SearchQueueOptions Resolve(SearchQueueOptions o) {
  if (o.max_running <= 0) o.max_running = std::max(1, Cores() / 2);
  o.max_queued = std::max(0, o.max_queued);
  if (o.max_queued_per_caller <= 0) o.max_queued_per_caller = std::max(1, o.max_queued / 4);
  if (o.max_waiting_calls <= 0) o.max_waiting_calls = 4 * (o.max_running + o.max_queued);
  if (o.threads <= 0) o.threads = Cores();
  if (o.poll_interval <= absl::ZeroDuration()) o.poll_interval = absl::Milliseconds(50);
  return o;
}

// Lowers the calling thread's priority; threads it creates inherit it.
void LowerThreadPriority(int nice) {
  if (nice <= 0) return;
#ifdef __linux__
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);
  if (errno == 0 && setpriority(PRIO_PROCESS, tid, std::min(19, current + nice)) != 0) {
    spdlog::warn("search thread: cannot lower its priority by {}", nice);
  }
#endif
}

}  // namespace

SearchQueue::SearchQueue(SearchQueueOptions options) : options_(Resolve(options)) {
  threads_.reserve(options_.max_running);
  for (int i = 0; i < options_.max_running; ++i) threads_.emplace_back([this] { SearchThread(); });
}

SearchQueue::~SearchQueue() { Shutdown(); }

void SearchQueue::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (!shutdown_) {
      shutdown_ = true;
      for (auto& [id, search] : searches_) {
        if (search.state == State::kQueued) {
          search.state = State::kDone;
          search.result = absl::UnavailableError("the planner is shutting down");
        }
        search.cancel->store(true);
      }
      queued_.clear();
      by_key_.clear();
      stats_.queued = 0;
      work_.SignalAll();
      Changed();
    }
  }
  absl::MutexLock lock(&join_mu_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

absl::Status SearchQueue::Admit(const SearchCall& call) const {
  if (call.wait_when_full) return absl::OkStatus();
  if (stats_.waiting_calls >= options_.max_waiting_calls) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the planner is busy: ", stats_.waiting_calls,
        " calls are waiting for plan searches, the most it keeps (4 x (--max-concurrent-searches ",
        options_.max_running, " + --search-queue ", options_.max_queued, ")); ask again later"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Plan> SearchQueue::Run(const SearchCall& call, SearchFunction search) {
  int64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(id, Enter(call, std::move(search)));
  }
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (searches_.at(id).state != State::kDone) {
        changed_.WaitWithTimeout(&mu_, options_.poll_interval);
      }
      if (searches_.at(id).state == State::kDone) {
        absl::StatusOr<v1::Plan> result = *searches_.at(id).result;
        Leave(id);
        return result;
      }
    }
    if (!call.still_wanted) continue;
    // Asked without the lock: the answer may take a moment.
    absl::Status wanted = call.still_wanted();
    if (wanted.ok()) continue;
    absl::MutexLock lock(&mu_);
    if (searches_.at(id).state == State::kDone) continue;  // its result, next round
    Leave(id);
    return wanted;
  }
}

absl::StatusOr<int64_t> SearchQueue::Enter(const SearchCall& call, SearchFunction search) {
  if (shutdown_) return absl::UnavailableError("the planner is shutting down");
  if (absl::Status admitted = Admit(call); !admitted.ok()) {
    ++stats_.rejected;
    return admitted;
  }
  int64_t id = 0;
  if (auto found = by_key_.find(call.key); found != by_key_.end()) {
    id = found->second;
    ++stats_.shared;
  } else {
    // A new search: it waits unless a search thread is free.
    const bool must_wait = stats_.running + stats_.queued >= options_.max_running;
    if (must_wait && !call.wait_when_full) {
      if (stats_.queued >= options_.max_queued) {
        ++stats_.rejected;
        return absl::ResourceExhaustedError(absl::StrCat(
            "the plan search queue is full: ", stats_.running, " searches running (at most ",
            options_.max_running, ", --max-concurrent-searches) and ", stats_.queued,
            " waiting (at most ", options_.max_queued, ", --search-queue); ask again later"));
      }
      auto mine = queued_.find(call.caller);
      const int own = mine == queued_.end() ? 0 : static_cast<int>(mine->second.size());
      if (own >= options_.max_queued_per_caller) {
        ++stats_.rejected;
        return absl::ResourceExhaustedError(
            absl::StrCat(call.caller, " has ", own, " plan searches waiting, the most one caller ",
                         "may have (", options_.max_queued_per_caller,
                         ", --search-queue-per-caller); ask again when one has finished"));
      }
    }
    id = next_id_++;
    Search& s = searches_[id];
    s.key = call.key;
    s.caller = call.caller;
    s.function = std::move(search);
    by_key_[call.key] = id;
    queued_[call.caller].push_back(id);
    ++stats_.queued;
    work_.Signal();
  }
  ++searches_[id].waiters;
  ++stats_.waiting_calls;
  Changed();
  return id;
}

void SearchQueue::Leave(int64_t id) {
  auto it = searches_.find(id);
  Search& s = it->second;
  --s.waiters;
  --stats_.waiting_calls;
  if (s.waiters == 0) {
    switch (s.state) {
      case State::kQueued: {
        auto& mine = queued_[s.caller];
        mine.erase(std::find(mine.begin(), mine.end(), id));
        if (mine.empty()) queued_.erase(s.caller);
        --stats_.queued;
        ++stats_.cancelled;
        if (auto k = by_key_.find(s.key); k != by_key_.end() && k->second == id) by_key_.erase(k);
        spdlog::info("plan search {} for {} dropped: nobody waits for it", s.key, s.caller);
        searches_.erase(it);
        break;
      }
      case State::kRunning:
        // Stop it; a new call with the same key starts afresh.
        s.cancel->store(true);
        if (auto k = by_key_.find(s.key); k != by_key_.end() && k->second == id) by_key_.erase(k);
        break;
      case State::kDone:
        searches_.erase(it);
        break;
    }
  }
  Changed();
}

int64_t SearchQueue::TakeNext() {
  // The first caller after the last one served, in name order, wrapping.
  auto it = queued_.upper_bound(last_caller_);
  if (it == queued_.end()) it = queued_.begin();
  const int64_t id = it->second.front();
  it->second.pop_front();
  last_caller_ = it->first;
  if (it->second.empty()) queued_.erase(it);
  --stats_.queued;
  return id;
}

void SearchQueue::SearchThread() {
  LowerThreadPriority(options_.nice);
  for (;;) {
    int64_t id = 0;
    SearchFunction function;
    std::shared_ptr<std::atomic<bool>> cancel;
    std::string key, caller;
    int threads = 1;
    {
      absl::MutexLock lock(&mu_);
      while (!shutdown_ && queued_.empty()) work_.Wait(&mu_);
      if (shutdown_) return;
      id = TakeNext();
      Search& s = searches_.at(id);
      s.state = State::kRunning;
      function = std::move(s.function);
      cancel = s.cancel;
      key = s.key;
      caller = s.caller;
      ++stats_.running;
      ++stats_.started;
      threads = std::max(1, options_.threads / stats_.running);
      Changed();
    }
    spdlog::info("plan search {} for {} started ({} threads)", key, caller, threads);
    absl::StatusOr<v1::Plan> result = absl::InternalError("the search did not run");
    try {
      result = function([&cancel] { return cancel->load(std::memory_order_relaxed); }, threads);
    } catch (const std::exception& e) {
      result = absl::InternalError(absl::StrCat("the plan search failed: ", e.what()));
    } catch (...) {
      result = absl::InternalError("the plan search failed with an unknown exception");
    }
    absl::MutexLock lock(&mu_);
    Search& s = searches_.at(id);
    const bool stopped = cancel->load() && !result.ok() && absl::IsCancelled(result.status());
    if (stopped) {
      ++stats_.cancelled;
      spdlog::info("plan search {} for {} cancelled: {}", key, caller,
                   shutdown_ ? "the planner is shutting down" : "nobody waits for it");
    }
    if (shutdown_ && !result.ok()) result = absl::UnavailableError("the planner is shutting down");
    s.state = State::kDone;
    s.result = std::move(result);
    if (auto k = by_key_.find(key); k != by_key_.end() && k->second == id) by_key_.erase(k);
    --stats_.running;
    ++stats_.finished;
    if (s.waiters == 0) searches_.erase(id);
    Changed();
  }
}

SearchQueue::Stats SearchQueue::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool SearchQueue::AwaitStats(const std::function<bool(const Stats&)>& condition,
                             absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!condition(stats_)) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) return condition(stats_);
  }
  return true;
}

}  // namespace galvatron::planner
