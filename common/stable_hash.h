// Hashes and byte encodings that must never change between builds, machines or
// processes, because their values are stored or seed computations: plan ids,
// compute-profile ids and the runtime's initial weights. std::hash promises none
// of that. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace galvatron {

// 64-bit FNV-1a (Fowler, Noll, Vo): for each byte, state = (state ^ byte) * prime.
inline constexpr uint64_t kFnv1a64OffsetBasis = 14695981039346656037ULL;
inline constexpr uint64_t kFnv1a64Prime = 1099511628211ULL;

// Folds `bytes` into `state` with FNV-1a's step. From kFnv1a64OffsetBasis this
// is the standard FNV-1a hash of `bytes`; other starting states give
// independent streams (plan ids use two) or seeded hashes (initial weights).
uint64_t Fnv1a64(absl::string_view bytes, uint64_t state = kFnv1a64OffsetBasis);

// The standard FNV-1a hash of `text` as lower-case hex, the first `hex_chars`
// digits (clamped to 1..16).
std::string Fnv1a64Hex(absl::string_view text, int hex_chars = 16);

// The message's wire bytes with deterministic serialisation (map entries
// sorted), so equal messages give equal bytes within one build. Unknown fields
// are kept.
std::string DeterministicBytes(const google::protobuf::Message& message);

}  // namespace galvatron
