// Runs one step's pipeline schedule on this rank's stage (Megatron-Core's
// schedules): the forward and backward passes of every micro-batch in the
// order StageSchedule gives (GPipe or 1F1B), the first stage embedding the
// tokens, the last computing the loss, the ones between receiving their
// input activations from the previous stage and sending their outputs to the
// next (and the gradients back), with the activations redistributed inside
// the stage between layers of different layouts and each ZeRO-3 unit
// gathered around its passes. Each micro-batch's loss is scaled by
// 1 / (the global batch's counted tokens), so the gradients add up to those
// of the global batch's mean loss. The last backward arms the DDP buckets
// (GradSync::BeforeLastBackward), so their all-reduces overlap it.
//
// Thread model: the training thread; every rank of the world runs its own
// stage's schedule at the same step (the messages pair them up).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/trainer/batches.h"
#include "agent/runtime/trainer/grad_sync.h"
#include "agent/runtime/trainer/pipeline_schedule.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer_comm.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

struct ScheduleResult {
  // This rank's share of the step's summed token losses (the last stage's
  // ranks; one rank per set of vocab-tp replicas that compute the same sum).
  double loss_sum = 0;
  // Spent waiting for the pipeline neighbours' messages.
  std::chrono::steady_clock::duration waited{};
};

class StageExecutor {
 public:
  // Everything borrowed must outlive the executor.
  StageExecutor(Stage& stage, TrainerComm& comm, BatchSource& batches, GradSync& grads,
                v1::PipelineSchedule schedule, const Precision& precision, int64_t hidden);

  // Every forward and backward of step `step` (0-based). The pipeline sends
  // are still in flight when it returns (TrainerComm::FinishSends).
  absl::StatusOr<ScheduleResult> Run(int64_t step, double loss_scale);

 private:
  // Micro-batch c's forward: its output (last stage: the scaled loss).
  absl::StatusOr<torch::Tensor> Forward(int64_t step, int c, double loss_scale,
                                        ScheduleResult& result);
  void Backward(int c, ScheduleResult& result);
  // `forward` inside ZeRO-3 unit `unit` (-1: none).
  torch::Tensor RunUnit(int unit, const std::function<torch::Tensor()>& forward);

  Stage& stage_;
  TrainerComm& comm_;
  BatchSource& batches_;
  GradSync& grads_;
  Precision precision_;
  int64_t hidden_;
  std::vector<PipelineAction> actions_;
  // Per micro-batch while it is in flight: the received input (to send its
  // gradient back) and the output (to run its backward from).
  std::vector<torch::Tensor> inputs_, outputs_;
};

}  // namespace galvatron::runtime
