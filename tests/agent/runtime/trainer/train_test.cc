// galvatron-worker train / launch on CPU with Gloo: every parallel dimension
// of a plan, alone and mixed, equals single-process training — the losses
// and gradient norms of 5 steps and every final parameter (each rank's
// shard placed in the full tensor, all of the full tensor covered), in
// float64 — and a run stopped at a checkpoint and resumed equals an
// uninterrupted one. The plan the search engine picks from measured CPU
// profiles trains exactly too.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "common/model_catalog.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "tests/agent/runtime/inputs/image_file_writer.h"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::CommandResult;
using testing::kDdp;
using testing::kMegatron;
using testing::kNone;
using testing::kUlysses;
using testing::kZero1;
using testing::kZero2;
using testing::kZero3;
using testing::Layer;
using testing::PlanShape;
using testing::ReadMetrics;
using testing::RunCommand;
using testing::Worker;
using testing::WritePlan;

// One rank's piece of a parameter: where it sits in the full tensor.
struct Piece {
  std::vector<int64_t> shape;  // full
  int dim = -1;
  int64_t start = 0;
  std::vector<double> values;
};

struct Run {
  std::vector<double> losses;
  std::vector<double> grad_norms;
  std::vector<v1::StepMetrics> metrics;
  std::multimap<std::string, Piece> pieces;
};

void ReadDump(const std::string& path, Run* run) {
  std::ifstream in(path);
  REQUIRE(in.good());
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name;
    Piece piece;
    size_t dims = 0;
    int64_t count = 0;
    fields >> name >> dims;
    piece.shape.resize(dims);
    for (int64_t& d : piece.shape) fields >> d;
    fields >> piece.dim >> piece.start >> count;
    piece.values.resize(static_cast<size_t>(count));
    for (double& v : piece.values) fields >> v;
    REQUIRE(fields);
    run->pieces.emplace(name, std::move(piece));
  }
}

// Trains 5 float64 steps on `nproc` local ranks (1: no launcher).
Run Train(const testing::TempDir& dir, const std::string& tag, int nproc, const std::string& plan,
          const std::string& model, std::vector<std::string> extra = {},
          const std::string& dtype = "float64") {
  std::vector<std::string> argv = {Worker()};
  if (nproc > 1) argv.insert(argv.end(), {"launch", "--nproc", std::to_string(nproc), "--"});
  argv.insert(argv.end(), {"train", "--plan", plan, "--model", model, "--steps", "5", "--dtype",
                           dtype, "--threads", "1", "--log-level", "warn", "--metrics-out",
                           dir.File(tag + ".jsonl"), "--dump-parameters", dir.File(tag + ".txt")});
  argv.insert(argv.end(), extra.begin(), extra.end());
  CommandResult r = RunCommand(argv, std::chrono::seconds(180));
  INFO(tag << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  Run run;
  for (const v1::StepMetrics& m : ReadMetrics(dir.File(tag + ".jsonl"))) {
    CHECK(m.step() == static_cast<int64_t>(run.losses.size()) + 1);
    CHECK(m.model_state_bytes() > 0);
    run.losses.push_back(m.loss());
    run.grad_norms.push_back(m.grad_norm());
    run.metrics.push_back(m);
  }
  if (nproc == 1) {
    ReadDump(dir.File(tag + ".txt"), &run);
  } else {
    for (int r = 0; r < nproc; ++r)
      ReadDump(dir.File(tag + ".txt.rank-" + std::to_string(r)), &run);
  }
  return run;
}

bool Close(double expected, double actual, double floor) {
  return std::abs(expected - actual) <= 1e-6 * std::max(std::abs(expected), floor);
}

// `run` equals the single-process `single`: losses, gradient norms, and
// every rank's piece of every parameter; the pieces cover every element.
void CheckSame(const Run& single, const Run& run) {
  REQUIRE(single.losses.size() == 5);
  REQUIRE(run.losses.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    INFO("step " << i + 1 << ": loss " << single.losses[i] << " vs " << run.losses[i]
                 << ", grad norm " << single.grad_norms[i] << " vs " << run.grad_norms[i]);
    CHECK(Close(single.losses[i], run.losses[i], 0));
    CHECK(Close(single.grad_norms[i], run.grad_norms[i], 0));
  }
  REQUIRE_FALSE(single.pieces.empty());
  for (const auto& [name, full] : single.pieces) {
    INFO(name);
    REQUIRE(full.dim == -1);
    std::vector<int> covered(full.values.size(), 0);
    auto [begin, end] = run.pieces.equal_range(name);
    REQUIRE(begin != end);
    double worst = 0;
    for (auto it = begin; it != end; ++it) {
      const Piece& piece = it->second;
      REQUIRE(piece.shape == full.shape);
      // Index arithmetic over [outer, dim, inner] of the full tensor.
      int64_t outer = 1, inner = 1, extent = 1, length = 1;
      if (piece.dim >= 0) {
        for (int d = 0; d < piece.dim; ++d) outer *= full.shape[static_cast<size_t>(d)];
        for (size_t d = static_cast<size_t>(piece.dim) + 1; d < full.shape.size(); ++d)
          inner *= full.shape[d];
        extent = full.shape[static_cast<size_t>(piece.dim)];
        length = static_cast<int64_t>(piece.values.size()) / (outer * inner);
      } else {
        REQUIRE(piece.values.size() == full.values.size());
        inner = static_cast<int64_t>(full.values.size());
      }
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t k = 0; k < length; ++k) {
          for (int64_t i = 0; i < inner; ++i) {
            const int64_t at = (o * extent + piece.start + k) * inner + i;
            const double expected = full.values[static_cast<size_t>(at)];
            const double actual = piece.values[static_cast<size_t>((o * length + k) * inner + i)];
            // Values that should be 0 (e.g. key biases, whose gradient is
            // exactly zero) are rounding noise: compare those absolutely.
            worst =
                std::max(worst, std::abs(expected - actual) / std::max(std::abs(expected), 1e-6));
            ++covered[static_cast<size_t>(at)];
          }
        }
      }
    }
    CHECK(worst <= 1e-6);
    CHECK(std::count(covered.begin(), covered.end(), 0) == 0);
  }
}

// The single-process run of `model`, trained once per test process.
const Run& Single(const std::string& model) {
  static std::map<std::string, Run>* runs = new std::map<std::string, Run>();
  auto it = runs->find(model);
  if (it == runs->end()) {
    testing::TempDir dir;
    PlanShape shape;
    it = runs->emplace(model, Train(dir, "single-" + model, 1,
                                    WritePlan(dir, "single-" + model + ".json", shape), model))
             .first;
    // The loss starts near log(vocab) (vit-test: of its 10 classes) and
    // the run moves the weights.
    const double outcomes = model == "vit-test" || model == "swin-test" ? 10.0 : 512.0;
    CHECK(std::abs(it->second.losses[0] - std::log(outcomes)) < 0.1);
  }
  return it->second;
}

void Check(const std::string& model, const std::string& tag, const PlanShape& shape) {
  const Run& single = Single(model);
  testing::TempDir dir;
  CheckSame(single, Train(dir, tag, shape.world, WritePlan(dir, tag + ".json", shape), model));
}

std::vector<Layer> All(const Layer& l) { return std::vector<Layer>(4, l); }

}  // namespace

TEST_CASE("Data parallelism and ZeRO equal single-process training", "[runtime][train]") {
  PlanShape s;
  s.world = 4;
  SECTION("dp4 DDP") { Check("gpt-tiny", "ddp", s); }
  SECTION("dp4 ZeRO-1") {
    s.layers = All({1, kNone, kZero1, false});
    s.embedding.dp_type = kZero1;
    Check("gpt-tiny", "zero1", s);
  }
  SECTION("dp4 ZeRO-2") {
    s.layers = All({1, kNone, kZero2, false});
    s.embedding.dp_type = kZero2;
    Check("gpt-tiny", "zero2", s);
  }
  SECTION("dp4 ZeRO-3") {
    s.layers = All({1, kNone, kZero3, false});
    s.embedding.dp_type = kZero3;
    Check("gpt-tiny", "zero3", s);
  }
}

TEST_CASE("Tensor and sequence parallelism equal single-process training", "[runtime][train]") {
  PlanShape s;
  SECTION("tp2") {
    s.world = 2;
    s.layers = All({2, kNone, kDdp, false});
    Check("gpt-tiny", "tp2", s);
  }
  SECTION("tp4 with a vocab-parallel embedding") {
    s.world = 4;
    s.layers = All({4, kNone, kDdp, false});
    s.embedding = {4, kNone, kDdp, false};
    Check("gpt-tiny", "tp4", s);
  }
  SECTION("tp4 on 2 KV heads (each replicated over 2 ranks), with SP and ZeRO") {
    s.world = 4;
    s.layers = {{4, kNone, kDdp, false},
                {4, kMegatron, kZero3, true},
                {4, kNone, kZero2, false},
                {4, kMegatron, kZero1, false}};
    Check("llama-tiny", "tp4-gqa", s);
  }
  SECTION("tp2 + Megatron-SP, embedding too") {
    s.world = 2;
    s.layers = All({2, kMegatron, kDdp, false});
    s.embedding = {2, kMegatron, kDdp, false};
    Check("gpt-tiny", "tp2-sp", s);
  }
  SECTION("Ulysses sp2 (LLaMA: RoPE, GQA), embedding too") {
    s.world = 2;
    s.layers = All({2, kUlysses, kDdp, false});
    s.embedding = {2, kUlysses, kDdp, false};
    Check("llama-tiny", "ulysses2", s);
  }
}

TEST_CASE("Step metrics say how long rank 0 waited for communication", "[runtime][train]") {
  testing::TempDir dir;
  PlanShape s;
  s.world = 2;
  const Run ddp = Train(dir, "waits-ddp", 2, WritePlan(dir, "waits-ddp.json", s), "gpt-tiny");
  s.layers = All({2, kNone, kDdp, false});
  s.embedding = {2, kNone, kDdp, false};
  const Run tp = Train(dir, "waits-tp", 2, WritePlan(dir, "waits-tp.json", s), "gpt-tiny");
  REQUIRE(ddp.metrics.size() == 5);
  REQUIRE(tp.metrics.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    const v1::StepMetrics& d = ddp.metrics[i];
    const v1::StepMetrics& t = tp.metrics[i];
    INFO("step " << i + 1 << ": ddp " << d.ShortDebugString() << "; tp " << t.ShortDebugString());
    // DDP: the bucketed gradient all-reduce, waited for after the backward
    // pass; nothing in the passes (the gradient norm's all-reduce is not
    // reported).
    CHECK(d.gradient_sync_wait_seconds() > 0);
    CHECK(d.communication_waits() == 0);
    CHECK(d.communication_wait_seconds() == 0);
    // Megatron TP over every layer and a vocabulary-parallel embedding/head,
    // in each of the 2 micro-batches: four all-reduces per layer (two
    // forward, two backward), the embedding's and the head's (one each) and
    // the cross-entropy's three. No data parallelism, so no gradient sync.
    CHECK(t.communication_waits() == 2 * (4 * 4 + 2 + 3));
    CHECK(t.communication_wait_seconds() > 0);
    CHECK(t.gradient_sync_wait_seconds() == 0);
    for (const v1::StepMetrics* m : {&d, &t}) {
      CHECK(m->communication_wait_seconds() + m->gradient_sync_wait_seconds() < m->step_seconds());
    }
  }
}

TEST_CASE("Pipeline parallelism equals single-process training", "[runtime][train]") {
  PlanShape s;
  s.world = 2;
  s.pp = 2;
  SECTION("pp2 GPipe (tied embedding across the ends)") {
    s.schedule = v1::PIPELINE_SCHEDULE_GPIPE;
    Check("gpt-tiny", "pp2-gpipe", s);
  }
  SECTION("pp2 1F1B") { Check("gpt-tiny", "pp2-1f1b", s); }
  SECTION("pp2 x tp2 x dp2") {
    s.world = 8;
    s.layers = All({2, kNone, kDdp, false});
    s.embedding = {2, kNone, kDdp, false};
    Check("gpt-tiny", "pp2-tp2-dp2", s);
  }
}

TEST_CASE("A mixed plan equals single-process training", "[runtime][train]") {
  // Adjacent layers of one stage differ in tp, dp, sequence parallelism,
  // ZeRO and checkpointing: activations are redistributed between them.
  PlanShape s;
  s.world = 4;
  s.layers = {{2, kNone, kZero3, true},
              {4, kUlysses, kZero1, false},
              {2, kMegatron, kZero2, true},
              {1, kNone, kDdp, false}};
  s.embedding = {2, kNone, kZero3, false};
  SECTION("one stage (LLaMA)") { Check("llama-tiny", "mixed", s); }
  SECTION("two stages, gradient clipping on (GPT)") {
    s.pp = 2;
    s.layers[1] = {1, kNone, kZero1, false};
    s.layers[3] = {2, kUlysses, kZero3, false};
    s.embedding = {2, kMegatron, kZero3, false};
    testing::TempDir dir;
    const std::vector<std::string> clip = {"--grad-clip", "0.05"};
    const Run single =
        Train(dir, "single", 1, WritePlan(dir, "single.json", PlanShape()), "gpt-tiny", clip);
    CheckSame(single,
              Train(dir, "mixed-pp", 4, WritePlan(dir, "mixed-pp.json", s), "gpt-tiny", clip));
  }
}

TEST_CASE("Random plans on 4 ranks equal single-process training", "[runtime][train]") {
  // Any mix the search could produce: pp 1, 2 or 4, GPipe or 1F1B, each layer
  // and the embedding with a random tp, sequence parallelism, data-parallel
  // type and checkpointing. A fixed seed keeps the test repeatable.
  std::mt19937 random(20261122);
  auto pick = [&random](int n) { return static_cast<int>(random() % static_cast<uint32_t>(n)); };
  const v1::SequenceParallel sps[] = {kNone, kMegatron, kUlysses};
  const v1::DataParallelType types[] = {kDdp, kZero1, kZero2, kZero3};
  for (int trial = 0; trial < 4; ++trial) {
    PlanShape s;
    s.world = 4;
    s.pp = std::vector<int>{1, 2, 4}[static_cast<size_t>(pick(3))];
    s.schedule = pick(2) == 0 ? v1::PIPELINE_SCHEDULE_GPIPE : v1::PIPELINE_SCHEDULE_1F1B;
    const int per_stage = s.world / s.pp;
    auto random_layer = [&] {
      Layer l;
      l.tp = 1 << pick(per_stage == 4 ? 3 : per_stage == 2 ? 2 : 1);
      l.sp = l.tp > 1 ? sps[pick(3)] : kNone;
      l.dp_type = types[pick(4)];
      l.checkpoint = pick(2) == 1;
      return l;
    };
    for (Layer& l : s.layers) l = random_layer();
    s.embedding = random_layer();
    INFO("trial " << trial << ": pp " << s.pp);
    Check("gpt-tiny", "random-" + std::to_string(trial), s);
  }
}

TEST_CASE("BERT's masked-LM training equals single-process training", "[runtime][train]") {
  // A tiny post-LN encoder with a tied MLM head; 15 % of the inputs masked.
  testing::TempDir dir;
  const std::string spec = dir.File("bert-tiny.json");
  REQUIRE(WriteTextFile(spec, R"({"name": "bert-tiny", "family": "MODEL_FAMILY_BERT",
    "layers": [{"kind": "LAYER_KIND_BERT_ENCODER", "count": 4, "hidden": 64, "ffnHidden": 256,
                "heads": 4, "bias": true}],
    "vocabSize": 512, "seqLen": 64, "precision": "PRECISION_FP32", "tieEmbeddings": true,
    "optimizer": {"kind": "OPTIMIZER_KIND_ADAMW", "learningRate": 0.001, "gradClipNorm": 1.0}})")
              .ok());
  const Run single = Train(dir, "single", 1, WritePlan(dir, "single.json", PlanShape()), spec);
  // Only masked tokens count, and the encoder cannot see them: the loss starts near log(vocab).
  CHECK(std::abs(single.losses[0] - std::log(512.0)) < 0.1);
  PlanShape s;
  s.world = 4;
  s.pp = 2;
  s.layers = {{2, kMegatron, kZero3, true},
              {2, kUlysses, kZero1, false},
              {1, kNone, kZero2, true},
              {2, kNone, kDdp, false}};
  s.embedding = {2, kUlysses, kZero2, false};
  CheckSame(single, Train(dir, "hybrid", 4, WritePlan(dir, "hybrid.json", s), spec));
}

// Measures this machine as 4 CPU devices (hardware.json) and `model`'s
// layers (compute.json) in `dir`, searches a plan for 8 samples in 2 GiB
// (plan.json) and writes the single-process plan with the same batch and
// micro-batches (one.json).
void SearchPlan(const testing::TempDir& dir, const std::string& model) {
  CommandResult r = RunCommand(
      {Worker(), "launch", "--nproc", "4", "--", "probe", "--out", dir.File("hardware.json"),
       "--max-bytes", "65536", "--repeats", "2", "--warmup", "1", "--log-level", "warn"},
      std::chrono::seconds(180));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = RunCommand({Worker(), "profile", "--model", model, "--out", dir.File("compute.json"),
                  "--repeats", "2", "--log-level", "warn"},
                 std::chrono::seconds(180));
  REQUIRE(r.exit_code == 0);
  r = RunCommand({testing::BinDir() + "/galvatron-planner", "search", "--model", model,
                  "--hardware", dir.File("hardware.json"), "--compute", dir.File("compute.json"),
                  "--memory", "2GiB", "--global-batch", "8", "--json", "--quiet"},
                 std::chrono::seconds(180));
  UNSCOPED_INFO("search: " << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(WriteTextFile(dir.File("plan.json"), r.out).ok());
  v1::Plan plan;
  REQUIRE(JsonToMessage(r.out, "plan", &plan).ok());
  UNSCOPED_INFO("picked: pp " << plan.pp() << ", " << plan.micro_batches() << " micro-batches, "
                              << plan.layers_size() << " layers, layer 0 tp "
                              << plan.layers(0).tp());
  // The single-process reference with the same batch and micro-batches.
  v1::Plan one;
  one.set_world_size(1);
  one.set_pp(1);
  one.set_micro_batches(plan.micro_batches());
  one.set_global_batch(plan.global_batch());
  for (int i = 0; i < plan.layers_size(); ++i) {
    one.add_layers()->set_tp(1);
    one.mutable_layers(i)->set_dp(1);
  }
  one.mutable_embedding()->set_vocab_tp(1);
  REQUIRE(WriteTextFile(dir.File("one.json"), MessageToJson(one)).ok());
}

// Galvatron mode's search over SearchPlan's profiles: its plan (JSON) to
// galvatron_plan.json, its strategy file (layertype_0 .. layertype_N) to
// galvatron_config.json.
void GalvatronModeSearch(const testing::TempDir& dir, const std::string& model) {
  CommandResult r =
      RunCommand({testing::BinDir() + "/galvatron-planner", "search", "--model", model,
                  "--hardware", dir.File("hardware.json"), "--compute", dir.File("compute.json"),
                  "--memory", "2GiB", "--global-batch", "8", "--mode", "galvatron", "--json",
                  "--quiet", "--galvatron-config-out", dir.File("galvatron_config.json")},
                 std::chrono::seconds(180));
  UNSCOPED_INFO("galvatron-mode search: " << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(WriteTextFile(dir.File("galvatron_plan.json"), r.out).ok());
}

TEST_CASE("The plan the search picks from measured CPU profiles trains exactly",
          "[runtime][train][search]") {
  testing::TempDir dir;
  SearchPlan(dir, "gpt-tiny");
  const Run picked = Train(dir, "picked", 4, dir.File("plan.json"), "gpt-tiny");
  CheckSame(Train(dir, "one", 1, dir.File("one.json"), "gpt-tiny"), picked);
  // Galvatron's own search space and cost model, its strategy file written
  // beside our plan: trained from either file, the same run.
  GalvatronModeSearch(dir, "gpt-tiny");
  const Run ours = Train(dir, "ours", 4, dir.File("galvatron_plan.json"), "gpt-tiny");
  const Run galvatron = Train(dir, "galvatron", 4, dir.File("galvatron_config.json"), "gpt-tiny");
  // Galvatron's file states data-parallel types per layer and a default for
  // the rest, so an equivalent type may come back (DDP ↔ ZeRO-2 sum the same
  // gradients in another order): equal up to rounding.
  REQUIRE(galvatron.losses.size() == ours.losses.size());
  for (size_t i = 0; i < ours.losses.size(); ++i) {
    CHECK(Close(ours.losses[i], galvatron.losses[i], 0));
    CHECK(Close(ours.grad_norms[i], galvatron.grad_norms[i], 0));
  }
}

TEST_CASE("bf16 mixed precision tracks float32 training", "[runtime][train]") {
  // The model computes in bf16, the optimizer updates float32 masters. bf16
  // rounds differently under every layout, so the check is closeness to the
  // float32 run, not equality.
  testing::TempDir dir;
  const std::string one = WritePlan(dir, "one.json", PlanShape());
  const Run fp32 = Train(dir, "fp32", 1, one, "gpt-tiny", {}, "float32");
  const Run bf16 = Train(dir, "bf16", 1, one, "gpt-tiny", {}, "bfloat16");
  PlanShape s;
  s.world = 4;
  s.pp = 2;
  s.layers = {{2, kMegatron, kZero3, true},
              {1, kNone, kZero1, false},
              {2, kNone, kZero2, false},
              {2, kUlysses, kDdp, true}};
  s.embedding = {2, kNone, kZero3, false};
  const Run hybrid =
      Train(dir, "bf16-hybrid", 4, WritePlan(dir, "hybrid.json", s), "gpt-tiny", {}, "bfloat16");
  for (size_t i = 0; i < 5; ++i) {
    INFO("step " << i + 1 << ": fp32 " << fp32.losses[i] << ", bf16 " << bf16.losses[i]
                 << ", bf16 hybrid " << hybrid.losses[i]);
    CHECK(std::abs(bf16.losses[i] - fp32.losses[i]) <= 0.01 * fp32.losses[i]);
    CHECK(std::abs(hybrid.losses[i] - fp32.losses[i]) <= 0.01 * fp32.losses[i]);
  }
  // Stopped after step 3 and resumed: the float32 masters come back too, so
  // the losses are those of the uninterrupted run, bit for bit.
  const std::string hybrid_plan = dir.File("hybrid.json");
  CommandResult r = RunCommand({Worker(),
                                "launch",
                                "--nproc",
                                "4",
                                "--",
                                "train",
                                "--plan",
                                hybrid_plan,
                                "--model",
                                "gpt-tiny",
                                "--steps",
                                "5",
                                "--dtype",
                                "bfloat16",
                                "--threads",
                                "1",
                                "--log-level",
                                "warn",
                                "--stop-after",
                                "3",
                                "--checkpoint-dir",
                                dir.File("ckpt"),
                                "--metrics-out",
                                dir.File("resumed.jsonl")},
                               std::chrono::seconds(120));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const Run resumed = Train(dir, "resumed", 4, hybrid_plan, "gpt-tiny",
                            {"--checkpoint-dir", dir.File("ckpt"), "--resume"}, "bfloat16");
  REQUIRE(resumed.losses.size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(resumed.losses[i] == hybrid.losses[i]);
  // The parameters are bf16 (their values are bf16-representable): the
  // first one of the table, whatever rank holds it.
  const Piece& table = bf16.pieces.find("embedding.tokens.weight")->second;
  const float first = static_cast<float>(table.values[0]);
  uint32_t bits = 0;
  std::memcpy(&bits, &first, sizeof(bits));
  CHECK((bits & 0xFFFF) == 0);
}

TEST_CASE("A run stopped at a checkpoint and resumed equals an uninterrupted one",
          "[runtime][train]") {
  testing::TempDir dir;
  PlanShape s;
  s.world = 4;
  s.pp = 2;
  s.layers = {{2, kMegatron, kZero3, true},
              {1, kNone, kZero1, false},
              {2, kNone, kZero2, false},
              {1, kNone, kDdp, true}};
  s.embedding = {2, kNone, kZero3, false};
  const std::string plan = WritePlan(dir, "p.json", s);
  const Run whole = Train(dir, "whole", 4, plan, "gpt-tiny");
  // Steps 1-3, then a new run from the checkpoint for 4-5 (metrics appended).
  std::vector<std::string> first = {Worker(),
                                    "launch",
                                    "--nproc",
                                    "4",
                                    "--",
                                    "train",
                                    "--plan",
                                    plan,
                                    "--model",
                                    "gpt-tiny",
                                    "--steps",
                                    "5",
                                    "--dtype",
                                    "float64",
                                    "--threads",
                                    "1",
                                    "--stop-after",
                                    "3",
                                    "--checkpoint-dir",
                                    dir.File("ckpt"),
                                    "--metrics-out",
                                    dir.File("resumed.jsonl")};
  CommandResult r = RunCommand(first, std::chrono::seconds(120));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(ReadTextFile(dir.File("ckpt/latest")).value_or("") == "3\n");
  const Run resumed = Train(dir, "resumed", 4, plan, "gpt-tiny",
                            {"--checkpoint-dir", dir.File("ckpt"), "--resume"});
  // Bit for bit: the same tensors, the same order of operations.
  REQUIRE(resumed.losses.size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(resumed.losses[i] == whole.losses[i]);
  REQUIRE(resumed.pieces.size() == whole.pieces.size());
  for (auto a = whole.pieces.begin(), b = resumed.pieces.begin(); a != whole.pieces.end();
       ++a, ++b) {
    INFO(a->first);
    REQUIRE(a->first == b->first);
    CHECK(a->second.values == b->second.values);
  }
}

TEST_CASE("Plans that do not fit the model are refused plainly", "[runtime][train]") {
  testing::TempDir dir;
  PlanShape s;
  s.world = 3;
  s.layers = All({3, kNone, kDdp, false});  // the tiny models have 4 heads
  const std::string plan = WritePlan(dir, "tp3.json", s);
  CommandResult r = RunCommand({Worker(), "launch", "--nproc", "3", "--", "train", "--plan", plan,
                                "--model", "llama-tiny", "--steps", "1"},
                               std::chrono::seconds(60));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("layers[0].tp: 3") && Catch::Contains("heads (4)"));

  r = RunCommand({Worker(), "train", "--plan", plan, "--model", "gpt-tiny", "--steps", "1"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("world_size: 3"));  // the plan is for 3 ranks

  r = RunCommand({Worker(), "train", "--plan", plan, "--model", "gpt-tiny", "--dtype", "float16"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--dtype float16 on cpu") && Catch::Contains("CUDA"));
  r = RunCommand({Worker(), "train", "--plan", plan, "--model", "gpt-tiny", "--dtype", "float16",
                  "--loss-scaling", "off"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--loss-scaling off") && Catch::Contains("underflow"));
  r = RunCommand({Worker(), "train", "--plan", plan, "--model", "gpt-tiny", "--device", "tpu"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--device: \"tpu\"") && Catch::Contains("cuda:N"));
  r = RunCommand({Worker(), "train", "--plan", plan, "--model", "gpt-tiny", "--device", "cuda"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--device cuda") && Catch::Contains("without CUDA"));

  r = RunCommand({Worker(), "launch", "--nproc", "2"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("\"--\""));
}

}  // namespace galvatron

namespace galvatron {
namespace {

// A file of labelled images in the runtime's format (image_data.h).
std::string WriteImages(const testing::TempDir& dir, const std::string& name, uint32_t count,
                        uint32_t channels, uint32_t side, uint32_t classes,
                        uint32_t first_label = 0) {
  std::string bytes = testing::ImageFileHeader(count, channels, side, side);
  for (uint32_t n = 0; n < count; ++n) {
    std::vector<uint8_t> pixels(channels * side * side);
    for (uint32_t p = 0; p < pixels.size(); ++p) {
      pixels[p] = static_cast<uint8_t>((n * 37 + p * 11 + (n % classes) * 60) & 0xff);
    }
    bytes += testing::ImageRecord(first_label + n % classes, pixels);
  }
  const std::string path = dir.File(name);
  REQUIRE(WriteTextFile(path, bytes).ok());
  return path;
}

}  // namespace

TEST_CASE("ViT trains on 4 ranks exactly like one process", "[runtime][train]") {
  PlanShape s;
  s.world = 4;
  SECTION("tp2 x dp2 with checkpointing and ZeRO-3, the head over tp2") {
    s.layers = {{2, kNone, kDdp, true},
                {2, kNone, kZero3, true},
                {2, kNone, kZero2, false},
                {2, kNone, kDdp, true}};
    s.embedding = {2, kNone, kZero3, false};
    Check("vit-test", "vit-tp2dp2", s);
  }
  SECTION("pp2 x tp2, 1F1B") {
    s.pp = 2;
    s.layers = All({2, kNone, kDdp, false});
    s.embedding = {2, kNone, kDdp, false};
    Check("vit-test", "vit-pp2tp2", s);
  }
  SECTION("dp4 ZeRO-3") {
    s.layers = All({1, kNone, kZero3, false});
    s.embedding.dp_type = kZero3;
    Check("vit-test", "vit-zero3", s);
  }
}

TEST_CASE("ViT under the plan the search picks from measured CPU profiles trains exactly",
          "[runtime][train][search]") {
  testing::TempDir dir;
  SearchPlan(dir, "vit-test");
  CheckSame(Train(dir, "one", 1, dir.File("one.json"), "vit-test"),
            Train(dir, "picked", 4, dir.File("plan.json"), "vit-test"));
}

TEST_CASE("ViT reads labelled images from a file and refuses what it cannot do",
          "[runtime][train]") {
  testing::TempDir dir;
  PlanShape one;
  const std::string plan = WritePlan(dir, "one.json", one);
  const std::string images = WriteImages(dir, "train.img", 64, 3, 16, 10);
  CommandResult r = RunCommand({Worker(), "train", "--plan", plan, "--model", "vit-test", "--steps",
                                "3", "--data", images, "--metrics-out", dir.File("m.jsonl")},
                               std::chrono::seconds(120));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err + r.out, Catch::Contains("image file") && Catch::Contains("64 images"));
  const std::vector<v1::StepMetrics> steps = testing::ReadMetrics(dir.File("m.jsonl"));
  REQUIRE(steps.size() == 3);
  for (const v1::StepMetrics& m : steps) CHECK(std::isfinite(m.loss()));

  // Images of another size than the model's.
  const std::string small = WriteImages(dir, "small.img", 8, 3, 8, 10);
  r = RunCommand(
      {Worker(), "train", "--plan", plan, "--model", "vit-test", "--steps", "1", "--data", small});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("height 8") && Catch::Contains("expects 16"));
  // Labels the model has no class for (10 and 11 of 10 classes).
  const std::string labels = WriteImages(dir, "labels.img", 16, 3, 16, 2, /*first_label=*/10);
  r = RunCommand(
      {Worker(), "train", "--plan", plan, "--model", "vit-test", "--steps", "1", "--data", labels});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("label 1") && Catch::Contains("0..9") &&
                        Catch::Contains("num_classes"));

  // Sequence parallelism: vit-test's 17 tokens do not split in two at all;
  // a ViT whose sequence would (28x28 in 4x4 patches: 49 + 1 = 50) is
  // refused for the class token.
  PlanShape sp;
  sp.world = 2;
  sp.layers = All({2, kMegatron, kDdp, false});
  const std::string sp_plan = WritePlan(dir, "sp.json", sp);
  r = RunCommand({Worker(), "launch", "--nproc", "2", "--", "train", "--plan", sp_plan, "--model",
                  "vit-test", "--steps", "1"},
                 std::chrono::seconds(60));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("layers[0].tp: 2") && Catch::Contains("(17)"));
  v1::ModelSpec wide = *CatalogModel("vit-test");
  wide.set_name("vit-28");
  wide.set_builtin(false);
  wide.mutable_vision()->set_image_size(28);
  wide.set_seq_len(50);
  REQUIRE(WriteTextFile(dir.File("vit-28.json"), MessageToJson(wide)).ok());
  r = RunCommand({Worker(), "launch", "--nproc", "2", "--", "train", "--plan", sp_plan, "--model",
                  dir.File("vit-28.json"), "--steps", "1"},
                 std::chrono::seconds(60));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("layers[0].sp") && Catch::Contains("class token"));
}

}  // namespace galvatron

namespace galvatron {

TEST_CASE("T5 trains on 4 ranks exactly like one process", "[runtime][train][t5]") {
  // t5-test: layers 0-1 encode, 2-3 decode; the embedding is tied to the head.
  PlanShape s;
  s.world = 4;
  SECTION("pp2 cut at the encoder-decoder boundary, tp2 inside, 1F1B") {
    s.pp = 2;
    s.layers = All({2, kNone, kDdp, false});
    s.embedding = {2, kNone, kDdp, false};
    Check("t5-test", "t5-pp2tp2", s);
  }
  SECTION("pp4 GPipe: one block per stage, the cross-attention's input crossing three stages") {
    s.pp = 4;
    s.schedule = v1::PIPELINE_SCHEDULE_GPIPE;
    Check("t5-test", "t5-pp4", s);
  }
  SECTION("tp2 x dp2 with checkpointing and every ZeRO stage") {
    s.layers = {{2, kNone, kZero3, true},
                {1, kNone, kZero1, false},
                {2, kNone, kZero2, true},
                {4, kNone, kDdp, true}};
    s.embedding = {2, kNone, kZero3, false};
    Check("t5-test", "t5-tp2dp2", s);
  }
}

TEST_CASE("T5 v1.1 (gated-GELU FFN, untied head) trains on 4 ranks exactly like one process",
          "[runtime][train][t5]") {
  testing::TempDir dir;
  v1::ModelSpec spec = *CatalogModel("t5-test");
  spec.set_name("t5-test-v11");
  spec.set_builtin(false);
  spec.set_tie_embeddings(false);
  for (v1::LayerGroup& g : *spec.mutable_layers()) {
    g.mutable_t5()->set_ffn(v1::T5LayerOptions::FFN_GATED_GELU);
    g.mutable_t5()->set_relative_buckets(8);
    g.mutable_t5()->set_relative_max_distance(16);
  }
  const std::string model = dir.File("t5-v11.json");
  REQUIRE(WriteTextFile(model, MessageToJson(spec)).ok());
  PlanShape one;
  const Run single = Train(dir, "one", 1, WritePlan(dir, "one.json", one), model);
  CHECK(std::abs(single.losses[0] - std::log(512.0)) < 0.1);
  PlanShape s;
  s.world = 4;
  s.pp = 2;
  s.layers = {{2, kNone, kZero3, true},
              {2, kNone, kDdp, false},
              {1, kNone, kZero2, false},
              {2, kNone, kDdp, true}};
  s.embedding = {2, kNone, kDdp, false};
  CheckSame(single, Train(dir, "four", 4, WritePlan(dir, "four.json", s), model));
}

TEST_CASE("T5 under the plan the search picks from measured CPU profiles trains exactly",
          "[runtime][train][search][t5]") {
  testing::TempDir dir;
  SearchPlan(dir, "t5-test");
  v1::Plan plan;
  REQUIRE(JsonToMessage(ReadTextFile(dir.File("plan.json")).value(), "plan", &plan).ok());
  for (const v1::LayerStrategy& l : plan.layers()) CHECK(l.sp() == v1::SEQUENCE_PARALLEL_NONE);
  const Run one = Train(dir, "one", 1, dir.File("one.json"), "t5-test");
  CheckSame(one, Train(dir, "picked", 4, dir.File("plan.json"), "t5-test"));
  // Galvatron's search space and cost model over the two layer types, its
  // strategy file written beside our plan: trained from the file, the same.
  GalvatronModeSearch(dir, "t5-test");
  CheckSame(one, Train(dir, "galvatron", 4, dir.File("galvatron_config.json"), "t5-test"));
}

TEST_CASE("T5 plans that split its sequence are refused with the reason", "[runtime][train][t5]") {
  testing::TempDir dir;
  PlanShape sp;
  sp.world = 2;
  sp.layers = All({2, kMegatron, kDdp, false});
  CommandResult r =
      RunCommand({Worker(), "launch", "--nproc", "2", "--", "train", "--plan",
                  WritePlan(dir, "sp.json", sp), "--model", "t5-test", "--steps", "1"},
                 std::chrono::seconds(60));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("layers[0].sp: SEQUENCE_PARALLEL_MEGATRON") &&
                        Catch::Contains("not supported for T5"));
}

}  // namespace galvatron

namespace galvatron {

TEST_CASE("Swin trains on 4 ranks exactly like one process", "[runtime][train][swin]") {
  // swin-test: layers 0-1 on an 8x8 grid at width 64 (layer 1 in shifted
  // windows), layers 2-3 on a 4x4 grid at width 128 (layer 2 merges patches).
  PlanShape s;
  s.world = 4;
  SECTION("tp2 x dp2 with checkpointing and every ZeRO stage, the head over tp2") {
    s.layers = {{2, kNone, kZero3, true},
                {2, kNone, kDdp, true},
                {2, kNone, kZero2, true},
                {1, kNone, kZero1, false}};
    s.embedding = {2, kNone, kZero3, false};
    Check("swin-test", "swin-tp2dp2", s);
  }
  SECTION("pp2 cut where the stage widens, tp2 inside, 1F1B") {
    s.pp = 2;
    s.layers = All({2, kNone, kDdp, false});
    s.embedding = {2, kNone, kDdp, false};
    Check("swin-test", "swin-pp2tp2", s);
  }
  SECTION("pp4 GPipe: one block per stage") {
    s.pp = 4;
    s.schedule = v1::PIPELINE_SCHEDULE_GPIPE;
    Check("swin-test", "swin-pp4", s);
  }
}

TEST_CASE("Swin under the plan the search picks from measured CPU profiles trains exactly",
          "[runtime][train][search][swin]") {
  testing::TempDir dir;
  SearchPlan(dir, "swin-test");
  const Run one = Train(dir, "one", 1, dir.File("one.json"), "swin-test");
  CheckSame(one, Train(dir, "picked", 4, dir.File("plan.json"), "swin-test"));
  // Galvatron's strategy file over Swin's layer types (one per stage).
  GalvatronModeSearch(dir, "swin-test");
  const std::string config = ReadTextFile(dir.File("galvatron_config.json")).value();
  INFO(config);
  const v1::ModelSpec spec = *CatalogModel("swin-test");
  int layers = 0;
  for (const v1::LayerGroup& g : spec.layers()) layers += g.count();
  CHECK(spec.layers_size() >= 2);  // two stages: two layer types
  // One entry per layer of every stage.
  const size_t at = config.find("\"tp_sizes_enc\": \"");
  REQUIRE(at != std::string::npos);
  const std::string tp = config.substr(at + 17, config.find('"', at + 17) - (at + 17));
  CHECK(std::count(tp.begin(), tp.end(), ',') == layers - 1);
  CheckSame(one, Train(dir, "galvatron", 4, dir.File("galvatron_config.json"), "swin-test"));
}

TEST_CASE("Swin plans that split its sequence are refused with the reason",
          "[runtime][train][swin]") {
  testing::TempDir dir;
  PlanShape sp;
  sp.world = 2;
  sp.layers = All({2, kUlysses, kDdp, false});
  CommandResult r =
      RunCommand({Worker(), "launch", "--nproc", "2", "--", "train", "--plan",
                  WritePlan(dir, "sp.json", sp), "--model", "swin-test", "--steps", "1"},
                 std::chrono::seconds(60));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("layers[0].sp: SEQUENCE_PARALLEL_ULYSSES") &&
                        Catch::Contains("not supported for Swin"));
}

}  // namespace galvatron
