// Tests of agent/probe/probe_plan.cc: groups, sizes, bus-bandwidth factors,
// merging of rank profiles and their quality records. No processes, no
// LibTorch.
#include "agent/probe/probe_plan.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/measurement_quality.h"
#include "common/profile_validation.h"

namespace galvatron::probe {
namespace {

v1::TimeSample Sample(int64_t bytes, double seconds) {
  v1::TimeSample s;
  s.set_bytes(bytes);
  s.set_seconds(seconds);
  return s;
}

TEST_CASE("probe group sizes are the powers of two that divide the world") {
  CHECK(ProbeGroupSizes(8) == std::vector<int>{2, 4, 8});
  CHECK(ProbeGroupSizes(4) == std::vector<int>{2, 4});
  CHECK(ProbeGroupSizes(6) == std::vector<int>{2});
  CHECK(ProbeGroupSizes(1).empty());
}

TEST_CASE("consecutive and strided groups follow Galvatron's layouts") {
  const ProbeGroup c = GroupOfRank(8, 4, v1::GROUP_LAYOUT_CONSECUTIVE, 5);
  CHECK(c.ranks == std::vector<int>{4, 5, 6, 7});
  CHECK(c.index == 1);
  CHECK(c.GroupRank(5) == 1);
  CHECK(c.GroupRank(0) == -1);
  // range(i, W, W/s): rank 5 of 8 in a strided group of 4 → i = 1, step 2.
  const ProbeGroup s = GroupOfRank(8, 4, v1::GROUP_LAYOUT_STRIDED, 5);
  CHECK(s.ranks == std::vector<int>{1, 3, 5, 7});
  CHECK(s.key != c.key);
  // Pipeline of degree 2 on 4 ranks: stage k holds r + 2k.
  CHECK(GroupOfRank(4, 2, v1::GROUP_LAYOUT_STRIDED, 2).ranks == std::vector<int>{0, 2});
}

TEST_CASE("every rank opens the same sequence of (size, layout) groups") {
  const std::vector<ProbeGroup> g0 = ProbeGroupsOfRank(4, 0);
  const std::vector<ProbeGroup> g3 = ProbeGroupsOfRank(4, 3);
  REQUIRE(g0.size() == 3);  // 2 consecutive, 2 strided, 4 consecutive
  REQUIRE(g3.size() == 3);
  for (size_t i = 0; i < g0.size(); ++i) {
    CHECK(g0[i].size == g3[i].size);
    CHECK(g0[i].layout == g3[i].layout);
  }
  CHECK(g0[2].size == 4);
  CHECK(g0[2].layout == v1::GROUP_LAYOUT_CONSECUTIVE);
  CHECK(g3[1].ranks == std::vector<int>{1, 3});
}

TEST_CASE("message sizes are powers of two between min and max") {
  auto sizes = MessageSizes(4096, 65536);
  REQUIRE(sizes.ok());
  CHECK(*sizes == std::vector<int64_t>{4096, 8192, 16384, 32768, 65536});
  auto rounded = MessageSizes(3000, 5000);
  REQUIRE(rounded.ok());
  CHECK(*rounded == std::vector<int64_t>{4096, 8192});
  CHECK_FALSE(MessageSizes(0, 10).ok());
  CHECK_FALSE(MessageSizes(100, 10).ok());
}

TEST_CASE("bus bandwidth uses nccl-tests' factors at the largest size") {
  CHECK(BusBandwidthFactor(v1::COLLECTIVE_ALL_REDUCE, 4) == Approx(1.5));
  CHECK(BusBandwidthFactor(v1::COLLECTIVE_ALL_GATHER, 4) == Approx(0.75));
  CHECK(BusBandwidthFactor(v1::COLLECTIVE_REDUCE_SCATTER, 2) == Approx(0.5));
  CHECK(BusBandwidthFactor(v1::COLLECTIVE_ALL_TO_ALL, 8) == Approx(0.875));
  CHECK(BusBandwidthFactor(v1::COLLECTIVE_P2P, 4) == Approx(1.0));

  const v1::CollectiveTable t =
      MakeCollectiveTable(v1::COLLECTIVE_ALL_REDUCE, 4, v1::GROUP_LAYOUT_CONSECUTIVE,
                          {Sample(1000, 2e-3), Sample(2000, 3e-3), Sample(4000, 5e-3)});
  CHECK(t.fit().alpha_seconds() == Approx(1e-3));
  CHECK(t.fit().beta_seconds_per_byte() == Approx(1e-6));
  CHECK(t.bus_bandwidth_bytes_per_second() == Approx(4000 / 5e-3 * 1.5));
}

TEST_CASE("median and overlap coefficient") {
  CHECK(Median({3, 1, 2}) == 2);
  CHECK(Median({4, 1, 3, 2}) == 2.5);
  CHECK(Median({}) == 0);
  OverlapTimes t;
  t.compute_alone = 1;
  t.compute_overlapped = 1.2;
  t.comm_alone = 2;
  t.comm_overlapped = 3;
  CHECK(OverlapCoefficient(t) == Approx(1.5));
  t.comm_overlapped = 1;  // faster overlapped (noise): floored
  t.compute_overlapped = 0.9;
  CHECK(OverlapCoefficient(t) == 1.0);
  CHECK(OverlapCoefficient(OverlapTimes{}) == 1.0);
}

TEST_CASE("merging rank profiles keeps the slowest rank and every host") {
  auto rank_profile = [](double scale, const std::string& host, double overlap) {
    v1::HardwareProfile p;
    *p.add_collectives() =
        MakeCollectiveTable(v1::COLLECTIVE_ALL_REDUCE, 2, v1::GROUP_LAYOUT_CONSECUTIVE,
                            {Sample(1024, 1e-4 * scale), Sample(2048, 2e-4)});
    *p.add_collectives() = MakeCollectiveTable(v1::COLLECTIVE_P2P, 2, v1::GROUP_LAYOUT_UNSPECIFIED,
                                               {Sample(1024, 1e-4), Sample(2048, 3e-4 * scale)});
    p.set_overlap_coefficient(overlap);
    p.set_measured_by(host);
    return p;
  };
  v1::HardwareProfile merged;
  REQUIRE(MergeRankProfile(rank_profile(1, "a", 1.1), &merged).ok());
  REQUIRE(MergeRankProfile(rank_profile(2, "b", 1.3), &merged).ok());
  REQUIRE(MergeRankProfile(rank_profile(1.5, "a", 1.0), &merged).ok());
  FinishTables(&merged);
  REQUIRE(merged.collectives_size() == 2);
  CHECK(merged.collectives(0).samples(0).seconds() == Approx(2e-4));
  CHECK(merged.collectives(1).samples(1).seconds() == Approx(6e-4));
  CHECK(merged.collectives(1).bus_bandwidth_bytes_per_second() == Approx(2048 / 6e-4));
  CHECK(merged.overlap_coefficient() == Approx(1.3));
  CHECK(merged.measured_by() == "a, b");

  merged.set_cluster("c");
  merged.set_num_nodes(1);
  merged.set_devices_per_node(2);
  merged.mutable_device()->set_kind(v1::DEVICE_KIND_CPU);
  // A measured profile knows its device's memory (probe_runner takes the
  // device from the backend).
  merged.mutable_device()->set_memory_bytes(int64_t{8} << 30);
  merged.set_source(v1::PROFILE_SOURCE_MEASURED);
  INFO(ValidateHardwareProfile(merged).message());
  CHECK(ValidateHardwareProfile(merged).ok());

  v1::HardwareProfile other = rank_profile(1, "c", 1);
  other.mutable_collectives(0)->mutable_samples(0)->set_bytes(999);
  CHECK(MergeRankProfile(other, &merged).code() == absl::StatusCode::kFailedPrecondition);
  other = rank_profile(1, "c", 1);
  other.mutable_collectives()->RemoveLast();
  CHECK(MergeRankProfile(other, &merged).code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("merging rank profiles merges their measurement quality") {
  auto rank_profile = [](double spread, double load, const std::string& noisy_line) {
    v1::HardwareProfile p;
    *p.add_collectives() = MakeCollectiveTable(v1::COLLECTIVE_ALL_REDUCE, 2,
                                               v1::GROUP_LAYOUT_CONSECUTIVE, {Sample(1024, 1e-4)});
    v1::MeasurementQuality* q = p.mutable_quality();
    q->set_spread(spread);
    q->set_load(load);
    q->set_attempts(noisy_line.empty() ? 1 : 4);
    q->set_spread_threshold(0.25);
    q->set_load_threshold(0.25);
    if (!noisy_line.empty()) {
      q->set_noisy(true);
      q->add_noisy_measurements(noisy_line);
    }
    return p;
  };
  v1::HardwareProfile merged = rank_profile(0.05, 0.1, "");  // rank 0's own
  REQUIRE(MergeRankProfile(rank_profile(0.02, kUnknownLoad, ""), &merged).ok());
  CHECK_FALSE(merged.quality().noisy());
  CHECK(merged.quality().spread() == Approx(0.05));
  CHECK(merged.quality().load() == Approx(0.1));
  CHECK(merged.quality().note().empty());
  // Two ranks of one group report the same noisy table: named once.
  const std::string line = "COLLECTIVE_ALL_REDUCE on group s2-consecutive-0: spread 0.6";
  REQUIRE(MergeRankProfile(rank_profile(0.6, 0.5, line), &merged).ok());
  REQUIRE(MergeRankProfile(rank_profile(0.6, 0.5, line), &merged).ok());
  CHECK(merged.quality().noisy());
  CHECK(merged.quality().spread() == Approx(0.6));
  CHECK(merged.quality().load() == Approx(0.5));
  CHECK(merged.quality().attempts() == 4);
  CHECK(merged.quality().noisy_measurements_size() == 1);
  CHECK_THAT(merged.quality().note(), Catch::Contains("1 measurement stayed noisy: " + line));
  // A rank without a record (an older worker) changes nothing.
  v1::HardwareProfile old = rank_profile(0, 0, "");
  old.clear_quality();
  REQUIRE(MergeRankProfile(old, &merged).ok());
  CHECK(merged.quality().noisy_measurements_size() == 1);
}

}  // namespace
}  // namespace galvatron::probe
