// Mode::kGalvatron against hand-computed values of Galvatron 3.0's formulas
// (layer_cost.py, embedding_lmhead_cost.py, cost_model_handler.py,
// dynamic_programming.py) on its shipped LLaMA-2-7B / 8×A100 profiles.
// Every expected value was also reproduced by running Galvatron's own
// TimeCostModelBase / MemoryCostModelBase / EmbeddingLMHead*CostModel /
// pipeline_costmodel classes on the same inputs.
//
// Common numbers (ms, MB): L = 32 layers, P = parameter_size = 778.2236328125,
// forward fit 3.859·b + 0.833, other fit 2.680·b + 2.355, overlap
// ov = 1.125552573612729, coe['8_1'] = 1/154.203, ['4_1'] = 1/159.119,
// ['4_0'] = 1/155.815, ['2_1'] = 1/138.156, ['2_0'] = 1/151.344.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <vector>

#include "common/layer_type.h"
#include "planner/cost/cost_model.h"
#include "tests/planner/cost/galvatron_fixture.h"

namespace galvatron::cost {
namespace {

using testing::A100x8;
using testing::Llama7bProfiles;
using testing::Llama7bSpec;

constexpr double kEps = 1e-10;

std::unique_ptr<CostModel> Make(CostOptions options = {}) {
  options.mode = Mode::kGalvatron;
  const v1::ModelSpec spec = Llama7bSpec();
  auto model = CostModel::Create(spec, A100x8(), Llama7bProfiles(spec), options);
  REQUIRE(model.ok());
  return std::move(*model);
}

LayerStrategy S(int pp, int tp, int sp, int dp, DpType type = DpType::kDdp, bool ckpt = false) {
  LayerStrategy s;
  s.pp = pp;
  s.tp = tp;
  s.sp = sp;
  s.dp = dp;
  s.dp_type = type;
  s.checkpoint = ckpt;
  s.megatron_sp = tp > 1;
  return s;
}

TEST_CASE("Galvatron mode describes the model", "[cost][galvatron]") {
  auto m = Make();
  CHECK(m->world_size() == 8);
  CHECK(m->devices_per_node() == 8);
  CHECK(m->num_layers() == 32);
  CHECK(m->seq_len() == 2048);
  CHECK_FALSE(m->analytic());
  REQUIRE(m->layer_types().size() == 1);
  CHECK(m->layer_types()[0].parameter_mb == Approx(778.2236328125));
  CHECK(m->layer_types()[0].measured);
  CHECK(m->layer_type_of() == std::vector<int>(32, 0));
}

TEST_CASE("Galvatron mode: data parallel only", "[cost][galvatron]") {
  auto m = Make();
  // 1-1-8, gbsz 8, chunks 1: lbsz = 8 // 1 // 8 = 1.
  //   fct = (3.859·1 + 0.833)·32 = 150.144, bct = 2·fct = 300.288
  //   msg = 2·7·(P/8)·32 / 2 (mixed) = 21790.26171875 MB; msg·dc = 141.308935
  //   msg·dc·ov = 159.050636 < bct·ov → overlap 159.050636, rest = bct − msg·dc = 158.979065
  //   (150.144 + 159.050636 + 158.979065)·0.001 / 32 = 0.0146304281 s
  //   no sync: (fct + bct)/32 = 14.076 ms
  // memory: 4P + act[1]·1 = 3112.89453125 + 514.5634765625 = 3627.4580078125
  LayerCost c = m->Layer(0, S(1, 1, 1, 8), 8, 1, 0);
  CHECK(c.seconds == Approx(0.014630428139871629).epsilon(kEps));
  CHECK(c.seconds_no_sync == Approx(0.014076).epsilon(kEps));
  CHECK(c.compute_seconds == Approx(0.014076).epsilon(kEps));
  CHECK(c.memory_mb == Approx(3627.4580078125).epsilon(kEps));
}

TEST_CASE("Galvatron mode: tensor parallel only", "[cost][galvatron]") {
  auto m = Make();
  // 1-8*-1, gbsz 8: lbsz 8, b = 8/8 = 1: fct 150.144, bct 300.288.
  //   message 8·2048·4096·2 B = 128 MB: exact hit allreduce_size_8_128MB_time
  //   = 1.2826 ms; all-gather latency 0.5·1.2826; 6·32 of them = 123.1296
  //   (150.144 + 300.288 + 123.1296)/32 = 17.9238 ms; dp = 1: no sync.
  // memory: 4·P/8 + act[8]·8 = 389.11181640625 + 546.5634765625
  LayerCost c = m->Layer(0, S(1, 8, 1, 1), 8, 1, 0);
  CHECK(c.seconds == Approx(0.0179238).epsilon(kEps));
  CHECK(c.seconds_no_sync == Approx(0.0179238).epsilon(kEps));
  CHECK(c.memory_mb == Approx(935.67529296875).epsilon(kEps));
}

TEST_CASE("Galvatron mode: tensor + data parallel", "[cost][galvatron]") {
  auto m = Make();
  // 1-2*-4, gbsz 8: lbsz 2, b = 1. sdp 4 with tp > 1 → key '4_0' (1/155.815).
  //   msg = 2·3·(P/2/4)·32/2 = 9338.68359375; msg·dc = 59.934432
  //   msg·dc·ov = 67.459355 < bct·ov = 337.989931 → rest = 300.288 − 59.934432
  //   TP: 32 MB exact hit allreduce_size_2_32MB = 0.2281 → 6·32·0.5·0.2281 = 21.8976
  //   (150.144 + 67.459355 + 240.353568 + 21.8976)/32 = 14.9954538 ms
  // memory: 4·P/2 + act[2]·2 = 1556.447265625 + 546.5634765625
  LayerCost c = m->Layer(0, S(1, 2, 1, 4), 8, 1, 0);
  CHECK(c.seconds == Approx(0.014995453820105229).epsilon(kEps));
  CHECK(c.seconds_no_sync == Approx(0.0147603).epsilon(kEps));
  CHECK(c.memory_mb == Approx(2103.0107421875).epsilon(kEps));

  // lbsz 3 (gbsz 12): 48 MB is no sample → the least-squares line of
  // 0.5 × the size-2 all-reduce samples.
  LayerCost d = m->Layer(0, S(1, 2, 1, 4), 12, 1, 0);
  CHECK(d.seconds == Approx(0.021054284636442707).epsilon(kEps));
  CHECK(d.seconds_no_sync == Approx(0.020819130816337475).epsilon(kEps));
  CHECK(d.memory_mb == Approx(2376.29248046875).epsilon(kEps));
}

TEST_CASE("Galvatron mode: ZeRO-3 adds the forward all-gather", "[cost][galvatron]") {
  auto m = Make();
  // 1-1-8f: as DDP plus 0.5·msg·dc = 0.5·21790.26171875/154.203 = 70.654468
  // ms over 32 layers = 2.2079521 ms, with and without gradient sync.
  // memory: 4P·(1/8 + 0.003) = 398.4505 (chunks 1) + 514.5634765625
  LayerCost c = m->Layer(0, S(1, 1, 1, 8, DpType::kZero3), 8, 1, 0);
  CHECK(c.seconds == Approx(0.014630428139871629 + 0.0022079521108893387).epsilon(kEps));
  CHECK(c.seconds_no_sync == Approx(0.016283952110889337).epsilon(kEps));
  CHECK(c.memory_mb == Approx(913.0139765625).epsilon(kEps));
  // With sdp = 1 Galvatron's strategy resets ZeRO-3 to DDP (_check_and_fix_sdp).
  CHECK(m->Layer(0, S(1, 8, 1, 1, DpType::kZero3), 8, 1, 0).memory_mb ==
        Approx(935.67529296875).epsilon(kEps));
}

TEST_CASE("Galvatron mode: checkpointing", "[cost][galvatron]") {
  auto m = Make();
  // 1-4*-2-c, gbsz 8: lbsz 4, b = 1; bct = 2·fct + fct = 450.432.
  //   msg = 2·1·(P/4/2)·32/2 = 3112.89453125, key '2_0': msg·dc = 20.568338
  //   TP: 64 MB hit allreduce_size_4_64MB = 0.5848 → 6·32·1.5·0.5·0.5848 = 84.2112
  //   (150.144 + 23.150746 + (450.432 − 20.568338) + 84.2112)/32 = 21.4803002 ms
  // memory: 4·P/4 + checkpoint 32·4 (lbsz) / 4 (tp with SP) = 778.2236328125 + 32
  LayerCost c = m->Layer(0, S(1, 4, 1, 2, DpType::kDdp, true), 8, 1, 0);
  CHECK(c.seconds == Approx(0.021480300242449204).epsilon(kEps));
  CHECK(c.seconds_no_sync == Approx(0.0213996).epsilon(kEps));
  CHECK(c.memory_mb == Approx(810.2236328125).epsilon(kEps));

  // Without sequence_parallel the checkpointed input is not divided by tp.
  CostOptions no_sp;
  no_sp.sequence_parallel = false;
  auto m2 = Make(no_sp);
  CHECK(m2->Layer(0, S(1, 4, 1, 2, DpType::kDdp, true), 8, 1, 0).memory_mb ==
        Approx(778.2236328125 + 128).epsilon(kEps));
}

TEST_CASE("Galvatron mode: pipeline p2p and 1F1B activations", "[cost][galvatron]") {
  auto m = Make();
  // 2-1-4, gbsz 16, chunks 2: lbsz 2, b = 2: fct = (3.859·2 + 0.833)·32 = 273.632.
  //   msg = 2·3·(P/4)·32/2 = 18676.96875, key '4_1': msg·dc = 117.379868
  //   bct = 547.264; msg·dc·ov = 132.117578 < bct·ov → rest = 547.264 − 117.379868
  //   p2p = pp·2·lbsz·s·h·4/2²⁰ / 2 (mixed) = 2·2·2·2048·4096·4/2²⁰/2 = 128 MB
  //   at 1/163.671 ms/MB = 0.782057 ms
  //   (273.632 + 132.117578 + 429.884132 + 0.782057)/32 = 26.1379813 ms
  // memory, 1F1B: stage 0 holds pp − 0 = 2 micro-batches, stage 1 one:
  //   4P + 514.5634765625·2·2 = 5171.1484375; 4P + 514.5634765625·2 = 4142.021484375
  LayerCost s0 = m->Layer(0, S(2, 1, 1, 4), 16, 2, 0);
  LayerCost s1 = m->Layer(0, S(2, 1, 1, 4), 16, 2, 1);
  CHECK(s0.seconds == Approx(0.0261379812869342).epsilon(kEps));
  CHECK(s0.seconds_no_sync == Approx(0.025677439271465319).epsilon(kEps));
  CHECK(s1.seconds == Approx(s0.seconds).epsilon(kEps));
  CHECK(s0.memory_mb == Approx(5171.1484375).epsilon(kEps));
  CHECK(s1.memory_mb == Approx(4142.021484375).epsilon(kEps));
}

TEST_CASE("Galvatron mode: GPipe vs 1F1B cumulative activations", "[cost][galvatron]") {
  // 4-2*-1-c, gbsz 8, chunks 4: lbsz 2; checkpoint 32 / 2 (tp with SP) = 16 MB
  // per sample. Stage 1 of 1F1B: (4 − 1)·2 = 6 samples → 96 MB; GPipe:
  // chunks·lbsz = 8 samples → 128 MB. Model states 4P/2 = 1556.447265625.
  auto one_f_one_b = Make();
  CostOptions gpipe_options;
  gpipe_options.schedule = Schedule::kGpipe;
  auto gpipe = Make(gpipe_options);
  const LayerStrategy s = S(4, 2, 1, 1, DpType::kDdp, true);
  CHECK(one_f_one_b->Layer(0, s, 8, 4, 1).memory_mb == Approx(1652.447265625).epsilon(kEps));
  CHECK(gpipe->Layer(0, s, 8, 4, 1).memory_mb == Approx(1684.447265625).epsilon(kEps));
  CHECK(gpipe->Layer(0, s, 8, 4, 3).memory_mb == Approx(1684.447265625).epsilon(kEps));
  CHECK(one_f_one_b->Layer(0, s, 8, 4, 1).seconds == Approx(0.019852177971366926).epsilon(kEps));
}

TEST_CASE("Galvatron mode: Ulysses", "[cost][galvatron]") {
  auto m = Make();
  // 1-4*-2-sp, gbsz 8: lbsz 4, b = 1; sdp = 2·4 = 8, tp = 1 → key '8_1';
  // params not divided (tp = 1): msg as 1-1-8. 4·32 all-to-alls of 64 MB
  // (hit all2all_size_4_64MB = 0.3654): 46.7712 → 14.630428 + 46.7712/32 ms.
  LayerCost c = m->Layer(0, S(1, 1, 4, 2), 8, 1, 0);
  CHECK(c.seconds == Approx(0.016092028139871629).epsilon(kEps));
  CHECK(c.seconds_no_sync == Approx(0.0155376).epsilon(kEps));
  CHECK(c.memory_mb == Approx(3660.4365234375).epsilon(kEps));

  // Quirk: 1-8*-1-sp has sdp = 8 but dp = 1, so no gradient sync at all:
  // (150.144 + 300.288 + 4·32·0.7135)/32 = 16.93 ms either way.
  LayerCost q = m->Layer(0, S(1, 1, 8, 1), 8, 1, 0);
  CHECK(q.seconds == Approx(0.01693).epsilon(kEps));
  CHECK(q.seconds_no_sync == Approx(0.01693).epsilon(kEps));
}

TEST_CASE("Galvatron mode: ZeRO ratios", "[cost][galvatron]") {
  auto m = Make();
  const double act = 514.5634765625, p4 = 4 * 778.2236328125;
  // chunks 1, mixed: ZeRO-2 4P·(7/8·(1/8 + 0.003) + 1/8) = 737.75600390625
  CHECK(m->Layer(0, S(1, 1, 1, 8, DpType::kZero2), 8, 1, 0).memory_mb ==
        Approx(737.75600390625 + act).epsilon(kEps));
  // chunks 2, async: ZeRO-2 4P·(6/8·x + 2/8) = 1077.0615078125,
  //                  ZeRO-3 4P·(7/8·x + 1/8) = 737.75600390625
  CHECK(m->Layer(0, S(1, 1, 1, 8, DpType::kZero2), 16, 2, 0).memory_mb ==
        Approx(1077.0615078125 + act).epsilon(kEps));
  CHECK(m->Layer(0, S(1, 1, 1, 8, DpType::kZero3), 16, 2, 0).memory_mb ==
        Approx(737.75600390625 + act).epsilon(kEps));
  // chunks 2, sync: ZeRO-2 (7/8·x + 1/8)·5/4 → 922.1950048828; ZeRO-3 x·5/4.
  CostOptions sync;
  sync.async_grad_reduce = false;
  auto ms = Make(sync);
  CHECK(ms->Layer(0, S(1, 1, 1, 8, DpType::kZero2), 16, 2, 0).memory_mb ==
        Approx(922.19500488281255 + act).epsilon(kEps));
  CHECK(ms->Layer(0, S(1, 1, 1, 8, DpType::kZero3), 16, 2, 0).memory_mb ==
        Approx(p4 * (1.0 / 8 + 0.003) * 5 / 4 + act).epsilon(kEps));
}

TEST_CASE("Galvatron mode: fp32 changes messages and ratios", "[cost][galvatron]") {
  // fp32 (Galvatron's mixed_precision = False): the dp message is not halved,
  // and the sync ZeRO-2 ratio for chunks > 1 is 3/4·x + 1/4 without ×5/4.
  v1::ModelSpec spec = Llama7bSpec();
  spec.set_precision(v1::PRECISION_FP32);
  CostOptions options;
  options.mode = Mode::kGalvatron;
  options.async_grad_reduce = false;
  // Profiles are keyed by precision: rekey the bf16 ones for the fp32 spec.
  std::vector<v1::ComputeProfile> profiles = Llama7bProfiles(Llama7bSpec());
  profiles[0].set_layer_type(LayerTypeKey(spec, 0));
  profiles[1].set_layer_type(EmbeddingTypeKey(spec));
  auto m = CostModel::Create(spec, A100x8(), profiles, options);
  REQUIRE(m.ok());
  LayerCost c = (*m)->Layer(0, S(1, 1, 1, 8, DpType::kZero2), 16, 2, 0);
  CHECK(c.seconds == Approx(0.015184856279743256).epsilon(kEps));
  CHECK(c.memory_mb == Approx(1591.6249843749999).epsilon(kEps));
}

TEST_CASE("Galvatron mode: embedding and LM head", "[cost][galvatron]") {
  auto m = Make();
  {
    // pp 1, 1-1-8: lbsz 1: fct = 2.680 + 2.355 = 5.035, bct = 10.07.
    //   msg = 4130.34765625/4·0.5 = 516.29345703, dp_coe = (1/154.203)·7/8
    //   backward comm = msg·dp_coe·0.5 = 1.46481189; forward (DDP) 0
    //   overlap: fwd 5.035; bwd 1.46481189 + (10.07·ov − 1.46481189)/ov
    //   = 10.2333961 → (5.035 + 10.2333961)/1000 = 0.0152683961 s
    //   no sync: bwd factor 0.5 − 0.5 = 0 → 15.105 ms
    //   memory: 4130.34765625 + 841.58203125·1 + 1024
    EmbeddingStrategy e;
    e.dp = 8;
    EmbeddingCost c = m->Embedding(e, 8, 1);
    REQUIRE(c.seconds.size() == 1);
    CHECK(c.seconds[0] == Approx(0.015268396101271148).epsilon(kEps));
    CHECK(c.seconds_no_sync[0] == Approx(0.015105).epsilon(kEps));
    CHECK(c.memory_mb[0] == Approx(5995.9296875).epsilon(kEps));
  }
  {
    // pp 1, 1-2*-4f: ZeRO-3 (fwd 0.5, bwd 1.0) plus two all-gather latencies
    // (both ends) of 2·2048·4096·2 B = 32 MB: 2 · 0.5·0.2281.
    // memory: 2321.640625·(1/4 + 0.003) + 358.83984375·2 + 1024
    EmbeddingStrategy e;
    e.tp = 2;
    e.dp = 4;
    e.dp_type = DpType::kZero3;
    e.megatron_sp = true;
    EmbeddingCost c = m->Embedding(e, 8, 1);
    CHECK(c.seconds[0] == Approx(0.015566826577763747).epsilon(kEps));
    CHECK(c.seconds_no_sync[0] == Approx(0.015488917718509167).epsilon(kEps));
    CHECK(c.memory_mb[0] == Approx(2329.054765625).epsilon(kEps));
  }
  {
    // pp 2, 2-2*-2, gbsz 16, chunks 4: lbsz 2; half the time on each end;
    // memory 1F1B: first stage holds pp·lbsz = 4 samples, last stage lbsz = 2:
    //   1266.76806640625 + 83.90301513671875·4 + 1024 = 2626.380126953125
    //   1266.83056640625 + 343.3006591796875·2 + 1024 = 2977.431884765625
    EmbeddingStrategy e;
    e.pp = 2;
    e.tp = 2;
    e.dp = 2;
    e.megatron_sp = true;
    EmbeddingCost c = m->Embedding(e, 16, 4);
    REQUIRE(c.seconds.size() == 2);
    CHECK(c.seconds[0] == Approx(0.0076957270751839774).epsilon(kEps));
    CHECK(c.seconds[1] == Approx(0.0076957285147270533).epsilon(kEps));
    CHECK(c.seconds_no_sync[0] == Approx(0.00766655).epsilon(kEps));
    CHECK(c.seconds_no_sync[1] == Approx(0.00766655).epsilon(kEps));
    CHECK(c.memory_mb[0] == Approx(2626.380126953125).epsilon(kEps));
    CHECK(c.memory_mb[1] == Approx(2977.431884765625).epsilon(kEps));
    // GPipe: chunks·lbsz = 8 samples on both ends.
    CostOptions gpipe;
    gpipe.schedule = Schedule::kGpipe;
    EmbeddingCost g = Make(gpipe)->Embedding(e, 16, 4);
    CHECK(g.memory_mb[0] == Approx(2961.9921875).epsilon(kEps));
    CHECK(g.memory_mb[1] == Approx(5037.23583984375).epsilon(kEps));
  }
  {
    // pp 2, Ulysses 2-2*-2f-sp: sdp 4 ('4_1'), states[tp = 1], no TP latency.
    EmbeddingStrategy e;
    e.pp = 2;
    e.sp = 2;
    e.dp = 2;
    e.dp_type = DpType::kZero3;
    EmbeddingCost c = m->Embedding(e, 16, 4);
    CHECK(c.seconds[0] == Approx(0.0077517359438609408).epsilon(kEps));
    CHECK(c.seconds[1] == Approx(0.007751742105274303).epsilon(kEps));
    CHECK(c.seconds_no_sync[0] == Approx(0.0076853239625739606).epsilon(kEps));
    CHECK(c.seconds_no_sync[1] == Approx(0.0076853280701828699).epsilon(kEps));
    CHECK(c.memory_mb[0] == Approx(2059.6376268310546).epsilon(kEps));
    CHECK(c.memory_mb[1] == Approx(2410.6485330810547).epsilon(kEps));
  }
  {
    // Middle stages hold only the runtime context.
    EmbeddingStrategy e;
    e.pp = 4;
    e.dp = 2;
    EmbeddingCost c = m->Embedding(e, 16, 4);
    REQUIRE(c.memory_mb.size() == 4);
    CHECK(c.memory_mb[1] == Approx(1024));
    CHECK(c.seconds[2] == 0);
  }
}

TEST_CASE("Galvatron mode: a whole pipeline", "[cost][galvatron]") {
  auto m = Make();
  // pp 2, 16 + 16 layers, gbsz 16, chunks 4 (lbsz 1 for dp 4, 2 for dp 2);
  // stage 0: 2-1-4, stage 1: 2-2*-2f; embedding 2-1-4.
  const LayerStrategy s0 = S(2, 1, 1, 4), s1 = S(2, 2, 1, 2, DpType::kZero3);
  EmbeddingStrategy e;
  e.pp = 2;
  e.dp = 4;
  const EmbeddingCost ec = m->Embedding(e, 16, 4);
  std::vector<double> no_sync(2, 0), with_sync(2, 0);
  for (int l = 0; l < 16; ++l) {
    const LayerCost a = m->Layer(0, s0, 16, 4, 0), b = m->Layer(0, s1, 16, 4, 1);
    no_sync[0] += a.seconds_no_sync;
    with_sync[0] += a.seconds;
    no_sync[1] += b.seconds_no_sync;
    with_sync[1] += b.seconds;
  }
  // R (with sync) excludes the embedding, as in pipeline_costmodel.
  CHECK(with_sync[0] == Approx(0.23278018641922457).epsilon(kEps));
  CHECK(with_sync[1] == Approx(0.2494224050521909).epsilon(kEps));
  CHECK(ec.seconds_no_sync[0] == Approx(0.0075525).epsilon(kEps));
  CHECK(ec.seconds_no_sync[1] == Approx(0.0075525).epsilon(kEps));
  no_sync[0] += ec.seconds_no_sync[0];
  no_sync[1] += ec.seconds_no_sync[1];
  // T = C0 + C1 + C1·3; the warm-up bound max(C0/3, C1/3) + max(2C0/3,
  // 2C1/3) + C0·3 is smaller; plus max(0, R0 − C0, R1 − C0 − C1).
  const double c0 = no_sync[0], c1 = no_sync[1];
  double expected = c0 + c1 + c1 * 3;
  expected =
      std::max(expected, std::max(c0 / 3, c1 / 3) + std::max(2 * c0 / 3, 2 * c1 / 3) + c0 * 3);
  expected += std::max(0.0, std::max(with_sync[0] - c0, with_sync[1] - c0 - c1));
  const double t = m->PipelineSeconds(no_sync, with_sync, 4);
  CHECK(t == Approx(expected).epsilon(kEps));
  CHECK(t == Approx(1.2505340033469881).epsilon(1e-9));
}

TEST_CASE("Galvatron mode: pipeline formula by hand", "[cost][galvatron]") {
  auto m = Make();
  // C = [1, 2], R = [1.5, 2.5], chunks 4:
  //   ΣC + C_last·3 = 3 + 6 = 9; bound max(1/3, 2/3) + max(2/3, 4/3) + 1·3 = 5
  //   tail max(1.5 − 1, 2.5 − 3) = 0.5 → 9.5
  CHECK(m->PipelineSeconds({1, 2}, {1.5, 2.5}, 4) == Approx(9.5));
  // Stage 0 slowest: C = [4, 1], chunks 2: 5 + 1 = 6 vs max(4/3, 1/3) +
  // max(8/3, 2/3) + 4·1 = 8 → 8; tail max(4.5 − 4, 1 − 5) = 0.5 → 8.5
  CHECK(m->PipelineSeconds({4, 1}, {4.5, 1}, 2) == Approx(8.5));
}

TEST_CASE("Galvatron mode: layer switch cost", "[cost][galvatron]") {
  auto m = Make();
  // tp 2 → tp 4 with SP, pp 1, gbsz 8, chunks 1: g = 4, cur_dp = 8/1/4 = 2,
  // cur_lbsz = 4; (3/4)·4·2048·4096·2 B · coe['4_1'] · 1e-7
  const double expected = 0.75 * 4 * 2048 * 4096 * 2 * (1 / 159.119) * 1e-7;
  CHECK(m->Switch(0, S(1, 2, 1, 4), S(1, 4, 1, 2), 8, 1) == Approx(expected).epsilon(kEps));
  CHECK(m->Switch(0, S(1, 4, 1, 2), S(1, 2, 1, 4), 8, 1) == Approx(expected).epsilon(kEps));
  // Tie-break biases.
  CHECK(m->Switch(0, S(1, 2, 1, 4), S(1, 2, 1, 4), 8, 1) == 0);
  CHECK(m->Switch(0, S(1, 4, 1, 2), S(1, 1, 4, 2), 8, 1) == Approx(1e-10));  // tp → sp
  CHECK(m->Switch(0, S(1, 1, 1, 8), S(1, 1, 1, 8, DpType::kZero3), 8, 1) == Approx(1e-9));
  CHECK(m->Switch(0, S(1, 1, 1, 8), S(1, 1, 1, 8, DpType::kDdp, true), 8, 1) == Approx(2e-9));
  CHECK(m->Switch(0, S(1, 1, 1, 8, DpType::kDdp, true), S(1, 1, 1, 8, DpType::kZero3, true), 8,
                  1) == Approx(3e-9));
  CHECK(m->Switch(0, S(1, 1, 1, 8, DpType::kZero3), S(1, 1, 1, 8, DpType::kDdp, true), 8, 1) ==
        Approx(1e-9));  // f → c
  CHECK(m->Switch(0, S(1, 1, 1, 8, DpType::kZero3), S(1, 1, 1, 8), 8, 1) == 0);
}

TEST_CASE("Galvatron mode: global memory buffer and the 20% reserve", "[cost][galvatron]") {
  auto m = Make();
  // pp 1, buffer tp 4, gbsz 8, chunks 1: cur_dp 2, cur_lbsz 4:
  // 4·4096·2048·4/2²⁰ = 128 MB, halved (mixed) = 64.
  CHECK(m->GlobalBufferMb(8, 1, 1, 4) == Approx(64));
  // Quirk: halved in fp32 too (Galvatron tests the precision string).
  CostOptions no_buffer;
  no_buffer.global_memory_buffer = false;
  CHECK(Make(no_buffer)->GlobalBufferMb(8, 1, 1, 4) == 0);
  // 80 GB: 81920 // 1024 = 80 > 20 → 81920 − int(16384.0) = 65536.
  CHECK(m->UsableMemoryMb(81920) == Approx(65536));
  // 20 GB: no reserve; 21 GB: reserve.
  CHECK(m->UsableMemoryMb(20480) == Approx(20480));
  CHECK(m->UsableMemoryMb(21504) == Approx(21504 - 4300));
}

}  // namespace
}  // namespace galvatron::cost
