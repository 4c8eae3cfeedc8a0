// Galvatron's search settings file (search_dist.yaml, the file its
// search_dist.sh passes to the search engine) → the settings our offline
// search takes, one to one where we have the setting:
//
//   NUM_NODES, ... (top level)            values for ${NAME} references below
//   search_engine.profiling_info          time_profile_mode, memory_profile_mode
//   search_engine.model_info              model_size (a catalog name), ...
//   search_engine.common_train_info       seq_length, sequence_parallel,
//                                         global_memory_buffer
//   search_engine.parallelism_info        default_dp_type, pipeline_type,
//                                         async_grad_reduce, mixed_precision
//   search_engine.hardware_info           num_nodes, num_gpus_per_node,
//                                         memory_constraint (GB)
//   search_engine.batch_size_info         min_bsz, max_bsz, bsz_scale,
//                                         settle_bsz, settle_chunk,
//                                         recommend_min_bsz
//   search_engine.search_space_info       disable_*, max_tp_deg, max_pp_deg,
//                                         max_sp_deg, disable_cp, max_cp_deg
//   search_engine.options_info            fine_grained_mode, parallel_search,
//                                         worker, log_dir, output_config_path
//   search_engine.debug_info              debug_costmodel_coe
//
// A value written `${NAME}` takes the top-level NAME's value (OmegaConf's
// interpolation, the only form Galvatron's files use). Keys Galvatron's
// schema does not have are errors; keys we read but do not act on (they
// change how Galvatron's own engine runs, not the plan) are listed in
// `ignored` with the reason. Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galvatron::interop {

struct GalvatronSearchYaml {
  std::optional<std::string> model_size;
  std::optional<int> seq_length;
  std::optional<std::string> time_profile_mode;
  std::optional<std::string> memory_profile_mode;
  std::optional<bool> sequence_parallel;
  std::optional<bool> global_memory_buffer;
  std::optional<bool> async_grad_reduce;
  std::optional<std::string> default_dp_type;  // ddp | zero2 | zero3
  std::optional<std::string> pipeline_type;    // gpipe | pipedream_flush
  std::optional<std::string> mixed_precision;  // bf16 | fp16 | fp32
  std::optional<int> num_nodes;
  std::optional<int> gpus_per_node;
  std::optional<double> memory_constraint_gb;
  std::optional<int> min_bsz, max_bsz, bsz_scale, settle_bsz, settle_chunk;
  // Galvatron's disable_* switches that are on, by our dimension names
  // (dp, tp, sp, pp, ckpt, sdp, embedding_tp, embedding_sp).
  std::vector<std::string> disabled;
  std::optional<int> max_tp_deg, max_pp_deg, max_sp_deg;
  std::optional<bool> fine_grained;
  std::optional<double> costmodel_coe;
  // "key: value (why it does not change the plan)".
  std::vector<std::string> ignored;
};

// INVALID_ARGUMENT naming `what` and the key path for malformed YAML, an
// unknown key, a value of the wrong type or outside Galvatron's choices, an
// unresolved ${NAME}, and settings we cannot honour (context parallelism on).
absl::StatusOr<GalvatronSearchYaml> ParseGalvatronSearchYaml(const std::string& text,
                                                             const std::string& what);

// Reads and parses the file at `path` (NOT_FOUND when missing).
absl::StatusOr<GalvatronSearchYaml> ReadGalvatronSearchYaml(const std::string& path);

}  // namespace galvatron::interop
