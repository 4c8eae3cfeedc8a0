// galvatron-agent end to end: it registers with a live galvatron-planner on
// loopback, heartbeats, is marked LOST when killed, registers again by itself
// after a planner restart, and stops cleanly on SIGTERM.
#include <catch2/catch.hpp>

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "galvatron/v1/service.pb.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::Slurp;

constexpr auto kDeadline = std::chrono::seconds(20);

// n1 as `galvatron nodes list --json` shows it; nullopt if absent or the
// command fails.
std::optional<v1::Node> ListedNode(const std::string& planner, const std::string& name) {
  CommandResult r = RunCommand(
      {testing::BinDir() + "/galvatron", "--planner", planner, "nodes", "list", "--json"});
  if (r.exit_code != 0) return std::nullopt;
  v1::ListNodesResponse list;
  if (!JsonToMessage(r.out, "nodes list", &list).ok()) return std::nullopt;
  for (const v1::Node& node : list.nodes()) {
    if (node.name() == name) return node;
  }
  return std::nullopt;
}

bool NodeIs(const std::string& planner, const std::string& name, v1::NodeState state) {
  std::optional<v1::Node> node = ListedNode(planner, name);
  return node.has_value() && node->state() == state;
}

std::unique_ptr<ChildProcess> StartAgent(const testing::TempDir& dir, const std::string& planner,
                                         const std::string& tag,
                                         const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{testing::BinDir() + "/galvatron-agent",
                                "--planner",
                                planner,
                                "--cluster",
                                "test",
                                "--node-name",
                                "n1",
                                "--devices",
                                "cpu:2",
                                "--heartbeat-interval-ms",
                                "100",
                                "--work-dir",
                                dir.File("work-" + tag),
                                "--log-level",
                                "debug"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<ChildProcess>(argv, dir.File("agent-" + tag + ".log"));
}

}  // namespace

TEST_CASE("galvatron-agent --help describes it and exits 0", "[e2e][agent]") {
  CommandResult r = RunCommand({testing::BinDir() + "/galvatron-agent", "--help"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("--planner") && Catch::Contains("--devices") &&
                        Catch::Contains("heartbeat"));
  CHECK_THAT(r.out, !Catch::Contains("not implemented"));
}

TEST_CASE("galvatron-agent rejects bad flags before contacting anyone", "[e2e][agent]") {
  CommandResult r = RunCommand({testing::BinDir() + "/galvatron-agent", "--planner", "127.0.0.1:1",
                                "--cluster", "test", "--devices", "gpu:7"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--devices: \"gpu:7\""));
  r = RunCommand({testing::BinDir() + "/galvatron-agent", "--planner", "127.0.0.1:1", "--cluster",
                  "Not A Name"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--cluster"));
}

TEST_CASE("An agent registers, heartbeats, is lost when killed and survives a planner restart",
          "[e2e][agent]") {
  testing::TempDir dir;
  const std::vector<std::string> planner_flags = {"--node-timeout-ms", "500",
                                                  "--heartbeat-interval-ms", "100"};
  auto planner =
      std::make_unique<testing::PlannerProcess>(dir.File("planner.db"), dir.path(), planner_flags);
  const std::string address = planner->address();

  // Registers and stays ALIVE with its two CPU devices.
  auto agent = StartAgent(dir, address, "1");
  bool alive =
      testing::WaitFor([&] { return NodeIs(address, "n1", v1::NODE_STATE_ALIVE); }, kDeadline);
  INFO(Slurp(dir.File("agent-1.log")));
  REQUIRE(alive);
  std::optional<v1::Node> node = ListedNode(address, "n1");
  REQUIRE(node.has_value());
  CHECK(node->cluster() == "test");
  CHECK(node->devices_size() == 2);
  CHECK(node->devices(0).kind() == v1::DEVICE_KIND_CPU);
  CHECK(node->cpu_cores() >= 1);
  CHECK(node->memory_bytes() > 0);
  CHECK_FALSE(node->host().empty());
  CHECK(node->last_heartbeat().seconds() > 0);
  // Heartbeats (100 ms) keep it alive well past the 500 ms timeout.
  const int64_t first_beat =
      node->last_heartbeat().seconds() * 1000 + node->last_heartbeat().nanos() / 1000000;
  REQUIRE(testing::WaitFor(
      [&] {
        std::optional<v1::Node> now = ListedNode(address, "n1");
        return now && now->state() == v1::NODE_STATE_ALIVE &&
               now->last_heartbeat().seconds() * 1000 + now->last_heartbeat().nanos() / 1000000 >
                   first_beat + 1000;
      },
      kDeadline));

  CommandResult table = RunCommand({testing::BinDir() + "/galvatron", "--planner", address, "nodes",
                                    "list", "--cluster", "test"});
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("LAST_HEARTBEAT") && Catch::Contains("n1") &&
                            Catch::Contains("alive") && Catch::Contains("2x cpu"));

  // Killed: LOST once the timeout passes.
  agent->Signal(SIGKILL);
  CHECK(agent->Wait(std::chrono::seconds(5)) == 128 + SIGKILL);
  CHECK(testing::WaitFor([&] { return NodeIs(address, "n1", v1::NODE_STATE_LOST); }, kDeadline));
  table = RunCommand({testing::BinDir() + "/galvatron", "--planner", address, "nodes", "list"});
  CHECK_THAT(table.out, Catch::Contains("lost"));

  // A new agent for the node.
  agent = StartAgent(dir, address, "2");
  REQUIRE(testing::WaitFor([&] { return NodeIs(address, "n1", v1::NODE_STATE_ALIVE); }, kDeadline));

  // The planner restarts on the same database and port; the agent, not
  // restarted, finds its session unknown and registers again.
  planner->process().Signal(SIGTERM);
  REQUIRE(planner->process().Wait(std::chrono::seconds(20)) == 0);
  planner.reset();
  planner = std::make_unique<testing::PlannerProcess>(dir.File("planner.db"), dir.path(),
                                                      planner_flags, address);
  REQUIRE(planner->address() == address);
  alive = testing::WaitFor([&] { return NodeIs(address, "n1", v1::NODE_STATE_ALIVE); }, kDeadline);
  INFO(Slurp(dir.File("agent-2.log")));
  REQUIRE(alive);
  CHECK(agent->running());
  CHECK_THAT(Slurp(dir.File("agent-2.log")),
             Catch::Contains("registering again") || Catch::Contains("reachable again"));

  // SIGTERM: a clean stop.
  agent->Signal(SIGTERM);
  CHECK(agent->Wait(std::chrono::seconds(10)) == 0);
  CHECK_THAT(Slurp(dir.File("agent-2.log")), Catch::Contains("galvatron-agent stopped"));
}

// Two agents under one --node-name used to take the node from each other
// every heartbeat, silently. The second is now refused and exits saying so.
TEST_CASE("A second agent with the same node name exits with a clear message", "[e2e][agent]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--node-timeout-ms", "2000", "--heartbeat-interval-ms", "100"});
  const std::string address = planner.address();
  auto first = StartAgent(dir, address, "first");
  REQUIRE(testing::WaitFor([&] { return NodeIs(address, "n1", v1::NODE_STATE_ALIVE); }, kDeadline));
  std::optional<v1::Node> node = ListedNode(address, "n1");
  REQUIRE(node.has_value());
  const std::string instance = node->agent_instance_id();
  CHECK(instance.size() == 32);

  auto second = StartAgent(dir, address, "second", {"--name-claim-wait-seconds", "0.5"});
  const int exit_code = second->Wait(kDeadline);
  const std::string log = Slurp(dir.File("agent-second.log"));
  INFO(log);
  CHECK(exit_code == 1);
  CHECK_THAT(log, Catch::Contains("another agent is registered as test/n1") &&
                      Catch::Contains(instance) && Catch::Contains("--node-name"));
  // The first agent kept the node all along.
  node = ListedNode(address, "n1");
  REQUIRE(node.has_value());
  CHECK(node->state() == v1::NODE_STATE_ALIVE);
  CHECK(node->agent_instance_id() == instance);
  first->Signal(SIGTERM);
  CHECK(first->Wait(std::chrono::seconds(10)) == 0);
}

TEST_CASE("An agent started before its planner registers once the planner is up", "[e2e][agent]") {
  testing::TempDir dir;
  // Reserve a port by starting and stopping a planner, then start the agent
  // against the stopped address.
  std::string address;
  {
    testing::PlannerProcess first(dir.File("planner.db"), dir.path());
    address = first.address();
    first.process().Signal(SIGTERM);
    REQUIRE(first.process().Wait(std::chrono::seconds(20)) == 0);
  }
  auto agent = StartAgent(dir, address, "early");
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(), {}, address);
  bool alive =
      testing::WaitFor([&] { return NodeIs(address, "n1", v1::NODE_STATE_ALIVE); }, kDeadline);
  INFO(Slurp(dir.File("agent-early.log")));
  CHECK(alive);
  agent->Signal(SIGINT);
  CHECK(agent->Wait(std::chrono::seconds(10)) == 0);
}

}  // namespace galvatron
