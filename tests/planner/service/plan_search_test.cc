// RequestPlan's searches over real gRPC: a search stops when its client
// cancels or its deadline passes, equal requests share one search, the queue
// answers RESOURCE_EXHAUSTED beyond its bounds (per caller: per token name),
// and cheap calls answer while searches run. The searches are big ones
// (LLaMA-2-70B on 1024 synthetic GPUs over a wide batch range, minutes of
// work on any machine) that the tests end themselves.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/json_file.h"
#include "common/rpc_channel.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "planner/service/planner_server.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using planner::PlannerConfig;
using planner::PlannerServer;
using Stats = planner::SearchQueue::Stats;

constexpr absl::Duration kWait = absl::Seconds(60);
// How soon a search must stop once nobody waits for it.
constexpr absl::Duration kStopWithin = absl::Seconds(1);

constexpr char kAliceToken[] = "alice-token-0123456789";
constexpr char kBobToken[] = "bob-token-0123456789ab";

class SearchFixture {
 public:
  explicit SearchFixture(int max_searches, int queue = 4, int per_caller = 0, bool tokens = false) {
    PlannerConfig config;
    config.db_path = dir_.File("planner.db");
    config.listen = "127.0.0.1:0";
    config.max_concurrent_searches = max_searches;
    config.search_queue = queue;
    config.search_queue_per_caller = per_caller;
    if (tokens) {
      REQUIRE(WriteTextFile(dir_.File("tokens"), absl::StrCat("user alice ", kAliceToken, "\n",
                                                              "user bob ", kBobToken, "\n"))
                  .ok());
      config.auth_tokens = dir_.File("tokens");
    }
    auto server = PlannerServer::Start(config);
    REQUIRE(server.ok());
    server_ = std::move(*server);
  }

  PlannerServer& server() { return *server_; }
  planner::SearchQueue& queue() { return server_->plans().search_queue(); }

  std::shared_ptr<grpc::Channel> Channel(const std::string& token = "") {
    ClientCredentials credentials;
    credentials.channel = grpc::InsecureChannelCredentials();
    credentials.token = token;
    return CreatePlannerChannel(server_->address(), credentials, grpc::ChannelArguments());
  }

 private:
  testing::TempDir dir_;
  std::unique_ptr<PlannerServer> server_;
};

// A search of minutes (16 global batches of the 80-layer case that
// docs/benchmarks.md times at 5.6 s each); `step` picks the batch range, so
// different steps are different searches.
v1::PlanRequest BigSearch(int step = 256) {
  v1::PlanRequest request;
  request.set_model("llama2-70b");
  *request.mutable_hardware() = testing::SyntheticCluster("big", 128, 8);
  request.set_memory_budget_bytes(int64_t{80} << 30);
  request.mutable_global_batch_range()->set_min(step);
  request.mutable_global_batch_range()->set_max(4096);
  request.mutable_global_batch_range()->set_step(step);
  request.set_time_limit_seconds(600);
  return request;
}

// One RequestPlan in flight on its own thread; Cancel() stands for a client
// that goes away.
class PendingPlan {
 public:
  PendingPlan(const std::shared_ptr<grpc::Channel>& channel, const v1::PlanRequest& request,
              std::chrono::milliseconds deadline = std::chrono::minutes(10))
      : stub_(v1::PlanService::NewStub(channel)) {
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    result_ = std::async(std::launch::async, [this, request] {
      return stub_->RequestPlan(&context_, request, &plan_);
    });
  }
  ~PendingPlan() {
    context_.TryCancel();
    if (result_.valid()) result_.wait();
  }

  void Cancel() { context_.TryCancel(); }
  grpc::Status Wait() { return result_.get(); }

 private:
  std::unique_ptr<v1::PlanService::Stub> stub_;
  grpc::ClientContext context_;
  v1::Plan plan_;
  std::future<grpc::Status> result_;
};

std::unique_ptr<grpc::ClientContext> Quick() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

}  // namespace

TEST_CASE("RequestPlan: the search stops when its client cancels") {
  SearchFixture f(/*max_searches=*/1);
  PendingPlan call(f.Channel(), BigSearch());
  REQUIRE(f.queue().AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  call.Cancel();
  CHECK(call.Wait().error_code() == grpc::StatusCode::CANCELLED);
  CHECK(f.queue().AwaitStats([](const Stats& s) { return s.running == 0 && s.cancelled == 1; },
                             kStopWithin));
}

TEST_CASE("RequestPlan: the search stops when the call's deadline passes") {
  SearchFixture f(/*max_searches=*/1);
  PendingPlan call(f.Channel(), BigSearch(), std::chrono::milliseconds(1500));
  REQUIRE(f.queue().AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  CHECK(call.Wait().error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(f.queue().AwaitStats([](const Stats& s) { return s.running == 0 && s.cancelled == 1; },
                             kStopWithin));
}

TEST_CASE("RequestPlan: equal requests share one search which goes on while one waits") {
  SearchFixture f(/*max_searches=*/2);
  std::vector<std::unique_ptr<PendingPlan>> calls;
  for (int i = 0; i < 5; ++i) {
    calls.push_back(std::make_unique<PendingPlan>(f.Channel(), BigSearch()));
  }
  REQUIRE(f.queue().AwaitStats(
      [](const Stats& s) { return s.waiting_calls == 5 && s.running == 1; }, kWait));
  Stats stats = f.queue().stats();
  CHECK(stats.started == 1);
  CHECK(stats.shared == 4);
  CHECK(stats.running == 1);

  // The first caller leaves: the search goes on for the four others.
  calls[0]->Cancel();
  CHECK(calls[0]->Wait().error_code() == grpc::StatusCode::CANCELLED);
  REQUIRE(f.queue().AwaitStats([](const Stats& s) { return s.waiting_calls == 4; }, kWait));
  stats = f.queue().stats();
  CHECK(stats.running == 1);
  CHECK(stats.cancelled == 0);

  // Everybody leaves: it stops.
  for (size_t i = 1; i < calls.size(); ++i) calls[i]->Cancel();
  CHECK(f.queue().AwaitStats([](const Stats& s) { return s.running == 0 && s.cancelled == 1; },
                             kStopWithin));
  CHECK(f.queue().stats().started == 1);
}

TEST_CASE("RequestPlan: RESOURCE_EXHAUSTED beyond the queue and beyond a caller's share") {
  SearchFixture f(/*max_searches=*/1, /*queue=*/2, /*per_caller=*/1, /*tokens=*/true);
  auto alice = f.Channel(kAliceToken), bob = f.Channel(kBobToken);
  PendingPlan running(alice, BigSearch(256));
  REQUIRE(f.queue().AwaitStats([](const Stats& s) { return s.running == 1; }, kWait));
  PendingPlan alice_queued(alice, BigSearch(512));
  REQUIRE(f.queue().AwaitStats([](const Stats& s) { return s.queued == 1; }, kWait));

  // Alice's share of the queue is used up; the token's name is the caller.
  auto stub = v1::PlanService::NewStub(alice);
  v1::Plan plan;
  grpc::Status status = stub->RequestPlan(Quick().get(), BigSearch(1024), &plan);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(status.error_message(),
             Catch::Contains("alice has 1") && Catch::Contains("--search-queue-per-caller"));

  // Bob still gets in; then the queue is full for everybody.
  PendingPlan bob_queued(bob, BigSearch(2048));
  REQUIRE(f.queue().AwaitStats([](const Stats& s) { return s.queued == 2; }, kWait));
  stub = v1::PlanService::NewStub(bob);
  status = stub->RequestPlan(Quick().get(), BigSearch(4096), &plan);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(status.error_message(),
             Catch::Contains("--max-concurrent-searches") && Catch::Contains("--search-queue"));
  // A request for a search already queued joins it.
  PendingPlan shared(alice, BigSearch(2048));
  CHECK(f.queue().AwaitStats([](const Stats& s) { return s.shared == 1; }, kWait));
}

TEST_CASE("cheap calls answer while searches run") {
  SearchFixture f(/*max_searches=*/2);
  auto channel = f.Channel();
  PendingPlan first(channel, BigSearch(256)), second(channel, BigSearch(512));
  REQUIRE(f.queue().AwaitStats([](const Stats& s) { return s.running == 2; }, kWait));

  auto models = v1::ModelService::NewStub(channel);
  auto plans = v1::PlanService::NewStub(channel);
  auto nodes = v1::NodeService::NewStub(channel);
  for (int round = 0; round < 5; ++round) {
    v1::ListModelsRequest list;
    list.set_include_builtin(true);
    v1::ListModelsResponse listed;
    REQUIRE(models->ListModels(Quick().get(), list, &listed).ok());
    CHECK(listed.models_size() > 0);
    v1::ListPlansResponse plan_list;
    REQUIRE(plans->ListPlans(Quick().get(), v1::ListPlansRequest(), &plan_list).ok());
    v1::GetPlanRequest get;
    get.set_id("plan-0000");
    v1::Plan plan;
    CHECK(plans->GetPlan(Quick().get(), get, &plan).error_code() == grpc::StatusCode::NOT_FOUND);
    v1::ListNodesResponse node_list;
    REQUIRE(nodes->ListNodes(Quick().get(), v1::ListNodesRequest(), &node_list).ok());
  }
  // The searches were running all along.
  CHECK(f.queue().stats().running == 2);
  CHECK(f.queue().stats().finished == 0);
}

TEST_CASE("RequestPlan: a search that finishes serves every caller and is stored") {
  SearchFixture f(/*max_searches=*/1);
  v1::PlanRequest small;
  small.set_model("gpt-tiny");
  *small.mutable_hardware() = testing::SyntheticCluster("small", 1, 8);
  small.set_memory_budget_bytes(int64_t{8} << 30);
  small.set_global_batch(16);
  auto stub = v1::PlanService::NewStub(f.Channel());
  v1::Plan first, again;
  REQUIRE(stub->RequestPlan(Quick().get(), small, &first).ok());
  REQUIRE(stub->RequestPlan(Quick().get(), small, &again).ok());
  CHECK(first.id() == again.id());
  // The second answer came from the store.
  CHECK(f.queue().stats().started == 1);
  CHECK(f.queue().stats().finished == 1);
}

}  // namespace galvatron
