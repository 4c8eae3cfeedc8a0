// galvatron-worker train / launch on CPU with Gloo: data-parallel training
// (DDP, ZeRO-1, ZeRO-2, per-layer checkpointing) equals single-process
// training — losses of 5 steps and the final parameters, in float64 — and a
// run stopped at a checkpoint and resumed equals an uninterrupted one.
// Plans with dimensions the runtime does not run yet are refused plainly.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::CommandResult;
using testing::RunCommand;

std::string Worker() { return testing::BinDir() + "/galvatron-worker"; }

// pp 1, every layer tp 1 × dp `world` with `dp_type`, 8 samples in 2 micro-batches.
std::string WritePlan(const testing::TempDir& dir, const std::string& name, int world,
                      v1::DataParallelType dp_type, const std::vector<bool>& checkpoint = {}) {
  v1::Plan plan;
  plan.set_world_size(world);
  plan.set_pp(1);
  plan.set_micro_batches(2);
  plan.set_global_batch(8);
  for (int i = 0; i < 4; ++i) {
    v1::LayerStrategy* s = plan.add_layers();
    s->set_tp(1);
    s->set_dp(world);
    s->set_dp_type(dp_type);
    s->set_checkpoint(i < static_cast<int>(checkpoint.size()) && checkpoint[i]);
  }
  plan.mutable_embedding()->set_vocab_tp(1);
  plan.mutable_embedding()->set_dp_type(dp_type);
  const std::string path = dir.File(name);
  REQUIRE(WriteTextFile(path, MessageToJson(plan)).ok());
  return path;
}

struct Run {
  std::vector<double> losses;
  std::map<std::string, std::vector<double>> parameters;
};

// Trains 5 float64 steps on `nproc` local ranks (1: no launcher).
Run Train(const testing::TempDir& dir, const std::string& tag, int nproc, const std::string& plan,
          const std::string& model, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {Worker()};
  if (nproc > 1) argv.insert(argv.end(), {"launch", "--nproc", std::to_string(nproc), "--"});
  argv.insert(argv.end(), {"train", "--plan", plan, "--model", model, "--steps", "5", "--dtype",
                           "float64", "--threads", "1", "--log-level", "warn", "--metrics-out",
                           dir.File(tag + ".jsonl"), "--dump-parameters", dir.File(tag + ".txt")});
  argv.insert(argv.end(), extra.begin(), extra.end());
  CommandResult r = RunCommand(argv, std::chrono::seconds(120));
  INFO(tag << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  Run run;
  std::ifstream metrics(dir.File(tag + ".jsonl"));
  for (std::string line; std::getline(metrics, line);) {
    v1::StepMetrics m;
    REQUIRE(JsonToMessage(line, tag, &m).ok());
    CHECK(m.step() == static_cast<int64_t>(run.losses.size()) + 1);
    run.losses.push_back(m.loss());
  }
  std::ifstream params(dir.File(tag + ".txt"));
  for (std::string line; std::getline(params, line);) {
    std::istringstream in(line);
    std::string name;
    int64_t count = 0;
    in >> name >> count;
    std::vector<double>& values = run.parameters[name];
    values.resize(static_cast<size_t>(count));
    for (double& v : values) in >> v;
  }
  return run;
}

void CheckSame(const Run& a, const Run& b) {
  REQUIRE(a.losses.size() == 5);
  REQUIRE(b.losses.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    INFO("step " << i + 1);
    CHECK(std::abs(a.losses[i] - b.losses[i]) <= 1e-6 * std::abs(a.losses[i]));
  }
  REQUIRE(a.parameters.size() == b.parameters.size());
  REQUIRE_FALSE(a.parameters.empty());
  for (const auto& [name, values] : a.parameters) {
    INFO(name);
    const auto it = b.parameters.find(name);
    REQUIRE(it != b.parameters.end());
    REQUIRE(it->second.size() == values.size());
    double worst = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      worst = std::max(worst, std::abs(values[i] - it->second[i]) / (1e-3 + std::abs(values[i])));
    }
    CHECK(worst <= 1e-6);
  }
}

}  // namespace

TEST_CASE("Data parallelism equals single-process training", "[runtime][train]") {
  testing::TempDir dir;
  const Run single =
      Train(dir, "single", 1, WritePlan(dir, "p1.json", 1, v1::DATA_PARALLEL_TYPE_DDP), "gpt-tiny");
  // The loss starts near log(vocab) and the run moves the weights.
  CHECK(std::abs(single.losses[0] - std::log(512.0)) < 0.1);
  SECTION("dp4 DDP") {
    CheckSame(single, Train(dir, "ddp", 4, WritePlan(dir, "p.json", 4, v1::DATA_PARALLEL_TYPE_DDP),
                            "gpt-tiny"));
  }
  SECTION("dp4 ZeRO-1") {
    CheckSame(single, Train(dir, "zero1", 4,
                            WritePlan(dir, "p.json", 4, v1::DATA_PARALLEL_TYPE_ZERO1), "gpt-tiny"));
  }
  SECTION("dp4 ZeRO-2") {
    CheckSame(single, Train(dir, "zero2", 4,
                            WritePlan(dir, "p.json", 4, v1::DATA_PARALLEL_TYPE_ZERO2), "gpt-tiny"));
  }
}

TEST_CASE("Per-layer checkpointing on two ranks equals plain single-process training",
          "[runtime][train]") {
  testing::TempDir dir;
  const Run single = Train(dir, "single", 1,
                           WritePlan(dir, "p1.json", 1, v1::DATA_PARALLEL_TYPE_DDP), "llama-tiny");
  CheckSame(single, Train(dir, "mixed", 2,
                          WritePlan(dir, "p2.json", 2, v1::DATA_PARALLEL_TYPE_ZERO2,
                                    {true, false, true, false}),
                          "llama-tiny"));
}

TEST_CASE("A run stopped at a checkpoint and resumed equals an uninterrupted one",
          "[runtime][train]") {
  testing::TempDir dir;
  const std::string plan = WritePlan(dir, "p.json", 2, v1::DATA_PARALLEL_TYPE_ZERO1);
  const Run whole = Train(dir, "whole", 2, plan, "gpt-tiny");
  // Steps 1-3, then a new run from the checkpoint for 4-5 (metrics appended).
  std::vector<std::string> first = {Worker(), "launch", "--nproc", "2", "--", "train", "--plan",
                                    plan, "--model", "gpt-tiny", "--steps", "5", "--dtype",
                                    "float64", "--threads", "1", "--stop-after", "3",
                                    "--checkpoint-dir", dir.File("ckpt"), "--metrics-out",
                                    dir.File("resumed.jsonl")};
  CommandResult r = RunCommand(first, std::chrono::seconds(120));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(ReadTextFile(dir.File("ckpt/latest")).value_or("") == "3\n");
  const Run resumed = Train(dir, "resumed", 2, plan, "gpt-tiny",
                            {"--checkpoint-dir", dir.File("ckpt"), "--resume"});
  CheckSame(whole, resumed);
}

TEST_CASE("Plans the runtime cannot run yet are refused plainly", "[runtime][train]") {
  testing::TempDir dir;
  v1::Plan plan;
  plan.set_pp(1);
  plan.set_micro_batches(1);
  plan.set_global_batch(4);
  for (int i = 0; i < 4; ++i) {
    plan.add_layers()->set_tp(2);
    plan.mutable_layers(i)->set_dp(1);
  }
  plan.mutable_embedding()->set_vocab_tp(1);
  REQUIRE(WriteTextFile(dir.File("tp2.json"), MessageToJson(plan)).ok());
  CommandResult r = RunCommand({Worker(), "launch", "--nproc", "2", "--", "train", "--plan",
                                dir.File("tp2.json"), "--model", "gpt-tiny", "--steps", "1"},
                               std::chrono::seconds(60));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("layers[0].tp: 2") && Catch::Contains("not implemented"));

  r = RunCommand({Worker(), "train", "--plan", dir.File("tp2.json"), "--model", "gpt-tiny",
                  "--steps", "1"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("layers[0].tp: 2"));  // tp · dp ≠ world of 1

  r = RunCommand({Worker(), "launch", "--nproc", "2"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("\"--\""));
}

}  // namespace galvatron
