// Calibration of the cost model from measured step times (docs/calibration.md).
//
// The cost model predicts an iteration from profiles measured one layer and
// one collective at a time; a real run adds what those miss (several ranks
// sharing caches and memory bandwidth, the optimizer, allocator and launch
// overheads, collectives slower under load). A finished job gives one
// sample: the uncalibrated prediction of its plan, split into
//   a = compute + pipeline bubble         (scales with the layers' times)
//   b = exposed critical-path communication: tensor/sequence-parallel
//       collectives, ZeRO-3 gathers, pipeline transfers
//   c = exposed gradient synchronisation (data-parallel all-reduce or
//       reduce-scatter after the last backward pass)
// against its measured median step time T. The fit finds the three factors
// (cf, mf, sf) that make cf·a + mf·b + sf·c closest to T in relative terms
// (and, where the job measured its waits for communication, each part
// closest to its measured counterpart: docs/calibration.md),
// and the planner then multiplies every compute time of the cluster's
// profiles by cf, every communication time by mf, and the gradient sync by
// sf instead, before it searches: separate factors, so a cluster whose
// collectives are slower than probed favours plans that communicate less,
// not only slower predictions of the same plan — and collectives every
// micro-batch waits for (which ranks sharing a machine slow down most) are
// told apart from the one bulk synchronisation per step.
//
// Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::cost {

struct CalibrationOptions {
  // A sample is fitted only when its measured relative spread, (p90 - p10) /
  // median of the step times after the warm-up, is at most this: a job
  // whose steps varied more than that says little about the plan.
  double max_spread = 0.3;
  // ... and when at least this many steps were measured after the warm-up.
  int64_t min_steps = 3;
  // Strength of the pull of both factors towards the single factor that
  // best scales whole predictions (relative-error units). It decides the
  // split when the samples cannot (one sample, or samples whose compute and
  // communication shares are alike) and keeps the fit stable otherwise.
  double ridge = 0.01;
  // The factors stay within [1 / max_factor, max_factor].
  double max_factor = 20;
  // When set, only samples taken against this hardware profile are fitted.
  std::string hardware_profile_id;
  // False: the gradient sync shares the communication factor (sf = mf), the
  // two-factor fit.
  bool separate_sync = true;
};

// What a run measured of its waits for communication (rank 0's medians,
// v1::StepTimeComparison).
struct MeasuredWaits {
  double communication_seconds = 0;  // in the forward and backward passes
  double sync_seconds = 0;           // for the gradient sync after them
};

// A sample from an uncalibrated prediction and a measurement; `used` and
// `ignored_reason` are left for Refit.
v1::CalibrationSample MakeCalibrationSample(const v1::Prediction& uncalibrated,
                                            double measured_seconds, double measured_spread,
                                            int64_t steps_measured,
                                            std::optional<MeasuredWaits> waits = std::nullopt);

// Judges every sample again (an excluded_reason excludes it for good; the
// spread, step count and hardware profile are judged by `options`), sets
// used and ignored_reason, fits the factors on the used ones, and sets
// compute_factor, communication_factor, sync_factor, raw_error,
// fitted_error, samples_used and note. Without a usable sample the factors
// are 1; a factor the samples say nothing about stays near the others (a
// small ridge pulls cf and mf towards the single factor that best scales
// whole predictions, and sf towards mf).
void RefitCalibration(const CalibrationOptions& options, v1::Calibration* calibration);

// The calibration's gradient-sync factor: sync_factor, or
// communication_factor in a calibration stored before it existed.
double SyncFactor(const v1::Calibration& calibration);

// What `calibration` predicts for a sample: cf·a + mf·b + sf·c, seconds.
double CalibratedSeconds(const v1::Calibration& calibration, const v1::CalibrationSample& sample);

// CostOptions::gradient_sync_factor for a search on profiles scaled by
// ApplyCalibration: SyncFactor / communication_factor (the collective tables
// already carry communication_factor).
double GradientSyncFactor(const v1::Calibration& calibration);

// Scales the profiles the cost model will read: every compute time (samples
// and fits) by compute_factor, every collective time (samples, fits, and
// bus bandwidths inversely) by communication_factor. The device's peak
// FLOP/s, which analytic estimates run at a fraction of (CostOptions'
// `analytic_efficiency`, 0 = by layer size), is divided by
// max(compute_factor, the largest such fraction), so a calibrated analytic
// estimate never computes faster than the device's peak.
void ApplyCalibration(const v1::Calibration& calibration, double analytic_efficiency,
                      v1::HardwareProfile* hardware, std::vector<v1::ComputeProfile>* compute);

// The calibration as a plan records it: factors, errors, id and version,
// without the samples.
v1::Calibration CalibrationSummary(const v1::Calibration& calibration);

}  // namespace galvatron::cost
