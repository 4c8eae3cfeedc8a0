// Dynamic loss scaling (Micikevicius et al. 2018, "Mixed Precision
// Training"; PyTorch's GradScaler and Megatron's DynamicGradScaler behave
// alike): the loss is multiplied by a scale S before backward so that small
// float16 gradients do not flush to zero; after the gradients are synchronised
// they are divided by S again. A step whose gradients hold an inf or a NaN is
// skipped (no parameter changes) and S is halved; after `growth_interval`
// clean steps in a row S doubles. S stays a power of two, so scaling and
// unscaling are exact in binary floating point unless a value overflows.
//
// Every rank sees the same verdict: the inf/NaN test is on the global
// gradient norm, which is a sum over the world (clip_grads.h).
//
// Thread model: the training thread; a value type.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace galvatron::runtime {

struct LossScalerOptions {
  double initial_scale = 65536;  // 2^16, PyTorch's and Megatron's default
  double growth_factor = 2;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // clean steps before the scale grows
  double min_scale = 1;            // never below (Megatron's min_loss_scale)
};

class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(const LossScalerOptions& options = {});

  double scale() const { return scale_; }
  int64_t clean_steps() const { return clean_steps_; }
  int64_t skipped_steps() const { return skipped_; }

  // After a step's gradients were checked: false when they were not finite
  // (the step must be skipped; the scale backs off), true otherwise (it may
  // grow). `finite` is the same on every rank.
  bool Update(bool finite);

  // "scale clean_steps skipped" (%.17g), what a checkpoint keeps, and back.
  std::string Serialize() const;
  // INVALID_ARGUMENT naming `what` for a malformed or non-positive state.
  absl::Status Restore(const std::string& text, const std::string& what);

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t clean_steps_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace galvatron::runtime
