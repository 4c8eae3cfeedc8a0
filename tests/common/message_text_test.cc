#include "common/message_text.h"

#include <catch2/catch.hpp>

namespace galvatron::text {
namespace {

TEST_CASE("Plan details show the prediction and its warnings") {
  v1::Plan plan;
  plan.set_id("plan-1");
  plan.set_pp(2);
  plan.add_pp_division(3);
  plan.add_pp_division(1);
  plan.mutable_prediction()->set_samples_per_second(12.5);
  const std::string plain = PlanDetails(plan);
  CHECK_THAT(plain, Catch::Contains("plan:         plan-1") &&
                        Catch::Contains("layers per stage [3, 1]") &&
                        Catch::Contains("12.50 samples/s"));
  CHECK_THAT(plain, !Catch::Contains("warning:"));

  plan.mutable_prediction()->add_warnings("stage 1 is faster than its layers' compute");
  CHECK_THAT(PlanDetails(plan),
             Catch::Contains("warning:      stage 1 is faster than its layers' compute\n"));
}

TEST_CASE("Profile details show the measurement quality when there is a record") {
  v1::ComputeProfile compute;
  compute.set_id("cp-lab-1");
  compute.set_layer_type("llama_decoder");
  CHECK_THAT(ComputeProfileDetails(compute), !Catch::Contains("quality:"));
  v1::MeasurementQuality* q = compute.mutable_quality();
  q->set_spread(0.031);
  q->set_load(0.02);
  q->set_attempts(1);
  q->set_spread_threshold(0.25);
  q->set_load_threshold(0.25);
  CHECK_THAT(ComputeProfileDetails(compute),
             Catch::Contains("quality:     quiet: spread 0.031 (threshold 0.25), load 0.02 "
                             "(threshold 0.25), 1 attempt\n"));
  q->set_noisy(true);
  q->set_spread(0.41);
  q->set_load(-1);
  q->set_attempts(4);
  q->set_note("1 measurement stayed noisy: llama_decoder: forward/backward s=64");
  CHECK_THAT(ComputeProfileDetails(compute),
             Catch::Contains("quality:     NOISY: spread 0.41 (threshold 0.25), load unknown "
                             "(threshold 0.25), 4 attempts at most\n"
                             "             1 measurement stayed noisy: llama_decoder"));

  v1::HardwareProfile hardware;
  CHECK_THAT(HardwareProfileDetails(hardware), !Catch::Contains("quality:"));
  *hardware.mutable_quality() = compute.quality();
  CHECK_THAT(HardwareProfileDetails(hardware), Catch::Contains("quality:     NOISY: spread 0.41"));
}

}  // namespace
}  // namespace galvatron::text
