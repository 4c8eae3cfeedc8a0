// Collectives as autograd functions in dual pairs (Megatron-Core's
// tensor_parallel/mappings.py): the backward of each is its partner's
// forward, so a layer composes them and gets correct gradients for free.
//
//   forward                      backward              used by
//   CopyToGroup: identity        all-reduce (sum)      column-parallel input
//   ReduceFromGroup: all-reduce  identity              row-parallel output
//   ScatterToGroup: split        all-gather            row-parallel input
//   GatherFromGroup: all-gather  split                 column-parallel output
//   GatherSequence: all-gather   reduce-scatter        Megatron-SP before a column linear
//   ReduceScatterSequence: r-s   all-gather            Megatron-SP after a row linear
//   AllToAllSwap(s, g): all-to-all  all-to-all(g, s)   Ulysses heads ↔ sequence
//
// Each takes its group explicitly and is the identity (no autograd node) when
// the group has one rank. The group is borrowed: it must outlive the
// backward pass (the ParallelContext owns it). Shape errors throw, see
// collectives.h. Float32 and float64 alike.
//
// Thread model: as CommGroup.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "agent/runtime/comm/comm_group.h"

namespace galvatron::runtime {

// The sequence dimension of activations laid out [batch, seq, hidden] (the
// layout of agent/runtime/blocks).
inline constexpr int64_t kSequenceDim = 1;

// Forward identity, backward all-reduce (sum): the input of a computation
// whose parameters are split, whose input gradient is therefore partial.
at::Tensor CopyToGroup(const at::Tensor& x, const CommGroup& group);

// Forward all-reduce (sum), backward identity: partial sums → their sum.
at::Tensor ReduceFromGroup(const at::Tensor& x, const CommGroup& group);

// Forward: this rank's part along `dim`; backward: the parts all-gathered.
at::Tensor ScatterToGroup(const at::Tensor& x, const CommGroup& group, int64_t dim = -1);

// Forward: the parts all-gathered along `dim`; backward: this rank's part.
at::Tensor GatherFromGroup(const at::Tensor& x, const CommGroup& group, int64_t dim = -1);

// Megatron-SP: [b, s/n, h] → [b, s, h] by all-gather; backward
// reduce-scatter (the consumers, column-parallel linears, produce partial
// input gradients).
at::Tensor GatherSequence(const at::Tensor& x, const CommGroup& group, int64_t dim = kSequenceDim);

// Megatron-SP: partial sums [b, s, h] → this rank's [b, s/n, h] of their sum
// by reduce-scatter; backward all-gather.
at::Tensor ReduceScatterSequence(const at::Tensor& x, const CommGroup& group,
                                 int64_t dim = kSequenceDim);

// All-to-all splitting `scatter_dim` and concatenating `gather_dim`; its
// backward is the all-to-all with the two swapped.
at::Tensor AllToAllSwap(const at::Tensor& x, const CommGroup& group, int64_t scatter_dim,
                        int64_t gather_dim);

// Ulysses on [b, s, heads, d]: the sequence gathered, the heads scattered
// ([b, s/n, heads, d] → [b, s, heads/n, d]), and back.
inline at::Tensor SequenceToHeads(const at::Tensor& x, const CommGroup& group) {
  return AllToAllSwap(x, group, /*scatter_dim=*/2, /*gather_dim=*/1);
}
inline at::Tensor HeadsToSequence(const at::Tensor& x, const CommGroup& group) {
  return AllToAllSwap(x, group, /*scatter_dim=*/1, /*gather_dim=*/2);
}

}  // namespace galvatron::runtime
