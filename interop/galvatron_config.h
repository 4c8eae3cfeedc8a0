// Galvatron's strategy files (galvatron_config_*.json, written by the search
// engine's save_results / strategy_list2config and read by the runtime's
// hybrid_parallel_config) ↔ our Plan. Keys, in Galvatron 3.0's order:
//   pp_deg                int
//   tp_sizes_enc          "t,t,..."  per layer: tp_sp degree
//   tp_consecutive_flags  "1,1,..."  per layer (3.0 writes all 1; 2.x 0 = strided TP)
//   dp_types_enc          "0,1,..."  per layer: 1 = ZeRO-3, 0 = default_dp_type
//   use_sp                "0,1,..."  per layer: 1 = Ulysses
//   checkpoint            "0,1,..."  per layer
//   world_size            int        (3.0 only)
//   global_bsz, chunks    int
//   pp_division           "16,16"    layers per stage
//   pipeline_type         "gpipe" | "pipedream_flush"
//   default_dp_type       "ddp" | "zero2"
//   vtp                   int        embedding/head tp_sp degree
//   vsp                   int 0|1    embedding/head Ulysses
//   embed_sdp             int 0|1    embedding/head ZeRO-3 (ignored by Galvatron's
//                                    runtime, which reads vocab_sdp)
//   vocab_sdp             int 1      the same, as the runtime reads it (ours only,
//                                    written when 1)
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::interop {

struct GalvatronConfigOptions {
  // Galvatron's default_dp_type for the layers with dp_types_enc 0: "ddp" or
  // "zero2". Empty: from the plan, "zero2" when a layer or the embedding with
  // dp > 1 uses ZeRO-2, else "ddp". A plan that mixes DDP and ZeRO-2 there
  // cannot be written (the format has one default type).
  std::string default_dp_type;
  // Write the world_size key (Galvatron 3.0 does; 2.x did not).
  bool write_world_size = true;
  // Also write vocab_sdp: 1 for a ZeRO-3 embedding. Galvatron's runtime reads
  // the embedding's ZeRO-3 flag from vocab_sdp (default 0) and ignores the
  // embed_sdp its own search writes, so without it such a plan would run its
  // embedding with the default type.
  bool write_vocab_sdp = true;
};

// The galvatron_config_*.json text for `plan` (as json.dump(indent=4)).
// Needs pp, layers (each tp >= 1, dp >= 1, pp·tp·dp equal for all), and
// pp_division summing to the layer count (empty: Galvatron's even division).
// INVALID_ARGUMENT for what the format cannot express (ZeRO-1, Megatron-SP
// on some TP layers only, mixed DDP/ZeRO-2 with dp > 1) or an inconsistent
// plan. Megatron-SP is a training flag of Galvatron (sequence_parallel), not
// part of the file; the schedule maps GPIPE → "gpipe", 1F1B →
// "pipedream_flush", UNSPECIFIED → "gpipe" (the runtime's default).
absl::StatusOr<std::string> WriteGalvatronConfig(const v1::Plan& plan,
                                                 const GalvatronConfigOptions& options = {});

// What names the file: galvatron_config_{model}_{N}nodes_{G}gpus_per_node_
// {GB}GB_{precision}[_bsz{settle_bsz}][_[{off}_off]].json.
struct GalvatronConfigName {
  std::string model;
  int num_nodes = 1;
  int gpus_per_node = 8;
  int memory_gb = 0;               // Galvatron's memory_constraint (GB of 1024 MB)
  std::string precision = "bf16";  // mixed_precision: bf16, fp16 or fp32
  int settle_bsz = 0;              // > 0: a search for this global batch only
  // Disabled dimensions among dp, tp, pp, fsdp, ckpt (written in that order).
  std::vector<std::string> disabled;
};
std::string GalvatronConfigFileName(const GalvatronConfigName& name);

// The name parts a plan determines: model, memory_gb from the request's
// memory_budget_bytes (rounded down to GiB), precision, settle_bsz when the
// request fixed one global batch, and the disabled dimensions Galvatron names
// ("dp", "tp", "pp", "sdp"/"fsdp" → fsdp, "ckpt"). num_nodes and gpus_per_node
// come from the request's hardware when it has them, else stay 1 and the
// world size.
GalvatronConfigName GalvatronConfigNameForPlan(const v1::Plan& plan);

// Tells Galvatron's strategy files from our Plan JSON, which has no field of
// that name, without judging either: a JSON object with Galvatron's "pp_deg"
// key is a config; anything else (another object, text that is not JSON) is
// not.
struct GalvatronConfigSniff {
  bool is_config = false;
  bool has_world_size = false;  // it has a "world_size" key (Galvatron 3.0)
};
GalvatronConfigSniff SniffGalvatronConfig(const std::string& json);

struct GalvatronConfigReadOptions {
  // Used when the file has no world_size key (Galvatron 2.x and early 3.0
  // files); must match it when both are given. 0: unknown.
  int world_size = 0;
  // Galvatron's sequence_parallel training flag (default on): TP layers
  // (and a TP embedding/head) get SEQUENCE_PARALLEL_MEGATRON.
  bool megatron_sp = true;
};

struct GalvatronConfigImport {
  v1::Plan plan;
  // What the Plan cannot hold, e.g. "layers 3, 4: tp_consecutive_flags 0
  // (strided TP groups of Galvatron 2.x) read as consecutive".
  std::vector<std::string> notes;
};

// Parses a config of Galvatron 3.0 or 2.x (no use_sp / checkpoint /
// world_size keys: Ulysses and checkpointing off, as Galvatron's runtime
// reads them). The Plan gets world_size, pp, schedule, pp_division
// (Galvatron's even division when absent), partition_method EVEN when the
// division is the even one, micro_batches = chunks, global_batch, layers
// (dp = world_size / pp / tp; dp_types_enc 1 → ZERO3, 0 → default_dp_type,
// DDP when dp = 1) and embedding (vocab_tp = vtp, Ulysses when vsp, ZERO3
// when embed_sdp — or vocab_sdp, which the runtime reads — else the default
// type). INVALID_ARGUMENT naming `what` and the key for malformed or
// inconsistent content, and for context or expert parallelism (cp_sizes_enc,
// vcp, ep_sizes_enc > 1), which a Plan cannot express.
absl::StatusOr<GalvatronConfigImport> ImportGalvatronConfig(
    const std::string& json, const std::string& what,
    const GalvatronConfigReadOptions& options = {});

// ImportGalvatronConfig's plan.
absl::StatusOr<v1::Plan> ReadGalvatronConfig(const std::string& json, const std::string& what,
                                             const GalvatronConfigReadOptions& options = {});

}  // namespace galvatron::interop
