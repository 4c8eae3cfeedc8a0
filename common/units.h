// Byte sizes as people write them ("36GiB", "512MB", "1.5 GiB", "1024").
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace galvatron {

// Binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB) units, case
// insensitive; a plain number is bytes. "GB" follows Galvatron's usage of
// memory_constraint and means 10^9 bytes here; use GiB for 2^30.
absl::StatusOr<int64_t> ParseBytes(const std::string& text);

// "1.50 GiB", "512.00 MiB", "17 B".
std::string FormatBytes(int64_t bytes);

}  // namespace galvatron
