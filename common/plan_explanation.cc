#include "common/plan_explanation.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/units.h"

namespace galvatron::text {
namespace {

struct PerSample {
  double total = 0, compute = 0, bubble = 0, communication = 0;
};

PerSample Of(const v1::Prediction& p, int global_batch) {
  const double n = std::max(global_batch, 1);
  return {p.iteration_seconds() / n, p.breakdown().compute_seconds() / n,
          p.breakdown().bubble_seconds() / n, p.breakdown().exposed_communication_seconds() / n};
}

int64_t PeakStageBytes(const v1::Prediction& p) {
  int64_t peak = 0;
  for (const auto& s : p.stage_memory()) peak = std::max(peak, s.total_bytes());
  return peak;
}

// "+1.23 ms" / "−0.40 ms" per sample.
std::string Delta(double seconds) {
  return absl::StrFormat("%s%.3g ms", seconds >= 0 ? "+" : "-", std::fabs(seconds) * 1e3);
}

// The component that costs the runner-up most against the winner.
std::string MainReason(const PerSample& d) {
  const std::vector<std::pair<double, const char*>> parts = {
      {d.compute, "more compute per sample"},
      {d.bubble, "a larger pipeline bubble"},
      {d.communication, "more exposed communication"}};
  const auto worst = std::max_element(parts.begin(), parts.end());
  if (worst->first <= 0) return "no single component: the sum is larger";
  return worst->second;
}

}  // namespace

std::string ExplainRunnersUp(const v1::Plan& plan, int count) {
  if (plan.runners_up_size() == 0 || count <= 0) return "";
  const PerSample win = Of(plan.prediction(), plan.global_batch());
  const int64_t win_peak = PeakStageBytes(plan.prediction());
  const int64_t budget = plan.request().memory_budget_bytes();
  std::string out = absl::StrFormat(
      "why it won (per sample: %.3g ms = compute %.3g + bubble %.3g + exposed communication "
      "%.3g; fullest stage %s%s):\n",
      win.total * 1e3, win.compute * 1e3, win.bubble * 1e3, win.communication * 1e3,
      FormatBytes(win_peak), budget > 0 ? absl::StrCat(" of ", FormatBytes(budget)) : "");
  for (int i = 0; i < plan.runners_up_size() && i < count; ++i) {
    const v1::PlanSummary& r = plan.runners_up(i);
    const PerSample p = Of(r.prediction(), r.global_batch());
    const PerSample d{p.total - win.total, p.compute - win.compute, p.bubble - win.bubble,
                      p.communication - win.communication};
    const double slower = plan.prediction().samples_per_second() > 0
                              ? 100 * (1 - r.prediction().samples_per_second() /
                                               plan.prediction().samples_per_second())
                              : 0;
    const int64_t peak = PeakStageBytes(r.prediction());
    absl::StrAppend(
        &out,
        absl::StrFormat("  %d. %.4g samples/s (%.1f %% slower): %s\n", i + 1,
                        r.prediction().samples_per_second(), slower, r.description()),
        absl::StrFormat("     per sample %s: compute %s, bubble %s, exposed communication %s "
                        "— mostly %s\n",
                        Delta(d.total), Delta(d.compute), Delta(d.bubble), Delta(d.communication),
                        MainReason(d)),
        peak > 0 ? absl::StrFormat("     fullest stage %s (the winner's %s)\n", FormatBytes(peak),
                                   FormatBytes(win_peak))
                 : "");
    if (r.prediction().warnings_size() > 0) {
      absl::StrAppend(
          &out, "     its prediction breaks a physical bound: ", r.prediction().warnings(0), "\n");
    }
  }
  return out;
}

}  // namespace galvatron::text
