#include "planner/service/long_poll.h"

#include <algorithm>

namespace galvatron::planner {

int64_t Revisions::Current() {
  absl::MutexLock lock(&mu_);
  return revision_;
}

int64_t Revisions::Bump() {
  absl::MutexLock lock(&mu_);
  return ++revision_;
}

void Revisions::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

bool Revisions::stopped() {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

void Revisions::WaitForChange(int64_t seen, absl::Time deadline,
                              const grpc::ServerContext* context) {
  absl::MutexLock lock(&mu_);
  auto changed = [this, seen]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopped_ || revision_ != seen; };
  while (!changed() && absl::Now() < deadline && (context == nullptr || !context->IsCancelled())) {
    // Wake at least once a second to look at the cancellation.
    mu_.AwaitWithDeadline(absl::Condition(&changed),
                          std::min(deadline, absl::Now() + absl::Seconds(1)));
  }
}

}  // namespace galvatron::planner
