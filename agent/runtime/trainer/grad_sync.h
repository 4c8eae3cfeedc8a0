// Gradient synchronisation of one stage after its schedule has run, the
// work Megatron-Core's finalize_model_grads and distributed optimizer do:
//   DDP and ZeRO-1: summed in buckets over each tensor's sum group, started
//     during the last micro-batch's backward (gradient_reducer.h);
//   ZeRO-2: each gradient reduced only to the rank that owns it;
//   ZeRO-3: reduce-scattered by each unit's hooks as its backward finishes
//     (zero3.h), whatever is left flushed here;
//   replicated KV heads: summed over the tp ranks that share them;
//   the embedding table tied across the pipeline's ends: summed over the
//     first and last stage's ranks at this position;
// and after the optimizer step, every ZeRO-1/2 owner broadcasts the tensors
// it updated to its group.
//
// Thread model: the training thread calls every method; the DDP buckets'
// hooks run during its backward passes (see gradient_reducer.h). Every
// member of every group must make the same calls in the same order.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "absl/status/status.h"
#include "agent/runtime/trainer/gradient_reducer.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer_comm.h"

namespace galvatron::runtime {

class GradSync {
 public:
  // `stage` and `comm` must outlive it; `wire` is the type ZeRO-1/2
  // reductions and broadcasts travel in.
  GradSync(Stage& stage, TrainerComm& comm, torch::Dtype wire);

  // Before a step: no gradients anywhere.
  void ZeroGrads();
  // Before the last micro-batch's backward: its DDP buckets start as their
  // gradients become final.
  void BeforeLastBackward() { reducer_.Arm(); }
  // After the schedule: every gradient this rank keeps is final and summed
  // (INTERNAL when a group the plan needs is missing).
  absl::Status Finish();
  // After the optimizer step: the ZeRO-1/2 owners' updated tensors reach
  // every member of their groups.
  void BroadcastUpdated();

 private:
  void ReduceZero2ToOwners();

  Stage& stage_;
  TrainerComm& comm_;
  torch::Dtype wire_;
  GradientReducer reducer_;
};

}  // namespace galvatron::runtime
