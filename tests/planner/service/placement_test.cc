// Placement: choosing named nodes, one rank per device (equal nodes only),
// one rank on the least loaded node, and the per-rank view a job records.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "planner/service/placement.h"
#include "tests/support/nodes.h"

namespace galvatron {
namespace {

using planner::Placement;
using testing::MakeNode;

google::protobuf::RepeatedPtrField<std::string> Names(const std::vector<std::string>& names) {
  return google::protobuf::RepeatedPtrField<std::string>(names.begin(), names.end());
}

}  // namespace

TEST_CASE("SelectNamedNodes keeps the order asked and refuses lost or repeated nodes",
          "[service][placement]") {
  const std::vector<v1::Node> alive = {MakeNode("a"), MakeNode("b"), MakeNode("c")};
  auto chosen = planner::SelectNamedNodes("test", alive, Names({"c", "a"}));
  REQUIRE(chosen.ok());
  REQUIRE(chosen->size() == 2);
  CHECK((*chosen)[0].name() == "c");
  CHECK((*chosen)[1].name() == "a");
  CHECK(planner::SelectNamedNodes("test", alive, Names({}))->empty());

  auto lost = planner::SelectNamedNodes("test", alive, Names({"a", "z"}));
  REQUIRE(absl::IsFailedPrecondition(lost.status()));
  CHECK_THAT(std::string(lost.status().message()),
             Catch::Contains("\"z\"") && Catch::Contains("not alive"));
  auto twice = planner::SelectNamedNodes("test", alive, Names({"b", "b"}));
  REQUIRE(absl::IsInvalidArgument(twice.status()));
  CHECK_THAT(std::string(twice.status().message()),
             Catch::StartsWith("nodes:") && Catch::Contains("twice"));
}

TEST_CASE("One rank per device: consecutive ranks per node, rank 0 on the first",
          "[service][placement]") {
  std::vector<v1::Node> nodes = {MakeNode("n1", "test", 4), MakeNode("n2", "test", 4),
                                 MakeNode("n3", "test", 4)};
  nodes[1].mutable_devices(0)->set_index(3);  // devices need not be numbered from 0
  auto placement = planner::PlaceOneRankPerDevice(nodes);
  REQUIRE(placement.ok());
  CHECK(placement->world_size == 12);
  REQUIRE(placement->nodes.size() == 3);
  CHECK(placement->nodes[0].node == "n1");
  CHECK(placement->nodes[0].first_rank == 0);
  CHECK(placement->nodes[1].first_rank == 4);
  CHECK(placement->nodes[2].first_rank == 8);
  CHECK(placement->nodes[2].num_ranks == 4);
  CHECK(placement->nodes[1].device_indices == std::vector<int>{3, 1, 2, 3});

  const std::vector<v1::RankAssignment> ranks = planner::RankAssignments(*placement);
  REQUIRE(ranks.size() == 12);
  for (int r = 0; r < 12; ++r) CHECK(ranks[r].rank() == r);
  CHECK(ranks[0].node() == "n1");
  CHECK(ranks[4].node() == "n2");
  CHECK(ranks[4].device_index() == 3);
  CHECK(ranks[11].node() == "n3");
  CHECK(ranks[11].device_index() == 3);
}

TEST_CASE("One rank per device needs equal nodes with devices", "[service][placement]") {
  auto ragged =
      planner::PlaceOneRankPerDevice({MakeNode("n1", "test", 2), MakeNode("n2", "test", 4)});
  REQUIRE(absl::IsFailedPrecondition(ragged.status()));
  CHECK_THAT(std::string(ragged.status().message()), Catch::Contains("same number of devices") &&
                                                         Catch::Contains("n1 has 2") &&
                                                         Catch::Contains("n2 has 4"));
  CHECK(absl::IsFailedPrecondition(
      planner::PlaceOneRankPerDevice({MakeNode("n1", "test", 0)}).status()));
  CHECK(absl::IsFailedPrecondition(planner::PlaceOneRankPerDevice({}).status()));
}

TEST_CASE("One rank on the least loaded node, ties to the smaller name", "[service][placement]") {
  const std::vector<v1::Node> nodes = {MakeNode("n3"), MakeNode("n1"), MakeNode("n2")};
  Placement idle = planner::PlaceOnLeastLoaded(nodes, {});
  REQUIRE(idle.nodes.size() == 1);
  CHECK(idle.nodes[0].node == "n1");
  CHECK(idle.world_size == 1);
  CHECK(idle.nodes[0].num_ranks == 1);
  CHECK(idle.nodes[0].device_indices == std::vector<int>{0});

  const std::map<std::string, int> load = {{"n1", 2}, {"n2", 1}};
  CHECK(planner::PlaceOnLeastLoaded(nodes, load).nodes[0].node == "n3");
  const std::map<std::string, int> busy = {{"n1", 2}, {"n2", 1}, {"n3", 1}};
  CHECK(planner::PlaceOnLeastLoaded(nodes, busy).nodes[0].node == "n2");
}

}  // namespace galvatron
