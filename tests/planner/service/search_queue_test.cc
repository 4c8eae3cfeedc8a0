// The search queue with stand-in searches that the test controls: shared
// searches, the bounds, fairness between callers, cancellation when nobody
// waits any more, and shutdown.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "planner/service/search_queue.h"

namespace galvatron {
namespace {

using planner::SearchCall;
using planner::SearchFunction;
using planner::SearchQueue;
using planner::SearchQueueOptions;
using Stats = SearchQueue::Stats;

constexpr absl::Duration kWait = absl::Seconds(10);

SearchQueueOptions OneAtATime(int queued = 8, int per_caller = 4) {
  SearchQueueOptions o;
  o.max_running = 1;
  o.max_queued = queued;
  o.max_queued_per_caller = per_caller;
  o.nice = 0;
  o.poll_interval = absl::Milliseconds(10);
  return o;
}

SearchCall Call(const std::string& key, const std::string& caller) {
  SearchCall call;
  call.key = key;
  call.caller = caller;
  call.wait_when_full = false;
  return call;
}

v1::Plan PlanNamed(const std::string& id) {
  v1::Plan plan;
  plan.set_id(id);
  return plan;
}

// A search that returns `id` once `release` is notified, or CANCELLED when
// cancelled first; counts its runs.
SearchFunction Gated(const std::string& id, absl::Notification* release,
                     std::atomic<int>* runs = nullptr) {
  return
      [id, release, runs](const std::function<bool()>& cancelled, int) -> absl::StatusOr<v1::Plan> {
        if (runs != nullptr) ++*runs;
        while (!release->WaitForNotificationWithTimeout(absl::Milliseconds(5))) {
          if (cancelled()) return absl::CancelledError("stand-in search cancelled");
        }
        return PlanNamed(id);
      };
}

std::future<absl::StatusOr<v1::Plan>> RunAsync(SearchQueue* queue, SearchCall call,
                                               SearchFunction search) {
  return std::async(std::launch::async, [=] { return queue->Run(call, search); });
}

}  // namespace

TEST_CASE("SearchQueue: calls with equal keys share one search") {
  SearchQueue queue(OneAtATime());
  absl::Notification release;
  std::atomic<int> runs{0};
  std::vector<std::future<absl::StatusOr<v1::Plan>>> calls;
  for (const char* caller : {"alice", "bob", "alice"}) {
    calls.push_back(RunAsync(&queue, Call("plan-a", caller), Gated("plan-a", &release, &runs)));
  }
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.waiting_calls == 3; }, kWait));
  release.Notify();
  for (auto& call : calls) {
    absl::StatusOr<v1::Plan> plan = call.get();
    REQUIRE(plan.ok());
    CHECK(plan->id() == "plan-a");
  }
  CHECK(runs == 1);
  const Stats stats = queue.stats();
  CHECK(stats.started == 1);
  CHECK(stats.shared == 2);
  CHECK(stats.waiting_calls == 0);
}

TEST_CASE("SearchQueue: a shared search goes on when its first caller leaves") {
  SearchQueue queue(OneAtATime());
  absl::Notification release;
  std::atomic<bool> first_left{false};
  SearchCall first = Call("plan-a", "alice");
  first.still_wanted = [&first_left]() -> absl::Status {
    return first_left ? absl::CancelledError("alice went away") : absl::OkStatus();
  };
  auto leader = RunAsync(&queue, first, Gated("plan-a", &release));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  auto follower = RunAsync(&queue, Call("plan-a", "bob"), Gated("plan-a", &release));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.waiting_calls == 2; }, kWait));

  first_left = true;
  absl::StatusOr<v1::Plan> left = leader.get();
  CHECK(absl::IsCancelled(left.status()));
  CHECK(queue.stats().running == 1);
  CHECK(queue.stats().cancelled == 0);
  release.Notify();
  absl::StatusOr<v1::Plan> plan = follower.get();
  REQUIRE(plan.ok());
  CHECK(plan->id() == "plan-a");
  CHECK(queue.stats().started == 1);
}

TEST_CASE("SearchQueue: a search nobody waits for any more is cancelled") {
  SearchQueue queue(OneAtATime());
  absl::Notification never;
  std::atomic<bool> a_gone{false}, b_gone{false};
  auto wanted = [](std::atomic<bool>* gone) {
    return [gone]() -> absl::Status {
      return *gone ? absl::DeadlineExceededError("the deadline passed") : absl::OkStatus();
    };
  };
  SearchCall running = Call("plan-a", "alice"), queued = Call("plan-b", "alice");
  running.still_wanted = wanted(&a_gone);
  queued.still_wanted = wanted(&b_gone);
  auto a = RunAsync(&queue, running, Gated("plan-a", &never));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  auto b = RunAsync(&queue, queued, Gated("plan-b", &never));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.queued == 1; }, kWait));

  // The queued one is dropped without starting ...
  b_gone = true;
  CHECK(absl::IsDeadlineExceeded(b.get().status()));
  CHECK(queue.stats().queued == 0);
  CHECK(queue.stats().cancelled == 1);
  // ... and the running one stops.
  a_gone = true;
  CHECK(absl::IsDeadlineExceeded(a.get().status()));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.running == 0 && s.cancelled == 2; },
                           absl::Seconds(1)));
  CHECK(queue.stats().started == 1);

  // A new call for the same key starts afresh.
  absl::Notification release;
  release.Notify();
  absl::StatusOr<v1::Plan> again = queue.Run(Call("plan-a", "alice"), Gated("plan-a", &release));
  REQUIRE(again.ok());
  CHECK(queue.stats().started == 2);
}

TEST_CASE("SearchQueue: RESOURCE_EXHAUSTED beyond the queue and the per-caller bound") {
  SearchQueue queue(OneAtATime(/*queued=*/3, /*per_caller=*/2));
  absl::Notification release;
  std::vector<std::future<absl::StatusOr<v1::Plan>>> calls;
  calls.push_back(RunAsync(&queue, Call("a0", "alice"), Gated("a0", &release)));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  calls.push_back(RunAsync(&queue, Call("b1", "bob"), Gated("b1", &release)));
  calls.push_back(RunAsync(&queue, Call("b2", "bob"), Gated("b2", &release)));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.queued == 2; }, kWait));

  absl::StatusOr<v1::Plan> third = queue.Run(Call("b3", "bob"), Gated("b3", &release));
  CHECK(absl::IsResourceExhausted(third.status()));
  CHECK_THAT(std::string(third.status().message()),
             Catch::Contains("bob has 2") && Catch::Contains("--search-queue-per-caller"));
  // Sharing a queued search needs no room.
  calls.push_back(RunAsync(&queue, Call("b1", "bob"), Gated("b1", &release)));
  calls.push_back(RunAsync(&queue, Call("c1", "carol"), Gated("c1", &release)));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.queued == 3 && s.shared == 1; }, kWait));
  absl::StatusOr<v1::Plan> full = queue.Run(Call("d1", "dave"), Gated("d1", &release));
  CHECK(absl::IsResourceExhausted(full.status()));
  CHECK_THAT(std::string(full.status().message()),
             Catch::Contains("1 searches running (at most 1, --max-concurrent-searches)") &&
                 Catch::Contains("3 waiting (at most 3, --search-queue)"));
  CHECK(queue.stats().rejected == 2);
  // The planner's own calls wait instead.
  SearchCall job = Call("j1", "jobs");
  job.wait_when_full = true;
  calls.push_back(RunAsync(&queue, job, Gated("j1", &release)));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.queued == 4; }, kWait));

  release.Notify();
  for (auto& call : calls) CHECK(call.get().ok());
}

TEST_CASE("SearchQueue: callers take turns") {
  SearchQueue queue(OneAtATime());
  absl::Mutex mu;
  std::vector<std::string> order;
  absl::Notification release;
  auto recorded = [&](const std::string& key) -> SearchFunction {
    return [&, key](const std::function<bool()>&, int) -> absl::StatusOr<v1::Plan> {
      {
        absl::MutexLock lock(&mu);
        order.push_back(key);
      }
      if (key == "a0") release.WaitForNotification();
      return PlanNamed(key);
    };
  };
  std::vector<std::future<absl::StatusOr<v1::Plan>>> calls;
  calls.push_back(RunAsync(&queue, Call("a0", "alice"), recorded("a0")));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  int queued = 0;
  for (const char* key : {"a1", "a2", "a3"}) {
    calls.push_back(RunAsync(&queue, Call(key, "alice"), recorded(key)));
    ++queued;
    REQUIRE(queue.AwaitStats([queued](const Stats& s) { return s.queued == queued; }, kWait));
  }
  // Bob asks last, and his one search runs next.
  calls.push_back(RunAsync(&queue, Call("b1", "bob"), recorded("b1")));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.queued == 4; }, kWait));
  release.Notify();
  for (auto& call : calls) CHECK(call.get().ok());
  absl::MutexLock lock(&mu);
  CHECK(order == std::vector<std::string>{"a0", "b1", "a1", "a2", "a3"});
}

TEST_CASE("SearchQueue: searches running together share the threads") {
  SearchQueueOptions options = OneAtATime();
  options.max_running = 2;
  options.threads = 4;
  SearchQueue queue(options);
  absl::Notification release, first_started, second_started;
  int first_threads = 0, second_threads = 0;  // written before the notification
  auto counting = [&release](int* threads, absl::Notification* started) -> SearchFunction {
    return [&release, threads, started](const std::function<bool()>&,
                                        int n) -> absl::StatusOr<v1::Plan> {
      *threads = n;
      started->Notify();
      release.WaitForNotification();
      return PlanNamed("p");
    };
  };
  auto a = RunAsync(&queue, Call("a", "alice"), counting(&first_threads, &first_started));
  REQUIRE(first_started.WaitForNotificationWithTimeout(kWait));
  auto b = RunAsync(&queue, Call("b", "bob"), counting(&second_threads, &second_started));
  REQUIRE(second_started.WaitForNotificationWithTimeout(kWait));
  CHECK(first_threads == 4);
  CHECK(second_threads == 2);
  release.Notify();
  CHECK(a.get().ok());
  CHECK(b.get().ok());
}

TEST_CASE("SearchQueue: shutdown answers every waiting call UNAVAILABLE") {
  SearchQueue queue(OneAtATime());
  absl::Notification never;
  auto running = RunAsync(&queue, Call("a", "alice"), Gated("a", &never));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  auto queued = RunAsync(&queue, Call("b", "bob"), Gated("b", &never));
  REQUIRE(queue.AwaitStats([](const Stats& s) { return s.queued == 1; }, kWait));
  queue.Shutdown();
  CHECK(absl::IsUnavailable(running.get().status()));
  CHECK(absl::IsUnavailable(queued.get().status()));
  CHECK(absl::IsUnavailable(queue.Run(Call("c", "carol"), Gated("c", &never)).status()));
}

}  // namespace galvatron
