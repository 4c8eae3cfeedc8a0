// The trainer's error boundary: runs a piece of training (the set-up, one
// step) and turns whatever it fails with into one absl::Status that names
// where it failed ("rank 2, step 17: ..."), so that no exception leaves
// RunTraining. LibTorch reports errors by throwing c10::Error (and
// std::exception); Gloo throws ::gloo::IoException when a peer closes its
// connection or does not answer within the timeout.
//
// Thread model: thread-safe (holds no state).
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace galvatron::runtime {

// `body`'s status with `where` prefixed to its message; or, for an
// exception: ::gloo::IoException → UNAVAILABLE, std::bad_alloc →
// RESOURCE_EXHAUSTED, c10::Error, any other std::exception or anything else
// → INTERNAL, with the exception's message (c10::Error's without its
// backtrace).
absl::Status RunGuarded(const std::string& where, const std::function<absl::Status()>& body);

}  // namespace galvatron::runtime
