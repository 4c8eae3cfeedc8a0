// Jobs that do not go as planned, end to end on loopback: a planner, two
// galvatron-agent processes of two CPU devices each ("nodes" n1 and n2) and
// the workers they start, driven through the JobService by a real gRPC
// client.
//
//  - A job cancelled while it profiles, or while it launches, ends CANCELLED
//    and nothing of it runs on: its measuring tasks are cancelled, its
//    workers stop.
//  - A worker SIGKILLed with no restart left (none allowed, or all used)
//    fails the job naming the rank, the node, the signal and the log's end,
//    also when its peers' node reports before its own; no worker stays
//    behind on either node.
//  - A planner SIGKILLed while a job profiles or launches takes the job up
//    again: it measures or launches anew and succeeds.
//  - After a planner restart, a node whose agent never reports again fails
//    its job once the re-attach timeout (--reattach-timeout-ms) has passed.
//
// A job is held in LAUNCHING honestly: an agent runs one task at a time, so
// while n2's agent runs the workers of another job (on n2 alone), it takes
// no part of a new job on n1 and n2; the new job's rank 0 on n1 waits for
// ranks 2 and 3 and the job waits for every node's part to run.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "common/json_file.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"
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
using testing::WorkerPids;

constexpr auto kDeadline = std::chrono::seconds(30);

// A planner, n1 and n2 (two CPU devices each), both alive. The planner can
// be SIGKILLed and started again on the same address and database.
class Cluster {
 public:
  explicit Cluster(std::vector<std::string> planner_flags = {}) : flags_(std::move(planner_flags)) {
    flags_.insert(flags_.begin(), {"--heartbeat-interval-ms", "200"});
    planner_ =
        std::make_unique<testing::PlannerProcess>(dir.File("planner.db"), dir.path(), flags_);
    address_ = planner_->address();
    client = std::make_unique<JobClient>(address_);
    n1 = StartAgent(dir, address_, "n1", 2);
    n2 = StartAgent(dir, address_, "n2", 2);
    REQUIRE(testing::WaitFor([&] { return client->AliveNodes() == 2; }, kDeadline));
  }

  ~Cluster() {
    // Whatever a failed check left: nothing may outlive the test.
    if (n2) n2->Signal(SIGCONT);
    testing::KillWorkers(dir.path());
  }

  void KillPlanner() {
    planner_->process().Signal(SIGKILL);
    planner_->process().Wait(std::chrono::seconds(10));
    logs_ += planner_->Log();
    planner_.reset();
  }

  void StartPlanner() {
    planner_ = std::make_unique<testing::PlannerProcess>(dir.File("planner.db"), dir.path(), flags_,
                                                         address_);
  }

  // SIGTERM to both agents: each exits 0.
  void StopAgents() {
    n1->Signal(SIGTERM);
    n2->Signal(SIGTERM);
    CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
    CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
  }

  std::string Logs() const {
    return "planner:\n" + logs_ + (planner_ ? planner_->Log() : std::string()) + "\nn1:\n" +
           Slurp(dir.File("agent-n1.log")) + "\nn2:\n" + Slurp(dir.File("agent-n2.log"));
  }

  // The work dir of a node's part of a task: what its workers' command
  // lines name.
  std::string TaskDir(const std::string& node, const std::string& task_id) const {
    return dir.File("work-" + node + "/" + task_id + "/");
  }

  testing::TempDir dir;
  std::unique_ptr<JobClient> client;
  std::unique_ptr<ChildProcess> n1;
  std::unique_ptr<ChildProcess> n2;

 private:
  std::vector<std::string> flags_;
  std::unique_ptr<testing::PlannerProcess> planner_;
  std::string address_;
  std::string logs_;
};

v1::Plan WritePlanFile(const testing::TempDir& dir, const std::string& name,
                       const testing::PlanShape& shape) {
  v1::Plan plan;
  REQUIRE(ReadJsonFile(testing::WritePlan(dir, name, shape), &plan).ok());
  return plan;
}

// pp 2 × tp 2 over 4 ranks: each stage's tensor-parallel pair on one node.
v1::Plan Pp2Tp2(const testing::TempDir& dir) {
  testing::PlanShape shape;
  shape.world = 4;
  shape.pp = 2;
  for (testing::Layer& layer : shape.layers) layer.tp = 2;
  shape.embedding.tp = 2;
  return WritePlanFile(dir, "pp2-tp2.json", shape);
}

// dp 2 over 2 ranks (one node).
v1::Plan Dp2(const testing::TempDir& dir) {
  testing::PlanShape shape;
  shape.world = 2;
  return WritePlanFile(dir, "dp2.json", shape);
}

v1::SubmitJobRequest JobRequest(const v1::Plan& plan, int steps) {
  v1::SubmitJobRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("test");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  *request.mutable_plan() = plan;
  request.mutable_training()->set_steps(steps);
  request.mutable_training()->set_seed(7);
  return request;
}

// A job without a plan: the agents measure the cluster first.
v1::SubmitJobRequest UnplannedRequest(int steps) {
  v1::SubmitJobRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("test");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  request.set_global_batch(8);
  request.mutable_training()->set_steps(steps);
  return request;
}

// 0 when the file does not exist (yet).
uintmax_t FileSize(const std::string& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

std::vector<v1::JobState> States(const v1::Job& job) {
  std::vector<v1::JobState> states;
  for (const v1::JobTransition& t : job.transitions()) states.push_back(t.state());
  return states;
}

bool HasTransition(const v1::Job& job, v1::JobState state, const std::string& text) {
  for (const v1::JobTransition& t : job.transitions()) {
    if (t.state() == state && t.reason().find(text) != std::string::npos) return true;
  }
  return false;
}

// Waits until the job has taken a step; REQUIREs that it runs.
v1::Job WaitRunning(Cluster& cluster, const std::string& id) {
  const v1::Job running = cluster.client->WaitJob(
      id, [](const v1::Job& job) { return job.steps_done() >= 1; }, std::chrono::seconds(120));
  INFO(running.DebugString());
  INFO(cluster.Logs());
  REQUIRE(running.state() == v1::JOB_STATE_RUNNING);
  return running;
}

// A job of 100000 steps on n2 alone that keeps n2's agent busy; running once
// it has taken a step.
v1::Job OccupyN2(Cluster& cluster) {
  v1::SubmitJobRequest request = JobRequest(Dp2(cluster.dir), 100000);
  request.add_nodes("n2");
  const v1::Job running = WaitRunning(cluster, cluster.client->Submit(request).id());
  REQUIRE(running.ranks_size() == 2);
  REQUIRE(running.ranks(0).node() == "n2");
  return running;
}

// Submits a 4-rank job while n2 is busy and waits until n1 runs its ranks 0
// and 1 while n2's part waits: the job is LAUNCHING. The job.
v1::Job HeldInLaunching(Cluster& cluster, int steps) {
  const v1::Job submitted = cluster.client->Submit(JobRequest(Pp2Tp2(cluster.dir), steps));
  v1::Job job = cluster.client->WaitJob(
      submitted.id(),
      [&](const v1::Job& j) {
        return j.state() == v1::JOB_STATE_LAUNCHING && !j.train_task_id().empty() &&
               WorkerPids(cluster.TaskDir("n1", j.train_task_id())).size() == 2;
      },
      kDeadline);
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(cluster.Logs());
  REQUIRE(job.state() == v1::JOB_STATE_LAUNCHING);
  const v1::Task task = cluster.client->Task(job.train_task_id());
  INFO(task.DebugString());
  REQUIRE(task.nodes_size() == 2);
  CHECK(task.nodes(0).node() == "n1");
  CHECK(task.nodes(0).state() == v1::TASK_STATE_RUNNING);
  CHECK(task.nodes(1).node() == "n2");
  CHECK(task.nodes(1).state() == v1::TASK_STATE_PENDING);
  CHECK_FALSE(task.store_address().empty());
  return job;
}

}  // namespace

TEST_CASE("A job cancelled while it profiles ends CANCELLED and its measuring stops",
          "[e2e][jobs]") {
  Cluster cluster;
  const v1::Job submitted = cluster.client->Submit(UnplannedRequest(2));
  // Measuring: the job names its tasks and their workers run.
  const v1::Job profiling = cluster.client->WaitJob(
      submitted.id(),
      [&](const v1::Job& job) {
        return job.state() == v1::JOB_STATE_PROFILING && job.task_ids_size() > 0 &&
               !WorkerPids(cluster.dir.path()).empty();
      },
      kDeadline);
  INFO(profiling.DebugString());
  INFO(cluster.Logs());
  REQUIRE(profiling.state() == v1::JOB_STATE_PROFILING);

  const auto cancelled_at = std::chrono::steady_clock::now();
  const v1::Job cancelled = cluster.client->Cancel(submitted.id());
  INFO(cancelled.DebugString());
  CHECK(cancelled.state() == v1::JOB_STATE_CANCELLED);
  CHECK_THAT(cancelled.message(), Catch::Contains("cancelled"));
  CHECK(cancelled.train_task_id().empty());
  // Its measuring tasks are cancelled (one may have finished before).
  int cancelled_tasks = 0;
  for (const std::string& id : cancelled.task_ids()) {
    const v1::Task task = cluster.client->Task(id);
    INFO(task.DebugString());
    CHECK((task.state() == v1::TASK_STATE_CANCELLED || task.state() == v1::TASK_STATE_SUCCEEDED));
    cancelled_tasks += task.state() == v1::TASK_STATE_CANCELLED;
  }
  CHECK(cancelled_tasks >= 1);
  // Every worker stops within 10 s.
  CHECK(testing::WaitFor(
      [&] { return WorkerPids(cluster.dir.path()).empty(); },
      std::chrono::seconds(10) - std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::steady_clock::now() - cancelled_at)));
  // And it stays cancelled.
  CHECK(cluster.client->Get(submitted.id()).state() == v1::JOB_STATE_CANCELLED);
  cluster.StopAgents();
}

TEST_CASE("A job cancelled while it launches ends CANCELLED with no worker left", "[e2e][jobs]") {
  Cluster cluster;
  const v1::Job other = OccupyN2(cluster);
  const v1::Job launching = HeldInLaunching(cluster, 4);
  const std::string task_id = launching.train_task_id();

  const auto cancelled_at = std::chrono::steady_clock::now();
  const v1::Job cancelled = cluster.client->Cancel(launching.id());
  INFO(cancelled.DebugString());
  INFO(cluster.Logs());
  CHECK(cancelled.state() == v1::JOB_STATE_CANCELLED);
  CHECK_THAT(cancelled.message(), Catch::Contains("cancelled"));
  CHECK(States(cancelled) == std::vector<v1::JobState>{v1::JOB_STATE_PENDING, v1::JOB_STATE_PLANNED,
                                                       v1::JOB_STATE_LAUNCHING,
                                                       v1::JOB_STATE_CANCELLED});
  CHECK(cluster.client->Task(task_id).state() == v1::TASK_STATE_CANCELLED);
  // n1's ranks stop within 10 s; n2 never started its part.
  CHECK(testing::WaitFor(
      [&] { return WorkerPids(cluster.TaskDir("n1", task_id)).empty(); },
      std::chrono::seconds(10) - std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::steady_clock::now() - cancelled_at)));
  CHECK(WorkerPids(cluster.TaskDir("n2", task_id)).empty());

  // Once n2 is free again it is not handed the cancelled part: it takes the
  // next job's part instead (tasks are handed out oldest first).
  CHECK(cluster.client->Cancel(other.id()).state() == v1::JOB_STATE_CANCELLED);
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.dir.path()).empty(); },
                         std::chrono::seconds(10)));
  v1::SubmitJobRequest next = JobRequest(Dp2(cluster.dir), 1);
  next.add_nodes("n2");
  const v1::Job after =
      cluster.client->WaitEnd(cluster.client->Submit(next).id(), std::chrono::seconds(60));
  CHECK(after.state() == v1::JOB_STATE_SUCCEEDED);
  const v1::Task task = cluster.client->Task(task_id);
  CHECK(task.nodes(1).state() == v1::TASK_STATE_PENDING);
  CHECK_FALSE(std::filesystem::exists(cluster.TaskDir("n2", task_id)));
  CHECK(WorkerPids(cluster.dir.path()).empty());
  cluster.StopAgents();
}

TEST_CASE("A worker killed with no restart allowed fails the job naming rank node and signal",
          "[e2e][jobs]") {
  Cluster cluster;
  const v1::Job submitted = cluster.client->Submit(JobRequest(Pp2Tp2(cluster.dir), 100000));
  const v1::Job running = WaitRunning(cluster, submitted.id());
  const pid_t victim = testing::TrainWorkerPid(cluster.dir.File("work-n2"), 2);
  REQUIRE(victim > 0);
  REQUIRE(kill(victim, SIGKILL) == 0);

  const v1::Job job = cluster.client->WaitEnd(submitted.id(), std::chrono::seconds(60));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(cluster.Logs());
  REQUIRE(job.state() == v1::JOB_STATE_FAILED);
  CHECK(job.attempt() == 0);
  CHECK_THAT(job.message(), Catch::Contains("rank 2 on node n2") &&
                                Catch::Contains("killed by signal 9") &&
                                Catch::Contains("its log ends:"));
  CHECK(job.failure().rank() == 2);
  CHECK(job.failure().node() == "n2");
  CHECK_THAT(job.failure().exit_status(), Catch::Contains("signal 9"));
  // The last lines of rank 2's log: it had started training.
  CHECK_FALSE(job.failure().log_tail().empty());
  CHECK_THAT(job.message(), Catch::Contains(job.failure().log_tail()));
  CHECK(States(job) == std::vector<v1::JobState>{v1::JOB_STATE_PENDING, v1::JOB_STATE_PLANNED,
                                                 v1::JOB_STATE_LAUNCHING, v1::JOB_STATE_RUNNING,
                                                 v1::JOB_STATE_FAILED});
  // Nothing stays behind on either node.
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.dir.path()).empty(); },
                         std::chrono::seconds(30)));
  cluster.StopAgents();
}

TEST_CASE("A failed job names the killed worker even when a peer's node reports first",
          "[e2e][jobs]") {
  Cluster cluster;
  const v1::Job submitted = cluster.client->Submit(JobRequest(Pp2Tp2(cluster.dir), 100000));
  const v1::Job running = WaitRunning(cluster, submitted.id());
  // n2's agent is slow (held) when its rank 2 is killed: the peers on n1
  // stop (exit 1) and n1 reports first, ending the task.
  cluster.n2->Signal(SIGSTOP);
  const pid_t victim = testing::TrainWorkerPid(cluster.dir.File("work-n2"), 2);
  REQUIRE(victim > 0);
  REQUIRE(kill(victim, SIGKILL) == 0);
  const bool ended = testing::WaitFor(
      [&] {
        return cluster.client->Task(running.train_task_id()).state() == v1::TASK_STATE_FAILED;
      },
      kDeadline);
  cluster.n2->Signal(SIGCONT);
  INFO(cluster.client->Task(running.train_task_id()).DebugString());
  REQUIRE(ended);

  const v1::Job job = cluster.client->WaitEnd(submitted.id(), std::chrono::seconds(60));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(cluster.Logs());
  REQUIRE(job.state() == v1::JOB_STATE_FAILED);
  CHECK_THAT(job.message(),
             Catch::Contains("rank 2 on node n2") && Catch::Contains("killed by signal 9"));
  CHECK(job.failure().rank() == 2);
  CHECK(job.failure().node() == "n2");
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.dir.path()).empty(); },
                         std::chrono::seconds(30)));
  cluster.StopAgents();
}

TEST_CASE("A worker killed after the last restart fails the job with no restart left",
          "[e2e][jobs]") {
  Cluster cluster;
  v1::SubmitJobRequest request = JobRequest(Pp2Tp2(cluster.dir), 100000);
  request.mutable_training()->set_checkpoint_every(2);
  request.mutable_training()->set_max_restarts(1);
  const v1::Job submitted = cluster.client->Submit(request);
  const v1::Job running = WaitRunning(cluster, submitted.id());
  const pid_t first = testing::TrainWorkerPid(cluster.dir.File("work-n2"), 2);
  REQUIRE(first > 0);
  REQUIRE(kill(first, SIGKILL) == 0);

  // The relaunch (restart 1 of 1) runs and has taken a step.
  const v1::Job relaunched = cluster.client->WaitJob(
      submitted.id(),
      [&](const v1::Job& job) {
        return job.attempt() == 1 && job.state() == v1::JOB_STATE_RUNNING &&
               FileSize(cluster.TaskDir("n1", job.train_task_id()) + "metrics.jsonl") > 0;
      },
      std::chrono::seconds(120));
  INFO(relaunched.DebugString());
  INFO(cluster.Logs());
  REQUIRE(relaunched.state() == v1::JOB_STATE_RUNNING);
  REQUIRE(relaunched.attempt() == 1);
  CHECK(relaunched.train_task_id() != running.train_task_id());
  CHECK(HasTransition(relaunched, v1::JOB_STATE_PLANNED, "restart 1 of 1"));
  const pid_t second =
      testing::TrainWorkerPid(cluster.TaskDir("n1", relaunched.train_task_id()), 1);
  REQUIRE(second > 0);
  REQUIRE(kill(second, SIGKILL) == 0);

  const v1::Job job = cluster.client->WaitEnd(submitted.id(), std::chrono::seconds(60));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  REQUIRE(job.state() == v1::JOB_STATE_FAILED);
  CHECK(job.attempt() == 1);
  CHECK_THAT(job.message(),
             Catch::Contains("rank 1 on node n1") && Catch::Contains("killed by signal 9") &&
                 Catch::Contains("no restart left") && Catch::Contains("its log ends:"));
  CHECK(job.failure().rank() == 1);
  CHECK(job.failure().node() == "n1");
  CHECK_FALSE(job.failure().log_tail().empty());
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.dir.path()).empty(); },
                         std::chrono::seconds(30)));
  cluster.StopAgents();
}

TEST_CASE("A planner killed while a job profiles measures again and the job succeeds",
          "[e2e][jobs]") {
  Cluster cluster;
  const v1::Job submitted = cluster.client->Submit(UnplannedRequest(2));
  const v1::Job profiling = cluster.client->WaitJob(
      submitted.id(),
      [&](const v1::Job& job) {
        return job.state() == v1::JOB_STATE_PROFILING && job.task_ids_size() > 0 &&
               !WorkerPids(cluster.dir.path()).empty();
      },
      kDeadline);
  INFO(profiling.DebugString());
  REQUIRE(profiling.state() == v1::JOB_STATE_PROFILING);
  const std::vector<std::string> before(profiling.task_ids().begin(), profiling.task_ids().end());

  // The planner restarts while n2's agent is held: nodes read LOST until
  // their agents register again, and the job must wait for n2 rather than
  // measure and plan for n1 alone.
  cluster.n2->Signal(SIGSTOP);
  cluster.KillPlanner();
  cluster.StartPlanner();
  const v1::Job waiting = cluster.client->WaitJob(
      submitted.id(),
      [](const v1::Job& job) {
        return job.message().find("waiting for the agents of node(s) n2 to register again") !=
               std::string::npos;
      },
      kDeadline);
  cluster.n2->Signal(SIGCONT);
  INFO(waiting.DebugString());
  CHECK(waiting.state() == v1::JOB_STATE_PROFILING);
  CHECK(waiting.task_ids_size() == static_cast<int>(before.size()));

  const v1::Job job = cluster.client->WaitEnd(submitted.id(), std::chrono::seconds(240));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(cluster.Logs());
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(job.steps_done() == 2);
  CHECK(States(job) == std::vector<v1::JobState>{v1::JOB_STATE_PENDING, v1::JOB_STATE_PROFILING,
                                                 v1::JOB_STATE_PLANNED, v1::JOB_STATE_LAUNCHING,
                                                 v1::JOB_STATE_RUNNING, v1::JOB_STATE_SUCCEEDED});
  // Measured again after the restart, on both nodes; the record names the
  // interrupted tasks too.
  CHECK(job.world_size() == 4);
  CHECK(job.ranks_size() == 4);
  REQUIRE(job.task_ids_size() > static_cast<int>(before.size()));
  for (size_t i = 0; i < before.size(); ++i) {
    CHECK(job.task_ids(static_cast<int>(i)) == before[i]);
    const v1::Task task = cluster.client->Task(before[i]);
    INFO(task.DebugString());
    CHECK((task.state() == v1::TASK_STATE_SUCCEEDED || task.state() == v1::TASK_STATE_FAILED));
  }
  for (int i = static_cast<int>(before.size()); i < job.task_ids_size(); ++i) {
    CHECK(cluster.client->Task(job.task_ids(i)).state() == v1::TASK_STATE_SUCCEEDED);
  }
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.dir.path()).empty(); },
                         std::chrono::seconds(10)));
  cluster.StopAgents();
}

TEST_CASE("A planner killed while a job launches launches it again and the job succeeds",
          "[e2e][jobs]") {
  Cluster cluster;
  const v1::Job other = OccupyN2(cluster);
  const v1::Job launching = HeldInLaunching(cluster, 3);
  const std::string first_task = launching.train_task_id();

  cluster.KillPlanner();
  cluster.StartPlanner();

  // Launched again: a new training task, rank 0 on n1 again.
  const v1::Job relaunched = cluster.client->WaitJob(
      launching.id(),
      [&](const v1::Job& job) {
        return job.state() == v1::JOB_STATE_LAUNCHING && job.train_task_id() != first_task &&
               WorkerPids(cluster.TaskDir("n1", job.train_task_id())).size() == 2;
      },
      std::chrono::seconds(60));
  INFO(relaunched.DebugString());
  INFO(cluster.Logs());
  REQUIRE(relaunched.state() == v1::JOB_STATE_LAUNCHING);
  CHECK(HasTransition(relaunched, v1::JOB_STATE_PLANNED, "launching again"));
  CHECK(cluster.client->Task(first_task).state() == v1::TASK_STATE_FAILED);
  // The first task's workers are gone.
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.TaskDir("n1", first_task)).empty(); },
                         std::chrono::seconds(10)));
  // The other job went on through the restart; once it ends n2 is free.
  CHECK(cluster.client->Get(other.id()).state() == v1::JOB_STATE_RUNNING);
  CHECK(cluster.client->Cancel(other.id()).state() == v1::JOB_STATE_CANCELLED);

  const v1::Job job = cluster.client->WaitEnd(launching.id(), std::chrono::seconds(120));
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(job.attempt() == 0);
  CHECK(job.steps_done() == 3);
  CHECK(job.world_size() == 4);
  const std::vector<v1::JobState> states = States(job);
  CHECK(std::count(states.begin(), states.end(), v1::JOB_STATE_FAILED) == 0);
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.dir.path()).empty(); },
                         std::chrono::seconds(10)));
  cluster.StopAgents();
}

TEST_CASE("A node whose agent does not come back after a planner restart fails its job",
          "[e2e][jobs]") {
  // Long enough for n1's agent to find the restarted planner on a busy
  // machine (its backoff is up to 2 s between tries).
  Cluster cluster({"--reattach-timeout-ms", "6000"});
  const v1::Job submitted = cluster.client->Submit(JobRequest(Pp2Tp2(cluster.dir), 100000));
  const v1::Job running = WaitRunning(cluster, submitted.id());

  // n2's agent stops answering (its workers go on), and the planner
  // restarts: n1 re-attaches, n2 never does.
  cluster.n2->Signal(SIGSTOP);
  cluster.KillPlanner();
  const auto restarted_at = std::chrono::steady_clock::now();
  cluster.StartPlanner();

  const v1::Job job = cluster.client->WaitEnd(submitted.id(), std::chrono::seconds(60));
  const auto took = std::chrono::steady_clock::now() - restarted_at;
  cluster.n2->Signal(SIGCONT);
  INFO(testing::JobEnding(job));
  INFO(job.DebugString());
  INFO(cluster.Logs());
  REQUIRE(job.state() == v1::JOB_STATE_FAILED);
  CHECK_THAT(job.message(), Catch::Contains("node(s) n2 did not re-attach within 6s") &&
                                Catch::Contains("planner restarted"));
  CHECK(job.failure().rank() == -1);
  CHECK(took >= std::chrono::seconds(6));
  CHECK(took <= std::chrono::seconds(6 + 10));
  // n1's agent stops its workers; n2's stop once their peers are gone.
  CHECK(testing::WaitFor([&] { return WorkerPids(cluster.dir.path()).empty(); },
                         std::chrono::seconds(30)));
  cluster.StopAgents();
}

}  // namespace galvatron
