// MeasureTable with a fake backend (scripted repetition times, a scripted
// peer in MaxOverGroup) and a fake load: a noisy table that turns quiet is
// measured again and kept unflagged, one that stays noisy is flagged after
// the bounded attempts, the group's view (a noisy peer, a busy peer) decides,
// and the samples are this rank's medians of the attempt kept.
#include "agent/probe/probe_measure.h"

#include <catch2/catch.hpp>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "agent/probe/probe_plan.h"

namespace galvatron::probe {
namespace {

// Every TimeCollective call pops the next scripted repetitions; MaxOverGroup
// folds in the next scripted peer values (none: the peer agrees).
class FakeBackend final : public CollectiveBackend {
 public:
  std::deque<std::vector<double>> times;
  std::deque<std::vector<double>> peer;
  int timed = 0;
  int agreed = 0;

  std::string name() const override { return "fake"; }
  absl::Status OpenGroup(const ProbeGroup&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<double>> TimeCollective(v1::Collective, const ProbeGroup&, int64_t,
                                                     const TimingOptions& timing) override {
    ++timed;
    if (times.empty()) return absl::InternalError("the script ran out");
    std::vector<double> next = std::move(times.front());
    times.pop_front();
    REQUIRE(static_cast<int>(next.size()) == timing.repeats);
    return next;
  }
  absl::StatusOr<std::vector<double>> MaxOverGroup(const ProbeGroup&,
                                                   std::vector<double> values) override {
    ++agreed;
    if (!peer.empty()) {
      const std::vector<double> other = std::move(peer.front());
      peer.pop_front();
      REQUIRE(other.size() == values.size());
      for (size_t i = 0; i < values.size(); ++i) values[i] = std::max(values[i], other[i]);
    }
    return values;
  }
  absl::StatusOr<OverlapTimes> MeasureOverlap(const ProbeGroup&, int64_t) override {
    return OverlapTimes();
  }
  v1::Device DescribeDevice() const override { return v1::Device(); }
};

class FakeLoad final : public LoadSource {
 public:
  std::deque<double> loads;
  int begun = 0;
  void Begin() override { ++begun; }
  double End() override {
    if (loads.empty()) return kUnknownLoad;
    const double load = loads.front();
    loads.pop_front();
    return load;
  }
};

const std::vector<double> kQuiet = {1.00, 1.01, 0.99, 1.02, 1.00};  // spread 0.01
const std::vector<double> kNoisy = {1.0, 1.9, 0.6, 2.4, 1.1};       // spread 0.82

std::vector<double> Scaled(const std::vector<double>& v, double factor) {
  std::vector<double> out;
  for (double x : v) out.push_back(x * factor);
  return out;
}

struct Fixture {
  FakeBackend backend;
  FakeLoad load;
  ProbeGroup group = GroupOfRank(4, 2, v1::GROUP_LAYOUT_CONSECUTIVE, 0);
  std::vector<int64_t> sizes = {4096, 8192};
  TimingOptions timing{1, 5};
  NoiseOptions noise;

  absl::StatusOr<TableMeasurement> Measure() {
    return MeasureTable(backend, v1::COLLECTIVE_ALL_REDUCE, group, sizes, timing, noise, load);
  }
};

TEST_CASE("a noisy table that turns quiet is measured again and ends unflagged", "[probe]") {
  Fixture f;
  // Attempt 1: the large size is noisy; attempt 2: both quiet.
  f.backend.times = {Scaled(kQuiet, 1e-4), Scaled(kNoisy, 2e-4), Scaled(kQuiet, 1.1e-4),
                     Scaled(kQuiet, 2.1e-4)};
  f.load.loads = {0.05, 0.05};
  absl::StatusOr<TableMeasurement> m = f.Measure();
  REQUIRE(m.ok());
  CHECK(f.backend.timed == 4);
  CHECK(f.backend.agreed == 2);
  CHECK(f.load.begun == 2);
  CHECK(m->outcome.attempts == 2);
  CHECK(m->outcome.kept == 1);
  CHECK_FALSE(m->outcome.noisy);
  CHECK(m->outcome.load == Approx(0.05));
  // This rank's medians of the second attempt.
  REQUIRE(m->samples.size() == 2);
  CHECK(m->samples[0].bytes() == 4096);
  CHECK(m->samples[0].seconds() == Approx(1.1e-4));
  CHECK(m->samples[1].bytes() == 8192);
  CHECK(m->samples[1].seconds() == Approx(2.1e-4));
  CHECK(TableName(v1::COLLECTIVE_ALL_REDUCE, f.group) ==
        "COLLECTIVE_ALL_REDUCE on group s2-consecutive-0");
}

TEST_CASE("a table that stays noisy is flagged after the bounded attempts", "[probe]") {
  Fixture f;
  f.noise.max_remeasure = 2;
  // Three attempts, each with a noisy size; the second is the least noisy.
  f.backend.times = {
      Scaled(kNoisy, 1e-4), Scaled(kQuiet, 2e-4), Scaled({1, 1.4, 0.8, 1.6, 1}, 3e-4),
      Scaled(kQuiet, 4e-4), Scaled(kNoisy, 5e-4), Scaled(kQuiet, 6e-4)};
  absl::StatusOr<TableMeasurement> m = f.Measure();
  REQUIRE(m.ok());
  CHECK(f.backend.timed == 6);
  CHECK(m->outcome.attempts == 3);
  CHECK(m->outcome.noisy);
  CHECK(m->outcome.kept == 1);
  CHECK(m->outcome.spread == Approx(0.4));
  CHECK(m->outcome.load == kUnknownLoad);
  CHECK(m->samples[0].seconds() == Approx(3e-4));
  CHECK(m->samples[1].seconds() == Approx(4e-4));

  // --accept-noisy: one attempt, flagged.
  Fixture once;
  once.noise.accept_noisy = true;
  once.backend.times = {Scaled(kNoisy, 1e-4), Scaled(kQuiet, 2e-4)};
  m = once.Measure();
  REQUIRE(m.ok());
  CHECK(once.backend.timed == 2);
  CHECK(m->outcome.attempts == 1);
  CHECK(m->outcome.noisy);
}

TEST_CASE("the group decides together: a noisy or busy peer makes every rank measure again",
          "[probe]") {
  Fixture f;
  // Locally quiet both times; the peer's repetitions are noisy on the first
  // attempt (the collective's time is the slowest rank's).
  f.backend.times = {Scaled(kQuiet, 1e-4), Scaled(kQuiet, 2e-4), Scaled(kQuiet, 1e-4),
                     Scaled(kQuiet, 2e-4)};
  std::vector<double> noisy_peer = Scaled(kNoisy, 1e-4);
  noisy_peer.insert(noisy_peer.end(), 5, 0.0);
  noisy_peer.push_back(kUnknownLoad);
  f.backend.peer = {noisy_peer};
  f.load.loads = {0.0, 0.0};
  absl::StatusOr<TableMeasurement> m = f.Measure();
  REQUIRE(m.ok());
  CHECK(m->outcome.attempts == 2);
  CHECK_FALSE(m->outcome.noisy);

  // Quiet timings everywhere, but a peer's machine is busy every time.
  Fixture busy;
  busy.noise.max_remeasure = 1;
  busy.backend.times = {Scaled(kQuiet, 1e-4), Scaled(kQuiet, 2e-4), Scaled(kQuiet, 1e-4),
                        Scaled(kQuiet, 2e-4)};
  std::vector<double> busy_peer(10, 0.0);
  busy_peer.push_back(0.9);
  busy.backend.peer = {busy_peer, busy_peer};
  busy.load.loads = {0.0, 0.0};
  m = busy.Measure();
  REQUIRE(m.ok());
  CHECK(m->outcome.attempts == 2);
  CHECK(m->outcome.noisy);
  CHECK(m->outcome.load == Approx(0.9));
}

TEST_CASE("a backend error ends the table's measurement", "[probe]") {
  Fixture f;
  f.backend.times = {Scaled(kQuiet, 1e-4)};  // the second size is missing
  absl::StatusOr<TableMeasurement> m = f.Measure();
  CHECK(absl::IsInternal(m.status()));
}

}  // namespace
}  // namespace galvatron::probe
