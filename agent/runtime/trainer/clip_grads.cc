#include "agent/runtime/trainer/clip_grads.h"

#include <cmath>
#include <limits>

#include "agent/runtime/comm/wait_clock.h"

namespace galvatron::runtime {

double GlobalGradNorm(const Stage& stage, TrainerComm& comm) {
  double local = 0;
  for (const Param& p : stage.params) {
    if (p.sync == Sync::kZero3 || !Updates(p)) continue;
    const double sq = p.tensor.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    const int holders = (p.sync == Sync::kDdp ? GroupSize(p.sum_group) : 1) * p.extra_replicas;
    local += sq / holders;
  }
  for (const auto& unit : stage.units) local += unit->GradSquareSum();
  torch::Tensor norm_sq = torch::full({1}, local, torch::TensorOptions().dtype(torch::kFloat64));
  // Its wait is mostly the slowest rank finishing its step: not reported
  // as communication (wait_clock.h).
  WaitKindScope untracked(WaitKind::kOther);
  comm.WorldSum(norm_sq);
  return std::sqrt(norm_sq.item<double>());
}

void ClipGrads(const std::vector<torch::Tensor>& params, double clip, double norm) {
  if (!(clip > 0 && norm > clip)) return;  // a NaN norm is left for the loss check
  const double scale = clip / (norm + 1e-6);
  torch::NoGradGuard no_grad;
  for (torch::Tensor t : params) {
    if (t.grad().defined()) t.mutable_grad().mul_(scale);
  }
}

void ScaleGrads(const std::vector<torch::Tensor>& params, double factor) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor t : params) {
    if (t.grad().defined()) t.mutable_grad().mul_(factor);
  }
}

void InjectNonFiniteGradient(Stage& stage) {
  torch::NoGradGuard no_grad;
  for (Param& p : stage.params) {
    if (p.sync == Sync::kZero3 || !Updates(p) || !p.tensor.grad().defined()) continue;
    p.tensor.mutable_grad().view({-1})[0] = std::numeric_limits<double>::infinity();
    return;
  }
}

}  // namespace galvatron::runtime
