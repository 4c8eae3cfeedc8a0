// Which rank is behind an address in a Gloo error. Gloo names a peer it lost
// by the address of that peer's socket ("Connection closed by peer
// [127.0.0.1]:43945"). Every rank records in the rendezvous store, for each
// Gloo group it creates, the address of each of its sockets (one per peer:
// Gloo listens once per pair) with its own global rank, so that a rank
// whose collective failed can look up the rank it lost
// (TcpRendezvous::ReportFailure). The keys are as many as Gloo's sockets.
//
// Thread model: GlooProcessGroup is a c10d ProcessGroupGloo (thread-safe as
// that is); the functions are thread-compatible (one thread per store
// client).
#pragma once

#include <string>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <vector>

#include "absl/status/status.h"

namespace galvatron::runtime {

// A ProcessGroupGloo that can list its own sockets' addresses.
class GlooProcessGroup final : public c10d::ProcessGroupGloo {
 public:
  using c10d::ProcessGroupGloo::ProcessGroupGloo;

  // The address of this rank's socket for each peer, exactly as Gloo prints
  // it in the peer's errors ("[127.0.0.1]:43945").
  std::vector<std::string> OwnAddresses() const;
};

// Records that `group`'s sockets on this process belong to global rank
// `rank`. UNAVAILABLE when the store fails.
absl::Status PublishGlooPeers(c10d::Store& store, int rank, const GlooProcessGroup& group);

// `text` with " (rank R)" after each "[host]:port" address some rank
// recorded; `ranks` (may be null) receives the ranks named, in order of
// appearance, each once. Throws what the store throws.
std::string NameGlooPeers(c10d::Store& store, const std::string& text, std::vector<int>* ranks);

}  // namespace galvatron::runtime
