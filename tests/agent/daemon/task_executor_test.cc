// TaskExecutor with a stand-in worker (a shell script): the noise settings of
// a task's spec reach the worker as its flags, and a result flagged noisy is
// named in the part's final report.
#include "agent/daemon/task_executor.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace galvatron::agent {
namespace {

// Writes its arguments to "args" beside itself and, for a profile, a result
// to the path after --out: two profiles, one flagged noisy; for training, a
// store port to --port-file and 8 bytes to --export-out.
constexpr char kWorkerScript[] = R"(#!/bin/sh
echo "$@" > "$(dirname "$0")/args"
out=""
port_file=""
export_out=""
kind="$3"
while [ $# -gt 0 ]; do
  if [ "$1" = "--out" ]; then out="$2"; fi
  if [ "$1" = "--port-file" ]; then port_file="$2"; fi
  if [ "$1" = "--export-out" ]; then export_out="$2"; fi
  shift
done
if [ "$kind" = "profile" ]; then
  echo '{"profiles": [{"layerType": "block", "quality": {"noisy": true, "note": "n"}},
                      {"layerType": "head", "quality": {"noisy": false}}]}' > "$out"
fi
if [ -n "$port_file" ]; then echo 29555 > "$port_file"; fi
if [ -n "$export_out" ]; then printf 12345678 > "$export_out"; fi
exit 0
)";

struct Outcome {
  std::vector<v1::ReportTaskRequest> reports;
  std::string args;
};

// Runs `task` with work dir dir/work.
Outcome Execute(const v1::Task& task, const testing::TempDir& dir) {
  const std::string worker = dir.File("worker.sh");
  {
    std::ofstream script(worker);
    script << kWorkerScript;
  }
  REQUIRE(chmod(worker.c_str(), 0755) == 0);
  ExecutorConfig config;
  config.worker_path = worker;
  config.work_dir = dir.File("work");
  config.progress_interval = absl::Milliseconds(50);
  v1::Node node;
  node.set_name("n1");
  node.set_cpu_cores(2);
  node.add_devices()->set_kind(v1::DEVICE_KIND_CPU);
  TaskExecutor executor(config, node);
  Outcome run;
  executor.Run(
      task, 0,
      [&](v1::ReportTaskRequest request) -> absl::StatusOr<v1::ReportTaskResponse> {
        run.reports.push_back(std::move(request));
        return v1::ReportTaskResponse();
      },
      [] { return false; });
  std::ifstream args(dir.File("args"));
  std::getline(args, run.args);
  return run;
}

Outcome Execute(const v1::Task& task) {
  testing::TempDir dir;
  return Execute(task, dir);
}

v1::Task ProfileTask() {
  v1::Task task;
  task.set_id("task-1");
  task.set_kind(v1::TASK_KIND_PROFILE);
  task.set_cluster("lab");
  task.set_world_size(1);
  v1::TaskNode* part = task.add_nodes();
  part->set_node("n1");
  part->set_num_ranks(1);
  task.mutable_profile()->mutable_model()->set_name("gpt-tiny");
  return task;
}

// A one-rank training task of job-9 on n1.
v1::Task TrainTask(bool export_model) {
  v1::Task task;
  task.set_id("task-2");
  task.set_kind(v1::TASK_KIND_TRAIN);
  task.set_cluster("lab");
  task.set_world_size(1);
  v1::TaskNode* part = task.add_nodes();
  part->set_node("n1");
  part->set_num_ranks(1);
  task.mutable_train()->set_job_id("job-9");
  task.mutable_train()->mutable_training()->set_steps(2);
  task.mutable_train()->mutable_training()->set_export_safetensors(export_model);
  return task;
}

}  // namespace

TEST_CASE("A training task that exports gives rank 0 --export-out and reports the file",
          "[agent]") {
  Outcome run = Execute(TrainTask(true));
  INFO(run.args);
  CHECK_THAT(run.args, Catch::Contains("train --plan") &&
                           Catch::Contains("/work/checkpoints/job-9/model.safetensors"));
  REQUIRE_FALSE(run.reports.empty());
  const v1::ReportTaskRequest& last = run.reports.back();
  INFO(last.message());
  REQUIRE(last.state() == v1::TASK_STATE_SUCCEEDED);
  REQUIRE(last.has_exported_model());
  CHECK(last.exported_model().node() == "n1");
  CHECK_THAT(last.exported_model().path(),
             Catch::EndsWith("/work/checkpoints/job-9/model.safetensors"));
  CHECK(last.exported_model().size_bytes() == 8);
  CHECK_THAT(last.message(), Catch::Contains("exported the model to"));

  run = Execute(TrainTask(false));
  INFO(run.args);
  CHECK_THAT(run.args, !Catch::Contains("--export-out"));
  REQUIRE_FALSE(run.reports.empty());
  CHECK(run.reports.back().state() == v1::TASK_STATE_SUCCEEDED);
  CHECK_FALSE(run.reports.back().has_exported_model());
}

TEST_CASE("A task's noise settings reach the worker, a noisy result is named", "[agent]") {
  v1::Task task = ProfileTask();
  v1::ProfileTaskSpec* spec = task.mutable_profile();
  spec->set_noise_threshold(0.5);
  spec->set_load_threshold(0.4);
  spec->set_max_remeasure(1);
  spec->set_accept_noisy(true);
  Outcome run = Execute(task);
  INFO(run.args);
  CHECK_THAT(run.args, Catch::Contains("profile --model") &&
                           Catch::Contains("--noise-threshold 0.5 --load-threshold 0.4 "
                                           "--max-remeasure 1 --accept-noisy"));
  REQUIRE_FALSE(run.reports.empty());
  const v1::ReportTaskRequest& last = run.reports.back();
  INFO(last.message());
  CHECK(last.state() == v1::TASK_STATE_SUCCEEDED);
  CHECK(last.compute_size() == 2);
  CHECK_THAT(last.message(), Catch::Contains("flagged noisy: block (see each profile's quality)"));
}

TEST_CASE("Without noise settings the worker gets its defaults", "[agent]") {
  Outcome run = Execute(ProfileTask());
  INFO(run.args);
  CHECK_THAT(run.args, Catch::Contains("profile --model"));
  CHECK_THAT(run.args, !Catch::Contains("--noise-threshold") && !Catch::Contains("--load") &&
                           !Catch::Contains("--max-remeasure") && !Catch::Contains("--accept"));
  REQUIRE_FALSE(run.reports.empty());
  CHECK(run.reports.back().state() == v1::TASK_STATE_SUCCEEDED);
}

// A planner that is wrong, or not ours, names a task "../../escaped-task"
// or "/tmp/..." (or a job "../x"): the agent refuses it before it creates,
// removes or writes anything.
TEST_CASE("Task and job ids that would leave the work dir are refused", "[agent]") {
  testing::TempDir dir;
  const std::filesystem::path outside = std::filesystem::path(dir.path()).parent_path();
  const std::string absolute = dir.File("absolute-task");
  for (const std::string& id : std::vector<std::string>{"../../escaped-task", "../escaped-task",
                                                        absolute, "task-1/../../x"}) {
    INFO(id);
    v1::Task task = ProfileTask();
    task.set_id(id);
    Outcome run = Execute(task, dir);
    REQUIRE(run.reports.size() == 1);
    const v1::ReportTaskRequest& last = run.reports.back();
    CHECK(last.state() == v1::TASK_STATE_FAILED);
    CHECK_THAT(last.message(), Catch::Contains("refused: task.id: ") &&
                                   Catch::Contains("expected a planner's task id, task-<n>"));
    CHECK(run.args.empty());  // no worker ran
  }
  CHECK_FALSE(std::filesystem::exists(outside / "escaped-task"));
  CHECK_FALSE(std::filesystem::exists(dir.File("escaped-task")));
  CHECK_FALSE(std::filesystem::exists(absolute));
  CHECK_FALSE(std::filesystem::exists(dir.File("x")));

  v1::Task train = TrainTask(false);
  train.mutable_train()->set_job_id("../jobs-elsewhere");
  Outcome run = Execute(train, dir);
  REQUIRE_FALSE(run.reports.empty());
  CHECK(run.reports.back().state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(run.reports.back().message(),
             Catch::Contains("refused: train.job_id: \"../jobs-elsewhere\""));
  CHECK_FALSE(std::filesystem::exists(dir.File("work/jobs-elsewhere")));
  CHECK(run.args.empty());

  train = TrainTask(false);
  train.mutable_train()->mutable_training()->set_checkpoint_dir("relative/ckpt");
  run = Execute(train, dir);
  REQUIRE_FALSE(run.reports.empty());
  CHECK(run.reports.back().state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(run.reports.back().message(),
             Catch::Contains("train.training.checkpoint_dir: \"relative/ckpt\""));
}

}  // namespace galvatron::agent
