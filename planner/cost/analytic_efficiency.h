// The fraction of a device's peak FLOP/s an analytic estimate assumes a
// layer computes at, where no compute profile was measured: grounded in
// published end-to-end training measurements of GPT models by hidden size
// (larger layers run larger matrix multiplications, closer to peak), with
// the band of published figures around it as the estimate's uncertainty.
// A calibration from finished jobs scales these times like measured ones
// (planner/cost/calibration.h). Thread-safe: pure functions and constants.
#pragma once

#include <string>
#include <vector>

namespace galvatron::cost {

// One published measurement: a model of this hidden size trained at this
// fraction of the devices' peak FLOP/s, end to end.
struct PublishedEfficiency {
  int hidden = 0;
  double fraction = 0;
  const char* source = "";
};

// The figures, by increasing hidden size:
//   1536   30.0 %  Megatron-LM (Shoeybi et al., 2019): a 1.2B GPT-2 on one V100
//                  sustains 39 TFLOP/s, 30 % of peak
//   6144   41.5 %  Megatron-LM (Korthikanti et al., 2022; the Megatron-LM
//                  README's model FLOPs utilisation table, A100s): 22B GPT
//   12288  51.4 %  the same: 175B GPT
//   20480  56.0 %  the same: 530B GPT
//   25600  56.3 %  the same: 1T GPT
const std::vector<PublishedEfficiency>& PublishedEfficiencies();

struct EfficiencyEstimate {
  double fraction = 0;  // what the estimate assumes
  // The published figures around it (the nearest below and above; outside
  // the published range, the nearest published figure and the estimate).
  double low = 0;
  double high = 0;
  std::string basis;  // e.g. "between 30 % at hidden 1536 and 41.5 % at 6144 (published)"
};

// Linear in log2(hidden) between published figures; below the smallest,
// extrapolated with the slope of the first interval (smaller layers, smaller
// matrix multiplications), never below kMinAnalyticEfficiency; above the
// largest, the largest's figure.
EfficiencyEstimate EstimatedEfficiency(int hidden);

// The largest fraction an analytic time can assume under CostOptions'
// `fixed_efficiency` (0: by layer size, the largest published figure): the
// bound ApplyCalibration keeps a calibrated estimate under peak with.
double MaxAnalyticEfficiency(double fixed_efficiency);

// The floor of the extrapolation below the published range (not a
// published figure: launch-bound layers on a GPU do not get much less).
inline constexpr double kMinAnalyticEfficiency = 0.05;

}  // namespace galvatron::cost
