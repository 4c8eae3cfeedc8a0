// Internal to interop/: reading and writing Galvatron's free-form JSON
// files with nlohmann::json. Every error names the input (`what`, usually a
// file path) and the key. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace galvatron::interop::internal {

// Keeps the keys in file order, as Python's dict (and so Galvatron) does.
using Json = nlohmann::ordered_json;

// Galvatron's units: MB are 2^20 bytes, ms are 10^-3 s.
inline constexpr double kBytesPerMb = 1048576.0;
inline constexpr double kMsPerSecond = 1000.0;

// Parses `text`; INVALID_ARGUMENT "<what>: not valid JSON: ..." on a syntax
// error, and unless the top level is an object.
absl::StatusOr<Json> ParseJsonObject(const std::string& text, const std::string& what);

// Reads and parses a file (NOT_FOUND when it cannot be opened).
absl::StatusOr<Json> ReadJsonObjectFile(const std::string& path);

// obj[key] as a finite number; INVALID_ARGUMENT naming what and key when it is
// missing or not a number.
absl::StatusOr<double> NumberAt(const Json& obj, const std::string& key, const std::string& what);

// A finite number value (already looked up) of `key`.
absl::StatusOr<double> NumberValue(const Json& value, const std::string& key,
                                   const std::string& what);

// Strict decimal integer: digits only, no sign or spaces, fits in int.
bool ParseDecimal(absl::string_view text, int* out);

// "1,2,4" → {1,2,4}; false on any malformed element.
bool ParseIntList(absl::string_view text, std::vector<int>* out);

// The JSON text as Galvatron's write_json_config writes it (json.dump with
// indent=4, no trailing newline).
std::string DumpLikePython(const Json& json);

// Writes `text` to `path` (atomically, common/json_file.h).
absl::Status WriteFile(const std::string& path, const std::string& text);

// Galvatron's value for one we stored as `stored` = forward(value), where
// forward is a multiplication or division by a unit factor. `approx` is the
// plain inverse; the answer is the shortest decimal that maps to `stored`
// again, so a file read and written back keeps its numbers digit for digit
// (154.203 MB/ms → bytes/s → 154.203, not 154.20299999999997).
double UnitInverse(double stored, double approx, double (*forward)(double));

// Bytes for a value in Galvatron's MB, rounded to the nearest byte.
int64_t MbToBytes(double mb);

}  // namespace galvatron::interop::internal
