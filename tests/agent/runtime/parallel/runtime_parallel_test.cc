// The tensor-parallel layers, the collectives' autograd pairs and the
// ParallelContext, end to end: 2 and 4 worker processes (runtime_parallel_worker)
// over Gloo on loopback each compute every case sharded and as the full
// single-process model; in float64 the losses, outputs and gradients
// gathered to full shape must agree within 1e-9 relative (float32: 1e-4, the
// bound parallel_worker.cc derives from float32 rounding).
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::ChildProcess;
using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;
using testing::WaitForPort;

struct Report {
  std::map<std::pair<std::string, std::string>, double> errors;  // (case, quantity) → error
  std::map<std::string, int> facts;                              // e.g. process_groups
};

Report ParseReport(const std::string& text) {
  Report report;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    double error = 0;
    int value = 0;
    if (fields.size() == 3 && absl::SimpleAtod(fields[2], &error)) {
      report.errors[{fields[0], fields[1]}] = error;
    } else if (fields.size() == 2 && absl::SimpleAtoi(fields[1], &value)) {
      report.facts[fields[0]] = value;
    }
  }
  return report;
}

// Starts `world` workers (rank 0 first, on a free port), waits for all to
// exit, requires success and returns rank 0's report.
Report RunWorkers(int world, const std::string& dtype = "float64") {
  TempDir dir;
  auto args = [&](int rank, const std::string& store) {
    return std::vector<std::string>{GALVATRON_PARALLEL_WORKER,
                                    "--rank",
                                    std::to_string(rank),
                                    "--world",
                                    std::to_string(world),
                                    "--store",
                                    store,
                                    "--timeout-seconds",
                                    "60",
                                    "--dtype",
                                    dtype};
  };
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  std::vector<std::string> logs;
  std::vector<std::string> rank0 = args(0, "127.0.0.1:0");
  rank0.insert(rank0.end(), {"--port-file", dir.File("port"), "--report", dir.File("report")});
  logs.push_back(dir.File("rank0.log"));
  ranks.push_back(std::make_unique<ChildProcess>(rank0, logs.back()));
  const int port = WaitForPort(dir.File("port"));
  INFO("rank 0 log:\n" << Slurp(logs[0]));
  REQUIRE(port > 0);
  for (int r = 1; r < world; ++r) {
    logs.push_back(dir.File(absl::StrCat("rank", r, ".log")));
    ranks.push_back(
        std::make_unique<ChildProcess>(args(r, absl::StrCat("127.0.0.1:", port)), logs.back()));
  }
  for (int r = 0; r < world; ++r) {
    const int code = ranks[static_cast<size_t>(r)]->Wait(std::chrono::seconds(90));
    INFO("rank " << r << " log:\n" << Slurp(logs[static_cast<size_t>(r)]));
    REQUIRE(code == 0);
  }
  return ParseReport(Slurp(dir.File("report")));
}

const std::vector<std::string> kMlpGrads = {"grad_up_weight", "grad_up_bias", "grad_down_weight",
                                            "grad_down_bias"};

// Every comparison each case must have reported.
std::vector<std::pair<std::string, std::string>> Expected(int world) {
  std::vector<std::pair<std::string, std::string>> expected;
  auto add = [&](const std::string& name, std::vector<std::string> quantities, bool mlp) {
    if (mlp) quantities.insert(quantities.end(), kMlpGrads.begin(), kMlpGrads.end());
    for (const std::string& q : quantities) expected.emplace_back(name, q);
  };
  add("tp_mlp", {"loss", "output", "grad_input"}, true);
  add("tp_mlp_gathered", {"loss", "output", "grad_input"}, true);
  add("tp_vocab_model", {"loss", "grad_embedding", "grad_head"}, true);
  add("megatron_sp", {"loss", "output", "grad_embedding"}, true);
  add("ulysses", {"loss", "output", "grad_input", "grad_qkv", "grad_out"}, false);
  add("dp", {"loss"}, true);
  if (world >= 4) add("tp2_dp", {"loss"}, true);
  return expected;
}

void CheckReport(const Report& report, int world, double tolerance = 1e-9) {
  for (const auto& [name, quantity] : Expected(world)) {
    INFO(name << " " << quantity);
    auto it = report.errors.find({name, quantity});
    REQUIRE(it != report.errors.end());
    CHECK(it->second <= tolerance);
  }
  CHECK(report.errors.size() == Expected(world).size());
}

TEST_CASE(
    "tp 2 on 2 ranks: MLP, vocab-parallel model, Megatron-SP, Ulysses and dp 2 equal one "
    "process in float64",
    "[runtime]") {
  const Report report = RunWorkers(2);
  CheckReport(report, 2);
  // One group, {0,1}, serves tp, sp, dp and the world alike.
  CHECK(report.facts.at("process_groups") == 1);
}

TEST_CASE("tp 4, tp 2 x dp 2 and dp 4 on 4 ranks equal one process in float64", "[runtime]") {
  const Report report = RunWorkers(4);
  CheckReport(report, 4);
  // Rank 0: {0,1} (tp 2), {0,2} (dp 2) and {0,1,2,3} (world, tp 4, dp 4, Ulysses).
  CHECK(report.facts.at("process_groups") == 3);
}

TEST_CASE("The collectives and layers work in float32 too (2 ranks, 1e-4 relative)", "[runtime]") {
  CheckReport(RunWorkers(2, "float32"), 2, 1e-4);
}

}  // namespace
}  // namespace galvatron
