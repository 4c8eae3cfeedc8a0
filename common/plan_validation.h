// Can a plan run a model? The checks every consumer of a plan makes before
// using it: the worker before it builds any process group, the planner
// before it launches a job with a plan a user gave. No LibTorch here.
#pragma once

#include "absl/status/status.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron {

// Checks that the plan can run `model` on `world_size` ranks: one strategy per
// layer of the model, pp dividing the world, tp · dp · pp = world for every
// layer, tensor/sequence degrees dividing the heads (and KV heads, and for
// Ulysses the sequence), the pipeline division summing to the layers, the
// global batch splitting into micro-batches and data-parallel shards, and the
// vocabulary splitting over the embedding's tp. INVALID_ARGUMENT naming the
// layer, the field and the value.
// Sequence parallelism (Megatron-SP, Ulysses) for layers and the embedding of
// models whose sequences the runtime does not split, refused with the reason.
absl::Status CheckPlanForModel(const v1::Plan& plan, const v1::ModelSpec& model, int world_size);

// Why a model family's sequence must not be split (" is not supported for
// T5: ..."), to follow a field and its value; nullptr when it may be (GPT,
// LLaMA, BERT, custom models).
const char* SequenceSplitRefusal(v1::ModelFamily family);

}  // namespace galvatron
