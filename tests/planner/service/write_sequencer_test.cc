// WriteSequencer: turns follow the order tickets were taken in, per key;
// keys do not wait for each other; an abandoned ticket does not block its
// key; Enter serialises a read-compare-write of one key.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "planner/service/write_sequencer.h"

namespace galvatron {
namespace {

using planner::WriteSequencer;

// Runs `body` on a thread and waits up to 10 s for it to finish: a turn
// that never comes fails the check instead of hanging the test.
bool FinishesInTime(const std::function<void()>& body) {
  absl::Mutex mu;
  bool done = false;
  std::thread thread([&] {
    body();
    absl::MutexLock lock(&mu);
    done = true;
  });
  bool finished;
  {
    absl::MutexLock lock(&mu);
    finished = mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
  }
  if (finished) {
    thread.join();
  } else {
    thread.detach();  // the test fails; do not hang on it
  }
  return finished;
}

}  // namespace

TEST_CASE("Turns of one key follow the order of the tickets", "[service][sequencer]") {
  WriteSequencer sequencer;
  constexpr int kThreads = 16;
  absl::Mutex mu;
  std::vector<int> taken;  // ticket order (guarded by mu)
  std::vector<int> turns;  // order in which the turns came (guarded by mu)
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::optional<WriteSequencer::Ticket> ticket;
      {
        // Taken under the caller's lock, as the managers do, so that `taken`
        // is the order of the tickets.
        absl::MutexLock lock(&mu);
        ticket.emplace(sequencer.Take("task-1"));
        taken.push_back(i);
      }
      ticket->WaitTurn();
      absl::MutexLock lock(&mu);
      turns.push_back(i);
    });  // the ticket ends here, after its turn was recorded
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(turns == taken);
  CHECK(sequencer.PendingKeys() == 0);
}

TEST_CASE("Keys do not wait for each other, abandoned tickets are skipped",
          "[service][sequencer]") {
  WriteSequencer sequencer;
  std::optional<WriteSequencer::Ticket> first(sequencer.Take("a"));
  std::optional<WriteSequencer::Ticket> abandoned(sequencer.Take("a"));
  WriteSequencer::Ticket other = sequencer.Take("b");
  CHECK(FinishesInTime([&] { other.WaitTurn(); }));  // "a" does not hold "b" up
  CHECK(sequencer.PendingKeys() == 2);

  abandoned.reset();  // ended before its turn came: never blocks
  std::optional<WriteSequencer::Ticket> third(sequencer.Take("a"));
  first->WaitTurn();
  first.reset();
  // The abandoned ticket's turn is skipped: the third's comes at once.
  CHECK(FinishesInTime([&] { third->WaitTurn(); }));
  third.reset();
  { WriteSequencer::Ticket done = std::move(other); }
  CHECK(sequencer.PendingKeys() == 0);
}

TEST_CASE("Enter makes a read-compare-write of one key atomic", "[service][sequencer]") {
  WriteSequencer sequencer;
  int value = 0;  // read and written only inside a turn of "n1"
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) {
        WriteSequencer::Ticket turn = sequencer.Enter("n1");
        const int read = value;
        value = read + 1;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(value == 8000);
}

}  // namespace galvatron
