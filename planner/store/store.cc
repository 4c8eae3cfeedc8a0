#include "planner/store/store.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace galvatron::store {

const char* TableName(Table table) {
  switch (table) {
    case Table::kModels:
      return "models";
    case Table::kHardwareProfiles:
      return "hardware_profiles";
    case Table::kComputeProfiles:
      return "compute_profiles";
    case Table::kPlans:
      return "plans";
    case Table::kNodes:
      return "nodes";
    case Table::kTasks:
      return "tasks";
    case Table::kJobs:
      return "jobs";
    case Table::kJobMetrics:
      return "job_metrics";
    case Table::kCalibrations:
      return "calibrations";
  }
  return "unknown_table";
}

absl::Status ValidateTable(Table table) {
  switch (table) {
    case Table::kModels:
    case Table::kHardwareProfiles:
    case Table::kComputeProfiles:
    case Table::kPlans:
    case Table::kNodes:
    case Table::kTasks:
    case Table::kJobs:
    case Table::kJobMetrics:
    case Table::kCalibrations:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("table: unknown value ", static_cast<int>(table)));
}

absl::Status ValidateNewRow(Table table, const NewRow& row) {
  if (absl::Status status = ValidateTable(table); !status.ok()) return status;
  if (row.key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(TableName(table), ": key must not be empty"));
  }
  if (row.id_prefix.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(TableName(table), ": id_prefix must not be empty (key \"", row.key, "\")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateListOptions(Table table, const ListOptions& options) {
  if (absl::Status status = ValidateTable(table); !status.ok()) return status;
  if (options.limit < 1 || options.limit > kMaxListLimit) {
    return absl::InvalidArgumentError(absl::StrCat(TableName(table), ": limit must be in 1..",
                                                   kMaxListLimit, ", got ", options.limit));
  }
  return absl::OkStatus();
}

}  // namespace galvatron::store
