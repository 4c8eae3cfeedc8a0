#include "planner/cost/calibration.h"

#include "planner/cost/analytic_efficiency.h"

#include <algorithm>
#include <cmath>

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
                                            int64_t steps_measured) {
  v1::CalibrationSample s;
  const v1::TimeBreakdown& b = uncalibrated.breakdown();
  double compute = b.compute_seconds() + b.bubble_seconds();
  double communication = b.exposed_communication_seconds();
  if (compute + communication <= 0 && uncalibrated.iteration_seconds() > 0) {
    compute = uncalibrated.iteration_seconds();  // a prediction without a breakdown
  }
  s.set_predicted_compute_seconds(compute);
  s.set_predicted_communication_seconds(communication);
  s.set_measured_seconds(measured_seconds);
  s.set_measured_spread(measured_spread);
  s.set_steps_measured(steps_measured);
  return s;
}

double CalibratedSeconds(const v1::Calibration& c, const v1::CalibrationSample& s) {
  return c.compute_factor() * s.predicted_compute_seconds() +
         c.communication_factor() * s.predicted_communication_seconds();
}

void RefitCalibration(const CalibrationOptions& options, v1::Calibration* calibration) {
  // In units of the measured time: x = a / T, y = b / T; a perfect model
  // has cf·x + mf·y = 1 for every sample.
  double sxx = 0, sxy = 0, syy = 0, sx = 0, sy = 0, spp = 0, sp = 0;
  int n = 0;
  for (v1::CalibrationSample& s : *calibration->mutable_samples()) {
    const std::string reason = Unusable(s, options);
    s.set_used(reason.empty());
    s.set_ignored_reason(reason);
    if (!reason.empty()) continue;
    const double x = s.predicted_compute_seconds() / s.measured_seconds();
    const double y = s.predicted_communication_seconds() / s.measured_seconds();
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
    sx += x;
    sy += y;
    spp += (x + y) * (x + y);
    sp += x + y;
    ++n;
  }
  calibration->set_samples_used(n);
  if (n == 0) {
    calibration->set_compute_factor(1);
    calibration->set_communication_factor(1);
    calibration->set_raw_error(0);
    calibration->set_fitted_error(0);
    calibration->set_note("no usable sample yet: the profiles are used as measured");
    return;
  }
  // The single factor that best scales whole predictions, then two factors
  // pulled towards it: (X'X + λI) f = X'1 + λ s.
  const double single = Clamp(sp / spp, options);
  const double lambda = options.ridge;
  const double a11 = sxx + lambda, a12 = sxy, a22 = syy + lambda;
  const double r1 = sx + lambda * single, r2 = sy + lambda * single;
  const double det = a11 * a22 - a12 * a12;
  double cf = single, mf = single;
  if (det > 0) {
    cf = (r1 * a22 - r2 * a12) / det;
    mf = (a11 * r2 - a12 * r1) / det;
  }
  // A factor at its bound: the other is refitted with it fixed.
  if (Clamp(mf, options) != mf) {
    mf = Clamp(mf, options);
    cf = (r1 - mf * a12) / a11;
  } else if (Clamp(cf, options) != cf) {
    cf = Clamp(cf, options);
    mf = (r2 - cf * a12) / a22;
  }
  cf = Clamp(cf, options);
  mf = Clamp(mf, options);
  calibration->set_compute_factor(cf);
  calibration->set_communication_factor(mf);
  double raw = 0, fitted = 0;
  for (const v1::CalibrationSample& s : calibration->samples()) {
    if (!s.used()) continue;
    const double t = s.measured_seconds();
    raw += std::abs(s.predicted_compute_seconds() + s.predicted_communication_seconds() - t) / t;
    fitted += std::abs(CalibratedSeconds(*calibration, s) - t) / t;
  }
  calibration->set_raw_error(raw / n);
  calibration->set_fitted_error(fitted / n);
  calibration->set_note(
      absl::StrFormat("fitted on %d job(s): compute x%.3f, communication x%.3f; mean error %.1f%% "
                      "uncalibrated, %.1f%% by the fit's linear model",
                      n, cf, mf, 100 * raw / n, 100 * fitted / n));
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
