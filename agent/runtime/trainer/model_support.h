// Helpers of the training runtime around agent/runtime/blocks: whether a
// ModelSpec can be trained, and activation checkpointing of one block.
// Thread-compatible.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/blocks/blocks.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::runtime {

// INVALID_ARGUMENT / UNIMPLEMENTED when the spec has layer kinds without a
// block.
absl::Status CheckModelIsTrainable(const v1::ModelSpec& model);

// `block`'s forward on `x` without keeping its activations: they are
// recomputed during backward (activation checkpointing).
torch::Tensor CheckpointedForward(TransformerBlock block, const torch::Tensor& x);

}  // namespace galvatron::runtime
