// A job's step metrics as a chart needs them: at most N points, each the
// mean of an equal run of steps, with the run's lowest and highest loss so
// that spikes stay visible. A job of 100,000 steps becomes a few hundred
// points on the server instead of megabytes in every browser.
//
// Thread-safe: a pure function.
#pragma once

#include <cstdint>
#include <vector>

#include "galvatron/v1/job.pb.h"
#include "nlohmann/json.hpp"

namespace galvatron::dashboard {

// What the dashboard keeps of one step (StepMetrics without its strings and
// timestamps).
struct StepPoint {
  int64_t step = 0;
  double loss = 0;
  double step_seconds = 0;
  double samples_per_second = 0;
  double tokens_per_second = 0;
  std::vector<double> stage_seconds;
};

StepPoint ToStepPoint(const v1::StepMetrics& metrics);

// The steps (in step order) in buckets of ceil(n / max_points) steps: a JSON
// array of {step (the bucket's last), loss, lossMin, lossMax, stepSeconds,
// samplesPerSecond, tokensPerSecond, stageSeconds (per stage)}. `max_points`
// < 1 counts as 1. `bucket_steps` (if not null) receives the bucket size.
nlohmann::json DownsampleSteps(const std::vector<StepPoint>& steps, int max_points,
                               int64_t* bucket_steps = nullptr);

}  // namespace galvatron::dashboard
