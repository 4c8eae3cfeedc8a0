// The physical bounds of every measured quantity a profile may carry, named
// in one place. A value outside them is not a measurement of real hardware
// (a typo, a unit mistake, a broken probe or a hostile file), and letting it
// through gives a plan computed from infinities: a search that aborts on a
// huge allocation, a plan at a throughput no machine reaches, "needs -27 GiB
// more". The bounds are wide on purpose: they admit every machine built or
// planned (and the slow CPU clusters of the tests) and refuse only what no
// machine can be. docs/measurement.md explains each one.
//
// Checked by common/profile_validation.cc, which every way in uses: the
// planner's PutHardwareProfile and PutComputeProfile, task results,
// Galvatron's files (interop/) and the offline `galvatron-planner search`.
// Thread-safe: constants and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace galvatron::physical_bounds {

// A closed interval [min, max] of one quantity, in `unit`.
struct Range {
  double min;
  double max;
  const char* unit;  // appended to the bounds in errors ("" for none)
};

// Bus bandwidth of a collective (nccl-tests convention) and the bandwidth a
// single timed sample implies: from 1 kB/s (slower is a broken link) to
// 100 TB/s (50 times NVLink 5's 1.8 TB/s).
inline constexpr Range kBandwidthBytesPerSecond{1e3, 1e14, " bytes/s"};

// Any measured time (a collective sample, a layer's forward or backward
// pass, a fit's latency term): from 1 ns (one clock cycle of a slow core;
// the probe itself floors medians there) to one day.
inline constexpr Range kSeconds{1e-9, 86400, " s"};

// The per-byte term of an alpha-beta fit, s/byte, in absolute value:
// 1 / kBandwidthBytesPerSecond.min. Least squares over noisy samples may
// give a slightly negative slope, so its sign is free.
inline constexpr double kMaxAbsSecondsPerByte = 1e-3;

// Memory of one device: 16 MiB to 1 PiB; 0 means unknown (Galvatron's files
// do not carry it), except in a measured profile, which always knows it.
inline constexpr Range kDeviceMemoryBytes{16.0 * (1 << 20), 1125899906842624.0, " bytes"};

// Any other byte count of a profile (runtime context, parameters, model
// states, activations per sample): at most 1 PiB.
inline constexpr double kMaxBytes = 1125899906842624.0;

// Peak dense FLOP/s of one device: 1 MFLOP/s to 1 EFLOP/s (a B200 does
// about 4.5e15 in FP8); 0 means unknown.
inline constexpr Range kPeakFlops{1e6, 1e18, " FLOP/s"};

// Galvatron's overlap coefficient: how much slower computation and
// communication run while they overlap. 1 is no slowdown; above 2,
// overlapping would be slower than running one after the other, and the
// profilers report 1.0-1.5. 4 leaves room for odd machines; 0 means unknown.
inline constexpr Range kOverlapCoefficient{1, 4, ""};

// Free text a profile carries (device name, measured_by, a quality note, a
// noisy-measurement line), in bytes.
inline constexpr size_t kMaxDeviceNameBytes = 256;
inline constexpr size_t kMaxTextBytes = 4096;

// "<path>: <value>, must be between <min> and <max><unit>" (INVALID_ARGUMENT)
// unless min <= value <= max; NaN fails.
absl::Status CheckWithin(absl::string_view path, double value, const Range& range);
// As CheckWithin, but 0 (unknown) passes too.
absl::Status CheckZeroOrWithin(absl::string_view path, double value, const Range& range);
// "<path>: <n> bytes, must be <= <max> bytes" when the text is longer.
absl::Status CheckTextLength(absl::string_view path, absl::string_view text, size_t max_bytes);

}  // namespace galvatron::physical_bounds
