// Dynamic loss scaling: the scaler's rule (back off and skip on non-finite
// gradients, grow after clean steps, state kept in checkpoints), and in
// training on 2 Gloo ranks: scaling by a power of two changes nothing in
// float64 (losses and every parameter bit for bit), a step with non-finite
// gradients on one rank is skipped on every rank (the parameters are those
// of the step before), and a resumed run continues with the saved scale.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/runtime/trainer/loss_scaler.h"
#include "common/json_file.h"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using runtime::DynamicLossScaler;
using runtime::LossScalerOptions;
using testing::CommandResult;
using testing::RunCommand;
using testing::Worker;

struct Result {
  std::vector<std::string> losses;  // as written, %.17g
  std::string dumps;                // every rank's final parameters
  std::string err;
};

// 2 ranks, dp2 ZeRO-2, float64, gpt-tiny.
Result Train(const testing::TempDir& dir, const std::string& tag, std::vector<std::string> extra) {
  testing::PlanShape shape;
  shape.world = 2;
  for (auto& l : shape.layers) l.dp_type = testing::kZero2;
  const std::string plan = testing::WritePlan(dir, tag + ".json", shape);
  std::vector<std::string> argv = {Worker(),
                                   "launch",
                                   "--nproc",
                                   "2",
                                   "--",
                                   "train",
                                   "--plan",
                                   plan,
                                   "--model",
                                   "gpt-tiny",
                                   "--steps",
                                   "4",
                                   "--dtype",
                                   "float64",
                                   "--threads",
                                   "1",
                                   "--log-level",
                                   "warn",
                                   "--metrics-out",
                                   dir.File(tag + ".jsonl"),
                                   "--dump-parameters",
                                   dir.File(tag + ".txt")};
  argv.insert(argv.end(), extra.begin(), extra.end());
  CommandResult r = RunCommand(argv, std::chrono::seconds(180));
  INFO(tag << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  Result out;
  out.err = r.err;
  for (const v1::StepMetrics& m : testing::ReadMetrics(dir.File(tag + ".jsonl"))) {
    std::ostringstream loss;
    loss.precision(17);
    loss << m.loss();
    out.losses.push_back(loss.str());
  }
  for (int rank = 0; rank < 2; ++rank) {
    auto text = ReadTextFile(dir.File(tag + ".txt.rank-" + std::to_string(rank)));
    REQUIRE(text.ok());
    out.dumps += *text;
  }
  return out;
}

}  // namespace

TEST_CASE("The loss scaler backs off on non-finite gradients and grows after clean steps",
          "[runtime][train]") {
  LossScalerOptions options;
  options.initial_scale = 1024;
  options.growth_interval = 2;
  options.min_scale = 256;
  DynamicLossScaler s(options);
  CHECK(s.Update(true));
  CHECK(s.scale() == 1024);
  CHECK(s.Update(true));  // the second clean step in a row: grow
  CHECK(s.scale() == 2048);
  CHECK_FALSE(s.Update(false));  // skip, halve, the clean count restarts
  CHECK(s.scale() == 1024);
  CHECK(s.clean_steps() == 0);
  CHECK(s.Update(true));
  CHECK(s.scale() == 1024);
  CHECK_FALSE(s.Update(false));
  CHECK_FALSE(s.Update(false));
  CHECK_FALSE(s.Update(false));
  CHECK(s.scale() == 256);  // never below the minimum
  CHECK(s.skipped_steps() == 4);

  DynamicLossScaler restored;
  REQUIRE(restored.Restore(s.Serialize(), "state").ok());
  CHECK(restored.scale() == 256);
  CHECK(restored.skipped_steps() == 4);
  CHECK(restored.clean_steps() == 0);
  for (const char* bad : {"", "1 2", "0 0 0", "-4 0 0", "nan 0 0", "8 -1 0", "8 x 0"}) {
    INFO(bad);
    absl::Status st = restored.Restore(bad, "rank-0.scaler");
    CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(st.message()), Catch::Contains("rank-0.scaler"));
  }
}

TEST_CASE("Loss scaling by a power of two changes nothing in float64", "[runtime][train]") {
  testing::TempDir dir;
  const Result plain = Train(dir, "plain", {});
  const Result scaled = Train(dir, "scaled",
                              {"--loss-scaling", "dynamic", "--initial-loss-scale", "1024",
                               "--loss-scale-growth-interval", "1"});
  REQUIRE(plain.losses.size() == 4);
  CHECK(scaled.losses == plain.losses);
  CHECK(scaled.dumps == plain.dumps);
}

TEST_CASE("A step with non-finite gradients on one rank is skipped on every rank",
          "[runtime][train]") {
  testing::TempDir dir;
  // The reference: the same schedule stopped after step 2.
  const Result two = Train(
      dir, "two",
      {"--loss-scaling", "dynamic", "--checkpoint-dir", dir.File("ckpt-two"), "--stop-after", "2"});
  // Steps 3 and 4 see an inf on rank 1 only: rank 0, whose own gradients
  // are finite, must skip them too (ZeRO-2 shards would otherwise diverge).
  const Result skipped =
      Train(dir, "skipped",
            {"--loss-scaling", "dynamic", "--inject-nonfinite-grad", "3", "--inject-nonfinite-grad",
             "4", "--inject-nonfinite-grad-rank", "1"});
  REQUIRE(skipped.losses.size() == 4);
  CHECK(skipped.dumps == two.dumps);
  CHECK_THAT(skipped.err, Catch::Contains("step 3: non-finite gradients at loss scale 65536") &&
                              Catch::Contains("scale now 32768") &&
                              Catch::Contains("step 4: non-finite gradients at loss scale 32768"));
}

TEST_CASE("A resumed run continues with the loss scale its checkpoint saved", "[runtime][train]") {
  testing::TempDir dir;
  const std::vector<std::string> scaling = {"--loss-scaling",
                                            "dynamic",
                                            "--initial-loss-scale",
                                            "1024",
                                            "--loss-scale-growth-interval",
                                            "1",
                                            "--checkpoint-dir",
                                            dir.File("ckpt")};
  std::vector<std::string> first = scaling;
  first.insert(first.end(), {"--stop-after", "2"});
  Train(dir, "first", first);
  auto saved = ReadTextFile(dir.File("ckpt/step-2/rank-1.scaler"));
  REQUIRE(saved.ok());
  CHECK(*saved == "4096 0 0\n");  // 1024, doubled after each clean step
  std::vector<std::string> second = scaling;
  second.insert(second.end(), {"--resume", "--stop-after", "3"});
  Train(dir, "second", second);
  auto resumed = ReadTextFile(dir.File("ckpt/step-3/rank-0.scaler"));
  REQUIRE(resumed.ok());
  CHECK(*resumed == "8192 0 0\n");  // from 4096, not from 1024 again
}

}  // namespace galvatron
