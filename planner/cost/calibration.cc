#include "planner/cost/calibration.h"

#include "planner/cost/analytic_efficiency.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace galvatron::cost {

namespace {

double Clamp(double factor, const CalibrationOptions& options) {
  const double hi = std::max(options.max_factor, 1.0);
  return std::clamp(factor, 1.0 / hi, hi);
}

// The reason a sample cannot be fitted, or "" when it can.
std::string Unusable(const v1::CalibrationSample& s, const CalibrationOptions& options) {
  if (!s.excluded_reason().empty()) return s.excluded_reason();
  if (!options.hardware_profile_id.empty() &&
      s.hardware_profile_id() != options.hardware_profile_id) {
    return absl::StrCat("measured against hardware profile ",
                        s.hardware_profile_id().empty() ? "(none)" : s.hardware_profile_id(),
                        "; the cluster's is now ", options.hardware_profile_id);
  }
  if (!(s.measured_seconds() > 0)) return "no step time was measured";
  if (!(s.predicted_compute_seconds() + s.predicted_communication_seconds() > 0)) {
    return "its plan has no predicted step time";
  }
  if (s.steps_measured() < options.min_steps) {
    return absl::StrFormat("only %d step(s) measured after the warm-up (at least %d needed)",
                           s.steps_measured(), options.min_steps);
  }
  if (s.measured_spread() > options.max_spread) {
    return absl::StrFormat(
        "its step times spread %.3g of their median (more than %.3g): too noisy to learn from",
        s.measured_spread(), options.max_spread);
  }
  return "";
}

}  // namespace

v1::CalibrationSample MakeCalibrationSample(const v1::Prediction& uncalibrated,
                                            double measured_seconds, double measured_spread,
                                            int64_t steps_measured,
                                            std::optional<MeasuredWaits> waits) {
  v1::CalibrationSample s;
  const v1::TimeBreakdown& b = uncalibrated.breakdown();
  double compute = b.compute_seconds() + b.bubble_seconds();
  double communication = b.exposed_communication_seconds();
  if (compute + communication <= 0 && uncalibrated.iteration_seconds() > 0) {
    compute = uncalibrated.iteration_seconds();  // a prediction without a breakdown
  }
  s.set_predicted_compute_seconds(compute);
  s.set_predicted_communication_seconds(communication);
  s.set_predicted_sync_seconds(std::clamp(b.gradient_sync_seconds(), 0.0, communication));
  s.set_predicted_bubble_seconds(std::clamp(b.bubble_seconds(), 0.0, compute));
  if (waits) {
    s.set_waits_measured(true);
    s.set_measured_communication_seconds(std::max(0.0, waits->communication_seconds));
    s.set_measured_sync_seconds(std::max(0.0, waits->sync_seconds));
  }
  s.set_measured_seconds(measured_seconds);
  s.set_measured_spread(measured_spread);
  s.set_steps_measured(steps_measured);
  return s;
}

double SyncFactor(const v1::Calibration& c) {
  return c.sync_factor() > 0 ? c.sync_factor() : c.communication_factor();
}

double CalibratedSeconds(const v1::Calibration& c, const v1::CalibrationSample& s) {
  const double sync =
      std::clamp(s.predicted_sync_seconds(), 0.0, s.predicted_communication_seconds());
  return c.compute_factor() * s.predicted_compute_seconds() +
         c.communication_factor() * (s.predicted_communication_seconds() - sync) +
         SyncFactor(c) * sync;
}

double GradientSyncFactor(const v1::Calibration& c) {
  const double mf = c.communication_factor() > 0 ? c.communication_factor() : 1;
  const double sf = SyncFactor(c) > 0 ? SyncFactor(c) : mf;
  return sf / mf;
}

namespace {

constexpr int kFactors = 3;  // compute, critical-path communication, gradient sync
using Vec = std::array<double, kFactors>;
using Mat = std::array<Vec, kFactors>;

// Solves A f = r for the factors not in `fixed` (those keep their value in
// f, their columns moved to the right-hand side) by Gaussian elimination
// with partial pivoting. False when the free part is singular.
bool SolveFree(const Mat& a, const Vec& r, const std::array<bool, kFactors>& fixed, Vec* f) {
  std::vector<int> free;
  for (int i = 0; i < kFactors; ++i) {
    if (!fixed[i]) free.push_back(i);
  }
  const int n = static_cast<int>(free.size());
  std::vector<std::vector<double>> m(n, std::vector<double>(n + 1));
  for (int i = 0; i < n; ++i) {
    double rhs = r[free[i]];
    for (int j = 0; j < kFactors; ++j) {
      if (fixed[j]) rhs -= a[free[i]][j] * (*f)[j];
    }
    for (int j = 0; j < n; ++j) m[i][j] = a[free[i]][free[j]];
    m[i][n] = rhs;
  }
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int i = col + 1; i < n; ++i) {
      if (std::abs(m[i][col]) > std::abs(m[pivot][col])) pivot = i;
    }
    if (!(std::abs(m[pivot][col]) > 1e-300)) return false;
    std::swap(m[col], m[pivot]);
    for (int i = 0; i < n; ++i) {
      if (i == col) continue;
      const double k = m[i][col] / m[col][col];
      for (int j = col; j <= n; ++j) m[i][j] -= k * m[col][j];
    }
  }
  for (int i = 0; i < n; ++i) (*f)[free[i]] = m[i][n] / m[i][i];
  return true;
}

// Whether a sample's parts can be fitted apart: its run measured its waits
// and its plan has one pipeline stage (rank 0's waits then stand for every
// rank's; in a pipeline they also hold the first stage's share of the
// bubble, which the breakdown does not give per stage).
bool FitsParts(const v1::CalibrationSample& s) {
  return s.waits_measured() && s.predicted_bubble_seconds() <= 0 &&
         s.measured_communication_seconds() + s.measured_sync_seconds() < s.measured_seconds();
}

// The least-squares fit of the factors over the used samples (their `used`
// already set). With `with_parts`, a sample whose parts were measured
// (FitsParts) adds one row per part besides its step time.
//
// In units of the measured time: x = a / T, y = b / T, z = c / T; a perfect
// model has cf·x + mf·y + sf·z = 1 for every sample. The part rows: cf·x =
// (T − waits) / T, mf·y = communication wait / T, sf·z = sync wait / T (with
// two factors, mf·(y + z) = all waits / T).
Vec FitFactors(const CalibrationOptions& options, const v1::Calibration& calibration,
               bool with_parts) {
  Mat xtx{};
  Vec xt1{};
  const auto add_row = [&](const Vec& v, double target) {
    for (int i = 0; i < kFactors; ++i) {
      xt1[i] += v[i] * target;
      for (int j = 0; j < kFactors; ++j) xtx[i][j] += v[i] * v[j];
    }
  };
  double spp = 0, sp = 0;
  for (const v1::CalibrationSample& s : calibration.samples()) {
    if (!s.used()) continue;
    const double t = s.measured_seconds();
    const double sync = options.separate_sync ? std::clamp(s.predicted_sync_seconds(), 0.0,
                                                           s.predicted_communication_seconds())
                                              : 0.0;
    const Vec v{s.predicted_compute_seconds() / t, (s.predicted_communication_seconds() - sync) / t,
                sync / t};
    add_row(v, 1);
    if (with_parts && FitsParts(s)) {
      const double wm = s.measured_communication_seconds() / t;
      const double ws = s.measured_sync_seconds() / t;
      // Each part in relative terms: predicted p against measured m, both
      // divided by max(p, m, 1/20 of the step), so that a part too small to
      // matter cannot pull its factor around.
      const auto part = [&](int factor, double predicted, double measured) {
        const double scale = std::max({predicted, measured, 0.05});
        Vec row{0, 0, 0};
        row[factor] = predicted / scale;
        add_row(row, measured / scale);
      };
      part(0, v[0], 1 - wm - ws);
      if (options.separate_sync) {
        part(1, v[1], wm);
        part(2, v[2], ws);
      } else {
        part(1, v[1], wm + ws);  // v[2] is 0: the sync is in v[1]
      }
    }
    const double whole = v[0] + v[1] + v[2];
    spp += whole * whole;
    sp += whole;
  }
  // The single factor that best scales whole predictions; the fit minimises
  //   Σ (cf·x + mf·y + sf·z − 1)² + λ[(cf − s)² + (mf − s)² + (sf − mf)²],
  // so a factor the samples cannot pin down stays with the others (without
  // any gradient sync in the samples, sf = mf exactly).
  const double single = Clamp(sp / spp, options);
  const double lambda = options.ridge;
  Mat a = xtx;
  Vec r = xt1;
  a[0][0] += lambda;
  r[0] += lambda * single;
  a[1][1] += 2 * lambda;
  a[1][2] -= lambda;
  a[2][1] -= lambda;
  r[1] += lambda * single;
  a[2][2] += lambda;
  Vec f{single, single, single};
  std::array<bool, kFactors> fixed{false, false, false};
  // No sample with any gradient sync: sf has no data and follows mf, and
  // the fit is the two-factor one (its ridge term on sf drops out).
  const bool has_sync = xtx[2][2] > 0;
  if (!has_sync) {
    a[1][1] -= lambda;
    a[1][2] = a[2][1] = 0;
    fixed[2] = true;
    f[2] = 0;
  }
  // A factor beyond its bounds is fixed there and the others refitted.
  for (int round = 0; round < kFactors; ++round) {
    if (!SolveFree(a, r, fixed, &f)) {
      for (int i = 0; i < kFactors; ++i) {
        if (!fixed[i]) f[i] = single;
      }
      break;
    }
    bool clamped = false;
    for (int i = 0; i < kFactors; ++i) {
      if (!fixed[i] && Clamp(f[i], options) != f[i]) {
        f[i] = Clamp(f[i], options);
        fixed[i] = true;
        clamped = true;
      }
    }
    if (!clamped) break;
  }
  if (!has_sync) f[2] = f[1];
  for (double& x : f) x = Clamp(x, options);
  if (!options.separate_sync) f[2] = f[1];
  return f;
}

// The mean relative error of the used samples' step times under factors f.
double MeanFittedError(const v1::Calibration& calibration, const Vec& f) {
  v1::Calibration c = calibration;
  c.set_compute_factor(f[0]);
  c.set_communication_factor(f[1]);
  c.set_sync_factor(f[2]);
  double sum = 0;
  int n = 0;
  for (const v1::CalibrationSample& s : c.samples()) {
    if (!s.used()) continue;
    sum += std::abs(CalibratedSeconds(c, s) - s.measured_seconds()) / s.measured_seconds();
    ++n;
  }
  return n > 0 ? sum / n : 0;
}

}  // namespace

void RefitCalibration(const CalibrationOptions& options, v1::Calibration* calibration) {
  int n = 0, with_waits = 0;
  double raw = 0;
  for (v1::CalibrationSample& s : *calibration->mutable_samples()) {
    const std::string reason = Unusable(s, options);
    s.set_used(reason.empty());
    s.set_ignored_reason(reason);
    if (!reason.empty()) continue;
    const double t = s.measured_seconds();
    raw += std::abs(s.predicted_compute_seconds() + s.predicted_communication_seconds() - t) / t;
    if (FitsParts(s)) ++with_waits;
    ++n;
  }
  calibration->set_samples_used(n);
  if (n == 0) {
    calibration->set_compute_factor(1);
    calibration->set_communication_factor(1);
    calibration->set_sync_factor(1);
    calibration->set_raw_error(0);
    calibration->set_fitted_error(0);
    calibration->set_note("no usable sample yet: the profiles are used as measured");
    return;
  }
  raw /= n;
  Vec f = FitFactors(options, *calibration, /*with_parts=*/true);
  double fitted = MeanFittedError(*calibration, f);
  // The waits split a step's time into its parts, but they also hold time
  // that is no communication (a rank waiting for a slower one); when fitting
  // the parts costs the step times more than it gains — worse than no
  // calibration at all — the step times alone decide.
  std::string waits_note;
  if (with_waits > 0 && fitted > raw) {
    const Vec whole = FitFactors(options, *calibration, /*with_parts=*/false);
    const double whole_error = MeanFittedError(*calibration, whole);
    if (whole_error < fitted) {
      waits_note = absl::StrFormat(
          "; the measured waits were left out (fitting them reproduced the step times worse: "
          "%.1f%%)",
          100 * fitted);
      f = whole;
      fitted = whole_error;
    }
  }
  calibration->set_compute_factor(f[0]);
  calibration->set_communication_factor(f[1]);
  calibration->set_sync_factor(f[2]);
  calibration->set_raw_error(raw);
  calibration->set_fitted_error(fitted);
  calibration->set_note(absl::StrFormat(
      "fitted on %d job(s): compute x%.3f, communication x%.3f, gradient sync x%.3f; mean error "
      "%.1f%% uncalibrated, %.1f%% by the fit's linear model%s",
      n, f[0], f[1], f[2], 100 * raw, 100 * fitted, waits_note));
}

void ApplyCalibration(const v1::Calibration& calibration, double analytic_efficiency,
                      v1::HardwareProfile* hardware, std::vector<v1::ComputeProfile>* compute) {
  const double cf = calibration.compute_factor() > 0 ? calibration.compute_factor() : 1;
  const double mf = calibration.communication_factor() > 0 ? calibration.communication_factor() : 1;
  auto scale_fit = [cf](v1::LayerTimeFit* fit) {
    fit->set_per_sample_s2(fit->per_sample_s2() * cf);
    fit->set_per_sample_s1(fit->per_sample_s1() * cf);
    fit->set_per_sample_s0(fit->per_sample_s0() * cf);
    fit->set_constant(fit->constant() * cf);
  };
  for (v1::ComputeProfile& p : *compute) {
    for (v1::LayerTimeSample& s : *p.mutable_time_samples()) {
      s.set_forward_seconds(s.forward_seconds() * cf);
      s.set_backward_seconds(s.backward_seconds() * cf);
    }
    scale_fit(p.mutable_forward_fit());
    scale_fit(p.mutable_backward_fit());
  }
  for (v1::CollectiveTable& t : *hardware->mutable_collectives()) {
    for (v1::TimeSample& s : *t.mutable_samples()) s.set_seconds(s.seconds() * mf);
    t.mutable_fit()->set_alpha_seconds(t.fit().alpha_seconds() * mf);
    t.mutable_fit()->set_beta_seconds_per_byte(t.fit().beta_seconds_per_byte() * mf);
    t.set_bus_bandwidth_bytes_per_second(t.bus_bandwidth_bytes_per_second() / mf);
  }
  if (hardware->device().peak_flops() > 0) {
    hardware->mutable_device()->set_peak_flops(
        hardware->device().peak_flops() / std::max(cf, MaxAnalyticEfficiency(analytic_efficiency)));
  }
}

v1::Calibration CalibrationSummary(const v1::Calibration& calibration) {
  v1::Calibration summary = calibration;
  summary.clear_samples();
  return summary;
}

}  // namespace galvatron::cost
