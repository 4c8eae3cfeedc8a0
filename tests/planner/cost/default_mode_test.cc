// Mode::kDefault: the fixes listed in planner/cost/default_cost_model.cc, as
// properties and a few hand values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "common/layer_type.h"
#include "planner/cost/cost_model.h"
#include "planner/cost/hardware_tables.h"
#include "tests/planner/cost/galvatron_fixture.h"

namespace galvatron::cost {
namespace {

using testing::A100x8;
using testing::kMiB;
using testing::Llama7bProfiles;
using testing::Llama7bSpec;

constexpr double kEps = 1e-10;
constexpr double kP = 778.2236328125;  // fp32 MB of one layer
constexpr double kOv = 1.125552573612729;

std::unique_ptr<CostModel> Make(CostOptions options = {},
                                std::vector<v1::ComputeProfile> profiles = {}) {
  const v1::ModelSpec spec = Llama7bSpec();
  if (profiles.empty()) profiles = Llama7bProfiles(spec);
  auto model = CostModel::Create(spec, A100x8(), profiles, options);
  REQUIRE(model.ok());
  return std::move(*model);
}

LayerStrategy S(int pp, int tp, int sp, int dp, DpType type = DpType::kDdp, bool ckpt = false,
                bool megatron_sp = true) {
  LayerStrategy s;
  s.pp = pp;
  s.tp = tp;
  s.sp = sp;
  s.dp = dp;
  s.dp_type = type;
  s.checkpoint = ckpt;
  s.megatron_sp = tp > 1 && megatron_sp;
  return s;
}

TEST_CASE("Default mode: data parallel by hand", "[cost][default]") {
  auto m = Make();
  // 1-1-8, gbsz 8: b = 1: fct = 3.859 + 0.833 = 4.692 ms, bct = 9.384 ms.
  // Gradients (bf16) = P/2 MB; ring all-reduce 2·7/8·389.11181640625/154.203
  // = 4.41590422 ms, overlapped with backward:
  //   max(4.4159, 9.384) + (ov − 1)·4.4159 = 9.93852029 → 14.63052029 ms
  // (the same as Galvatron's formula for one layer).
  const double ar = 2.0 * 7 / 8 * (kP / 2) / 154.203;
  const double expected = 4.692 + 9.384 + (kOv - 1) * ar;
  LayerCost c = m->Layer(0, S(1, 1, 1, 8), 8, 1, 0);
  CHECK(c.seconds == Approx(expected / 1000).epsilon(kEps));
  CHECK(c.seconds_no_sync == Approx(0.014076).epsilon(kEps));
  // Memory: 16 bytes/param = 4·P, plus act[1] (the _sp table, tp 1) · 1.
  CHECK(c.memory_mb == Approx(4 * kP + 514.5634765625).epsilon(kEps));
}

TEST_CASE("Default mode: ZeRO stages shard states without fudge factors", "[cost][default]") {
  auto m = Make();
  const double act = 514.5634765625;
  const auto states = [&](DpType t) {
    return m->Layer(0, S(1, 1, 1, 8, t), 8, 1, 0).memory_mb - act;
  };
  // Per parameter: DDP 16, ZeRO-1 4 + 12/8, ZeRO-2 2 + 14/8, ZeRO-3 16/8
  // bytes; P/4 Mi-parameters.
  CHECK(states(DpType::kDdp) == Approx(kP / 4 * 16).epsilon(kEps));
  CHECK(states(DpType::kZero1) == Approx(kP / 4 * (4 + 12.0 / 8)).epsilon(kEps));
  CHECK(states(DpType::kZero2) == Approx(kP / 4 * (2 + 14.0 / 8)).epsilon(kEps));
  CHECK(states(DpType::kZero3) == Approx(kP / 4 * 2).epsilon(kEps));
  CHECK(states(DpType::kZero3) < states(DpType::kZero2));
  CHECK(states(DpType::kZero2) < states(DpType::kZero1));
  CHECK(states(DpType::kZero1) < states(DpType::kDdp));
  // The same for every chunk count (no chunks/async variants).
  CHECK(m->Layer(0, S(1, 1, 1, 8, DpType::kZero2), 16, 2, 0).memory_mb ==
        Approx(kP / 4 * (2 + 14.0 / 8) + act).epsilon(kEps));
}

TEST_CASE("Default mode: ZeRO-3 communication", "[cost][default]") {
  auto m = Make();
  auto tables = HardwareTables::Build(A100x8(), 8);
  REQUIRE(tables.ok());
  LayerCost ddp = m->Layer(0, S(1, 1, 1, 8), 8, 1, 0);
  LayerCost z3 = m->Layer(0, S(1, 1, 1, 8, DpType::kZero3), 8, 1, 0);
  // Fix 12: the runtime waits for the weights' all-gather before the
  // forward and before the backward pass and for the gradients'
  // reduce-scatter after it, every micro-batch, each at its measured time
  // for the layer's P/2 MB of bf16 (the fixture measures neither: half the
  // all-reduce table's time).
  const double gather = tables->LatencyMs(HardwareTables::Op::kAllGather, 8, kP / 2);
  const double scatter = tables->LatencyMs(HardwareTables::Op::kReduceScatter, 8, kP / 2);
  CHECK(gather == Approx(0.5 * tables->LatencyMs(HardwareTables::Op::kAllReduce, 8, kP / 2)));
  CHECK(z3.seconds == Approx((4.692 + 9.384 + 2 * gather + scatter) / 1000).epsilon(kEps));
  // Micro-batches without the step's sync wait as long.
  CHECK(z3.seconds_no_sync == z3.seconds);
  CHECK(z3.seconds_no_sync > ddp.seconds_no_sync);
  // The embedding/head's ZeRO-3 unit waits likewise, and more than DDP's.
  EmbeddingStrategy e;
  e.dp = 8;
  const double ddp_embedding = m->Embedding(e, 8, 1).seconds_no_sync[0];
  e.dp_type = DpType::kZero3;
  CHECK(m->Embedding(e, 8, 1).seconds_no_sync[0] > ddp_embedding);
  CHECK(m->Embedding(e, 8, 1).seconds_no_sync[0] == m->Embedding(e, 8, 1).seconds[0]);
}

TEST_CASE("Default mode: ZeRO-1 and ZeRO-2 communicate as the runtime does", "[cost][default]") {
  auto m = Make();
  const double ar = 2.0 * 7 / 8 * (kP / 2) / 154.203;
  const double half = 7.0 / 8 * (kP / 2) / 154.203;  // reduce-scatter or all-gather volume
  const LayerCost ddp = m->Layer(0, S(1, 1, 1, 8), 8, 1, 0);
  const LayerCost z1 = m->Layer(0, S(1, 1, 1, 8, DpType::kZero1), 8, 1, 0);
  const LayerCost z2 = m->Layer(0, S(1, 1, 1, 8, DpType::kZero2), 8, 1, 0);
  // ZeRO-1: DDP's bucketed all-reduce under the backward pass, then the
  // owners' broadcast of the updated weights after the step.
  CHECK(z1.seconds == Approx(ddp.seconds + half / 1000).epsilon(kEps));
  // ZeRO-2: nothing overlaps: the reduce to the owners after the backward
  // pass, the broadcast after the step.
  CHECK(z2.seconds == Approx((4.692 + 9.384 + 2 * half) / 1000).epsilon(kEps));
  CHECK(z2.seconds > ddp.seconds);
  CHECK(2 * half == Approx(ar).epsilon(kEps));
  // Steps without sync are DDP's.
  CHECK(z1.seconds_no_sync == ddp.seconds_no_sync);
  CHECK(z2.seconds_no_sync == ddp.seconds_no_sync);
}

TEST_CASE("Default mode: a gradient-sync factor scales the sync alone", "[cost][default]") {
  CostOptions slow_sync;
  slow_sync.gradient_sync_factor = 3;
  auto m = Make(), s = Make(slow_sync);
  const double ar = 2.0 * 7 / 8 * (kP / 2) / 154.203;
  // DDP: the all-reduce (overlapped with backward) triples; no-sync steps
  // and tensor-parallel collectives do not change.
  LayerCost ddp = s->Layer(0, S(1, 1, 1, 8), 8, 1, 0);
  // 3·ar = 13.25 ms now outlasts the 9.384 ms backward it overlaps.
  CHECK(ddp.seconds ==
        Approx((4.692 + std::max(3 * ar, 9.384) + (kOv - 1) * std::min(3 * ar, 9.384)) / 1000)
            .epsilon(kEps));
  CHECK(ddp.seconds_no_sync == m->Layer(0, S(1, 1, 1, 8), 8, 1, 0).seconds_no_sync);
  LayerCost tp = s->Layer(0, S(1, 8, 1, 1), 8, 1, 0);
  CHECK(tp.seconds == m->Layer(0, S(1, 8, 1, 1), 8, 1, 0).seconds);  // no data parallelism
  // ZeRO-3 reduce-scatters every micro-batch inside the backward pass:
  // critical-path communication, not the step's sync.
  CHECK(s->Layer(0, S(1, 1, 1, 8, DpType::kZero3), 8, 1, 0).seconds ==
        m->Layer(0, S(1, 1, 1, 8, DpType::kZero3), 8, 1, 0).seconds);
  // The embedding's gradient all-reduce too.
  EmbeddingStrategy e;
  e.dp = 8;
  CHECK(s->Embedding(e, 8, 1).seconds[0] > m->Embedding(e, 8, 1).seconds[0]);
  CHECK(s->Embedding(e, 8, 1).seconds_no_sync[0] == m->Embedding(e, 8, 1).seconds_no_sync[0]);
  slow_sync.gradient_sync_factor = 0;
  CHECK_FALSE(
      CostModel::Create(Llama7bSpec(), A100x8(), Llama7bProfiles(Llama7bSpec()), slow_sync).ok());
}

TEST_CASE("Default mode: more tp means less activation memory", "[cost][default]") {
  auto m = Make();
  // One sample per tp group (gbsz 1, dp 1): activation = memory − 4P/tp.
  double previous = 1e300;
  for (int tp : {1, 2, 4, 8}) {
    for (bool megatron_sp : {true, false}) {
      const LayerCost c = m->Layer(0, S(1, tp, 1, 1, DpType::kDdp, false, megatron_sp), 1, 1, 0);
      const double activation = c.memory_mb - 4 * kP / tp;
      CHECK(activation > 0);
      if (megatron_sp) {
        CHECK(activation < previous);
        previous = activation;
      }
    }
  }
  // Megatron TP without SP keeps the replicated part: more than with SP.
  CHECK(m->Layer(0, S(1, 4, 1, 2, DpType::kDdp, false, false), 8, 1, 0).memory_mb >
        m->Layer(0, S(1, 4, 1, 2, DpType::kDdp, false, true), 8, 1, 0).memory_mb);
  // With SP, the measured _sp table is used directly: act[4]·lbsz 4.
  CHECK(m->Layer(0, S(1, 4, 1, 2), 8, 1, 0).memory_mb ==
        Approx(kP + 136.885498046875 * 4).epsilon(kEps));
}

TEST_CASE("Default mode: checkpointing saves memory and costs time", "[cost][default]") {
  auto m = Make();
  for (const LayerStrategy& s : {S(1, 1, 1, 8), S(1, 2, 1, 4), S(1, 1, 4, 2), S(2, 4, 1, 1)}) {
    LayerStrategy c = s;
    c.checkpoint = true;
    const LayerCost plain = m->Layer(0, s, 16, 2, 0), ckpt = m->Layer(0, c, 16, 2, 0);
    CHECK(ckpt.memory_mb < plain.memory_mb);
    CHECK(ckpt.seconds > plain.seconds);
    CHECK(ckpt.compute_seconds > plain.compute_seconds);
  }
}

TEST_CASE("Default mode: Ulysses syncs gradients over dp·sp", "[cost][default]") {
  auto m = Make();
  // Galvatron skips the sync of 1-8*-1-sp (dp = 1); the fix syncs over 8.
  const LayerCost c = m->Layer(0, S(1, 1, 8, 1), 8, 1, 0);
  CHECK(c.seconds > c.seconds_no_sync);
  // 8 all-to-alls (queries, keys, values and the output, forward and
  // backward; LLaMA-7B has as many key/value heads as heads) of the rank's
  // own 8·(2048/8)·4096·2 B = 16 MB buffer: all2all_size_8_16MB = 0.2003 ms
  // each.
  const double compute = (3.859 + 0.833) * 3;  // b = 8/8 = 1
  CHECK(c.seconds_no_sync == Approx((compute + 8 * 0.2003) / 1000).epsilon(kEps));
}

TEST_CASE("Default mode: Megatron TP communication", "[cost][default]") {
  auto m = Make();
  // 1-8*-1 without SP, gbsz 8: 4 all-reduces of 8·2048·4096·2 B = 128 MB
  // (1.2826 ms each); with SP 4 all-gathers + 4 reduce-scatters = the same.
  const double compute = (3.859 + 0.833) * 3;
  const LayerCost no_sp = m->Layer(0, S(1, 8, 1, 1, DpType::kDdp, false, false), 8, 1, 0);
  const LayerCost sp = m->Layer(0, S(1, 8, 1, 1), 8, 1, 0);
  CHECK(no_sp.seconds == Approx((compute + 4 * 1.2826) / 1000).epsilon(kEps));
  CHECK(sp.seconds == Approx(no_sp.seconds).epsilon(kEps));
  // ×1.5 with checkpointing, plus the recomputed forward.
  const LayerCost ckpt = m->Layer(0, S(1, 8, 1, 1, DpType::kDdp, true), 8, 1, 0);
  CHECK(ckpt.seconds == Approx((compute + 4.692 + 6 * 1.2826) / 1000).epsilon(kEps));
}

TEST_CASE("Default mode: profiled backward time", "[cost][default]") {
  const v1::ModelSpec spec = Llama7bSpec();
  std::vector<v1::ComputeProfile> profiles = Llama7bProfiles(spec);
  // backward = 1.5·forward (7.0 ms per sample + 1.0 ms)
  profiles[0].mutable_backward_fit()->set_per_sample_s0(7.0 / 1000);
  profiles[0].mutable_backward_fit()->set_constant(1.0 / 1000);
  auto m = Make({}, profiles);
  const LayerCost c = m->Layer(0, S(1, 1, 1, 8), 16, 1, 0);  // b = 2
  CHECK(c.compute_seconds == Approx((3.859 * 2 + 0.833 + 7.0 * 2 + 1.0) / 1000).epsilon(kEps));
  // Galvatron mode ignores it (2 × forward).
  CostOptions g;
  g.mode = Mode::kGalvatron;
  auto gm = Make(g, profiles);
  CHECK(gm->Layer(0, S(1, 1, 1, 8), 16, 1, 0).compute_seconds ==
        Approx(3 * (3.859 * 2 + 0.833) / 1000).epsilon(kEps));

  // Backward from time samples when there is no backward fit.
  std::vector<v1::ComputeProfile> sampled = Llama7bProfiles(spec);
  for (int b : {1, 2, 4}) {
    v1::LayerTimeSample* s = sampled[0].add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(2048);
    s->set_forward_seconds((3.859 * b + 0.833) / 1000);
    s->set_backward_seconds((5.0 * b + 2.0) / 1000);
  }
  auto ms = Make({}, sampled);
  CHECK(ms->Layer(0, S(1, 1, 1, 8), 16, 1, 0).compute_seconds ==
        Approx((3.859 * 2 + 0.833 + 5.0 * 2 + 2.0) / 1000).epsilon(1e-9));
}

TEST_CASE("Default mode: measured micro-batch sizes cost what they measured", "[cost][default]") {
  // Samples a line cannot follow: 4 samples run cheaper per sample than 2
  // or 8 (a cache-friendly size).
  const v1::ModelSpec spec = Llama7bSpec();
  std::vector<v1::ComputeProfile> profiles = Llama7bProfiles(spec);
  const std::map<int, std::pair<double, double>> ms = {
      {1, {5.0, 9.0}}, {2, {8.0, 15.0}}, {4, {12.0, 22.0}}, {8, {34.0, 62.0}}};
  for (const auto& [b, t] : ms) {
    v1::LayerTimeSample* s = profiles[0].add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(2048);
    s->set_forward_seconds(t.first / 1000);
    s->set_backward_seconds(t.second / 1000);
  }
  auto m = Make({}, profiles);
  const auto compute_ms = [&](const CostModel& model, int b) {
    return 1000 * model.Layer(0, S(1, 1, 1, 8), 8 * b, 1, 0).compute_seconds;
  };
  for (const auto& [b, t] : ms) {
    INFO("micro-batch " << b);
    CHECK(compute_ms(*m, b) == Approx(t.first + t.second).epsilon(1e-12));
  }
  // Between two measured sizes, on the straight line between them.
  CHECK(compute_ms(*m, 3) == Approx((8.0 + 15.0 + 12.0 + 22.0) / 2).epsilon(1e-12));
  CHECK(2 * compute_ms(*m, 4) < compute_ms(*m, 8));
  // Beyond them, the profile's line (here its forward fit, 3.859 ms per
  // sample + 0.833 ms, and the backward's least-squares line).
  const double forward_16 = 3.859 * 16 + 0.833;
  CHECK(compute_ms(*m, 16) > forward_16);
  // Galvatron's formulas read the fitted line everywhere (2 × forward).
  CostOptions g;
  g.mode = Mode::kGalvatron;
  CHECK(compute_ms(*Make(g, profiles), 4) == Approx(3 * (3.859 * 4 + 0.833)).epsilon(1e-12));
}

TEST_CASE("Default mode: in-flight micro-batches", "[cost][default]") {
  auto m = Make();
  // 4-1-2, gbsz 16, chunks 2: lbsz 4; 1F1B stage 0 holds min(4 − 0, 2) = 2
  // micro-batches (Galvatron would count 4).
  const LayerCost c = m->Layer(0, S(4, 1, 1, 2), 16, 2, 0);
  CHECK(c.memory_mb == Approx(4 * kP + 514.5634765625 * 4 * 2).epsilon(kEps));
  const LayerCost last = m->Layer(0, S(4, 1, 1, 2), 16, 2, 3);
  CHECK(last.memory_mb == Approx(4 * kP + 514.5634765625 * 4 * 1).epsilon(kEps));
  CostOptions gpipe;
  gpipe.schedule = Schedule::kGpipe;
  CHECK(Make(gpipe)->Layer(0, S(4, 1, 1, 2), 16, 2, 3).memory_mb ==
        Approx(4 * kP + 514.5634765625 * 4 * 2).epsilon(kEps));
}

TEST_CASE("Default mode: switch cost in seconds", "[cost][default]") {
  auto m = Make();
  // tp 2 → tp 4, gbsz 8 in 1: the runtime all-reduces the stage's whole
  // micro-batch, 8·2048·4096·2 B = 128 MB over the 8 ranks (1.2826 ms, the
  // Megatron TP test's all-reduce), forward and backward.
  const double expected = 2 * 1.2826 / 1000;
  CHECK(m->Switch(0, S(1, 2, 1, 4), S(1, 4, 1, 2), 8, 1) == Approx(expected).epsilon(kEps));
  CHECK(m->Switch(0, S(1, 4, 1, 2), S(1, 1, 4, 2), 8, 1) == 0);  // both split the sequence by 4
  CHECK(m->Switch(0, S(1, 1, 1, 8), S(1, 1, 1, 8, DpType::kZero3), 8, 1) == 0);
  // Megatron TP with and without SP: the same degree, another layout.
  CHECK(m->Switch(0, S(1, 4, 1, 2), S(1, 4, 1, 2, DpType::kDdp, false, false), 8, 1) ==
        Approx(expected).epsilon(kEps));
}

TEST_CASE("Default mode: embedding", "[cost][default]") {
  auto m = Make();
  EmbeddingStrategy e;
  e.dp = 8;
  const EmbeddingCost c = m->Embedding(e, 8, 1);
  // fct 5.035, bct 10.07; gradients 4130.34765625/4 (fp32 MB) / 2 (bf16):
  // ring all-reduce 2·7/8·516.29345703125/154.203 overlapped with bct.
  const double ar = 2.0 * 7 / 8 * (4130.34765625 / 8) / 154.203;
  CHECK(c.seconds[0] == Approx((5.035 + 10.07 + (kOv - 1) * ar) / 1000).epsilon(kEps));
  CHECK(c.seconds_no_sync[0] == Approx(15.105 / 1000).epsilon(kEps));
  CHECK(c.memory_mb[0] == Approx(4130.34765625 + 841.58203125 + 1024).epsilon(kEps));
  // ZeRO-3 shards the embedding states 1/8.
  e.dp_type = DpType::kZero3;
  CHECK(m->Embedding(e, 8, 1).memory_mb[0] ==
        Approx(4130.34765625 / 8 + 841.58203125 + 1024).epsilon(kEps));
}

TEST_CASE("Default mode: a pipeline's last stage computes the head", "[cost][default]") {
  // Fix 13: LLaMA-7B's lookup moves s·h elements, its head multiplies them
  // by h·v: with pp 2 the last stage computes all but 1/(1 + v) of the
  // embedding/head's 15.105 ms (at b = 1) and the first stage the rest.
  auto m = Make();
  EmbeddingStrategy e;
  e.pp = 2;
  e.dp = 4;
  const EmbeddingCost c = m->Embedding(e, 4, 1);
  const double v = Llama7bSpec().vocab_size();
  CHECK(c.compute_seconds[0] == Approx(15.105 / 1000 / (1 + v)).epsilon(1e-9));
  CHECK(c.compute_seconds[1] == Approx(15.105 / 1000 * v / (1 + v)).epsilon(1e-9));
  CHECK(c.seconds_no_sync[1] > 100 * c.seconds_no_sync[0]);
  // Galvatron's formula splits it in half.
  CostOptions galvatron;
  galvatron.mode = Mode::kGalvatron;
  const EmbeddingCost g = Make(galvatron)->Embedding(e, 4, 1);
  CHECK(g.seconds_no_sync[0] == Approx(g.seconds_no_sync[1]).epsilon(0.2));
}

TEST_CASE("Default mode: global buffer is not halved in fp32", "[cost][default]") {
  auto m = Make();
  // bf16: 4·4096·2048·2 B = 64 MB
  CHECK(m->GlobalBufferMb(8, 1, 1, 4) == Approx(64));
}

TEST_CASE("Default and Galvatron modes differ where the fixes apply", "[cost][default]") {
  CostOptions g;
  g.mode = Mode::kGalvatron;
  auto galvatron = Make(g);
  auto ours = Make();
  const LayerStrategy ulysses = S(1, 1, 8, 1);
  CHECK(galvatron->Layer(0, ulysses, 8, 1, 0).seconds ==
        galvatron->Layer(0, ulysses, 8, 1, 0).seconds_no_sync);
  CHECK(ours->Layer(0, ulysses, 8, 1, 0).seconds >
        ours->Layer(0, ulysses, 8, 1, 0).seconds_no_sync);
  // Galvatron's bytes × ms/MB × 1e-7 is ~12× the time the runtime's
  // redistribution of the same micro-batch takes.
  CHECK(10 * ours->Switch(0, S(1, 2, 1, 4), S(1, 4, 1, 2), 8, 1) <
        galvatron->Switch(0, S(1, 2, 1, 4), S(1, 4, 1, 2), 8, 1));
}

TEST_CASE("Time fits: sequence form and samples", "[cost][default]") {
  const v1::ModelSpec spec = Llama7bSpec();
  // Galvatron's sequence mode: per sample a·s² + b·s + c (seconds), b = 1.
  std::vector<v1::ComputeProfile> seq = Llama7bProfiles(spec);
  v1::LayerTimeFit* f = seq[0].mutable_forward_fit();
  f->set_per_sample_s2(1e-10);
  f->set_per_sample_s1(1e-6);
  f->set_per_sample_s0(1e-3);
  f->set_constant(0);
  const double per_sample_ms = (1e-10 * 2048 * 2048 + 1e-6 * 2048 + 1e-3) * 1000;
  auto m = Make({}, seq);
  CHECK(m->Layer(0, S(1, 1, 1, 8), 16, 1, 0).compute_seconds ==
        Approx(3 * 2 * per_sample_ms / 1000).epsilon(kEps));

  // No fit: the least-squares line over the samples at the model's length.
  std::vector<v1::ComputeProfile> sampled = Llama7bProfiles(spec);
  sampled[0].clear_forward_fit();
  for (int b : {1, 2, 3, 4, 8}) {
    v1::LayerTimeSample* s = sampled[0].add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(2048);
    s->set_forward_seconds((3.859 * b + 0.833) / 1000);
  }
  auto ms = Make({}, sampled);
  CHECK(ms->Layer(0, S(1, 1, 1, 8), 8, 1, 0).compute_seconds == Approx(0.014076).epsilon(1e-9));
}

}  // namespace
}  // namespace galvatron::cost
