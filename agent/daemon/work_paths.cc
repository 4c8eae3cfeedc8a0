#include "agent/daemon/work_paths.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/field_checks.h"

namespace galvatron::agent {
namespace {

namespace fs = std::filesystem;

bool IsPlannerId(absl::string_view id, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&id, prefix)) return false;
  // 19 digits hold every int64 the planner counts with.
  if (id.empty() || id.size() > 19 || id[0] == '0') return false;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Absolute, normalised, and with the symbolic links of its existing part
// resolved.
fs::path Resolved(const fs::path& path) {
  std::error_code error;
  fs::path absolute = fs::absolute(path, error);
  if (error) absolute = path;
  fs::path canonical = fs::weakly_canonical(absolute, error);
  return (error ? absolute : canonical).lexically_normal();
}

}  // namespace

bool IsPlannerTaskId(absl::string_view id) { return IsPlannerId(id, "task-"); }
bool IsPlannerJobId(absl::string_view id) { return IsPlannerId(id, "job-"); }

absl::Status CheckTaskId(absl::string_view field, const std::string& id) {
  if (IsPlannerTaskId(id)) return absl::OkStatus();
  return field_checks::Invalid(field, field_checks::Quoted(id),
                               "expected a planner's task id, task-<n>");
}

absl::Status CheckJobId(absl::string_view field, const std::string& id) {
  if (IsPlannerJobId(id)) return absl::OkStatus();
  return field_checks::Invalid(field, field_checks::Quoted(id),
                               "expected a planner's job id, job-<n>");
}

absl::StatusOr<std::string> PathUnder(const std::string& root, const std::string& name) {
  const fs::path relative(name);
  if (name.empty() || relative.is_absolute() || relative.has_root_name()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_checks::Quoted(name), ": not a relative path under ", root));
  }
  const fs::path base = Resolved(root);
  const fs::path joined = Resolved(base / relative);
  // Inside means: reached from base by going down only.
  const fs::path from_base = joined.lexically_relative(base);
  const bool inside = !from_base.empty() && from_base != "." && *from_base.begin() != "..";
  if (!inside) {
    return absl::InvalidArgumentError(absl::StrCat(field_checks::Quoted(name), " resolves to ",
                                                   joined.string(), ", outside ", base.string()));
  }
  return joined.string();
}

}  // namespace galvatron::agent
