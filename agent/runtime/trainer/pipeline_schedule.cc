#include "agent/runtime/trainer/pipeline_schedule.h"

#include <algorithm>

namespace galvatron::runtime {

std::vector<PipelineAction> StageSchedule(v1::PipelineSchedule schedule, int pp, int stage,
                                          int micro_batches) {
  std::vector<PipelineAction> actions;
  const int n = micro_batches;
  if (schedule == v1::PIPELINE_SCHEDULE_GPIPE || pp <= 1) {
    for (int i = 0; i < n; ++i) actions.push_back({true, i});
    for (int i = 0; i < n; ++i) actions.push_back({false, i});
    return actions;
  }
  const int warmup = std::min(std::max(pp - stage - 1, 0), n);
  int forward = 0, backward = 0;
  for (; forward < warmup; ++forward) actions.push_back({true, forward});
  while (forward < n) {
    actions.push_back({true, forward++});
    actions.push_back({false, backward++});
  }
  while (backward < n) actions.push_back({false, backward++});
  return actions;
}

int PeakInFlight(const std::vector<PipelineAction>& actions) {
  int alive = 0, peak = 0;
  for (const PipelineAction& a : actions) {
    alive += a.forward ? 1 : -1;
    peak = std::max(peak, alive);
  }
  return peak;
}

}  // namespace galvatron::runtime
