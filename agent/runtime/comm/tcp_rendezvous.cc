#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/runtime/comm/c10d_store.h"
#include "agent/runtime/comm/peer_watch.h"
#include "agent/runtime/comm/rendezvous.h"

namespace galvatron::runtime {
namespace {

constexpr char kJoinedKey[] = "galvatron/probe/joined";

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// The heartbeat period: a tenth of the peer timeout, so that a silent rank
// is seen after about ten missed beats, between 50 ms and 1 s.
std::chrono::milliseconds HeartbeatInterval(std::chrono::milliseconds peer_timeout) {
  return std::clamp(peer_timeout / 10, std::chrono::milliseconds(50),
                    std::chrono::milliseconds(1000));
}

// ", ranks 2, 3 never joined" from the peer watch's registrations.
std::string Missing(c10d::Store& store, int world_size) {
  std::vector<int> missing;
  try {
    for (int r = 0; r < world_size; ++r) {
      if (!store.check({absl::StrCat("galvatron/health/info/", r)})) missing.push_back(r);
    }
  } catch (const std::exception&) {
    return "";
  }
  if (missing.empty()) return "";
  return absl::StrCat(missing.size() == 1 ? "; rank " : "; ranks ", absl::StrJoin(missing, ", "),
                      " never came");
}

}  // namespace

TcpRendezvous::TcpRendezvous(const RendezvousOptions& options, std::unique_ptr<C10dHandle> c10d)
    : options_(options), c10d_(std::move(c10d)) {}

TcpRendezvous::~TcpRendezvous() {
  if (watch_ != nullptr) watch_->Leave(absl::OkStatus()).IgnoreError();
}

absl::Status TcpRendezvous::ReportFailure(const absl::Status& error) {
  return watch_ == nullptr ? error : watch_->ReportFailure(error);
}

void TcpRendezvous::SetWhere(std::string where) {
  if (watch_ != nullptr) watch_->SetWhere(std::move(where));
}

absl::Status TcpRendezvous::Leave(const absl::Status& outcome) {
  return watch_ == nullptr ? outcome : watch_->Leave(outcome);
}

absl::StatusOr<std::unique_ptr<TcpRendezvous>> TcpRendezvous::Connect(
    const RendezvousOptions& options) {
  const std::string where = absl::StrCat(options.host, ":", options.port);
  const double seconds = std::chrono::duration<double>(options.timeout).count();
  if (options.rank != 0 && options.port == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", options.rank, ": the store port must be given (only rank 0 may use 0)"));
  }
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(options.port);
  store_options.isServer = options.rank == 0;
  store_options.numWorkers = options.world_size;
  // We wait for the peers ourselves below, to say how many came.
  store_options.waitWorkers = false;
  store_options.timeout = options.timeout;
  auto handle = std::make_unique<C10dHandle>();
  try {
    handle->store = c10::make_intrusive<c10d::TCPStore>(options.host, store_options);
  } catch (const std::exception& e) {
    if (options.rank == 0) {
      return absl::UnavailableError(
          absl::StrCat("rank 0 cannot serve the store at ", where, ": ", FirstLine(e.what())));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("rank ", options.rank, " could not reach the store at ", where, " within ",
                     seconds, " s (is rank 0 running?): ", FirstLine(e.what())));
  }
  auto* tcp = static_cast<c10d::TCPStore*>(handle->store.get());
  const int port = tcp->getPort();
  std::unique_ptr<TcpRendezvous> rendezvous(new TcpRendezvous(options, std::move(handle)));
  rendezvous->options_.port = port;
  if (options.rank == 0 && options.on_serving) {
    absl::Status announced = options.on_serving(port);
    if (!announced.ok()) return announced;
  }
  c10d::Store& store = *rendezvous->c10d_->store;
  if (options.world_size > 1 && options.watch_peers) {
    PeerWatchConfig watch;
    watch.host = options.host;
    watch.port = port;
    watch.rank = options.rank;
    watch.world_size = options.world_size;
    watch.peer_timeout = options.peer_timeout;
    watch.interval = HeartbeatInterval(options.peer_timeout);
    watch.leave_timeout = std::max(options.timeout, options.peer_timeout);
    auto started = PeerWatch::Start(watch, rendezvous->c10d_->store);
    if (!started.ok()) return started.status();
    rendezvous->watch_ = *std::move(started);
  }

  // Every rank counts itself in, then waits until all have. A failure from
  // here on is the group's: Leave tells the ranks already there.
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  int64_t joined = 0;
  try {
    joined = tcp->add(kJoinedKey, 1);
    while (joined < options.world_size) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return rendezvous->Leave(absl::DeadlineExceededError(absl::StrCat(
            "rank ", options.rank, ": timed out after ", seconds, " s waiting for peers: ", joined,
            " of ", options.world_size, " ranks joined the store at ", options.host, ":", port,
            Missing(store, options.world_size))));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      joined = tcp->add(kJoinedKey, 0);
    }
  } catch (const std::exception& e) {
    return rendezvous->Leave(
        absl::UnavailableError(absl::StrCat("rank ", options.rank, ": the store at ", options.host,
                                            ":", port, " failed: ", FirstLine(e.what()))));
  }
  return rendezvous;
}

int TcpRendezvous::port() const { return options_.port; }

absl::Status TcpRendezvous::Set(const std::string& key, const std::string& value) {
  try {
    c10d_->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("store set of \"", key, "\" failed: ", FirstLine(e.what())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TcpRendezvous::Get(const std::string& key) {
  try {
    const std::vector<uint8_t> value = c10d_->store->get(key);
    return std::string(value.begin(), value.end());
  } catch (const std::exception& e) {
    return absl::DeadlineExceededError(
        absl::StrCat("rank ", options_.rank, ": no value for \"", key, "\" in the store within ",
                     std::chrono::duration<double>(options_.timeout).count(),
                     " s (a peer stopped or is missing): ", FirstLine(e.what())));
  }
}

}  // namespace galvatron::runtime
