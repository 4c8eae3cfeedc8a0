// Which communication groups one rank needs for a plan, and in which order
// to create them: the pure half of ParallelContext (no LibTorch), so that it
// is testable without processes.
//
// Every layer of a stage spans the whole stage (tp · dp = world / pp: a
// layer's strategy only chooses how the stage's ranks split), laid out by
// common/rank_layout.h. A layer needs:
//   - tp: its tensor- or sequence-parallel group (consecutive ranks);
//   - dp: its data-parallel group (strided ranks);
//   - grad_sync: the ranks over which its gradients are reduced — dp for
//     Megatron TP (with or without Megatron-SP: those weights are split over
//     tp), but dp × sp, the whole stage, for Ulysses, whose weights are
//     replicated over the sequence-parallel group too (Ulysses splits the
//     sequence and exchanges heads, never the weights): each sp rank's
//     gradient comes from its part of the sequence, so they add up over sp
//     and average over dp.
//
// c10d creates a group collectively: each member blocks until all members
// have joined. Ranks that create their groups in one global order cannot
// deadlock (the smallest unfinished group always has all its members
// waiting on it), so `creation_order` sorts the distinct groups by (size,
// ranks), the same order on every rank whatever the layers' order.
//
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

// How one layer (or the embedding/head) is parallelised: plan.proto's
// LayerStrategy without what does not shape groups.
struct LayerParallelism {
  int tp = 1;  // tensor- or sequence-parallel degree
  v1::SequenceParallel sp = v1::SEQUENCE_PARALLEL_NONE;
  int dp = 0;  // 0: the rest of the stage, world / pp / tp
};

struct ParallelLayout {
  int world = 1;
  int rank = 0;
  int pp = 1;
  // Every transformer layer of the model, in order.
  std::vector<LayerParallelism> layers;
  // Layers per pipeline stage (Plan.pp_division); empty: an even split.
  std::vector<int> layers_per_stage;
  // The vocab-parallel embedding (first stage) and head (last stage).
  LayerParallelism embedding;
  // Further groups (ascending global ranks) to create, each by its members:
  // e.g. the first and last stage's ranks that share tied embedding weights.
  std::vector<std::vector<int>> extra_groups;
};

// The groups of one layer as global rank lists.
struct LayerGroupRanks {
  LayerParallelism strategy;  // dp resolved
  std::vector<int> tp;
  std::vector<int> dp;
  std::vector<int> grad_sync;
};

struct GroupPlan {
  int stage = 0;
  std::vector<int> stage_ranks;
  int prev_stage_rank = -1;  // -1 on the first stage
  int next_stage_rank = -1;  // -1 on the last stage
  // This stage's layers: global indices [first_layer, first_layer + layers.size()).
  int first_layer = 0;
  std::vector<LayerGroupRanks> layers;
  // Present on the first stage (embedding) and the last (head).
  std::optional<LayerGroupRanks> embedding;
  // The layout's extra groups this rank belongs to.
  std::vector<std::vector<int>> extra_groups;
  // Every distinct group of this rank with more than one member — the world
  // and its stage included — in the order to create them.
  std::vector<std::vector<int>> creation_order;
};

// INVALID_ARGUMENT naming the field (layers[i].tp, layers_per_stage, rank,
// ...) when a degree does not fit the stage or the division does not cover
// the layers.
absl::StatusOr<GroupPlan> PlanGroups(const ParallelLayout& layout);

}  // namespace galvatron::runtime
