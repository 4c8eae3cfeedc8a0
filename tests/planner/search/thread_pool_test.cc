// ThreadPool and ParallelFor: every task runs exactly once, results come back
// through futures, nesting does not deadlock, destruction drains the queue.
#include "planner/search/thread_pool.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <stdexcept>
#include <vector>

namespace galvatron::search {
namespace {

TEST_CASE("Submit runs every task and returns its result") {
  ThreadPool pool(4);
  CHECK(pool.num_threads() == 4);
  std::vector<std::future<int>> results;
  for (int i = 0; i < 1000; ++i) results.push_back(pool.Submit([i] { return i * i; }));
  for (int i = 0; i < 1000; ++i) CHECK(results[i].get() == i * i);
}

TEST_CASE("Submit from many threads at once") {
  ThreadPool pool(3);
  std::atomic<int> ran{0};
  std::vector<std::thread> producers;
  std::vector<std::vector<std::future<void>>> futures(4);
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < 250; ++i) futures[p].push_back(pool.Submit([&ran] { ++ran; }));
    });
  }
  for (std::thread& t : producers) t.join();
  for (auto& fs : futures) {
    for (auto& f : fs) f.get();
  }
  CHECK(ran == 1000);
}

TEST_CASE("exceptions reach the future") {
  ThreadPool pool(1);
  std::future<int> f = pool.Submit([]() -> int { throw std::runtime_error("boom"); });
  CHECK_THROWS_AS(f.get(), std::runtime_error);
  CHECK(pool.Submit([] { return 7; }).get() == 7);  // the worker survived
}

TEST_CASE("destruction runs the queued tasks, then joins") {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 200; ++i) {
      pool.Submit([&ran] {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        ++ran;
      });
    }
  }
  CHECK(ran == 200);
}

TEST_CASE("non-positive size uses the hardware") {
  ThreadPool pool(0);
  CHECK(pool.num_threads() >= 1);
}

TEST_CASE("ParallelFor visits every index once") {
  ThreadPool pool(4);
  for (const int64_t n : {0, 1, 2, 7, 1000}) {
    std::vector<std::atomic<int>> hits(n);
    ParallelFor(&pool, n, [&hits](int64_t i) { ++hits[i]; });
    for (int64_t i = 0; i < n; ++i) CHECK(hits[i] == 1);
  }
  std::vector<int> serial(10, 0);
  ParallelFor(nullptr, 10, [&serial](int64_t i) { serial[i] = static_cast<int>(i); });
  for (int i = 0; i < 10; ++i) CHECK(serial[i] == i);
}

TEST_CASE("nested ParallelFor inside pool tasks does not deadlock") {
  ThreadPool pool(1);  // the worst case: one worker, busy with the outer task
  std::atomic<int> inner{0};
  std::future<void> outer =
      pool.Submit([&] { ParallelFor(&pool, 50, [&inner](int64_t) { ++inner; }); });
  REQUIRE(outer.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  outer.get();
  CHECK(inner == 50);
  ThreadPool wide(3);
  std::atomic<int> total{0};
  ParallelFor(&wide, 8, [&](int64_t) { ParallelFor(&wide, 8, [&](int64_t) { ++total; }); });
  CHECK(total == 64);
}

TEST_CASE("ParallelFor rethrows the first exception after all calls finish") {
  ThreadPool pool(2);
  std::atomic<int> running{0};
  CHECK_THROWS_AS(ParallelFor(&pool, 100,
                              [&running](int64_t i) {
                                ++running;
                                if (i == 3) throw std::logic_error("bad index");
                                --running;
                              }),
                  std::logic_error);
  CHECK(running == 1);  // only the throwing call did not finish its body
}

}  // namespace
}  // namespace galvatron::search
