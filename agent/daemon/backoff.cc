#include "agent/daemon/backoff.h"

#include <algorithm>

namespace galvatron::agent {

ExponentialBackoff::ExponentialBackoff(const BackoffOptions& options, uint64_t seed)
    : options_(options), current_(options.initial), random_(seed) {}

absl::Duration ExponentialBackoff::Next() {
  const absl::Duration bound = std::min(current_, options_.max);
  current_ = std::min(current_ * 2, options_.max);
  std::uniform_real_distribution<double> fraction(0.5, 1.0);
  return bound * fraction(random_);
}

}  // namespace galvatron::agent
