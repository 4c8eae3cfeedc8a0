// A HardwareProfile turned into the lookups the cost model needs, in
// Galvatron's units (MB = 2^20 bytes, ms), with the fallbacks for missing
// tables in one place. Immutable after Build(); thread-safe.
#pragma once

#include <map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron::cost {

class HardwareTables {
 public:
  // INVALID_ARGUMENT when the profile cannot describe a `world_size`-device
  // cluster: no ALL_REDUCE table at all while world_size > 1, or a table with
  // nothing to derive a bandwidth from.
  static absl::StatusOr<HardwareTables> Build(const v1::HardwareProfile& hardware, int world_size);

  // Galvatron's comm_coe_dict['{size}_{consec}'] = 1 / bus bandwidth, ms/MB
  // (config_utils.read_allreduce_bandwidth_config): 0 for size 1; the whole
  // world (size W) always uses the consecutive table. Fallbacks for a missing
  // table: the other layout of the same size, then the nearest size with the
  // same layout, then the nearest size with any layout.
  double AllReduceCoeMsPerMb(int size, bool consecutive) const;

  // 1 / p2p bandwidth of a pp-stage pipeline, ms/MB (read_p2p_bandwidth_config).
  // Fallbacks: the nearest pipeline degree measured; without any P2P table,
  // the all-reduce coefficient of the whole world (its slowest links).
  double P2pCoeMsPerMb(int pp) const;

  enum class Op { kAllReduce, kAllToAll, kAllGather, kReduceScatter };

  // Galvatron's latency dicts (config_utils.remap_config_for_latency): the
  // raw time of a sample whose size is exactly `mb`, else the least-squares
  // line t = m·MB + c over the samples (scipy curve_fit of a line is least
  // squares). kAllReduce and kAllToAll read their own consecutive tables;
  // kAllGather is 0.5 × the kAllReduce value (Galvatron reads the allreduce
  // rows with factor 0.5). ms.
  double GalvatronLatencyMs(Op op, int size, double mb) const;

  // Our latency model (kDefault): piecewise-linear interpolation between the
  // measured samples (the smallest sample's time below them, the slope of
  // the last two above them); a table without samples uses its alpha-beta
  // fit, then its bus bandwidth. All-gather and reduce-scatter read their own
  // tables when measured, else 0.5 × all-reduce; all-to-all without a table
  // is (s−1)/s·MB at the all-reduce bus bandwidth of the group. `mb` is the
  // full buffer of one rank (for all-gather: the gathered output). ms.
  double LatencyMs(Op op, int size, double mb) const;

  // Bus bandwidth in MB/ms of the consecutive all-reduce group of `size`
  // (with the fallbacks above); infinity for size 1.
  double AllReduceBusBandwidthMbPerMs(int size, bool consecutive) const;

 private:
  // One collective table in Galvatron's units.
  struct Table {
    std::vector<std::pair<double, double>> samples;  // (MB, ms), sorted by MB
    bool has_line = false;                           // t = m·MB + c
    double m = 0, c = 0;
    double bus_mb_per_ms = 0;  // 0: unknown
  };
  using Key = std::pair<int, int>;  // (group size, layout); P2P: (pp, 0)

  const Table* Find(int collective, int size, int layout) const;
  const Table* FindNearest(int collective, int size, int layout) const;
  double LineMs(const Table& t, double mb, int size, double bus_factor) const;

  int world_size_ = 1;
  std::map<int, std::map<Key, Table>> tables_;  // by v1::Collective
};

}  // namespace galvatron::cost
