// common/rank_layout: Galvatron's layout (pipeline outermost, consecutive
// tensor-parallel groups, strided data-parallel groups) and its validation.
#include "common/rank_layout.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

namespace galvatron {
namespace {

using Groups = std::vector<std::vector<int>>;

std::string ErrorOf(const LayoutDegrees& degrees) {
  return std::string(ValidateLayoutDegrees(degrees).message());
}

TEST_CASE("Galvatron's layout on 8 ranks: pp 2, tp 2, dp 2", "[unit]") {
  const LayoutDegrees degrees{/*world=*/8, /*pp=*/2, /*tp=*/2, /*dp=*/2};
  auto stages = AllGroups(degrees);
  REQUIRE(stages.ok());
  REQUIRE(stages->size() == 2);
  CHECK((*stages)[0].ranks == std::vector<int>{0, 1, 2, 3});
  CHECK((*stages)[1].ranks == std::vector<int>{4, 5, 6, 7});
  CHECK((*stages)[0].tp_groups == Groups{{0, 1}, {2, 3}});
  CHECK((*stages)[1].tp_groups == Groups{{4, 5}, {6, 7}});
  CHECK((*stages)[0].dp_groups == Groups{{0, 2}, {1, 3}});
  CHECK((*stages)[1].dp_groups == Groups{{4, 6}, {5, 7}});

  auto g = GroupsOfRank(degrees, 5);
  REQUIRE(g.ok());
  CHECK(g->stage == 1);
  CHECK(g->stage_ranks == std::vector<int>{4, 5, 6, 7});
  CHECK(g->tp_group == std::vector<int>{4, 5});
  CHECK(g->dp_group == std::vector<int>{5, 7});
  CHECK(g->tp_rank == 1);
  CHECK(g->dp_rank == 0);
  CHECK(g->prev_stage_rank == 1);
  CHECK(g->next_stage_rank == -1);
}

TEST_CASE("Galvatron's layout on 8 ranks without pipeline: tp 4 consecutive, dp 2 strided",
          "[unit]") {
  auto stages = AllGroups({8, 1, 4, 2});
  REQUIRE(stages.ok());
  REQUIRE(stages->size() == 1);
  CHECK((*stages)[0].tp_groups == Groups{{0, 1, 2, 3}, {4, 5, 6, 7}});
  CHECK((*stages)[0].dp_groups == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
  auto g = GroupsOfRank({8, 1, 4, 2}, 6);
  REQUIRE(g.ok());
  CHECK(g->tp_rank == 2);
  CHECK(g->dp_rank == 1);
  CHECK(g->prev_stage_rank == -1);
  CHECK(g->next_stage_rank == -1);
}

TEST_CASE("pp 4 on 8 ranks: p2p neighbours at the same position of the next stage", "[unit]") {
  for (int rank = 0; rank < 8; ++rank) {
    auto g = GroupsOfRank({8, 4, 1, 2}, rank);
    REQUIRE(g.ok());
    CHECK(g->stage == rank / 2);
    CHECK(g->prev_stage_rank == (rank >= 2 ? rank - 2 : -1));
    CHECK(g->next_stage_rank == (rank < 6 ? rank + 2 : -1));
  }
}

TEST_CASE("Every rank's groups are among the groups of the world, once each", "[unit]") {
  for (int world : {1, 2, 4, 8, 16}) {
    for (int pp = 1; pp <= world; pp *= 2) {
      for (int tp = 1; tp <= world / pp; tp *= 2) {
        const LayoutDegrees degrees{world, pp, tp, world / pp / tp};
        INFO("world " << world << " pp " << pp << " tp " << tp);
        auto stages = AllGroups(degrees);
        REQUIRE(stages.ok());
        std::set<std::vector<int>> tp_set, dp_set;
        std::multiset<int> tp_members, dp_members;
        for (const StageGroups& stage : *stages) {
          for (const auto& group : stage.tp_groups) {
            tp_set.insert(group);
            tp_members.insert(group.begin(), group.end());
          }
          for (const auto& group : stage.dp_groups) {
            dp_set.insert(group);
            dp_members.insert(group.begin(), group.end());
          }
        }
        for (int rank = 0; rank < world; ++rank) {
          // Each rank is in exactly one tp group and one dp group.
          CHECK(tp_members.count(rank) == 1);
          CHECK(dp_members.count(rank) == 1);
          auto g = GroupsOfRank(degrees, rank);
          REQUIRE(g.ok());
          CHECK(tp_set.count(g->tp_group) == 1);
          CHECK(dp_set.count(g->dp_group) == 1);
          CHECK(g->tp_group[static_cast<size_t>(g->tp_rank)] == rank);
          CHECK(g->dp_group[static_cast<size_t>(g->dp_rank)] == rank);
          CHECK(g->stage_ranks == (*stages)[static_cast<size_t>(g->stage)].ranks);
        }
      }
    }
  }
}

TEST_CASE("Degrees that do not fit are refused, naming the degree", "[unit]") {
  CHECK_THAT(ErrorOf({0, 1, 1, 1}), Catch::Contains("world: 0"));
  CHECK_THAT(ErrorOf({8, 3, 1, 8}), Catch::Contains("pp: 3"));
  CHECK_THAT(ErrorOf({8, 0, 1, 8}), Catch::Contains("pp: 0"));
  CHECK_THAT(ErrorOf({8, 2, 3, 1}), Catch::Contains("tp: 3"));
  CHECK_THAT(ErrorOf({8, 2, 8, 1}), Catch::Contains("tp: 8"));
  CHECK_THAT(ErrorOf({8, 2, 2, 1}), Catch::Contains("dp: 1, expected 2"));
  CHECK(ValidateLayoutDegrees({8, 2, 2, 2}).ok());
  auto bad_rank = GroupsOfRank({8, 2, 2, 2}, 8);
  CHECK(absl::IsInvalidArgument(bad_rank.status()));
  CHECK_THAT(std::string(bad_rank.status().message()), Catch::Contains("rank: 8"));
  CHECK(absl::IsInvalidArgument(AllGroups({8, 2, 4, 2}).status()));
}

TEST_CASE("Stage layouts as plan.proto's StageLayout", "[unit]") {
  auto stages = StageLayouts(8, 4);
  REQUIRE(stages.ok());
  REQUIRE(stages->size() == 4);
  CHECK((*stages)[2].stage() == 2);
  CHECK(std::vector<int>((*stages)[2].ranks().begin(), (*stages)[2].ranks().end()) ==
        std::vector<int>{4, 5});
  CHECK(absl::IsInvalidArgument(StageLayouts(8, 3).status()));
}

}  // namespace
}  // namespace galvatron
