#include "planner/cost/hardware_tables.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/physical_bounds.h"

namespace galvatron::cost {
namespace {

constexpr double kBytesPerMb = 1048576.0;
constexpr double kMsPerSecond = 1000.0;

// Bus-bandwidth convention (nccl-tests): the factor that turns a buffer of S
// bytes into the bytes each rank's links carry.
double BusFactor(v1::Collective c, int size) {
  if (size <= 1) return 0;
  const double s = size;
  switch (c) {
    case v1::COLLECTIVE_ALL_REDUCE:
      return 2 * (s - 1) / s;
    case v1::COLLECTIVE_P2P:
      return 1;
    default:
      return (s - 1) / s;  // all-gather, reduce-scatter, all-to-all
  }
}

int Log2Distance(int a, int b) {
  return std::abs(
      static_cast<int>(std::lround(std::log2(std::max(a, 1)) - std::log2(std::max(b, 1)))));
}

}  // namespace

absl::StatusOr<HardwareTables> HardwareTables::Build(const v1::HardwareProfile& hardware,
                                                     int world_size) {
  HardwareTables out;
  out.world_size_ = world_size;
  for (int i = 0; i < hardware.collectives_size(); ++i) {
    const v1::CollectiveTable& in = hardware.collectives(i);
    if (in.group_size() < 2) continue;  // a one-rank group costs nothing
    Table t;
    for (const v1::TimeSample& s : in.samples()) {
      if (s.bytes() <= 0 || !(s.seconds() > 0) || !std::isfinite(s.seconds())) {
        return absl::InvalidArgumentError(
            absl::StrCat("hardware.collectives[", i, "].samples: bytes ", s.bytes(), ", seconds ",
                         s.seconds(), "; every sample needs bytes >= 1 and seconds > 0"));
      }
      t.samples.emplace_back(static_cast<double>(s.bytes()) / kBytesPerMb,
                             s.seconds() * kMsPerSecond);
    }
    std::sort(t.samples.begin(), t.samples.end());
    // Least squares over the samples, as Galvatron's curve_fit of t = m·MB + c.
    if (t.samples.size() >= 2 && t.samples.front().first != t.samples.back().first) {
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      const double n = static_cast<double>(t.samples.size());
      for (const auto& [x, y] : t.samples) {
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
      }
      const double mean_x = sx / n, mean_y = sy / n;
      const double var = sxx - n * mean_x * mean_x;
      t.m = (sxy - n * mean_x * mean_y) / var;
      t.c = mean_y - t.m * mean_x;
      t.has_line = true;
    } else if (in.fit().alpha_seconds() != 0 || in.fit().beta_seconds_per_byte() != 0) {
      t.m = in.fit().beta_seconds_per_byte() * kBytesPerMb * kMsPerSecond;
      t.c = in.fit().alpha_seconds() * kMsPerSecond;
      t.has_line = true;
    }
    const double factor = BusFactor(in.collective(), in.group_size());
    if (in.bus_bandwidth_bytes_per_second() > 0) {
      t.bus_mb_per_ms = in.bus_bandwidth_bytes_per_second() / kBytesPerMb / kMsPerSecond;
    } else if (!t.samples.empty()) {
      // The largest message is the one closest to the link bandwidth.
      const auto& [mb, ms] = t.samples.back();
      t.bus_mb_per_ms = factor * mb / ms;
    } else if (t.has_line && t.m > 0) {
      t.bus_mb_per_ms = factor / t.m;
    }
    // Times are 1 / bandwidth: a bandwidth so small (or a line so steep)
    // that they overflow would give every plan an infinite time, and the
    // search nothing to compare. Validated profiles never get here.
    if (!std::isfinite(t.bus_mb_per_ms) ||
        (t.bus_mb_per_ms > 0 && !std::isfinite(1.0 / t.bus_mb_per_ms)) || !std::isfinite(t.m) ||
        !std::isfinite(t.c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("hardware.collectives[", i, "]: bus bandwidth ",
                       in.bus_bandwidth_bytes_per_second(), " bytes/s, fit alpha ",
                       in.fit().alpha_seconds(), " s, beta ", in.fit().beta_seconds_per_byte(),
                       " s/byte give no finite communication time; expected a bandwidth between ",
                       physical_bounds::kBandwidthBytesPerSecond.min, " and ",
                       physical_bounds::kBandwidthBytesPerSecond.max, " bytes/s"));
    }
    if (t.bus_mb_per_ms <= 0 && t.samples.empty() && !t.has_line) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hardware.collectives[", i,
          "]: no samples, fit or bus_bandwidth_bytes_per_second to take a bandwidth from"));
    }
    const int layout = in.collective() == v1::COLLECTIVE_P2P ? 0 : static_cast<int>(in.layout());
    out.tables_[in.collective()][{in.group_size(), layout}] = std::move(t);
  }
  if (world_size > 1 && out.tables_[v1::COLLECTIVE_ALL_REDUCE].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hardware.collectives: no ALL_REDUCE table for a ", world_size,
        "-device cluster; the cost model needs the all-reduce bandwidth of at least one group "
        "size (run the hardware profiler or import Galvatron's allreduce_bandwidth file)"));
  }
  return out;
}

const HardwareTables::Table* HardwareTables::Find(int collective, int size, int layout) const {
  auto it = tables_.find(collective);
  if (it == tables_.end()) return nullptr;
  auto jt = it->second.find({size, layout});
  return jt == it->second.end() ? nullptr : &jt->second;
}

// The table of the nearest group size (in powers of two), preferring the
// requested layout, then the larger group (its slower links are the safer
// guess). Only tables with a bandwidth qualify.
const HardwareTables::Table* HardwareTables::FindNearest(int collective, int size,
                                                         int layout) const {
  auto it = tables_.find(collective);
  if (it == tables_.end()) return nullptr;
  const Table* best = nullptr;
  std::tuple<int, int, int> best_score;
  for (const auto& [key, table] : it->second) {
    if (table.bus_mb_per_ms <= 0) continue;
    std::tuple<int, int, int> score{Log2Distance(key.first, size), key.second == layout ? 0 : 1,
                                    key.first >= size ? 0 : 1};
    if (best == nullptr || score < best_score) {
      best = &table;
      best_score = score;
    }
  }
  return best;
}

double HardwareTables::AllReduceBusBandwidthMbPerMs(int size, bool consecutive) const {
  if (size <= 1) return std::numeric_limits<double>::infinity();
  const int want = (size >= world_size_ || consecutive) ? v1::GROUP_LAYOUT_CONSECUTIVE
                                                        : v1::GROUP_LAYOUT_STRIDED;
  const int other = want == v1::GROUP_LAYOUT_CONSECUTIVE ? v1::GROUP_LAYOUT_STRIDED
                                                         : v1::GROUP_LAYOUT_CONSECUTIVE;
  for (int layout : {want, other}) {
    const Table* t = Find(v1::COLLECTIVE_ALL_REDUCE, size, layout);
    if (t != nullptr && t->bus_mb_per_ms > 0) return t->bus_mb_per_ms;
  }
  const Table* t = FindNearest(v1::COLLECTIVE_ALL_REDUCE, size, want);
  if (t != nullptr) return t->bus_mb_per_ms;
  return std::numeric_limits<double>::infinity();  // world_size 1: nothing to sync
}

double HardwareTables::AllReduceCoeMsPerMb(int size, bool consecutive) const {
  if (size <= 1) return 0;
  return 1.0 / AllReduceBusBandwidthMbPerMs(size, consecutive);
}

double HardwareTables::P2pCoeMsPerMb(int pp) const {
  if (pp <= 1) return 0;
  const Table* t = Find(v1::COLLECTIVE_P2P, pp, 0);
  if (t == nullptr || t->bus_mb_per_ms <= 0) t = FindNearest(v1::COLLECTIVE_P2P, pp, 0);
  if (t != nullptr) return 1.0 / t->bus_mb_per_ms;
  return AllReduceCoeMsPerMb(world_size_, true);
}

double HardwareTables::LineMs(const Table& t, double mb, int size, double bus_factor) const {
  if (t.has_line) return t.m * mb + t.c;
  return bus_factor * mb / t.bus_mb_per_ms;
}

double HardwareTables::GalvatronLatencyMs(Op op, int size, double mb) const {
  if (size <= 1) return 0;
  if (op == Op::kAllGather || op == Op::kReduceScatter) {
    return 0.5 * GalvatronLatencyMs(Op::kAllReduce, size, mb);
  }
  const int collective =
      op == Op::kAllToAll ? v1::COLLECTIVE_ALL_TO_ALL : v1::COLLECTIVE_ALL_REDUCE;
  const double factor = BusFactor(static_cast<v1::Collective>(collective), size);
  const Table* t = Find(collective, size, v1::GROUP_LAYOUT_CONSECUTIVE);
  if (t == nullptr) t = Find(collective, size, v1::GROUP_LAYOUT_STRIDED);
  if (t != nullptr) {
    for (const auto& [x, y] : t->samples) {
      if (x == mb) return y;  // Galvatron's `message_size_in_MB in select_dict`
    }
    if (t->has_line || t->bus_mb_per_ms > 0) return LineMs(*t, mb, size, factor);
  }
  // No latency table for this group (Galvatron would raise KeyError): the
  // bus-bandwidth estimate of the all-reduce group of the same size.
  return factor * mb * AllReduceCoeMsPerMb(size, true);
}

double HardwareTables::LatencyMs(Op op, int size, double mb) const {
  if (size <= 1 || mb <= 0) return 0;
  int collective = v1::COLLECTIVE_ALL_REDUCE;
  switch (op) {
    case Op::kAllReduce:
      collective = v1::COLLECTIVE_ALL_REDUCE;
      break;
    case Op::kAllToAll:
      collective = v1::COLLECTIVE_ALL_TO_ALL;
      break;
    case Op::kAllGather:
      collective = v1::COLLECTIVE_ALL_GATHER;
      break;
    case Op::kReduceScatter:
      collective = v1::COLLECTIVE_REDUCE_SCATTER;
      break;
  }
  const double factor = BusFactor(static_cast<v1::Collective>(collective), size);
  const Table* t = Find(collective, size, v1::GROUP_LAYOUT_CONSECUTIVE);
  if (t == nullptr) t = Find(collective, size, v1::GROUP_LAYOUT_STRIDED);
  if (t != nullptr && !t->samples.empty()) {
    const auto& s = t->samples;
    if (s.size() == 1) return mb <= s[0].first ? s[0].second : s[0].second * mb / s[0].first;
    if (mb <= s.front().first) return s.front().second;
    for (size_t i = 1; i < s.size(); ++i) {
      if (mb <= s[i].first) {
        const double w = (mb - s[i - 1].first) / (s[i].first - s[i - 1].first);
        return s[i - 1].second + w * (s[i].second - s[i - 1].second);
      }
    }
    const auto& a = s[s.size() - 2];
    const auto& b = s.back();
    const double slope = std::max(0.0, (b.second - a.second) / (b.first - a.first));
    return b.second + slope * (mb - b.first);
  }
  if (t != nullptr && (t->has_line || t->bus_mb_per_ms > 0)) {
    return std::max(0.0, LineMs(*t, mb, size, factor));
  }
  switch (op) {
    case Op::kAllReduce:
      return factor * mb * AllReduceCoeMsPerMb(size, true);
    case Op::kAllGather:
    case Op::kReduceScatter:
      return 0.5 * LatencyMs(Op::kAllReduce, size, mb);
    case Op::kAllToAll:
      return factor * mb * AllReduceCoeMsPerMb(size, true);
  }
  return 0;
}

}  // namespace galvatron::cost
