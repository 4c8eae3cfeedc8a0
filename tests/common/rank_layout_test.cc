#include <catch2/catch.hpp>

#include <set>

#include "common/rank_layout.h"

namespace galvatron {

TEST_CASE("Galvatron's layout on 8 ranks: pp2, tp2, dp2", "[unit]") {
  // Stage 0 = ranks 0-3, stage 1 = 4-7; tp groups consecutive, dp strided.
  auto g = GroupsOfRank(8, 2, 2, 5);
  REQUIRE(g.ok());
  CHECK(g->stage == 1);
  CHECK(g->stage_ranks == std::vector<int>{4, 5, 6, 7});
  CHECK(g->tp_group == std::vector<int>{4, 5});
  CHECK(g->dp_group == std::vector<int>{5, 7});
  CHECK(g->tp_rank == 1);
  CHECK(g->dp_rank == 0);
  CHECK(g->prev_stage_rank == 1);
  CHECK(g->next_stage_rank == -1);

  auto tp = AllTpGroups(8, 2, 2);
  REQUIRE(tp.ok());
  CHECK(*tp == std::vector<std::vector<int>>{{0, 1}, {2, 3}, {4, 5}, {6, 7}});
  auto dp = AllDpGroups(8, 2, 2);
  REQUIRE(dp.ok());
  CHECK(*dp == std::vector<std::vector<int>>{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
}

TEST_CASE("Every rank's groups agree with the lists of all groups", "[unit]") {
  for (int world : {1, 2, 4, 8, 16}) {
    for (int pp = 1; pp <= world; pp *= 2) {
      for (int tp = 1; tp <= world / pp; tp *= 2) {
        auto tps = AllTpGroups(world, pp, tp);
        auto dps = AllDpGroups(world, pp, tp);
        REQUIRE(tps.ok());
        REQUIRE(dps.ok());
        std::set<std::vector<int>> tp_set(tps->begin(), tps->end());
        std::set<std::vector<int>> dp_set(dps->begin(), dps->end());
        for (int rank = 0; rank < world; ++rank) {
          auto g = GroupsOfRank(world, pp, tp, rank);
          REQUIRE(g.ok());
          CHECK(tp_set.count(g->tp_group) == 1);
          CHECK(dp_set.count(g->dp_group) == 1);
          CHECK(g->tp_group[static_cast<size_t>(g->tp_rank)] == rank);
          CHECK(g->dp_group[static_cast<size_t>(g->dp_rank)] == rank);
          CHECK(static_cast<int>(g->tp_group.size() * g->dp_group.size()) == world / pp);
        }
      }
    }
  }
}

TEST_CASE("Degrees that do not divide are refused", "[unit]") {
  CHECK_THAT(std::string(GroupsOfRank(8, 3, 1, 0).status().message()), Catch::Contains("pp: 3"));
  CHECK_THAT(std::string(GroupsOfRank(8, 2, 8, 0).status().message()), Catch::Contains("tp: 8"));
  CHECK_THAT(std::string(GroupsOfRank(8, 2, 2, 8).status().message()), Catch::Contains("rank: 8"));
}

}  // namespace galvatron
