// Names from the planner that become paths on this node. A task's folder is
// <work dir>/<task id> and a job's checkpoints <root>/<job id>; the ids come
// over the network, so a planner that is wrong (or not ours) could send
// "../../x" or "/etc" and have the agent write, or remove, files anywhere.
// The agent takes only ids of the form the planner makes and builds every
// path under a root through PathUnder, which refuses what escapes the root
// once normalised. Thread-safe: pure functions (PathUnder reads the file
// system to resolve symbolic links).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galvatron::agent {

// "task-<n>" and "job-<n>", n a positive decimal without leading zeros, as
// planner/service/task_board.cc and job_manager.cc make them.
bool IsPlannerTaskId(absl::string_view id);
bool IsPlannerJobId(absl::string_view id);

// INVALID_ARGUMENT "<field>: "<id>", expected task-<n> ..." unless it is one.
absl::Status CheckTaskId(absl::string_view field, const std::string& id);
absl::Status CheckJobId(absl::string_view field, const std::string& id);

// `root`/`name`, absolute and normalised, when it lies strictly inside
// `root` (after resolving the symbolic links of the parts that exist);
// INVALID_ARGUMENT naming both otherwise. `name` must be one relative path
// component or several; "", ".", ".." and absolute names are refused.
absl::StatusOr<std::string> PathUnder(const std::string& root, const std::string& name);

}  // namespace galvatron::agent
