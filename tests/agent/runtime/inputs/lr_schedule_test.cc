#include <catch2/catch.hpp>

#include "agent/runtime/inputs/lr_schedule.h"

namespace galvatron::runtime {

TEST_CASE("Warm-up is linear, decay is a half cosine to the floor", "[runtime]") {
  LrSchedule lr{1.0, 0.1, 10, 110};
  REQUIRE(lr.Validate().ok());
  CHECK(lr.At(0) == 0);
  CHECK(lr.At(1) == Approx(0.1));
  CHECK(lr.At(5) == Approx(0.5));
  CHECK(lr.At(10) == Approx(1.0));
  CHECK(lr.At(60) == Approx(0.55));  // halfway through the decay: the mean
  CHECK(lr.At(110) == Approx(0.1));
  CHECK(lr.At(500) == Approx(0.1));
  for (int64_t step = 11; step < 110; ++step) CHECK(lr.At(step + 1) < lr.At(step));
}

TEST_CASE("A schedule without warm-up or decay, and bad schedules", "[runtime]") {
  LrSchedule constant{0.5, 0.5, 0, 1};
  REQUIRE(constant.Validate().ok());
  CHECK(constant.At(1) == Approx(0.5));
  CHECK(constant.At(7) == Approx(0.5));
  LrSchedule only_warmup{1.0, 0.0, 4, 4};
  CHECK(only_warmup.At(4) == Approx(1.0));
  CHECK(only_warmup.At(9) == Approx(1.0));
  CHECK_FALSE((LrSchedule{0.1, 0.2, 0, 10}).Validate().ok());
  CHECK_FALSE((LrSchedule{0.1, 0.0, 11, 10}).Validate().ok());
  CHECK_FALSE((LrSchedule{0.1, 0.0, 0, 0}).Validate().ok());
}

}  // namespace galvatron::runtime
