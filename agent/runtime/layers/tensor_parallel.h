// Megatron's tensor-parallel layers, built only from the dual-pair mappings
// of agent/runtime/comm/mappings.h: no layer calls a collective directly.
// Each rank holds the slice of the full-size parameter that a single process
// would create from the same seed (layers/init.h), so the sharded model
// computes exactly what the single-process model computes.
//
// Activations are laid out [batch, seq, hidden]; with sequence parallelism
// each rank holds [batch, seq/n, hidden] (the slice of the sequence at its
// index in the group).
//
// Construct through the Make* functions, which check the options against the
// group and return INVALID_ARGUMENT naming the field; the constructors assume
// checked options. The group is borrowed from the ParallelContext.
//
// Thread-compatible (LibTorch modules).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/comm/comm_group.h"
#include "agent/runtime/comm/mappings.h"
#include "agent/runtime/layers/init.h"

namespace galvatron::runtime {

struct ColumnParallelLinearOptions {
  int64_t in = 0;   // full input features
  int64_t out = 0;  // full output features, split over the group
  bool bias = true;
  // Concatenate the ranks' outputs (Y) instead of returning this rank's Y_i.
  bool gather_output = false;
  // Megatron-SP: the input is this rank's slice of the sequence, all-gathered
  // before the product (whose input gradient is then reduce-scattered).
  bool sequence_parallel = false;
  int64_t sequence_dim = kSequenceDim;
  ParameterInit init;
};

// Y = XA + b with A split along its columns, A = [A_1 … A_p], and b
// likewise: rank i computes Y_i = X A_i + b_i. X is needed whole on every
// rank, so its gradient is the sum of the ranks' partial gradients
// (CopyToGroup: identity forward, all-reduce backward).
class ColumnParallelLinearImpl : public torch::nn::Module {
 public:
  ColumnParallelLinearImpl(const ColumnParallelLinearOptions& options, const CommGroup& group);
  // [..., in] (or [b, s/n, in] with sequence_parallel) → [..., out/p], or
  // [..., out] with gather_output.
  at::Tensor forward(const at::Tensor& x);

  const at::Tensor& weight() const { return weight_; }  // [out/p, in]: rows of the full weight
  const at::Tensor& bias() const { return bias_; }      // [out/p]; undefined without bias
  const ColumnParallelLinearOptions& options() const { return options_; }

 private:
  ColumnParallelLinearOptions options_;
  const CommGroup* group_;
  at::Tensor weight_, bias_;
};
TORCH_MODULE(ColumnParallelLinear);

absl::StatusOr<ColumnParallelLinear> MakeColumnParallelLinear(
    const ColumnParallelLinearOptions& options, const CommGroup& group);

struct RowParallelLinearOptions {
  int64_t in = 0;   // full input features, split over the group
  int64_t out = 0;  // full output features
  bool bias = true;
  // The input already is this rank's X_i (e.g. a column-parallel output);
  // false: split the whole X here.
  bool input_is_parallel = true;
  // Megatron-SP: reduce-scatter the output along the sequence instead of
  // all-reducing it (requires input_is_parallel).
  bool sequence_parallel = false;
  int64_t sequence_dim = kSequenceDim;
  ParameterInit init;
};

// Y = XA + b with A split along its rows and X along its columns,
//   A = [A_1; …; A_p], X = [X_1 … X_p]: Y = Σ_i X_i A_i + b.
// Rank i computes the partial product X_i A_i; the sum is an all-reduce (or,
// with Megatron-SP, a reduce-scatter along the sequence). b is whole on every
// rank and added once, after the sum.
class RowParallelLinearImpl : public torch::nn::Module {
 public:
  RowParallelLinearImpl(const RowParallelLinearOptions& options, const CommGroup& group);
  // [..., in/p] (or [..., in] without input_is_parallel) → [..., out], or
  // [b, s/n, out] with sequence_parallel.
  at::Tensor forward(const at::Tensor& x);

  const at::Tensor& weight() const { return weight_; }  // [out, in/p]: columns of the full weight
  const at::Tensor& bias() const { return bias_; }      // [out], replicated
  const RowParallelLinearOptions& options() const { return options_; }

  // Parameters replicated over the group but computed from this rank's slice
  // of the sequence (the bias, with sequence_parallel): their gradients are
  // partial and must be summed over the group before the optimizer step
  // (Megatron's finalize_model_grads does this for "sequence_parallel"
  // parameters).
  std::vector<at::Tensor> sequence_parallel_parameters() const;

 private:
  RowParallelLinearOptions options_;
  const CommGroup* group_;
  at::Tensor weight_, bias_;
};
TORCH_MODULE(RowParallelLinear);

absl::StatusOr<RowParallelLinear> MakeRowParallelLinear(const RowParallelLinearOptions& options,
                                                        const CommGroup& group);

struct VocabParallelEmbeddingOptions {
  int64_t vocab = 0;  // full vocabulary, split over the group in contiguous ranges
  int64_t hidden = 0;
  // Megatron-SP: reduce-scatter the output along the sequence, entering the
  // sequence-parallel region, instead of all-reducing it.
  bool sequence_parallel = false;
  int64_t sequence_dim = kSequenceDim;
  ParameterInit init;
};

// E[ids] with the table E split along the vocabulary: rank i holds rows
// [i·V/p, (i+1)·V/p). Each rank looks up the ids in its range (others read
// zeros) and the ranks' results are summed, so every id is found exactly
// once.
class VocabParallelEmbeddingImpl : public torch::nn::Module {
 public:
  VocabParallelEmbeddingImpl(const VocabParallelEmbeddingOptions& options, const CommGroup& group);
  // ids [b, s] (int64) → [b, s, hidden] (or [b, s/n, hidden] with sequence_parallel).
  at::Tensor forward(const at::Tensor& ids);

  const at::Tensor& weight() const { return weight_; }  // [vocab/p, hidden]
  int64_t vocab_start() const { return vocab_start_; }
  int64_t vocab_end() const { return vocab_end_; }

 private:
  VocabParallelEmbeddingOptions options_;
  const CommGroup* group_;
  int64_t vocab_start_ = 0, vocab_end_ = 0;
  at::Tensor weight_;
};
TORCH_MODULE(VocabParallelEmbedding);

absl::StatusOr<VocabParallelEmbedding> MakeVocabParallelEmbedding(
    const VocabParallelEmbeddingOptions& options, const CommGroup& group);

}  // namespace galvatron::runtime
