// The calibration fit (planner/cost/calibration.h): it recovers the compute,
// communication and gradient-sync factors that produced the measurements, splits a single
// sample evenly, leaves out samples too noisy or too short to learn from
// (saying why), keeps its factors within bounds, and scales exactly the
// profile figures it promises to.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "planner/cost/calibration.h"

namespace galvatron::cost {
namespace {

using Catch::Matchers::Contains;

v1::CalibrationSample Sample(double compute, double communication, double measured,
                             double spread = 0.05, int64_t steps = 20) {
  v1::Prediction p;
  p.set_iteration_seconds(compute + communication);
  p.mutable_breakdown()->set_compute_seconds(compute * 0.75);
  p.mutable_breakdown()->set_bubble_seconds(compute * 0.25);
  p.mutable_breakdown()->set_exposed_communication_seconds(communication);
  return MakeCalibrationSample(p, measured, spread, steps);
}

}  // namespace

TEST_CASE("a sample splits the prediction into compute with bubble and communication") {
  const v1::CalibrationSample s = Sample(0.4, 0.1, 0.7, 0.08, 12);
  CHECK(s.predicted_compute_seconds() == Approx(0.4).epsilon(1e-12));
  CHECK(s.predicted_communication_seconds() == Approx(0.1).epsilon(1e-12));
  CHECK(s.measured_seconds() == 0.7);
  CHECK(s.measured_spread() == 0.08);
  CHECK(s.steps_measured() == 12);

  v1::Prediction bare;  // no breakdown: all of it counts as compute
  bare.set_iteration_seconds(0.3);
  CHECK(MakeCalibrationSample(bare, 0.5, 0, 10).predicted_compute_seconds() == 0.3);
}

TEST_CASE("the fit recovers the factors that produced the measurements") {
  const double cf = 1.3, mf = 2.2;
  v1::Calibration c;
  const std::vector<std::pair<double, double>> parts = {
      {0.50, 0.05}, {0.30, 0.20}, {0.40, 0.40}, {0.20, 0.10}, {0.60, 0.01}};
  for (const auto& [a, b] : parts) *c.add_samples() = Sample(a, b, cf * a + mf * b);
  RefitCalibration(CalibrationOptions{}, &c);
  CHECK(c.samples_used() == 5);
  CHECK(c.compute_factor() == Approx(cf).epsilon(0.02));
  CHECK(c.communication_factor() == Approx(mf).epsilon(0.05));
  CHECK(c.fitted_error() < 0.01);
  CHECK(c.raw_error() > 0.3);  // the profiles alone were far off
  for (const v1::CalibrationSample& s : c.samples()) {
    CHECK(s.used());
    CHECK(CalibratedSeconds(c, s) == Approx(s.measured_seconds()).epsilon(0.02));
  }
  CHECK_THAT(c.note(), Contains("5 job(s)"));

  SECTION("without the ridge the fit is exact") {
    CalibrationOptions exact;
    exact.ridge = 0;
    RefitCalibration(exact, &c);
    CHECK(c.compute_factor() == Approx(cf).epsilon(1e-9));
    CHECK(c.communication_factor() == Approx(mf).epsilon(1e-9));
  }
}

TEST_CASE("gradient sync gets its own factor when the samples tell it apart") {
  // Collectives every micro-batch waits for run 1.8x slower than probed,
  // the one gradient sync per step as probed: the three-factor fit finds
  // both; the two-factor fit (sync sharing communication's factor) cannot
  // and stays further off.
  const double cf = 1.1, mf = 1.8, sf = 1.0;
  struct Part {
    double compute, communication, sync;
  };
  const std::vector<Part> parts = {{0.40, 0.40, 0.35}, {0.40, 0.30, 0.02}, {0.45, 0.35, 0.20},
                                   {0.60, 0.05, 0.05}, {0.30, 0.35, 0.00}, {0.35, 0.40, 0.30}};
  v1::Calibration three;
  for (const Part& p : parts) {
    v1::Prediction prediction;
    prediction.set_iteration_seconds(p.compute + p.communication);
    prediction.mutable_breakdown()->set_compute_seconds(p.compute);
    prediction.mutable_breakdown()->set_exposed_communication_seconds(p.communication);
    prediction.mutable_breakdown()->set_gradient_sync_seconds(p.sync);
    const double measured = cf * p.compute + mf * (p.communication - p.sync) + sf * p.sync;
    *three.add_samples() = MakeCalibrationSample(prediction, measured, 0.05, 20);
    CHECK(three.samples().rbegin()->predicted_sync_seconds() == p.sync);
  }
  v1::Calibration two = three;
  RefitCalibration(CalibrationOptions{}, &three);
  CHECK(three.compute_factor() == Approx(cf).epsilon(0.03));
  CHECK(three.communication_factor() == Approx(mf).epsilon(0.05));
  CHECK(three.sync_factor() == Approx(sf).epsilon(0.05));
  CHECK(SyncFactor(three) == three.sync_factor());
  CHECK(GradientSyncFactor(three) == Approx(sf / mf).epsilon(0.1));
  CHECK(three.fitted_error() < 0.02);  // the ridge's pull; exact without it (below)
  CHECK_THAT(three.note(), Contains("gradient sync x"));
  for (const v1::CalibrationSample& s : three.samples()) {
    CHECK(CalibratedSeconds(three, s) == Approx(s.measured_seconds()).epsilon(0.04));
  }
  CalibrationOptions exact;
  exact.ridge = 0;
  v1::Calibration unpulled = two;
  RefitCalibration(exact, &unpulled);
  CHECK(unpulled.compute_factor() == Approx(cf).epsilon(1e-9));
  CHECK(unpulled.communication_factor() == Approx(mf).epsilon(1e-9));
  CHECK(unpulled.sync_factor() == Approx(sf).epsilon(1e-9));

  CalibrationOptions shared;
  shared.separate_sync = false;
  RefitCalibration(shared, &two);
  CHECK(two.sync_factor() == two.communication_factor());
  CHECK(GradientSyncFactor(two) == 1);
  CHECK(two.fitted_error() > 3 * three.fitted_error());
  CHECK(two.fitted_error() > 0.05);

  SECTION("a calibration stored before sync had a factor uses communication's") {
    v1::Calibration old = two;
    old.clear_sync_factor();
    CHECK(SyncFactor(old) == old.communication_factor());
    CHECK(GradientSyncFactor(old) == 1);
    for (const v1::CalibrationSample& s : old.samples()) {
      CHECK(CalibratedSeconds(old, s) == CalibratedSeconds(two, s));
    }
  }
  SECTION("samples without any sync leave sync with communication") {
    v1::Calibration none;
    for (const auto& [a, b] :
         std::vector<std::pair<double, double>>{{0.50, 0.05}, {0.30, 0.20}, {0.40, 0.40}}) {
      *none.add_samples() = Sample(a, b, 1.3 * a + 2.2 * b);
    }
    RefitCalibration(CalibrationOptions{}, &none);
    CHECK(none.sync_factor() == Approx(none.communication_factor()).epsilon(1e-9));
  }
}

TEST_CASE("one sample scales compute and communication alike") {
  v1::Calibration c;
  *c.add_samples() = Sample(0.3, 0.1, 0.6);
  RefitCalibration(CalibrationOptions{}, &c);
  CHECK(c.samples_used() == 1);
  CHECK(c.compute_factor() == Approx(1.5).epsilon(1e-9));
  CHECK(c.communication_factor() == Approx(1.5).epsilon(1e-9));
  CHECK(c.sync_factor() == Approx(1.5).epsilon(1e-9));
  CHECK(c.fitted_error() == Approx(0).margin(1e-9));
  CHECK(c.raw_error() == Approx(1.0 / 3).epsilon(1e-9));
}

TEST_CASE("measured waits tell the factors apart where step times cannot") {
  // One-stage plans: compute a, critical-path communication b, sync c; the
  // machine runs compute ×1.2, communication ×2.5, sync ×0.8, and the jobs
  // measured their waits accordingly.
  struct Job {
    double a, b, c;
  };
  const auto sample = [](const Job& j, bool waits) {
    v1::Prediction p;
    p.set_iteration_seconds(j.a + j.b + j.c);
    p.mutable_breakdown()->set_compute_seconds(j.a);
    p.mutable_breakdown()->set_exposed_communication_seconds(j.b + j.c);
    p.mutable_breakdown()->set_gradient_sync_seconds(j.c);
    const double wm = 2.5 * j.b, ws = 0.8 * j.c;
    std::optional<MeasuredWaits> measured;
    if (waits) measured = MeasuredWaits{wm, ws};
    return MakeCalibrationSample(p, 1.2 * j.a + wm + ws, 0.05, 20, measured);
  };
  // A single job: step times alone scale everything alike (the previous
  // test); its waits give each part its own factor.
  const Job one{0.3, 0.05, 0.02};
  v1::Calibration alike, apart;
  *alike.add_samples() = sample(one, false);
  *apart.add_samples() = sample(one, true);
  RefitCalibration(CalibrationOptions{}, &alike);
  RefitCalibration(CalibrationOptions{}, &apart);
  CHECK(apart.samples(0).waits_measured());
  CHECK(apart.samples(0).measured_communication_seconds() == Approx(0.125));
  CHECK(alike.compute_factor() == Approx(alike.communication_factor()).epsilon(1e-9));
  CHECK(alike.communication_factor() < 1.5);
  // Near the truth; the ridge's weak pull towards one factor for all keeps
  // communication a little below it.
  CHECK(apart.compute_factor() == Approx(1.2).epsilon(0.01));
  CHECK(apart.communication_factor() == Approx(2.5).epsilon(0.08));
  CHECK(apart.sync_factor() == Approx(0.8).epsilon(0.1));
  CHECK(apart.fitted_error() < 0.01);
  // Jobs whose parts differ: closer still.
  v1::Calibration many;
  for (const Job& j : {Job{0.3, 0.05, 0.02}, Job{0.2, 0.2, 0}, Job{0.4, 0, 0.1}}) {
    *many.add_samples() = sample(j, true);
  }
  RefitCalibration(CalibrationOptions{}, &many);
  CHECK(many.compute_factor() == Approx(1.2).epsilon(0.01));
  CHECK(many.communication_factor() == Approx(2.5).epsilon(0.04));
  CHECK(many.sync_factor() == Approx(0.8).epsilon(0.02));
  // A pipeline's sample (a bubble in its prediction) fits its step time
  // only: rank 0's waits hold its share of the bubble.
  v1::Prediction piped;
  piped.set_iteration_seconds(0.5);
  piped.mutable_breakdown()->set_compute_seconds(0.3);
  piped.mutable_breakdown()->set_bubble_seconds(0.1);
  piped.mutable_breakdown()->set_exposed_communication_seconds(0.1);
  v1::Calibration pipeline, pipeline_no_waits;
  *pipeline.add_samples() = MakeCalibrationSample(piped, 0.6, 0.05, 20, MeasuredWaits{0.3, 0});
  *pipeline_no_waits.add_samples() = MakeCalibrationSample(piped, 0.6, 0.05, 20);
  RefitCalibration(CalibrationOptions{}, &pipeline);
  RefitCalibration(CalibrationOptions{}, &pipeline_no_waits);
  CHECK(pipeline.samples(0).predicted_bubble_seconds() == Approx(0.1));
  CHECK(pipeline.compute_factor() == pipeline_no_waits.compute_factor());
  CHECK(pipeline.communication_factor() == pipeline_no_waits.communication_factor());
}

TEST_CASE("waits that would fit the step times worse than no calibration are left out") {
  // A job on an oversubscribed machine: its step time was predicted within
  // 3 %, but its ranks waited ten times the predicted communication (mostly
  // for each other, not for the network). Fitting those waits pushes compute
  // down and communication up against their bounds, and the step time off
  // by far more than the profiles were: the step time alone decides then.
  v1::Prediction p;
  p.set_iteration_seconds(0.0787);
  p.mutable_breakdown()->set_compute_seconds(0.0751);
  p.mutable_breakdown()->set_exposed_communication_seconds(0.0036);
  p.mutable_breakdown()->set_gradient_sync_seconds(0.0010);
  v1::Calibration c;
  *c.add_samples() = MakeCalibrationSample(p, 0.0810, 0.05, 20, MeasuredWaits{0.0390, 0.0030});
  RefitCalibration(CalibrationOptions{}, &c);
  REQUIRE(c.samples(0).used());
  CHECK(c.raw_error() == Approx(0.0229 / 0.81).epsilon(0.01));
  CHECK(c.fitted_error() <= c.raw_error());
  CHECK(c.fitted_error() < 0.01);
  CHECK_THAT(c.note(), Contains("the measured waits were left out"));
  // Waits that agree with the step time are still fitted (the test above).
  v1::Calibration agreeing;
  *agreeing.add_samples() =
      MakeCalibrationSample(p, 0.0810, 0.05, 20, MeasuredWaits{0.0050, 0.0012});
  RefitCalibration(CalibrationOptions{}, &agreeing);
  CHECK(agreeing.fitted_error() < agreeing.raw_error());
  CHECK_THAT(agreeing.note(), !Contains("left out"));
}

TEST_CASE("noisy short and unpredicted jobs are kept but not fitted") {
  v1::Calibration c;
  *c.add_samples() = Sample(0.3, 0.1, 0.6);
  *c.add_samples() = Sample(0.3, 0.1, 5.0, /*spread=*/0.9);
  *c.add_samples() = Sample(0.3, 0.1, 5.0, 0.05, /*steps=*/2);
  *c.add_samples() = Sample(0, 0, 5.0);
  v1::CalibrationSample given = Sample(0.3, 0.1, 5.0);
  given.set_excluded_reason("its plan is a galvatron-mode plan");
  *c.add_samples() = given;
  RefitCalibration(CalibrationOptions{}, &c);
  CHECK(c.samples_used() == 1);
  CHECK(c.samples(0).used());
  CHECK_FALSE(c.samples(1).used());
  CHECK_THAT(c.samples(1).ignored_reason(), Contains("too noisy"));
  CHECK_THAT(c.samples(1).ignored_reason(), Contains("0.9"));
  CHECK_THAT(c.samples(2).ignored_reason(), Contains("only 2 step(s)"));
  CHECK_THAT(c.samples(3).ignored_reason(), Contains("no predicted step time"));
  CHECK(c.samples(4).ignored_reason() == "its plan is a galvatron-mode plan");
  CHECK(c.compute_factor() == Approx(1.5).epsilon(1e-9));  // from the one usable job

  SECTION("a looser spread limit takes the noisy job too; an excluded job stays out") {
    CalibrationOptions loose;
    loose.max_spread = 1.0;
    RefitCalibration(loose, &c);
    CHECK(c.samples(1).used());
    CHECK(c.samples(1).ignored_reason().empty());
    CHECK_FALSE(c.samples(4).used());
    CHECK(c.samples_used() == 2);
    // ... and a stricter one leaves it out again.
    RefitCalibration(CalibrationOptions{}, &c);
    CHECK_FALSE(c.samples(1).used());
    CHECK(c.samples_used() == 1);
  }

  SECTION("samples of another hardware profile are not fitted") {
    for (auto& s : *c.mutable_samples()) s.set_hardware_profile_id("hw-x-1");
    c.mutable_samples(0)->set_hardware_profile_id("hw-x-2");
    CalibrationOptions current;
    current.hardware_profile_id = "hw-x-2";
    current.max_spread = 1.0;
    RefitCalibration(current, &c);
    CHECK(c.samples(0).used());
    CHECK_FALSE(c.samples(1).used());
    CHECK_THAT(c.samples(1).ignored_reason(), Contains("hw-x-1") && Contains("hw-x-2"));
    CHECK(c.samples_used() == 1);
  }
}

TEST_CASE("without a usable sample the factors are 1") {
  v1::Calibration c;
  *c.add_samples() = Sample(0.3, 0.1, 0.6, 0.9);
  RefitCalibration(CalibrationOptions{}, &c);
  CHECK(c.samples_used() == 0);
  CHECK(c.compute_factor() == 1);
  CHECK(c.communication_factor() == 1);
  CHECK_THAT(c.note(), Contains("no usable sample"));
}

TEST_CASE("the factors stay within their bounds") {
  SECTION("communication at its bound: compute refitted with it fixed") {
    v1::Calibration c;
    // Measured far slower than the communication alone can explain, in
    // samples that differ only in their communication: the communication
    // factor wants to be huge, hits 20, and compute takes the rest.
    *c.add_samples() = Sample(0.10, 0.01, 0.6);
    *c.add_samples() = Sample(0.10, 0.02, 0.9);
    CalibrationOptions o;
    o.ridge = 0;
    RefitCalibration(o, &c);
    CHECK(c.communication_factor() == 20);
    // With mf fixed at 20, cf minimises sum (cf x + 20 y - 1)^2.
    double sxx = 0, sx = 0, sxy = 0;
    for (const auto& s : c.samples()) {
      const double x = s.predicted_compute_seconds() / s.measured_seconds();
      const double y = s.predicted_communication_seconds() / s.measured_seconds();
      sxx += x * x;
      sx += x;
      sxy += x * y;
    }
    CHECK(c.compute_factor() == Approx((sx - 20 * sxy) / sxx).epsilon(1e-9));
  }
  SECTION("absurd measurements clamp both") {
    v1::Calibration c;
    *c.add_samples() = Sample(0.01, 0.001, 50);
    *c.add_samples() = Sample(0.01, 0.002, 90);
    RefitCalibration(CalibrationOptions{}, &c);
    CHECK(c.compute_factor() == 20);
    CHECK(c.communication_factor() >= 1.0 / 20);
    CHECK(c.communication_factor() <= 20);
  }
}

TEST_CASE("applying a calibration scales compute and communication figures") {
  v1::Calibration c;
  c.set_compute_factor(1.5);
  c.set_communication_factor(3);
  v1::HardwareProfile hw;
  hw.mutable_device()->set_peak_flops(100e12);
  auto* t = hw.add_collectives();
  auto* s = t->add_samples();
  s->set_bytes(1 << 20);
  s->set_seconds(2e-3);
  t->mutable_fit()->set_alpha_seconds(1e-5);
  t->mutable_fit()->set_beta_seconds_per_byte(1e-9);
  t->set_bus_bandwidth_bytes_per_second(1e9);
  std::vector<v1::ComputeProfile> compute(1);
  auto* ts = compute[0].add_time_samples();
  ts->set_forward_seconds(0.01);
  ts->set_backward_seconds(0.02);
  compute[0].mutable_forward_fit()->set_per_sample_s0(1e-3);
  compute[0].mutable_forward_fit()->set_constant(2e-4);
  compute[0].mutable_backward_fit()->set_per_sample_s1(1e-6);
  compute[0].add_activations()->set_bytes_per_sample(4096);

  ApplyCalibration(c, 0.45, &hw, &compute);
  CHECK(hw.collectives(0).samples(0).seconds() == Approx(6e-3));
  CHECK(hw.collectives(0).samples(0).bytes() == 1 << 20);
  CHECK(hw.collectives(0).fit().alpha_seconds() == Approx(3e-5));
  CHECK(hw.collectives(0).fit().beta_seconds_per_byte() == Approx(3e-9));
  CHECK(hw.collectives(0).bus_bandwidth_bytes_per_second() == Approx(1e9 / 3));
  CHECK(hw.device().peak_flops() == Approx(100e12 / 1.5));
  CHECK(compute[0].time_samples(0).forward_seconds() == Approx(0.015));
  CHECK(compute[0].time_samples(0).backward_seconds() == Approx(0.03));
  CHECK(compute[0].forward_fit().per_sample_s0() == Approx(1.5e-3));
  CHECK(compute[0].forward_fit().constant() == Approx(3e-4));
  CHECK(compute[0].backward_fit().per_sample_s1() == Approx(1.5e-6));
  CHECK(compute[0].activations(0).bytes_per_sample() == 4096);  // memory is not time

  SECTION("analytic estimates never run faster than the device's peak") {
    v1::Calibration fast;
    fast.set_compute_factor(0.1);  // "ten times faster than profiled"
    fast.set_communication_factor(1);
    v1::HardwareProfile h;
    h.mutable_device()->set_peak_flops(100e12);
    std::vector<v1::ComputeProfile> none;
    ApplyCalibration(fast, 0.45, &h, &none);
    // At 45 % of the scaled peak the estimate runs at exactly the real peak.
    CHECK(h.device().peak_flops() * 0.45 == Approx(100e12));
  }
}

TEST_CASE("a plan's calibration summary has no samples") {
  v1::Calibration c;
  c.set_id("cal-x-3");
  c.set_version(3);
  c.set_compute_factor(1.2);
  *c.add_samples() = Sample(0.3, 0.1, 0.6);
  const v1::Calibration summary = CalibrationSummary(c);
  CHECK(summary.samples().empty());
  CHECK(summary.id() == "cal-x-3");
  CHECK(summary.compute_factor() == 1.2);
}

}  // namespace galvatron::cost
