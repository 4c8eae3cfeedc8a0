#include "common/main_guard.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "spdlog/spdlog.h"

namespace galvatron {
namespace {

const char* program_name = "galvatron";

// What the exception in flight is: its type and what().
std::string Describe(std::exception_ptr exception) {
  try {
    std::rethrow_exception(exception);
  } catch (const std::exception& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

void Report(const std::string& what, const char* where) {
  std::fprintf(stderr, "%s: internal error: uncaught %s (%s); this is a bug, please report it\n",
               program_name, what.c_str(), where);
  std::fflush(stderr);
  spdlog::critical("uncaught {} ({})", what, where);
  spdlog::default_logger()->flush();
}

[[noreturn]] void OnTerminate() {
  std::exception_ptr exception = std::current_exception();
  Report(exception ? Describe(exception) : std::string("std::terminate without an exception"),
         "outside main's thread");
  std::abort();
}

}  // namespace

int RunGuardedMain(const char* program, const std::function<int()>& body) {
  program_name = program;
  std::set_terminate(OnTerminate);
  try {
    return body();
  } catch (...) {
    Report(Describe(std::current_exception()), "in main");
    return kUncaughtExceptionExitCode;
  }
}

}  // namespace galvatron
