#include "agent/runtime/trainer/optimizer.h"

#include <algorithm>

#include "common/status_macros.h"

namespace galvatron::runtime {

absl::StatusOr<std::unique_ptr<StageOptimizer>> StageOptimizer::Create(
    Stage& stage, const v1::OptimizerSpec& spec, const TrainOptions& o,
    const Precision& precision) {
  std::unique_ptr<StageOptimizer> opt(new StageOptimizer(stage, precision));
  const double peak = o.learning_rate > 0        ? o.learning_rate
                      : spec.learning_rate() > 0 ? spec.learning_rate()
                                                 : 1e-3;
  LrSchedule& schedule = opt->schedule_;
  schedule.peak = peak;
  schedule.floor = peak / 10;
  schedule.total_steps = o.steps;
  schedule.warmup_steps =
      std::min<int64_t>(o.steps, o.warmup_steps >= 0 ? o.warmup_steps : spec.warmup_steps());
  RETURN_IF_ERROR(schedule.Validate());
  opt->clip_ = o.grad_clip >= 0 ? o.grad_clip : spec.grad_clip_norm();

  for (Param& p : stage.params) {
    if (!Updates(p)) continue;
    if (precision.mixed)
      p.master = p.tensor.detach().to(precision.master).clone().requires_grad_(true);
    opt->params_.push_back(precision.mixed ? p.master : p.tensor);
  }
  for (auto& unit : stage.units) opt->params_.push_back(unit->shard());
  torch::optim::AdamWOptions adam(peak);
  adam.betas({spec.beta1() > 0 ? spec.beta1() : 0.9, spec.beta2() > 0 ? spec.beta2() : 0.999});
  adam.eps(spec.epsilon() > 0 ? spec.epsilon() : 1e-8);
  adam.weight_decay(spec.weight_decay());
  opt->adamw_ = std::make_unique<torch::optim::AdamW>(opt->params_, adam);
  return opt;
}

void StageOptimizer::PrepareGrads() {
  if (!precision_.mixed) return;
  for (Param& p : stage_.params) {
    if (p.master.defined()) p.master.mutable_grad() = p.tensor.grad().to(precision_.master);
  }
}

double StageOptimizer::Step(int64_t step) {
  const double lr = schedule_.At(step + 1);
  for (auto& group : adamw_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
  adamw_->step();
  torch::NoGradGuard no_grad;
  for (Param& p : stage_.params) {
    if (p.master.defined()) p.tensor.copy_(p.master);
  }
  return lr;
}

}  // namespace galvatron::runtime
