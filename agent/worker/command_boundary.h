// The one place per worker command (probe, profile, train) where exceptions
// become a Status. LibTorch, Gloo and the standard library throw; the
// worker's functions return absl::Status, and whatever still escapes them
// (c10::Error, std::exception or anything else) is caught here and named,
// instead of ending the process through std::terminate (an abort and a core
// dump). The header includes no LibTorch, so worker_main.cc stays free of
// it.
//
// Thread model: a pure function; `body` runs on the calling thread.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace galvatron::worker {

// body(), or INTERNAL "<where>: <exception's message>" when it throws
// (c10::Error without its C++ backtrace).
absl::Status RunCatching(const std::string& where, const std::function<absl::Status()>& body);

}  // namespace galvatron::worker
