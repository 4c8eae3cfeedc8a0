#include "common/field_checks.h"

#include <cmath>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace galvatron::field_checks {

absl::Status Invalid(absl::string_view path, absl::string_view value, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", value, ", ", expected));
}

std::string Quoted(const std::string& s) {
  constexpr size_t kMaxShown = 80;
  if (s.size() <= kMaxShown) return absl::StrCat("\"", absl::CEscape(s), "\"");
  return absl::StrCat("\"", absl::CEscape(s.substr(0, kMaxShown)), "...\" (", s.size(),
                      " characters)");
}

std::string EnumValueName(const google::protobuf::EnumDescriptor* type, int value) {
  const auto* v = type->FindValueByNumber(value);
  return v != nullptr ? v->name() : absl::StrCat(value);
}

absl::Status CheckEnum(absl::string_view path, const google::protobuf::EnumDescriptor* type,
                       int value, bool required) {
  if (type->FindValueByNumber(value) == nullptr) {
    std::vector<std::string> names;
    for (int i = 0; i < type->value_count(); ++i) names.push_back(type->value(i)->name());
    return Invalid(path, absl::StrCat(value),
                   absl::StrCat("must be one of ", absl::StrJoin(names, ", ")));
  }
  if (required && value == 0) return Invalid(path, EnumValueName(type, value), "must be set");
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view path, int64_t value, int64_t min, int64_t max) {
  if (value < min) return Invalid(path, absl::StrCat(value), absl::StrCat("must be >= ", min));
  if (value > max) return Invalid(path, absl::StrCat(value), absl::StrCat("must be <= ", max));
  return absl::OkStatus();
}

absl::Status CheckAtLeast(absl::string_view path, int64_t value, int64_t min) {
  if (value < min) return Invalid(path, absl::StrCat(value), absl::StrCat("must be >= ", min));
  return absl::OkStatus();
}

absl::Status CheckCount(absl::string_view path, int count, int max, absl::string_view what) {
  if (count <= max) return absl::OkStatus();
  return Invalid(path, absl::StrCat(count, " ", what), absl::StrCat("must be <= ", max));
}

absl::Status CheckFinite(absl::string_view path, double value) {
  if (!std::isfinite(value)) return Invalid(path, absl::StrCat(value), "must be finite");
  return absl::OkStatus();
}

absl::Status CheckNonNegativeFinite(absl::string_view path, double value) {
  if (!(value >= 0)) return Invalid(path, absl::StrCat(value), "must be >= 0");
  return CheckFinite(path, value);
}

absl::Status CheckPositiveFinite(absl::string_view path, double value) {
  if (!(value > 0)) return Invalid(path, absl::StrCat(value), "must be > 0");
  return CheckFinite(path, value);
}

}  // namespace galvatron::field_checks
