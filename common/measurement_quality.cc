#include "common/measurement_quality.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace galvatron {
namespace {

// Noisy measurements named in the note; the rest are counted.
constexpr int kNoteLines = 3;

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string FormatLoad(double load) {
  return load < 0 ? std::string("unknown") : absl::StrFormat("%.2f", load);
}

// The machine's counters and our processes' CPU time, from /proc.
class ProcLoadSource final : public LoadSource {
 public:
  explicit ProcLoadSource(bool exclude_siblings) : exclude_siblings_(exclude_siblings) {}

  void Begin() override { before_ = Snapshot(&own_before_); }

  double End() override {
    std::map<int, uint64_t> own_after;
    CpuTimes after = Snapshot(&own_after);
    // Our CPU time in the window: per process, so that a sibling that
    // started or ended meanwhile counts only for what it used in it.
    uint64_t own = 0;
    for (const auto& [pid, ticks] : own_after) {
      auto it = own_before_.find(pid);
      const uint64_t start = it == own_before_.end() ? 0 : it->second;
      if (ticks >= start) own += ticks - start;
    }
    CpuTimes before = before_;
    before.own = 0;
    after.own = own;
    return LoadBetween(before, after);
  }

 private:
  // The machine's counters; `own` gets the CPU ticks of each of our processes.
  CpuTimes Snapshot(std::map<int, uint64_t>* own) const {
    own->clear();
    absl::StatusOr<CpuTimes> machine = ParseProcStat(ReadWholeFile("/proc/stat"));
    if (!machine.ok()) return CpuTimes();
    absl::StatusOr<ProcessTimes> self = ParseProcPidStat(ReadWholeFile("/proc/self/stat"));
    if (!self.ok()) return CpuTimes();
    (*own)[self->pid] = self->ticks;
    if (exclude_siblings_ && self->ppid > 1) {
      std::error_code error;
      for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
        int pid = 0;
        if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) || pid == self->pid) {
          continue;
        }
        absl::StatusOr<ProcessTimes> other =
            ParseProcPidStat(ReadWholeFile((entry.path() / "stat").string()));
        if (other.ok() && other->ppid == self->ppid) (*own)[pid] = other->ticks;
      }
    }
    return *machine;
  }

  const bool exclude_siblings_;
  CpuTimes before_;
  std::map<int, uint64_t> own_before_;
};

}  // namespace

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double position = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(values.size() - 1, below + 1);
  const double fraction = position - static_cast<double>(below);
  return values[below] + fraction * (values[above] - values[below]);
}

SpreadStats Spread(const std::vector<double>& values) {
  SpreadStats stats;
  stats.count = static_cast<int>(values.size());
  if (values.empty()) return stats;
  stats.median = Quantile(values, 0.5);
  stats.q1 = Quantile(values, 0.25);
  stats.q3 = Quantile(values, 0.75);
  if (values.size() >= 2 && stats.median > 0) {
    stats.relative_spread = (stats.q3 - stats.q1) / stats.median;
  }
  return stats;
}

absl::StatusOr<CpuTimes> ParseProcStat(absl::string_view text) {
  CpuTimes times;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.empty() || !absl::StartsWith(fields[0], "cpu")) continue;
    if (fields[0] != "cpu") {
      int index = 0;
      if (absl::SimpleAtoi(fields[0].substr(3), &index)) ++times.cores;
      continue;
    }
    // cpu user nice system idle iowait irq softirq steal [guest guest_nice]:
    // guest time is already counted in user.
    uint64_t value[8] = {};
    if (fields.size() < 5) {
      return absl::InvalidArgumentError(
          absl::StrCat("/proc/stat: \"", line, "\", expected at least four counters"));
    }
    for (size_t i = 1; i < fields.size() && i <= 8; ++i) {
      if (!absl::SimpleAtoi(fields[i], &value[i - 1])) {
        return absl::InvalidArgumentError(
            absl::StrCat("/proc/stat: \"", fields[i], "\" in \"", line, "\" is not a counter"));
      }
    }
    const uint64_t user = value[0], nice = value[1], system = value[2], idle = value[3],
                   iowait = value[4], irq = value[5], softirq = value[6], steal = value[7];
    times.busy = user + nice + system + irq + softirq + steal;
    times.total = times.busy + idle + iowait;
    found = true;
  }
  if (!found) return absl::InvalidArgumentError("/proc/stat: no \"cpu\" line");
  times.valid = true;
  return times;
}

absl::StatusOr<ProcessTimes> ParseProcPidStat(absl::string_view text) {
  // "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime stime ...": comm is the only field with spaces.
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return absl::InvalidArgumentError("/proc/<pid>/stat: no \"(comm)\"");
  }
  ProcessTimes times;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(0, open)), &times.pid)) {
    return absl::InvalidArgumentError("/proc/<pid>/stat: no pid");
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[1], &times.ppid) ||
      !absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InvalidArgumentError(
        absl::StrCat("/proc/", times.pid, "/stat: expected ppid, utime and stime"));
  }
  times.ticks = utime + stime;
  return times;
}

double LoadBetween(const CpuTimes& before, const CpuTimes& after) {
  if (!before.valid || !after.valid || after.total <= before.total || after.busy < before.busy) {
    return kUnknownLoad;
  }
  const double busy = static_cast<double>(after.busy - before.busy);
  const double own = static_cast<double>(after.own >= before.own ? after.own - before.own : 0);
  const double total = static_cast<double>(after.total - before.total);
  return std::clamp((busy - own) / total, 0.0, 1.0);
}

std::unique_ptr<LoadSource> MakeProcLoadSource(bool exclude_siblings) {
  return std::make_unique<ProcLoadSource>(exclude_siblings);
}

absl::Status ValidateNoiseOptions(const NoiseOptions& o) {
  if (!(o.spread_threshold > 0) || !std::isfinite(o.spread_threshold)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--noise-threshold: ", o.spread_threshold, ", expected a number > 0"));
  }
  if (!(o.load_threshold > 0) || !std::isfinite(o.load_threshold)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--load-threshold: ", o.load_threshold, ", expected a number > 0 (1 = every core busy)"));
  }
  if (o.max_remeasure < 0 || o.max_remeasure > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-remeasure: ", o.max_remeasure, ", expected 0..100"));
  }
  return absl::OkStatus();
}

AttemptVerdict JudgeAttempt(const NoiseOptions& options, const AttemptResult& attempt) {
  AttemptVerdict verdict;
  for (const std::vector<double>& series : attempt.series) {
    verdict.spread = std::max(verdict.spread, Spread(series).relative_spread);
  }
  verdict.load = attempt.load;
  verdict.score = verdict.spread / options.spread_threshold;
  if (attempt.load >= 0)
    verdict.score = std::max(verdict.score, attempt.load / options.load_threshold);
  verdict.noisy = verdict.spread > options.spread_threshold ||
                  (attempt.load >= 0 && attempt.load > options.load_threshold);
  return verdict;
}

absl::StatusOr<MeasurementOutcome> MeasureUntilQuiet(
    const NoiseOptions& options, const std::string& what,
    const std::function<absl::StatusOr<AttemptResult>(int attempt)>& attempt,
    const std::function<bool(absl::Duration last_attempt)>& may_retry) {
  const int max_attempts = 1 + (options.accept_noisy ? 0 : std::max(0, options.max_remeasure));
  MeasurementOutcome outcome;
  double best_score = 0;
  for (int i = 0; i < max_attempts; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<AttemptResult> result = attempt(i);
    if (!result.ok()) return result.status();
    const absl::Duration took = absl::Now() - start;
    const AttemptVerdict verdict = JudgeAttempt(options, *result);
    outcome.attempts = i + 1;
    if (i == 0 || verdict.score < best_score) {
      best_score = verdict.score;
      outcome.kept = i;
      outcome.spread = verdict.spread;
      outcome.load = verdict.load;
      outcome.noisy = verdict.noisy;
    }
    if (!verdict.noisy) break;
    if (i + 1 < max_attempts) {
      if (may_retry && !may_retry(took)) {
        spdlog::info(
            "{}: noisy (spread {:.3f}, load {}), not re-measured: the time budget is short", what,
            verdict.spread, FormatLoad(verdict.load));
        break;
      }
      spdlog::info(
          "{}: noisy (spread {:.3f}, threshold {:.3g}; load {}, threshold {:.3g}); "
          "measuring again ({} of {})",
          what, verdict.spread, options.spread_threshold, FormatLoad(verdict.load),
          options.load_threshold, i + 2, max_attempts);
    }
  }
  if (outcome.noisy) {
    spdlog::warn("noisy measurement: {}{}", DescribeNoisy(what, outcome, options),
                 options.accept_noisy ? " (--accept-noisy: not re-measured)" : "");
  }
  return outcome;
}

std::string DescribeNoisy(const std::string& what, const MeasurementOutcome& outcome,
                          const NoiseOptions& options) {
  return absl::StrFormat("%s: spread %.3f (threshold %.3g), load %s (threshold %.3g) after %d %s",
                         what, outcome.spread, options.spread_threshold, FormatLoad(outcome.load),
                         options.load_threshold, outcome.attempts,
                         outcome.attempts == 1 ? "attempt" : "attempts");
}

QualityRecorder::QualityRecorder(const NoiseOptions& options) : options_(options) {
  quality_.set_load(kUnknownLoad);
  quality_.set_spread_threshold(options.spread_threshold);
  quality_.set_load_threshold(options.load_threshold);
}

void QualityRecorder::Add(const std::string& what, const MeasurementOutcome& outcome) {
  quality_.set_spread(std::max(quality_.spread(), outcome.spread));
  quality_.set_load(std::max(quality_.load(), outcome.load));
  quality_.set_attempts(std::max(quality_.attempts(), outcome.attempts));
  if (outcome.noisy) {
    quality_.set_noisy(true);
    quality_.add_noisy_measurements(DescribeNoisy(what, outcome, options_));
  }
}

v1::MeasurementQuality QualityRecorder::Quality() const {
  v1::MeasurementQuality quality = quality_;
  FinishQuality(&quality);
  return quality;
}

void MergeQuality(const v1::MeasurementQuality& from, v1::MeasurementQuality* into) {
  if (into->attempts() == 0) {
    *into = from;
    FinishQuality(into);
    return;
  }
  if (from.attempts() == 0) return;
  into->set_noisy(into->noisy() || from.noisy());
  into->set_spread(std::max(into->spread(), from.spread()));
  into->set_load(std::max(into->load(), from.load()));
  into->set_attempts(std::max(into->attempts(), from.attempts()));
  into->set_spread_threshold(std::max(into->spread_threshold(), from.spread_threshold()));
  into->set_load_threshold(std::max(into->load_threshold(), from.load_threshold()));
  for (const std::string& line : from.noisy_measurements()) {
    if (std::find(into->noisy_measurements().begin(), into->noisy_measurements().end(), line) ==
        into->noisy_measurements().end()) {
      into->add_noisy_measurements(line);
    }
  }
  FinishQuality(into);
}

void FinishQuality(v1::MeasurementQuality* quality) {
  const int noisy = quality->noisy_measurements_size();
  if (noisy == 0) {
    quality->clear_note();
    return;
  }
  std::vector<std::string> named(
      quality->noisy_measurements().begin(),
      quality->noisy_measurements().begin() + std::min(noisy, kNoteLines));
  quality->set_note(
      absl::StrCat(noisy, noisy == 1 ? " measurement" : " measurements",
                   " stayed noisy: ", absl::StrJoin(named, "; "),
                   noisy > kNoteLines ? absl::StrCat("; and ", noisy - kNoteLines, " more") : ""));
}

}  // namespace galvatron
