// Validation of hardware and compute profiles submitted by users or agents.
// Errors are INVALID_ARGUMENT naming the field path, the value and what was
// expected ("collectives[3].samples[0].seconds: -1, must be > 0").
// Thread-safe: pure functions.
#pragma once

#include "absl/status/status.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron {

struct ProfileLimits {
  static constexpr int kMaxNodes = 65536;
  static constexpr int kMaxDevicesPerNode = 1024;
  static constexpr int kMaxCollectiveTables = 4096;
  static constexpr int kMaxSamplesPerTable = 4096;
  static constexpr int kMaxTimeSamples = 65536;
  static constexpr int kMaxActivationEntries = 4096;
};

// Output-only fields (id, version, created_at) are ignored.
absl::Status ValidateHardwareProfile(const v1::HardwareProfile& profile);
absl::Status ValidateComputeProfile(const v1::ComputeProfile& profile);

}  // namespace galvatron
