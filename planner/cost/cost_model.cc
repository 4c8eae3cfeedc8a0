#include "planner/cost/cost_model.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "planner/cost/cost_model_impl.h"

namespace galvatron::cost {
namespace {

constexpr double kBytesPerMb = 1048576.0;

const OtherMemory& PartTable(const EmbeddingData& e, analytic::EmbeddingPart part) {
  switch (part) {
    case analytic::EmbeddingPart::kAll:
      return e.off;
    case analytic::EmbeddingPart::kFirst:
      return e.first;
    case analytic::EmbeddingPart::kLast:
      return e.last;
  }
  return e.off;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CostModel>> CostModel::Create(
    const v1::ModelSpec& model, const v1::HardwareProfile& hardware,
    const std::vector<v1::ComputeProfile>& compute, const CostOptions& options) {
  if (hardware.num_nodes() < 1 || hardware.devices_per_node() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("hardware: num_nodes ", hardware.num_nodes(), ", devices_per_node ",
                     hardware.devices_per_node(), "; both must be >= 1"));
  }
  if (!(options.bct_fct_coe >= 0) || !(options.costmodel_coe > 0) ||
      !(options.analytic_efficiency >= 0 && options.analytic_efficiency <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cost options: bct_fct_coe ", options.bct_fct_coe, ", costmodel_coe ",
        options.costmodel_coe, ", analytic_efficiency ", options.analytic_efficiency,
        "; expected bct_fct_coe >= 0, costmodel_coe > 0, 0 <= analytic_efficiency <= 1 (0: by "
        "layer size)"));
  }
  if (!(std::isfinite(options.gradient_sync_factor) && options.gradient_sync_factor > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("cost options: gradient_sync_factor ",
                                                   options.gradient_sync_factor,
                                                   ", expected a finite number > 0"));
  }
  if (options.seq_len < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cost options: seq_len ", options.seq_len, ", must be >= 0"));
  }
  ClusterFacts cluster;
  cluster.world_size = hardware.num_nodes() * hardware.devices_per_node();
  cluster.devices_per_node = hardware.devices_per_node();
  // Galvatron floors the measured coefficient at 1; 0 means "not measured".
  cluster.overlap_coe = std::max(1.0, hardware.overlap_coefficient());
  cluster.context_mb = hardware.runtime_context_bytes() > 0
                           ? static_cast<double>(hardware.runtime_context_bytes()) / kBytesPerMb
                           : options.pytorch_context_mb;
  ASSIGN_OR_RETURN(HardwareTables tables, HardwareTables::Build(hardware, cluster.world_size));
  ASSIGN_OR_RETURN(CostInputs inputs,
                   CostInputs::Build(model, compute, hardware.device().peak_flops(), options));
  if (options.mode == Mode::kGalvatron) {
    return MakeGalvatronCostModel(std::move(inputs), std::move(tables), cluster, options);
  }
  return MakeDefaultCostModel(std::move(inputs), std::move(tables), cluster, options);
}

CostModelBase::CostModelBase(CostInputs inputs, HardwareTables hardware, ClusterFacts cluster,
                             CostOptions options)
    : in_(std::move(inputs)),
      hw_(std::move(hardware)),
      cluster_(cluster),
      options_(std::move(options)) {
  for (const LayerTypeData& t : in_.types) infos_.push_back(t.info);
}

double CostModelBase::UsableMemoryMb(double budget_mb) const {
  if (std::floor(budget_mb / 1024) > 20) return budget_mb - std::floor(budget_mb * 0.2);
  return budget_mb;
}

double CostModelBase::ExposedSyncSeconds(const std::vector<double>& c,
                                         const std::vector<double>& r) {
  double reduce = 0, prefix = 0;
  bool any = false;
  for (size_t i = 0; i < c.size() && i < r.size(); ++i) {
    prefix += c[i];
    reduce = any ? std::max(reduce, r[i] - prefix) : r[i] - prefix;
    any = true;
  }
  return std::max(0.0, reduce);
}

double CostModelBase::EmbeddingStatesMb(analytic::EmbeddingPart part, int vtp) const {
  const EmbeddingData& e = in_.embedding;
  using analytic::EmbeddingPart;
  const OtherMemory& mine = PartTable(e, part);
  if (!mine.model_states.empty()) return mine.model_states.Lookup(vtp);
  if (part == EmbeddingPart::kAll &&
      (!e.first.model_states.empty() || !e.last.model_states.empty())) {
    return EmbeddingStatesMb(EmbeddingPart::kFirst, vtp) +
           EmbeddingStatesMb(EmbeddingPart::kLast, vtp);
  }
  if (part != EmbeddingPart::kAll && !e.off.model_states.empty()) {
    return e.off.model_states.Lookup(vtp) / 2;
  }
  // fp32 MB of parameters × 4 (weights, gradients, Adam m and v), as
  // Galvatron's model_states.
  return analytic::EmbeddingParameterCount(in_.model, part, vtp) * 16 / kBytesPerMb;
}

double CostModelBase::EmbeddingActivationMb(analytic::EmbeddingPart part, int tp_sp) const {
  const EmbeddingData& e = in_.embedding;
  using analytic::EmbeddingPart;
  const OtherMemory& mine = PartTable(e, part);
  if (!mine.activation.empty()) return mine.activation.Lookup(tp_sp);
  if (part == EmbeddingPart::kAll && (!e.first.activation.empty() || !e.last.activation.empty())) {
    return EmbeddingActivationMb(EmbeddingPart::kFirst, tp_sp) +
           EmbeddingActivationMb(EmbeddingPart::kLast, tp_sp);
  }
  if (part != EmbeddingPart::kAll && !e.off.activation.empty()) {
    return e.off.activation.Lookup(tp_sp) / 2;
  }
  return analytic::EmbeddingActivationBytesPerSample(in_.model, part, tp_sp) / kBytesPerMb;
}

}  // namespace galvatron::cost
