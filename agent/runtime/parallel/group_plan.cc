#include "agent/runtime/parallel/group_plan.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/rank_layout.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

// The layers of each stage: the given division, or an even split.
absl::StatusOr<std::vector<int>> LayersPerStage(const ParallelLayout& layout) {
  const int layers = static_cast<int>(layout.layers.size());
  if (layout.layers_per_stage.empty()) {
    if (layers % layout.pp != 0) {
      return absl::InvalidArgumentError(absl::StrCat("layers_per_stage: empty, and the ", layers,
                                                     " layers do not split evenly over pp ",
                                                     layout.pp, " stages"));
    }
    return std::vector<int>(static_cast<size_t>(layout.pp), layers / layout.pp);
  }
  if (static_cast<int>(layout.layers_per_stage.size()) != layout.pp) {
    return absl::InvalidArgumentError(
        absl::StrCat("layers_per_stage: ", layout.layers_per_stage.size(),
                     " entries, expected one per stage (pp ", layout.pp, ")"));
  }
  const int sum =
      std::accumulate(layout.layers_per_stage.begin(), layout.layers_per_stage.end(), 0);
  const bool negative = std::any_of(layout.layers_per_stage.begin(), layout.layers_per_stage.end(),
                                    [](int n) { return n < 0; });
  if (negative || sum != layers) {
    return absl::InvalidArgumentError(absl::StrCat("layers_per_stage: covers ", sum,
                                                   " layers, expected the model's ", layers,
                                                   " (no negative entries)"));
  }
  return layout.layers_per_stage;
}

// The groups of `rank` for one strategy; `field` names it in errors.
absl::StatusOr<LayerGroupRanks> GroupsFor(const ParallelLayout& layout,
                                          const LayerParallelism& strategy,
                                          const std::string& field) {
  LayoutDegrees degrees{layout.world, layout.pp, strategy.tp, strategy.dp};
  if (degrees.dp == 0 && degrees.tp >= 1) degrees.dp = layout.world / layout.pp / degrees.tp;
  absl::StatusOr<RankGroups> groups = GroupsOfRank(degrees, layout.rank);
  if (!groups.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".", groups.status().message()));
  }
  LayerGroupRanks out;
  out.strategy = strategy;
  out.strategy.dp = degrees.dp;
  out.tp = groups->tp_group;
  out.dp = groups->dp_group;
  out.grad_sync =
      strategy.sp == v1::SEQUENCE_PARALLEL_ULYSSES ? groups->stage_ranks : groups->dp_group;
  return out;
}

bool ComesFirst(const std::vector<int>& a, const std::vector<int>& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

std::vector<std::vector<int>> CreationOrder(const GroupPlan& plan, int world) {
  std::set<std::vector<int>> distinct;
  std::vector<int> everyone(static_cast<size_t>(world));
  std::iota(everyone.begin(), everyone.end(), 0);
  distinct.insert(everyone);
  distinct.insert(plan.stage_ranks);
  auto add = [&distinct](const LayerGroupRanks& g) {
    distinct.insert(g.tp);
    distinct.insert(g.dp);
    distinct.insert(g.grad_sync);
  };
  for (const LayerGroupRanks& g : plan.layers) add(g);
  if (plan.embedding) add(*plan.embedding);
  for (const std::vector<int>& g : plan.extra_groups) distinct.insert(g);
  std::vector<std::vector<int>> order;
  for (const std::vector<int>& group : distinct) {
    if (group.size() > 1) order.push_back(group);
  }
  std::sort(order.begin(), order.end(), ComesFirst);
  return order;
}

}  // namespace

absl::StatusOr<GroupPlan> PlanGroups(const ParallelLayout& layout) {
  // The stage and neighbours do not depend on tp: ask with tp 1. This also
  // checks world, pp and rank.
  const int stage_size = layout.pp >= 1 ? layout.world / layout.pp : 0;
  ASSIGN_OR_RETURN(const RankGroups position,
                   GroupsOfRank({layout.world, layout.pp, 1, stage_size}, layout.rank));
  ASSIGN_OR_RETURN(const std::vector<int> per_stage, LayersPerStage(layout));
  GroupPlan plan;
  plan.stage = position.stage;
  plan.stage_ranks = position.stage_ranks;
  plan.prev_stage_rank = position.prev_stage_rank;
  plan.next_stage_rank = position.next_stage_rank;
  plan.first_layer = std::accumulate(per_stage.begin(), per_stage.begin() + plan.stage, 0);

  // Every layer is validated, not only this stage's: a plan is wrong or
  // right for all ranks alike.
  for (size_t i = 0; i < layout.layers.size(); ++i) {
    ASSIGN_OR_RETURN(LayerGroupRanks groups,
                     GroupsFor(layout, layout.layers[i], absl::StrCat("layers[", i, "]")));
    const int index = static_cast<int>(i);
    if (index >= plan.first_layer && index < plan.first_layer + per_stage[plan.stage]) {
      plan.layers.push_back(std::move(groups));
    }
  }
  ASSIGN_OR_RETURN(LayerGroupRanks embedding, GroupsFor(layout, layout.embedding, "embedding"));
  if (plan.stage == 0 || plan.stage == layout.pp - 1) plan.embedding = std::move(embedding);
  for (size_t i = 0; i < layout.extra_groups.size(); ++i) {
    const std::vector<int>& g = layout.extra_groups[i];
    const bool sorted =
        std::is_sorted(g.begin(), g.end()) && std::adjacent_find(g.begin(), g.end()) == g.end();
    if (g.empty() || !sorted || g.front() < 0 || g.back() >= layout.world) {
      return absl::InvalidArgumentError(absl::StrCat(
          "extra_groups[", i, "]: expected distinct ascending ranks in [0, ", layout.world, ")"));
    }
    if (std::binary_search(g.begin(), g.end(), layout.rank)) plan.extra_groups.push_back(g);
  }
  plan.creation_order = CreationOrder(plan, layout.world);
  return plan;
}

}  // namespace galvatron::runtime
