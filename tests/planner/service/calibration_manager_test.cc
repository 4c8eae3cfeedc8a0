// CalibrationManager with the plan manager on an in-memory store: a
// succeeded job becomes a sample and a new calibration version; the next
// plan of the cluster uses it (another id, the calibration named, the
// uncalibrated prediction beside), `uncalibrated` requests and galvatron
// mode do not; jobs that cannot teach anything are kept with the reason;
// a new hardware profile retires the samples measured against the old one.
#include <catch2/catch.hpp>

#include <string>

#include "common/model_catalog.h"
#include "planner/service/calibration_manager.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/model_manager.h"
#include "planner/service/plan_manager.h"
#include "planner/store/memory_store.h"
#include "tests/support/synthetic_cluster.h"

namespace galvatron::planner {
namespace {

using Catch::Matchers::Contains;

struct Fixture {
  store::MemoryStore store;
  ModelManager models{&store};
  HardwareProfileManager hardware{&store};
  ComputeProfileManager compute{&store, &models};
  CalibrationManager calibrations{&store, &hardware};
  PlanManager plans{&store, &models, &hardware, &compute, {}, nullptr, &calibrations};

  Fixture() { REQUIRE(hardware.Put(testing::SyntheticCluster("syn", 1, 4)).ok()); }

  v1::PlanRequest Request() {
    v1::PlanRequest r;
    r.set_model("gpt-tiny");
    r.set_cluster("syn");
    r.set_memory_budget_bytes(int64_t{8} << 30);
    r.set_global_batch(8);
    r.set_estimate_missing(true);
    return r;
  }

  v1::Plan Plan(const v1::PlanRequest& r) {
    auto plan = plans.Request(r);
    INFO(plan.status().ToString());
    REQUIRE(plan.ok());
    return *plan;
  }
};

v1::Job Finished(const std::string& id, const v1::Plan& plan, double measured,
                 double spread = 0.05) {
  v1::Job job;
  job.set_id(id);
  job.set_cluster("syn");
  job.set_plan_id(plan.id());
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.mutable_step_time()->set_predicted_seconds(plan.prediction().iteration_seconds());
  job.mutable_step_time()->set_measured_seconds(measured);
  job.mutable_step_time()->set_measured_spread(spread);
  job.mutable_step_time()->set_steps_measured(20);
  return job;
}

}  // namespace

TEST_CASE("a succeeded job calibrates the plans that follow") {
  Fixture f;
  CHECK(absl::IsNotFound(f.calibrations.Get("syn", 0).status()));
  CHECK_THAT(std::string(f.calibrations.Get("syn", 0).status().message()),
             Contains("no calibration yet"));
  const v1::Plan raw = f.Plan(f.Request());
  CHECK_FALSE(raw.has_calibration());
  const double predicted = raw.prediction().iteration_seconds();

  // Measured twice as slow as predicted.
  auto first = f.calibrations.Record(Finished("job-1", raw, 2 * predicted), raw);
  REQUIRE(first.ok());
  CHECK(first->id() == "cal-syn-1");
  CHECK(first->version() == 1);
  REQUIRE(first->samples_size() == 1);
  CHECK(first->samples(0).used());
  CHECK(first->samples(0).job_id() == "job-1");
  CHECK(first->samples(0).plan_id() == raw.id());
  CHECK(first->samples(0).hardware_profile_id() == "hw-syn-1");
  CHECK(first->compute_factor() == Approx(2).epsilon(1e-9));
  CHECK(first->communication_factor() == Approx(2).epsilon(1e-9));

  const v1::Plan calibrated = f.Plan(f.Request());
  CHECK(calibrated.id() != raw.id());
  CHECK(calibrated.calibration().id() == "cal-syn-1");
  CHECK(calibrated.calibration().samples().empty());
  // Both factors 2: the same plan wins, predicted twice as long.
  CHECK(calibrated.layers(0).DebugString() == raw.layers(0).DebugString());
  CHECK(calibrated.raw_prediction().iteration_seconds() == Approx(predicted).epsilon(1e-12));
  CHECK(calibrated.prediction().iteration_seconds() == Approx(2 * predicted).epsilon(1e-6));
  // Stored: the same request returns the same plan.
  CHECK(f.Plan(f.Request()).id() == calibrated.id());

  v1::PlanRequest plain = f.Request();
  plain.set_uncalibrated(true);
  CHECK_FALSE(f.Plan(plain).has_calibration());
  v1::PlanRequest galvatron = f.Request();
  galvatron.set_mode(v1::COST_MODEL_MODE_GALVATRON);
  const v1::Plan galvatron_plan = f.Plan(galvatron);
  CHECK_FALSE(galvatron_plan.has_calibration());

  SECTION("the calibrated plan's job teaches from its uncalibrated prediction") {
    auto second = f.calibrations.Record(Finished("job-2", calibrated, 2 * predicted), calibrated);
    REQUIRE(second.ok());
    CHECK(second->version() == 2);
    REQUIRE(second->samples_size() == 2);
    CHECK(second->samples(1).predicted_compute_seconds() +
              second->samples(1).predicted_communication_seconds() ==
          Approx(predicted).epsilon(1e-9));
    CHECK(second->compute_factor() == Approx(2).epsilon(1e-9));
    CHECK(f.Plan(f.Request()).calibration().id() == "cal-syn-2");
  }

  SECTION("jobs that cannot teach are kept with the reason") {
    auto noisy = f.calibrations.Record(Finished("job-3", raw, 9 * predicted, 0.8), raw);
    REQUIRE(noisy.ok());
    REQUIRE(noisy->samples_size() == 2);
    CHECK_FALSE(noisy->samples(1).used());
    CHECK_THAT(noisy->samples(1).ignored_reason(), Contains("too noisy"));
    CHECK(noisy->samples(1).excluded_reason().empty());  // judged again at each refit
    CHECK(noisy->compute_factor() == Approx(2).epsilon(1e-9));
    auto from_galvatron =
        f.calibrations.Record(Finished("job-4", galvatron_plan, predicted), galvatron_plan);
    REQUIRE(from_galvatron.ok());
    CHECK_THAT(from_galvatron->samples(2).excluded_reason(), Contains("galvatron-mode"));
    v1::Plan elsewhere = raw;
    elsewhere.set_cluster("other");
    auto other = f.calibrations.Record(Finished("job-5", elsewhere, predicted), elsewhere);
    REQUIRE(other.ok());
    CHECK_THAT(other->samples(3).ignored_reason(), Contains("cluster \"other\""));
    v1::Plan given = raw;
    given.clear_hardware_profile_id();
    auto inline_profile = f.calibrations.Record(Finished("job-8", given, predicted), given);
    REQUIRE(inline_profile.ok());
    CHECK_THAT(inline_profile->samples(4).excluded_reason(), Contains("inline"));
    CHECK(other->samples_used() == 1);
  }

  SECTION("an inline what-if profile is not calibrated") {
    v1::PlanRequest what_if = f.Request();
    what_if.clear_cluster();
    *what_if.mutable_hardware() = testing::SyntheticCluster("syn", 1, 4);
    CHECK_FALSE(f.Plan(what_if).has_calibration());
  }

  SECTION("a job recorded again replaces its sample") {
    auto again = f.calibrations.Record(Finished("job-1", raw, 3 * predicted), raw);
    REQUIRE(again.ok());
    CHECK(again->samples_size() == 1);
    CHECK(again->compute_factor() == Approx(3).epsilon(1e-9));
    auto v1 = f.calibrations.Get("syn", 1);
    REQUIRE(v1.ok());
    CHECK(v1->compute_factor() == Approx(2).epsilon(1e-9));  // history kept
  }

  SECTION("a new hardware profile retires the samples measured against the old one") {
    v1::HardwareProfile reprobed = testing::SyntheticCluster("syn", 1, 4);
    reprobed.set_overlap_coefficient(1.15);  // a new probe measures other figures
    REQUIRE(f.hardware.Put(reprobed).ok());
    // The calibration was learned on hw-syn-1: plans on hw-syn-2 go without.
    const v1::Plan replanned = f.Plan(f.Request());
    CHECK_FALSE(replanned.has_calibration());
    CHECK(replanned.hardware_profile_id() == "hw-syn-2");
    auto usable = f.calibrations.Usable("syn", "hw-syn-2");
    REQUIRE(usable.ok());
    CHECK_FALSE(usable->has_value());
    // A job of a plan from the old profile teaches nothing; a job of a plan
    // from the new one refits without the old samples.
    auto old_plan = f.calibrations.Record(Finished("job-6", raw, predicted), raw);
    REQUIRE(old_plan.ok());
    CHECK_THAT(old_plan->samples(1).excluded_reason(), Contains("hw-syn-1"));
    CHECK(old_plan->samples_used() == 0);
    auto refit = f.calibrations.Record(
        Finished("job-7", replanned, 3 * replanned.prediction().iteration_seconds()), replanned);
    REQUIRE(refit.ok());
    CHECK_FALSE(refit->samples(0).used());
    CHECK_THAT(refit->samples(0).ignored_reason(), Contains("hw-syn-1") && Contains("hw-syn-2"));
    CHECK(refit->samples(2).used());
    CHECK(refit->samples_used() == 1);
    CHECK(refit->compute_factor() == Approx(3).epsilon(1e-9));
    const v1::Plan recalibrated = f.Plan(f.Request());
    CHECK(recalibrated.calibration().id() == "cal-syn-3");
    CHECK(recalibrated.calibration().compute_factor() == Approx(3).epsilon(1e-9));
  }
}

}  // namespace galvatron::planner
