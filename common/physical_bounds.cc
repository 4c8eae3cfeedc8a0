#include "common/physical_bounds.h"

#include "absl/strings/str_cat.h"
#include "common/field_checks.h"

namespace galvatron::physical_bounds {

absl::Status CheckWithin(absl::string_view path, double value, const Range& range) {
  if (value >= range.min && value <= range.max) return absl::OkStatus();
  return field_checks::Invalid(
      path, absl::StrCat(value),
      absl::StrCat("must be between ", range.min, " and ", range.max, range.unit));
}

absl::Status CheckZeroOrWithin(absl::string_view path, double value, const Range& range) {
  if (value == 0 || (value >= range.min && value <= range.max)) return absl::OkStatus();
  return field_checks::Invalid(
      path, absl::StrCat(value),
      absl::StrCat("must be 0 (unknown) or between ", range.min, " and ", range.max, range.unit));
}

absl::Status CheckTextLength(absl::string_view path, absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return absl::OkStatus();
  return field_checks::Invalid(path, absl::StrCat(text.size(), " bytes"),
                               absl::StrCat("must be <= ", max_bytes, " bytes"));
}

}  // namespace galvatron::physical_bounds
