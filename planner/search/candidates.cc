#include "planner/search/candidates.h"

#include <algorithm>

namespace galvatron::search {

namespace {

using cost::DpType;
using cost::EmbeddingStrategy;
using cost::LayerStrategy;

bool WithinLimit(int degree, int limit) { return limit <= 0 || degree <= limit; }

// The dp types offered for one (pp, tp_sp) cell.
std::vector<DpType> DpTypesFor(int dp, const CandidateOptions& o) {
  if (dp == 1) return {DpType::kDdp};
  if (o.galvatron_compatible) {
    // Galvatron: [DDP, ZERO3] for default_dp_type ddp, otherwise [ZERO2, ZERO3].
    return {o.default_dp_type == DpType::kDdp ? DpType::kDdp : DpType::kZero2, DpType::kZero3};
  }
  std::vector<DpType> types;
  if (o.offer_ddp) types.push_back(DpType::kDdp);
  if (o.offer_zero1) types.push_back(DpType::kZero1);
  if (o.offer_zero2) types.push_back(DpType::kZero2);
  types.push_back(DpType::kZero3);  // removed by disable_fsdp in the filter
  return types;
}

// Megatron-SP flags offered for a strategy with Megatron degree tp.
std::vector<bool> MegatronSpFlagsFor(int tp, const CandidateOptions& o) {
  if (o.galvatron_compatible || tp == 1) return {false};
  switch (o.megatron_sp) {
    case MegatronSpChoice::kWithout:
      return {false};
    case MegatronSpChoice::kWith:
      return {true};
    case MegatronSpChoice::kBoth:
      break;
  }
  return {false, true};
}

// generate_strategy_list (3.0, cp disabled): every layer strategy with both
// checkpoint values, before any filter. Duplicates (tp_sp == 1 appears in both
// modes) are removed by the caller.
std::vector<LayerStrategy> GenerateUnfiltered(const CandidateOptions& o) {
  std::vector<LayerStrategy> out;
  const int w = o.world_size;
  if (w <= 0) return out;
  for (int pp = 1; pp <= w; pp *= 2) {
    if (o.num_layers > 0 && pp > o.num_layers) continue;
    if (!WithinLimit(pp, o.max_pp)) continue;
    for (const bool ulysses : {false, true}) {  // Galvatron's ['tp', 'sp']
      for (int tp_sp = 1; tp_sp <= w; tp_sp *= 2) {
        if (!WithinLimit(tp_sp, ulysses ? o.max_sp : o.max_tp)) continue;
        if (static_cast<long long>(tp_sp) * pp > w) continue;
        if (w % (pp * tp_sp) != 0) continue;
        if (!o.galvatron_compatible && o.keep_tp_within_node && o.devices_per_node > 0 &&
            tp_sp > o.devices_per_node) {
          continue;
        }
        const int dp = w / (pp * tp_sp);
        const int tp = ulysses ? 1 : tp_sp;
        const int sp = ulysses ? tp_sp : 1;
        for (const DpType dp_type : DpTypesFor(dp, o)) {
          for (const bool megatron_sp : MegatronSpFlagsFor(tp, o)) {
            for (const bool checkpoint : {false, true}) {
              LayerStrategy s;
              s.pp = pp;
              s.tp = tp;
              s.sp = sp;
              s.dp = dp;
              s.dp_type = dp_type;
              s.checkpoint = checkpoint;
              s.megatron_sp = megatron_sp;
              out.push_back(s);
            }
          }
        }
      }
    }
  }
  return out;
}

// The filters of filter_strategy_list shared by layers and embeddings.
template <typename Strategy>
bool PassesCommonFilters(const Strategy& s, const CandidateOptions& o) {
  if (o.disable_pp && s.pp != 1) return false;
  if (o.disable_tp && s.tp != 1) return false;
  if (o.disable_sp && s.sp != 1) return false;
  if (o.disable_dp && s.dp != 1) return false;
  if (o.disable_fsdp && s.dp_type == DpType::kZero3) return false;
  return true;
}

template <typename Strategy>
void SortUnique(std::vector<Strategy>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

std::vector<LayerStrategy> GenerateLayerStrategies(const CandidateOptions& options) {
  std::vector<LayerStrategy> out;
  for (const LayerStrategy& s : GenerateUnfiltered(options)) {
    if (!PassesCommonFilters(s, options)) continue;
    if (options.disable_ckpt && s.checkpoint) continue;
    out.push_back(s);
  }
  SortUnique(&out);
  return out;
}

std::vector<EmbeddingStrategy> GenerateEmbeddingStrategies(const CandidateOptions& options) {
  std::vector<EmbeddingStrategy> out;
  for (const LayerStrategy& s : GenerateUnfiltered(options)) {
    const EmbeddingStrategy e = cost::AsEmbedding(s);
    if (!PassesCommonFilters(e, options)) continue;
    if (options.disable_embedding_lmhead_tp && e.tp != 1) continue;
    if (options.disable_embedding_lmhead_sp && e.sp != 1) continue;
    out.push_back(e);
  }
  SortUnique(&out);
  return out;
}

}  // namespace galvatron::search
