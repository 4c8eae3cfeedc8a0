// Tasks end to end on loopback: a planner, galvatron-agent processes and the
// galvatron-worker processes they start. Two agents of two CPU devices each
// probe a 4-rank "cluster" through the planner (the second node joins rank
// 0's store once its address is known); a task whose worker cannot start
// fails with the reason while the agent keeps serving; a cancelled task and
// an agent stopped by SIGTERM stop their workers; and `galvatron plan` on a
// cluster without profiles has the agents measure them first, then plans
// from the measured profiles alone.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "galvatron/v1/service.pb.h"
#include "galvatron/v1/task.pb.h"
#include "tests/support/agents.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::Slurp;
using testing::StartAgent;

constexpr auto kDeadline = std::chrono::seconds(30);

CommandResult Cli(const std::string& planner, std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  std::vector<std::string> argv = {testing::BinDir() + "/galvatron", "--planner", planner};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

int AliveNodes(const std::string& planner) {
  CommandResult r = Cli(planner, {"nodes", "list", "--json"});
  v1::ListNodesResponse list;
  if (r.exit_code != 0 || !JsonToMessage(r.out, "nodes", &list).ok()) return -1;
  int alive = 0;
  for (const v1::Node& node : list.nodes()) alive += node.state() == v1::NODE_STATE_ALIVE;
  return alive;
}

std::optional<v1::Task> ShowTask(const std::string& planner, const std::string& id) {
  CommandResult r = Cli(planner, {"--json", "tasks", "show", id});
  v1::Task task;
  if (r.exit_code != 0 || !JsonToMessage(r.out, "task", &task).ok()) return std::nullopt;
  return task;
}

// Worker processes whose parent is `pid`.
int ChildCount(pid_t pid) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string pid_text, comm, state;
    pid_t parent = 0;
    if (stat >> pid_text >> comm >> state >> parent && parent == pid) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("Two agents probe a 4-rank cluster through the planner", "[e2e][tasks]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  const std::string address = planner.address();
  auto n1 = StartAgent(dir, address, "n1", 2);
  auto n2 = StartAgent(dir, address, "n2", 2);
  REQUIRE(testing::WaitFor([&] { return AliveNodes(address) == 2; }, kDeadline));

  const std::string galvatron_dir = dir.File("galvatron-hardware");
  CommandResult r =
      Cli(address,
          {"--json", "profiles", "probe", "--cluster", "test", "--min-bytes", "4096", "--max-bytes",
           "65536", "--repeats", "3", "--galvatron-out", galvatron_dir, "--accept-noisy"},
          std::chrono::seconds(180));
  INFO(r.err);
  INFO(Slurp(dir.File("agent-n1.log")));
  INFO(Slurp(dir.File("agent-n2.log")));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("task-1") && Catch::Contains("succeeded"));
  v1::HardwareProfile profile;
  REQUIRE(JsonToMessage(r.out, "probe output", &profile).ok());
  CHECK(profile.cluster() == "test");
  CHECK(profile.source() == v1::PROFILE_SOURCE_MEASURED);
  CHECK(profile.num_nodes() == 2);
  CHECK(profile.devices_per_node() == 2);
  CHECK(profile.overlap_coefficient() >= 1.0);
  // Four ranks on two shared cores: --accept-noisy reached every worker, so
  // each table was measured once, noisy or not, and the ranks' records merged.
  REQUIRE(profile.has_quality());
  CHECK(profile.quality().attempts() == 1);
  CHECK(profile.quality().noisy() == (profile.quality().noisy_measurements_size() > 0));
  std::set<std::tuple<int, int, int>> tables;  // collective, group size, layout
  for (const v1::CollectiveTable& t : profile.collectives()) {
    tables.insert({t.collective(), t.group_size(), t.layout()});
    REQUIRE(t.samples_size() == 5);  // 4 KiB .. 64 KiB
    for (const v1::TimeSample& s : t.samples()) CHECK(s.seconds() > 0);
  }
  for (int size : {2, 4}) {
    CHECK(tables.count({v1::COLLECTIVE_ALL_REDUCE, size, v1::GROUP_LAYOUT_CONSECUTIVE}) == 1);
    CHECK(tables.count({v1::COLLECTIVE_ALL_GATHER, size, v1::GROUP_LAYOUT_CONSECUTIVE}) == 1);
    CHECK(tables.count({v1::COLLECTIVE_REDUCE_SCATTER, size, v1::GROUP_LAYOUT_CONSECUTIVE}) == 1);
    CHECK(tables.count({v1::COLLECTIVE_ALL_TO_ALL, size, v1::GROUP_LAYOUT_CONSECUTIVE}) == 1);
    CHECK(tables.count({v1::COLLECTIVE_P2P, size, v1::GROUP_LAYOUT_UNSPECIFIED}) == 1);
  }
  CHECK(tables.count({v1::COLLECTIVE_ALL_REDUCE, 2, v1::GROUP_LAYOUT_STRIDED}) == 1);
  for (const char* file : {"allreduce_bandwidth_2nodes_2gpus_per_node.json",
                           "p2p_bandwidth_2nodes_2gpus_per_node.json",
                           "sp_time_2nodes_2gpus_per_node.json", "overlap_coefficient.json"}) {
    CHECK(std::filesystem::exists(std::filesystem::path(galvatron_dir) / file));
  }

  std::optional<v1::Task> task = ShowTask(address, "task-1");
  REQUIRE(task.has_value());
  CHECK(task->state() == v1::TASK_STATE_SUCCEEDED);
  CHECK(task->progress() == 1.0);
  CHECK(task->world_size() == 4);
  REQUIRE(task->result_ids_size() == 1);
  CHECK(task->result_ids(0) == profile.id());
  CHECK_THAT(task->store_address(), Catch::StartsWith("127.0.0.1:"));
  // Each node kept its workers' logs and rank 0's result.
  CHECK(std::filesystem::exists(dir.File("work-n1/task-1/hardware.json")));
  CHECK(std::filesystem::exists(dir.File("work-n2/task-1/rank-3.log")));

  CommandResult list = Cli(address, {"tasks", "list"});
  CHECK_THAT(list.out, Catch::Contains("task-1") && Catch::Contains("succeeded"));
  n1->Signal(SIGTERM);
  n2->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
  CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("A task that cannot start fails with the reason, the agent keeps serving",
          "[e2e][tasks]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  const std::string address = planner.address();
  auto agent = StartAgent(dir, address, "n1", 2, dir.File("no-such-worker"));
  REQUIRE(testing::WaitFor([&] { return AliveNodes(address) == 1; }, kDeadline));
  CommandResult r = Cli(address, {"profiles", "probe", "--cluster", "test"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("failed") && Catch::Contains("no-such-worker"));
  CHECK(agent->running());
  // Still registered and polling: a second task reaches it (and fails alike).
  r = Cli(address, {"profiles", "probe", "--cluster", "test"});
  CHECK_THAT(r.err, Catch::Contains("task-2") && Catch::Contains("no-such-worker"));
  CHECK(AliveNodes(address) == 1);
  agent->Signal(SIGTERM);
  CHECK(agent->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("Cancelling a task and stopping an agent stop their workers", "[e2e][tasks]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  const std::string address = planner.address();
  auto agent = StartAgent(dir, address, "n1", 2);
  REQUIRE(testing::WaitFor([&] { return AliveNodes(address) == 1; }, kDeadline));
  // A long probe (minutes at these sizes and repeats on a small machine).
  const std::vector<std::string> long_probe = {
      "profiles", "probe",       "--cluster", "test",      "--no-wait", "--min-bytes",
      "1048576",  "--max-bytes", "268435456", "--repeats", "200"};
  CommandResult r = Cli(address, long_probe);
  REQUIRE(r.exit_code == 0);
  REQUIRE(testing::WaitFor([&] { return ChildCount(agent->pid()) == 2; }, kDeadline));
  r = Cli(address, {"tasks", "cancel", "task-1"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("cancelled"));
  bool stopped = testing::WaitFor([&] { return ChildCount(agent->pid()) == 0; }, kDeadline);
  INFO(Slurp(dir.File("agent-n1.log")));
  CHECK(stopped);

  // The next task runs; SIGTERM to the agent stops it and fails the task.
  r = Cli(address, long_probe);
  REQUIRE(r.exit_code == 0);
  REQUIRE(testing::WaitFor([&] { return ChildCount(agent->pid()) == 2; }, kDeadline));
  agent->Signal(SIGTERM);
  CHECK(agent->Wait(std::chrono::seconds(30)) == 0);
  std::optional<v1::Task> task = ShowTask(address, "task-2");
  REQUIRE(task.has_value());
  CHECK(task->state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(task->message(), Catch::Contains("SIGTERM"));
  CHECK_THAT(Slurp(dir.File("agent-n1.log")), Catch::Contains("galvatron-agent stopped"));
}

TEST_CASE("galvatron plan has the agents measure what is missing, then plans from it alone",
          "[e2e][tasks]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  const std::string address = planner.address();
  auto agent = StartAgent(dir, address, "n1", 2);
  REQUIRE(testing::WaitFor([&] { return AliveNodes(address) == 1; }, kDeadline));

  // A profile task that cannot finish in its time budget fails with the
  // reason; the agent keeps serving.
  CommandResult bad = Cli(address, {"profiles", "measure", "--model", "llama-tiny", "--cluster",
                                    "test", "--time-budget", "0.001"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("task-1 failed") && Catch::Contains("budget"));

  // No hardware profile and no compute profile: a probe and a profile task
  // run first (progress on stderr), then the search uses what they measured.
  CommandResult r = Cli(address,
                        {"--json", "plan", "--model", "llama-tiny", "--cluster", "test", "--memory",
                         "4GiB", "--global-batch", "8"},
                        std::chrono::seconds(300));
  INFO(r.err);
  INFO(Slurp(dir.File("agent-n1.log")));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("measuring first: task-2 (probe") &&
                        Catch::Contains("measuring first: task-3 (profile llama-tiny") &&
                        Catch::Contains("task-3 profile llama-tiny: succeeded"));
  v1::Plan plan;
  REQUIRE(JsonToMessage(r.out, "plan", &plan).ok());
  CHECK_FALSE(plan.hardware_profile_id().empty());
  const std::optional<v1::ModelSpec> model = CatalogModel("llama-tiny");
  REQUIRE(model.has_value());
  CHECK(plan.compute_profile_ids_size() == static_cast<int>(ModelLayerTypeKeys(*model).size()));
  CHECK_FALSE(plan.prediction().analytic_estimate());
  CHECK(plan.prediction().samples_per_second() > 0);

  std::optional<v1::Task> profile = ShowTask(address, "task-3");
  REQUIRE(profile.has_value());
  CHECK(profile->state() == v1::TASK_STATE_SUCCEEDED);
  CHECK(profile->result_ids_size() == plan.compute_profile_ids_size());
  agent->Signal(SIGTERM);
  CHECK(agent->Wait(std::chrono::seconds(20)) == 0);
}

}  // namespace galvatron
