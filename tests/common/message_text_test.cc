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

}  // namespace
}  // namespace galvatron::text
