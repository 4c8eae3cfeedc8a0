#include "planner/service/placement.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/field_checks.h"

namespace galvatron::planner {

using field_checks::Invalid;
using field_checks::Quoted;

absl::StatusOr<std::vector<v1::Node>> SelectNamedNodes(
    const std::string& cluster, const std::vector<v1::Node>& alive,
    const google::protobuf::RepeatedPtrField<std::string>& names) {
  std::vector<v1::Node> chosen;
  for (const std::string& name : names) {
    auto it = std::find_if(alive.begin(), alive.end(),
                           [&](const v1::Node& n) { return n.name() == name; });
    if (it == alive.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("node ", Quoted(name), " of cluster ", Quoted(cluster),
                       " is not alive (unknown, or its agent stopped sending heartbeats)"));
    }
    if (std::any_of(chosen.begin(), chosen.end(),
                    [&](const v1::Node& n) { return n.name() == name; })) {
      return Invalid("nodes", Quoted(name), "listed twice, expected each node once");
    }
    chosen.push_back(*it);
  }
  return chosen;
}

absl::StatusOr<Placement> PlaceOneRankPerDevice(const std::vector<v1::Node>& nodes) {
  if (nodes.empty()) {
    return absl::FailedPreconditionError("no node to place ranks on");
  }
  const int per_node = nodes.front().devices_size();
  for (const v1::Node& node : nodes) {
    if (node.devices_size() != per_node || per_node == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the nodes must have the same number of devices (at least one): ", nodes.front().name(),
          " has ", per_node, ", ", node.name(), " has ", node.devices_size(),
          "; choose nodes with --nodes"));
    }
  }
  Placement placement;
  for (const v1::Node& node : nodes) {
    NodeRanks share;
    share.node = node.name();
    share.first_rank = placement.world_size;
    share.num_ranks = per_node;
    for (const v1::Device& device : node.devices()) share.device_indices.push_back(device.index());
    placement.world_size += per_node;
    placement.nodes.push_back(std::move(share));
  }
  return placement;
}

Placement PlaceOnLeastLoaded(const std::vector<v1::Node>& nodes,
                             const std::map<std::string, int>& load) {
  auto load_of = [&](const v1::Node& node) {
    auto it = load.find(node.name());
    return std::make_pair(it == load.end() ? 0 : it->second, node.name());
  };
  const v1::Node& node = *std::min_element(
      nodes.begin(), nodes.end(),
      [&](const v1::Node& a, const v1::Node& b) { return load_of(a) < load_of(b); });
  NodeRanks share;
  share.node = node.name();
  share.num_ranks = 1;
  share.device_indices.push_back(node.devices_size() > 0 ? node.devices(0).index() : 0);
  Placement placement;
  placement.nodes.push_back(std::move(share));
  placement.world_size = 1;
  return placement;
}

std::vector<v1::RankAssignment> RankAssignments(const Placement& placement) {
  std::vector<v1::RankAssignment> ranks;
  ranks.reserve(placement.world_size);
  for (const NodeRanks& share : placement.nodes) {
    for (int i = 0; i < share.num_ranks; ++i) {
      v1::RankAssignment rank;
      rank.set_rank(share.first_rank + i);
      rank.set_node(share.node);
      rank.set_device_index(
          i < static_cast<int>(share.device_indices.size()) ? share.device_indices[i] : i);
      ranks.push_back(std::move(rank));
    }
  }
  return ranks;
}

}  // namespace galvatron::planner
