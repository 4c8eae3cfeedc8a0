// Candidate strategies for one layer and for the embedding/LM head: the search
// space the per-stage dynamic programme picks from (Galvatron's "decision
// tree" of per-layer strategies).
//
// Pure functions; thread-safe.
#pragma once

#include <vector>

#include "planner/cost/strategy.h"

namespace galvatron::search {

// Which Megatron-TP variants to offer when tp > 1 (extended space only).
enum class MegatronSpChoice {
  kWithout,  // plain Megatron TP (all-reduce)
  kWith,     // Megatron TP + Megatron-SP (all-gather / reduce-scatter)
  kBoth,
};

struct CandidateOptions {
  // Devices the model runs on (W). Degrees are powers of two; a combination
  // whose pp * tp_sp does not divide W is skipped (Galvatron would floor dp and
  // leave devices idle; for the usual power-of-two W the lists are identical).
  int world_size = 8;
  // Total transformer layers of the model: pp <= num_layers. <= 0: no limit.
  int num_layers = 0;
  // Maximum degrees, Galvatron's defaults (max_*_deg = 8). <= 0: no limit.
  int max_pp = 8;
  int max_tp = 8;  // Megatron TP degree (mode "tp")
  int max_sp = 8;  // Ulysses degree (mode "sp")

  // The non-ZeRO-3 data-parallel type offered when dp > 1 in Galvatron's space:
  // kDdp gives [DDP, ZeRO-3], kZero2 gives [ZeRO-2, ZeRO-3]
  // (Galvatron's default_dp_type). Ignored by the extended space, which offers
  // every type allowed below.
  cost::DpType default_dp_type = cost::DpType::kDdp;

  // Galvatron's filter_strategy_list flags.
  bool disable_pp = false;                   // keep pp == 1
  bool disable_tp = false;                   // keep tp == 1 (no Megatron TP)
  bool disable_sp = false;                   // keep sp == 1 (no Ulysses)
  bool disable_dp = false;                   // keep dp == 1
  bool disable_ckpt = false;                 // keep checkpoint == false (layers only)
  bool disable_fsdp = false;                 // no ZeRO-3
  bool disable_embedding_lmhead_tp = false;  // embedding strategies only
  bool disable_embedding_lmhead_sp = false;  // embedding strategies only

  // true: exactly Galvatron 3.0's generate_strategy_list + filter_strategy_list
  // (with cp disabled); the extension fields below are ignored.
  bool galvatron_compatible = false;

  // --- Extended space (galvatron_compatible == false) ---
  MegatronSpChoice megatron_sp = MegatronSpChoice::kBoth;
  // dp types offered when dp > 1 (ZeRO-3 unless disable_fsdp).
  bool offer_ddp = true;
  bool offer_zero1 = true;
  bool offer_zero2 = true;
  // With keep_tp_within_node and devices_per_node > 0: tp_sp <= devices_per_node
  // (TP/Ulysses traffic stays on the intra-node links).
  int devices_per_node = 0;
  bool keep_tp_within_node = true;
};

// All layer strategies, deduplicated and sorted in Galvatron's order (field
// order pp, tp, sp, dp, dp_type, checkpoint; then megatron_sp). With
// galvatron_compatible and W = 8 this is the 50-strategy list of Galvatron's
// tests/search_engine/test_generate_strategies.py.
std::vector<cost::LayerStrategy> GenerateLayerStrategies(const CandidateOptions& options);

// Galvatron's EmbeddingLMHeadStrategy list: the layer strategies before the
// checkpoint filter, without checkpoint, deduplicated and sorted; then the
// pp/tp/sp/dp/fsdp filters and disable_embedding_lmhead_{tp,sp}.
std::vector<cost::EmbeddingStrategy> GenerateEmbeddingStrategies(const CandidateOptions& options);

}  // namespace galvatron::search
