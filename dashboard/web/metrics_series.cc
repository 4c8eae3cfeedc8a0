#include "dashboard/web/metrics_series.h"

#include <algorithm>

namespace galvatron::dashboard {

StepPoint ToStepPoint(const v1::StepMetrics& metrics) {
  StepPoint point;
  point.step = metrics.step();
  point.loss = metrics.loss();
  point.step_seconds = metrics.step_seconds();
  point.samples_per_second = metrics.samples_per_second();
  point.tokens_per_second = metrics.tokens_per_second();
  point.stage_seconds.assign(metrics.stage_seconds().begin(), metrics.stage_seconds().end());
  return point;
}

nlohmann::json DownsampleSteps(const std::vector<StepPoint>& steps, int max_points,
                               int64_t* bucket_steps) {
  const int64_t n = static_cast<int64_t>(steps.size());
  const int64_t points = std::max<int64_t>(1, max_points);
  const int64_t bucket = std::max<int64_t>(1, (n + points - 1) / points);
  if (bucket_steps != nullptr) *bucket_steps = bucket;
  nlohmann::json out = nlohmann::json::array();
  for (int64_t begin = 0; begin < n; begin += bucket) {
    const int64_t end = std::min(n, begin + bucket);
    const double count = static_cast<double>(end - begin);
    double loss = 0, step_seconds = 0, samples = 0, tokens = 0;
    double loss_min = steps[begin].loss, loss_max = steps[begin].loss;
    std::vector<double> stages;
    for (int64_t i = begin; i < end; ++i) {
      const StepPoint& s = steps[i];
      loss += s.loss;
      loss_min = std::min(loss_min, s.loss);
      loss_max = std::max(loss_max, s.loss);
      step_seconds += s.step_seconds;
      samples += s.samples_per_second;
      tokens += s.tokens_per_second;
      if (stages.size() < s.stage_seconds.size()) stages.resize(s.stage_seconds.size(), 0.0);
      for (size_t k = 0; k < s.stage_seconds.size(); ++k) stages[k] += s.stage_seconds[k];
    }
    for (double& stage : stages) stage /= count;
    out.push_back({{"step", steps[end - 1].step},
                   {"loss", loss / count},
                   {"lossMin", loss_min},
                   {"lossMax", loss_max},
                   {"stepSeconds", step_seconds / count},
                   {"samplesPerSecond", samples / count},
                   {"tokensPerSecond", tokens / count},
                   {"stageSeconds", stages}});
  }
  return out;
}

}  // namespace galvatron::dashboard
