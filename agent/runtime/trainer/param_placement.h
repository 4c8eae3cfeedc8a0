// Where every parameter tensor of a run lives, rank by rank, as BuildStage
// lays it out — worked out from the model and the plan alone, without any
// process group, so that one process can read a sharded checkpoint — and the
// builder that puts the ranks' slices back into whole tensors.
//
// A rank holds, for the embedding/head (first and last stage) and each layer
// of its stage, every parameter's slice (ParamShard: tensor-parallel rows or
// columns, a vocab-parallel table's rows, or the whole tensor). Parameters of
// a ZeRO-3 layer are not kept as such: the layer's unit concatenates them
// (in the block's Shards() order) into one flat vector, pads it to a
// multiple of the shard group's size and keeps this rank's 1/n of it.
//
// Thread-compatible.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/runtime/blocks/blocks.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

struct PlacedParam {
  std::string name;            // global, as Param::name ("layer3.q.weight")
  ParamShard shard;            // its place in the full tensor
  std::vector<int64_t> shape;  // the slice this rank holds
  int unit = -1;               // its ZeRO-3 unit (RankPlacement::units), or -1: kept as itself
  bool tied_copy = false;      // the last stage's copy of a table tied across the pipeline
};

struct PlacedUnit {
  std::string name;             // Zero3Unit::name(): "embedding." or "layer3."
  std::vector<int> ranks;       // the shard group, global ranks ascending
  int index = 0;                // this rank's place in it
  std::vector<size_t> members;  // RankPlacement::params indices, in the flat vector's order
};

struct RankPlacement {
  int rank = 0;
  bool first_stage = false;
  std::vector<PlacedParam> params;  // in Stage::params order
  std::vector<PlacedUnit> units;    // in Stage::units order
};

// Every rank's placement for `plan` (checked against `model` by the caller:
// CheckPlanForModel). INVALID_ARGUMENT when the plan's groups do not fit.
absl::StatusOr<std::vector<RankPlacement>> PlaceParameters(const v1::ModelSpec& model,
                                                           const v1::Plan& plan);

// Whole tensors put back together from their slices.
class FullTensorBuilder {
 public:
  // Whether the slice of `name` at `shard`'s place is there already.
  bool Has(const std::string& name, const ParamShard& shard) const;
  // Copies `slice` into the full tensor `name` (created in the slice's dtype
  // by its first slice) at `shard`'s place; a slice already there is
  // skipped (replicas hold the same values). INVALID_ARGUMENT when the
  // slice does not fit the full shape or overlaps another slice.
  absl::Status Add(const std::string& name, const ParamShard& shard, const torch::Tensor& slice);
  // The tensors; DATA_LOSS naming a tensor some of whose slices never came.
  absl::StatusOr<std::map<std::string, torch::Tensor>> Finish();

 private:
  struct Full {
    torch::Tensor tensor;
    int dim = -1;
    std::map<int64_t, int64_t> placed;  // start → length along dim
  };
  std::map<std::string, Full> full_;
};

}  // namespace galvatron::runtime
