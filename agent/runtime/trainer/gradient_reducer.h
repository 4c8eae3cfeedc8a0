// DDP's gradient reducer (PyTorch DDP's bucketed all-reduce, Li et al.,
// VLDB 2020): the summed parameters in buckets of about kBucketBytes (one
// group per bucket), in the order backward produces their gradients
// (reverse registration order). During the last micro-batch's backward a
// hook after each parameter's gradient accumulation counts its bucket down;
// a bucket whose gradients are all final starts its all-reduce at once,
// overlapping the rest of backward. Buckets start strictly in order (every
// member of a group must issue the same collectives in the same order);
// Finish() starts what is left (parameters that got no gradient), waits, and
// writes the sums back.
//
// Thread model: Arm and Finish are called by the training thread; the hooks
// run on whichever thread autograd runs the accumulation on (the training
// thread for CPU tensors, a device thread for GPU ones). The buckets' state
// is guarded by mu_; Finish holds it while it waits, which is safe because
// no hook fires after backward has returned.
#pragma once

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/runtime/comm/comm_group.h"
#include "agent/runtime/comm/torch_compat.h"
#include "agent/runtime/trainer/stage.h"

namespace galvatron::runtime {

class GradientReducer {
 public:
  static constexpr int64_t kBucketBytes = 25 << 20;  // PyTorch DDP's default bucket_cap_mb

  // Registers the hooks on `params` (their tensors must outlive the
  // reducer); each is summed over its sum_group.
  explicit GradientReducer(const std::vector<Param*>& params);
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Arms the hooks for the backward that follows (the last micro-batch's).
  void Arm() ABSL_LOCKS_EXCLUDED(mu_);
  // Starts the remaining buckets, waits for all, and writes every summed
  // gradient back into its parameter's .grad.
  void Finish() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    const CommGroup* group = nullptr;
    std::vector<torch::Tensor> params;
    int pending = 0;
    torch::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  struct Hook;

  // A hook: one more gradient of `bucket` is final.
  void Ready(size_t bucket) ABSL_LOCKS_EXCLUDED(mu_);
  // Starts the buckets whose gradients are final, in order.
  void StartReady() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;  // the first bucket not started
  // The parameters' gradient accumulators: the hooks live as long as their
  // node, and the parameters hold them only weakly. Set in the constructor.
  std::vector<torch_compat::AccumulatorPtr> accumulators_;
};

}  // namespace galvatron::runtime
