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

// This rank's stage, its parameters initialised and their synchronisation
// decided; ZeRO-3 layers already sharded.
absl::StatusOr<Stage> BuildStage(const v1::ModelSpec& model_spec, const v1::Plan& plan,
                                 TrainerComm& comm, const Precision& precision, uint64_t seed);

}  // namespace galvatron::runtime
