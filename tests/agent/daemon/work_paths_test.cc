// The ids the agent takes from the planner and the paths it builds from
// them: only the planner's own id forms, and nothing that leaves its root.
#include "agent/daemon/work_paths.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/support/test_support.h"

namespace galvatron::agent {
namespace {

TEST_CASE("Only the planner's task and job ids pass", "[agent]") {
  for (const char* id : {"task-1", "task-17", "task-9223372036854775807"}) {
    INFO(id);
    CHECK(IsPlannerTaskId(id));
    CHECK(CheckTaskId("task.id", id).ok());
  }
  CHECK(IsPlannerJobId("job-3"));
  for (const char* id :
       {"", "task-", "task-0", "task-01", "task--1", "task-1/..", "../task-1", "../../escaped-task",
        "/etc", "task-1 ", "Task-1", "job-1", "task-12345678901234567890"}) {
    INFO(id);
    CHECK_FALSE(IsPlannerTaskId(id));
  }
  CHECK_FALSE(IsPlannerJobId("task-1"));
  CHECK_FALSE(IsPlannerJobId("job-../x"));
  const absl::Status status = CheckTaskId("task.id", "../../escaped-task");
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(status.message()) ==
        "task.id: \"../../escaped-task\", expected a planner's task id, task-<n>");
}

TEST_CASE("PathUnder keeps paths inside their root", "[agent]") {
  testing::TempDir dir;
  const std::string root = dir.File("work");
  std::filesystem::create_directories(root);
  const std::string canonical_root = std::filesystem::canonical(root).string();

  absl::StatusOr<std::string> inside = PathUnder(root, "task-1");
  REQUIRE(inside.ok());
  CHECK(*inside == canonical_root + "/task-1");
  CHECK(PathUnder(root, "checkpoints/job-2").ok());
  CHECK(PathUnder(root, "a/../task-2").ok());

  for (const char* name : {"", ".", "..", "../escaped", "../../escaped-task", "/etc", "/tmp/x",
                           "a/../..", "task-1/../../x"}) {
    INFO(name);
    absl::StatusOr<std::string> path = PathUnder(root, name);
    CHECK(path.status().code() == absl::StatusCode::kInvalidArgument);
  }

  // A symbolic link inside the root that points out of it does not count
  // as inside.
  REQUIRE(symlink(dir.path().c_str(), (root + "/out").c_str()) == 0);
  CHECK_FALSE(PathUnder(root, "out/task-1").ok());
}

}  // namespace
}  // namespace galvatron::agent
