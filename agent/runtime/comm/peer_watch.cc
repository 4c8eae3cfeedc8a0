#include "agent/runtime/comm/peer_watch.h"

#include <errno.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/runtime/comm/gloo_peers.h"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kAbortKey[] = "galvatron/health/abort";
std::string InfoKey(int rank) { return absl::StrCat("galvatron/health/info/", rank); }
std::string BeatKey(int rank) { return absl::StrCat("galvatron/health/beat/", rank); }
std::string LeftKey(int rank) { return absl::StrCat("galvatron/health/left/", rank); }
std::string AckKey(int rank) { return absl::StrCat("galvatron/health/ack/", rank); }

std::vector<uint8_t> Bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string Text(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }
std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The abort record: "RANK\nMESSAGE".
std::string Encode(const GroupFailure& failure) {
  return absl::StrCat(failure.rank, "\n", failure.message);
}
std::optional<GroupFailure> Decode(const std::string& text) {
  const size_t newline = text.find('\n');
  GroupFailure failure;
  if (newline == std::string::npos || !absl::SimpleAtoi(text.substr(0, newline), &failure.rank)) {
    return std::nullopt;
  }
  failure.message = text.substr(newline + 1);
  return failure;
}

std::optional<GroupFailure> ReadRecord(c10d::Store& store) {
  if (!store.check({kAbortKey})) return std::nullopt;
  return Decode(Text(store.get(kAbortKey)));
}

// Posts `failure` unless a record exists; the record that holds.
GroupFailure PostRecord(c10d::Store& store, const GroupFailure& failure) {
  const std::string stored = Text(store.compareSet(kAbortKey, {}, Bytes(Encode(failure))));
  std::optional<GroupFailure> record = Decode(stored);
  return record ? *record : failure;
}

// Errors of a connection whose other end went away (Gloo's and the store's
// socket errors): the peer, not this rank, is likely at fault, so the report
// waits for rank 0's verdict before blaming this rank. Timeouts are not
// among them: a peer silent for a whole collective timeout has long been
// named by the monitor if it died.
bool LooksLikeLostPeer(const std::string& text) {
  for (const char* sign : {"closed by peer", "reset by peer", "Broken pipe", "Read error",
                           "Write error", "Connection refused"}) {
    if (absl::StrContains(text, sign)) return true;
  }
  return false;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

}  // namespace

PeerWatch::PeerWatch(const PeerWatchConfig& config, c10::intrusive_ptr<c10d::Store> store,
                     c10::intrusive_ptr<c10d::Store> own)
    : config_(config),
      store_(std::move(store)),
      own_(std::move(own)),
      peers_(static_cast<size_t>(config.world_size)),
      where_(absl::StrCat("rank ", config.rank)) {}

absl::StatusOr<std::unique_ptr<PeerWatch>> PeerWatch::Start(const PeerWatchConfig& config,
                                                            c10::intrusive_ptr<c10d::Store> store) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(config.port);
  options.isServer = false;
  options.waitWorkers = false;
  options.timeout = config.peer_timeout;
  c10::intrusive_ptr<c10d::Store> own;
  try {
    store->set(InfoKey(config.rank),
               Bytes(absl::StrCat("pid ", getpid(), " on host ", HostName())));
    own = c10::make_intrusive<c10d::TCPStore>(config.host, options);
    // TCPStore applies its timeout to the connection on a get: from here on
    // a store that stops answering fails the watch's calls after
    // peer_timeout instead of blocking them.
    own->get(InfoKey(config.rank));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("rank ", config.rank, ": cannot start the peer watch on the store at ",
                     config.host, ":", config.port, ": ", FirstLine(e.what())));
  }
  std::unique_ptr<PeerWatch> watch(new PeerWatch(config, std::move(store), std::move(own)));
  PeerWatch* self = watch.get();
  try {
    watch->thread_ = std::thread([self] { self->Run(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("rank ", config.rank, ": cannot start the peer watch's thread: ", e.what()));
  }
  return watch;
}

PeerWatch::~PeerWatch() { StopThread(); }

void PeerWatch::StopThread() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void PeerWatch::Run() {
  const int rank = config_.rank;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    std::optional<GroupFailure> failure;
    bool store_lost = false;
    // Nothing may escape this thread: every failure ends in Exit.
    try {
      own_->add(BeatKey(rank), 1);
      if (rank == 0) failure = Monitor();
      if (!failure) failure = ReadRecord(*own_);
    } catch (const std::exception& e) {
      store_lost = true;
      failure = GroupFailure{
          0, rank == 0 ? absl::StrCat("rank 0 failed: its own store stopped answering (",
                                      FirstLine(e.what()), ")")
                       : absl::StrCat("rank 0 failed or cannot be reached: the store it hosts at ",
                                      config_.host, ":", config_.port, " does not answer (",
                                      FirstLine(e.what()), ")")};
    } catch (...) {
      store_lost = true;
      failure = GroupFailure{0, "rank 0 failed or cannot be reached: the store failed"};
    }
    if (failure) {
      bool exit_now = false;
      std::string where;
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        where = where_;
        // A main thread that is leaving reports the record itself, unless
        // the store is gone (then nothing it waits for can come).
        if (state_ == State::kRunning || store_lost) {
          state_ = State::kExiting;
          exit_now = true;
        }
      }
      if (exit_now) {
        const std::string message = failure->rank == rank
                                        ? failure->message
                                        : absl::StrCat(where, " stopped: ", failure->message);
        if (!store_lost) {
          try {
            if (rank != 0) {
              own_->set(AckKey(rank), Bytes("1"));
            } else {
              AwaitOthers(*own_, failure->rank,
                          Clock::now() + config_.peer_timeout + 3 * config_.interval,
                          /*monitor=*/true);
            }
          } catch (...) {
            // The record is known; the process ends all the same.
          }
        }
        Exit(message);
      }
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::FromChrono(config_.interval));
  }
}

std::optional<GroupFailure> PeerWatch::Monitor() {
  const auto now = Clock::now();
  std::optional<GroupFailure> failure;
  for (int p = 1; p < config_.world_size; ++p) {
    Peer& peer = peers_[static_cast<size_t>(p)];
    if (peer.left) continue;
    if (!peer.registered) {
      if (!own_->check({InfoKey(p)})) continue;
      peer.registered = true;
      peer.info = Text(own_->get(InfoKey(p)));
      peer.changed = now;
      spdlog::info("rank {} is in the group ({}); watching its heartbeat", p, peer.info);
    }
    const int64_t beats = own_->add(BeatKey(p), 0);
    if (beats != peer.beats) {
      peer.beats = beats;
      peer.changed = now;
      continue;
    }
    if (now - peer.changed <= config_.peer_timeout) continue;
    if (own_->check({LeftKey(p)})) {
      peer.left = true;
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      silent_.insert(p);
    }
    if (!failure) {
      failure = GroupFailure{
          p, absl::StrFormat("rank %d failed: no heartbeat for %.1f s (%s): its process died, "
                             "hung or lost its connection",
                             p, Seconds(now - peer.changed), peer.info)};
    }
  }
  if (failure) failure = PostRecord(*own_, *failure);
  return failure;
}

void PeerWatch::AwaitOthers(c10d::Store& store, int failed, Clock::time_point deadline,
                            bool monitor) {
  std::vector<bool> done(static_cast<size_t>(config_.world_size), false);
  done[0] = true;
  if (failed >= 0 && failed < config_.world_size) done[static_cast<size_t>(failed)] = true;
  for (;;) {
    if (monitor) {
      try {
        Monitor();
      } catch (...) {
      }
    }
    std::set<int> silent;
    {
      absl::MutexLock lock(&mu_);
      silent = silent_;
    }
    bool all = true;
    for (int q = 1; q < config_.world_size; ++q) {
      if (done[static_cast<size_t>(q)]) continue;
      done[static_cast<size_t>(q)] = silent.count(q) > 0 || !store.check({InfoKey(q)}) ||
                                     store.check({LeftKey(q)}) || store.check({AckKey(q)});
      all = all && done[static_cast<size_t>(q)];
    }
    if (all || Clock::now() >= deadline) return;
    // Faster than the heartbeat: at the end of a good run the others leave
    // within moments, and rank 0 should not linger a whole beat for them.
    absl::SleepFor(absl::FromChrono(std::min(config_.interval, std::chrono::milliseconds(100))));
  }
}

absl::Status PeerWatch::ReportFailure(const absl::Status& error) {
  if (error.ok()) return error;
  {
    absl::MutexLock lock(&mu_);
    if (reported_) return *reported_;
  }
  const int rank = config_.rank;
  std::string own(error.message());
  GroupFailure posted{rank, ""};
  GroupFailure failure;
  try {
    std::vector<int> named;
    own = NameGlooPeers(*store_, own, &named);
    named.erase(std::remove(named.begin(), named.end(), rank), named.end());
    std::optional<GroupFailure> existing = ReadRecord(*store_);
    if (!existing && named.empty() && LooksLikeLostPeer(own)) {
      // A peer went away, but which one is not in the error: rank 0's
      // monitor names it within peer_timeout, unless this rank is the one
      // at fault.
      const auto deadline = Clock::now() + config_.peer_timeout + 3 * config_.interval;
      while (!existing && Clock::now() < deadline) {
        absl::SleepFor(absl::FromChrono(config_.interval));
        existing = ReadRecord(*store_);
      }
    }
    if (existing) {
      failure = *existing;
    } else {
      if (!named.empty()) {
        posted =
            GroupFailure{named[0], absl::StrCat("rank ", named[0], " failed: rank ", rank,
                                                " lost its connection to it: ", FirstLine(own))};
      } else {
        posted.message = absl::StrCat("rank ", rank, " failed: ", own);
      }
      failure = PostRecord(*store_, posted);
    }
  } catch (const std::exception& e) {
    failure = rank == 0
                  ? GroupFailure{0, absl::StrCat("rank 0 failed: ", own)}
                  : GroupFailure{0, absl::StrCat("rank 0 failed or cannot be reached: the "
                                                 "store it hosts at ",
                                                 config_.host, ":", config_.port,
                                                 " does not answer (", FirstLine(e.what()), ")")};
    if (rank == 0) posted = failure;
  }
  // The record this rank posted already holds its error.
  const absl::StatusCode code = failure.rank == rank ? error.code() : absl::StatusCode::kAborted;
  absl::Status status =
      failure.message == posted.message
          ? absl::Status(code, failure.message)
          : absl::Status(code, absl::StrCat(failure.message, "; rank ", rank, " stopped: ", own));
  absl::MutexLock lock(&mu_);
  if (!reported_) reported_ = status;
  return *reported_;
}

void PeerWatch::SetWhere(std::string where) {
  absl::MutexLock lock(&mu_);
  where_ = std::move(where);
}

absl::Status PeerWatch::Leave(const absl::Status& outcome) {
  {
    absl::MutexLock lock(&mu_);
    if (left_) return *left_;
    if (state_ == State::kExiting) {
      // The watch thread is ending the process with the group's failure.
      mu_.Await(absl::Condition(
          +[](State* state) { return *state != State::kExiting; }, &state_));
    }
    state_ = State::kLeaving;
  }
  const int rank = config_.rank;
  absl::Status result = outcome.ok() ? outcome : ReportFailure(outcome);
  try {
    if (rank != 0) {
      // The thread stops first: once rank 0 knows this rank has gone it
      // may close the store, which the thread would take for a failure.
      StopThread();
      store_->set(outcome.ok() ? LeftKey(rank) : AckKey(rank), Bytes("1"));
    } else {
      int failed = -1;
      if (!outcome.ok()) {
        if (std::optional<GroupFailure> record = ReadRecord(*store_)) failed = record->rank;
      }
      AwaitOthers(*store_, failed,
                  Clock::now() + (outcome.ok() ? config_.leave_timeout
                                               : config_.peer_timeout + 3 * config_.interval),
                  /*monitor=*/false);
      StopThread();
    }
  } catch (const std::exception& e) {
    StopThread();
    spdlog::warn("rank {}: could not tell the group it left: {}", rank, FirstLine(e.what()));
  }
  absl::MutexLock lock(&mu_);
  left_ = result;
  return result;
}

void PeerWatch::Exit(const std::string& message) {
  spdlog::error("{}", message);
  spdlog::default_logger()->flush();
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, message.c_str());
  std::fflush(stderr);
  _exit(1);
}

}  // namespace galvatron::runtime
