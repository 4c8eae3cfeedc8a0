// Placement: which nodes, and which of their devices, take which ranks of
// work spread over a cluster. Tasks use it today (a probe: one rank per
// device of every chosen node; a profile: one rank on the least loaded
// node); training jobs can use the same Placement and turn it into the
// RankAssignments of job.proto.
//
// Ranks are consecutive per node and nodes follow the order given, so rank 0
// is the first device of the first node (whose node hosts the rendezvous;
// see the two-phase hand-out in task_handout.h).
//
// Thread model: pure functions of their arguments (thread-compatible).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/job.pb.h"
#include "google/protobuf/repeated_field.h"

namespace galvatron::planner {

// One node's share: ranks [first_rank, first_rank + num_ranks), rank
// first_rank + i on device device_indices[i].
struct NodeRanks {
  std::string node;
  int first_rank = 0;
  int num_ranks = 0;
  std::vector<int> device_indices;
};

struct Placement {
  std::vector<NodeRanks> nodes;
  int world_size = 0;
};

// The nodes named in `names`, in that order, taken from `alive` (the alive
// nodes of `cluster`). FAILED_PRECONDITION naming a node that is not alive;
// INVALID_ARGUMENT naming one listed twice. Empty when `names` is.
absl::StatusOr<std::vector<v1::Node>> SelectNamedNodes(
    const std::string& cluster, const std::vector<v1::Node>& alive,
    const google::protobuf::RepeatedPtrField<std::string>& names);

// One rank per device of every node. The nodes must have the same number of
// devices, at least one (FAILED_PRECONDITION naming two that differ): the
// collectives measured and run over the world assume equal nodes, with
// groups of consecutive or strided ranks.
absl::StatusOr<Placement> PlaceOneRankPerDevice(const std::vector<v1::Node>& nodes);

// One rank, on the first device of the node of `nodes` with the least
// `load` (parts of work already placed on it; absent = 0), ties broken by
// the smaller name so that the choice is deterministic. `nodes` must not be
// empty.
Placement PlaceOnLeastLoaded(const std::vector<v1::Node>& nodes,
                             const std::map<std::string, int>& load);

// The placement rank by rank, as a training job records it.
std::vector<v1::RankAssignment> RankAssignments(const Placement& placement);

}  // namespace galvatron::planner
