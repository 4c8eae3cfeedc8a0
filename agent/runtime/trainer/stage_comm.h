// What a pipeline stage's model needs to talk to its peers: BlockComm (the
// interface of agent/runtime/blocks) over a CommGroup with the autograd dual
// pairs of agent/runtime/comm/mappings.h, and the redistribution of
// activations between layers whose (tp, dp, sequence split) differ.
//
// An activation layout says which part of a stage's micro-batch
// [M, s, h] a rank holds: with the stage's ranks numbered 0..S-1 by position,
// position i is tp rank i % tp and dp rank i / tp (common/rank_layout.h); it
// holds samples [dp_rank·M/dp, (dp_rank+1)·M/dp) and, when the sequence is
// split (Megatron-SP, Ulysses), positions [tp_rank·s/tp, (tp_rank+1)·s/tp) of
// it — else the whole sequence, the same on every tp rank.
//
// Thread model: as CommGroup (one thread issues the collectives).
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "agent/runtime/blocks/blocks.h"
#include "agent/runtime/comm/comm_group.h"

namespace galvatron::runtime {

// BlockComm over a borrowed group (it must outlive every backward pass).
class GroupComm final : public BlockComm {
 public:
  explicit GroupComm(const CommGroup* group) : group_(group) {}
  int size() const override { return group_->size(); }
  torch::Tensor GatherSequence(const torch::Tensor& x) override;
  torch::Tensor ReduceScatterSequence(const torch::Tensor& x) override;
  torch::Tensor AllReduce(const torch::Tensor& x) override;
  torch::Tensor CopyToGroup(const torch::Tensor& x) override;
  torch::Tensor VocabCrossEntropy(const torch::Tensor& logits,
                                  const torch::Tensor& labels) override;
  torch::Tensor SequenceToHeads(const torch::Tensor& x) override;
  torch::Tensor HeadsToSequence(const torch::Tensor& x) override;

 private:
  const CommGroup* group_;
};

struct ActivationLayout {
  int tp = 1;
  int dp = 1;
  bool sequence_split = false;

  bool operator==(const ActivationLayout& o) const {
    return dp == o.dp &&
           ((tp == 1 && o.tp == 1) || (tp == o.tp && sequence_split == o.sequence_split));
  }
  bool operator!=(const ActivationLayout& o) const { return !(*this == o); }
  // How many ranks hold each element (the tp ranks, without a sequence split).
  int replicas() const { return sequence_split ? 1 : tp; }
  // The shape of what position `position` holds of a [m, s, h] micro-batch.
  std::vector<int64_t> LocalShape(int64_t m, int64_t s, int64_t h) const;
  // That part of `full` ([m, s, h]), as a view.
  torch::Tensor Slice(const torch::Tensor& full, int position) const;
};

// x, this rank's part of the stage's micro-batch in layout `from`, → its part
// in layout `to`. Forward: every rank places its part in a zero [m, s, h]
// tensor, the stage sums them (all-reduce) and divides by the replicas, and
// each takes its new part; backward does the same with the gradients from
// `to` to `from` (a replicated input's gradients are complete and equal on
// every replica, so they are averaged, not added). `stage` is the stage's
// group (its rank is this rank's position). Returns x itself when the
// layouts are equal.
torch::Tensor Redistribute(const torch::Tensor& x, const ActivationLayout& from,
                           const ActivationLayout& to, const CommGroup& stage, int64_t m,
                           int64_t s);

}  // namespace galvatron::runtime
