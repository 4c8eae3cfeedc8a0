// Building blocks of input validation. Every error is INVALID_ARGUMENT and
// reads "<field path>: <value>, <what was expected>". Thread-safe: pure
// functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace galvatron::field_checks {

absl::Status Invalid(absl::string_view path, absl::string_view value, absl::string_view expected);

// A user string in an error: quoted, escaped, and cut short if absurdly long.
std::string Quoted(const std::string& s);

// The enum's value name, or its number when the number is not a known value.
std::string EnumValueName(const google::protobuf::EnumDescriptor* type, int value);

// Unknown numbers (possible in proto3 open enums) are always an error; the
// zero value (UNSPECIFIED) only when `required`.
absl::Status CheckEnum(absl::string_view path, const google::protobuf::EnumDescriptor* type,
                       int value, bool required);

absl::Status CheckRange(absl::string_view path, int64_t value, int64_t min, int64_t max);
absl::Status CheckAtLeast(absl::string_view path, int64_t value, int64_t min);
// "<count> <what>, must be <= max" for repeated fields.
absl::Status CheckCount(absl::string_view path, int count, int max, absl::string_view what);
absl::Status CheckFinite(absl::string_view path, double value);
absl::Status CheckNonNegativeFinite(absl::string_view path, double value);
absl::Status CheckPositiveFinite(absl::string_view path, double value);

}  // namespace galvatron::field_checks
