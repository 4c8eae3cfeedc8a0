// Collectives on plain tensors over one CommGroup, without autograd: the
// building blocks of the autograd mappings (mappings.h) and of gradient
// synchronisation. Each returns a new tensor and leaves its input alone,
// except that a group of one returns the input itself (nothing to talk to).
// Float32 and float64 (and the other dtypes Gloo/NCCL reduce) work alike;
// bfloat16 travels as float32 over Gloo, which has no bf16 kernels.
//
// Backends differ in what they offer: Gloo in LibTorch 1.13 has no
// reduce-scatter, so ReduceScatter emulates it there (an all-reduce of the
// whole tensor, then this rank's slice: twice the traffic of a ring
// reduce-scatter, the same result); NCCL uses its own. Callers never see the
// difference.
//
// Shapes that the group size does not divide, and failures of the peers,
// throw (c10::Error or std::runtime_error, as LibTorch's own operations do):
// these run inside autograd, where a Status cannot be returned. Layers check
// their shapes up front with a Status.
//
// Thread model: as CommGroup — every member issues the same collectives in
// the same order, from one thread.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include "agent/runtime/comm/comm_group.h"

namespace galvatron::runtime {

// The elementwise reduction (SUM by default) of `x` over the group.
at::Tensor AllReduce(const at::Tensor& x, const CommGroup& group,
                     c10d::ReduceOp op = c10d::ReduceOp::SUM);

// The members' tensors concatenated along `dim`, in group order.
at::Tensor AllGather(const at::Tensor& x, const CommGroup& group, int64_t dim);

// The sum over the group, split into size() equal parts along `dim`; this
// rank's part.
at::Tensor ReduceScatter(const at::Tensor& x, const CommGroup& group, int64_t dim);

// This rank's part of `x` split into size() equal parts along `dim` (no
// communication), as a contiguous tensor of its own.
at::Tensor SplitForRank(const at::Tensor& x, const CommGroup& group, int64_t dim);

// Splits `x` into size() parts along `scatter_dim`, sends part j to member j,
// and concatenates the parts received along `gather_dim` in group order.
// Ulysses: [b, s/n, heads, d] with scatter 2, gather 1 → [b, s, heads/n, d];
// scatter 1, gather 2 goes back.
at::Tensor AllToAll(const at::Tensor& x, const CommGroup& group, int64_t scatter_dim,
                    int64_t gather_dim);

}  // namespace galvatron::runtime
