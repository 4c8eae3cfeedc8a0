// The outermost frame of every binary: no exception leaves `main` as an
// abort. A C++ exception that nothing below caught (a bug: our code returns
// absl::Status) becomes one line on stderr and in the log naming the program
// and the exception, and exit code kUncaughtExceptionExitCode; one that
// escapes another thread, where nothing can catch it, is still fatal but is
// logged the same way before the abort. Thread-safe.
#pragma once

#include <functional>

namespace galvatron {

// EX_SOFTWARE of sysexits.h: an internal error.
inline constexpr int kUncaughtExceptionExitCode = 70;

// Installs the terminate handler, runs `body` and returns its exit code, or
// kUncaughtExceptionExitCode after reporting an exception that escaped it.
// `program` names the binary in the message.
int RunGuardedMain(const char* program, const std::function<int()>& body);

}  // namespace galvatron
