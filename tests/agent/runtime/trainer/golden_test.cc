// Golden values of `galvatron-worker train`: fixed runs in float64 whose
// initial parameters, per-step losses and gradient norms, and final
// parameters were recorded from the trainer as it was before it was split
// into files by concern (commit 7ad7c6f). Anything that changes what the
// trainer computes — a parameter's seed or initialisation, the order of the
// schedule, a gradient sum, clipping, the optimizer — moves these numbers.
//
// What is compared, and how tightly:
// - the initial parameters: a 64-bit FNV-1a digest of every value's bits,
//   exactly (they come from a seeded generator, the same on every CPU);
// - losses and gradient norms: relative 1e-12 (float64; a different CPU may
//   pick other BLAS kernels and round differently in the last bits);
// - the final parameters: three sums over every value (Σv, Σv², Σv·w with
//   w a fixed pseudo-random weight per element), relative 1e-10 for the
//   same reason. On the machine that recorded them, all of these were
//   bit-identical before and after the split.
//
// To re-record after an intended change: GALVATRON_GOLDEN_PRINT=1
// build/tests/golden_test -s prints the values measured.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "common/stable_hash.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/plan.pb.h"
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

// Folds values into a 64-bit FNV-1a digest (common/stable_hash.h, checked
// there against FNV's published vectors).
struct Fnv {
  uint64_t h = kFnv1a64OffsetBasis;
  void Add(const void* data, size_t n) {
    h = Fnv1a64(absl::string_view(static_cast<const char*>(data), n), h);
  }
  template <typename T>
  void AddValue(T v) {
    Add(&v, sizeof(v));
  }
};

// splitmix64 → a weight in [-1, 1): fixed per (tensor line, element).
double Weight(uint64_t line, uint64_t element) {
  uint64_t z = line * 0x9E3779B97F4A7C15ULL + element + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 52) - 1.0;
}

struct Parameters {
  uint64_t digest = 0;  // every line's name, place and value bits
  double sum = 0, square = 0, weighted = 0;
  int64_t values = 0;
};

// Reads the --dump-parameters files of a run (rank order), one line per
// tensor: "name ndim d0 d1 .. dim start count v0 v1 ..". `zero_below`:
// values smaller in magnitude count as 0 (see InitialRun).
Parameters ReadParameters(const std::vector<std::string>& paths, double zero_below) {
  Parameters result;
  Fnv fnv;
  uint64_t line_index = 0;
  for (const std::string& path : paths) {
    std::ifstream in(path);
    REQUIRE(in.good());
    for (std::string line; std::getline(in, line); ++line_index) {
      std::istringstream fields(line);
      std::string name;
      size_t dims = 0;
      fields >> name >> dims;
      fnv.Add(name.data(), name.size());
      fnv.AddValue(static_cast<int64_t>(dims));
      for (size_t d = 0; d < dims; ++d) {
        int64_t extent = 0;
        fields >> extent;
        fnv.AddValue(extent);
      }
      int64_t dim = 0, start = 0, count = 0;
      fields >> dim >> start >> count;
      fnv.AddValue(dim);
      fnv.AddValue(start);
      fnv.AddValue(count);
      for (int64_t i = 0; i < count; ++i) {
        double v = 0;
        fields >> v;
        if (std::abs(v) < zero_below) v = 0;
        uint64_t bits = 0;
        std::memcpy(&bits, &v, sizeof(bits));
        fnv.AddValue(bits);
        result.sum += v;
        result.square += v * v;
        result.weighted += v * Weight(line_index, static_cast<uint64_t>(i));
      }
      REQUIRE(fields);
      result.values += count;
    }
  }
  result.digest = fnv.h;
  return result;
}

struct Run {
  std::vector<double> losses;
  std::vector<double> grad_norms;
  Parameters parameters;
};

Run Train(const testing::TempDir& dir, const std::string& tag, int nproc, const std::string& plan,
          const std::string& model, const std::vector<std::string>& extra, double zero_below = 0) {
  std::vector<std::string> argv = {Worker()};
  if (nproc > 1) argv.insert(argv.end(), {"launch", "--nproc", std::to_string(nproc), "--"});
  argv.insert(argv.end(),
              {"train", "--plan", plan, "--model", model, "--dtype", "float64", "--seed", "1234",
               "--threads", "1", "--log-level", "warn", "--metrics-out", dir.File(tag + ".jsonl"),
               "--dump-parameters", dir.File(tag + ".txt")});
  argv.insert(argv.end(), extra.begin(), extra.end());
  CommandResult r = RunCommand(argv, std::chrono::seconds(180));
  INFO(tag << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  Run run;
  for (const v1::StepMetrics& m : ReadMetrics(dir.File(tag + ".jsonl"))) {
    run.losses.push_back(m.loss());
    run.grad_norms.push_back(m.grad_norm());
  }
  std::vector<std::string> dumps;
  if (nproc == 1) {
    dumps.push_back(dir.File(tag + ".txt"));
  } else {
    for (int r = 0; r < nproc; ++r)
      dumps.push_back(dir.File(tag + ".txt.rank-" + std::to_string(r)));
  }
  run.parameters = ReadParameters(dumps, zero_below);
  return run;
}

// The initial parameters, as one step whose update cannot move them: at a
// learning rate of 1e-300, AdamW's first step (lr · m̂/(√v̂ + ε), at most
// ~lr in magnitude, and a decay factor 1 − lr·wd that rounds to 1) is far
// below half an ulp of every non-zero weight, so those keep their initial
// bits; the zero-initialised biases become ±1e-300 or stay 0, and values
// below 1e-250 are read as the 0 they started as.
Run InitialRun(const testing::TempDir& dir, const std::string& tag, int nproc,
               const std::string& plan, const std::string& model) {
  return Train(dir, tag, nproc, plan, model, {"--steps", "1", "--lr", "1e-300"}, 1e-250);
}

bool Print() { return std::getenv("GALVATRON_GOLDEN_PRINT") != nullptr; }

void PrintRun(const std::string& tag, const Run& run) {
  if (!Print()) return;
  std::ostringstream out;
  out.precision(17);
  out << tag << ": losses {";
  for (double v : run.losses) out << v << ", ";
  out << "} grad norms {";
  for (double v : run.grad_norms) out << v << ", ";
  out << "} digest 0x" << std::hex << run.parameters.digest << std::dec << " sums {"
      << run.parameters.sum << ", " << run.parameters.square << ", " << run.parameters.weighted
      << "} values " << run.parameters.values;
  std::fprintf(stderr, "%s\n", out.str().c_str());
}

bool Near(double expected, double actual, double relative) {
  return std::abs(expected - actual) <= relative * std::abs(expected);
}

struct Golden {
  uint64_t initial_digest;
  int64_t values;
  std::vector<double> losses;
  std::vector<double> grad_norms;
  double sum, square, weighted;  // of the final parameters
};

void CheckGolden(const Golden& golden, const Run& initial, const Run& trained) {
  CHECK(initial.parameters.digest == golden.initial_digest);
  CHECK(initial.parameters.values == golden.values);
  CHECK(trained.parameters.values == golden.values);
  REQUIRE(trained.losses.size() == golden.losses.size());
  REQUIRE(trained.grad_norms.size() == golden.grad_norms.size());
  for (size_t i = 0; i < golden.losses.size(); ++i) {
    INFO("step " << i + 1);
    CHECK(Near(golden.losses[i], trained.losses[i], 1e-12));
    CHECK(Near(golden.grad_norms[i], trained.grad_norms[i], 1e-12));
  }
  CHECK(Near(golden.sum, trained.parameters.sum, 1e-10));
  CHECK(Near(golden.square, trained.parameters.square, 1e-10));
  CHECK(Near(golden.weighted, trained.parameters.weighted, 1e-10));
}

}  // namespace

TEST_CASE("gpt-tiny on one process trains to its golden values", "[runtime][train][golden]") {
  testing::TempDir dir;
  const std::string plan = WritePlan(dir, "single.json", PlanShape());
  const Run initial = InitialRun(dir, "initial", 1, plan, "gpt-tiny");
  const Run trained = Train(dir, "trained", 1, plan, "gpt-tiny", {"--steps", "3"});
  PrintRun("single initial", initial);
  PrintRun("single trained", trained);
  // Recorded at commit 7ad7c6f (before the split): seed 1234, float64, 8
  // samples in 2 micro-batches, the model's AdamW (lr 1e-3, no warm-up, clip 1).
  const Golden golden = {
      /*initial_digest=*/0x89d56a483351e039ULL,
      /*values=*/236928,
      /*losses=*/{6.2477463457364966, 6.2498227286443173, 6.2479613478023595},
      /*grad_norms=*/{0.97425432974352044, 0.96317744949887019, 0.77984570592188829},
      /*sum=*/569.93066954620031,
      /*square=*/669.92828295058075,
      /*weighted=*/-13.667054991020544};
  CheckGolden(golden, initial, trained);
}

TEST_CASE("A hybrid plan on 4 ranks trains to its golden values", "[runtime][train][golden]") {
  // pp2 1F1B with the tied embedding across the ends; Megatron-SP,
  // Ulysses, vocab tp2; DDP, ZeRO-1, ZeRO-2 and ZeRO-3; checkpointing; and
  // a clip low enough to scale every step's gradients.
  testing::TempDir dir;
  PlanShape s;
  s.world = 4;
  s.pp = 2;
  s.layers = {{2, kMegatron, kZero3, true},
              {1, kNone, kZero1, false},
              {2, kNone, kZero2, true},
              {2, kUlysses, kDdp, false}};
  s.embedding = {2, kMegatron, kZero3, false};
  const std::string plan = WritePlan(dir, "hybrid.json", s);
  const Run initial = InitialRun(dir, "initial", 4, plan, "gpt-tiny");
  const Run trained =
      Train(dir, "trained", 4, plan, "gpt-tiny", {"--steps", "3", "--grad-clip", "0.05"});
  PrintRun("hybrid initial", initial);
  PrintRun("hybrid trained", trained);
  const Golden golden = {
      /*initial_digest=*/0xeac7973362cf2e71ULL,
      /*values=*/374656,
      /*losses=*/{6.2477463457364966, 6.2498252895385171, 6.2479586870695556},
      /*grad_norms=*/{0.97425432974352033, 0.96316519068326556, 0.77991234778440399},
      /*sum=*/1145.8023978416579,
      /*square=*/1300.3954183385592,
      /*weighted=*/-0.74353581816540959};
  CheckGolden(golden, initial, trained);
}

TEST_CASE("LLaMA with KV heads replicated over tp trains to its golden values",
          "[runtime][train][golden]") {
  // tp4 on 2 KV heads (each summed over 2 ranks), with Megatron-SP and ZeRO.
  testing::TempDir dir;
  PlanShape s;
  s.world = 4;
  s.layers = {{4, kNone, kDdp, false},
              {4, kMegatron, kZero3, true},
              {4, kNone, kZero2, false},
              {4, kMegatron, kZero1, false}};
  const std::string plan = WritePlan(dir, "gqa.json", s);
  const Run initial = InitialRun(dir, "initial", 4, plan, "llama-tiny");
  const Run trained = Train(dir, "trained", 4, plan, "llama-tiny", {"--steps", "3"});
  PrintRun("gqa initial", initial);
  PrintRun("gqa trained", trained);
  const Golden golden = {
      /*initial_digest=*/0x41e86a4fe6c1d528ULL,
      /*values=*/462080,
      /*losses=*/{6.2492869846580525, 6.2594752867362651, 6.2459389172418689},
      /*grad_norms=*/{0.79497669313980612, 0.84059060759040682, 0.81370099380617433},
      /*sum=*/2312.6017606572536,
      /*square=*/2488.8852860106231,
      /*weighted=*/-1.949739181402846};
  CheckGolden(golden, initial, trained);
}

}  // namespace galvatron
