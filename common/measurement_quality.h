// Whether a timing can be trusted (docs/measurement.md): the relative spread
// of its timed repetitions, the machine's load while they ran, a bounded
// re-measuring loop that keeps the least noisy attempt, and the
// MeasurementQuality record a profile carries. Shared by the compute profiler
// and the interconnect probe; no LibTorch.
//
// A measurement is noisy when the interquartile range of its repetitions is
// more than `spread_threshold` of their median, or when other processes used
// more than `load_threshold` of the machine's cores while it ran.
//
// Thread-compatible: the functions are pure except ProcLoadSource, which
// reads /proc (one instance per thread).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron {

// A load that could not be read (no /proc/stat: not Linux).
inline constexpr double kUnknownLoad = -1;

// ---- The spread of repeated timings ----

// The q-quantile (0 <= q <= 1) of `values`, interpolating linearly between
// order statistics (Hyndman & Fan's type 7, the default of R and numpy).
// 0 when empty.
double Quantile(std::vector<double> values, double q);

struct SpreadStats {
  int count = 0;
  double median = 0;
  double q1 = 0;  // first quartile
  double q3 = 0;  // third quartile
  // (q3 - q1) / median; 0 with fewer than two values or a median <= 0.
  double relative_spread = 0;
};

SpreadStats Spread(const std::vector<double>& values);

// ---- The machine's load ----

// CPU time counters of the whole machine and of "our" processes, in clock
// ticks (USER_HZ), as /proc reports them.
struct CpuTimes {
  bool valid = false;
  int cores = 0;       // "cpuN" lines of /proc/stat
  uint64_t busy = 0;   // all CPUs: user + nice + system + irq + softirq + steal
  uint64_t total = 0;  // busy + idle + iowait
  uint64_t own = 0;    // ours: utime + stime of this process (and its siblings)
};

// Parses /proc/stat: the aggregate "cpu" line and the number of "cpuN" lines.
// INVALID_ARGUMENT when the "cpu" line is missing or malformed.
absl::StatusOr<CpuTimes> ParseProcStat(absl::string_view text);

struct ProcessTimes {
  int pid = 0;
  int ppid = 0;
  uint64_t ticks = 0;  // utime + stime (every thread)
};

// Parses /proc/<pid>/stat (the command name may hold spaces and parentheses).
absl::StatusOr<ProcessTimes> ParseProcPidStat(absl::string_view text);

// The share of the machine's CPU time that others used between two
// snapshots: (Δbusy − Δown) / Δtotal, clamped to [0, 1]; kUnknownLoad when
// either snapshot is invalid or no tick passed.
double LoadBetween(const CpuTimes& before, const CpuTimes& after);

// Where a measurement's load comes from: Begin() before the timed runs,
// End() after them returns the load over that window (or kUnknownLoad).
class LoadSource {
 public:
  virtual ~LoadSource() = default;
  virtual void Begin() = 0;
  virtual double End() = 0;
};

// The machine's load from /proc/stat (Linux; kUnknownLoad elsewhere). Ours
// is this process's CPU time; with `exclude_siblings` also that of the other
// children of our parent (the other probe ranks of this node, started by the
// same agent or launcher), unless the parent is init.
std::unique_ptr<LoadSource> MakeProcLoadSource(bool exclude_siblings);

// ---- Judging and re-measuring ----

struct NoiseOptions {
  // Noisy above this (q3 - q1) / median of the repetitions (docs/measurement.md
  // explains the defaults).
  double spread_threshold = 0.25;
  // Noisy above this share of the cores used by other processes.
  double load_threshold = 0.25;
  // Extra attempts at a noisy measurement; the least noisy attempt is kept.
  int max_remeasure = 3;
  // No re-measuring at all (one attempt); noisy results are still flagged.
  bool accept_noisy = false;
};

// INVALID_ARGUMENT naming the worker flag (--noise-threshold,
// --load-threshold, --max-remeasure) and its value.
absl::Status ValidateNoiseOptions(const NoiseOptions& options);

// What one attempt at a measurement produced: the timed repetitions of each
// quantity measured together (e.g. forward and backward of every micro-batch
// size, or every message size of a collective), and the load meanwhile.
struct AttemptResult {
  std::vector<std::vector<double>> series;
  double load = kUnknownLoad;
};

struct AttemptVerdict {
  double spread = 0;  // the largest relative spread of the attempt's series
  double load = kUnknownLoad;
  bool noisy = false;
  // max(spread / spread_threshold, load / load_threshold): > 1 is noisy;
  // the attempt with the lowest score is the one kept.
  double score = 0;
};

AttemptVerdict JudgeAttempt(const NoiseOptions& options, const AttemptResult& attempt);

struct MeasurementOutcome {
  int kept = 0;      // index of the attempt kept (0-based)
  int attempts = 0;  // attempts made
  double spread = 0;
  double load = kUnknownLoad;
  bool noisy = false;  // the attempt kept is noisy
};

// Measures `what` by calling `attempt(i)` for i = 0, 1, ... until an attempt
// is not noisy, `max_remeasure` attempts followed the first (none with
// accept_noisy), or `may_retry` (when given; it gets the last attempt's
// wall time) declines another. Keeps the attempt with the lowest score (the
// first of equals); the caller holds each attempt's results and uses
// `kept`. Logs each re-measurement (info) and a measurement that stays noisy
// (warn), naming `what` and the numbers. An attempt's error is returned as
// it is.
absl::StatusOr<MeasurementOutcome> MeasureUntilQuiet(
    const NoiseOptions& options, const std::string& what,
    const std::function<absl::StatusOr<AttemptResult>(int attempt)>& attempt,
    const std::function<bool(absl::Duration last_attempt)>& may_retry = nullptr);

// ---- The record a profile carries ----

// Folds the measurements of one profile into its MeasurementQuality.
class QualityRecorder {
 public:
  explicit QualityRecorder(const NoiseOptions& options);
  void Add(const std::string& what, const MeasurementOutcome& outcome);
  // The record so far (note filled in by FinishQuality).
  v1::MeasurementQuality Quality() const;

 private:
  NoiseOptions options_;
  v1::MeasurementQuality quality_;
};

// One line of noisy_measurements: "WHAT: spread S (threshold T), load L
// (threshold M) after N attempts".
std::string DescribeNoisy(const std::string& what, const MeasurementOutcome& outcome,
                          const NoiseOptions& options);

// Folds another rank's record into `into`: noisy if either is, the larger
// spread, load, attempts and thresholds, the noisy measurements of both
// (each once); then the note is rewritten. An empty `into` (no attempts)
// becomes a copy of `from`.
void MergeQuality(const v1::MeasurementQuality& from, v1::MeasurementQuality* into);

// Rewrites `quality->note` from its noisy measurements: "" when there are
// none, else "N measurement(s) stayed noisy: ...; ..." (the first few).
void FinishQuality(v1::MeasurementQuality* quality);

}  // namespace galvatron
