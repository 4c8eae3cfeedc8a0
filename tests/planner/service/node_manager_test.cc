// NodeService over real gRPC on a loopback ephemeral port (register,
// heartbeat, list, liveness after the timeout, invalid input), and
// NodeManager directly on a MemoryStore (stored versions, a planner restart,
// lost-node listeners) or a GatedStore (reads while a registration writes).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "planner/service/node_manager.h"
#include "planner/service/planner_server.h"
#include "planner/store/memory_store.h"
#include "tests/planner/service/gated_store.h"
#include "tests/support/nodes.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using planner::NodeManager;
using planner::NodeManagerOptions;
using planner::PlannerConfig;
using planner::PlannerServer;
using testing::MakeNode;

constexpr int64_t kHeartbeatIntervalMs = 50;
constexpr int64_t kNodeTimeoutMs = 300;

class NodeFixture {
 public:
  explicit NodeFixture(int64_t node_timeout_ms = kNodeTimeoutMs) {
    PlannerConfig config;
    config.db_path = dir_.File("planner.db");
    config.listen = "127.0.0.1:0";
    config.heartbeat_interval_ms = kHeartbeatIntervalMs;
    config.node_timeout_ms = node_timeout_ms;
    auto server = PlannerServer::Start(config);
    REQUIRE(server.ok());
    server_ = std::move(*server);
    nodes = v1::NodeService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  grpc::Status Register(const v1::Node& node, v1::RegisterNodeResponse* response) {
    v1::RegisterNodeRequest request;
    *request.mutable_node() = node;
    return nodes->RegisterNode(Context().get(), request, response);
  }

  grpc::Status Beat(const std::string& name, const std::string& session) {
    v1::HeartbeatRequest request;
    request.set_cluster("test");
    request.set_node(name);
    request.set_session_id(session);
    v1::HeartbeatResponse response;
    return nodes->Heartbeat(Context().get(), request, &response);
  }

  v1::ListNodesResponse List(const std::string& cluster = "") {
    v1::ListNodesRequest request;
    request.set_cluster(cluster);
    v1::ListNodesResponse response;
    grpc::Status status = nodes->ListNodes(Context().get(), request, &response);
    REQUIRE(status.ok());
    return response;
  }

  v1::NodeState StateOf(const std::string& name) { return Listed(name).state(); }

  v1::Node Listed(const std::string& name) {
    const v1::ListNodesResponse list = List();
    for (const v1::Node& node : list.nodes()) {
      if (node.name() == name) return node;
    }
    return v1::Node();
  }

  std::unique_ptr<v1::NodeService::Stub> nodes;

 private:
  testing::TempDir dir_;
  std::unique_ptr<PlannerServer> server_;
};

}  // namespace

TEST_CASE("NodeService: register, heartbeat, list, lost after the timeout", "[service][nodes]") {
  NodeFixture planner;
  v1::RegisterNodeResponse registered;
  grpc::Status status = planner.Register(MakeNode("n1"), &registered);
  INFO(status.error_message());
  REQUIRE(status.ok());
  CHECK_FALSE(registered.session_id().empty());
  CHECK(registered.heartbeat_interval_ms() == kHeartbeatIntervalMs);
  CHECK(registered.node().state() == v1::NODE_STATE_ALIVE);
  CHECK(registered.node().last_heartbeat().seconds() > 0);

  REQUIRE(planner.Beat("n1", registered.session_id()).ok());
  v1::ListNodesResponse list = planner.List();
  REQUIRE(list.nodes_size() == 1);
  const v1::Node& node = list.nodes(0);
  CHECK(node.name() == "n1");
  CHECK(node.cluster() == "test");
  CHECK(node.host() == "host-n1");
  CHECK(node.cpu_cores() == 8);
  CHECK(node.devices_size() == 2);
  CHECK(node.state() == v1::NODE_STATE_ALIVE);
  CHECK(node.last_heartbeat().seconds() > 0);

  // No more heartbeats: LOST once the timeout has passed.
  CHECK(testing::WaitFor([&] { return planner.StateOf("n1") == v1::NODE_STATE_LOST; },
                         std::chrono::seconds(10)));
  // A late heartbeat of the same session makes it ALIVE again.
  REQUIRE(planner.Beat("n1", registered.session_id()).ok());
  CHECK(planner.StateOf("n1") == v1::NODE_STATE_ALIVE);
}

TEST_CASE("NodeService: heartbeats keep a node alive past the timeout", "[service][nodes]") {
  NodeFixture planner;
  v1::RegisterNodeResponse registered;
  REQUIRE(planner.Register(MakeNode("n1"), &registered).ok());
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(3 * kNodeTimeoutMs);
  bool always_alive = true;
  // Heartbeats every ~10 ms for three timeouts; the node must never read LOST.
  testing::WaitFor(
      [&] {
        REQUIRE(planner.Beat("n1", registered.session_id()).ok());
        always_alive = always_alive && planner.StateOf("n1") == v1::NODE_STATE_ALIVE;
        return std::chrono::steady_clock::now() >= until;
      },
      std::chrono::seconds(30));
  CHECK(always_alive);
}

TEST_CASE("NodeService: unknown or replaced sessions are NOT_FOUND", "[service][nodes]") {
  NodeFixture planner;
  grpc::Status unknown = planner.Beat("n1", "no-such-session");
  CHECK(unknown.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(unknown.error_message(), Catch::Contains("register"));

  v1::RegisterNodeResponse first, second;
  REQUIRE(planner.Register(MakeNode("n1"), &first).ok());
  REQUIRE(planner.Register(MakeNode("n1"), &second).ok());
  CHECK(first.session_id() != second.session_id());
  CHECK(planner.Beat("n1", first.session_id()).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(planner.Beat("n1", second.session_id()).ok());
  CHECK(planner.Beat("n2", second.session_id()).error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("NodeService: invalid registrations name the field", "[service][nodes]") {
  NodeFixture planner;
  auto expect_invalid = [&](const v1::Node& node, const std::string& field) {
    v1::RegisterNodeResponse response;
    grpc::Status status = planner.Register(node, &response);
    INFO(field << ": " << status.error_message());
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(status.error_message(), Catch::StartsWith(field + ":"));
  };
  v1::Node node = MakeNode("Bad Name");
  expect_invalid(node, "node.name");
  node = MakeNode("n1", "");
  expect_invalid(node, "node.cluster");
  node = MakeNode("n1");
  node.clear_host();
  expect_invalid(node, "node.host");
  node = MakeNode("n1", "test", planner::kMaxNodeDevices + 1);
  expect_invalid(node, "node.devices");
  node = MakeNode("n1");
  node.mutable_devices(1)->set_kind(v1::DEVICE_KIND_UNSPECIFIED);
  expect_invalid(node, "node.devices[1].kind");
  node = MakeNode("n1");
  node.mutable_devices(0)->set_memory_bytes(-1);
  expect_invalid(node, "node.devices[0].memory_bytes");
  CHECK(planner.List().nodes_size() == 0);

  v1::ListNodesRequest request;
  request.set_cluster("Bad Cluster");
  v1::ListNodesResponse response;
  grpc::Status status = planner.nodes->ListNodes(planner.Context().get(), request, &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("cluster:"));

  v1::HeartbeatResponse beat;
  v1::HeartbeatRequest empty_session;
  empty_session.set_cluster("test");
  empty_session.set_node("n1");
  status = planner.nodes->Heartbeat(planner.Context().get(), empty_session, &beat);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("session_id:"));
}

// Two agents started with one --node-name used to take the node from each
// other at every heartbeat. Now the second is refused while the first lives.
TEST_CASE("NodeService: a second live agent claiming a node name is ALREADY_EXISTS",
          "[service][nodes]") {
  NodeFixture planner(/*node_timeout_ms=*/2000);
  v1::Node first = MakeNode("n1");
  first.set_agent_instance_id("1111aaaa");
  v1::RegisterNodeResponse registered;
  REQUIRE(planner.Register(first, &registered).ok());
  CHECK(planner.Listed("n1").agent_instance_id() == "1111aaaa");

  v1::Node second = MakeNode("n1");
  second.set_host("other-host");
  second.set_agent_instance_id("2222bbbb");
  REQUIRE(planner.Beat("n1", registered.session_id()).ok());
  v1::RegisterNodeResponse refused;
  grpc::Status status = planner.Register(second, &refused);
  INFO(status.error_message());
  REQUIRE(status.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK_THAT(status.error_message(),
             Catch::Contains("node test/n1") && Catch::Contains("\"host-n1\"") &&
                 Catch::Contains("\"1111aaaa\"") && Catch::Contains("\"other-host\"") &&
                 Catch::Contains("--node-name"));
  // The first agent keeps its session.
  CHECK(planner.Beat("n1", registered.session_id()).ok());

  // The same instance registering again (after a planner hiccup) is fine.
  v1::RegisterNodeResponse again;
  REQUIRE(planner.Register(first, &again).ok());
  CHECK(planner.Beat("n1", again.session_id()).ok());

  // Once the first is LOST, the second may take the name.
  REQUIRE(testing::WaitFor([&] { return planner.StateOf("n1") == v1::NODE_STATE_LOST; },
                           std::chrono::seconds(10)));
  v1::RegisterNodeResponse taken;
  status = planner.Register(second, &taken);
  INFO(status.error_message());
  REQUIRE(status.ok());
  const v1::Node listed = planner.Listed("n1");
  CHECK(listed.state() == v1::NODE_STATE_ALIVE);
  CHECK(listed.agent_instance_id() == "2222bbbb");
  CHECK(listed.host() == "other-host");
}

TEST_CASE("NodeService: agents without an instance id register as before", "[service][nodes]") {
  NodeFixture planner(/*node_timeout_ms=*/2000);
  v1::RegisterNodeResponse one, two;
  REQUIRE(planner.Register(MakeNode("n1"), &one).ok());
  REQUIRE(planner.Register(MakeNode("n1"), &two).ok());
  // The latest registration holds the session.
  CHECK(planner.Beat("n1", two.session_id()).ok());
  CHECK(planner.Beat("n1", one.session_id()).error_code() == grpc::StatusCode::NOT_FOUND);
  // Nor is an old agent refused by, or refusing, one with an id.
  v1::Node with_id = MakeNode("n1");
  with_id.set_agent_instance_id("3333cccc");
  v1::RegisterNodeResponse three, four;
  REQUIRE(planner.Register(with_id, &three).ok());
  REQUIRE(planner.Register(MakeNode("n1"), &four).ok());
}

TEST_CASE("NodeService: list filters by cluster", "[service][nodes]") {
  NodeFixture planner;
  v1::RegisterNodeResponse response;
  REQUIRE(planner.Register(MakeNode("n1", "a"), &response).ok());
  REQUIRE(planner.Register(MakeNode("n2", "a"), &response).ok());
  REQUIRE(planner.Register(MakeNode("n1", "b"), &response).ok());
  CHECK(planner.List().nodes_size() == 3);
  v1::ListNodesResponse a = planner.List("a");
  REQUIRE(a.nodes_size() == 2);
  CHECK(a.nodes(0).name() == "n1");
  CHECK(a.nodes(1).name() == "n2");
  CHECK(planner.List("c").nodes_size() == 0);
}

TEST_CASE("NodeManager stores a new version only when the node changes", "[service][nodes]") {
  store::MemoryStore store;
  NodeManagerOptions options;
  NodeManager nodes(&store, options);
  v1::RegisterNodeRequest request;
  *request.mutable_node() = MakeNode("n1");
  REQUIRE(nodes.Register(request).ok());
  REQUIRE(nodes.Register(request).ok());
  store::ListOptions every_version;
  every_version.latest_only = false;
  CHECK(store.List(store::Table::kNodes, every_version)->size() == 1);

  *request.mutable_node() = MakeNode("n1", "test", 4);
  REQUIRE(nodes.Register(request).ok());
  auto rows = store.List(store::Table::kNodes, every_version);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[1].key == "test/n1");
  CHECK((*rows)[1].tag == "test");
  CHECK((*rows)[1].version == 2);
  auto listed = nodes.List(v1::ListNodesRequest());
  REQUIRE(listed.ok());
  REQUIRE(listed->nodes_size() == 1);
  CHECK(listed->nodes(0).devices_size() == 4);
}

TEST_CASE("After a planner restart stored nodes read LOST until they register",
          "[service][nodes]") {
  store::MemoryStore store;
  NodeManagerOptions options;
  v1::RegisterNodeRequest request;
  *request.mutable_node() = MakeNode("n1");
  std::string session;
  {
    NodeManager before(&store, options);
    auto registered = before.Register(request);
    REQUIRE(registered.ok());
    session = registered->session_id();
  }
  NodeManager after(&store, options);
  auto listed = after.List(v1::ListNodesRequest());
  REQUIRE(listed.ok());
  REQUIRE(listed->nodes_size() == 1);
  CHECK(listed->nodes(0).state() == v1::NODE_STATE_LOST);
  CHECK(listed->nodes(0).registered_at().seconds() > 0);
  v1::HeartbeatRequest beat;
  beat.set_cluster("test");
  beat.set_node("n1");
  beat.set_session_id(session);
  CHECK(after.Beat(beat).status().code() == absl::StatusCode::kNotFound);
  REQUIRE(after.Register(request).ok());
  CHECK(after.List(v1::ListNodesRequest())->nodes(0).state() == v1::NODE_STATE_ALIVE);
}

TEST_CASE("NodeManager tells its listeners once each time a node is lost", "[service][nodes]") {
  store::MemoryStore store;
  NodeManagerOptions options;
  options.node_timeout = absl::Milliseconds(100);
  NodeManager nodes(&store, options);
  absl::Mutex mu;
  std::vector<std::string> lost;  // guarded by mu
  bool consistent = true;         // guarded by mu
  nodes.AddNodeLostListener([&](const v1::Node& node) {
    // Called without NodeManager's lock: reading it back here would
    // deadlock otherwise. The node reads LOST by then.
    const bool alive = nodes.IsAlive(node.cluster(), node.name());
    absl::MutexLock lock(&mu);
    consistent = consistent && !alive && node.state() == v1::NODE_STATE_LOST &&
                 node.host() == "host-" + node.name() && node.last_heartbeat().seconds() > 0;
    lost.push_back(node.name());
  });
  auto times_lost = [&](const std::string& name) {  // with mu held
    return static_cast<int>(std::count(lost.begin(), lost.end(), name));
  };
  // Waits (up to 10 s) until `name` was announced `times` times.
  auto await_lost = [&](const std::string& name, int times) {
    absl::MutexLock lock(&mu);
    auto reached = [&] { return times_lost(name) >= times; };
    return mu.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  };
  auto register_node = [&](const std::string& name) {
    v1::RegisterNodeRequest request;
    *request.mutable_node() = MakeNode(name);
    auto registered = nodes.Register(request);
    REQUIRE(registered.ok());
    return registered->session_id();
  };

  const std::string s1 = register_node("n1");
  REQUIRE(await_lost("n1", 1));
  // The deadline thread runs again for n2's loss; n1 is not announced twice.
  register_node("n2");
  REQUIRE(await_lost("n2", 1));
  {
    absl::MutexLock lock(&mu);
    CHECK(times_lost("n1") == 1);
  }
  // A late heartbeat revives n1; its next loss is announced again.
  v1::HeartbeatRequest beat;
  beat.set_cluster("test");
  beat.set_node("n1");
  beat.set_session_id(s1);
  REQUIRE(nodes.Beat(beat).ok());
  REQUIRE(await_lost("n1", 2));
  nodes.Stop();  // no listener runs after this
  absl::MutexLock lock(&mu);
  CHECK(times_lost("n1") == 2);
  CHECK(times_lost("n2") == 1);
  CHECK(consistent);
}

TEST_CASE("Reads and heartbeats do not wait while a registration is being written",
          "[service][nodes]") {
  testing::GatedStore store(store::Table::kNodes);
  NodeManager nodes(&store, NodeManagerOptions());
  v1::RegisterNodeRequest first;
  *first.mutable_node() = MakeNode("n1");
  auto registered = nodes.Register(first);
  REQUIRE(registered.ok());

  store.Close();  // n2's row is held in the store
  v1::RegisterNodeRequest second;
  *second.mutable_node() = MakeNode("n2");
  absl::StatusOr<v1::RegisterNodeResponse> second_registered;
  std::thread writer([&] { second_registered = nodes.Register(second); });
  REQUIRE(store.AwaitHeld(1, absl::Seconds(10)));

  absl::Mutex mu;
  bool done = false;
  int listed = -1;
  bool beat_ok = false;
  std::thread reader([&] {  // no Catch2 assertion off the main thread
    auto list = nodes.List(v1::ListNodesRequest());
    v1::HeartbeatRequest beat;
    beat.set_cluster("test");
    beat.set_node("n1");
    beat.set_session_id(registered->session_id());
    const bool beat_result = nodes.Beat(beat).ok();
    absl::MutexLock lock(&mu);
    listed = list.ok() ? list->nodes_size() : -1;
    beat_ok = beat_result;
    done = true;
  });
  bool answered = false;
  {
    absl::MutexLock lock(&mu);
    answered = mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
  }
  CHECK(answered);
  CHECK(store.AwaitHeld(1, absl::ZeroDuration()));  // still being written
  store.Open();
  writer.join();
  reader.join();
  CHECK(listed == 1);  // n2 is listed once its row is stored
  CHECK(beat_ok);
  REQUIRE(second_registered.ok());
  CHECK(nodes.List(v1::ListNodesRequest())->nodes_size() == 2);
}

}  // namespace galvatron
