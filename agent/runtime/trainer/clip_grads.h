// Global-norm gradient clipping (Pascanu et al. 2013; Megatron-Core's
// clip_grads): the L2 norm of the whole model's final gradients, each
// element counted once over the world however many ranks hold it, and the
// scaling of every gradient this rank's optimizer steps when that norm
// exceeds the clip.
//
// Thread model: the training thread; GlobalGradNorm is a collective over the
// world (every rank calls it once per step).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer_comm.h"

namespace galvatron::runtime {

// ‖g‖₂ over the world, after GradSync::Finish: Σ over this rank's tensors
// of Σg² / (the ranks holding that same final gradient), plus the ZeRO-3
// slices' weighted squares, summed over the world in float64.
double GlobalGradNorm(const Stage& stage, TrainerComm& comm);

// When clip > 0 and norm > clip, scales every defined gradient of `params`
// by clip / (norm + 1e-6) (PyTorch's clip_grad_norm_).
void ClipGrads(const std::vector<torch::Tensor>& params, double clip, double norm);

// Multiplies every defined gradient of `params` by `factor` (unscaling a
// scaled loss's gradients).
void ScaleGrads(const std::vector<torch::Tensor>& params, double factor);

// Tests of loss scaling: makes one element of this rank's first trainable
// gradient infinite (a ZeRO-3 unit's shard when the stage has no other).
void InjectNonFiniteGradient(Stage& stage);

}  // namespace galvatron::runtime
