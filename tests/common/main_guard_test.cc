// RunGuardedMain: an exception that escapes a program's body becomes a
// message and an exit code instead of std::terminate's abort.
#include "common/main_guard.h"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

namespace galvatron {
namespace {

TEST_CASE("RunGuardedMain passes the body's exit code through") {
  CHECK(RunGuardedMain("test", [] { return 0; }) == 0);
  CHECK(RunGuardedMain("test", [] { return 3; }) == 3);
}

TEST_CASE("RunGuardedMain turns an escaping exception into exit code 70") {
  CHECK(RunGuardedMain("test", []() -> int {
          std::vector<int> huge;
          huge.reserve(huge.max_size() + 1);  // std::length_error
          return 0;
        }) == kUncaughtExceptionExitCode);
  CHECK(RunGuardedMain("test", []() -> int { throw 42; }) == kUncaughtExceptionExitCode);
  CHECK(RunGuardedMain("test", []() -> int { throw std::runtime_error("x"); }) == 70);
}

}  // namespace
}  // namespace galvatron
