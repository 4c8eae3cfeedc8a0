#include <catch2/catch.hpp>

#include "common/json_file.h"
#include "common/model_catalog.h"
#include "common/plan_validation.h"
#include "interop/plan_file.h"
#include "tests/support/test_support.h"

namespace galvatron::interop {
namespace {

v1::ModelSpec Tiny() {
  std::optional<v1::ModelSpec> model = CatalogModel("llama-tiny");
  REQUIRE(model.has_value());
  return *model;
}

// pp 2 over 4 ranks, every layer tp 2 × dp 1.
v1::Plan TwoStages() {
  v1::Plan plan;
  plan.set_world_size(4);
  plan.set_pp(2);
  plan.add_pp_division(2);
  plan.add_pp_division(2);
  plan.set_micro_batches(2);
  plan.set_global_batch(8);
  for (int i = 0; i < 4; ++i) {
    v1::LayerStrategy* s = plan.add_layers();
    s->set_tp(2);
    s->set_dp(1);
  }
  plan.mutable_embedding()->set_vocab_tp(2);
  return plan;
}

}  // namespace

TEST_CASE("A plan that fits the model and the world passes", "[runtime]") {
  CHECK(CheckPlanForModel(TwoStages(), Tiny(), 4).ok());
}

TEST_CASE("Sequence parallelism is refused for T5, ViT and Swin with the reason", "[runtime]") {
  // t5-test, vit-test and swin-test have 4 layers, like TwoStages().
  for (const std::string name : {"t5-test", "vit-test", "swin-test"}) {
    INFO(name);
    const v1::ModelSpec model = *CatalogModel(name);
    v1::Plan plan = TwoStages();
    plan.mutable_embedding()->set_vocab_tp(1);
    CHECK(CheckPlanForModel(plan, model, 4).ok());
    plan.mutable_layers(3)->set_sp(v1::SEQUENCE_PARALLEL_ULYSSES);
    absl::Status status = CheckPlanForModel(plan, model, 4);
    CHECK(absl::IsInvalidArgument(status));
    // (vit-test's 17 tokens do not split in two at all: that is said first.)
    CHECK_THAT(std::string(status.message()),
               Catch::Contains(name == "vit-test" ? "(17)" : "not supported for"));
    plan = TwoStages();
    plan.mutable_embedding()->set_sp(v1::SEQUENCE_PARALLEL_MEGATRON);
    if (name != "vit-test") {
      status = CheckPlanForModel(plan, model, 4);
      CHECK_THAT(std::string(status.message()), Catch::Contains("embedding.sp"));
    }
  }
  // GPT splits its sequence.
  v1::Plan plan = TwoStages();
  plan.mutable_layers(3)->set_sp(v1::SEQUENCE_PARALLEL_ULYSSES);
  CHECK(CheckPlanForModel(plan, Tiny(), 4).ok());
}

TEST_CASE("Plans that cannot run are refused with the field and value", "[runtime]") {
  v1::Plan plan = TwoStages();
  auto message = [&](int world) {
    absl::Status status = CheckPlanForModel(plan, Tiny(), world);
    CHECK(absl::IsInvalidArgument(status));
    return std::string(status.message());
  };
  CHECK_THAT(message(8), Catch::Contains("world_size: 4"));
  plan.mutable_layers(1)->set_tp(4);
  CHECK_THAT(message(4), Catch::Contains("layers[1].tp: 4"));
  plan = TwoStages();
  plan.mutable_layers(0)->set_tp(3);
  plan.mutable_layers(0)->set_dp(0);
  CHECK_THAT(message(4), Catch::Contains("layers[0].tp"));
  plan = TwoStages();
  plan.set_pp_division(1, 1);
  CHECK_THAT(message(4), Catch::Contains("pp_division: 3"));
  plan = TwoStages();
  plan.set_global_batch(7);
  CHECK_THAT(message(4), Catch::Contains("global_batch: 7"));
  plan = TwoStages();
  plan.mutable_layers()->RemoveLast();
  CHECK_THAT(message(4), Catch::Contains("layers: 3"));
  // One sample per micro-batch: the layers (dp 1) take it, an embedding on
  // two data-parallel ranks could not split it.
  plan = TwoStages();
  plan.set_global_batch(2);
  plan.mutable_embedding()->set_vocab_tp(1);
  CHECK_THAT(message(4), Catch::Contains("embedding.vocab_tp: 1") &&
                             Catch::Contains("divides the micro-batch (1 samples)"));
}

TEST_CASE("Plan files: ours and Galvatron's", "[runtime]") {
  testing::TempDir dir;
  REQUIRE(WriteTextFile(dir.File("plan.json"), MessageToJson(TwoStages())).ok());
  auto ours = LoadPlanFile(dir.File("plan.json"), 4);
  REQUIRE(ours.ok());
  CHECK(ours->format == "plan");
  CHECK(ours->plan.pp() == 2);

  REQUIRE(WriteTextFile(dir.File("galvatron_config.json"), R"({
    "pp_deg": 2, "tp_sizes_enc": "2,2,2,2", "tp_consecutive_flags": "1,1,1,1",
    "dp_types_enc": "0,0,0,0", "use_sp": "0,0,0,0", "checkpoint": "0,1,0,1",
    "global_bsz": 8, "chunks": 2, "pp_division": "2,2", "pipeline_type": "pipedream_flush",
    "default_dp_type": "ddp", "vtp": 2, "vsp": 0, "embed_sdp": 0})")
              .ok());
  auto theirs = LoadPlanFile(dir.File("galvatron_config.json"), 4);
  INFO(theirs.status().message());
  REQUIRE(theirs.ok());
  CHECK(theirs->format == "galvatron");
  CHECK(theirs->plan.layers(1).checkpoint());
  CHECK(theirs->plan.schedule() == v1::PIPELINE_SCHEDULE_1F1B);
  CHECK(CheckPlanForModel(theirs->plan, Tiny(), 4).ok());

  REQUIRE(WriteTextFile(dir.File("broken.json"), "{\"pp\": \"two\"}").ok());
  CHECK_FALSE(LoadPlanFile(dir.File("broken.json"), 4).ok());
}

}  // namespace galvatron::interop
