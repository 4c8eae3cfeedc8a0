// From a PlanRequest and its resolved inputs (model spec, hardware profile,
// compute profiles) to a stored-ready Plan: validates the request, builds the
// cost models, runs the search, and names the plan by the hash of its inputs.
// Used by the offline `galvatron-planner search` and by RequestPlan.
// Thread-safe: pure function of its inputs (the search runs its own pool).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "planner/search/search.h"

namespace galvatron::search {

// Galvatron's formulas: COST_MODEL_MODE_GALVATRON or _GALVATRON_EXTENDED
// (never calibrated; they read PlanRequest.galvatron).
bool IsGalvatronMode(v1::CostModelMode mode);

struct PlanInputs {
  v1::ModelSpec model;  // resolved: the request's model or inline spec
  v1::HardwareProfile hardware;
  std::vector<v1::ComputeProfile> compute;
  v1::PlanRequest request;
  // The cluster's calibration (planner/cost/calibration.h), default mode
  // only: the search runs on the profiles scaled by its factors, and the
  // plan records it and the uncalibrated prediction of the same plan.
  std::optional<v1::Calibration> calibration;
};

struct PlanBuildOptions {
  int threads = 0;  // 0 = hardware concurrency
  std::function<void(const SearchProgress&)> progress;
  // SearchOptions::cancelled: true stops the search (BuildPlan then returns
  // CANCELLED).
  std::function<bool()> cancelled;
};

// The content address of a plan: "plan-" + 32 hex digits of a hash over the
// inputs (output-only fields excluded) and the engine version. Equal inputs
// give equal ids. A calibration counts by its factors (a plan without one,
// or asked `uncalibrated`, has the id it had before calibrations existed). Of a profile's
// measurement-quality record only the noisy flag counts (it decides the plan's warnings); a profile
// with a quiet record has the id it would have without one.
std::string PlanId(const PlanInputs& inputs);

// One warning per input profile whose measurement-quality record is flagged
// noisy (docs/measurement.md), naming the profile's id (or "without an id"),
// its layer type (compute) and its spread and load: the plan's figures rest
// on timings that may be off. Empty when no profile is flagged.
std::vector<std::string> NoisyProfileWarnings(const PlanInputs& inputs);

// What the cost model BuildPlan builds from `inputs` (the request's options,
// the profiles scaled by inputs.calibration when set) predicts for `plan`,
// with the plan's schedule (search::PredictPlan): for a plan BuildPlan made
// from the same inputs, its own prediction.
absl::StatusOr<v1::Prediction> PredictPlanFor(const PlanInputs& inputs, const v1::Plan& plan);

// The model-side inputs BuildPlan's cost model computes from (the profiles
// scaled by inputs.calibration when set), as compute profiles with analytic
// estimates filled in where nothing was measured
// (cost::CostModel::InputProfiles): what `galvatron-planner search
// --galvatron-inputs-out` hands to Galvatron's own engine.
struct SearchInputProfiles {
  v1::ModelSpec model;  // the request's seq_len applied: the profiles' keys are its
  std::vector<v1::ComputeProfile> profiles;
};
absl::StatusOr<SearchInputProfiles> InputProfilesFor(const PlanInputs& inputs, int batch_sizes);

// INVALID_ARGUMENT for a bad request (naming the field) or a calibration in
// galvatron mode, RESOURCE_EXHAUSTED with the reason when no plan fits,
// CANCELLED when options.cancelled stopped the search. The prediction carries
// NoisyProfileWarnings, outputs like the rest of it (see PlanId).
absl::StatusOr<v1::Plan> BuildPlan(const PlanInputs& inputs, const PlanBuildOptions& options);

}  // namespace galvatron::search
