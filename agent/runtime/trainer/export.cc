#include "agent/runtime/trainer/export.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/runtime/export/hf_export.h"
#include "agent/runtime/trainer/param_placement.h"
#include "agent/runtime/trainer/stage_builder.h"
#include "common/json_file.h"
#include "common/model_catalog.h"
#include "common/plan_validation.h"
#include "common/status_macros.h"
#include "interop/plan_file.h"

namespace galvatron::runtime {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::optional<torch::Dtype>> DtypeOption(const std::string& name) {
  if (name.empty()) return std::optional<torch::Dtype>();
  if (name == "float64") return std::optional<torch::Dtype>(torch::kFloat64);
  if (name == "float32") return std::optional<torch::Dtype>(torch::kFloat32);
  if (name == "bfloat16") return std::optional<torch::Dtype>(torch::kBFloat16);
  if (name == "float16") return std::optional<torch::Dtype>(torch::kFloat16);
  return absl::InvalidArgumentError(
      absl::StrCat("--dtype: \"", name, "\", expected float64, float32, bfloat16 or float16"));
}

// The step to export: --step, or what ROOT/latest names.
absl::StatusOr<int64_t> StepOf(const ExportOptions& o) {
  if (o.step < 0) return absl::InvalidArgumentError(absl::StrCat("--step: ", o.step));
  if (o.step > 0) return o.step;
  ASSIGN_OR_RETURN(std::string latest, ReadTextFile((fs::path(o.checkpoint) / "latest").string()));
  int64_t step = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(latest), &step) || step < 1) {
    return absl::DataLossError(
        absl::StrCat(o.checkpoint, "/latest: \"", latest, "\" is not a step"));
  }
  return step;
}

// The ranks whose shards a step directory holds: rank-0.pt .. rank-(n-1).pt.
absl::StatusOr<int> RanksIn(const std::string& dir) {
  int ranks = 0;
  while (fs::exists(fs::path(dir) / absl::StrCat("rank-", ranks, ".pt"))) ++ranks;
  if (ranks == 0) return absl::DataLossError(absl::StrCat(dir, ": no rank-0.pt"));
  return ranks;
}

// The ZeRO-3 slices of one unit (one shard group), by place in the group.
struct UnitSlices {
  const RankPlacement* placement = nullptr;  // a member's: which parameters, what shapes
  const PlacedUnit* unit = nullptr;
  std::vector<torch::Tensor> slices;
};

}  // namespace

absl::Status RunExport(const ExportOptions& o) {
  ASSIGN_OR_RETURN(const v1::ModelSpec model, LoadModelArgument(o.model));
  RETURN_IF_ERROR(CheckExportable(model));
  ASSIGN_OR_RETURN(const std::optional<torch::Dtype> forced, DtypeOption(o.dtype));
  ASSIGN_OR_RETURN(const int64_t step, StepOf(o));
  const std::string dir = (fs::path(o.checkpoint) / absl::StrCat("step-", step)).string();
  if (!fs::is_directory(dir)) {
    return absl::NotFoundError(absl::StrCat("step ", step, ": no ", dir));
  }
  ASSIGN_OR_RETURN(const int world, RanksIn(dir));
  ASSIGN_OR_RETURN(
      interop::LoadedPlan loaded,
      interop::LoadPlanFile(o.plan, world, SequenceSplitRefusal(model.family()) == nullptr));
  v1::Plan& plan = loaded.plan;
  if (plan.world_size() == 0) plan.set_world_size(world);
  if (plan.world_size() != world) {
    return absl::InvalidArgumentError(absl::StrCat("--plan: world_size ", plan.world_size(),
                                                   ", but ", dir, " holds the shards of ", world,
                                                   " ranks"));
  }
  RETURN_IF_ERROR(CheckPlanForModel(plan, model, world));
  RETURN_IF_ERROR(CheckSupported(plan, model));
  ASSIGN_OR_RETURN(const std::vector<RankPlacement> placements, PlaceParameters(model, plan));

  FullTensorBuilder full;
  std::map<std::pair<std::string, std::vector<int>>, UnitSlices> units;
  std::optional<torch::Dtype> kept, masters;  // the dtypes of kept parameters, ZeRO-3 slices
  for (const RankPlacement& rp : placements) {
    const std::string file = absl::StrCat(dir, "/rank-", rp.rank, ".pt");
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(file);
      for (const PlacedParam& p : rp.params) {
        if (p.unit >= 0 || p.tied_copy || full.Has(p.name, p.shard)) continue;
        torch::Tensor t;
        archive.read(p.name, t);
        if (!t.defined() || t.sizes() != at::IntArrayRef(p.shape)) {
          return absl::DataLossError(absl::StrCat(
              file, ": ", p.name, " is missing or has another shape than the plan gives rank ",
              rp.rank, " (was the checkpoint written with another plan?)"));
        }
        kept = t.scalar_type();
        RETURN_IF_ERROR(full.Add(p.name, p.shard, t));
      }
      for (const PlacedUnit& unit : rp.units) {
        UnitSlices& u = units[{unit.name, unit.ranks}];
        if (u.unit == nullptr) {
          u.placement = &rp;
          u.unit = &unit;
          u.slices.resize(unit.ranks.size());
        }
        archive.read("zero3." + unit.name, u.slices[static_cast<size_t>(unit.index)]);
      }
    } catch (const c10::Error& e) {
      return absl::DataLossError(
          absl::StrCat("cannot read ", file, ": ", e.what_without_backtrace()));
    }
  }
  // Each ZeRO-3 unit: its group's slices in order make the flat vector of
  // its parameters (padded at the end).
  for (auto& [key, u] : units) {
    for (const torch::Tensor& slice : u.slices) {
      if (!slice.defined()) {
        return absl::DataLossError(absl::StrCat("zero3.", u.unit->name, ": a slice of ranks [",
                                                absl::StrJoin(u.unit->ranks, ","), "] is missing"));
      }
    }
    torch::Tensor flat = torch::cat(u.slices);
    masters = flat.scalar_type();
    int64_t offset = 0;
    for (const size_t i : u.unit->members) {
      const PlacedParam& p = u.placement->params[i];
      int64_t numel = 1;
      for (const int64_t d : p.shape) numel *= d;
      if (offset + numel > flat.numel()) {
        return absl::DataLossError(
            absl::StrCat("zero3.", u.unit->name, " of ranks [", absl::StrJoin(u.unit->ranks, ","),
                         "]: ", flat.numel(), " elements, too few for ", p.name));
      }
      RETURN_IF_ERROR(full.Add(p.name, p.shard, flat.narrow(0, offset, numel).view(p.shape)));
      offset += numel;
    }
  }
  ASSIGN_OR_RETURN(const auto tensors, full.Finish());
  const torch::Dtype dtype = forced ? *forced : kept ? *kept : masters.value_or(torch::kFloat32);
  ASSIGN_OR_RETURN(const HfModel hf, ExportHuggingFace(o.out, model, tensors, dtype));
  if (!o.config_out.empty()) RETURN_IF_ERROR(WriteTextFile(o.config_out, hf.config_json + "\n"));
  return absl::OkStatus();
}

}  // namespace galvatron::runtime
