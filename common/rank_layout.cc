#include "common/rank_layout.h"

#include "absl/strings/str_cat.h"

namespace galvatron {
namespace {

absl::Status Check(int world, int pp, int tp) {
  if (world < 1) return absl::InvalidArgumentError(absl::StrCat("world: ", world, ", expected >= 1"));
  if (pp < 1 || world % pp != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("pp: ", pp, ", expected a divisor of the world size ", world));
  }
  if (tp < 1 || (world / pp) % tp != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tp: ", tp, ", expected a divisor of the ranks per stage ", world / pp));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RankGroups> GroupsOfRank(int world, int pp, int tp, int rank) {
  if (absl::Status status = Check(world, pp, tp); !status.ok()) return status;
  if (rank < 0 || rank >= world) {
    return absl::InvalidArgumentError(absl::StrCat("rank: ", rank, ", expected 0..", world - 1));
  }
  const int per_stage = world / pp, dp = per_stage / tp;
  RankGroups g;
  g.stage = rank / per_stage;
  const int first = g.stage * per_stage, local = rank - first;
  for (int r = 0; r < per_stage; ++r) g.stage_ranks.push_back(first + r);
  const int tp_block = local / tp;  // which consecutive block
  g.tp_rank = local % tp;
  for (int i = 0; i < tp; ++i) g.tp_group.push_back(first + tp_block * tp + i);
  g.dp_rank = tp_block;
  for (int j = 0; j < dp; ++j) g.dp_group.push_back(first + j * tp + g.tp_rank);
  if (g.stage > 0) g.prev_stage_rank = rank - per_stage;
  if (g.stage + 1 < pp) g.next_stage_rank = rank + per_stage;
  return g;
}

absl::StatusOr<std::vector<std::vector<int>>> AllTpGroups(int world, int pp, int tp) {
  if (absl::Status status = Check(world, pp, tp); !status.ok()) return status;
  std::vector<std::vector<int>> groups;
  for (int first = 0; first < world; first += tp) {
    std::vector<int> group;
    for (int i = 0; i < tp; ++i) group.push_back(first + i);
    groups.push_back(std::move(group));
  }
  return groups;
}

absl::StatusOr<std::vector<std::vector<int>>> AllDpGroups(int world, int pp, int tp) {
  if (absl::Status status = Check(world, pp, tp); !status.ok()) return status;
  const int per_stage = world / pp;
  std::vector<std::vector<int>> groups;
  for (int stage = 0; stage < pp; ++stage) {
    for (int i = 0; i < tp; ++i) {
      std::vector<int> group;
      for (int r = i; r < per_stage; r += tp) group.push_back(stage * per_stage + r);
      groups.push_back(std::move(group));
    }
  }
  return groups;
}

}  // namespace galvatron
