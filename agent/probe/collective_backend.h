// One communication library under the probe: Gloo (CPU, through c10d) or
// NCCL (CUDA). The probe driver (probe_runner.h) decides what to measure; a
// backend only knows how to run and time one collective on one group.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/probe/probe_plan.h"
#include "agent/runtime/comm/rendezvous.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron::probe {

struct TimingOptions {
  int warmup = 3;   // untimed runs before the measurement
  int repeats = 9;  // timed runs; their median is kept
};

// Not thread-safe: one probe thread drives it (the overlap measurement starts
// its own threads internally).
class CollectiveBackend {
 public:
  virtual ~CollectiveBackend() = default;

  virtual std::string name() const = 0;  // "gloo" or "nccl"

  // Creates this rank's communicator of `group`. Every rank calls it for its
  // groups in the order of ProbeGroupsOfRank, so that all ranks of a group
  // meet.
  virtual absl::Status OpenGroup(const ProbeGroup& group) = 0;

  // Seconds of each of the `timing.repeats` timed runs (after
  // `timing.warmup` untimed ones) of `collective` on `group` (opened before)
  // at this rank, for a message of `bytes` (the whole buffer of the
  // collective: the all-gather output, the reduce-scatter input, the
  // all-to-all send buffer, the p2p message). P2P runs the pipeline pattern
  // on the group: group rank k sends to k + 1 and receives from k - 1.
  virtual absl::StatusOr<std::vector<double>> TimeCollective(v1::Collective collective,
                                                             const ProbeGroup& group, int64_t bytes,
                                                             const TimingOptions& timing) = 0;

  // The element-wise maximum of `values` over the ranks of `group` (opened
  // before; every rank of it calls this with as many values): how a group
  // agrees on its timings and load, so that all its ranks take the same
  // decision about measuring again.
  virtual absl::StatusOr<std::vector<double>> MaxOverGroup(const ProbeGroup& group,
                                                           std::vector<double> values) = 0;

  // Matmuls alone, all-reduces of `bytes` on `group` alone, then both at
  // once, as Galvatron's hardware profiler measures its overlap coefficient
  // (the slow-down of each when they share the device). Every rank of the
  // group calls it.
  virtual absl::StatusOr<OverlapTimes> MeasureOverlap(const ProbeGroup& group, int64_t bytes) = 0;

  // This rank's device: kind, index, name, memory.
  virtual v1::Device DescribeDevice() const = 0;
};

struct GlooBackendOptions {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_ranks = 1;  // ranks sharing this host: the RAM is split among them
  int threads = 1;      // torch intra-op threads (the matmuls of the overlap test)
  std::chrono::milliseconds timeout = std::chrono::seconds(300);
};

// Gloo over the rendezvous' TCPStore, one ProcessGroupGloo per group under a
// PrefixStore named by the group's key (gloo_backend.cc).
absl::StatusOr<std::unique_ptr<CollectiveBackend>> MakeGlooBackend(
    const runtime::TcpRendezvous& rendezvous, const GlooBackendOptions& options);

}  // namespace galvatron::probe
