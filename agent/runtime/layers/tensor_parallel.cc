#include "agent/runtime/layers/tensor_parallel.h"

#include <ATen/ATen.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

absl::Status CheckPositive(const char* field, int64_t value) {
  if (value >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", value, ", expected >= 1"));
}

// `field` is split over the group: the group size must divide it.
absl::Status CheckSplits(const char* field, int64_t value, const CommGroup& group) {
  RETURN_IF_ERROR(CheckPositive(field, value));
  if (value % group.size() == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", value,
                                                 ", expected a multiple of the group size ",
                                                 group.size(), " (ranks ", group.Describe(), ")"));
}

absl::Status CheckInit(const ParameterInit& init) {
  if (!at::isFloatingType(init.dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("init.dtype: ", c10::toString(init.dtype), ", expected a floating type"));
  }
  if (!(init.weight_std >= 0) || !(init.bias_std >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("init.weight_std: ", init.weight_std,
                                                   ", init.bias_std: ", init.bias_std,
                                                   ", expected >= 0"));
  }
  return absl::OkStatus();
}

// This rank's contiguous part of `full` along `dim`, as a tensor of its own
// (the full tensor is freed once the constructor returns).
at::Tensor Shard(const at::Tensor& full, int64_t dim, const CommGroup& group) {
  const int64_t part = full.size(dim) / group.size();
  return full.narrow(dim, group.rank * part, part).clone(at::MemoryFormat::Contiguous);
}

}  // namespace

ColumnParallelLinearImpl::ColumnParallelLinearImpl(const ColumnParallelLinearOptions& options,
                                                   const CommGroup& group)
    : options_(options), group_(&group) {
  FullLinear full = InitFullLinear(options.in, options.out, options.bias, options.init);
  weight_ = register_parameter("weight", Shard(full.weight, 0, group));
  if (options.bias) bias_ = register_parameter("bias", Shard(full.bias, 0, group));
}

at::Tensor ColumnParallelLinearImpl::forward(const at::Tensor& x) {
  const at::Tensor input = options_.sequence_parallel
                               ? GatherSequence(x, *group_, options_.sequence_dim)
                               : CopyToGroup(x, *group_);
  const at::Tensor y = at::linear(input, weight_, bias_);
  return options_.gather_output ? GatherFromGroup(y, *group_, -1) : y;
}

absl::StatusOr<ColumnParallelLinear> MakeColumnParallelLinear(
    const ColumnParallelLinearOptions& options, const CommGroup& group) {
  RETURN_IF_ERROR(CheckPositive("in", options.in));
  RETURN_IF_ERROR(CheckSplits("out", options.out, group));
  RETURN_IF_ERROR(CheckInit(options.init));
  if (options.sequence_parallel && options.gather_output) {
    // Megatron's rule: the sequence-parallel region ends at a row-parallel
    // linear, never at a gathered column-parallel output.
    return absl::InvalidArgumentError("gather_output: true, expected false with sequence_parallel");
  }
  return ColumnParallelLinear(options, group);
}

RowParallelLinearImpl::RowParallelLinearImpl(const RowParallelLinearOptions& options,
                                             const CommGroup& group)
    : options_(options), group_(&group) {
  FullLinear full = InitFullLinear(options.in, options.out, options.bias, options.init);
  weight_ = register_parameter("weight", Shard(full.weight, 1, group));
  if (options.bias) bias_ = register_parameter("bias", full.bias);
}

at::Tensor RowParallelLinearImpl::forward(const at::Tensor& x) {
  const at::Tensor input = options_.input_is_parallel ? x : ScatterToGroup(x, *group_, -1);
  const at::Tensor partial = at::linear(input, weight_);
  const at::Tensor y = options_.sequence_parallel
                           ? ReduceScatterSequence(partial, *group_, options_.sequence_dim)
                           : ReduceFromGroup(partial, *group_);
  return bias_.defined() ? y + bias_ : y;
}

std::vector<at::Tensor> RowParallelLinearImpl::sequence_parallel_parameters() const {
  if (!options_.sequence_parallel || !bias_.defined() || group_->size() == 1) return {};
  return {bias_};
}

absl::StatusOr<RowParallelLinear> MakeRowParallelLinear(const RowParallelLinearOptions& options,
                                                        const CommGroup& group) {
  RETURN_IF_ERROR(CheckSplits("in", options.in, group));
  RETURN_IF_ERROR(CheckPositive("out", options.out));
  RETURN_IF_ERROR(CheckInit(options.init));
  if (options.sequence_parallel && !options.input_is_parallel) {
    return absl::InvalidArgumentError(
        "input_is_parallel: false, expected true with sequence_parallel");
  }
  return RowParallelLinear(options, group);
}

VocabParallelEmbeddingImpl::VocabParallelEmbeddingImpl(const VocabParallelEmbeddingOptions& options,
                                                       const CommGroup& group)
    : options_(options), group_(&group) {
  const int64_t part = options.vocab / group.size();
  vocab_start_ = group.rank * part;
  vocab_end_ = vocab_start_ + part;
  weight_ = register_parameter(
      "weight", Shard(InitFullEmbedding(options.vocab, options.hidden, options.init), 0, group));
}

at::Tensor VocabParallelEmbeddingImpl::forward(const at::Tensor& ids) {
  at::Tensor rows;
  if (group_->size() == 1) {
    rows = at::embedding(weight_, ids);
  } else {
    // Ids outside this rank's range read row 0 and are zeroed: the sum over
    // the group then holds each id's row exactly once.
    const at::Tensor outside = (ids < vocab_start_).logical_or(ids >= vocab_end_);
    const at::Tensor local = (ids - vocab_start_).masked_fill(outside, 0);
    rows = at::embedding(weight_, local).masked_fill(outside.unsqueeze(-1), 0.0);
  }
  return options_.sequence_parallel ? ReduceScatterSequence(rows, *group_, options_.sequence_dim)
                                    : ReduceFromGroup(rows, *group_);
}

absl::StatusOr<VocabParallelEmbedding> MakeVocabParallelEmbedding(
    const VocabParallelEmbeddingOptions& options, const CommGroup& group) {
  RETURN_IF_ERROR(CheckSplits("vocab", options.vocab, group));
  RETURN_IF_ERROR(CheckPositive("hidden", options.hidden));
  RETURN_IF_ERROR(CheckInit(options.init));
  return VocabParallelEmbedding(options, group);
}

}  // namespace galvatron::runtime
