#include "interop/galvatron_config.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/json_file.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/support/test_support.h"

namespace galvatron::interop {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr char kShipped[] = "galvatron_config_llama2-7b_1nodes_8gpus_per_node_36GB_bf16.json";
constexpr char kShipped2x[] =
    "galvatron_config_llama-7b_2nodes_8gpus_per_node_40GB_bf16_3D_example.json";

std::string DataText(const std::string& name) {
  auto text = ReadTextFile(testing::SourceDir() + "/tests/data/galvatron/" + name);
  REQUIRE(text.ok());
  return *text;
}

v1::LayerStrategy Layer(int tp, v1::SequenceParallel sp, int dp, v1::DataParallelType type,
                        bool checkpoint) {
  v1::LayerStrategy l;
  l.set_tp(tp);
  l.set_sp(sp);
  l.set_dp(dp);
  l.set_dp_type(type);
  l.set_checkpoint(checkpoint);
  return l;
}

// 16 GPUs, pp 2: a Megatron TP layer, a Ulysses layer, a pure-DP layer and a
// TP layer with ZeRO-3; layers split 3 + 1.
v1::Plan MixedPlan() {
  v1::Plan plan;
  plan.set_world_size(16);
  plan.set_pp(2);
  plan.set_schedule(v1::PIPELINE_SCHEDULE_1F1B);
  plan.add_pp_division(3);
  plan.add_pp_division(1);
  plan.set_micro_batches(8);
  plan.set_global_batch(64);
  using v1::DATA_PARALLEL_TYPE_ZERO2;
  using v1::DATA_PARALLEL_TYPE_ZERO3;
  *plan.add_layers() = Layer(2, v1::SEQUENCE_PARALLEL_MEGATRON, 4, DATA_PARALLEL_TYPE_ZERO2, true);
  *plan.add_layers() = Layer(4, v1::SEQUENCE_PARALLEL_ULYSSES, 2, DATA_PARALLEL_TYPE_ZERO2, false);
  *plan.add_layers() = Layer(1, v1::SEQUENCE_PARALLEL_NONE, 8, DATA_PARALLEL_TYPE_ZERO3, true);
  *plan.add_layers() =
      Layer(8, v1::SEQUENCE_PARALLEL_MEGATRON, 1, v1::DATA_PARALLEL_TYPE_DDP, false);
  v1::EmbeddingStrategy* e = plan.mutable_embedding();
  e->set_vocab_tp(4);
  e->set_sp(v1::SEQUENCE_PARALLEL_ULYSSES);
  e->set_dp_type(DATA_PARALLEL_TYPE_ZERO3);
  return plan;
}

TEST_CASE("ReadGalvatronConfig reads Galvatron's shipped LLaMA-2-7B strategy", "[interop]") {
  const std::string json = DataText(kShipped);
  SECTION("the file has no world_size: it must be given") {
    auto plan = ReadGalvatronConfig(json, kShipped);
    REQUIRE(plan.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(plan.status().message()), Catch::Contains("world_size"));
  }
  GalvatronConfigReadOptions options;
  options.world_size = 8;
  auto plan = ReadGalvatronConfig(json, kShipped, options);
  REQUIRE(plan.ok());
  CHECK(plan->world_size() == 8);
  CHECK(plan->pp() == 1);
  CHECK(plan->schedule() == v1::PIPELINE_SCHEDULE_1F1B);  // pipedream_flush
  REQUIRE(plan->pp_division_size() == 1);
  CHECK(plan->pp_division(0) == 32);
  CHECK(plan->partition_method() == v1::PARTITION_METHOD_EVEN);
  CHECK(plan->micro_batches() == 1);
  CHECK(plan->global_batch() == 16);
  REQUIRE(plan->layers_size() == 32);
  for (int i = 0; i < 32; ++i) {
    const v1::LayerStrategy& l = plan->layers(i);
    CHECK(l.tp() == 1);
    CHECK(l.sp() == v1::SEQUENCE_PARALLEL_NONE);
    CHECK(l.dp() == 8);
    CHECK(l.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3);
    CHECK(l.checkpoint() == (i < 20));
  }
  CHECK(plan->embedding().vocab_tp() == 2);
  CHECK(plan->embedding().sp() == v1::SEQUENCE_PARALLEL_ULYSSES);
  CHECK(plan->embedding().dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3);

  // Written back with Galvatron's default_dp_type and without world_size,
  // the file comes out byte for byte.
  GalvatronConfigOptions write;
  write.default_dp_type = "zero2";
  write.write_world_size = false;
  write.write_vocab_sdp = false;
  auto text = WriteGalvatronConfig(*plan, write);
  REQUIRE(text.ok());
  CHECK(*text == json);
}

TEST_CASE("ReadGalvatronConfig reads a Galvatron 2.x strategy", "[interop]") {
  const std::string json = DataText(kShipped2x);
  GalvatronConfigReadOptions options;
  options.world_size = 16;
  auto imported = ImportGalvatronConfig(json, kShipped2x, options);
  REQUIRE(imported.ok());
  const v1::Plan& plan = imported->plan;
  CHECK(imported->notes.empty());
  CHECK(plan.pp() == 2);
  CHECK(plan.micro_batches() == 32);
  CHECK(plan.global_batch() == 256);
  REQUIRE(plan.pp_division_size() == 2);
  CHECK(plan.pp_division(0) == 16);
  CHECK(plan.pp_division(1) == 16);
  REQUIRE(plan.layers_size() == 32);
  const v1::LayerStrategy& l = plan.layers(0);
  CHECK(l.tp() == 2);
  CHECK(l.dp() == 4);
  CHECK(l.sp() == v1::SEQUENCE_PARALLEL_MEGATRON);  // sequence_parallel on by default
  CHECK(l.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO2);
  CHECK_FALSE(l.checkpoint());  // no checkpoint key
  CHECK(plan.embedding().vocab_tp() == 1);
  CHECK(plan.embedding().sp() == v1::SEQUENCE_PARALLEL_NONE);
  CHECK(plan.embedding().dp_type() == v1::DATA_PARALLEL_TYPE_ZERO2);

  options.megatron_sp = false;
  auto no_sp = ReadGalvatronConfig(json, kShipped2x, options);
  REQUIRE(no_sp.ok());
  CHECK(no_sp->layers(0).sp() == v1::SEQUENCE_PARALLEL_NONE);
}

TEST_CASE("2.x strided TP groups are reported", "[interop]") {
  const std::string json =
      R"({"pp_deg": 1, "tp_sizes_enc": "2,2,1", "tp_consecutive_flags": "0,1,0",
      "dp_types_enc": "0,0,0", "global_bsz": 8, "chunks": 1, "default_dp_type": "ddp"})";
  GalvatronConfigReadOptions options;
  options.world_size = 8;
  auto imported = ImportGalvatronConfig(json, "old.json", options);
  REQUIRE(imported.ok());
  REQUIRE(imported->notes.size() == 1);
  CHECK_THAT(imported->notes[0], Catch::Contains("layers 0:"));
  CHECK(imported->plan.layers(0).dp_type() == v1::DATA_PARALLEL_TYPE_DDP);
  CHECK(imported->plan.schedule() == v1::PIPELINE_SCHEDULE_GPIPE);  // the runtime's default
}

TEST_CASE("Plan → Galvatron config → Plan round-trips", "[interop]") {
  const v1::Plan plan = MixedPlan();
  auto text = WriteGalvatronConfig(plan);
  REQUIRE(text.ok());
  // Warnings (e.g. about a noisy profile) are ours: the file is the same.
  v1::Plan warned = plan;
  warned.mutable_prediction()->add_warnings(
      "compute profile cp-lab-1 of layer type x was measured noisily (spread 0.41)");
  auto warned_text = WriteGalvatronConfig(warned);
  REQUIRE(warned_text.ok());
  CHECK(*warned_text == *text);
  CHECK(*text ==
        "{\n"
        "    \"pp_deg\": 2,\n"
        "    \"tp_sizes_enc\": \"2,4,1,8\",\n"
        "    \"tp_consecutive_flags\": \"1,1,1,1\",\n"
        "    \"dp_types_enc\": \"0,0,1,0\",\n"
        "    \"use_sp\": \"0,1,0,0\",\n"
        "    \"checkpoint\": \"1,0,1,0\",\n"
        "    \"world_size\": 16,\n"
        "    \"global_bsz\": 64,\n"
        "    \"chunks\": 8,\n"
        "    \"pp_division\": \"3,1\",\n"
        "    \"pipeline_type\": \"pipedream_flush\",\n"
        "    \"default_dp_type\": \"zero2\",\n"
        "    \"vtp\": 4,\n"
        "    \"vsp\": 1,\n"
        "    \"embed_sdp\": 1,\n"
        "    \"vocab_sdp\": 1\n"  // what Galvatron's runtime reads
        "}");
  auto back = ReadGalvatronConfig(*text, "written");
  REQUIRE(back.ok());
  CHECK(MessageDifferencer::Equals(plan, *back));

  SECTION("even division and gpipe") {
    v1::Plan even = plan;
    even.clear_pp_division();
    even.set_schedule(v1::PIPELINE_SCHEDULE_GPIPE);
    auto written = WriteGalvatronConfig(even);
    REQUIRE(written.ok());
    CHECK_THAT(*written, Catch::Contains("\"pp_division\": \"2,2\""));
    CHECK_THAT(*written, Catch::Contains("\"pipeline_type\": \"gpipe\""));
    auto read = ReadGalvatronConfig(*written, "written");
    REQUIRE(read.ok());
    CHECK(read->partition_method() == v1::PARTITION_METHOD_EVEN);
    even.add_pp_division(2);
    even.add_pp_division(2);
    even.set_partition_method(v1::PARTITION_METHOD_EVEN);
    CHECK(MessageDifferencer::Equals(even, *read));
  }
  SECTION("all DDP") {
    v1::Plan ddp = plan;
    ddp.mutable_layers(0)->set_dp_type(v1::DATA_PARALLEL_TYPE_DDP);
    ddp.mutable_layers(1)->set_dp_type(v1::DATA_PARALLEL_TYPE_DDP);
    auto written = WriteGalvatronConfig(ddp);
    REQUIRE(written.ok());
    CHECK_THAT(*written, Catch::Contains("\"default_dp_type\": \"ddp\""));
    auto read = ReadGalvatronConfig(*written, "written");
    REQUIRE(read.ok());
    CHECK(MessageDifferencer::Equals(ddp, *read));
  }
}

TEST_CASE("WriteGalvatronConfig refuses what the format cannot express", "[interop]") {
  v1::Plan plan = MixedPlan();
  SECTION("ZeRO-1") {
    plan.mutable_layers(0)->set_dp_type(v1::DATA_PARALLEL_TYPE_ZERO1);
    auto text = WriteGalvatronConfig(plan);
    REQUIRE(text.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(text.status().message()), Catch::Contains("layers[0]"));
  }
  SECTION("DDP and ZeRO-2 mixed") {
    plan.mutable_layers(0)->set_dp_type(v1::DATA_PARALLEL_TYPE_DDP);
    CHECK(WriteGalvatronConfig(plan).status().code() == absl::StatusCode::kInvalidArgument);
    GalvatronConfigOptions options;
    options.default_dp_type = "zero2";
    CHECK(WriteGalvatronConfig(plan, options).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  SECTION("degrees that do not make the world size") {
    plan.mutable_layers(2)->set_dp(4);
    CHECK(WriteGalvatronConfig(plan).status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("pp_division not matching the layers") {
    plan.set_pp_division(1, 2);
    CHECK(WriteGalvatronConfig(plan).status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("Megatron-SP on some TP layers only") {
    plan.mutable_layers(0)->set_sp(v1::SEQUENCE_PARALLEL_NONE);
    CHECK(WriteGalvatronConfig(plan).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("ReadGalvatronConfig names the key of bad input", "[interop]") {
  auto error = [](const std::string& json) {
    GalvatronConfigReadOptions options;
    options.world_size = 8;
    auto plan = ReadGalvatronConfig(json, "cfg.json", options);
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string message(plan.status().message());
    CHECK_THAT(message, Catch::Contains("cfg.json"));
    return message;
  };
  const std::string base = R"("pp_deg": 1, "dp_types_enc": "0,0", "global_bsz": 8, "chunks": 1)";
  CHECK_THAT(error(R"({"pp_deg": 1, "tp_sizes_enc": "1,x", "dp_types_enc": "0,0",
                       "global_bsz": 8, "chunks": 1})"),
             Catch::Contains("tp_sizes_enc"));
  CHECK_THAT(error("{" + base + R"(, "tp_sizes_enc": "1,1,1"})"), Catch::Contains("dp_types_enc"));
  CHECK_THAT(error("{" + base + R"(, "tp_sizes_enc": "1,3"})"), Catch::Contains("tp_sizes_enc"));
  CHECK_THAT(error("{" + base + R"(, "tp_sizes_enc": "1,1", "pp_division": "1"})"),
             Catch::Contains("pp_division"));
  CHECK_THAT(error("{" + base + R"(, "tp_sizes_enc": "1,1", "cp_sizes_enc": "1,2"})"),
             Catch::Contains("context parallelism"));
  CHECK_THAT(error("{" + base + R"(, "tp_sizes_enc": "1,1", "world_size": 16})"),
             Catch::Contains("world_size"));
  CHECK_THAT(error("{" + base + R"(, "tp_sizes_enc": "1,1", "use_sp": "0,2"})"),
             Catch::Contains("use_sp"));
  CHECK_THAT(error("{" + base + R"(, "tp_sizes_enc": "1,1", "pipeline_type": "1f1b"})"),
             Catch::Contains("pipeline_type"));
  CHECK_THAT(error(R"({"pp_deg": 1, "tp_sizes_enc": "1,1", "dp_types_enc": "0,0", "chunks": 1})"),
             Catch::Contains("global_bsz"));
  CHECK_THAT(error(R"({"pp_deg": "1"})"), Catch::Contains("pp_deg"));
  CHECK_THAT(error("[1, 2]"), Catch::Contains("object"));
}

TEST_CASE("Galvatron's config file names", "[interop]") {
  GalvatronConfigName name;
  name.model = "llama2-7b";
  name.num_nodes = 1;
  name.gpus_per_node = 8;
  name.memory_gb = 36;
  CHECK(GalvatronConfigFileName(name) == kShipped);
  name.settle_bsz = 64;
  name.disabled = {"ckpt", "tp"};
  CHECK(GalvatronConfigFileName(name) ==
        "galvatron_config_llama2-7b_1nodes_8gpus_per_node_36GB_bf16_bsz64_[tp_ckpt_off].json");

  v1::Plan plan = MixedPlan();
  plan.set_model("llama2-7b");
  v1::PlanRequest* request = plan.mutable_request();
  request->set_memory_budget_bytes(int64_t{36} << 30);
  request->set_global_batch(64);
  request->mutable_hardware()->set_num_nodes(2);
  request->mutable_hardware()->set_devices_per_node(8);
  request->add_disable("sdp");
  request->set_precision(v1::PRECISION_FP16_MIXED);
  CHECK(GalvatronConfigFileName(GalvatronConfigNameForPlan(plan)) ==
        "galvatron_config_llama2-7b_2nodes_8gpus_per_node_36GB_fp16_bsz64_[fsdp_off].json");
}

TEST_CASE("Galvatron configs are told from our Plan JSON", "[interop]") {
  for (const char* name : {kShipped, kShipped2x}) {
    const GalvatronConfigSniff shipped = SniffGalvatronConfig(DataText(name));
    CHECK(shipped.is_config);
    CHECK_FALSE(shipped.has_world_size);  // neither file has the key
  }
  const GalvatronConfigSniff written =
      SniffGalvatronConfig(R"({"pp_deg": 1, "tp_sizes_enc": "1", "world_size": 8})");
  CHECK(written.is_config);
  CHECK(written.has_world_size);
  v1::Plan plan;
  plan.set_pp(2);
  plan.add_layers()->set_tp(1);
  CHECK_FALSE(SniffGalvatronConfig(MessageToJson(plan)).is_config);
  // Only the key counts, not the text: a value, a nested key, or not JSON.
  CHECK_FALSE(SniffGalvatronConfig(R"({"note": "pp_deg"})").is_config);
  CHECK_FALSE(SniffGalvatronConfig(R"({"x": {"pp_deg": 2}})").is_config);
  CHECK_FALSE(SniffGalvatronConfig(R"({"pp_deg": 2,)").is_config);
  CHECK_FALSE(SniffGalvatronConfig(R"([{"pp_deg": 2}])").is_config);
}

}  // namespace
}  // namespace galvatron::interop
