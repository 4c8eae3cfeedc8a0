// Builds this rank's pipeline stage from a plan: the embedding and head
// (vocab-parallel over embedding.vocab_tp, with Megatron-SP or Ulysses as the
// plan says) on the first and last stage, and the stage's layers, each with
// its own tensor parallelism, sequence parallelism, data-parallel degree and
// type, and checkpointing. Every parameter starts as its slice of the
// single-process model's, drawn from a seed of (run seed, parameter name),
// so any plan starts exactly where one process would. Also: the process
// groups a plan needs (LayoutOfPlan), ZeRO-1/2 owners, and what the runtime
// cannot build yet (CheckSupported).
//
// Thread model: functions of their arguments; BuildStage creates modules and
// autograd hooks and is called once, on the training thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/runtime/parallel/group_plan.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer_comm.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

// UNIMPLEMENTED naming what this runtime cannot execute yet (layer groups
// of different hidden sizes); logs how a tied table is kept under ZeRO.
absl::Status CheckSupported(const v1::Plan& plan, const v1::ModelSpec& model);

// The parallel layout of `plan` seen from `rank`: every layer's and the
// embedding's tp and sequence parallelism, the pipeline split, and the extra
// groups the trainer sums gradients over (replicated KV heads, the tied
// embedding's two ends).
ParallelLayout LayoutOfPlan(const v1::Plan& plan, const v1::ModelSpec& model, int rank);

// The seed of parameter `name` in a run seeded with `seed`: FNV-1a over the
// name from the run's seed mixed into our own basis, so every layout draws
// the same full tensor.
uint64_t SeedOf(uint64_t seed, const std::string& name);

// How the rank at `position` of its stage builds the embedding/head: its
// vocab-parallel slice and sequence parallelism, in `dtype`. The caller adds
// the group's BlockComm where NeedsGroupComm says so.
BlockOptions EmbeddingBlockOptions(const v1::EmbeddingStrategy& e, int position,
                                   torch::Dtype dtype);
// Which part of the embedding/head a stage holds (the first stage of a
// pipeline the embedding, the last the head, a single stage both).
HeadPart HeadPartOf(int pp, bool first_stage);

// How the rank at `position` of its stage builds layer `layer`'s block: the
// shard's sizes and its options (Ulysses keeps whole weights: tp 1), without
// the group's BlockComm.
struct LayerBlockSetup {
  BlockShape shape;
  BlockOptions options;
};
absl::StatusOr<LayerBlockSetup> LayerBlockOptions(const v1::ModelSpec& model, const v1::Plan& plan,
                                                  int layer, int position, torch::Dtype dtype);

// Whether a module built with `options` talks to its group (tp > 1 or a
// sequence-parallel mode).
bool NeedsGroupComm(const BlockOptions& options);

// Whether the parameter `name` ("embedding.tokens.weight") is the table the
// two ends of a pipeline share (tied embeddings, pp > 1); each end keeps it
// whole and it is synchronised as DDP whatever the plan says.
bool TiedAcrossPipeline(const v1::ModelSpec& model, int pp, const std::string& name);

// Whether a parameter of a layer (or the embedding) with data-parallel type
// `type` lives in the layer's ZeRO-3 unit, sharded over its gradient group of
// `shard_group_size` ranks (a group of one shards nothing: DDP).
bool InZero3Unit(v1::DataParallelType type, bool tied, int shard_group_size);

// This rank's stage, its parameters initialised and their synchronisation
// decided; ZeRO-3 layers already sharded.
absl::StatusOr<Stage> BuildStage(const v1::ModelSpec& model_spec, const v1::Plan& plan,
                                 TrainerComm& comm, const Precision& precision, uint64_t seed);

}  // namespace galvatron::runtime
