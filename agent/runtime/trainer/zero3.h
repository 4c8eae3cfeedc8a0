// ZeRO-3 for one layer (or the embedding/head): its parameters live as one
// flat vector split over the shard group; each rank keeps and updates only
// its 1/n slice (with the optimizer states and gradients of that slice).
// The module's full-size parameter tensors stay registered but hold no
// memory except while a forward or backward pass of the unit runs:
//
//   forward:  Materialize (all-gather the slices into the parameters'
//             storage), run, Release (free that storage; autograd's saved
//             views keep pointing at it);
//   backward: a hook on the unit's output materializes again before its
//             backward runs; once every parameter's gradient has arrived, the
//             full gradients are reduce-scattered into the slice's gradient
//             and both the gradients and the parameters are freed.
//
// This is FSDP's storage trick: freeing and re-filling a storage in place
// does not bump autograd's version counters, so saved tensors stay valid.
// Every member of the shard group must run the same passes in the same
// order (the collectives are issued from them).
//
// Thread model: one thread (the training loop and its backward passes).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/comm/comm_group.h"
#include "agent/runtime/comm/torch_compat.h"

namespace galvatron::runtime {

class Zero3Unit {
 public:
  struct Member {
    torch::Tensor param;                 // the module's full-size parameter
    const CommGroup* pre_sum = nullptr;  // gradients summed here first (Megatron-SP norms)
    double norm_weight = 1;              // 1 / the ranks holding this gradient after reduction
  };
  // Takes the parameters' current (initial) values as the full vector and
  // keeps this rank's slice in `master_dtype` (float32 under bf16 mixed
  // precision: the slice is the master copy, cast into the parameters when
  // they are gathered); then releases the parameters.
  Zero3Unit(std::string name, std::vector<Member> members, const CommGroup* shard_group,
            torch::Dtype master_dtype);
  ~Zero3Unit();
  Zero3Unit(const Zero3Unit&) = delete;
  Zero3Unit& operator=(const Zero3Unit&) = delete;

  // The slice this rank updates (a leaf: the optimizer steps it).
  torch::Tensor& shard() { return shard_; }
  const std::string& name() const { return name_; }

  void Materialize();
  void Release();
  // Runs `forward` with the parameters materialized and registers the hook
  // that materializes them again before the output's backward.
  torch::Tensor Run(const std::function<torch::Tensor()>& forward);
  // Reduce-scatters whatever gradients have arrived but not been reduced
  // (a parameter no backward reached) — called after the last backward.
  void Flush();
  // Σ weight · grad² over this rank's slice.
  double GradSquareSum() const;
  // Bytes held between passes: the slice, its gradient (the optimizer's
  // states come on top).
  int64_t ResidentBytes() const;

 private:
  void GradArrived();
  void ReduceGradients();

  struct Slot {
    Member member;
    int64_t offset = 0;  // in the flat vector
    int64_t nbytes = 0;
    torch_compat::AccumulatorPtr accumulator;
  };
  std::string name_;
  std::vector<Slot> slots_;
  const CommGroup* group_;
  int64_t numel_ = 0, padded_ = 0;
  torch::Tensor shard_;
  bool materialized_ = true;
  int pending_ = 0;
  bool any_arrived_ = false;
};

}  // namespace galvatron::runtime
