// The noise statistics and the re-measuring loop on synthetic inputs: the
// spread of repetitions, the load from /proc counters, the judgement of an
// attempt, and MeasureUntilQuiet driven by a fake timing source (scripted
// repetitions and loads), then the profile-level record and its merging.
#include "common/measurement_quality.h"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

namespace galvatron {
namespace {

using Catch::Matchers::Contains;

// A fake timing source: attempt i yields scripted repetitions and load.
struct Script {
  std::vector<AttemptResult> attempts;
  int calls = 0;
  std::function<absl::StatusOr<AttemptResult>(int)> Source() {
    return [this](int i) -> absl::StatusOr<AttemptResult> {
      REQUIRE(i == calls);
      ++calls;
      REQUIRE(i < static_cast<int>(attempts.size()));
      return attempts[static_cast<size_t>(i)];
    };
  }
};

AttemptResult Attempt(std::vector<double> times, double load = kUnknownLoad) {
  AttemptResult a;
  a.series.push_back(std::move(times));
  a.load = load;
  return a;
}

// IQR/median of 0.01 and 0.82: quiet and noisy by the default 0.25.
const std::vector<double> kQuiet = {1.00, 1.01, 0.99, 1.02, 1.00};
const std::vector<double> kNoisy = {1.0, 1.9, 0.6, 2.4, 1.1};

TEST_CASE("Quantiles interpolate between order statistics", "[noise]") {
  CHECK(Quantile({}, 0.5) == 0);
  CHECK(Quantile({7}, 0.9) == 7);
  CHECK(Quantile({5, 1, 3, 2, 4}, 0.5) == 3);
  CHECK(Quantile({5, 1, 3, 2, 4}, 0.25) == 2);
  CHECK(Quantile({5, 1, 3, 2, 4}, 0.75) == 4);
  CHECK(Quantile({1, 2, 3, 4}, 0.5) == Approx(2.5));
  CHECK(Quantile({1, 2, 3, 4}, 0.25) == Approx(1.75));  // position 0.75
  CHECK(Quantile({10, 20}, 0.1) == Approx(11));
  CHECK(Quantile({1, 2}, -1) == 1);
  CHECK(Quantile({1, 2}, 2) == 2);
}

TEST_CASE("The relative spread is the interquartile range over the median", "[noise]") {
  SpreadStats s = Spread({5, 1, 3, 2, 4});
  CHECK(s.count == 5);
  CHECK(s.median == 3);
  CHECK(s.q1 == 2);
  CHECK(s.q3 == 4);
  CHECK(s.relative_spread == Approx(2.0 / 3.0));

  CHECK(Spread({2, 2, 2, 2, 2}).relative_spread == 0);
  // One outlier among five does not move the quartiles: the median is still
  // trustworthy, so the measurement is not noisy.
  CHECK(Spread({1, 1, 1, 1, 100}).relative_spread == 0);
  // Two of five do.
  CHECK(Spread({1, 1, 1, 100, 100}).relative_spread == Approx(99.0));
  CHECK(Spread(kQuiet).relative_spread == Approx(0.01));
  CHECK(Spread(kNoisy).relative_spread == Approx(0.9 / 1.1));
  // Scale-free: the same shape at any duration.
  std::vector<double> micro;
  for (double t : kNoisy) micro.push_back(t * 1e-6);
  CHECK(Spread(micro).relative_spread == Approx(Spread(kNoisy).relative_spread));
  // Undefined cases are 0, not NaN.
  CHECK(Spread({}).relative_spread == 0);
  CHECK(Spread({3}).relative_spread == 0);
  CHECK(Spread({0, 0, 0}).relative_spread == 0);
}

TEST_CASE("/proc/stat and /proc/<pid>/stat are parsed", "[noise]") {
  const std::string stat =
      "cpu  100 5 50 800 20 3 2 10 7 0\n"
      "cpu0 50 2 25 400 10 1 1 5 3 0\n"
      "cpu1 50 3 25 400 10 2 1 5 4 0\n"
      "intr 12345 0 0\n"
      "ctxt 999\n";
  absl::StatusOr<CpuTimes> times = ParseProcStat(stat);
  REQUIRE(times.ok());
  CHECK(times->valid);
  CHECK(times->cores == 2);
  CHECK(times->busy == 100 + 5 + 50 + 3 + 2 + 10);  // guest is inside user
  CHECK(times->total == times->busy + 800 + 20);
  // Old kernels have only four counters.
  absl::StatusOr<CpuTimes> old = ParseProcStat("cpu 1 2 3 4\ncpu0 1 2 3 4\n");
  REQUIRE(old.ok());
  CHECK(old->busy == 6);
  CHECK(old->total == 10);
  CHECK_FALSE(ParseProcStat("intr 1 2\n").ok());
  CHECK_FALSE(ParseProcStat("cpu 1 x 3 4\n").ok());
  CHECK_FALSE(ParseProcStat("cpu 1 2\n").ok());

  // A command name with spaces and parentheses.
  absl::StatusOr<ProcessTimes> p = ParseProcPidStat(
      "4242 (galvatron (w) 1) S 4100 4242 4100 0 -1 4194560 1000 0 0 0 321 45 0 0 20 0 9 0");
  REQUIRE(p.ok());
  CHECK(p->pid == 4242);
  CHECK(p->ppid == 4100);
  CHECK(p->ticks == 321 + 45);
  CHECK_FALSE(ParseProcPidStat("4242 galvatron S 1").ok());
  CHECK_FALSE(ParseProcPidStat("4242 (x) S 1 2 3").ok());
}

TEST_CASE("The load is the others' share of the machine's CPU time", "[noise]") {
  CpuTimes before{true, 4, 1000, 5000, 100};
  CpuTimes after = before;
  after.total += 400;  // 4 cores for 1 s at 100 ticks/s
  after.busy += 300;
  after.own += 100;  // we used one core
  CHECK(LoadBetween(before, after) == Approx(0.5));
  after.own = before.own + 300;  // all the busy time was ours
  CHECK(LoadBetween(before, after) == 0);
  after.own = before.own;  // someone else kept three cores busy
  CHECK(LoadBetween(before, after) == Approx(0.75));
  // Tick sampling can make ours exceed the machine's: clamped.
  after.own = before.own + 500;
  CHECK(LoadBetween(before, after) == 0);
  // Unknown: a snapshot missing, or no tick in between.
  CHECK(LoadBetween(CpuTimes(), after) == kUnknownLoad);
  CHECK(LoadBetween(before, before) == kUnknownLoad);
}

TEST_CASE("The load of this machine reads as a share or as unknown", "[noise]") {
  // Whatever this machine is doing: a share in [0, 1], or unknown off Linux.
  std::unique_ptr<LoadSource> load = MakeProcLoadSource(true);
  load->Begin();
  volatile double sink = 0;
  for (int i = 0; i < 2000000; ++i) sink = sink + i;
  const double value = load->End();
  CHECK((value == kUnknownLoad || (value >= 0 && value <= 1)));
}

TEST_CASE("An attempt is noisy by its worst spread or by the load", "[noise]") {
  NoiseOptions options;  // 0.25 and 0.25
  AttemptResult quiet = Attempt(kQuiet, 0.05);
  AttemptVerdict v = JudgeAttempt(options, quiet);
  CHECK_FALSE(v.noisy);
  CHECK(v.spread == Approx(0.01));
  CHECK(v.score == Approx(0.2));  // the load's 0.05 / 0.25

  AttemptResult mixed = quiet;
  mixed.series.push_back(kNoisy);  // one series of several is enough
  v = JudgeAttempt(options, mixed);
  CHECK(v.noisy);
  CHECK(v.spread == Approx(0.9 / 1.1));

  v = JudgeAttempt(options, Attempt(kQuiet, 0.6));  // steady times, busy machine
  CHECK(v.noisy);
  CHECK(v.score == Approx(2.4));
  v = JudgeAttempt(options, Attempt(kQuiet, kUnknownLoad));  // unknown load: spread only
  CHECK_FALSE(v.noisy);
  CHECK(v.load == kUnknownLoad);

  options.spread_threshold = 1.0;
  CHECK_FALSE(JudgeAttempt(options, Attempt(kNoisy, 0.1)).noisy);
}

TEST_CASE("A noisy measurement that turns quiet is re-measured and ends unflagged", "[noise]") {
  NoiseOptions options;
  Script script;
  script.attempts = {Attempt(kNoisy, 0.1), Attempt(kQuiet, 0.1), Attempt(kNoisy, 0.1)};
  absl::StatusOr<MeasurementOutcome> outcome =
      MeasureUntilQuiet(options, "layer s=64", script.Source());
  REQUIRE(outcome.ok());
  CHECK(script.calls == 2);  // stopped at the first quiet attempt
  CHECK(outcome->attempts == 2);
  CHECK(outcome->kept == 1);
  CHECK_FALSE(outcome->noisy);
  CHECK(outcome->spread == Approx(0.01));
  CHECK(outcome->load == Approx(0.1));

  // A busy machine that calms down: the same by the load alone.
  Script busy;
  busy.attempts = {Attempt(kQuiet, 0.9), Attempt(kQuiet, 0.8), Attempt(kQuiet, 0.02)};
  outcome = MeasureUntilQuiet(options, "layer s=64", busy.Source());
  REQUIRE(outcome.ok());
  CHECK(outcome->attempts == 3);
  CHECK(outcome->kept == 2);
  CHECK_FALSE(outcome->noisy);
}

TEST_CASE("A measurement that stays noisy is flagged after the bounded attempts", "[noise]") {
  NoiseOptions options;
  options.max_remeasure = 3;
  Script script;
  // The least noisy is the third (spread 0.4; the others 0.82 and 1.5).
  script.attempts = {Attempt(kNoisy), Attempt({1, 2.5, 0.5, 3, 1}), Attempt({1, 1.4, 0.8, 1.6, 1}),
                     Attempt(kNoisy), Attempt(kQuiet)};
  absl::StatusOr<MeasurementOutcome> outcome =
      MeasureUntilQuiet(options, "layer s=64", script.Source());
  REQUIRE(outcome.ok());
  CHECK(script.calls == 4);  // 1 + max_remeasure; the quiet fifth is never reached
  CHECK(outcome->attempts == 4);
  CHECK(outcome->noisy);
  CHECK(outcome->kept == 2);
  CHECK(outcome->spread == Approx(0.4));
  CHECK(outcome->load == kUnknownLoad);

  // --max-remeasure 0 and --accept-noisy: one attempt, still flagged.
  for (bool accept : {false, true}) {
    NoiseOptions once = options;
    if (accept) {
      once.accept_noisy = true;
    } else {
      once.max_remeasure = 0;
    }
    Script again;
    again.attempts = {Attempt(kNoisy), Attempt(kQuiet)};
    outcome = MeasureUntilQuiet(once, "layer s=64", again.Source());
    REQUIRE(outcome.ok());
    CHECK(again.calls == 1);
    CHECK(outcome->attempts == 1);
    CHECK(outcome->noisy);
  }
}

TEST_CASE("Re-measuring stops when the caller's budget declines", "[noise]") {
  NoiseOptions options;
  Script script;
  script.attempts = {Attempt(kNoisy), Attempt(kNoisy), Attempt(kQuiet)};
  int asked = 0;
  auto may_retry = [&](absl::Duration) { return ++asked < 2; };
  absl::StatusOr<MeasurementOutcome> outcome =
      MeasureUntilQuiet(options, "layer s=64", script.Source(), may_retry);
  REQUIRE(outcome.ok());
  CHECK(script.calls == 2);
  CHECK(outcome->noisy);
  CHECK(outcome->attempts == 2);

  // An attempt's error ends the measurement as it is.
  auto failing = [](int i) -> absl::StatusOr<AttemptResult> {
    if (i == 0) return Attempt(kNoisy);
    return absl::DeadlineExceededError("peer gone");
  };
  CHECK(absl::IsDeadlineExceeded(MeasureUntilQuiet(options, "x", failing).status()));
}

TEST_CASE("Noise options are checked, naming the worker flag", "[noise]") {
  CHECK(ValidateNoiseOptions(NoiseOptions()).ok());
  NoiseOptions o;
  o.spread_threshold = 0;
  CHECK_THAT(std::string(ValidateNoiseOptions(o).message()), Contains("--noise-threshold: 0"));
  o = NoiseOptions();
  o.load_threshold = -1;
  CHECK_THAT(std::string(ValidateNoiseOptions(o).message()), Contains("--load-threshold: -1"));
  o = NoiseOptions();
  o.max_remeasure = -1;
  CHECK_THAT(std::string(ValidateNoiseOptions(o).message()), Contains("--max-remeasure: -1"));
}

TEST_CASE("A profile's record gathers its measurements, ranks merge theirs", "[noise]") {
  NoiseOptions options;
  QualityRecorder recorder(options);
  MeasurementOutcome quiet{0, 1, 0.03, 0.1, false};
  MeasurementOutcome noisy{2, 4, 0.41, 0.93, true};
  recorder.Add("forward/backward s=64", quiet);
  v1::MeasurementQuality clean = recorder.Quality();
  CHECK_FALSE(clean.noisy());
  CHECK(clean.spread() == Approx(0.03));
  CHECK(clean.load() == Approx(0.1));
  CHECK(clean.attempts() == 1);
  CHECK(clean.spread_threshold() == 0.25);
  CHECK(clean.load_threshold() == 0.25);
  CHECK(clean.note().empty());
  CHECK(clean.noisy_measurements().empty());

  recorder.Add("forward/backward s=128", noisy);
  v1::MeasurementQuality q = recorder.Quality();
  CHECK(q.noisy());
  CHECK(q.spread() == Approx(0.41));
  CHECK(q.load() == Approx(0.93));
  CHECK(q.attempts() == 4);
  REQUIRE(q.noisy_measurements_size() == 1);
  CHECK(q.noisy_measurements(0) ==
        "forward/backward s=128: spread 0.410 (threshold 0.25), load 0.93 (threshold 0.25) "
        "after 4 attempts");
  CHECK_THAT(q.note(), Contains("1 measurement stayed noisy: forward/backward s=128"));

  // An unknown load stays unknown.
  QualityRecorder unknown(options);
  unknown.Add("x", MeasurementOutcome{0, 1, 0.01, kUnknownLoad, false});
  CHECK(unknown.Quality().load() == kUnknownLoad);

  // Merging: the same line from two ranks of a group once; the worst figures.
  v1::MeasurementQuality merged = clean;
  MergeQuality(q, &merged);
  MergeQuality(q, &merged);
  CHECK(merged.noisy());
  CHECK(merged.attempts() == 4);
  CHECK(merged.noisy_measurements_size() == 1);
  v1::MeasurementQuality empty;
  MergeQuality(clean, &empty);  // a record without attempts takes the other's
  CHECK(empty.load() == Approx(0.1));
  // Many noisy lines: the note names three and counts the rest.
  for (int i = 0; i < 5; ++i) merged.add_noisy_measurements("t" + std::to_string(i));
  FinishQuality(&merged);
  CHECK_THAT(merged.note(), Contains("6 measurements stayed noisy") && Contains("; and 3 more"));
}

}  // namespace
}  // namespace galvatron
