// Checkpoints and parameter dumps of one rank. A checkpoint is sharded:
// ROOT/step-N/rank-R.pt holds every tensor rank R keeps (ZeRO-3 layers as
// their slices, bf16 runs' float32 masters too), rank-R.optim.pt its AdamW
// states, and rank-R.done (empty) is written once both are on disk: what an
// agent looks for to tell that the rank's shard is whole. ROOT/latest names
// the newest complete step, written by rank 0 once every rank's shard is on
// disk; without a shared filesystem only rank 0's node has it, so a resume
// across nodes names its step. Resuming needs the same plan and world.
//
// Thread model: the training thread; SaveCheckpoint and DumpParameters are
// collective (every rank calls them at the same step).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/runtime/trainer/loss_scaler.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer.h"
#include "agent/runtime/trainer/trainer_comm.h"

namespace galvatron::runtime {

// Whether a checkpoint is due after step `step` (1-based) of the run: the
// last step, a --stop-after step, or every --checkpoint-every steps (only
// with a --checkpoint-dir).
bool CheckpointDue(const TrainOptions& o, int64_t step);

// Writes this rank's shard of step `step` under `root` (with the loss
// scaler's state in rank-R.scaler when there is one), then (rank 0, after a
// barrier) `root`/latest. UNAVAILABLE when a file cannot be written.
absl::Status SaveCheckpoint(const std::string& root, int64_t step, int rank, TrainerComm& comm,
                            Stage& stage, torch::optim::AdamW& optimizer,
                            const DynamicLossScaler* scaler = nullptr);

// Reads this rank's shard of step `step` (0: the one `root`/latest names)
// into `stage`, `optimizer` and `scaler` (when given); returns the step.
// DATA_LOSS for a missing or mismatched checkpoint (also one written without
// loss scaling when `scaler` is given).
absl::StatusOr<int64_t> LoadCheckpoint(const std::string& root, int64_t step, int rank,
                                       Stage& stage, torch::optim::AdamW& optimizer,
                                       DynamicLossScaler* scaler = nullptr);

// One line per parameter tensor this rank holds, with its place in the full
// tensor: "name ndim d0 d1 .. dim start count v0 v1 ..." (dim -1: whole), in
// %.17g. `path` for a world of one, else `path`.rank-R. ZeRO-3 units are
// gathered for it (a collective over their shard groups).
absl::Status DumpParameters(const std::string& path, int world, int rank, Stage& stage);

}  // namespace galvatron::runtime
