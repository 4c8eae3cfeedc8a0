// Rendezvous of a worker group's ranks (probe, profiler or trainer) through a
// c10d TCPStore hosted by rank 0. The header is free of LibTorch so that the
// probe driver and the NCCL backend compile without it; the c10d store itself
// is reachable through c10d_store.h for code that builds c10d process groups.
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
};

// A c10d TCPStore: rank 0 serves it, the others connect.
class TcpRendezvous final : public RendezvousStore {
 public:
  // Opens (rank 0) or connects to the store and waits until all
  // `world_size` ranks have joined. DEADLINE_EXCEEDED naming how many joined
  // when a peer does not show up within the timeout, UNAVAILABLE when the
  // store cannot be reached or served.
  static absl::StatusOr<std::unique_ptr<TcpRendezvous>> Connect(
      const RendezvousOptions& options);
  ~TcpRendezvous() override;

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
};

}  // namespace galvatron::runtime
