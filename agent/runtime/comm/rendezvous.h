// Rendezvous of a worker group's ranks (probe, profiler or trainer) through a
// c10d TCPStore hosted by rank 0, and the group's failure handling: while
// the rendezvous lives, a peer watch (peer_watch.h) makes every rank stop
// within a bounded time, naming the failed rank, when any rank dies, hangs
// or reports a failure. The header is free of LibTorch so that the probe
// driver and the NCCL backend compile without it; the c10d store itself is
// reachable through c10d_store.h for code that builds c10d process groups.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace galvatron::runtime {

// Keys and values shared by the ranks of one probe. Thread-compatible: one
// thread at a time (the probe's main thread).
class RendezvousStore {
 public:
  virtual ~RendezvousStore() = default;
  virtual absl::Status Set(const std::string& key, const std::string& value) = 0;
  // Waits for `key` up to the store's timeout; DEADLINE_EXCEEDED after it.
  virtual absl::StatusOr<std::string> Get(const std::string& key) = 0;
};

struct RendezvousOptions {
  std::string host = "127.0.0.1";
  int port = 29500;  // rank 0 may pass 0: the store picks a free port
  int rank = 0;
  int world_size = 1;
  std::chrono::milliseconds timeout = std::chrono::seconds(300);
  // Rank 0: called with the actual port once the store serves, before the
  // wait for the peers (e.g. to tell them the port); an error aborts.
  std::function<absl::Status(int port)> on_serving;
  // The peer watch (world_size > 1): a rank whose heartbeat has not moved
  // for this long has failed, and so has rank 0 when its store does not
  // answer for this long. Every rank stops at most about peer_timeout plus
  // two heartbeats after a rank dies. The heartbeat period is a tenth of
  // it, between 50 ms and 1 s.
  std::chrono::milliseconds peer_timeout = std::chrono::seconds(15);
  bool watch_peers = true;
};

class PeerWatch;  // peer_watch.h

// A c10d TCPStore: rank 0 serves it, the others connect. Thread-compatible:
// the rank's main thread calls it (the peer watch runs a thread of its own,
// with a store connection of its own).
class TcpRendezvous final : public RendezvousStore {
 public:
  // Opens (rank 0) or connects to the store, starts the peer watch and
  // waits until all `world_size` ranks have joined. DEADLINE_EXCEEDED naming
  // how many joined and which ranks never came when a peer does not show up
  // within the timeout, UNAVAILABLE when the store cannot be reached or
  // served.
  static absl::StatusOr<std::unique_ptr<TcpRendezvous>> Connect(const RendezvousOptions& options);
  // Leave(OK) unless Leave was called.
  ~TcpRendezvous() override;

  // This rank's work failed with `error`: tells the group, so that every
  // other rank stops within one heartbeat, and returns the error reworded
  // to name the rank that failed first — this one ("rank 1 failed: ..."),
  // or the peer behind a Gloo address in the error ("rank 2 failed: rank 1
  // lost its connection to it: ..."), or whichever rank another report or
  // rank 0's monitor named first. An error that says a connection was lost
  // without naming the peer waits up to peer_timeout for rank 0's verdict.
  // Call it as soon as the error is known (before tearing down process
  // groups, which can wait for peers); the watch may then end this process
  // with that message before Leave is reached.
  absl::Status ReportFailure(const absl::Status& error);
  // The end of this rank's part: stops the peer watch, after ReportFailure
  // when `outcome` is an error. Rank 0 returns only once every other rank
  // has left, seen the failure or gone silent (bounded), so that the store
  // outlives their use of it. Returns `outcome` as ReportFailure words it;
  // later calls return the same.
  absl::Status Leave(const absl::Status& outcome);
  // What this rank is doing now ("rank 0, step 7"; default "rank 0"): when
  // the peer watch ends the process because another rank failed, its
  // message says "<where> stopped: rank 1 failed: ...", as an error of the
  // rank's own work would.
  void SetWhere(std::string where);

  absl::Status Set(const std::string& key, const std::string& value) override;
  absl::StatusOr<std::string> Get(const std::string& key) override;

  // The port the store listens on (the chosen one when asked for port 0).
  int port() const;
  const RendezvousOptions& options() const { return options_; }

  struct C10dHandle;  // defined in c10d_store.h
  const C10dHandle& c10d() const { return *c10d_; }

 private:
  TcpRendezvous(const RendezvousOptions& options, std::unique_ptr<C10dHandle> c10d);

  RendezvousOptions options_;
  std::unique_ptr<C10dHandle> c10d_;
  std::unique_ptr<PeerWatch> watch_;  // null: a world of one, or not watched
};

}  // namespace galvatron::runtime
