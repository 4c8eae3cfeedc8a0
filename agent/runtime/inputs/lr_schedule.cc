#include "agent/runtime/inputs/lr_schedule.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace galvatron::runtime {

absl::Status LrSchedule::Validate() const {
  if (!std::isfinite(peak) || !std::isfinite(floor) || floor < 0 || peak < floor) {
    return absl::InvalidArgumentError(
        absl::StrCat("lr: peak ", peak, ", floor ", floor, ", expected peak >= floor >= 0"));
  }
  if (total_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("lr: total_steps ", total_steps, ", expected >= 1"));
  }
  if (warmup_steps < 0 || warmup_steps > total_steps) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lr: warmup_steps ", warmup_steps, ", expected 0..total_steps (", total_steps, ")"));
  }
  return absl::OkStatus();
}

double LrSchedule::At(int64_t step) const {
  if (step < 1) return 0;
  if (step <= warmup_steps) {
    return peak * static_cast<double>(step) / static_cast<double>(warmup_steps);
  }
  if (step >= total_steps) return total_steps > warmup_steps ? floor : peak;
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  constexpr double kPi = 3.14159265358979323846;
  return floor + 0.5 * (peak - floor) * (1 + std::cos(kPi * progress));
}

}  // namespace galvatron::runtime
