#include "planner/cost/analytic_efficiency.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace galvatron::cost {

const std::vector<PublishedEfficiency>& PublishedEfficiencies() {
  static const std::vector<PublishedEfficiency> figures = {
      {1536, 0.300, "Megatron-LM (Shoeybi et al., 2019): 1.2B GPT-2, one V100, 39 TFLOP/s"},
      {6144, 0.415, "Megatron-LM (Korthikanti et al., 2022): 22B GPT, A100s, MFU 41.5 %"},
      {12288, 0.514, "Megatron-LM (Korthikanti et al., 2022): 175B GPT, A100s, MFU 51.4 %"},
      {20480, 0.560, "Megatron-LM (Korthikanti et al., 2022): 530B GPT, A100s, MFU 56.0 %"},
      {25600, 0.563, "Megatron-LM (Korthikanti et al., 2022): 1T GPT, A100s, MFU 56.3 %"},
  };
  return figures;
}

EfficiencyEstimate EstimatedEfficiency(int hidden) {
  const auto& f = PublishedEfficiencies();
  const double x = std::log2(std::max(hidden, 1));
  const auto at = [&](size_t i) { return std::log2(static_cast<double>(f[i].hidden)); };
  EfficiencyEstimate e;
  if (hidden <= f.front().hidden) {
    const double slope = (f[1].fraction - f[0].fraction) / (at(1) - at(0));
    e.fraction = std::max(kMinAnalyticEfficiency, f[0].fraction - slope * (at(0) - x));
    e.low = e.fraction;
    e.high = f[0].fraction;
    e.basis =
        hidden == f.front().hidden
            ? absl::StrFormat("published: %.1f %% at hidden %d", 100 * f[0].fraction, f[0].hidden)
            : absl::StrFormat(
                  "extrapolated below the smallest published figure, %.1f %% at hidden %d",
                  100 * f[0].fraction, f[0].hidden);
    return e;
  }
  if (hidden >= f.back().hidden) {
    e.fraction = e.low = e.high = f.back().fraction;
    e.basis = absl::StrFormat("the largest published figure, %.1f %% at hidden %d",
                              100 * f.back().fraction, f.back().hidden);
    return e;
  }
  size_t i = 1;
  while (f[i].hidden < hidden) ++i;
  const double t = (x - at(i - 1)) / (at(i) - at(i - 1));
  e.fraction = f[i - 1].fraction + t * (f[i].fraction - f[i - 1].fraction);
  e.low = f[i - 1].fraction;
  e.high = f[i].fraction;
  e.basis =
      absl::StrFormat("between the published %.1f %% at hidden %d and %.1f %% at %d",
                      100 * f[i - 1].fraction, f[i - 1].hidden, 100 * f[i].fraction, f[i].hidden);
  return e;
}

double MaxAnalyticEfficiency(double fixed_efficiency) {
  if (fixed_efficiency > 0) return fixed_efficiency;
  double largest = 0;
  for (const PublishedEfficiency& f : PublishedEfficiencies())
    largest = std::max(largest, f.fraction);
  return largest;
}

}  // namespace galvatron::cost
