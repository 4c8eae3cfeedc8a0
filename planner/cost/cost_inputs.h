// The model side of the cost model: each layer type's and the embedding's
// time and memory figures, taken from their ComputeProfiles (matched by
// common/layer_type.h keys) or estimated analytically, in Galvatron's units
// (MB = 2^20 bytes, ms). Immutable after Build(); thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/model.pb.h"
#include "planner/cost/analytic.h"
#include "planner/cost/cost_model.h"

namespace galvatron::cost {

// Forward (or backward) time of one layer for b samples on one device:
// b·per_sample_ms + constant_ms. Galvatron's three time_profile_modes all fit
// this form (docs/galvatron-mapping.md).
struct TimeLine {
  double per_sample_ms = 0;
  double constant_ms = 0;
  // Default mode: the profile's own (micro-batch, ms) samples at this
  // sequence length, sorted by micro-batch. Between the smallest and the
  // largest, At() interpolates them — a size that was measured costs what it
  // measured, where the line (least squares over all sizes) can miss the
  // batch sizes a CPU or GPU runs best at; outside them, the line.
  std::vector<std::pair<double, double>> measured;
  double At(double b) const;
};

// Measured MB per local sample by tp/sp degree, at the model's sequence
// length. Lookup(d) of a degree that was not measured scales the nearest
// measured degree d0 by d0/d (Galvatron's own extrapolation halves per
// doubling of the degree).
struct DegreeTable {
  std::map<int, double> mb;
  bool empty() const { return mb.empty(); }
  double Lookup(int degree) const;
};

// Galvatron's tp_activation_per_bsz_dict of one activation table
// (ActivationMemory.sp = NONE, MEGATRON or ULYSSES).
struct ActivationTable {
  DegreeTable per_sample;
  double checkpoint_mb = 0;  // ['checkpoint']: MB per sample at degree 1; 0 unknown
  bool empty() const { return per_sample.empty(); }
};

struct LayerTypeData {
  LayerTypeInfo info;
  v1::LayerGroup group;  // the sizes, for analytic estimates
  int count = 0;         // layers of this type in the model (Galvatron's layer_num)
  bool time_measured = false;
  bool memory_measured = false;
  TimeLine forward;
  std::optional<TimeLine> backward;  // measured backward (kDefault only)
  ActivationTable act_none, act_megatron, act_ulysses;
};

// Galvatron's other_memory_pp_{off,on_first,on_last}: model states (MB) and
// activation (MB per local sample) by vocab-tp degree.
struct OtherMemory {
  DegreeTable model_states;
  DegreeTable activation;
};

struct EmbeddingData {
  std::string key;
  bool time_measured = false;
  bool memory_measured = false;
  TimeLine forward;
  std::optional<TimeLine> backward;
  OtherMemory off, first, last;
};

struct CostInputs {
  v1::ModelSpec model;  // with options.seq_len applied
  v1::Precision precision = v1::PRECISION_BF16_MIXED;
  bool mixed_precision = true;  // Galvatron's mixed_precision flag
  int seq_len = 0;              // the model's (first group's) sequence length
  int hidden = 0;               // Galvatron's model_info.hidden_size: the first group's
  int max_seq = 0;              // max over layer types (global memory buffer)
  std::vector<LayerTypeData> types;
  std::vector<int> type_of;  // per layer
  EmbeddingData embedding;
  bool analytic = false;  // something was estimated without a profile
  // What was estimated and how (the prediction's note); empty when nothing.
  std::string analytic_note;

  // Builds the inputs. INVALID_ARGUMENT for an empty model, or when a layer
  // type (or the embedding) has no compute profile and `peak_flops` is 0.
  static absl::StatusOr<CostInputs> Build(const v1::ModelSpec& model,
                                          const std::vector<v1::ComputeProfile>& compute,
                                          double peak_flops, const CostOptions& options);
};

// Analytic activation of one layer type, MB per local sample, for `degree`
// split as `sharding` (used when no activation table was measured).
double AnalyticActivationMb(const CostInputs& in, const LayerTypeData& t, int degree,
                            analytic::ActivationSharding sharding);
double AnalyticCheckpointMb(const CostInputs& in, const LayerTypeData& t);

}  // namespace galvatron::cost
