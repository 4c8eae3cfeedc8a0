// Which global ranks form which groups: one pure function shared
// by the planner (to describe a plan: Plan.stages) and the runtime (to build
// its c10d process groups). Galvatron's layout:
//   - pipeline outermost: stage k holds ranks [k·W/pp, (k+1)·W/pp);
//   - inside a stage, tensor/sequence-parallel groups are consecutive ranks
//     (so that they stay inside a node, where bandwidth is highest);
//   - data-parallel groups stride over them (rank i of every tp group).
// E.g. W = 8, pp = 2, tp = 2, dp = 2: stages {0..3} {4..7}, tp groups {0,1}
// {2,3} {4,5} {6,7}, dp groups {0,2} {1,3} {4,6} {5,7}.
//
// Thread-safe: pure functions.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron {

// The degrees of one layer's layout. tp is the tensor- or sequence-parallel
// degree (Galvatron's tp_sp); every layer of a stage spans the whole stage,
// so tp · dp = world / pp.
struct LayoutDegrees {
  int world = 1;
  int pp = 1;
  int tp = 1;
  int dp = 1;
};

// INVALID_ARGUMENT naming the degree and its value when a degree is below 1,
// pp does not divide the world, or tp · dp is not the stage size.
absl::Status ValidateLayoutDegrees(const LayoutDegrees& degrees);

// The groups of one pipeline stage, in the order a process-group library
// must create them (ascending first rank).
struct StageGroups {
  int stage = 0;
  std::vector<int> ranks;                   // the whole stage
  std::vector<std::vector<int>> tp_groups;  // consecutive ranks
  std::vector<std::vector<int>> dp_groups;  // strided ranks
};

// Every group of every stage, stage by stage.
absl::StatusOr<std::vector<StageGroups>> AllGroups(const LayoutDegrees& degrees);

// The groups one rank belongs to.
struct RankGroups {
  int stage = 0;
  std::vector<int> stage_ranks;  // every rank of this rank's stage
  std::vector<int> tp_group;     // tensor/sequence-parallel peers, this rank included
  std::vector<int> dp_group;     // data-parallel peers, this rank included
  int tp_rank = 0;               // index in tp_group
  int dp_rank = 0;               // index in dp_group
  // Pipeline neighbours: the rank at the same position of the previous and
  // next stage (activations go there); -1 on the first and the last stage.
  int prev_stage_rank = -1;
  int next_stage_rank = -1;
};

// INVALID_ARGUMENT as ValidateLayoutDegrees, or when rank is outside [0, world).
absl::StatusOr<RankGroups> GroupsOfRank(const LayoutDegrees& degrees, int rank);

// The ranks of each stage as plan.proto's StageLayout (Plan.stages).
absl::StatusOr<std::vector<v1::StageLayout>> StageLayouts(int world, int pp);

}  // namespace galvatron
