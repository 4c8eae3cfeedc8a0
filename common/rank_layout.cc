#include "common/rank_layout.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace galvatron {
namespace {

absl::Status ValidateStages(int world, int pp) {
  if (world < 1) {
    return absl::InvalidArgumentError(absl::StrCat("world: ", world, ", expected >= 1"));
  }
  if (pp < 1 || world % pp != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("pp: ", pp, ", expected a divisor of the world size ", world));
  }
  return absl::OkStatus();
}

std::vector<int> Range(int first, int count, int stride) {
  std::vector<int> ranks;
  ranks.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) ranks.push_back(first + i * stride);
  return ranks;
}

}  // namespace

absl::Status ValidateLayoutDegrees(const LayoutDegrees& d) {
  RETURN_IF_ERROR(ValidateStages(d.world, d.pp));
  const int per_stage = d.world / d.pp;
  if (d.tp < 1 || per_stage % d.tp != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tp: ", d.tp, ", expected a divisor of the ranks per stage ", per_stage,
                     " (world ", d.world, " / pp ", d.pp, ")"));
  }
  if (d.dp < 1 || d.tp * d.dp != per_stage) {
    return absl::InvalidArgumentError(absl::StrCat("dp: ", d.dp, ", expected ", per_stage / d.tp,
                                                   " so that tp ", d.tp, " · dp = the ", per_stage,
                                                   " ranks per stage"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StageGroups>> AllGroups(const LayoutDegrees& d) {
  RETURN_IF_ERROR(ValidateLayoutDegrees(d));
  const int per_stage = d.world / d.pp;
  std::vector<StageGroups> stages;
  for (int stage = 0; stage < d.pp; ++stage) {
    const int first = stage * per_stage;
    StageGroups groups;
    groups.stage = stage;
    groups.ranks = Range(first, per_stage, 1);
    for (int block = 0; block < d.dp; ++block) {
      groups.tp_groups.push_back(Range(first + block * d.tp, d.tp, 1));
    }
    for (int offset = 0; offset < d.tp; ++offset) {
      groups.dp_groups.push_back(Range(first + offset, d.dp, d.tp));
    }
    stages.push_back(std::move(groups));
  }
  return stages;
}

absl::StatusOr<RankGroups> GroupsOfRank(const LayoutDegrees& d, int rank) {
  RETURN_IF_ERROR(ValidateLayoutDegrees(d));
  if (rank < 0 || rank >= d.world) {
    return absl::InvalidArgumentError(absl::StrCat("rank: ", rank, ", expected 0..", d.world - 1));
  }
  const int per_stage = d.world / d.pp;
  RankGroups g;
  g.stage = rank / per_stage;
  const int first = g.stage * per_stage;
  const int local = rank - first;
  g.stage_ranks = Range(first, per_stage, 1);
  g.tp_rank = local % d.tp;
  g.dp_rank = local / d.tp;  // which consecutive tp block this rank is in
  g.tp_group = Range(first + g.dp_rank * d.tp, d.tp, 1);
  g.dp_group = Range(first + g.tp_rank, d.dp, d.tp);
  if (g.stage > 0) g.prev_stage_rank = rank - per_stage;
  if (g.stage + 1 < d.pp) g.next_stage_rank = rank + per_stage;
  return g;
}

absl::StatusOr<std::vector<v1::StageLayout>> StageLayouts(int world, int pp) {
  RETURN_IF_ERROR(ValidateStages(world, pp));
  const int per_stage = world / pp;
  std::vector<v1::StageLayout> stages;
  for (int stage = 0; stage < pp; ++stage) {
    v1::StageLayout layout;
    layout.set_stage(stage);
    for (int rank : Range(stage * per_stage, per_stage, 1)) layout.add_ranks(rank);
    stages.push_back(std::move(layout));
  }
  return stages;
}

}  // namespace galvatron
