// Exponential backoff with jitter for reconnecting to the planner: delays
// start at `initial`, double after every failure up to `max`, and each is
// drawn uniformly from [d/2, d] ("equal jitter") so that agents restarted
// together do not retry in lock-step. Not thread-safe; one per retry loop.
#pragma once

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace galvatron::agent {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
};

class ExponentialBackoff {
 public:
  explicit ExponentialBackoff(const BackoffOptions& options,
                              uint64_t seed = std::random_device{}());

  // The delay before the next attempt; doubles the one after it.
  absl::Duration Next();
  // After a success: the next failure waits about `initial` again.
  void Reset() { current_ = options_.initial; }

 private:
  BackoffOptions options_;
  absl::Duration current_;
  std::mt19937_64 random_;
};

}  // namespace galvatron::agent
