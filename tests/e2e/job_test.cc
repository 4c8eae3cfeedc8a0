// Jobs end to end on loopback: a planner, two galvatron-agent processes of
// two CPU devices each ("nodes" n1 and n2) and the galvatron-worker train
// processes they start, driven through the JobService by a real gRPC
// client. A 4-rank job with a plan of pp 2 and tp 2 reaches SUCCEEDED and
// trains exactly as `galvatron-worker launch` does with the same plan
// (float64, losses equal step by step); a worker killed mid-run is relaunched
// from the latest complete checkpoint and the job still trains exactly as an
// uninterrupted run; a planner killed and restarted mid-job loses nothing
// (every step once); a job cancelled while it runs ends CANCELLED with no
// worker left; an agent lost mid-job fails the job and the other node's
// workers stop.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/agents.h"
#include "tests/support/job_client.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::ChildProcess;
using testing::JobClient;
using testing::Slurp;
using testing::StartAgent;

constexpr auto kDeadline = std::chrono::seconds(30);

// pp 2 × tp 2 over 4 ranks: each stage's tensor-parallel pair on one node.
v1::Plan Pp2Tp2(const testing::TempDir& dir) {
  testing::PlanShape shape;
  shape.world = 4;
  shape.pp = 2;
  for (testing::Layer& layer : shape.layers) layer.tp = 2;
  shape.embedding.tp = 2;
  v1::Plan plan;
  REQUIRE(ReadJsonFile(testing::WritePlan(dir, "pp2-tp2.json", shape), &plan).ok());
  return plan;
}

v1::SubmitJobRequest JobRequest(const v1::Plan& plan, int steps) {
  v1::SubmitJobRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("test");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  *request.mutable_plan() = plan;
  request.mutable_training()->set_steps(steps);
  request.mutable_training()->set_dtype("float64");
  request.mutable_training()->set_seed(7);
  return request;
}

// Losses of `steps` float64 steps of the plan through the launcher.
std::vector<v1::StepMetrics> Launched(const testing::TempDir& dir, const std::string& plan_file,
                                      int steps, const std::string& name) {
  testing::CommandResult launched = testing::RunCommand(
      {testing::Worker(), "launch",      "--nproc", "4",        "--",        "train",
       "--plan",          plan_file,     "--model", "gpt-tiny", "--steps",   std::to_string(steps),
       "--dtype",         "float64",     "--seed",  "7",        "--threads", "1",
       "--metrics-out",   dir.File(name)},
      std::chrono::seconds(300));
  INFO(launched.err);
  REQUIRE(launched.exit_code == 0);
  return testing::ReadMetrics(dir.File(name));
}

std::string AgentLogs(const testing::TempDir& dir) {
  return "n1:\n" + Slurp(dir.File("agent-n1.log")) + "\nn2:\n" + Slurp(dir.File("agent-n2.log"));
}

}  // namespace

TEST_CASE("A 4-rank job with pp 2 and tp 2 on two agents trains exactly as launch does",
          "[e2e][jobs]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  JobClient client(planner.address());
  auto n1 = StartAgent(dir, planner.address(), "n1", 2);
  auto n2 = StartAgent(dir, planner.address(), "n2", 2);
  REQUIRE(testing::WaitFor([&] { return client.AliveNodes() == 2; }, kDeadline));

  const v1::Plan plan = Pp2Tp2(dir);
  v1::SubmitJobRequest request = JobRequest(plan, 4);
  request.mutable_training()->set_checkpoint_every(2);
  const v1::Job submitted = client.Submit(request);
  CHECK(submitted.id() == "job-1");
  CHECK(submitted.state() == v1::JOB_STATE_PENDING);
  CHECK_THAT(submitted.plan_id(), Catch::StartsWith("plan-given-"));

  const v1::Job job = client.WaitEnd(submitted.id(), std::chrono::seconds(240));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(AgentLogs(dir));
  INFO(planner.Log());
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  // Every transition stored with its reason, in order.
  std::vector<v1::JobState> states;
  for (const v1::JobTransition& t : job.transitions()) {
    states.push_back(t.state());
    CHECK_FALSE(t.reason().empty());
  }
  CHECK(states == std::vector<v1::JobState>{v1::JOB_STATE_PENDING, v1::JOB_STATE_PLANNED,
                                            v1::JOB_STATE_LAUNCHING, v1::JOB_STATE_RUNNING,
                                            v1::JOB_STATE_SUCCEEDED});
  // Ranks 0-1 on n1, 2-3 on n2: each stage (and its tp pair) on one node.
  REQUIRE(job.ranks_size() == 4);
  for (int rank = 0; rank < 4; ++rank) {
    CHECK(job.ranks(rank).rank() == rank);
    CHECK(job.ranks(rank).node() == (rank < 2 ? "n1" : "n2"));
    CHECK(job.ranks(rank).device_index() == rank % 2);
  }
  CHECK(job.world_size() == 4);
  CHECK(job.steps_done() == 4);
  CHECK(job.checkpoint().complete());
  CHECK(job.checkpoint().step() == 4);
  CHECK(job.checkpoint().ranks_written_size() == 4);
  CHECK(job.step_time().measured_seconds() > 0);
  CHECK(job.step_time().measured_stage_seconds_size() == 2);
  CHECK_THAT(job.message(), Catch::Contains("checkpoint step 4"));
  // No shared filesystem: each node holds its own ranks' shards.
  CHECK(std::filesystem::exists(dir.File("work-n1/checkpoints/job-1/step-4/rank-0.pt")));
  CHECK(std::filesystem::exists(dir.File("work-n2/checkpoints/job-1/step-4/rank-3.pt")));
  CHECK_FALSE(std::filesystem::exists(dir.File("work-n1/checkpoints/job-1/step-4/rank-3.pt")));

  const std::vector<v1::StepMetrics> metrics = client.Metrics(job.id());
  REQUIRE(metrics.size() == 4);
  for (size_t i = 0; i < metrics.size(); ++i) {
    CHECK(metrics[i].step() == static_cast<int64_t>(i + 1));
    CHECK(metrics[i].job_id() == job.id());
  }
  CHECK(job.last_metrics().step() == 4);
  CHECK(job.last_metrics().loss() == metrics.back().loss());

  // The CLI against the real planner: wait's exit code, show, one line per
  // step, global flags after the subcommand.
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {testing::BinDir() + "/galvatron", "--planner", planner.address()});
    return testing::RunCommand(args, std::chrono::seconds(60));
  };
  testing::CommandResult waited = cli({"jobs", "wait", "job-1"});
  CHECK(waited.exit_code == 0);
  testing::CommandResult shown = cli({"jobs", "show", "job-1"});
  INFO(shown.err);
  CHECK(shown.exit_code == 0);
  CHECK_THAT(shown.out, Catch::Contains("job-1") && Catch::Contains("succeeded") &&
                            Catch::Contains(job.plan_id()));
  testing::CommandResult steps = cli({"jobs", "metrics", "job-1", "--json"});
  CHECK(steps.exit_code == 0);
  CHECK(std::count(steps.out.begin(), steps.out.end(), '\n') == 4);
  CHECK(cli({"jobs", "list", "--state", "succeeded"}).out.find("job-1") != std::string::npos);

  const v1::GetJobLogsResponse logs = client.Logs(job.id(), 3);
  REQUIRE(logs.logs_size() == 1);
  CHECK(logs.logs(0).rank() == 3);
  CHECK(logs.logs(0).node() == "n2");

  // The same plan through the launcher, on this machine, one thread per rank
  // as the agents give them (2 cores / 2 ranks per node).
  const std::vector<v1::StepMetrics> reference =
      Launched(dir, dir.File("pp2-tp2.json"), 4, "launch-metrics.jsonl");
  REQUIRE(reference.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    INFO("step " << i + 1);
    CHECK(metrics[i].loss() == reference[i].loss());
    CHECK(metrics[i].grad_norm() == reference[i].grad_norm());
  }

  n1->Signal(SIGTERM);
  n2->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
  CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("A job without a plan has the agents measure the cluster and then plans and trains",
          "[e2e][jobs]") {
  testing::TempDir dir;
  // Two cores run four ranks here: whatever the step times' spread, the job
  // counts for the calibration.
  testing::PlannerProcess planner(
      dir.File("planner.db"), dir.path(),
      {"--heartbeat-interval-ms", "200", "--calibration-max-spread", "1000"});
  JobClient client(planner.address());
  auto n1 = StartAgent(dir, planner.address(), "n1", 2);
  auto n2 = StartAgent(dir, planner.address(), "n2", 2);
  REQUIRE(testing::WaitFor([&] { return client.AliveNodes() == 2; }, kDeadline));

  v1::SubmitJobRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("test");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  request.set_global_batch(8);
  request.mutable_training()->set_steps(6);
  const v1::Job job = client.WaitEnd(client.Submit(request).id(), std::chrono::seconds(600));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(AgentLogs(dir));
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  std::vector<v1::JobState> states;
  for (const v1::JobTransition& t : job.transitions()) states.push_back(t.state());
  CHECK(states == std::vector<v1::JobState>{v1::JOB_STATE_PENDING, v1::JOB_STATE_PROFILING,
                                            v1::JOB_STATE_PLANNED, v1::JOB_STATE_LAUNCHING,
                                            v1::JOB_STATE_RUNNING, v1::JOB_STATE_SUCCEEDED});
  CHECK(job.task_ids_size() >= 2);  // a probe and a profile task
  CHECK_THAT(job.plan_id(), Catch::StartsWith("plan-"));
  CHECK(job.world_size() == 4);
  CHECK(job.step_time().predicted_seconds() > 0);
  CHECK(job.steps_done() == 6);
  CHECK(job.step_time().steps_measured() == 5);  // after the first (warm-up) step

  // The finished job calibrated the cluster's cost model, and the next plan
  // for the same request uses it: another plan id, the calibration named,
  // the uncalibrated prediction beside the calibrated one.
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {testing::BinDir() + "/galvatron", "--planner", planner.address()});
    return testing::RunCommand(args, std::chrono::seconds(120));
  };
  testing::CommandResult calibration = cli({"calibration", "show", "test", "--json"});
  INFO(calibration.err);
  INFO(planner.Log());
  REQUIRE(calibration.exit_code == 0);
  v1::Calibration stored;
  REQUIRE(JsonToMessage(calibration.out, "calibration", &stored).ok());
  CHECK(stored.id() == "cal-test-1");
  REQUIRE(stored.samples_size() == 1);
  CHECK(stored.samples(0).job_id() == job.id());
  CHECK(stored.samples(0).plan_id() == job.plan_id());
  CHECK(stored.samples(0).used());
  CHECK(stored.samples(0).measured_seconds() == job.step_time().measured_seconds());
  CHECK(stored.samples_used() == 1);
  // The job's ranks reported their waits for communication; the sample
  // carries the medians, and the fit learns the parts from them: its linear
  // model reproduces the job's step time far better than the profiles did.
  REQUIRE(job.step_time().waits_measured());
  CHECK(job.step_time().measured_communication_wait_seconds() +
            job.step_time().measured_sync_wait_seconds() <
        job.step_time().measured_seconds());
  CHECK(stored.samples(0).waits_measured());
  CHECK(stored.samples(0).measured_communication_seconds() ==
        job.step_time().measured_communication_wait_seconds());
  CHECK(stored.samples(0).measured_sync_seconds() == job.step_time().measured_sync_wait_seconds());
  CHECK(stored.fitted_error() < 0.1);
  CHECK(stored.fitted_error() < stored.raw_error());
  const std::vector<std::string> plan_args = {"plan",      "--model",        "gpt-tiny",
                                              "--cluster", "test",           "--memory",
                                              "4GiB",      "--global-batch", "8"};
  std::vector<std::string> args = plan_args;
  args.push_back("--json");
  testing::CommandResult planned = cli(args);
  INFO(planned.err);
  REQUIRE(planned.exit_code == 0);
  v1::Plan calibrated;
  REQUIRE(JsonToMessage(planned.out, "plan", &calibrated).ok());
  CHECK(calibrated.id() != job.plan_id());
  CHECK(calibrated.calibration().id() == "cal-test-1");
  CHECK(calibrated.raw_prediction().iteration_seconds() > 0);
  args.push_back("--uncalibrated");
  planned = cli(args);
  REQUIRE(planned.exit_code == 0);
  v1::Plan uncalibrated;
  REQUIRE(JsonToMessage(planned.out, "plan", &uncalibrated).ok());
  CHECK_FALSE(uncalibrated.has_calibration());
  CHECK(uncalibrated.id() != calibrated.id());
  // The same search as the job's own plan, from the profiles alone.
  CHECK(uncalibrated.prediction().iteration_seconds() ==
        Approx(job.step_time().predicted_seconds()).epsilon(1e-12));
  testing::CommandResult shown = cli({"plans", "show", calibrated.id()});
  CHECK_THAT(shown.out,
             Catch::Contains("calibrated:   by cal-test-1") && Catch::Contains("uncalibrated: "));

  n1->Signal(SIGTERM);
  n2->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
  CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("A killed worker is relaunched from the latest complete checkpoint", "[e2e][jobs]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  JobClient client(planner.address());
  auto n1 = StartAgent(dir, planner.address(), "n1", 2);
  auto n2 = StartAgent(dir, planner.address(), "n2", 2);
  REQUIRE(testing::WaitFor([&] { return client.AliveNodes() == 2; }, kDeadline));

  constexpr int kSteps = 60;
  v1::SubmitJobRequest request = JobRequest(Pp2Tp2(dir), kSteps);
  request.mutable_training()->set_checkpoint_every(5);
  request.mutable_training()->set_max_restarts(1);
  const v1::Job submitted = client.Submit(request);
  // Once a checkpoint is complete and a later step ran, kill rank 2 (on n2).
  REQUIRE(testing::WaitFor(
      [&] {
        const v1::Job job = client.Get(submitted.id());
        return job.checkpoint().complete() && job.steps_done() > job.checkpoint().step();
      },
      std::chrono::seconds(120)));
  const pid_t victim = testing::TrainWorkerPid(dir.File("work-n2"), 2);
  REQUIRE(victim > 0);
  REQUIRE(kill(victim, SIGKILL) == 0);

  const v1::Job job = client.WaitEnd(submitted.id(), std::chrono::seconds(300));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(AgentLogs(dir));
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(job.attempt() == 1);
  // The relaunch says why and from where; the record's failure is cleared
  // by the attempt that succeeded.
  std::string relaunch;
  for (const v1::JobTransition& t : job.transitions()) {
    if (t.state() == v1::JOB_STATE_PLANNED && t.reason().find("relaunching") != std::string::npos) {
      relaunch = t.reason();
    }
  }
  CHECK_THAT(relaunch, Catch::Contains("rank 2 on n2") && Catch::Contains("signal 9") &&
                           Catch::Contains("from checkpoint step"));
  CHECK(job.failure().exit_status().empty());
  // Every step once, equal to an uninterrupted run bit for bit.
  const std::vector<v1::StepMetrics> metrics = client.Metrics(job.id());
  const std::vector<v1::StepMetrics> reference =
      Launched(dir, dir.File("pp2-tp2.json"), kSteps, "uninterrupted.jsonl");
  REQUIRE(metrics.size() == kSteps);
  REQUIRE(reference.size() == kSteps);
  for (int i = 0; i < kSteps; ++i) {
    INFO("step " << i + 1);
    CHECK(metrics[i].step() == i + 1);
    CHECK(metrics[i].loss() == reference[i].loss());
  }
  n1->Signal(SIGTERM);
  n2->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
  CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("A planner killed and restarted mid-job loses nothing", "[e2e][jobs]") {
  testing::TempDir dir;
  auto planner = std::make_unique<testing::PlannerProcess>(
      dir.File("planner.db"), dir.path(),
      std::vector<std::string>{"--heartbeat-interval-ms", "200"});
  const std::string address = planner->address();
  JobClient client(address);
  auto n1 = StartAgent(dir, address, "n1", 2);
  auto n2 = StartAgent(dir, address, "n2", 2);
  REQUIRE(testing::WaitFor([&] { return client.AliveNodes() == 2; }, kDeadline));

  constexpr int kSteps = 40;
  const v1::Job submitted = client.Submit(JobRequest(Pp2Tp2(dir), kSteps));
  REQUIRE(testing::WaitFor([&] { return client.Get(submitted.id()).steps_done() >= 3; },
                           std::chrono::seconds(120)));
  planner->process().Signal(SIGKILL);
  planner->process().Wait(std::chrono::seconds(10));
  planner.reset();
  // The workers go on without it.
  CHECK(testing::WorkerPids(dir.path()).size() == 4);
  planner = std::make_unique<testing::PlannerProcess>(
      dir.File("planner.db"), dir.path(),
      std::vector<std::string>{"--heartbeat-interval-ms", "200"}, address);

  const v1::Job job = client.WaitEnd(submitted.id(), std::chrono::seconds(300));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(AgentLogs(dir));
  INFO(planner->Log());
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(job.attempt() == 0);  // the same workers, not a relaunch
  const std::vector<v1::StepMetrics> metrics = client.Metrics(job.id());
  REQUIRE(metrics.size() == kSteps);
  for (int i = 0; i < kSteps; ++i) CHECK(metrics[i].step() == i + 1);
  n1->Signal(SIGTERM);
  n2->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
  CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("Submissions are checked field by field", "[e2e][jobs]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  JobClient client(planner.address());
  const v1::Plan plan = Pp2Tp2(dir);

  v1::SubmitJobRequest no_memory = JobRequest(plan, 4);
  no_memory.set_memory_budget_bytes(0);
  grpc::Status status = client.TrySubmit(no_memory);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("memory_budget_bytes"));

  v1::SubmitJobRequest bad_dtype = JobRequest(plan, 4);
  bad_dtype.mutable_training()->set_dtype("float16");
  status = client.TrySubmit(bad_dtype);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(),
             Catch::Contains("training.dtype") && Catch::Contains("float16"));

  v1::SubmitJobRequest unknown_model = JobRequest(plan, 4);
  unknown_model.set_model("no-such-model");
  status = client.TrySubmit(unknown_model);
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);

  v1::SubmitJobRequest wrong_plan = JobRequest(plan, 4);
  wrong_plan.mutable_plan()->mutable_layers()->RemoveLast();
  status = client.TrySubmit(wrong_plan);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("plan") && Catch::Contains("layers"));
}

TEST_CASE("A job cancelled while it runs ends CANCELLED with no worker left", "[e2e][jobs]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  JobClient client(planner.address());
  auto n1 = StartAgent(dir, planner.address(), "n1", 2);
  auto n2 = StartAgent(dir, planner.address(), "n2", 2);
  REQUIRE(testing::WaitFor([&] { return client.AliveNodes() == 2; }, kDeadline));

  const v1::Job submitted = client.Submit(JobRequest(Pp2Tp2(dir), 100000));
  v1::Job running = client.WaitState(submitted.id(), v1::JOB_STATE_RUNNING, kDeadline);
  INFO(AgentLogs(dir));
  REQUIRE(running.state() == v1::JOB_STATE_RUNNING);
  // Wait for a step so that every rank is past its rendezvous.
  REQUIRE(testing::WaitFor([&] { return client.Get(submitted.id()).steps_done() >= 1; },
                           std::chrono::seconds(120)));
  CHECK(testing::WorkerPids(dir.path()).size() == 4);

  const auto cancelled_at = std::chrono::steady_clock::now();
  const v1::Job cancelled = client.Cancel(submitted.id());
  CHECK(cancelled.state() == v1::JOB_STATE_CANCELLED);
  CHECK_THAT(cancelled.message(), Catch::Contains("cancelled"));
  // Every worker stops within 10 s.
  CHECK(testing::WaitFor(
      [&] { return testing::WorkerPids(dir.path()).empty(); },
      std::chrono::seconds(10) - std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::steady_clock::now() - cancelled_at)));
  n1->Signal(SIGTERM);
  n2->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
  CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("An agent lost mid-job fails the job and stops the other node's workers", "[e2e][jobs]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200", "--node-timeout-ms", "2000"});
  JobClient client(planner.address());
  auto n1 = StartAgent(dir, planner.address(), "n1", 2);
  auto n2 = StartAgent(dir, planner.address(), "n2", 2);
  REQUIRE(testing::WaitFor([&] { return client.AliveNodes() == 2; }, kDeadline));

  const v1::Job submitted = client.Submit(JobRequest(Pp2Tp2(dir), 100000));
  REQUIRE(testing::WaitFor([&] { return client.Get(submitted.id()).steps_done() >= 1; },
                           std::chrono::seconds(120)));
  // n2's agent vanishes (its workers keep running, orphaned, until their
  // peers stop; the job must not wait for them).
  n2->Signal(SIGKILL);
  n2->Wait(std::chrono::seconds(10));
  const auto lost_at = std::chrono::steady_clock::now();
  const v1::Job failed = client.WaitEnd(submitted.id(), std::chrono::seconds(60));
  const auto took = std::chrono::steady_clock::now() - lost_at;
  INFO(failed.DebugString());
  CHECK(failed.state() == v1::JOB_STATE_FAILED);
  CHECK_THAT(failed.message(), Catch::Contains("n2") && Catch::Contains("lost"));
  CHECK(took <= std::chrono::seconds(2 + 5));  // node timeout + 5 s
  // n1's workers are stopped by their agent.
  CHECK(testing::WaitFor(
      [&] {
        for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
          std::ifstream cmdline(entry.path() / "cmdline", std::ios::binary);
          std::string text((std::istreambuf_iterator<char>(cmdline)),
                           std::istreambuf_iterator<char>());
          if (text.find("galvatron-worker") != std::string::npos &&
              text.find(dir.File("work-n1")) != std::string::npos) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(15)));
  // n2's orphans stop once their peers are gone (peer watch), or are killed
  // here so that nothing outlives the test.
  if (!testing::WaitFor([&] { return testing::WorkerPids(dir.path()).empty(); },
                        std::chrono::seconds(60))) {
    std::system(("pkill -9 -f " + dir.path()).c_str());
  }
  n1->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
}

}  // namespace galvatron
