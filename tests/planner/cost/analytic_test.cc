// Analytic fallbacks: exact parameter counts, Korthikanti activations, FLOP
// times, and the errors and flags around them.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "planner/cost/analytic.h"
#include "planner/cost/analytic_efficiency.h"
#include "planner/cost/cost_model.h"
#include "tests/planner/cost/galvatron_fixture.h"

namespace galvatron::cost {
namespace {

using testing::kMiB;

TEST_CASE("Parameter counts of the tiny catalog models are exact", "[cost][analytic]") {
  const v1::ModelSpec gpt = *CatalogModel("gpt-tiny");
  // GPT-2 block, h = 64, f = 256, 4 heads, biases:
  //   ln_1 2h + c_attn h·3h + 3h + c_proj h·h + h + ln_2 2h
  //   + c_fc h·f + f + c_proj f·h + h = 12h² + 13h = 49152 + 832 = 49984
  CHECK(analytic::LayerParameterCount(gpt.layers(0)) == 49984);
  // wte 512·64 + wpe 64·64 + ln_f 2·64, tied head: 32768 + 4096 + 128 = 36992
  CHECK(analytic::EmbeddingParameterCount(gpt, analytic::EmbeddingPart::kAll, 1) == 36992);
  // Whole model: 4·49984 + 36992 = 236928.
  CHECK(4 * analytic::LayerParameterCount(gpt.layers(0)) +
            analytic::EmbeddingParameterCount(gpt, analytic::EmbeddingPart::kAll, 1) ==
        236928);

  const v1::ModelSpec llama = *CatalogModel("llama-tiny");
  // LLaMA block, h = 64, f = 172, 4 heads of 16, 2 KV heads, no biases:
  //   q 64·64 + k 64·32 + v 64·32 + o 64·64 = 12288
  //   gate, up, down 3·64·172 = 33024; RMSNorms 2·64 = 128 → 45440
  CHECK(analytic::LayerParameterCount(llama.layers(0)) == 45440);
  // embed 512·64 + final norm 64 + untied head 512·64 = 65600
  CHECK(analytic::EmbeddingParameterCount(llama, analytic::EmbeddingPart::kAll, 1) == 65600);
  CHECK(analytic::EmbeddingParameterCount(llama, analytic::EmbeddingPart::kFirst, 1) == 32768);
  CHECK(analytic::EmbeddingParameterCount(llama, analytic::EmbeddingPart::kLast, 2) ==
        64 + 512 * 64 / 2);

  // LLaMA-2-7B: 4·4096² + 3·4096·11008 + 2·4096 = 202383360 parameters
  // (772.03 fp32 MB; Galvatron's profile measured 778.22 MB of memory).
  const v1::ModelSpec l7 = *CatalogModel("llama2-7b");
  CHECK(analytic::LayerParameterCount(l7.layers(0)) == 202383360);
}

TEST_CASE("T5 and Swin blocks count their bias tables and attend as they do", "[cost][analytic]") {
  // t5-test, h = 64, f = 256, 4 heads of 16, no biases: encoder q/k/v/o
  // 4·64² + ReLU MLP 2·64·256 + 2 RMSNorms 2·64 + 32 buckets · 4 heads.
  const v1::ModelSpec t5 = *CatalogModel("t5-test");
  CHECK(analytic::LayerParameterCount(t5.layers(0)) == 16384 + 32768 + 128 + 128);
  // The decoder: a second attention and a third norm.
  CHECK(analytic::LayerParameterCount(t5.layers(1)) == 32768 + 32768 + 192 + 128);
  // T5 v1.1's gated GELU has three MLP matrices.
  v1::LayerGroup gated = t5.layers(0);
  gated.mutable_t5()->set_ffn(v1::T5LayerOptions::FFN_GATED_GELU);
  CHECK(analytic::LayerParameterCount(gated) == 16384 + 3 * 16384 + 128 + 128);
  // The decoder's cross-attention over the encoder's 32 tokens, not its own
  // 8: K and V projected from 24 more tokens, 8 queries × 24 more keys.
  CHECK(analytic::LayerForwardFlopsPerSample(t5.layers(1), 8, 32) ==
        Approx(analytic::LayerForwardFlopsPerSample(t5.layers(1), 8) + 2.0 * (2 * 64 * 64) * 24 +
               4.0 * 8 * 24 * 4 * 16));
  // swin-test's first stage: h = 64, biases, an 8x8 grid in 4x4 windows
  // (a 7x7 offset table per head).
  const v1::ModelSpec swin = *CatalogModel("swin-test");
  const v1::LayerGroup& stage = swin.layers(0);
  CHECK(analytic::LayerParameterCount(stage) == 16640 + 33088 + 256 + 49 * 4);
  // Attention over 16 keys per query (its window), not the 64 tokens.
  CHECK(analytic::LayerForwardFlopsPerSample(stage, 64) ==
        Approx(2.0 * 50180 * 64 + 4.0 * 64 * 16 * 4 * 16));
  v1::LayerGroup one_window = stage;
  one_window.mutable_swin()->set_window(8);
  CHECK(analytic::LayerForwardFlopsPerSample(one_window, 64) >
        analytic::LayerForwardFlopsPerSample(stage, 64));
}

TEST_CASE("Korthikanti activation memory", "[cost][analytic]") {
  const v1::ModelSpec gpt = *CatalogModel("gpt-tiny");  // fp32, s = h = 64, a = 4
  const v1::LayerGroup& g = gpt.layers(0);
  // s·h·(34 + 5·a·s/h) bytes in 16-bit, ×2 for fp32: 64·64·(34 + 20)·2
  const double full = 64.0 * 64 * (34 + 5.0 * 4 * 64 / 64) * 2;
  using analytic::ActivationSharding;
  CHECK(analytic::LayerActivationBytesPerSample(g, 64, v1::PRECISION_FP32, 1,
                                                ActivationSharding::kNone) == Approx(full));
  // bf16: half; with SP / Ulysses all of it / t.
  CHECK(analytic::LayerActivationBytesPerSample(g, 64, v1::PRECISION_BF16_MIXED, 4,
                                                ActivationSharding::kShardedAll) ==
        Approx(full / 2 / 4));
  // Megatron TP without SP: s·h·(10 + 24/t + 5as/(ht)) (Korthikanti eq. 2).
  CHECK(analytic::LayerActivationBytesPerSample(g, 64, v1::PRECISION_BF16_MIXED, 4,
                                                ActivationSharding::kMegatronTp) ==
        Approx(64.0 * 64 * (10 + 24.0 / 4 + 5.0 * 4 * 64 / (64 * 4))));
  // Checkpointing keeps the s·h input.
  CHECK(analytic::CheckpointActivationBytesPerSample(g, 64, v1::PRECISION_FP32) == 64 * 64 * 4);
}

v1::HardwareProfile Hardware(double peak_flops) {
  v1::HardwareProfile hw = testing::A100x8();
  hw.mutable_device()->set_peak_flops(peak_flops);
  return hw;
}

TEST_CASE("Without a profile the device peak FLOP/s is required", "[cost][analytic]") {
  const v1::ModelSpec gpt = *CatalogModel("gpt-tiny");
  for (Mode mode : {Mode::kDefault, Mode::kGalvatron}) {
    CostOptions options;
    options.mode = mode;
    auto m = CostModel::Create(gpt, Hardware(0), {}, options);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(m.status().message()), Catch::Contains("peak_flops") &&
                                                      Catch::Contains("compute profile") &&
                                                      Catch::Contains(LayerTypeKey(gpt, 0)));
  }
}

TEST_CASE("Analytic estimates when profiles are missing", "[cost][analytic]") {
  const v1::ModelSpec gpt = *CatalogModel("gpt-tiny");
  const double peak = 100e12;
  CostOptions options;
  options.analytic_efficiency = 0.45;  // fixed (the default is by layer size)
  auto made = CostModel::Create(gpt, Hardware(peak), {}, options);
  REQUIRE(made.ok());
  const CostModel& m = **made;
  CHECK(m.analytic());
  REQUIRE(m.layer_types().size() == 1);
  CHECK_FALSE(m.layer_types()[0].measured);
  CHECK(m.layer_types()[0].parameter_mb == Approx(49984.0 * 4 / kMiB));

  // 1-1-1 on one sample: forward = (2·49984·64 + 4·64²·64) FLOP / (0.45·1e14)
  // = 7446528 / 4.5e13 s; backward 2×.
  LayerStrategy s;
  const LayerCost c = m.Layer(0, s, 1, 1, 0);
  CHECK(c.compute_seconds == Approx(3 * 7446528.0 / 4.5e13).epsilon(1e-9));
  // fp32 states 16 bytes/param + Korthikanti activation (fp32).
  const double act = 64.0 * 64 * 54 * 2;
  CHECK(c.memory_mb == Approx((49984.0 * 16 + act) / kMiB).epsilon(1e-9));
  LayerStrategy ckpt = s;
  ckpt.checkpoint = true;
  CHECK(m.Layer(0, ckpt, 1, 1, 0).memory_mb ==
        Approx((49984.0 * 16 + 64 * 64 * 4) / kMiB).epsilon(1e-9));

  // Embedding: LM head 2·s·h·v FLOPs, analytic states 16 bytes/param + context.
  EmbeddingStrategy e;
  const EmbeddingCost ec = m.Embedding(e, 1, 1);
  CHECK(ec.seconds_no_sync[0] == Approx(3 * 2.0 * 64 * 64 * 512 / 4.5e13).epsilon(1e-9));
  CHECK(ec.memory_mb[0] > 36992.0 * 16 / kMiB + 1024);

  // Galvatron mode runs its formulas on the same estimates.
  CostOptions g = options;
  g.mode = Mode::kGalvatron;
  auto gm = CostModel::Create(gpt, Hardware(peak), {}, g);
  REQUIRE(gm.ok());
  CHECK((*gm)->analytic());
  CHECK((*gm)->Layer(0, s, 1, 1, 0).compute_seconds == Approx(c.compute_seconds).epsilon(1e-9));
}

TEST_CASE("A missing embedding profile alone makes the model analytic", "[cost][analytic]") {
  const v1::ModelSpec spec = testing::Llama7bSpec();
  std::vector<v1::ComputeProfile> profiles = testing::Llama7bProfiles(spec);
  profiles.pop_back();  // the embedding/head profile
  CHECK_FALSE(CostModel::Create(spec, Hardware(0), profiles, {}).ok());
  auto m = CostModel::Create(spec, Hardware(312e12), profiles, {});
  REQUIRE(m.ok());
  CHECK((*m)->analytic());
  CHECK((*m)->layer_types()[0].measured);
}

TEST_CASE("Profiles match across sequence lengths", "[cost][analytic]") {
  // Profiles measured at 2048 serve a 4096-token run: the activation table
  // scales linearly with the sequence (Galvatron's "sequence" memory mode).
  const v1::ModelSpec spec = testing::Llama7bSpec();
  CostOptions options;
  options.seq_len = 4096;
  auto m = CostModel::Create(spec, Hardware(0), testing::Llama7bProfiles(spec), options);
  REQUIRE(m.ok());
  CHECK((*m)->seq_len() == 4096);
  CHECK_FALSE((*m)->analytic());
  LayerStrategy s;
  s.dp = 8;
  CHECK((*m)->Layer(0, s, 8, 1, 0).memory_mb ==
        Approx(4 * 778.2236328125 + 2 * 514.5634765625).epsilon(1e-9));
}

TEST_CASE("Create rejects unusable inputs", "[cost][analytic]") {
  const v1::ModelSpec spec = testing::Llama7bSpec();
  const auto profiles = testing::Llama7bProfiles(spec);
  v1::HardwareProfile no_nodes = testing::A100x8();
  no_nodes.set_num_nodes(0);
  CHECK(CostModel::Create(spec, no_nodes, profiles, {}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  v1::HardwareProfile no_tables = testing::A100x8();
  no_tables.clear_collectives();
  auto r = CostModel::Create(spec, no_tables, profiles, {});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("ALL_REDUCE"));
  v1::ModelSpec empty = spec;
  empty.clear_layers();
  CHECK_FALSE(CostModel::Create(empty, testing::A100x8(), profiles, {}).ok());
  // A single device needs no tables.
  v1::HardwareProfile one = no_tables;
  one.set_devices_per_node(1);
  CHECK(CostModel::Create(spec, one, profiles, {}).ok());
}

}  // namespace
}  // namespace galvatron::cost

namespace galvatron::cost {

// The analytic efficiencies are the published figures they come from, and
// in between they follow them.
TEST_CASE("Analytic efficiencies are the published figures", "[cost][analytic]") {
  const auto& f = PublishedEfficiencies();
  REQUIRE(f.size() == 5);
  // Megatron-LM 2019: 39 TFLOP/s of a V100's 125, "30 % of peak".
  CHECK(f[0].hidden == 1536);
  CHECK(f[0].fraction == 0.300);
  // Korthikanti et al. 2022 (Megatron-LM's README): model FLOPs utilisation
  // of the 22B, 175B, 530B and 1T GPTs on A100s.
  CHECK(f[1].hidden == 6144);
  CHECK(f[1].fraction == 0.415);
  CHECK(f[2].hidden == 12288);
  CHECK(f[2].fraction == 0.514);
  CHECK(f[3].hidden == 20480);
  CHECK(f[3].fraction == 0.560);
  CHECK(f[4].hidden == 25600);
  CHECK(f[4].fraction == 0.563);
  for (const PublishedEfficiency& p : f) {
    CHECK(EstimatedEfficiency(p.hidden).fraction == Approx(p.fraction).epsilon(1e-12));
  }
  // In between: log-linear, inside the band of its neighbours.
  const EfficiencyEstimate mid = EstimatedEfficiency(8192);
  CHECK(mid.low == 0.415);
  CHECK(mid.high == 0.514);
  CHECK(mid.fraction == Approx(0.415 + (0.514 - 0.415) * std::log2(8192.0 / 6144) / 1.0));
  CHECK_THAT(mid.basis, Catch::Contains("6144") && Catch::Contains("12288"));
  // Smaller layers run less efficiently, never below the floor; larger ones
  // at most the largest figure.
  double previous = 0;
  for (int h : {64, 256, 768, 1024, 1536, 2048, 4096, 6144, 8192, 16384, 25600, 65536}) {
    const double e = EstimatedEfficiency(h).fraction;
    INFO("hidden " << h << ": " << e);
    CHECK(e >= previous);
    CHECK(e >= kMinAnalyticEfficiency);
    CHECK(e <= 0.563);
    previous = e;
  }
  CHECK(EstimatedEfficiency(1024).fraction < 0.300);
  CHECK(EstimatedEfficiency(64).fraction == kMinAnalyticEfficiency);
  CHECK(MaxAnalyticEfficiency(0) == 0.563);
  CHECK(MaxAnalyticEfficiency(0.45) == 0.45);
}

TEST_CASE("Analytic times follow the layer's estimated efficiency and say so", "[cost][analytic]") {
  const v1::ModelSpec gpt = *CatalogModel("gpt2-medium");  // hidden 1024
  auto made = CostModel::Create(gpt, Hardware(312e12), {}, CostOptions());
  REQUIRE(made.ok());
  const CostModel& m = **made;
  const double e = EstimatedEfficiency(1024).fraction;
  REQUIRE(m.layer_types().size() == 1);
  CHECK(m.layer_types()[0].analytic_efficiency == Approx(e));
  const LayerCost c = m.Layer(0, LayerStrategy(), 1, 1, 0);
  const double flops = analytic::LayerForwardFlopsPerSample(gpt.layers(0), gpt.seq_len());
  CHECK(c.compute_seconds == Approx(3 * flops / (e * 312e12)).epsilon(1e-9));
  CHECK_THAT(m.analytic_note(), Catch::Contains("FLOP estimates") && Catch::Contains("% of peak") &&
                                    Catch::Contains("1536") && Catch::Contains("calibration"));
}

}  // namespace galvatron::cost
