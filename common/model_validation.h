// Validation of user-supplied specs. Every error is INVALID_ARGUMENT and names
// the field path, the value and what was expected, e.g.
//   "layers[2].heads: 0, must be >= 1".
// Thread-safe: pure functions.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron {

// Sane upper limits: a request beyond them is a mistake, not a model.
struct ModelLimits {
  static constexpr int kMaxLayerGroups = 64;
  static constexpr int kMaxLayersTotal = 4096;
  static constexpr int kMaxHidden = 131072;
  static constexpr int kMaxFfnHidden = 1048576;
  static constexpr int kMaxHeads = 1024;
  static constexpr int kMaxVocab = 4194304;
  static constexpr int kMaxSeqLen = 4194304;
  static constexpr int kMaxDescriptionBytes = 4096;
};

// Resource names (models, clusters): 1..64 characters of [a-z0-9._-],
// starting with a letter or digit. `field` is used in the error.
absl::Status ValidateName(const std::string& field, const std::string& name);

// Checks a spec as submitted by a user. Output-only fields (version,
// created_at, builtin) are ignored.
absl::Status ValidateModelSpec(const v1::ModelSpec& spec);

}  // namespace galvatron
