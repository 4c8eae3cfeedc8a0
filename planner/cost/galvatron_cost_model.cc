// Mode::kGalvatron: Galvatron 3.0's cost model (commit cea12ff), formula by
// formula and quirk by quirk, in its units (MB, ms) until the results leave
// as seconds:
//   galvatron/core/cost_model/components/layer_cost.py        Layer()
//   galvatron/core/cost_model/components/embedding_lmhead_cost.py  Embedding()
//   galvatron/core/search_engine/dynamic_programming.py       Switch(), GlobalBufferMb()
//   galvatron/core/cost_model/cost_model_handler.py           PipelineSeconds()
// Each function names the Python it follows; docs/galvatron-mapping.md says
// where each of Galvatron's profile figures sits in our messages.
#include <algorithm>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "planner/cost/cost_model_impl.h"

namespace galvatron::cost {
namespace {

using analytic::ActivationSharding;
using analytic::EmbeddingPart;
using Op = HardwareTables::Op;

class GalvatronCostModel final : public CostModelBase {
 public:
  using CostModelBase::CostModelBase;

  LayerCost Layer(int layer_type, const LayerStrategy& s, int global_batch, int chunks,
                  int stage) const override;
  double Switch(int layer_type, const LayerStrategy& from, const LayerStrategy& to,
                int global_batch, int chunks) const override;
  EmbeddingCost Embedding(const EmbeddingStrategy& e, int global_batch, int chunks) const override;
  double GlobalBufferMb(int global_batch, int chunks, int pp, int global_buffer_tp) const override;
  double PipelineSeconds(const std::vector<double>& stage_no_sync,
                         const std::vector<double>& stage_with_sync, int chunks) const override;

 private:
  // MemoryCostModelBase.initialize: the zero2/zero3 model-state ratios.
  double StateRatio(DpType type, int sdp, int chunks) const;
  // The tp_activation_per_bsz_dict of this layer type: the `_sp` table with
  // sequence_parallel, else the plain one (the other when only one exists).
  const ActivationTable* ActTable(const LayerTypeData& t) const;
  double ActivationMb(const LayerTypeData& t, int tp_sp, bool sharded) const;
  double CheckpointMb(const LayerTypeData& t) const;
  // TimeCostModelBase.bct_dp_overlap: returns overlap_part + rest_part.
  double BctDpOverlap(double dp_message, double bct, double dc) const;
  // EmbeddingLMHeadTimeCostModel.get_overlap_time.
  double OverlapTime(double fwd_comm, double fwd_comp, double bwd_comm, double bwd_comp,
                     double tp_sp_time) const;
  int ActivationBytes() const { return in_.mixed_precision ? 2 : 4; }
};

double GalvatronCostModel::StateRatio(DpType type, int sdp, int chunks) const {
  const double d = sdp, x = 1 / d + 0.003;
  const bool mixed = in_.mixed_precision;
  switch (type) {
    case DpType::kDdp:
      return 1;
    case DpType::kZero1:
      // Not in Galvatron (its dp types are DDP, ZeRO-2, ZeRO-3): our kDefault
      // share, (4 + 12/d) of 16 bytes per parameter.
      return (4 + 12 / d) / 16;
    case DpType::kZero2:
      if (chunks == 1) return mixed ? 7.0 / 8 * x + 1.0 / 8 : 3.0 / 4 * x + 1.0 / 4;
      if (options_.async_grad_reduce) return mixed ? 6.0 / 8 * x + 2.0 / 8 : 2.0 / 4 * x + 2.0 / 4;
      // Quirk: the ×5/4 for fp32 gradients is applied only under mixed precision.
      return mixed ? (7.0 / 8 * x + 1.0 / 8) * 5 / 4 : 3.0 / 4 * x + 1.0 / 4;
    case DpType::kZero3:
      if (chunks == 1) return x;
      if (options_.async_grad_reduce) return mixed ? 7.0 / 8 * x + 1.0 / 8 : 3.0 / 4 * x + 1.0 / 4;
      return x * 5 / 4;
  }
  return 1;
}

const ActivationTable* GalvatronCostModel::ActTable(const LayerTypeData& t) const {
  const ActivationTable* order_sp[] = {&t.act_megatron, &t.act_ulysses, &t.act_none};
  const ActivationTable* order_plain[] = {&t.act_none, &t.act_megatron, &t.act_ulysses};
  for (const ActivationTable* a : options_.sequence_parallel ? order_sp : order_plain) {
    if (!a->empty()) return a;
  }
  return nullptr;
}

double GalvatronCostModel::ActivationMb(const LayerTypeData& t, int tp_sp, bool sharded) const {
  if (const ActivationTable* a = ActTable(t)) return a->per_sample.Lookup(tp_sp);
  return AnalyticActivationMb(in_, t, tp_sp,
                              tp_sp == 1 ? ActivationSharding::kNone
                              : sharded  ? ActivationSharding::kShardedAll
                                         : ActivationSharding::kMegatronTp);
}

double GalvatronCostModel::CheckpointMb(const LayerTypeData& t) const {
  const ActivationTable* a = ActTable(t);
  if (a != nullptr && a->checkpoint_mb > 0) return a->checkpoint_mb;
  for (const ActivationTable* b : {&t.act_megatron, &t.act_none, &t.act_ulysses}) {
    if (b->checkpoint_mb > 0) return b->checkpoint_mb;
  }
  return AnalyticCheckpointMb(in_, t);
}

double GalvatronCostModel::BctDpOverlap(double dp_message, double bct, double dc) const {
  const double ov = cluster_.overlap_coe;
  const double dc_overlap = dc * ov;
  const double dp_overlap_time = dp_message * dc_overlap;
  const double bct_overlap_time = bct * ov;
  if (dp_overlap_time > bct_overlap_time) {
    return bct_overlap_time + (dp_message - bct_overlap_time / dc_overlap) * dc;
  }
  if (dp_overlap_time < bct_overlap_time) {
    return dp_overlap_time + (bct - dp_overlap_time / ov);
  }
  return bct_overlap_time;
}

double GalvatronCostModel::OverlapTime(double fwd_comm, double fwd_comp, double bwd_comm,
                                       double bwd_comp, double tp_sp_time) const {
  const double ov = cluster_.overlap_coe;
  fwd_comp *= ov;
  bwd_comp *= ov;
  const double fwd = fwd_comp > fwd_comm ? fwd_comm + (fwd_comp - fwd_comm) / ov : fwd_comm;
  const double bwd = bwd_comp > bwd_comm ? bwd_comm + (bwd_comp - bwd_comm) / ov : bwd_comm;
  return fwd + bwd + tp_sp_time;
}

// TimeCostModelBase + MemoryCostModelBase (layer_cost.py).
LayerCost GalvatronCostModel::Layer(int layer_type, const LayerStrategy& strategy, int global_batch,
                                    int chunks, int stage) const {
  // StrategyBase._check_and_fix_sdp: with sdp = 1 the dp type is DDP.
  LayerStrategy s = strategy;
  if (s.sdp() == 1) s.dp_type = DpType::kDdp;
  const LayerTypeData& t = in_.types[layer_type];
  const double L = t.count;  // Galvatron's layer_num: layers of this type
  const int tp_sp = s.tp_sp(), sdp = s.sdp();
  const bool zero3 = s.dp_type == DpType::kZero3;
  // NOTE (Galvatron): lbsz uses dp, not sdp, and floors.
  const int lbsz = global_batch / std::max(chunks, 1) / std::max(s.dp, 1);
  const double parameter_mb = t.info.parameter_mb / s.tp;

  // estimate_computation_time: fct = f(lbsz / tp_sp)·L; bct = 2·fct (+fct).
  const double fct = t.forward.At(static_cast<double>(lbsz) / tp_sp) * L;
  double bct = fct * options_.bct_fct_coe;
  if (s.checkpoint) bct += fct;

  // estimate_dp_communication_time.
  double dp_message = 2.0 * (sdp - 1) * (parameter_mb / sdp) * L;
  if (in_.mixed_precision) dp_message /= 2;
  const double fsdp_allgather_message = dp_message * 0.5;
  // comm_coe_dict['{sdp}_0' if tp > 1 else '{sdp}_1'].
  const double dc = hw_.AllReduceCoeMsPerMb(sdp, /*consecutive=*/s.tp == 1);

  // estimate_tp_communication_time: Ulysses 4·L all-to-alls, Megatron TP
  // 6·L all-gathers (0.5 × the raw all-reduce latency), ×1.5 with checkpoint.
  double tp_time = 0;
  if (tp_sp > 1) {
    double count = 0;
    Op op = Op::kAllToAll;
    int size = s.sp;
    if (s.tp == 1) {
      count = 4 * L;
    } else {
      count = 6 * L;
      op = Op::kAllGather;
      size = s.tp;
    }
    if (s.checkpoint) count *= 1.5;
    const double message_mb = static_cast<double>(static_cast<int64_t>(lbsz) * t.info.seq_len *
                                                  t.info.hidden * ActivationBytes()) /
                              1024 / 1024;
    tp_time = hw_.GalvatronLatencyMs(op, size, message_mb) * count;
  }

  // estimate_pp_communication_time.
  double p2p_time = 0;
  if (s.pp > 1) {
    double p2p_message = s.pp * 2.0 * lbsz * t.info.seq_len * t.info.hidden * 4 / 1024 / 1024;
    if (in_.mixed_precision) p2p_message /= 2;
    p2p_time = p2p_message * hw_.P2pCoeMsPerMb(s.pp);
  }

  // get_result: the branch is chosen on dp, not sdp, so Ulysses with dp = 1
  // has no gradient synchronisation (quirk kept).
  const auto result = [&](double factor) {
    double r = 0;
    if (tp_sp == 1 && s.dp > 1) {
      r = fct + BctDpOverlap(dp_message * factor, bct, dc);
    } else if (s.dp == 1 && tp_sp > 1) {
      r = fct + bct + tp_time;
    } else if (s.dp == 1 && tp_sp == 1) {
      r = fct + bct;
    } else {
      r = fct + BctDpOverlap(dp_message * factor, bct, dc) + tp_time;
    }
    // ZeRO-3's forward all-gather, with or without gradient sync.
    if (zero3) r += fsdp_allgather_message * dc;
    if (s.pp > 1) r += p2p_time;
    return r * (0.001 * options_.costmodel_coe) / L;
  };

  LayerCost out;
  out.seconds = result(1);
  out.seconds_no_sync = result(0);
  out.compute_seconds = (fct + bct) * (0.001 * options_.costmodel_coe) / L;

  // MemoryCostModelBase.
  int cumulative = 1;
  if (s.pp > 1) cumulative = options_.schedule == Schedule::k1F1B ? s.pp - stage : chunks;
  const double cumulative_lbsz = static_cast<double>(cumulative) * lbsz;
  const double model_states = 4 * parameter_mb * StateRatio(s.dp_type, sdp, chunks);
  double activation = 0;
  if (s.checkpoint) {
    activation = CheckpointMb(t) * cumulative_lbsz;
    if (s.sp > 1 || (s.tp > 1 && options_.sequence_parallel)) activation /= tp_sp;
  } else {
    activation = ActivationMb(t, tp_sp, s.sp > 1 || options_.sequence_parallel) * cumulative_lbsz;
  }
  out.memory_mb = model_states + activation;
  out.states_mb = model_states;
  return out;
}

// DpOnModel._build_dp_and_run_multi_layer_type, "[Step 7] inter-layer cost".
double GalvatronCostModel::Switch(int layer_type, const LayerStrategy& from,
                                  const LayerStrategy& to, int global_batch, int chunks) const {
  if (from == to) return 0;
  if (options_.sequence_parallel && from.tp_sp() != to.tp_sp()) {
    const int g = std::max(from.tp_sp(), to.tp_sp());
    const int cur_dp = std::max(1, cluster_.world_size / std::max(from.pp, 1) / g);
    const double cur_lbsz = static_cast<double>(global_batch) / chunks / cur_dp;
    const double single_sample =
        static_cast<double>(in_.types[layer_type].info.seq_len) * in_.hidden * ActivationBytes();
    const double bytes = static_cast<double>(g - 1) / g * cur_lbsz * single_sample;
    // comm_coe_dict['g'] or ['g_1']: the consecutive group; 1e-7 is
    // Galvatron's empirical factor (bytes × ms/MB would need ~9.5e-10).
    return bytes * (hw_.AllReduceCoeMsPerMb(g, true) * 1e-7);
  }
  // Tie-break biases (match_strategy), applied in Galvatron's order.
  const bool same_pp = from.pp == to.pp, same_dp = from.dp == to.dp;
  const bool same_tp_sp_kind = from.tp == to.tp && from.sp == to.sp;
  const bool same_type = from.dp_type == to.dp_type, same_ckpt = from.checkpoint == to.checkpoint;
  const bool m_sp = same_pp && from.tp_sp() == to.tp_sp() && same_dp && same_ckpt && same_type &&
                    from.sp != to.sp;
  const bool m_fsdp = same_pp && same_tp_sp_kind && same_dp && same_ckpt && !same_type;
  const bool m_cpt = same_pp && same_tp_sp_kind && same_dp && same_type && !same_ckpt;
  const bool m_fc = same_pp && same_tp_sp_kind && same_dp && !(same_type && same_ckpt);
  double bias = 0;
  if (m_sp && to.sp > 1) bias = 1e-10;                                     // tp -> sp
  if (m_fsdp && to.dp_type == DpType::kZero3) bias = 1e-9;                 // -> f
  if (m_cpt && to.checkpoint) bias = 2e-9;                                 // -> c
  if (m_fc && to.dp_type == DpType::kZero3 && to.checkpoint) bias = 3e-9;  // -> fc
  if (m_fc && !m_fsdp && !m_cpt && from.dp_type == DpType::kZero3 && to.checkpoint) {
    bias = 1e-9;  // f -> c
  }
  return bias;
}

// EmbeddingLMHeadTimeCostModel + EmbeddingLMHeadMemoryCostModel.
EmbeddingCost GalvatronCostModel::Embedding(const EmbeddingStrategy& strategy, int global_batch,
                                            int chunks) const {
  EmbeddingStrategy e = strategy;
  if (e.sdp() == 1) e.dp_type = DpType::kDdp;  // _check_and_fix_sdp
  const int pp = std::max(e.pp, 1);
  const int tp_sp = e.tp_sp(), sdp = e.sdp();
  const int lbsz = global_batch / std::max(chunks, 1) / std::max(e.dp, 1);
  const EmbeddingData& emb = in_.embedding;
  EmbeddingCost out;
  out.seconds.assign(pp, 0);
  out.seconds_no_sync.assign(pp, 0);
  out.compute_seconds.assign(pp, 0);
  out.memory_mb.assign(pp, 0);
  const int last = pp - 1;

  // estimate_computation_time: half on the first, half on the last stage.
  const double fct_time = emb.forward.At(static_cast<double>(lbsz) / tp_sp);
  std::vector<double> fct(pp, 0);
  if (pp == 1) {
    fct[0] = fct_time;
  } else {
    fct[0] = fct_time / 2;
    fct[last] = fct_time / 2;
  }

  // estimate_dp_communication_time: message = model_states / 4 (× 0.5 mixed).
  const double dp_coe = hw_.AllReduceCoeMsPerMb(sdp, /*consecutive=*/e.tp == 1) * (sdp - 1) / sdp;
  const double factor = in_.mixed_precision ? 0.5 : 1.0;
  std::vector<double> dp_message(pp, 0);
  if (pp == 1) {
    dp_message[0] = EmbeddingStatesMb(EmbeddingPart::kAll, e.tp) / 4 * factor;
  } else {
    dp_message[0] = EmbeddingStatesMb(EmbeddingPart::kFirst, e.tp) / 4 * factor;
    dp_message[last] = EmbeddingStatesMb(EmbeddingPart::kLast, e.tp) / 4 * factor;
  }
  const bool zero3 = e.dp_type == DpType::kZero3;
  const double fwd_factor = zero3 ? 0.5 : 0.0;
  const double bwd_factor = zero3 ? 1.0 : 0.5;

  // estimate_tp_communication_time: one all-gather per end under Megatron TP
  // (the first and the last layer type's sequence length), none under Ulysses.
  const auto tp_time_at = [&](int seq) {
    if (tp_sp == 1 || e.tp == 1) return 0.0;
    const double mb =
        static_cast<double>(static_cast<int64_t>(lbsz) * seq * in_.hidden * ActivationBytes()) /
        1024 / 1024;
    return hw_.GalvatronLatencyMs(Op::kAllGather, e.tp, mb);
  };
  const double tp_first = tp_time_at(in_.types.front().info.seq_len);
  const double tp_last = tp_time_at(in_.types.back().info.seq_len);
  std::vector<double> tp_sp_time(pp, 0);
  if (pp == 1) {
    tp_sp_time[0] = tp_first + tp_last;
  } else {
    tp_sp_time[0] = tp_first;
    tp_sp_time[last] = tp_last;
  }

  // gen_result (ms → s, no costmodel_coe).
  for (int i : {0, last}) {
    const double comm = dp_message[i] * dp_coe;
    out.seconds[i] = 0.001 * OverlapTime(comm * fwd_factor, fct[i], comm * bwd_factor,
                                         fct[i] * options_.bct_fct_coe, tp_sp_time[i]);
    out.seconds_no_sync[i] =
        0.001 * OverlapTime(comm * fwd_factor, fct[i], comm * (bwd_factor - 0.5),
                            fct[i] * options_.bct_fct_coe, tp_sp_time[i]);
  }

  // EmbeddingLMHeadMemoryCostModel: states[tp]·ratio + activation[tp_sp]·
  // cumulative lbsz (first stage pp micro-batches under 1F1B, last 1; GPipe
  // chunks) + the runtime context on every stage.
  const double ratio = StateRatio(e.dp_type, sdp, chunks);
  std::vector<double> states(pp, 0), activation(pp, 0);
  if (pp == 1) {
    states[0] = EmbeddingStatesMb(EmbeddingPart::kAll, e.tp) * ratio;
    activation[0] = EmbeddingActivationMb(EmbeddingPart::kAll, tp_sp) * lbsz;
  } else {
    states[0] = EmbeddingStatesMb(EmbeddingPart::kFirst, e.tp) * ratio;
    states[last] = EmbeddingStatesMb(EmbeddingPart::kLast, e.tp) * ratio;
    const bool one_f_one_b = options_.schedule == Schedule::k1F1B;
    const double first_lbsz = static_cast<double>(one_f_one_b ? pp : chunks) * lbsz;
    const double last_lbsz = static_cast<double>(one_f_one_b ? 1 : chunks) * lbsz;
    activation[0] = EmbeddingActivationMb(EmbeddingPart::kFirst, tp_sp) * first_lbsz;
    activation[last] = EmbeddingActivationMb(EmbeddingPart::kLast, tp_sp) * last_lbsz;
  }
  for (int i = 0; i < pp; ++i) out.memory_mb[i] = states[i] + activation[i] + cluster_.context_mb;
  return out;
}

// DpOnModel: "[Step 2] Calculate some extra memory cost".
double GalvatronCostModel::GlobalBufferMb(int global_batch, int chunks, int pp,
                                          int global_buffer_tp) const {
  if (!(options_.sequence_parallel && options_.global_memory_buffer)) return 0;
  const int cur_dp =
      std::max(1, cluster_.world_size / std::max(pp, 1) / std::max(global_buffer_tp, 1));
  const double cur_lbsz = static_cast<double>(global_batch) / chunks / cur_dp;
  const double global_memory = cur_lbsz * in_.hidden * in_.max_seq * 4 / 1024 / 1024;
  // Quirk: `if config.parallelism_info.mixed_precision:` tests a string
  // ('bf16', 'fp16' or 'fp32'), so the buffer is halved even in fp32.
  return global_memory / 2;
}

// cost_model_handler.pipeline_costmodel ("p2p & reduce async"). The
// steady state is charged at the last stage's time, c[pp−1]·(chunks − 1), or,
// when stage 0 is the slowest, at stage 0's with the warm-up and cool-down
// bubbles overlapped. Quirk kept: a middle stage slower than both ends is
// never charged for its `chunks` micro-batches, so uneven splits can be
// predicted faster than their slowest stage can compute (the search warns).
double GalvatronCostModel::PipelineSeconds(const std::vector<double>& c,
                                           const std::vector<double>& r, int chunks) const {
  const int pp = static_cast<int>(c.size());
  if (pp == 0) return 0;
  const double total = std::accumulate(c.begin(), c.end(), 0.0);
  const double rest = total - c[0];
  double result = total + c.back() * (chunks - 1);
  // Warm-up and cool-down bubbles may overlap when stage 0 is the slowest.
  const double first = std::min(pp - 1, chunks - 1) * c[0];
  result = std::max(result, std::max(first * 1 / 3, rest * 1 / 3) +
                                std::max(first * 2 / 3, rest * 2 / 3) +
                                c[0] * std::max(0, chunks + 1 - pp));
  return result + ExposedSyncSeconds(c, r);
}

}  // namespace

std::unique_ptr<CostModel> MakeGalvatronCostModel(CostInputs inputs, HardwareTables hardware,
                                                  ClusterFacts cluster, CostOptions options) {
  return std::make_unique<GalvatronCostModel>(std::move(inputs), std::move(hardware), cluster,
                                              std::move(options));
}

}  // namespace galvatron::cost
