// What the two sets of formulas share: the inputs, the hardware tables, the
// getters, the memory reserve and the pipeline formula. Internal to
// planner/cost. Immutable after construction; thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "planner/cost/cost_inputs.h"
#include "planner/cost/cost_model.h"
#include "planner/cost/hardware_tables.h"

namespace galvatron::cost {

// Everything Create() derives from the hardware profile besides the tables.
struct ClusterFacts {
  int world_size = 1;
  int devices_per_node = 1;
  double overlap_coe = 1;    // hardware.overlap_coefficient, 1 when unknown
  double context_mb = 1024;  // runtime context per device
};

class CostModelBase : public CostModel {
 public:
  CostModelBase(CostInputs inputs, HardwareTables hardware, ClusterFacts cluster,
                CostOptions options);

  const CostOptions& options() const override { return options_; }
  int world_size() const override { return cluster_.world_size; }
  int devices_per_node() const override { return cluster_.devices_per_node; }
  int num_layers() const override { return static_cast<int>(in_.type_of.size()); }
  const std::vector<int>& layer_type_of() const override { return in_.type_of; }
  const std::vector<LayerTypeInfo>& layer_types() const override { return infos_; }
  bool analytic() const override { return in_.analytic; }
  const std::string& analytic_note() const override { return in_.analytic_note; }
  int seq_len() const override { return in_.seq_len; }
  const v1::ModelSpec& model() const override { return in_.model; }

  // Galvatron's reserve (DpOnModel.__init__): for budgets with
  // budget // 1024 > 20 GB, int(0.2·budget) MB stays for PyTorch's cache.
  double UsableMemoryMb(double budget_mb) const override;

  // planner/cost/input_profiles.cc
  std::vector<v1::ComputeProfile> InputProfiles(const std::string& cluster,
                                                int batch_sizes) const override;

  // Each mode composes the pipeline itself (see CostModel::PipelineSeconds).
  double PipelineSeconds(const std::vector<double>& stage_no_sync,
                         const std::vector<double>& stage_with_sync, int chunks) const override = 0;

 protected:
  // The gradient synchronisation that is not hidden behind the pipeline's
  // cool-down, Galvatron's pipeline_costmodel "reduce" term shared by both
  // modes: max_i (with_sync[i] − Σ_{j<=i} no_sync[j]), floored at 0. Stage i
  // syncs after its last backward pass while stages 0..i−1 still drain theirs.
  static double ExposedSyncSeconds(const std::vector<double>& stage_no_sync,
                                   const std::vector<double>& stage_with_sync);

  // The embedding/head profile's other_memory, MB: model states of `part` at
  // vocab-tp `vtp`, and activation per local sample at degree `tp_sp`. A
  // missing position is derived from the others (OFF = FIRST + LAST, FIRST or
  // LAST = OFF / 2); without any measurement, analytic (16 bytes/param).
  double EmbeddingStatesMb(analytic::EmbeddingPart part, int vtp) const;
  double EmbeddingActivationMb(analytic::EmbeddingPart part, int tp_sp) const;

  const CostInputs in_;
  const HardwareTables hw_;
  const ClusterFacts cluster_;
  const CostOptions options_;
  std::vector<LayerTypeInfo> infos_;
};

std::unique_ptr<CostModel> MakeGalvatronCostModel(CostInputs inputs, HardwareTables hardware,
                                                  ClusterFacts cluster, CostOptions options);
std::unique_ptr<CostModel> MakeDefaultCostModel(CostInputs inputs, HardwareTables hardware,
                                                ClusterFacts cluster, CostOptions options);

}  // namespace galvatron::cost
