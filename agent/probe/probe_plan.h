// What the interconnect probe measures, as pure functions: the groups of each
// table (the group sizes and consecutive/strided layouts of Galvatron's
// allreduce_bandwidth_* and p2p_bandwidth_* files), the message sizes, the
// bus-bandwidth factors of nccl-tests, and how per-rank measurements become
// a HardwareProfile. No LibTorch, no CUDA: unit-testable on its own.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron::probe {

// One communicator of the probe: `size` ranks laid out as `layout`, the
// `index`-th of the W/size groups that partition the world.
struct ProbeGroup {
  int size = 0;
  v1::GroupLayout layout = v1::GROUP_LAYOUT_UNSPECIFIED;
  int index = 0;
  std::vector<int> ranks;  // world ranks; position = rank inside the group
  // Unique and identical on every rank, e.g. "s4-consecutive-0": the store
  // prefix of the group's rendezvous.
  std::string key;

  // Position of `world_rank` in `ranks`, or -1.
  int GroupRank(int world_rank) const;
};

// Group sizes probed on a world of `world_size` ranks: the powers of two
// 2, 4, ... that divide it (a strided group needs W/s to be whole).
std::vector<int> ProbeGroupSizes(int world_size);

// The group of `layout` and `size` that holds `world_rank`. Consecutive:
// ranks [i*s, (i+1)*s); strided: range(i, W, W/s), which is also how a
// pipeline of degree s places its stages (stage k holds r + k*W/s).
ProbeGroup GroupOfRank(int world_size, int size, v1::GroupLayout layout, int world_rank);

// The groups every rank opens, in the one order all ranks share (c10d and
// NCCL need every rank to create groups in the same order): for each size
// from small to large, consecutive then strided; at s = W only consecutive
// (the strided group would be the same ranks). Only the group holding
// `world_rank` of each (size, layout) is returned.
std::vector<ProbeGroup> ProbeGroupsOfRank(int world_size, int world_rank);

// Powers of two from `min_bytes` to `max_bytes`, both rounded up to a power
// of two. INVALID_ARGUMENT unless 0 < min <= max.
absl::StatusOr<std::vector<int64_t>> MessageSizes(int64_t min_bytes, int64_t max_bytes);

// nccl-tests' bus-bandwidth factor (doc/PERFORMANCE.md): all-reduce
// 2(s-1)/s; all-gather, reduce-scatter and all-to-all (s-1)/s; p2p 1.
// busbw = bytes / seconds * factor, with `bytes` the whole buffer of the
// group's collective (the all-gather output, the reduce-scatter input).
double BusBandwidthFactor(v1::Collective collective, int group_size);

// Median of `values` (the mean of the two middle ones for an even count);
// 0 when empty.
double Median(std::vector<double> values);

// A table from its samples: the alpha-beta least-squares fit and the bus
// bandwidth at the largest message.
v1::CollectiveTable MakeCollectiveTable(v1::Collective collective, int group_size,
                                        v1::GroupLayout layout,
                                        const std::vector<v1::TimeSample>& samples);

// Times of the overlap measurement on one rank.
struct OverlapTimes {
  double compute_alone = 0;       // seconds per matmul, alone
  double compute_overlapped = 0;  // seconds per matmul while all-reduces run
  double comm_alone = 0;          // seconds per all-reduce, alone
  double comm_overlapped = 0;     // seconds per all-reduce while matmuls run
};

// Galvatron's overlap_coe: max(compute slowdown, comm slowdown), floored at
// 1.0 (profile_overlap.py). 1.0 when a time is missing.
double OverlapCoefficient(const OverlapTimes& times);

// Folds the local profile of one more rank into `merged`: per sample the
// slowest rank's time (a collective is as slow as its slowest member), the
// overlap coefficient's maximum, host names (measured_by) without repeats,
// and the measurement-quality records (common/measurement_quality.h:
// MergeQuality). Tables are matched by (collective, group size, layout) and
// samples by bytes; FAILED_PRECONDITION when the two disagree on them.
absl::Status MergeRankProfile(const v1::HardwareProfile& rank_profile, v1::HardwareProfile* merged);

// Recomputes fit and bus bandwidth of every table from its samples (after
// merging).
void FinishTables(v1::HardwareProfile* profile);

}  // namespace galvatron::probe
