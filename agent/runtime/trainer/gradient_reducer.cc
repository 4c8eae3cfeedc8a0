#include "agent/runtime/trainer/gradient_reducer.h"

#include <utility>

#include "agent/runtime/comm/wait_clock.h"

namespace galvatron::runtime {

struct GradientReducer::Hook : torch::autograd::FunctionPostHook {
  Hook(GradientReducer* reducer, size_t bucket) : reducer(reducer), bucket(bucket) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    reducer->Ready(bucket);
    return outputs;
  }
  GradientReducer* reducer;
  size_t bucket;
};

GradientReducer::GradientReducer(const std::vector<Param*>& params) {
  Bucket current;
  int64_t bytes = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Param& p = **it;
    if (!current.params.empty() && (p.sum_group != current.group || bytes >= kBucketBytes)) {
      buckets_.push_back(std::move(current));
      current = Bucket();
      bytes = 0;
    }
    current.group = p.sum_group;
    current.params.push_back(p.tensor);
    bytes += p.tensor.numel() * p.tensor.element_size();
  }
  if (!current.params.empty()) buckets_.push_back(std::move(current));
  for (size_t b = 0; b < buckets_.size(); ++b) {
    for (const torch::Tensor& p : buckets_[b].params) {
      torch_compat::AccumulatorPtr accumulator = torch::autograd::impl::grad_accumulator(p);
      accumulator->add_post_hook(std::make_unique<Hook>(this, b));
      accumulators_.push_back(std::move(accumulator));
    }
  }
}

void GradientReducer::Arm() {
  absl::MutexLock lock(&mu_);
  armed_ = true;
  next_ = 0;
  for (Bucket& b : buckets_) {
    b.pending = static_cast<int>(b.params.size());
    b.work.reset();
  }
}

void GradientReducer::Finish() {
  absl::MutexLock lock(&mu_);
  for (Bucket& b : buckets_) b.pending = 0;
  StartReady();
  armed_ = false;
  for (Bucket& b : buckets_) {
    if (!b.work) continue;
    WaitFor(b.work, WaitKind::kGradientSync);
    int64_t at = 0;
    for (torch::Tensor& p : b.params) {
      p.mutable_grad().copy_(b.flat.narrow(0, at, p.numel()).view_as(p));
      at += p.numel();
    }
  }
}

void GradientReducer::Ready(size_t bucket) {
  absl::MutexLock lock(&mu_);
  if (!armed_) return;
  if (--buckets_[bucket].pending == 0) StartReady();
}

void GradientReducer::StartReady() {
  while (next_ < buckets_.size() && buckets_[next_].pending <= 0) {
    Bucket& b = buckets_[next_++];
    if (GroupSize(b.group) == 1) continue;
    std::vector<torch::Tensor> parts;
    for (torch::Tensor& p : b.params) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      parts.push_back(p.grad().reshape({-1}));
    }
    b.flat = torch::cat(parts);
    // Gloo has no bf16 kernels: bf16 gradients are summed as float32 there
    // (NCCL sums them in bf16, as they are).
    if (b.flat.scalar_type() == torch::kBFloat16 &&
        b.group->process_group->getBackendName() == "gloo") {
      b.flat = b.flat.to(torch::kFloat32);
    }
    std::vector<torch::Tensor> tensors{b.flat};
    b.work = b.group->process_group->allreduce(tensors);
  }
}

}  // namespace galvatron::runtime
