// Galvatron's search settings file → our search settings.
#include "interop/galvatron_search_yaml.h"

#include <catch2/catch.hpp>

#include <string>

namespace galvatron::interop {
namespace {

// The layout of Galvatron's shipped search_dist.yaml (its keys and
// defaults, with the top-level variables its scripts override).
constexpr char kShippedLayout[] = R"(NUM_NODES: 1
NUM_GPUS_PER_NODE: 8
MEMORY_CONSTRAINT: 36
SEQ_LENGTH: 2048
LOG_DIR: ./logs/search_engine

search_engine:
  profiling_info:
    time_profile_mode: batch
    memory_profile_mode: static
  model_info:
    model_config_path: ../model_configs/llama2-7b.yaml
    model_size: llama2-7b
    is_moe_model: false
    set_model_config_manually: 0
    set_layernum_manually: 0
    set_seqlen_manually: 1
  common_train_info:
    seq_length: ${SEQ_LENGTH}
    sequence_parallel: true
    global_memory_buffer: true
  parallelism_info:
    default_dp_type: zero2
    pipeline_type: pipedream_flush
    async_grad_reduce: true
    mixed_precision: bf16
  hardware_info:
    num_nodes: ${NUM_NODES}
    num_gpus_per_node: ${NUM_GPUS_PER_NODE}
    memory_constraint: ${MEMORY_CONSTRAINT}
  batch_size_info:
    min_bsz: 16
    max_bsz: 64
    bsz_scale: 16
    settle_bsz: -1
    recommend_min_bsz: 0
  search_space_info:
    disable_dp: 0
    disable_tp: 0
    disable_cp: 1
    disable_sp: 1
    disable_embedding_lmhead_tp: 0
    max_tp_deg: 8
    max_pp_deg: 4
    max_sp_deg: 8
    max_cp_deg: 8
  options_info:
    parallel_search: false
    worker: 0
    log_dir: ${LOG_DIR}
    fine_grained_mode: 1
)";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("Galvatron's search settings file maps to our settings", "[interop]") {
  auto y = ParseGalvatronSearchYaml(kShippedLayout, "search_dist.yaml");
  REQUIRE(y.ok());
  CHECK(y->model_size == "llama2-7b");
  CHECK(y->seq_length == 2048);  // ${SEQ_LENGTH}, with set_seqlen_manually
  CHECK(y->time_profile_mode == "batch");
  CHECK(y->memory_profile_mode == "static");
  CHECK(y->sequence_parallel == true);
  CHECK(y->global_memory_buffer == true);
  CHECK(y->async_grad_reduce == true);
  CHECK(y->default_dp_type == "zero2");
  CHECK(y->pipeline_type == "pipedream_flush");
  CHECK(y->mixed_precision == "bf16");
  CHECK(y->num_nodes == 1);
  CHECK(y->gpus_per_node == 8);
  CHECK(y->memory_constraint_gb == 36);
  CHECK(y->min_bsz == 16);
  CHECK(y->max_bsz == 64);
  CHECK(y->bsz_scale == 16);
  CHECK(y->settle_bsz == -1);
  CHECK(y->disabled == std::vector<std::string>{"sp"});
  CHECK(y->max_tp_deg == 8);
  CHECK(y->max_pp_deg == 4);
  CHECK(y->fine_grained == true);
  CHECK_FALSE(y->costmodel_coe.has_value());
  // What changes only how Galvatron's own engine runs is named, not lost.
  bool log_dir = false;
  for (const std::string& line : y->ignored) {
    log_dir = log_dir || line.find("options_info.log_dir: ./logs") != std::string::npos;
  }
  CHECK(log_dir);
}

TEST_CASE("Galvatron's seq_length counts only with set_seqlen_manually", "[interop]") {
  auto y = ParseGalvatronSearchYaml(
      Replace(kShippedLayout, "set_seqlen_manually: 1", "set_seqlen_manually: 0"), "f");
  REQUIRE(y.ok());
  CHECK_FALSE(y->seq_length.has_value());
}

TEST_CASE("Galvatron's search settings file: errors name the key", "[interop]") {
  const auto error = [](const std::string& text) {
    auto y = ParseGalvatronSearchYaml(text, "f.yaml");
    REQUIRE_FALSE(y.ok());
    CHECK(y.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(y.status().message());
  };
  CHECK_THAT(error(Replace(kShippedLayout, "bsz_scale: 16", "bsz_scal: 16")),
             Catch::Contains("f.yaml") && Catch::Contains("batch_size_info.bsz_scal") &&
                 Catch::Contains("unknown setting"));
  CHECK_THAT(error(Replace(kShippedLayout, "default_dp_type: zero2", "default_dp_type: zero4")),
             Catch::Contains("parallelism_info.default_dp_type") && Catch::Contains("zero4") &&
                 Catch::Contains("ddp"));
  CHECK_THAT(error(Replace(kShippedLayout, "${MEMORY_CONSTRAINT}", "${MEMORY}")),
             Catch::Contains("hardware_info.memory_constraint") && Catch::Contains("MEMORY"));
  CHECK_THAT(error(Replace(kShippedLayout, "disable_cp: 1", "disable_cp: 0")),
             Catch::Contains("context parallelism"));
  CHECK_THAT(error(Replace(kShippedLayout, "max_bsz: 64", "max_bsz: 8")),
             Catch::Contains("max_bsz"));
  CHECK_THAT(error(Replace(kShippedLayout, "min_bsz: 16", "min_bsz: many")),
             Catch::Contains("min_bsz") && Catch::Contains("integer"));
  CHECK_THAT(error("search_engine: [1, 2"), Catch::Contains("not YAML"));
  CHECK_THAT(error("NUM_NODES: 1\n"), Catch::Contains("search_engine"));
}

TEST_CASE("a missing settings file is NOT_FOUND", "[interop]") {
  auto y = ReadGalvatronSearchYaml("/nonexistent/search_dist.yaml");
  CHECK(y.status().code() == absl::StatusCode::kNotFound);
}

}  // namespace galvatron::interop
