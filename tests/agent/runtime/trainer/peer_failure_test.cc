// A rank that dies stops every other rank of a training run, each exiting 1
// with a message naming the dead rank, within 60 s, without the launcher:
// four `galvatron-worker train` processes on loopback, as separate ranks of
// other nodes would be. Rank 2 killed mid-step (the others blocked in
// collectives with it or waiting on ranks that are), rank 2 killed while
// the group is still forming (only the heartbeat can tell), and rank 0 (the
// store's host) killed mid-step; and rank 2 frozen (SIGSTOP: its
// connections stay open, so only the heartbeat can tell), where the others
// are stopped by the peer watch and still say which step they were in. A
// rank that ends by a signal (an abort, a segfault) or does not end in time
// fails the test.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "galvatron/v1/plan.pb.h"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;
using testing::WaitForPort;
using testing::Worker;

// pp 2 × tp 2 for the first two layers, dp 2 for the last two: each rank
// talks to some ranks directly (its tp, dp and pipeline peers) and waits on
// the others only through them.
std::string WritePlan(const TempDir& dir) {
  testing::PlanShape shape;
  shape.world = 4;
  shape.pp = 2;
  shape.layers = {{2}, {2}, {1}, {1}};
  return testing::WritePlan(dir, "plan.json", shape);
}

// Four ranks of a long gpt-tiny run, each its own process.
class Run {
 public:
  // `peer_timeout`: "" for the default.
  Run(const TempDir& dir, const std::string& peer_timeout) : dir_(dir), plan_(WritePlan(dir)) {
    argv_ = {Worker(),  "train",  "--plan",    plan_, "--model",      "gpt-tiny",
             "--steps", "100000", "--threads", "1",   "--world-size", "4"};
    if (!peer_timeout.empty()) argv_.insert(argv_.end(), {"--peer-timeout-seconds", peer_timeout});
  }

  // Rank 0 serves the store on a free port; the others join once it does.
  void StartRank0() {
    Start(0, {"--store", "127.0.0.1:0", "--port-file", dir_.File("port"), "--metrics-out",
              dir_.File("metrics.jsonl")});
    const int port = WaitForPort(dir_.File("port"), std::chrono::seconds(60));
    REQUIRE(port > 0);
    port_ = std::to_string(port);
  }
  void StartRank(int rank) { Start(rank, {"--store", "127.0.0.1:" + port_}); }

  ChildProcess& rank(int r) { return *ranks_[static_cast<size_t>(r)]; }
  std::string Log(int r) const { return Slurp(dir_.File("rank-" + std::to_string(r) + ".log")); }
  int StepsDone() const {
    std::ifstream in(dir_.File("metrics.jsonl"));
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }

  // Every rank in `survivors` exits with status 1 within 60 s of `killed_at`
  // and says that `dead` failed.
  void CheckStopped(const std::vector<int>& survivors, int dead, Clock::time_point killed_at) {
    for (int r : survivors) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          killed_at + std::chrono::seconds(60) - Clock::now());
      const int code = rank(r).Wait(std::max(left, std::chrono::milliseconds(1)));
      const double seconds = std::chrono::duration<double>(Clock::now() - killed_at).count();
      INFO("rank " << r << " exit " << code << " after " << seconds << " s; its log:\n" << Log(r));
      CHECK(code == 1);  // -1: still running after 60 s; 128 + n: ended by signal n
      CHECK_THAT(Log(r), Catch::Contains("rank " + std::to_string(dead) + " failed"));
      WARN("rank " << r << " stopped " << seconds << " s after rank " << dead << " failed");
    }
  }

 private:
  void Start(int rank, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = argv_;
    argv.insert(argv.end(), {"--rank", std::to_string(rank)});
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (ranks_.size() <= static_cast<size_t>(rank)) ranks_.resize(static_cast<size_t>(rank) + 1);
    ranks_[static_cast<size_t>(rank)] =
        std::make_unique<ChildProcess>(argv, dir_.File("rank-" + std::to_string(rank) + ".log"));
  }

  const TempDir& dir_;
  std::string plan_;
  std::vector<std::string> argv_;
  std::string port_;
  std::vector<std::unique_ptr<ChildProcess>> ranks_;
};

}  // namespace

TEST_CASE("A rank killed mid-step stops every other rank, naming it", "[runtime][train]") {
  TempDir dir;
  Run run(dir, "5");
  run.StartRank0();
  for (int r = 1; r < 4; ++r) run.StartRank(r);
  REQUIRE(WaitFor([&] { return run.StepsDone() >= 1; }, std::chrono::seconds(120)));
  run.rank(2).Signal(SIGKILL);
  const auto killed_at = Clock::now();
  CHECK(run.rank(2).Wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  run.CheckStopped({0, 1, 3}, 2, killed_at);
}

TEST_CASE("A rank that dies while the group forms stops the others (default timeouts)",
          "[runtime][train]") {
  TempDir dir;
  Run run(dir, "");
  run.StartRank0();
  run.StartRank(1);
  run.StartRank(2);
  // Rank 3 never comes: ranks 0 and 1 wait for it, in the rendezvous, until
  // rank 0 has seen rank 2 join and rank 2 dies.
  REQUIRE(WaitFor([&] { return run.Log(0).find("rank 2 is in the group") != std::string::npos; },
                  std::chrono::seconds(60)));
  run.rank(2).Signal(SIGKILL);
  const auto killed_at = Clock::now();
  run.CheckStopped({0, 1}, 2, killed_at);
}

TEST_CASE("A frozen rank stops the others through its heartbeat, each naming its step",
          "[runtime][train]") {
  TempDir dir;
  Run run(dir, "5");
  run.StartRank0();
  for (int r = 1; r < 4; ++r) run.StartRank(r);
  REQUIRE(WaitFor([&] { return run.StepsDone() >= 1; }, std::chrono::seconds(120)));
  run.rank(2).Signal(SIGSTOP);
  const auto frozen_at = Clock::now();
  run.CheckStopped({0, 1, 3}, 2, frozen_at);
  for (int r : {0, 1, 3}) {
    INFO("rank " << r << "'s log:\n" << run.Log(r));
    CHECK_THAT(run.Log(r), Catch::Contains("rank " + std::to_string(r) + ", step "));
    CHECK_THAT(run.Log(r), Catch::Contains("no heartbeat"));
  }
}

TEST_CASE("Rank 0, the store's host, killed mid-step stops every other rank", "[runtime][train]") {
  TempDir dir;
  Run run(dir, "5");
  run.StartRank0();
  for (int r = 1; r < 4; ++r) run.StartRank(r);
  REQUIRE(WaitFor([&] { return run.StepsDone() >= 1; }, std::chrono::seconds(120)));
  run.rank(0).Signal(SIGKILL);
  const auto killed_at = Clock::now();
  run.CheckStopped({1, 2, 3}, 0, killed_at);
}

}  // namespace galvatron
