#include "interop/galvatron_json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/json_file.h"
#include "common/status_macros.h"

namespace galvatron::interop::internal {

absl::StatusOr<Json> ParseJsonObject(const std::string& text, const std::string& what) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number beyond a double (1e999).
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON: ", e.what()));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the top level must be a JSON object, not ", json.type_name()));
  }
  return json;
}

absl::StatusOr<Json> ReadJsonObjectFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  return ParseJsonObject(text, path);
}

absl::StatusOr<double> NumberValue(const Json& value, const std::string& key,
                                   const std::string& what) {
  if (!value.is_number()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": key \"", key, "\" must be a number, not ", value.type_name(), " ", value.dump()));
  }
  const double v = value.get<double>();
  if (!std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": key \"", key, "\" must be finite, not ", v));
  }
  return v;
}

absl::StatusOr<double> NumberAt(const Json& obj, const std::string& key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing key \"", key, "\""));
  }
  return NumberValue(*it, key, what);
}

bool ParseDecimal(absl::string_view text, int* out) {
  if (text.empty() || text.size() > 9) return false;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool ParseIntList(absl::string_view text, std::vector<int>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int v = 0;
    // Python's int() (Galvatron's str2array) ignores surrounding spaces.
    if (!ParseDecimal(absl::StripAsciiWhitespace(part), &v)) return false;
    out->push_back(v);
  }
  return true;
}

std::string DumpLikePython(const Json& json) { return json.dump(4, ' ', /*ensure_ascii=*/true); }

absl::Status WriteFile(const std::string& path, const std::string& text) {
  return WriteTextFile(path, text);
}

double UnitInverse(double stored, double approx, double (*forward)(double)) {
  if (!std::isfinite(approx)) return approx;
  char buffer[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", digits, approx);
    const double candidate = std::strtod(buffer, nullptr);
    if (forward(candidate) == stored) return candidate;
  }
  return approx;
}

int64_t MbToBytes(double mb) { return std::llround(mb * kBytesPerMb); }

}  // namespace galvatron::interop::internal
