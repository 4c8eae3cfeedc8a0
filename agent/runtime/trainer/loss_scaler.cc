#include "agent/runtime/trainer/loss_scaler.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace galvatron::runtime {

DynamicLossScaler::DynamicLossScaler(const LossScalerOptions& options)
    : options_(options), scale_(options.initial_scale) {}

bool DynamicLossScaler::Update(bool finite) {
  if (!finite) {
    scale_ = std::max(options_.min_scale, scale_ * options_.backoff_factor);
    clean_steps_ = 0;
    ++skipped_;
    return false;
  }
  if (++clean_steps_ >= options_.growth_interval) {
    const double grown = scale_ * options_.growth_factor;
    if (std::isfinite(grown)) scale_ = grown;
    clean_steps_ = 0;
  }
  return true;
}

std::string DynamicLossScaler::Serialize() const {
  return absl::StrFormat("%.17g %d %d", scale_, clean_steps_, skipped_);
}

absl::Status DynamicLossScaler::Restore(const std::string& text, const std::string& what) {
  const std::vector<std::string> parts = absl::StrSplit(text, ' ', absl::SkipWhitespace());
  double scale = 0;
  int64_t clean = 0, skipped = 0;
  if (parts.size() != 3 || !absl::SimpleAtod(parts[0], &scale) ||
      !absl::SimpleAtoi(parts[1], &clean) || !absl::SimpleAtoi(parts[2], &skipped) ||
      !(std::isfinite(scale) && scale > 0) || clean < 0 || skipped < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", text, "\", expected \"SCALE CLEAN_STEPS SKIPPED_STEPS\""));
  }
  scale_ = scale;
  clean_steps_ = clean;
  skipped_ = skipped;
  return absl::OkStatus();
}

}  // namespace galvatron::runtime
