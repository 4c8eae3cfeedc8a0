// WorkerProcess: exit statuses, logs, environment, and stopping a worker
// that ignores nothing (SIGTERM) and one that ignores SIGTERM (SIGKILL after
// the grace period).
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <string>

#include "agent/daemon/worker_process.h"
#include "tests/support/test_support.h"

namespace galvatron::agent {
namespace {

WorkerProcess Shell(const std::string& script, const std::string& log,
                    const std::map<std::string, std::string>& env = {}) {
  auto process = WorkerProcess::Start({"/bin/sh", "-c", script}, env, log);
  REQUIRE(process.ok());
  return std::move(*process);
}

std::optional<int> WaitExit(WorkerProcess& process) {
  std::optional<int> exit;
  testing::WaitFor([&] { return (exit = process.Poll()).has_value(); }, std::chrono::seconds(20));
  return exit;
}

}  // namespace

TEST_CASE("A worker's exit code, log and environment", "[agent]") {
  testing::TempDir dir;
  WorkerProcess worker = Shell("echo \"value=$GALVATRON_TEST_VALUE\"; echo oops >&2; exit 3",
                               dir.File("w.log"), {{"GALVATRON_TEST_VALUE", "42"}});
  std::optional<int> exit = WaitExit(worker);
  REQUIRE(exit.has_value());
  CHECK(WorkerProcess::DescribeExit(*exit) == "exit code 3");
  const std::string tail = worker.LogTail(10);
  CHECK_THAT(tail, Catch::Contains("value=42") && Catch::Contains("oops"));
  CHECK(worker.LogTail(1) == "oops");
}

TEST_CASE("Stopping a worker: SIGTERM, then SIGKILL when it ignores it", "[agent]") {
  testing::TempDir dir;
  WorkerProcess polite = Shell("exec sleep 60", dir.File("polite.log"));
  CHECK(polite.running());
  polite.Stop(absl::Seconds(5));
  REQUIRE(polite.Poll().has_value());
  CHECK(WorkerProcess::DescribeExit(*polite.Poll()) == "killed by signal 15 (Terminated)");

  // The shell ignores SIGTERM and says so once it is ready.
  WorkerProcess stubborn =
      Shell("trap '' TERM; echo ready; while :; do sleep 0.05; done", dir.File("stubborn.log"));
  REQUIRE(
      testing::WaitFor([&] { return stubborn.LogTail(1) == "ready"; }, std::chrono::seconds(20)));
  stubborn.Stop(absl::Milliseconds(200));
  REQUIRE(stubborn.Poll().has_value());
  CHECK(WorkerProcess::DescribeExit(*stubborn.Poll()) == "killed by signal 9 (Killed)");
}

TEST_CASE("A worker binary that is missing is a clear error", "[agent]") {
  testing::TempDir dir;
  auto missing = WorkerProcess::Start({dir.File("no-such-worker")}, {}, dir.File("x.log"));
  REQUIRE(absl::IsNotFound(missing.status()));
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("no-such-worker"));
}

}  // namespace galvatron::agent
