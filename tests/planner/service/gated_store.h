// GatedStore: a MemoryStore whose Appends to one table can be held at a gate
// or made to fail, so that a test can look at a service while one of its
// writes is in progress (as an fsync would keep it) or after a write failed.
// Thread-safe: the gate's state is guarded by mu_; writes are held inside
// Append with no lock of the MemoryStore taken.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "planner/store/memory_store.h"

namespace galvatron::testing {

class GatedStore final : public store::Store {
 public:
  explicit GatedStore(store::Table gated) : gated_(gated) {}

  // Appends to the gated table wait inside Append until Open.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    closed_ = false;
  }
  // The next Append to the gated table fails with UNAVAILABLE.
  void FailNext() {
    absl::MutexLock lock(&mu_);
    fail_next_ = true;
  }
  // Waits up to `timeout` until `count` Appends wait at the gate.
  bool AwaitHeld(int count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto held = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_ >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&held), timeout);
  }

  absl::StatusOr<store::Row> Append(store::Table table, const store::NewRow& row) override {
    if (table == gated_) {
      absl::MutexLock lock(&mu_);
      if (fail_next_) {
        fail_next_ = false;
        return absl::UnavailableError("gated store: this write fails");
      }
      ++held_;
      auto open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !closed_; };
      mu_.Await(absl::Condition(&open));
      --held_;
    }
    return inner_.Append(table, row);
  }
  absl::StatusOr<std::pair<store::Row, bool>> InsertIfAbsent(store::Table table,
                                                             const store::NewRow& row) override {
    return inner_.InsertIfAbsent(table, row);
  }
  absl::StatusOr<std::optional<store::Row>> Get(store::Table table, const std::string& key,
                                                int64_t version) override {
    return inner_.Get(table, key, version);
  }
  absl::StatusOr<std::optional<store::Row>> GetById(store::Table table,
                                                    const std::string& id) override {
    return inner_.GetById(table, id);
  }
  absl::StatusOr<std::vector<store::Row>> List(store::Table table,
                                               const store::ListOptions& options) override {
    return inner_.List(table, options);
  }
  absl::StatusOr<int64_t> Delete(store::Table table, const std::string& key) override {
    return inner_.Delete(table, key);
  }

 private:
  const store::Table gated_;
  store::MemoryStore inner_;
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_next_ ABSL_GUARDED_BY(mu_) = false;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace galvatron::testing
