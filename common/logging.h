// Process-wide logging set-up (spdlog). Call once from main().
#pragma once

#include <string>

#include "absl/status/status.h"

namespace galvatron {

struct LoggingOptions {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text or json (one object per line)
};

// Sends logs to stderr in the chosen format. INVALID_ARGUMENT for an unknown
// level or format.
absl::Status InitLogging(const LoggingOptions& options);

}  // namespace galvatron
