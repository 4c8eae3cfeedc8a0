// TaskManager on a MemoryStore, driven the way agents and clients drive it:
// task creation and its checks, the long poll, the two-phase hand-out of a
// multi-node task (rank 0 first, the others once its store address is
// known), progress, results stored as profiles, failures, cancellation, lost
// nodes, a planner restart, and the measuring a plan request starts. On a
// GatedStore: readers answer while a task's row is being written, and a
// change that cannot be stored fails its task.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/model_manager.h"
#include "planner/service/node_manager.h"
#include "planner/service/plan_manager.h"
#include "planner/service/task_manager.h"
#include "planner/store/memory_store.h"
#include "tests/planner/service/gated_store.h"
#include "tests/support/nodes.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using planner::TaskManager;
using testing::MakeNode;

struct Planner {
  explicit Planner(store::Store* store, absl::Duration node_timeout = absl::Seconds(30))
      : nodes(store,
              [&] {
                planner::NodeManagerOptions options;
                options.node_timeout = node_timeout;
                return options;
              }()),
        models(store),
        hardware(store),
        compute(store, &models),
        tasks(store, &nodes, &models, &hardware, &compute) {
    REQUIRE(tasks.Start().ok());
    // Wired as PlannerServer wires it.
    nodes.AddNodeLostListener([this](const v1::Node& node) { tasks.OnNodeLost(node); });
  }
  // The listener uses `tasks`, destroyed before `nodes`.
  ~Planner() { nodes.Stop(); }

  // Registers the node; its session id.
  std::string Register(const v1::Node& node) {
    v1::RegisterNodeRequest request;
    *request.mutable_node() = node;
    auto response = nodes.Register(request);
    REQUIRE(response.ok());
    return response->session_id();
  }

  v1::PollTaskResponse Poll(const std::string& node, const std::string& session,
                            int64_t wait_ms = 0) {
    v1::PollTaskRequest request;
    request.set_cluster("test");
    request.set_node(node);
    request.set_session_id(session);
    request.set_wait_ms(wait_ms);
    auto response = tasks.Poll(request);
    REQUIRE(response.ok());
    return *response;
  }

  absl::StatusOr<v1::ReportTaskResponse> Report(const std::string& task, const std::string& node,
                                                const std::string& session, v1::TaskState state,
                                                double progress = 0) {
    v1::ReportTaskRequest request;
    request.set_task_id(task);
    request.set_cluster("test");
    request.set_node(node);
    request.set_session_id(session);
    request.set_state(state);
    request.set_progress(progress);
    return tasks.Report(request);
  }

  v1::Task Get(const std::string& id) {
    v1::GetTaskRequest request;
    request.set_id(id);
    auto response = tasks.Get(request);
    REQUIRE(response.ok());
    return response->task();
  }

  planner::NodeManager nodes;
  planner::ModelManager models;
  planner::HardwareProfileManager hardware;
  planner::ComputeProfileManager compute;
  TaskManager tasks;
};

v1::CreateTaskRequest ProbeRequest() {
  v1::CreateTaskRequest request;
  request.set_kind(v1::TASK_KIND_PROBE);
  request.set_cluster("test");
  return request;
}

// A valid measured profile of the whole "test" cluster (2 nodes × 2).
v1::HardwareProfile MeasuredHardware() {
  v1::HardwareProfile profile = testing::SyntheticCluster("test", 2, 2);
  profile.set_cluster("test");
  return profile;
}

}  // namespace

TEST_CASE("Creating a task needs alive nodes and valid specs", "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store);
  auto none = p.tasks.Create(ProbeRequest());
  REQUIRE(absl::IsFailedPrecondition(none.status()));
  CHECK_THAT(std::string(none.status().message()),
             Catch::Contains("no alive node") && Catch::Contains("galvatron-agent"));

  p.Register(MakeNode("n1"));
  v1::CreateTaskRequest bad = ProbeRequest();
  bad.mutable_probe()->set_backend("mpi");
  auto rejected = p.tasks.Create(bad);
  REQUIRE(absl::IsInvalidArgument(rejected.status()));
  CHECK_THAT(std::string(rejected.status().message()), Catch::Contains("probe.backend"));

  bad = ProbeRequest();
  bad.mutable_probe()->set_min_bytes(1 << 20);
  bad.mutable_probe()->set_max_bytes(1 << 10);
  CHECK(absl::IsInvalidArgument(p.tasks.Create(bad).status()));

  bad = ProbeRequest();
  bad.add_nodes("n9");
  auto unknown = p.tasks.Create(bad);
  REQUIRE(absl::IsFailedPrecondition(unknown.status()));
  CHECK_THAT(std::string(unknown.status().message()), Catch::Contains("\"n9\""));

  bad = ProbeRequest();
  bad.set_kind(v1::TASK_KIND_UNSPECIFIED);
  CHECK(absl::IsInvalidArgument(p.tasks.Create(bad).status()));

  v1::CreateTaskRequest profile;
  profile.set_kind(v1::TASK_KIND_PROFILE);
  profile.set_cluster("test");
  profile.set_model("no-such-model");
  CHECK(absl::IsNotFound(p.tasks.Create(profile).status()));

  p.Register(MakeNode("n2", "test", 4));
  auto uneven = p.tasks.Create(ProbeRequest());
  REQUIRE(absl::IsFailedPrecondition(uneven.status()));
  CHECK_THAT(std::string(uneven.status().message()), Catch::Contains("same number of devices"));
}

TEST_CASE("A two-node probe goes to rank 0 first, then to the others, and stores its result",
          "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store);
  const std::string s1 = p.Register(MakeNode("n1"));
  const std::string s2 = p.Register(MakeNode("n2"));
  auto created = p.tasks.Create(ProbeRequest());
  REQUIRE(created.ok());
  const std::string id = created->id();
  CHECK(id == "task-1");
  CHECK(created->state() == v1::TASK_STATE_PENDING);
  REQUIRE(created->nodes_size() == 2);
  CHECK(created->world_size() == 4);
  CHECK(created->nodes(0).node() == "n1");
  CHECK(created->nodes(1).first_rank() == 2);

  // n2 must wait for rank 0's store.
  CHECK_FALSE(p.Poll("n2", s2).has_task());
  v1::PollTaskResponse first = p.Poll("n1", s1);
  REQUIRE(first.has_task());
  CHECK(first.task().id() == id);
  CHECK(first.node_index() == 0);
  CHECK(p.Get(id).state() == v1::TASK_STATE_RUNNING);

  // A waiting poll of n2 returns as soon as the address is reported.
  std::thread waiter([&] {
    v1::PollTaskResponse second = p.Poll("n2", s2, 10000);
    CHECK(second.has_task());
    CHECK(second.node_index() == 1);
    CHECK(second.task().store_address() == "host-n1:29500");
  });
  v1::ReportTaskRequest address;
  address.set_task_id(id);
  address.set_cluster("test");
  address.set_node("n1");
  address.set_session_id(s1);
  address.set_state(v1::TASK_STATE_RUNNING);
  address.set_progress(0.25);
  address.set_progress_message("all-reduce");
  address.set_store_address("host-n1:29500");
  REQUIRE(p.tasks.Report(address).ok());
  waiter.join();
  CHECK(p.Get(id).progress_message() == "n1: all-reduce");

  // The other node may finish first; the task succeeds when both have.
  REQUIRE(p.Report(id, "n2", s2, v1::TASK_STATE_SUCCEEDED, 1).ok());
  CHECK(p.Get(id).state() == v1::TASK_STATE_RUNNING);
  v1::ReportTaskRequest done = address;
  done.set_state(v1::TASK_STATE_SUCCEEDED);
  done.set_progress(1);
  *done.mutable_hardware() = MeasuredHardware();
  auto response = p.tasks.Report(done);
  REQUIRE(response.ok());
  CHECK_FALSE(response->cancel());
  v1::Task finished = p.Get(id);
  CHECK(finished.state() == v1::TASK_STATE_SUCCEEDED);
  REQUIRE(finished.result_ids_size() == 1);
  CHECK(finished.result_ids(0) == "hw-test-1");
  v1::GetHardwareProfileRequest get;
  get.set_cluster("test");
  auto stored = p.hardware.Get(get);
  REQUIRE(stored.ok());
  CHECK(stored->source() == v1::PROFILE_SOURCE_MEASURED);
  // Every state change was stored: created, running, n2 done, succeeded.
  store::ListOptions every;
  every.latest_only = false;
  CHECK(store.List(store::Table::kTasks, every)->size() >= 4);
}

TEST_CASE("A failed node fails the task and the others are told to stop", "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store);
  const std::string s1 = p.Register(MakeNode("n1"));
  const std::string s2 = p.Register(MakeNode("n2"));
  const std::string id = p.tasks.Create(ProbeRequest())->id();
  REQUIRE(p.Poll("n1", s1).has_task());
  v1::ReportTaskRequest address;
  address.set_task_id(id);
  address.set_cluster("test");
  address.set_node("n1");
  address.set_session_id(s1);
  address.set_state(v1::TASK_STATE_RUNNING);
  address.set_store_address("127.0.0.1:1");
  REQUIRE(p.tasks.Report(address).ok());
  REQUIRE(p.Poll("n2", s2).has_task());
  v1::ReportTaskRequest failed = address;
  failed.set_node("n2");
  failed.set_session_id(s2);
  failed.set_state(v1::TASK_STATE_FAILED);
  failed.set_message("rank 3 exit code 1");
  failed.clear_store_address();
  REQUIRE(p.tasks.Report(failed).ok());
  v1::Task task = p.Get(id);
  CHECK(task.state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(task.message(), Catch::Contains("node n2") && Catch::Contains("rank 3 exit code 1"));
  auto told = p.Report(id, "n1", s1, v1::TASK_STATE_RUNNING, 0.5);
  REQUIRE(told.ok());
  CHECK(told->cancel());
}

TEST_CASE("A rejected result fails the task with the reason", "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store);
  const std::string s1 = p.Register(MakeNode("n1"));
  const std::string id = p.tasks.Create(ProbeRequest())->id();
  REQUIRE(p.Poll("n1", s1).has_task());
  auto response = p.Report(id, "n1", s1, v1::TASK_STATE_SUCCEEDED, 1);  // no profile
  REQUIRE(response.ok());
  CHECK(response->cancel());
  v1::Task task = p.Get(id);
  CHECK(task.state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(task.message(), Catch::Contains("rejected") && Catch::Contains("hardware"));
}

TEST_CASE("Cancelling, a lost node and a bad session", "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store, absl::Milliseconds(300));
  const std::string s1 = p.Register(MakeNode("n1"));
  const std::string cancelled = p.tasks.Create(ProbeRequest())->id();
  REQUIRE(p.Poll("n1", s1).has_task());
  auto after = p.tasks.Cancel(cancelled);
  REQUIRE(after.ok());
  CHECK(after->state() == v1::TASK_STATE_CANCELLED);
  auto told = p.Report(cancelled, "n1", s1, v1::TASK_STATE_RUNNING);
  REQUIRE(told.ok());
  CHECK(told->cancel());

  // A report under an unknown session: register again and send it anew.
  const absl::Status stale_report =
      p.Report(cancelled, "n1", "not-the-session", v1::TASK_STATE_RUNNING).status();
  CHECK(absl::IsAborted(stale_report));
  CHECK_THAT(std::string(stale_report.message()), Catch::Contains("register again"));
  v1::PollTaskRequest stale;
  stale.set_cluster("test");
  stale.set_node("n1");
  stale.set_session_id("not-the-session");
  CHECK(absl::IsNotFound(p.tasks.Poll(stale).status()));

  // No heartbeat: the node is lost and its running task fails.
  const std::string lost = p.tasks.Create(ProbeRequest())->id();
  REQUIRE(p.Poll("n1", s1).has_task());
  REQUIRE(testing::WaitFor([&] { return p.Get(lost).state() == v1::TASK_STATE_FAILED; },
                           std::chrono::seconds(10)));
  CHECK_THAT(p.Get(lost).message(), Catch::Contains("n1") && Catch::Contains("lost"));
}

TEST_CASE("An agent that polls again while its part runs fails that task", "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store);
  const std::string s1 = p.Register(MakeNode("n1"));
  const std::string id = p.tasks.Create(ProbeRequest())->id();
  REQUIRE(p.Poll("n1", s1).has_task());
  const std::string s1b = p.Register(MakeNode("n1"));  // the agent restarted
  CHECK_FALSE(p.Poll("n1", s1b).has_task());
  CHECK(p.Get(id).state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(p.Get(id).message(), Catch::Contains("restarted"));
}

TEST_CASE("A planner restart fails the tasks in flight and keeps numbering", "[service][tasks]") {
  store::MemoryStore store;
  std::string running;
  {
    Planner p(&store);
    const std::string s1 = p.Register(MakeNode("n1"));
    running = p.tasks.Create(ProbeRequest())->id();
    REQUIRE(p.Poll("n1", s1).has_task());
  }
  Planner again(&store);
  v1::Task task = again.Get(running);
  CHECK(task.state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(task.message(), Catch::Contains("planner restarted"));
  again.Register(MakeNode("n1"));
  CHECK(again.tasks.Create(ProbeRequest())->id() == "task-2");
  v1::ListTasksRequest list;
  auto listed = again.tasks.List(list);
  REQUIRE(listed.ok());
  REQUIRE(listed->tasks_size() == 2);
  CHECK(listed->tasks(0).id() == "task-2");  // newest first
}

TEST_CASE("A plan request on a cluster with agents measures what it lacks", "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store);
  planner::PlanManager plans(&store, &p.models, &p.hardware, &p.compute, {}, &p.tasks);
  v1::PlanRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("test");
  request.set_memory_budget_bytes(int64_t{8} << 30);
  request.set_global_batch(8);

  // No agent: nothing can be measured; the hardware profile is missing.
  auto missing = plans.Request(request);
  REQUIRE(absl::IsNotFound(missing.status()));
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("galvatron-agent"));

  const std::string s1 = p.Register(MakeNode("n1"));
  auto measuring = plans.Request(request);
  REQUIRE(absl::IsFailedPrecondition(measuring.status()));
  CHECK_THAT(std::string(measuring.status().message()),
             Catch::Contains("task-1") && Catch::Contains("galvatron tasks wait"));
  // Asked again, it names the same tasks instead of starting new ones.
  auto again = p.tasks.MeasureMissing(*p.models.Get("gpt-tiny", 0), "test", "test");
  REQUIRE(again.ok());
  CHECK(again->hardware_missing());
  CHECK(again->missing_layer_types_size() == 2);
  REQUIRE(again->tasks_size() == 2);
  CHECK(again->tasks(0).id() == "task-1");
  CHECK(again->tasks(0).kind() == v1::TASK_KIND_PROBE);
  CHECK(again->tasks(1).kind() == v1::TASK_KIND_PROFILE);
  CHECK(again->tasks(1).profile().model().name() == "gpt-tiny");

  // With a hardware profile, the compute profiles are still measured unless
  // the request asks for estimates.
  v1::HardwareProfile one_node = testing::SyntheticCluster("test", 1, 2);
  one_node.set_cluster("test");
  REQUIRE(p.hardware.Put(one_node).ok());
  auto still = plans.Request(request);
  REQUIRE(absl::IsFailedPrecondition(still.status()));
  CHECK_THAT(std::string(still.status().message()), Catch::Contains("compute profile"));
  request.set_estimate_missing(true);
  auto estimated = plans.Request(request);
  REQUIRE(estimated.ok());
  CHECK(estimated->pp() >= 1);
}

}  // namespace galvatron

namespace galvatron {

TEST_CASE("Readers do not wait while a task's row is being written", "[service][tasks]") {
  testing::GatedStore store(store::Table::kTasks);
  Planner p(&store);
  const std::string s1 = p.Register(MakeNode("n1"));
  const std::string id = p.tasks.Create(ProbeRequest())->id();

  // The cancellation's write is held in the store, as a slow fsync would.
  store.Close();
  absl::StatusOr<v1::Task> cancelled;
  std::thread writer([&] { cancelled = p.tasks.Cancel(id); });
  REQUIRE(store.AwaitHeld(1, absl::Seconds(10)));

  // Meanwhile every reader answers; they see the change in memory.
  absl::Mutex mu;
  bool read = false;
  v1::Task seen;
  int listed = -1;
  bool polled_nothing = false;
  std::thread reader([&] {  // no Catch2 assertion off the main thread
    v1::GetTaskRequest get;
    get.set_id(id);
    auto task = p.tasks.Get(get);
    auto list = p.tasks.List(v1::ListTasksRequest());
    v1::PollTaskRequest poll;  // the task's node looks for work
    poll.set_cluster("test");
    poll.set_node("n1");
    poll.set_session_id(s1);
    auto polled = p.tasks.Poll(poll);
    absl::MutexLock lock(&mu);
    if (task.ok()) seen = task->task();
    listed = list.ok() ? list->tasks_size() : -1;
    polled_nothing = polled.ok() && !polled->has_task();
    read = true;
  });
  bool answered = false;
  {
    absl::MutexLock lock(&mu);
    answered = mu.AwaitWithTimeout(absl::Condition(&read), absl::Seconds(10));
  }
  CHECK(answered);
  CHECK(store.AwaitHeld(1, absl::ZeroDuration()));  // the write is still held
  store.Open();
  writer.join();
  reader.join();
  CHECK(seen.state() == v1::TASK_STATE_CANCELLED);
  CHECK(listed == 1);
  CHECK(polled_nothing);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->state() == v1::TASK_STATE_CANCELLED);
  // Written, and off the board: the store has the final state.
  auto row = store.Get(store::Table::kTasks, id, 0);
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  v1::Task stored;
  REQUIRE(stored.ParseFromString((*row)->payload));
  CHECK(stored.state() == v1::TASK_STATE_CANCELLED);
}

TEST_CASE("A task whose change cannot be stored fails", "[service][tasks]") {
  testing::GatedStore store(store::Table::kTasks);
  Planner p(&store);
  const std::string s1 = p.Register(MakeNode("n1"));
  const std::string id = p.tasks.Create(ProbeRequest())->id();
  store.FailNext();  // the hand-out's write
  v1::PollTaskRequest poll;
  poll.set_cluster("test");
  poll.set_node("n1");
  poll.set_session_id(s1);
  auto polled = p.tasks.Poll(poll);
  REQUIRE(absl::IsUnavailable(polled.status()));
  v1::Task task = p.Get(id);
  CHECK(task.state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(task.message(), Catch::Contains("cannot store"));
  // The failure itself was stored (the store took the next write).
  auto row = store.Get(store::Table::kTasks, id, 0);
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  v1::Task stored;
  REQUIRE(stored.ParseFromString((*row)->payload));
  CHECK(stored.state() == v1::TASK_STATE_FAILED);
  // A failed creation is an error for its caller.
  store.FailNext();
  CHECK(absl::IsUnavailable(p.tasks.Create(ProbeRequest()).status()));
}

TEST_CASE("A lost node fails only the tasks with an unfinished part on it", "[service][tasks]") {
  store::MemoryStore store;
  Planner p(&store);
  p.Register(MakeNode("n1"));
  p.Register(MakeNode("n2"));
  v1::CreateTaskRequest on_n1 = ProbeRequest();
  on_n1.add_nodes("n1");
  v1::CreateTaskRequest on_n2 = ProbeRequest();
  on_n2.add_nodes("n2");
  const std::string pending = p.tasks.Create(on_n1)->id();
  const std::string other = p.tasks.Create(on_n2)->id();
  // Called as NodeManager's deadline thread calls it.
  p.tasks.OnNodeLost(MakeNode("n1"));
  v1::Task failed = p.Get(pending);
  CHECK(failed.state() == v1::TASK_STATE_FAILED);
  CHECK_THAT(failed.message(),
             Catch::Contains("node n1 of cluster test was lost") && Catch::Contains("pending"));
  CHECK(p.Get(other).state() == v1::TASK_STATE_PENDING);
  // Same name, another cluster: not this node.
  p.tasks.OnNodeLost(MakeNode("n2", "elsewhere"));
  CHECK(p.Get(other).state() == v1::TASK_STATE_PENDING);
}

}  // namespace galvatron
