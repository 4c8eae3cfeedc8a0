// agent/runtime/parallel/group_plan: which groups a rank creates, in an order
// that cannot deadlock, for per-layer strategies; validation of the layout.
#include "agent/runtime/parallel/group_plan.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace galvatron::runtime {
namespace {

using Ranks = std::vector<int>;
using Groups = std::vector<std::vector<int>>;

constexpr auto kNone = v1::SEQUENCE_PARALLEL_NONE;
constexpr auto kMegatron = v1::SEQUENCE_PARALLEL_MEGATRON;
constexpr auto kUlysses = v1::SEQUENCE_PARALLEL_ULYSSES;

ParallelLayout FourRanks(int rank) {
  ParallelLayout layout;
  layout.world = 4;
  layout.rank = rank;
  layout.layers = {{2, kNone, 2}, {4, kMegatron, 1}, {1, kNone, 0}, {2, kUlysses, 0}};
  layout.embedding = {4, kNone, 0};
  return layout;
}

std::string ErrorOf(const ParallelLayout& layout) {
  return std::string(PlanGroups(layout).status().message());
}

TEST_CASE("Groups of each layer on 4 ranks, Ulysses syncing over its whole stage", "[unit]") {
  auto plan = PlanGroups(FourRanks(1));
  REQUIRE(plan.ok());
  REQUIRE(plan->layers.size() == 4);
  CHECK(plan->layers[0].tp == Ranks{0, 1});
  CHECK(plan->layers[0].dp == Ranks{1, 3});
  CHECK(plan->layers[0].grad_sync == Ranks{1, 3});
  CHECK(plan->layers[1].tp == Ranks{0, 1, 2, 3});
  CHECK(plan->layers[1].dp == Ranks{1});
  CHECK(plan->layers[1].grad_sync == Ranks{1});  // Megatron-SP weights are split over tp
  CHECK(plan->layers[2].tp == Ranks{1});
  CHECK(plan->layers[2].strategy.dp == 4);  // resolved from 0
  CHECK(plan->layers[2].dp == Ranks{0, 1, 2, 3});
  CHECK(plan->layers[3].tp == Ranks{0, 1});
  CHECK(plan->layers[3].dp == Ranks{1, 3});
  CHECK(plan->layers[3].grad_sync == Ranks{0, 1, 2, 3});  // dp × sp
  REQUIRE(plan->embedding.has_value());
  CHECK(plan->embedding->tp == Ranks{0, 1, 2, 3});
  // Distinct groups of more than one rank, by size then ranks; {0,1,2,3}
  // (world, stage, tp 4, dp 4, Ulysses sync) only once.
  CHECK(plan->creation_order == Groups{{0, 1}, {1, 3}, {0, 1, 2, 3}});
  CHECK(plan->prev_stage_rank == -1);
  CHECK(plan->next_stage_rank == -1);
}

TEST_CASE("The creation order does not depend on the layers' order", "[unit]") {
  ParallelLayout layout = FourRanks(2);
  auto plan = PlanGroups(layout);
  REQUIRE(plan.ok());
  std::reverse(layout.layers.begin(), layout.layers.end());
  auto reversed = PlanGroups(layout);
  REQUIRE(reversed.ok());
  CHECK(plan->creation_order == reversed->creation_order);
}

TEST_CASE("Ranks agree on the relative order of the groups they share", "[unit]") {
  // What makes collective creation deadlock-free: any two ranks meet their
  // common groups in the same order.
  ParallelLayout layout;
  layout.world = 8;
  layout.pp = 2;
  layout.layers = {{2, kNone, 2}, {4, kUlysses, 1}, {1, kNone, 4}, {2, kMegatron, 2}};
  layout.layers_per_stage = {2, 2};
  layout.embedding = {2, kNone, 0};
  std::vector<Groups> orders;
  for (int rank = 0; rank < 8; ++rank) {
    layout.rank = rank;
    auto plan = PlanGroups(layout);
    REQUIRE(plan.ok());
    orders.push_back(plan->creation_order);
  }
  for (int a = 0; a < 8; ++a) {
    for (int b = 0; b < 8; ++b) {
      Groups common_a, common_b;
      for (const auto& g : orders[a]) {
        if (std::count(orders[b].begin(), orders[b].end(), g) > 0) common_a.push_back(g);
      }
      for (const auto& g : orders[b]) {
        if (std::count(orders[a].begin(), orders[a].end(), g) > 0) common_b.push_back(g);
      }
      CHECK(common_a == common_b);
    }
  }
  // Every group a rank creates lists that rank, and its members create it too.
  for (int rank = 0; rank < 8; ++rank) {
    for (const auto& g : orders[rank]) {
      CHECK(std::count(g.begin(), g.end(), rank) == 1);
      for (int member : g) CHECK(std::count(orders[member].begin(), orders[member].end(), g) == 1);
    }
  }
}

TEST_CASE("Pipeline stages: this stage's layers, the embedding on the first and last", "[unit]") {
  ParallelLayout layout;
  layout.world = 6;
  layout.pp = 3;
  layout.layers = {{2, kNone, 1}, {1, kNone, 2}, {2, kNone, 1}, {2, kNone, 1}};
  layout.layers_per_stage = {1, 2, 1};
  layout.rank = 3;  // stage 1: ranks 2, 3
  auto middle = PlanGroups(layout);
  REQUIRE(middle.ok());
  CHECK(middle->stage == 1);
  CHECK(middle->stage_ranks == Ranks{2, 3});
  CHECK(middle->first_layer == 1);
  REQUIRE(middle->layers.size() == 2);
  CHECK(middle->layers[0].dp == Ranks{2, 3});
  CHECK(middle->layers[1].tp == Ranks{2, 3});
  CHECK_FALSE(middle->embedding.has_value());
  CHECK(middle->prev_stage_rank == 1);
  CHECK(middle->next_stage_rank == 5);
  layout.rank = 4;
  auto last = PlanGroups(layout);
  REQUIRE(last.ok());
  CHECK(last->first_layer == 3);
  CHECK(last->layers.size() == 1);
  CHECK(last->embedding.has_value());
  CHECK(last->creation_order == Groups{{4, 5}, {0, 1, 2, 3, 4, 5}});
}

TEST_CASE("Layouts that do not fit are refused, naming the field", "[unit]") {
  ParallelLayout layout = FourRanks(0);
  layout.layers[1].tp = 3;
  CHECK_THAT(ErrorOf(layout), Catch::Contains("layers[1].tp: 3"));
  layout = FourRanks(0);
  layout.layers[0].dp = 1;
  CHECK_THAT(ErrorOf(layout), Catch::Contains("layers[0].dp: 1, expected 2"));
  layout = FourRanks(0);
  layout.embedding.tp = 8;
  CHECK_THAT(ErrorOf(layout), Catch::Contains("embedding.tp: 8"));
  layout = FourRanks(4);
  CHECK_THAT(ErrorOf(layout), Catch::Contains("rank: 4"));
  layout = FourRanks(0);
  layout.pp = 3;
  CHECK_THAT(ErrorOf(layout), Catch::Contains("pp: 3"));
  layout = FourRanks(0);
  layout.pp = 2;
  layout.layers_per_stage = {1, 2};
  for (auto& layer : layout.layers) layer = {1, kNone, 0};
  layout.embedding = {1, kNone, 0};
  CHECK_THAT(ErrorOf(layout),
             Catch::Contains("layers_per_stage: covers 3 layers, expected the model's 4"));
  layout.layers_per_stage = {4};
  CHECK_THAT(ErrorOf(layout), Catch::Contains("layers_per_stage: 1 entries"));
  layout.layers_per_stage.clear();
  layout.layers.pop_back();
  CHECK_THAT(ErrorOf(layout), Catch::Contains("do not split evenly over pp 2"));
}

}  // namespace
}  // namespace galvatron::runtime
