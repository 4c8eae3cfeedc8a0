#include "agent/runtime/trainer/param_placement.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/runtime/parallel/group_plan.h"
#include "agent/runtime/trainer/stage_builder.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

// A module's parameters: their places and the shapes a rank holds.
struct Built {
  std::vector<ParamShard> shards;
  std::vector<std::vector<int64_t>> shapes;
};

Built Describe(torch::nn::Module& module, std::vector<ParamShard> shards) {
  Built built;
  auto named = module.named_parameters();
  for (const ParamShard& shard : shards) {
    const torch::Tensor& p = named[shard.name];
    built.shapes.emplace_back(p.sizes().begin(), p.sizes().end());
  }
  built.shards = std::move(shards);
  return built;
}

int IndexOf(const std::vector<int>& ranks, int rank) {
  return static_cast<int>(std::find(ranks.begin(), ranks.end(), rank) - ranks.begin());
}

std::string Key(const std::string& what, const BlockOptions& o) {
  return absl::StrCat(what, "/", o.tp, "/", o.tp_rank, "/", static_cast<int>(o.sp));
}

}  // namespace

absl::StatusOr<std::vector<RankPlacement>> PlaceParameters(const v1::ModelSpec& model,
                                                           const v1::Plan& plan) {
  torch::NoGradGuard no_grad;
  const int world = plan.world_size();
  const int pp = std::max(1, plan.pp());
  // Modules are built (in float32, on the CPU) once per distinct slice.
  std::map<std::string, Built> built;
  std::vector<RankPlacement> placements;
  for (int rank = 0; rank < world; ++rank) {
    ASSIGN_OR_RETURN(const GroupPlan groups, PlanGroups(LayoutOfPlan(plan, model, rank)));
    const int position = IndexOf(groups.stage_ranks, rank);
    RankPlacement placement;
    placement.rank = rank;
    placement.first_stage = groups.stage == 0;
    auto add = [&](const Built& b, const std::string& prefix, v1::DataParallelType type,
                   const std::vector<int>& shard_group) {
      PlacedUnit unit;
      unit.name = prefix;
      unit.ranks = shard_group;
      unit.index = IndexOf(shard_group, rank);
      for (size_t i = 0; i < b.shards.size(); ++i) {
        PlacedParam p;
        p.name = prefix + b.shards[i].name;
        p.shard = b.shards[i];
        p.shape = b.shapes[i];
        const bool tied = TiedAcrossPipeline(model, pp, p.name);
        p.tied_copy = tied && !placement.first_stage;
        if (InZero3Unit(type, tied, static_cast<int>(shard_group.size()))) {
          p.unit = static_cast<int>(placement.units.size());
          unit.members.push_back(placement.params.size());
        }
        placement.params.push_back(std::move(p));
      }
      if (!unit.members.empty()) placement.units.push_back(std::move(unit));
    };
    if (groups.embedding) {
      BlockOptions options = EmbeddingBlockOptions(plan.embedding(), position, torch::kFloat32);
      if (NeedsGroupComm(options)) options.comm = std::make_shared<ShapeOnlyComm>(options.tp);
      const HeadPart part = HeadPartOf(pp, placement.first_stage);
      const std::string key = Key(absl::StrCat("embedding", static_cast<int>(part)), options);
      if (built.count(key) == 0) {
        EmbeddingHead module(model, part, options);
        built[key] = Describe(*module, module->Shards());
      }
      add(built[key], "embedding.", plan.embedding().dp_type(), groups.embedding->grad_sync);
    }
    for (size_t i = 0; i < groups.layers.size(); ++i) {
      const int layer = groups.first_layer + static_cast<int>(i);
      ASSIGN_OR_RETURN(LayerBlockSetup setup,
                       LayerBlockOptions(model, plan, layer, position, torch::kFloat32));
      if (NeedsGroupComm(setup.options)) {
        setup.options.comm = std::make_shared<ShapeOnlyComm>(groups.layers[i].strategy.tp);
      }
      const std::string key = Key(absl::StrCat("layer", layer), setup.options);
      if (built.count(key) == 0) {
        TransformerBlock module(setup.shape, setup.options);
        built[key] = Describe(*module, module->Shards());
      }
      add(built[key], absl::StrCat("layer", layer, "."), plan.layers(layer).dp_type(),
          groups.layers[i].grad_sync);
    }
    placements.push_back(std::move(placement));
  }
  return placements;
}

bool FullTensorBuilder::Has(const std::string& name, const ParamShard& shard) const {
  auto it = full_.find(name);
  return it != full_.end() && it->second.placed.count(shard.dim >= 0 ? shard.start : 0) > 0;
}

absl::Status FullTensorBuilder::Add(const std::string& name, const ParamShard& shard,
                                    const torch::Tensor& slice) {
  const std::vector<int64_t>& shape = shard.full_shape;
  const int64_t start = shard.dim >= 0 ? shard.start : 0;
  const bool fits = [&] {
    if (slice.dim() != static_cast<int64_t>(shape.size())) return false;
    for (size_t d = 0; d < shape.size(); ++d) {
      const bool along = static_cast<int>(d) == shard.dim;
      if (along ? start + slice.size(static_cast<int64_t>(d)) > shape[d]
                : slice.size(static_cast<int64_t>(d)) != shape[d]) {
        return false;
      }
    }
    return start >= 0;
  }();
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": a slice of shape ", c10::str(slice.sizes()), " at ", start, " along dim ",
        shard.dim, " does not fit the full shape [", absl::StrJoin(shape, ", "), "]"));
  }
  Full& full = full_[name];
  if (!full.tensor.defined()) {
    full.tensor = torch::empty(shape, torch::TensorOptions().dtype(slice.scalar_type()));
    full.dim = shard.dim;
  } else if (full.dim != shard.dim || full.tensor.sizes() != at::IntArrayRef(shape)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": slices disagree on the full shape or the split dimension"));
  }
  if (full.placed.count(start) > 0) return absl::OkStatus();  // a replica
  const int64_t length = shard.dim >= 0 ? slice.size(shard.dim) : 1;
  auto next = full.placed.lower_bound(start);
  const bool overlaps_next = next != full.placed.end() && next->first < start + length;
  const bool overlaps_previous =
      next != full.placed.begin() && std::prev(next)->first + std::prev(next)->second > start;
  if (shard.dim >= 0 && (overlaps_next || overlaps_previous)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": the slice at ", start, " overlaps another along dim ", shard.dim));
  }
  torch::NoGradGuard no_grad;
  torch::Tensor target =
      shard.dim >= 0 ? full.tensor.narrow(shard.dim, start, length) : full.tensor;
  target.copy_(slice.detach());
  full.placed[start] = length;
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, torch::Tensor>> FullTensorBuilder::Finish() {
  std::map<std::string, torch::Tensor> tensors;
  for (auto& [name, full] : full_) {
    int64_t covered = 0;
    for (const auto& [start, length] : full.placed) covered += length;
    const int64_t extent = full.dim >= 0 ? full.tensor.size(full.dim) : 1;
    if (covered != extent) {
      return absl::DataLossError(absl::StrCat(name, ": slices cover ", covered, " of ", extent,
                                              " along dim ", full.dim,
                                              " (a rank's part is missing)"));
    }
    tensors.emplace(name, std::move(full.tensor));
  }
  full_.clear();
  return tensors;
}

}  // namespace galvatron::runtime
