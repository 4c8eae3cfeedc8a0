// WriteSequencer puts the store writes of one key (a task, a node) in order
// without any lock held across a write.
//
// Why: each SqliteStore commit is an fsync (synchronous=FULL), milliseconds
// on a real disk. A manager that held its own mutex across a commit would
// make every reader of that manager wait for the disk. Instead a manager
// changes its in-memory state under its mutex, takes a ticket for the key
// there (so tickets follow the order of the changes), releases its mutex and
// only then waits for its turn and writes. Writes of one key are thereby
// appended in the order their changes were made (the newest stored version
// is the newest change), writes of different keys do not wait for each
// other, and readers never wait for a write.
//
// Thread model: thread-safe. mu_ guards the per-key counters; it is held
// only to take, wait for (Await releases it) and end a turn, never across
// the caller's write. It may be taken with a caller's mutex held (Take under
// the caller's lock) but never calls out, so the lock order is always
// caller's mutex -> mu_.
#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace galvatron::planner {

class WriteSequencer {
 public:
  // A place in the order of one key's writes. Move-only; ends when
  // destroyed (whether its write succeeded or not, whether it waited for its
  // turn or not), so neither a failed write nor an abandoned ticket blocks
  // the key. Destroying never blocks.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    ~Ticket();

    // Blocks until every earlier ticket of the key has ended.
    void WaitTurn();
    const std::string& key() const { return key_; }

   private:
    friend class WriteSequencer;
    Ticket(WriteSequencer* sequencer, std::string key, int64_t number)
        : sequencer_(sequencer), key_(std::move(key)), number_(number) {}

    WriteSequencer* sequencer_;  // null once moved from
    std::string key_;
    int64_t number_;
  };

  WriteSequencer() = default;
  WriteSequencer(const WriteSequencer&) = delete;
  WriteSequencer& operator=(const WriteSequencer&) = delete;

  // The next ticket of `key`. Never blocks for long (a map update under
  // mu_); call it where the change is made.
  Ticket Take(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Take + WaitTurn: for a read-compare-write of one key (the returned
  // ticket ends the turn when it goes out of scope).
  Ticket Enter(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Keys with tickets not yet ended (for tests).
  int PendingKeys() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Counters {
    int64_t taken = 0;  // tickets handed out; the next one gets this number
    // Every ticket below this number has ended: the one with this number
    // has its turn.
    int64_t turn = 0;
    // Tickets above `turn` that ended before their turn came (abandoned).
    absl::flat_hash_set<int64_t> ended_early;
  };

  void WaitTurn(const std::string& key, int64_t number) ABSL_LOCKS_EXCLUDED(mu_);
  void End(const std::string& key, int64_t number) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  // A key is present while it has tickets not yet ended.
  absl::flat_hash_map<std::string, Counters> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::planner
