#include "agent/runtime/trainer/stage_comm.h"

#include "agent/runtime/comm/collectives.h"
#include "agent/runtime/comm/mappings.h"
#include "agent/runtime/layers/cross_entropy.h"

namespace galvatron::runtime {

torch::Tensor GroupComm::GatherSequence(const torch::Tensor& x) {
  return ::galvatron::runtime::GatherSequence(x, *group_);
}
torch::Tensor GroupComm::ReduceScatterSequence(const torch::Tensor& x) {
  return ::galvatron::runtime::ReduceScatterSequence(x, *group_);
}
torch::Tensor GroupComm::AllReduce(const torch::Tensor& x) { return ReduceFromGroup(x, *group_); }
torch::Tensor GroupComm::CopyToGroup(const torch::Tensor& x) {
  return ::galvatron::runtime::CopyToGroup(x, *group_);
}
torch::Tensor GroupComm::VocabCrossEntropy(const torch::Tensor& logits,
                                           const torch::Tensor& labels) {
  return VocabParallelCrossEntropy(logits, labels, *group_);
}
torch::Tensor GroupComm::SequenceToHeads(const torch::Tensor& x) {
  return ::galvatron::runtime::SequenceToHeads(x, *group_);
}
torch::Tensor GroupComm::HeadsToSequence(const torch::Tensor& x) {
  return ::galvatron::runtime::HeadsToSequence(x, *group_);
}

std::vector<int64_t> ActivationLayout::LocalShape(int64_t m, int64_t s, int64_t h) const {
  return {m / dp, sequence_split ? s / tp : s, h};
}

torch::Tensor ActivationLayout::Slice(const torch::Tensor& full, int position) const {
  const int64_t m = full.size(0) / dp;
  torch::Tensor part = full.narrow(0, (position / tp) * m, m);
  if (!sequence_split) return part;
  const int64_t s = full.size(1) / tp;
  return part.narrow(1, (position % tp) * s, s);
}

namespace {

// Places `part` (layout `from`) into a zero [m, s, h] tensor, sums over the
// stage, divides by the replicas and returns the part of layout `to`.
torch::Tensor Move(const torch::Tensor& part, const ActivationLayout& from,
                   const ActivationLayout& to, const CommGroup& stage, int64_t m, int64_t s) {
  torch::Tensor full = torch::zeros({m, s, part.size(2)}, part.options());
  from.Slice(full, stage.rank).copy_(part);
  full = AllReduce(full, stage);
  if (from.replicas() > 1) full.div_(from.replicas());
  return to.Slice(full, stage.rank).contiguous();
}

struct RedistributeFunction : public torch::autograd::Function<RedistributeFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               int64_t stage_address, int64_t from_tp, int64_t from_dp,
                               bool from_split, int64_t to_tp, int64_t to_dp, bool to_split,
                               int64_t m, int64_t s) {
    ctx->saved_data["stage"] = stage_address;
    ctx->saved_data["from"] = std::vector<int64_t>{from_tp, from_dp, from_split};
    ctx->saved_data["to"] = std::vector<int64_t>{to_tp, to_dp, to_split};
    ctx->saved_data["ms"] = std::vector<int64_t>{m, s};
    const auto* stage = reinterpret_cast<const CommGroup*>(static_cast<intptr_t>(stage_address));
    return Move(x, {static_cast<int>(from_tp), static_cast<int>(from_dp), from_split},
                {static_cast<int>(to_tp), static_cast<int>(to_dp), to_split}, *stage, m, s);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto* stage =
        reinterpret_cast<const CommGroup*>(static_cast<intptr_t>(ctx->saved_data["stage"].toInt()));
    const auto from = ctx->saved_data["from"].toIntVector();
    const auto to = ctx->saved_data["to"].toIntVector();
    const auto ms = ctx->saved_data["ms"].toIntVector();
    ActivationLayout f{static_cast<int>(from[0]), static_cast<int>(from[1]), from[2] != 0};
    ActivationLayout t{static_cast<int>(to[0]), static_cast<int>(to[1]), to[2] != 0};
    torch::Tensor g = Move(grads[0].contiguous(), t, f, *stage, ms[0], ms[1]);
    torch::autograd::variable_list out(10);
    out[0] = g;
    return out;
  }
};

}  // namespace

torch::Tensor Redistribute(const torch::Tensor& x, const ActivationLayout& from,
                           const ActivationLayout& to, const CommGroup& stage, int64_t m,
                           int64_t s) {
  if (from == to) return x;
  return RedistributeFunction::apply(x, static_cast<int64_t>(reinterpret_cast<intptr_t>(&stage)),
                                     from.tp, from.dp, from.sequence_split, to.tp, to.dp,
                                     to.sequence_split, m, s);
}

}  // namespace galvatron::runtime
