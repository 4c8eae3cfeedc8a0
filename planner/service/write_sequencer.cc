#include "planner/service/write_sequencer.h"

#include <utility>

namespace galvatron::planner {

WriteSequencer::Ticket::Ticket(Ticket&& other) noexcept
    : sequencer_(other.sequencer_), key_(std::move(other.key_)), number_(other.number_) {
  other.sequencer_ = nullptr;
}

WriteSequencer::Ticket::~Ticket() {
  if (sequencer_ != nullptr) sequencer_->End(key_, number_);
}

void WriteSequencer::Ticket::WaitTurn() {
  if (sequencer_ != nullptr) sequencer_->WaitTurn(key_, number_);
}

WriteSequencer::Ticket WriteSequencer::Take(const std::string& key) {
  absl::MutexLock lock(&mu_);
  Counters& counters = keys_[key];
  return Ticket(this, key, counters.taken++);
}

WriteSequencer::Ticket WriteSequencer::Enter(const std::string& key) {
  Ticket ticket = Take(key);
  ticket.WaitTurn();
  return ticket;
}

int WriteSequencer::PendingKeys() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(keys_.size());
}

void WriteSequencer::WaitTurn(const std::string& key, int64_t number) {
  absl::MutexLock lock(&mu_);
  // The key stays in keys_ while this ticket has not ended.
  auto turn = [this, &key, number]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return keys_.at(key).turn == number; };
  mu_.Await(absl::Condition(&turn));
}

void WriteSequencer::End(const std::string& key, int64_t number) {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(key);
  Counters& counters = it->second;
  if (number != counters.turn) {
    counters.ended_early.insert(number);  // its turn is skipped when it comes
    return;
  }
  ++counters.turn;
  while (counters.ended_early.erase(counters.turn) > 0) ++counters.turn;
  if (counters.turn == counters.taken) keys_.erase(it);
}

}  // namespace galvatron::planner
