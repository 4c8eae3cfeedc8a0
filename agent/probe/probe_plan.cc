#include "agent/probe/probe_plan.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/least_squares.h"
#include "common/measurement_quality.h"

namespace galvatron::probe {

int ProbeGroup::GroupRank(int world_rank) const {
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (ranks[i] == world_rank) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> ProbeGroupSizes(int world_size) {
  std::vector<int> sizes;
  for (int s = 2; s <= world_size; s *= 2) {
    if (world_size % s == 0) sizes.push_back(s);
  }
  return sizes;
}

ProbeGroup GroupOfRank(int world_size, int size, v1::GroupLayout layout, int world_rank) {
  ProbeGroup group;
  group.size = size;
  group.layout = layout;
  const int groups = world_size / size;
  if (layout == v1::GROUP_LAYOUT_STRIDED) {
    group.index = world_rank % groups;
    for (int k = 0; k < size; ++k) group.ranks.push_back(group.index + k * groups);
  } else {
    group.index = world_rank / size;
    for (int k = 0; k < size; ++k) group.ranks.push_back(group.index * size + k);
  }
  group.key = absl::StrCat(
      "s", size, layout == v1::GROUP_LAYOUT_STRIDED ? "-strided-" : "-consecutive-", group.index);
  return group;
}

std::vector<ProbeGroup> ProbeGroupsOfRank(int world_size, int world_rank) {
  std::vector<ProbeGroup> groups;
  for (int s : ProbeGroupSizes(world_size)) {
    groups.push_back(GroupOfRank(world_size, s, v1::GROUP_LAYOUT_CONSECUTIVE, world_rank));
    if (s < world_size) {
      groups.push_back(GroupOfRank(world_size, s, v1::GROUP_LAYOUT_STRIDED, world_rank));
    }
  }
  return groups;
}

absl::StatusOr<std::vector<int64_t>> MessageSizes(int64_t min_bytes, int64_t max_bytes) {
  if (min_bytes <= 0 || max_bytes < min_bytes || max_bytes > (int64_t{1} << 40)) {
    return absl::InvalidArgumentError(
        absl::StrCat("message sizes: min_bytes ", min_bytes, ", max_bytes ", max_bytes,
                     ": must satisfy 0 < min_bytes <= max_bytes <= 1 TiB"));
  }
  int64_t bytes = 1;
  while (bytes < min_bytes) bytes *= 2;
  std::vector<int64_t> sizes;
  for (; bytes < max_bytes; bytes *= 2) sizes.push_back(bytes);
  sizes.push_back(bytes);  // max_bytes rounded up to a power of two
  return sizes;
}

double BusBandwidthFactor(v1::Collective collective, int group_size) {
  const double s = group_size;
  switch (collective) {
    case v1::COLLECTIVE_ALL_REDUCE:
      return 2 * (s - 1) / s;
    case v1::COLLECTIVE_ALL_GATHER:
    case v1::COLLECTIVE_REDUCE_SCATTER:
    case v1::COLLECTIVE_ALL_TO_ALL:
      return (s - 1) / s;
    default:
      return 1;
  }
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

v1::CollectiveTable MakeCollectiveTable(v1::Collective collective, int group_size,
                                        v1::GroupLayout layout,
                                        const std::vector<v1::TimeSample>& samples) {
  v1::CollectiveTable table;
  table.set_collective(collective);
  table.set_group_size(group_size);
  table.set_layout(layout);
  for (const v1::TimeSample& s : samples) *table.add_samples() = s;
  v1::HardwareProfile one;
  *one.add_collectives() = table;
  FinishTables(&one);
  return one.collectives(0);
}

double OverlapCoefficient(const OverlapTimes& t) {
  double coefficient = 1.0;
  if (t.compute_alone > 0 && t.compute_overlapped > 0) {
    coefficient = std::max(coefficient, t.compute_overlapped / t.compute_alone);
  }
  if (t.comm_alone > 0 && t.comm_overlapped > 0) {
    coefficient = std::max(coefficient, t.comm_overlapped / t.comm_alone);
  }
  return coefficient;
}

absl::Status MergeRankProfile(const v1::HardwareProfile& rank_profile,
                              v1::HardwareProfile* merged) {
  using Key = std::tuple<int, int, int>;
  std::map<Key, v1::CollectiveTable*> tables;
  for (v1::CollectiveTable& t : *merged->mutable_collectives()) {
    tables[{t.collective(), t.group_size(), t.layout()}] = &t;
  }
  const bool first = merged->collectives().empty();
  for (const v1::CollectiveTable& t : rank_profile.collectives()) {
    const Key key{t.collective(), t.group_size(), t.layout()};
    auto it = tables.find(key);
    if (it == tables.end()) {
      if (!first) {
        return absl::FailedPreconditionError(
            absl::StrCat("rank profiles disagree: a table of ", v1::Collective_Name(t.collective()),
                         " group_size ", t.group_size(), " is missing on some rank"));
      }
      *merged->add_collectives() = t;
      continue;
    }
    v1::CollectiveTable* into = it->second;
    if (into->samples_size() != t.samples_size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rank profiles disagree on the sample count of ", v1::Collective_Name(t.collective()),
          " group_size ", t.group_size(), ": ", into->samples_size(), " vs ", t.samples_size()));
    }
    for (int i = 0; i < t.samples_size(); ++i) {
      v1::TimeSample* s = into->mutable_samples(i);
      if (s->bytes() != t.samples(i).bytes()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "rank profiles disagree on sample bytes: ", s->bytes(), " vs ", t.samples(i).bytes()));
      }
      s->set_seconds(std::max(s->seconds(), t.samples(i).seconds()));
    }
  }
  if (!first && static_cast<int>(tables.size()) != rank_profile.collectives_size()) {
    return absl::FailedPreconditionError("rank profiles disagree on the number of tables");
  }
  merged->set_overlap_coefficient(
      std::max(merged->overlap_coefficient(), rank_profile.overlap_coefficient()));
  if (rank_profile.has_quality()) MergeQuality(rank_profile.quality(), merged->mutable_quality());
  std::vector<std::string> hosts;
  if (!merged->measured_by().empty()) hosts = absl::StrSplit(merged->measured_by(), ", ");
  for (absl::string_view host : absl::StrSplit(rank_profile.measured_by(), ", ")) {
    if (!host.empty() && std::find(hosts.begin(), hosts.end(), host) == hosts.end()) {
      hosts.emplace_back(host);
    }
  }
  merged->set_measured_by(absl::StrJoin(hosts, ", "));
  return absl::OkStatus();
}

void FinishTables(v1::HardwareProfile* profile) {
  for (v1::CollectiveTable& t : *profile->mutable_collectives()) {
    *t.mutable_fit() = FitTimeSamples(t.samples());
    t.clear_bus_bandwidth_bytes_per_second();
    const v1::TimeSample* largest = nullptr;
    for (const v1::TimeSample& s : t.samples()) {
      if (s.seconds() > 0 && (largest == nullptr || s.bytes() > largest->bytes())) largest = &s;
    }
    if (largest != nullptr) {
      t.set_bus_bandwidth_bytes_per_second(static_cast<double>(largest->bytes()) /
                                           largest->seconds() *
                                           BusBandwidthFactor(t.collective(), t.group_size()));
    }
  }
}

}  // namespace galvatron::probe
