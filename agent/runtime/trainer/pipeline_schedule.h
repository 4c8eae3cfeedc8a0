// The order in which one pipeline stage runs its micro-batches' forward and
// backward passes:
//   GPipe: every forward, then every backward;
//   1F1B:  min(pp − stage − 1, n) forwards to fill the pipeline, then one
//          forward and one backward in turn, then the remaining backwards —
//          at most pp − stage micro-batches' activations alive at once.
// Backwards run in micro-batch order in both, so the last action is always
// the backward of micro-batch n − 1 (gradient buckets start during it).
//
// Thread-safe: pure function.
#pragma once

#include <vector>

#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

struct PipelineAction {
  bool forward = true;
  int micro_batch = 0;
  bool operator==(const PipelineAction& o) const {
    return forward == o.forward && micro_batch == o.micro_batch;
  }
};

// UNSPECIFIED means 1F1B (Galvatron's default).
std::vector<PipelineAction> StageSchedule(v1::PipelineSchedule schedule, int pp, int stage,
                                          int micro_batches);

// The most micro-batches whose activations a stage holds at once.
int PeakInFlight(const std::vector<PipelineAction>& actions);

}  // namespace galvatron::runtime
