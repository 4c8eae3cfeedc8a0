// HardwareTables: Galvatron's coefficient dictionaries, latency lookups and
// the fallbacks for missing tables.
#include <catch2/catch.hpp>

#include "planner/cost/hardware_tables.h"
#include "tests/planner/cost/galvatron_fixture.h"

namespace galvatron::cost {
namespace {

using Op = HardwareTables::Op;

HardwareTables Build(const v1::HardwareProfile& hw, int world = 8) {
  auto t = HardwareTables::Build(hw, world);
  REQUIRE(t.ok());
  return *t;
}

// Validation refuses such a profile first (common/physical_bounds.h); the
// tables refuse it too rather than turn it into infinite times.
TEST_CASE("A bandwidth whose inverse overflows is an error", "[cost][hardware]") {
  v1::HardwareProfile hw = testing::A100x8();
  for (auto& t : *hw.mutable_collectives()) {
    t.clear_samples();
    t.clear_fit();
    t.set_bus_bandwidth_bytes_per_second(1e-300);
  }
  auto tables = HardwareTables::Build(hw, 8);
  REQUIRE(tables.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(tables.status().message()),
             Catch::Contains("hardware.collectives[0]: bus bandwidth 1e-300 bytes/s") &&
                 Catch::Contains("no finite communication time"));
}

TEST_CASE("Galvatron's comm_coe_dict", "[cost][hardware]") {
  const HardwareTables t = Build(testing::A100x8());
  // 'W', 'W_0', 'W_1' all take the consecutive table of size W.
  CHECK(t.AllReduceCoeMsPerMb(8, true) == Approx(1 / 154.203));
  CHECK(t.AllReduceCoeMsPerMb(8, false) == Approx(1 / 154.203));
  CHECK(t.AllReduceCoeMsPerMb(4, true) == Approx(1 / 159.119));
  CHECK(t.AllReduceCoeMsPerMb(4, false) == Approx(1 / 155.815));
  CHECK(t.AllReduceCoeMsPerMb(2, false) == Approx(1 / 151.344));
  CHECK(t.AllReduceCoeMsPerMb(1, false) == 0);
  CHECK(t.P2pCoeMsPerMb(4) == Approx(1 / 138.581));
  CHECK(t.P2pCoeMsPerMb(1) == 0);
}

TEST_CASE("Galvatron's latency dictionaries", "[cost][hardware]") {
  const HardwareTables t = Build(testing::A100x8());
  // Exact hits: the raw all-reduce time; all-gather = 0.5 × it.
  CHECK(t.GalvatronLatencyMs(Op::kAllReduce, 8, 128) == Approx(1.2826));
  CHECK(t.GalvatronLatencyMs(Op::kAllGather, 8, 128) == Approx(0.6413));
  CHECK(t.GalvatronLatencyMs(Op::kAllToAll, 4, 32) == Approx(0.2237));
  // Otherwise the least-squares line over (MB, ms): for the size-2
  // all-reduce samples m = 0.0050078…, c = 0.03398… (ms).
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double ys[] = {0.0703, 0.07932, 0.09008, 0.1084, 0.1434, 0.2281,
                       0.3924, 0.7417,  1.3887,  2.6886, 5.1594};
  double x = 1;
  for (double y : ys) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    x *= 2;
  }
  const double n = 11, m = (sxy - sx * sy / n) / (sxx - sx * sx / n), c = (sy - m * sx) / n;
  CHECK(t.GalvatronLatencyMs(Op::kAllReduce, 2, 48) == Approx(m * 48 + c).epsilon(1e-12));
  CHECK(t.GalvatronLatencyMs(Op::kAllGather, 2, 48) == Approx(0.5 * (m * 48 + c)).epsilon(1e-12));
  CHECK(t.GalvatronLatencyMs(Op::kAllGather, 1, 48) == 0);
}

TEST_CASE("Interpolated latency (default mode)", "[cost][hardware]") {
  const HardwareTables t = Build(testing::A100x8());
  CHECK(t.LatencyMs(Op::kAllReduce, 8, 128) == Approx(1.2826));
  // Between 128 and 256 MB: linear.
  CHECK(t.LatencyMs(Op::kAllReduce, 8, 192) == Approx((1.2826 + 2.3584) / 2));
  // Below the smallest sample: its time; above the largest: the last slope.
  CHECK(t.LatencyMs(Op::kAllReduce, 8, 0.25) == Approx(0.07895));
  CHECK(t.LatencyMs(Op::kAllReduce, 8, 2048) == Approx(8.1409 + (8.1409 - 4.6768) / 512 * 1024));
  // No all-gather table: half the all-reduce.
  CHECK(t.LatencyMs(Op::kAllGather, 4, 64) == Approx(0.5 * 0.5848));
}

TEST_CASE("Fallbacks for missing tables", "[cost][hardware]") {
  v1::HardwareProfile hw;
  hw.set_num_nodes(2);
  hw.set_devices_per_node(8);
  auto add = [&](int size, v1::GroupLayout layout, double mb_per_ms) {
    v1::CollectiveTable* c = hw.add_collectives();
    c->set_collective(v1::COLLECTIVE_ALL_REDUCE);
    c->set_group_size(size);
    c->set_layout(layout);
    c->set_bus_bandwidth_bytes_per_second(mb_per_ms * testing::kMiB * 1000);
  };
  add(16, v1::GROUP_LAYOUT_CONSECUTIVE, 44.682);
  add(8, v1::GROUP_LAYOUT_CONSECUTIVE, 155.658);
  add(4, v1::GROUP_LAYOUT_STRIDED, 20.0);
  const HardwareTables t = Build(hw, 16);
  // Missing layout of a measured size: the other layout.
  CHECK(t.AllReduceCoeMsPerMb(8, false) == Approx(1 / 155.658));
  CHECK(t.AllReduceCoeMsPerMb(4, true) == Approx(1 / 20.0));
  // Missing size: nearest size, same layout preferred (2 → 4 strided).
  CHECK(t.AllReduceCoeMsPerMb(2, false) == Approx(1 / 20.0));
  // No P2P at all: the all-reduce of the whole world.
  CHECK(t.P2pCoeMsPerMb(2) == Approx(1 / 44.682));
  // No latency samples: the bus-bandwidth estimate 2(s−1)/s·MB/B.
  CHECK(t.GalvatronLatencyMs(Op::kAllReduce, 8, 100) == Approx(2 * 7.0 / 8 * 100 / 155.658));
  CHECK(t.LatencyMs(Op::kAllToAll, 8, 100) == Approx(7.0 / 8 * 100 / 155.658));

  // Bandwidth derived from samples when none is given: the largest sample.
  v1::HardwareProfile sampled;
  v1::CollectiveTable* c = sampled.add_collectives();
  c->set_collective(v1::COLLECTIVE_ALL_REDUCE);
  c->set_group_size(2);
  c->set_layout(v1::GROUP_LAYOUT_CONSECUTIVE);
  v1::TimeSample* s = c->add_samples();
  s->set_bytes(int64_t{100} << 20);
  s->set_seconds(0.001);  // 100 MB in 1 ms: bus 2·1/2·100 = 100 MB/ms
  const HardwareTables u = Build(sampled, 2);
  CHECK(u.AllReduceCoeMsPerMb(2, true) == Approx(1 / 100.0));
}

}  // namespace
}  // namespace galvatron::cost
