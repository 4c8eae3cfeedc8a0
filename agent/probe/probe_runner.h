// The interconnect probe of one rank (`galvatron-worker probe`): rendezvous
// through rank 0's TCPStore, every collective of every probe group at every
// message size (a noisy table measured again: probe_measure.h), the overlap
// coefficient, and on rank 0 the merged HardwareProfile (each sample the
// slowest rank's median, with the measurement-quality record of all ranks).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "agent/runtime/comm/rendezvous.h"
#include "common/measurement_quality.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron::probe {

struct ProbeOptions {
  int rank = 0;
  int world_size = 1;
  int local_rank = -1;       // -1: rank % devices_per_node
  int devices_per_node = 0;  // ranks of a node are consecutive; 0: world_size
  std::string store_host = "127.0.0.1";
  int store_port = 29500;        // rank 0 may use 0 (a free port; see port_file)
  std::string port_file;         // rank 0 writes the store's actual port here
  std::string backend = "auto";  // gloo, nccl or auto (nccl when a GPU is present)
  // 0: the backend's default (gloo 4 KiB..4 MiB, nccl 1 MiB..1 GiB).
  int64_t min_bytes = 0;
  int64_t max_bytes = 0;
  int warmup = -1;  // -1: gloo 2, nccl 5
  int repeats = 0;  // 0: gloo 5, nccl 20
  int threads = 0;  // torch intra-op threads; 0: cores / ranks of the node
  std::string cluster = "local";
  std::string out;            // rank 0 writes the profile JSON here (none when empty)
  std::string progress_file;  // common/progress_file.h; none when empty
  double timeout_seconds = 300;
  double peer_timeout_seconds = 15;  // RendezvousOptions::peer_timeout
  // When a table's timings are too spread or the machine too busy: measure
  // it again, keep the least noisy attempt, flag what stays noisy in the
  // profile's quality record (docs/measurement.md).
  NoiseOptions noise;
  // Where RunProbe leaves its rendezvous for the caller, who reports the
  // outcome through it (TcpRendezvous::Leave); null: RunProbe closes it.
  std::shared_ptr<runtime::TcpRendezvous>* rendezvous_holder = nullptr;
};

// INVALID_ARGUMENT naming the option and its value.
absl::Status ValidateProbeOptions(const ProbeOptions& options);

// Runs the probe on this rank. On rank 0, `profile` receives the merged,
// validated profile (also written to `options.out` when set); other ranks
// leave it untouched. Errors name the rank and what went wrong, e.g.
// DEADLINE_EXCEEDED when a peer never shows up within the timeout.
absl::Status RunProbe(const ProbeOptions& options, v1::HardwareProfile* profile);

}  // namespace galvatron::probe
