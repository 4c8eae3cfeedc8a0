// Which global ranks form which groups (DESIGN §5), one pure function shared
// by the planner (to describe a plan) and the runtime (to build process
// groups). Pipeline outermost: stage k holds ranks [k·W/pp, (k+1)·W/pp).
// Inside a stage, tensor/sequence-parallel groups are consecutive ranks (so
// they stay inside a node) and data-parallel groups stride over them:
// Galvatron's layout. Thread-safe: pure functions.
#pragma once

#include <vector>

#include "absl/status/statusor.h"

namespace galvatron {

struct RankGroups {
  int stage = 0;
  std::vector<int> stage_ranks;  // every rank of this rank's stage
  std::vector<int> tp_group;     // tensor/sequence-parallel peers, this rank included
  std::vector<int> dp_group;     // data-parallel peers, this rank included
  int tp_rank = 0;               // index in tp_group
  int dp_rank = 0;               // index in dp_group
  int prev_stage_rank = -1;      // same position in the previous stage; -1 on the first
  int next_stage_rank = -1;      // same position in the next stage; -1 on the last
};

// The groups of `rank` for a layer with tensor/sequence degree `tp` in a
// world of `world` ranks split into `pp` stages (dp = world / pp / tp).
// INVALID_ARGUMENT naming the value when a degree does not divide.
absl::StatusOr<RankGroups> GroupsOfRank(int world, int pp, int tp, int rank);

// Every tensor-parallel (or data-parallel) group of the world, stage by
// stage, in the order a process-group library must create them.
absl::StatusOr<std::vector<std::vector<int>>> AllTpGroups(int world, int pp, int tp);
absl::StatusOr<std::vector<std::vector<int>>> AllDpGroups(int world, int pp, int tp);

}  // namespace galvatron
