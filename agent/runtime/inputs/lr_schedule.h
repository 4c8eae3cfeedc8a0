// The learning-rate schedule of training: linear warm-up from 0 to the peak,
// then cosine decay to the floor at the last step, then the floor
// (Megatron-LM's and nanoGPT's schedule). Pure and thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace galvatron::runtime {

struct LrSchedule {
  double peak = 3e-4;
  double floor = 3e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;  // the step where decay reaches `floor`

  // INVALID_ARGUMENT naming the field: peak >= floor >= 0, 0 <= warmup <=
  // total, total >= 1, all finite.
  absl::Status Validate() const;
  // The rate of step `step` (1-based: the first optimizer step is 1).
  double At(int64_t step) const;
};

}  // namespace galvatron::runtime
