// The trainer's error boundary: every failure of a step or of the set-up
// comes back from RunTraining as a status naming the rank (and the step),
// whatever threw it — LibTorch's c10::Error, Gloo's IoException when a peer
// is gone, or an error status — and `galvatron-worker train` reports it.
#include <catch2/catch.hpp>

#include <c10/util/Exception.h>
#include <gloo/common/error.h>
#include <signal.h>

#include <cstdint>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/runtime/trainer/error_boundary.h"
#include "common/json_file.h"
#include "galvatron/v1/plan.pb.h"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using runtime::RunGuarded;
using testing::CommandResult;
using testing::RunCommand;
using testing::Worker;

// Data parallelism over `world` ranks, every layer DDP.
std::string WritePlan(const testing::TempDir& dir, int world) {
  testing::PlanShape shape;
  shape.world = world;
  return testing::WritePlan(dir, "plan.json", shape);
}

int Lines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

TEST_CASE("The error boundary names where, keeps a status's code, maps exceptions",
          "[runtime][train]") {
  CHECK(RunGuarded("rank 1, step 3", [] { return absl::OkStatus(); }).ok());

  absl::Status s =
      RunGuarded("rank 1, step 3", [] { return absl::DataLossError("token 9 is 600"); });
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK(s.message() == "rank 1, step 3: token 9 is 600");

  s = RunGuarded("rank 2, step 17", []() -> absl::Status {
    TORCH_CHECK(false, "shapes [2, 3] and [4] do not match");
    return absl::OkStatus();
  });
  CHECK(s.code() == absl::StatusCode::kInternal);
  CHECK_THAT(std::string(s.message()),
             Catch::StartsWith("rank 2, step 17: shapes [2, 3] and [4] do not match"));
  CHECK_THAT(std::string(s.message()), !Catch::Contains("Exception raised from"));

  s = RunGuarded("rank 0, step 5", []() -> absl::Status {
    throw ::gloo::IoException("Connection closed by peer [127.0.0.1]:4242");
  });
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(s.message() ==
        "rank 0, step 5: communication failed: Connection closed by peer [127.0.0.1]:4242");

  s = RunGuarded("rank 0", []() -> absl::Status { throw std::bad_alloc(); });
  CHECK(s.code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("rank 0: out of memory"));

  s = RunGuarded("rank 0", []() -> absl::Status { throw std::runtime_error("odd"); });
  CHECK(s.code() == absl::StatusCode::kInternal);
  CHECK(s.message() == "rank 0: odd");

  s = RunGuarded("rank 0", []() -> absl::Status { throw 42; });
  CHECK(s.code() == absl::StatusCode::kInternal);
  CHECK(s.message() == "rank 0: an exception of unknown type");
}

TEST_CASE("train names the rank for set-up errors and the rank and step for step errors",
          "[runtime][train]") {
  testing::TempDir dir;
  const std::string plan = WritePlan(dir, 1);
  CommandResult r = RunCommand({Worker(), "train", "--plan", plan, "--model", "gpt-tiny", "--steps",
                                "0", "--log-level", "warn"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("rank 0: --steps: 0"));

  // Token ids beyond gpt-tiny's vocabulary (512): the first micro-batch of
  // step 1 cannot be read.
  const std::string data = dir.File("tokens.bin");
  {
    std::ofstream out(data, std::ios::binary);
    const std::vector<uint16_t> tokens(4096, 60000);
    out.write(reinterpret_cast<const char*>(tokens.data()),
              static_cast<std::streamsize>(tokens.size() * sizeof(uint16_t)));
  }
  r = RunCommand({Worker(), "train", "--plan", plan, "--model", "gpt-tiny", "--steps", "2",
                  "--data", data, "--threads", "1", "--log-level", "warn"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("rank 0, step 1: ") && Catch::Contains("60000"));
}

TEST_CASE("A rank whose peer dies mid-run fails with its rank and step", "[runtime][train]") {
  // Two ranks without the launcher; rank 1 is killed once rank 0 has
  // finished two steps. Rank 0's next collective fails in Gloo (the peer
  // closed its connection, or the timeout passes): it must exit with a
  // status naming itself and the step, not with an uncaught exception.
  testing::TempDir dir;
  const std::string plan = WritePlan(dir, 2);
  auto argv = [&](int rank, const std::string& store) {
    std::vector<std::string> a = {Worker(),
                                  "train",
                                  "--plan",
                                  plan,
                                  "--model",
                                  "gpt-tiny",
                                  "--steps",
                                  "100000",
                                  "--threads",
                                  "1",
                                  "--log-level",
                                  "warn",
                                  "--rank",
                                  std::to_string(rank),
                                  "--world-size",
                                  "2",
                                  "--store",
                                  store,
                                  "--timeout-seconds",
                                  "20"};
    if (rank == 0)
      a.insert(a.end(), {"--port-file", dir.File("port"), "--metrics-out", dir.File("m.jsonl")});
    return a;
  };
  testing::ChildProcess rank0(argv(0, "127.0.0.1:0"), dir.File("rank0.log"));
  REQUIRE(testing::WaitFor([&] { return !ReadTextFile(dir.File("port")).value_or("").empty(); },
                           std::chrono::seconds(30)));
  std::string port = ReadTextFile(dir.File("port")).value();
  port.erase(port.find_last_not_of("\n") + 1);
  testing::ChildProcess rank1(argv(1, "127.0.0.1:" + port), dir.File("rank1.log"));
  REQUIRE(
      testing::WaitFor([&] { return Lines(dir.File("m.jsonl")) >= 2; }, std::chrono::seconds(60)));
  rank1.Signal(SIGKILL);
  CHECK(rank1.Wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  const int exit_code = rank0.Wait(std::chrono::seconds(60));
  const std::string log = ReadTextFile(dir.File("rank0.log")).value_or("");
  INFO(log);
  CHECK(exit_code == 1);
  CHECK_THAT(log, Catch::Contains("rank 0, step "));
  CHECK_THAT(log, !Catch::Contains("terminate called"));
}

}  // namespace galvatron
