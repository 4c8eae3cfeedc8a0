// The optimizer side of one stage: AdamW (Loshchilov & Hutter 2019) over the
// tensors this rank updates — its DDP tensors, the ZeRO-1/2 tensors it owns,
// its ZeRO-3 slices — with the warm-up + cosine learning-rate schedule, and
// under bf16 mixed precision the float32 master copies it steps instead of
// the bf16 parameters (Megatron's mixed-precision optimizer: the reduced
// gradients are copied into the masters before clipping, the masters back
// into the parameters after the step).
//
// Thread model: one thread (the training loop).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/inputs/lr_schedule.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::runtime {

class StageOptimizer {
 public:
  // The spec's optimizer settings, overridden by --lr, --warmup-steps and
  // --grad-clip; creates the masters (mixed precision) in `stage`, which must
  // outlive the optimizer. INVALID_ARGUMENT for a schedule that does not hold.
  static absl::StatusOr<std::unique_ptr<StageOptimizer>> Create(Stage& stage,
                                                                const v1::OptimizerSpec& spec,
                                                                const TrainOptions& o,
                                                                const Precision& precision);

  // What this rank steps (masters under mixed precision, ZeRO-3 slices).
  const std::vector<torch::Tensor>& params() const { return params_; }
  torch::optim::AdamW& adamw() { return *adamw_; }
  double clip_norm() const { return clip_; }  // 0: no clipping

  // Mixed precision: the reduced bf16 gradients become the masters' float32
  // ones. Nothing otherwise.
  void PrepareGrads();
  // The update of step `step` (0-based) at the schedule's rate for it, then
  // the masters cast back into the parameters. Returns the rate.
  double Step(int64_t step);

 private:
  StageOptimizer(Stage& stage, const Precision& precision) : stage_(stage), precision_(precision) {}

  Stage& stage_;
  Precision precision_;
  LrSchedule schedule_;
  double clip_ = 0;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

}  // namespace galvatron::runtime
