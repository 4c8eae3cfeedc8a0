// The health of a worker group (the ranks of one probe or training run),
// kept in rank 0's TCPStore so that a rank that dies — SIGKILL, a crash, a
// lost node — stops every other rank within a bounded time, each naming the
// rank that failed, instead of leaving them blocked in a collective until
// Gloo's timeout.
//
//   - Every rank registers "host, pid" and then bumps a heartbeat counter
//     every `interval`, from a thread of its own over a store connection of
//     its own (so a main thread blocked in a collective or a long step does
//     not stop it).
//   - Rank 0 reads every peer's counter each interval; one that has not
//     moved for `peer_timeout` (and has not left) failed. Only rank 0's
//     clock is used, so the ranks' clocks need not agree.
//   - A failure becomes one abort record in the store, naming the failed
//     rank: the first writer wins (compare-and-set), later reports are told
//     who failed first. Writers: rank 0's monitor (a silent rank), and any
//     rank whose own work failed (ReportFailure): its own error, or the rank
//     behind a Gloo address in it (gloo_peers.h).
//   - Every rank's thread polls for the record and ends the process (exit
//     status 1, the record on stderr and in the log) unless its main thread
//     is already leaving with an error of its own. A rank that cannot reach
//     the store for `peer_timeout` ends likewise, naming rank 0.
//   - Rank 0 hosts the store, so it leaves last: on a failure it waits until
//     every rank still alive has seen the record, at the end of a good run
//     until every rank has left.
//
// Bound: a rank killed at time t is named by rank 0 by t + peer_timeout +
// interval, and every other rank has stopped one interval later (sooner
// when a rank's Gloo error names it first).
//
// Thread model: Start, ReportFailure and Leave are called from the rank's
// main thread; the watch's own thread shares state with them under `mu_`.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace galvatron::runtime {

struct PeerWatchConfig {
  std::string host;  // the store
  int port = 0;
  int rank = 0;
  int world_size = 1;
  std::chrono::milliseconds peer_timeout{15000};
  std::chrono::milliseconds interval{1000};
  // Rank 0 at the end of a good run: the longest wait for the others to
  // leave while they still heartbeat.
  std::chrono::milliseconds leave_timeout{300000};
};

// One failure of the group: the rank that failed and what is known of it.
struct GroupFailure {
  int rank = -1;
  std::string message;  // "rank 2 failed: ..."
};

class PeerWatch {
 public:
  // Registers this rank in the store, connects the watch's own store client
  // and starts its thread. `store`: the main thread's client, used by
  // ReportFailure and Leave.
  static absl::StatusOr<std::unique_ptr<PeerWatch>> Start(const PeerWatchConfig& config,
                                                          c10::intrusive_ptr<c10d::Store> store);
  ~PeerWatch();  // stops the thread; says nothing to the store
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

  // See TcpRendezvous::ReportFailure, Leave and SetWhere.
  absl::Status ReportFailure(const absl::Status& error);
  absl::Status Leave(const absl::Status& outcome);
  void SetWhere(std::string where);

 private:
  enum class State { kRunning, kLeaving, kExiting };

  PeerWatch(const PeerWatchConfig& config, c10::intrusive_ptr<c10d::Store> store,
            c10::intrusive_ptr<c10d::Store> own);
  void Run();
  // One pass of rank 0's monitor over the peers' heartbeats; a failure when
  // a peer has gone silent.
  std::optional<GroupFailure> Monitor();
  // Rank 0: waits (bounded by `deadline`) until every other rank has left,
  // acknowledged the abort record, gone silent, never registered or is
  // `failed`. `monitor`: called from the watch thread, which keeps
  // monitoring meanwhile.
  void AwaitOthers(c10d::Store& store, int failed, std::chrono::steady_clock::time_point deadline,
                   bool monitor);
  void StopThread();
  [[noreturn]] void Exit(const std::string& message);

  const PeerWatchConfig config_;
  const c10::intrusive_ptr<c10d::Store> store_;  // the main thread's
  const c10::intrusive_ptr<c10d::Store> own_;    // the watch thread's
  std::thread thread_;

  // Rank 0's view of each peer (watch thread only, except what is copied
  // into silent_).
  struct Peer {
    bool registered = false;
    bool left = false;
    int64_t beats = -1;
    std::chrono::steady_clock::time_point changed;
    std::string info;  // "pid P on host H"
  };
  std::vector<Peer> peers_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  State state_ ABSL_GUARDED_BY(mu_) = State::kRunning;
  std::set<int> silent_ ABSL_GUARDED_BY(mu_);  // rank 0: peers gone silent
  std::optional<absl::Status> reported_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> left_ ABSL_GUARDED_BY(mu_);
  // What this rank is doing ("rank 0, step 7"), the subject of the message
  // the watch ends the process with when a peer failed.
  std::string where_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::runtime
