// Every RPC of the planner over real gRPC on a loopback ephemeral port, backed
// by a SQLite file: the happy path, invalid input (the message names the
// field) and unknown names.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "planner/service/planner_server.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using planner::PlannerConfig;
using planner::PlannerServer;

class PlannerFixture {
 public:
  explicit PlannerFixture(int max_message_bytes = 16 * 1024 * 1024) {
    PlannerConfig config;
    config.db_path = dir_.File("planner.db");
    config.listen = "127.0.0.1:0";
    config.max_message_bytes = max_message_bytes;
    auto server = PlannerServer::Start(config);
    REQUIRE(server.ok());
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    models = v1::ModelService::NewStub(channel_);
    hardware = v1::HardwareProfileService::NewStub(channel_);
    compute = v1::ComputeProfileService::NewStub(channel_);
    plans = v1::PlanService::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  PlannerServer& server() { return *server_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  std::unique_ptr<v1::ModelService::Stub> models;
  std::unique_ptr<v1::HardwareProfileService::Stub> hardware;
  std::unique_ptr<v1::ComputeProfileService::Stub> compute;
  std::unique_ptr<v1::PlanService::Stub> plans;

 private:
  testing::TempDir dir_;
  std::unique_ptr<PlannerServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

v1::ModelSpec TinyModel(const std::string& name) {
  auto spec = CatalogModel("gpt-tiny");
  REQUIRE(spec.has_value());
  spec->set_name(name);
  spec->set_builtin(false);
  return *spec;
}

v1::HardwareProfile SmallCluster(const std::string& cluster) {
  v1::HardwareProfile p;
  p.set_cluster(cluster);
  p.set_num_nodes(1);
  p.set_devices_per_node(8);
  p.mutable_device()->set_kind(v1::DEVICE_KIND_CUDA);
  p.mutable_device()->set_name("NVIDIA A100-SXM4-80GB");
  p.mutable_device()->set_memory_bytes(80LL << 30);
  p.set_overlap_coefficient(1.12);
  p.set_source(v1::PROFILE_SOURCE_MANUAL);
  auto* table = p.add_collectives();
  table->set_collective(v1::COLLECTIVE_ALL_REDUCE);
  table->set_group_size(8);
  table->set_layout(v1::GROUP_LAYOUT_CONSECUTIVE);
  for (int i = 0; i < 3; ++i) {
    auto* s = table->add_samples();
    s->set_bytes(1LL << (20 + i));
    s->set_seconds(1e-4 * (i + 1));
  }
  return p;
}

v1::ComputeProfile TinyComputeProfile(const std::string& cluster) {
  v1::ComputeProfile p;
  p.set_layer_type(LayerTypeKey(*CatalogModel("gpt-tiny"), 0));
  p.set_cluster(cluster);
  p.set_model("gpt-tiny");
  p.set_precision(v1::PRECISION_FP32);
  auto* s = p.add_time_samples();
  s->set_micro_batch(1);
  s->set_seq_len(64);
  s->set_forward_seconds(0.002);
  s->set_backward_seconds(0.004);
  p.set_parameter_count(49984);
  p.set_parameter_bytes(49984 * 4);
  auto* a = p.add_activations();
  a->set_tp_degree(1);
  a->set_seq_len(64);
  a->set_bytes_per_sample(100000);
  a->set_checkpoint_bytes_per_sample(16384);
  p.set_source(v1::PROFILE_SOURCE_MEASURED);
  return p;
}

}  // namespace

TEST_CASE("ModelService: submit, version, get, list, delete") {
  PlannerFixture f;
  v1::SubmitModelRequest submit;
  *submit.mutable_spec() = TinyModel("my-gpt");
  v1::ModelSpec stored;
  REQUIRE(f.models->SubmitModel(f.Context().get(), submit, &stored).ok());
  CHECK(stored.version() == 1);
  CHECK(stored.created_at().seconds() > 0);
  submit.mutable_spec()->set_description("second version");
  REQUIRE(f.models->SubmitModel(f.Context().get(), submit, &stored).ok());
  CHECK(stored.version() == 2);

  v1::GetModelRequest get;
  get.set_name("my-gpt");
  v1::ModelSpec got;
  REQUIRE(f.models->GetModel(f.Context().get(), get, &got).ok());
  CHECK(got.version() == 2);
  CHECK(got.description() == "second version");
  CHECK(got.layers_size() == TinyModel("x").layers_size());
  get.set_version(1);
  REQUIRE(f.models->GetModel(f.Context().get(), get, &got).ok());
  CHECK(got.version() == 1);
  CHECK(got.description() != "second version");

  // A catalog model by name.
  get.set_name("llama2-7b");
  get.set_version(0);
  REQUIRE(f.models->GetModel(f.Context().get(), get, &got).ok());
  CHECK(got.builtin());
  CHECK(got.layers(0).hidden() == 4096);

  v1::ListModelsRequest list;
  v1::ListModelsResponse listed;
  REQUIRE(f.models->ListModels(f.Context().get(), list, &listed).ok());
  REQUIRE(listed.models_size() == 1);
  CHECK(listed.models(0).name() == "my-gpt");
  CHECK(listed.models(0).version() == 2);

  list.set_include_builtin(true);
  REQUIRE(f.models->ListModels(f.Context().get(), list, &listed).ok());
  CHECK(listed.models_size() == static_cast<int>(CatalogModelNames().size()) + 1);

  // Paging one at a time visits every model once, in name order.
  list.set_page_size(1);
  std::vector<std::string> names;
  do {
    REQUIRE(f.models->ListModels(f.Context().get(), list, &listed).ok());
    REQUIRE(listed.models_size() <= 1);
    for (const auto& m : listed.models()) names.push_back(m.name());
    list.set_page_token(listed.next_page_token());
  } while (!list.page_token().empty());
  CHECK(names.size() == CatalogModelNames().size() + 1);
  CHECK(std::is_sorted(names.begin(), names.end()));

  v1::DeleteModelRequest del;
  del.set_name("my-gpt");
  v1::DeleteModelResponse deleted;
  REQUIRE(f.models->DeleteModel(f.Context().get(), del, &deleted).ok());
  CHECK(deleted.versions_deleted() == 2);
  get.set_name("my-gpt");
  auto status = f.models->GetModel(f.Context().get(), get, &got);
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("ModelService: invalid input names the field, unknown names are NOT_FOUND") {
  PlannerFixture f;
  v1::SubmitModelRequest submit;
  *submit.mutable_spec() = TinyModel("bad-gpt");
  submit.mutable_spec()->mutable_layers(0)->set_heads(0);
  v1::ModelSpec stored;
  auto status = f.models->SubmitModel(f.Context().get(), submit, &stored);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("layers[0].heads: 0"));

  *submit.mutable_spec() = TinyModel("gpt2-small");
  status = f.models->SubmitModel(f.Context().get(), submit, &stored);
  CHECK(status.error_code() == grpc::StatusCode::ALREADY_EXISTS);

  *submit.mutable_spec() = TinyModel("Not A Name");
  status = f.models->SubmitModel(f.Context().get(), submit, &stored);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("name:"));

  v1::GetModelRequest get;
  get.set_name("no-such-model");
  v1::ModelSpec got;
  status = f.models->GetModel(f.Context().get(), get, &got);
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(status.error_message(), Catch::Contains("no-such-model"));

  v1::DeleteModelRequest del;
  del.set_name("no-such-model");
  v1::DeleteModelResponse deleted;
  CHECK(f.models->DeleteModel(f.Context().get(), del, &deleted).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  del.set_name("gpt2-small");
  CHECK(f.models->DeleteModel(f.Context().get(), del, &deleted).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);

  v1::ListModelsRequest list;
  list.set_page_size(5000);
  v1::ListModelsResponse listed;
  status = f.models->ListModels(f.Context().get(), list, &listed);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("page_size: 5000"));
  list.set_page_size(0);
  list.set_page_token("%%%not-a-token");
  status = f.models->ListModels(f.Context().get(), list, &listed);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("page_token:"));
}

TEST_CASE("Requests over the size limit are refused") {
  PlannerFixture f(64 * 1024);
  v1::SubmitModelRequest submit;
  *submit.mutable_spec() = TinyModel("big-gpt");
  submit.mutable_spec()->set_description(std::string(100 * 1024, 'x'));
  v1::ModelSpec stored;
  auto status = f.models->SubmitModel(f.Context().get(), submit, &stored);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Too many layer groups is a count limit of the spec itself.
  *submit.mutable_spec() = TinyModel("many-groups");
  for (int i = 0; i < 100; ++i) *submit.mutable_spec()->add_layers() = submit.spec().layers(0);
  status = f.models->SubmitModel(f.Context().get(), submit, &stored);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("layers:"));
}

TEST_CASE("HardwareProfileService: put with history, get, list") {
  PlannerFixture f;
  v1::PutHardwareProfileRequest put;
  *put.mutable_profile() = SmallCluster("a100x8");
  v1::HardwareProfile stored;
  REQUIRE(f.hardware->PutHardwareProfile(f.Context().get(), put, &stored).ok());
  CHECK(stored.id() == "hw-a100x8-1");
  put.mutable_profile()->set_overlap_coefficient(1.3);
  REQUIRE(f.hardware->PutHardwareProfile(f.Context().get(), put, &stored).ok());
  CHECK(stored.id() == "hw-a100x8-2");
  CHECK(stored.version() == 2);
  *put.mutable_profile() = SmallCluster("h100x8");
  REQUIRE(f.hardware->PutHardwareProfile(f.Context().get(), put, &stored).ok());

  v1::GetHardwareProfileRequest get;
  get.set_cluster("a100x8");
  v1::HardwareProfile got;
  REQUIRE(f.hardware->GetHardwareProfile(f.Context().get(), get, &got).ok());
  CHECK(got.version() == 2);
  CHECK(got.overlap_coefficient() == Approx(1.3));
  CHECK(got.collectives(0).samples_size() == 3);
  get.Clear();
  get.set_id("hw-a100x8-1");
  REQUIRE(f.hardware->GetHardwareProfile(f.Context().get(), get, &got).ok());
  CHECK(got.overlap_coefficient() == Approx(1.12));

  v1::ListHardwareProfilesRequest list;
  v1::ListHardwareProfilesResponse listed;
  REQUIRE(f.hardware->ListHardwareProfiles(f.Context().get(), list, &listed).ok());
  REQUIRE(listed.profiles_size() == 2);  // latest of each cluster
  CHECK(listed.profiles(0).id() == "hw-a100x8-2");
  CHECK(listed.profiles(1).id() == "hw-h100x8-1");
  list.set_cluster("a100x8");
  REQUIRE(f.hardware->ListHardwareProfiles(f.Context().get(), list, &listed).ok());
  REQUIRE(listed.profiles_size() == 2);  // history
  CHECK(listed.profiles(0).version() == 1);
  CHECK(listed.profiles(1).version() == 2);
}

TEST_CASE("HardwareProfileService: invalid input and not found") {
  PlannerFixture f;
  v1::PutHardwareProfileRequest put;
  *put.mutable_profile() = SmallCluster("a100x8");
  put.mutable_profile()->set_num_nodes(0);
  v1::HardwareProfile stored;
  auto status = f.hardware->PutHardwareProfile(f.Context().get(), put, &stored);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("num_nodes: 0"));

  *put.mutable_profile() = SmallCluster("a100x8");
  put.mutable_profile()->mutable_collectives(0)->mutable_samples(1)->set_seconds(-1);
  status = f.hardware->PutHardwareProfile(f.Context().get(), put, &stored);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("collectives[0].samples[1].seconds: -1"));

  v1::GetHardwareProfileRequest get;
  get.set_cluster("nowhere");
  v1::HardwareProfile got;
  status = f.hardware->GetHardwareProfile(f.Context().get(), get, &got);
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(status.error_message(), Catch::Contains("nowhere"));
  get.Clear();
  get.set_id("hw-nowhere-3");
  CHECK(f.hardware->GetHardwareProfile(f.Context().get(), get, &got).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  get.Clear();
  status = f.hardware->GetHardwareProfile(f.Context().get(), get, &got);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("id:"));
}

TEST_CASE("ComputeProfileService: put, get, list by cluster and model") {
  PlannerFixture f;
  v1::PutComputeProfileRequest put;
  *put.mutable_profile() = TinyComputeProfile("cpu4");
  v1::ComputeProfile stored;
  REQUIRE(f.compute->PutComputeProfile(f.Context().get(), put, &stored).ok());
  CHECK_THAT(stored.id(), Catch::StartsWith("cp-cpu4-"));
  CHECK(stored.version() == 1);
  put.mutable_profile()->set_cluster("cpu8");
  v1::ComputeProfile other;
  REQUIRE(f.compute->PutComputeProfile(f.Context().get(), put, &other).ok());
  put.mutable_profile()->set_cluster("cpu4");
  put.mutable_profile()->set_layer_type(LayerTypeKey(*CatalogModel("llama-tiny"), 0));
  REQUIRE(f.compute->PutComputeProfile(f.Context().get(), put, &other).ok());

  v1::GetComputeProfileRequest get;
  get.set_id(stored.id());
  v1::ComputeProfile got;
  REQUIRE(f.compute->GetComputeProfile(f.Context().get(), get, &got).ok());
  CHECK(got.layer_type() == stored.layer_type());
  CHECK(got.time_samples(0).forward_seconds() == Approx(0.002));
  get.Clear();
  get.set_layer_type(stored.layer_type());
  get.set_cluster("cpu4");
  REQUIRE(f.compute->GetComputeProfile(f.Context().get(), get, &got).ok());
  CHECK(got.id() == stored.id());

  v1::ListComputeProfilesRequest list;
  v1::ListComputeProfilesResponse listed;
  REQUIRE(f.compute->ListComputeProfiles(f.Context().get(), list, &listed).ok());
  CHECK(listed.profiles_size() == 3);
  list.set_cluster("cpu4");
  REQUIRE(f.compute->ListComputeProfiles(f.Context().get(), list, &listed).ok());
  CHECK(listed.profiles_size() == 2);
  list.set_model("gpt-tiny");
  REQUIRE(f.compute->ListComputeProfiles(f.Context().get(), list, &listed).ok());
  REQUIRE(listed.profiles_size() == 1);
  CHECK(listed.profiles(0).id() == stored.id());
}

TEST_CASE("ComputeProfileService: invalid input and not found") {
  PlannerFixture f;
  v1::PutComputeProfileRequest put;
  *put.mutable_profile() = TinyComputeProfile("cpu4");
  put.mutable_profile()->mutable_time_samples(0)->set_forward_seconds(-1);
  v1::ComputeProfile stored;
  auto status = f.compute->PutComputeProfile(f.Context().get(), put, &stored);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("time_samples[0].forward_seconds: -1"));

  v1::GetComputeProfileRequest get;
  get.set_layer_type("gpt_decoder:nothing");
  get.set_cluster("cpu4");
  v1::ComputeProfile got;
  CHECK(f.compute->GetComputeProfile(f.Context().get(), get, &got).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  get.Clear();
  get.set_id("cp-cpu4-0000000000-1");
  CHECK(f.compute->GetComputeProfile(f.Context().get(), get, &got).error_code() ==
        grpc::StatusCode::NOT_FOUND);

  v1::ListComputeProfilesRequest list;
  list.set_model("no-such-model");
  v1::ListComputeProfilesResponse listed;
  CHECK(f.compute->ListComputeProfiles(f.Context().get(), list, &listed).error_code() ==
        grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("PlanService: get and list stored plans") {
  PlannerFixture f;
  v1::Plan plan;
  plan.set_id("plan-0123abcd");
  plan.set_model("gpt-tiny");
  plan.set_cluster("cpu4");
  plan.set_world_size(4);
  plan.set_pp(1);
  plan.set_global_batch(8);
  plan.set_micro_batches(1);
  for (int i = 0; i < 4; ++i) {
    auto* layer = plan.add_layers();
    layer->set_tp(1);
    layer->set_dp(4);
    layer->set_dp_type(v1::DATA_PARALLEL_TYPE_ZERO3);
  }
  auto stored = f.server().plans().Store(plan);
  REQUIRE(stored.ok());
  CHECK(stored->second);
  // Content-addressed: the same id again keeps the first.
  plan.set_global_batch(16);
  auto again = f.server().plans().Store(plan);
  REQUIRE(again.ok());
  CHECK_FALSE(again->second);
  CHECK(again->first.global_batch() == 8);

  v1::GetPlanRequest get;
  get.set_id("plan-0123abcd");
  v1::Plan got;
  REQUIRE(f.plans->GetPlan(f.Context().get(), get, &got).ok());
  CHECK(got.layers_size() == 4);
  CHECK(got.global_batch() == 8);

  v1::ListPlansRequest list;
  list.set_model("gpt-tiny");
  v1::ListPlansResponse listed;
  REQUIRE(f.plans->ListPlans(f.Context().get(), list, &listed).ok());
  CHECK(listed.plans_size() == 1);
  list.set_model("llama-tiny");
  REQUIRE(f.plans->ListPlans(f.Context().get(), list, &listed).ok());
  CHECK(listed.plans_size() == 0);

  get.set_id("plan-ffff");
  CHECK(f.plans->GetPlan(f.Context().get(), get, &got).error_code() == grpc::StatusCode::NOT_FOUND);
  get.set_id("Bad Id!");
  auto status = f.plans->GetPlan(f.Context().get(), get, &got);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("id:"));
}

TEST_CASE("gRPC health checking reports SERVING") {
  PlannerFixture f;
  grpc::GenericStub stub(f.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // grpc.health.v1.HealthCheckRequest{service: ""} serialises to no bytes.
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(s); });
  auto future = done.get_future();
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  REQUIRE(future.get().ok());
  std::vector<grpc::Slice> slices;
  REQUIRE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status: SERVING (1)} = field 1, varint 1.
  CHECK(bytes == std::string("\x08\x01", 2));
}

}  // namespace galvatron

namespace galvatron {

TEST_CASE("PlanService: RequestPlan searches once and returns the stored plan after") {
  PlannerFixture f;
  v1::PutHardwareProfileRequest put;
  *put.mutable_profile() = testing::SyntheticCluster("synthetic", 1, 8);
  v1::HardwareProfile stored;
  REQUIRE(f.hardware->PutHardwareProfile(f.Context().get(), put, &stored).ok());

  v1::PlanRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("synthetic");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  request.set_global_batch(8);
  v1::Plan first, second;
  grpc::Status status = f.plans->RequestPlan(f.Context().get(), request, &first);
  INFO(status.error_message());
  REQUIRE(status.ok());
  CHECK_THAT(first.id(), Catch::StartsWith("plan-"));
  CHECK(first.layers_size() == 4);
  CHECK(first.prediction().samples_per_second() > 0);
  CHECK(first.prediction().analytic_estimate());  // no compute profiles stored
  CHECK(first.hardware_profile_id() == "hw-synthetic-1");
  REQUIRE(f.plans->RequestPlan(f.Context().get(), request, &second).ok());
  CHECK(second.id() == first.id());
  CHECK(second.created_at().seconds() == first.created_at().seconds());
  CHECK(second.created_at().nanos() == first.created_at().nanos());

  v1::ListPlansRequest list;
  v1::ListPlansResponse listed;
  REQUIRE(f.plans->ListPlans(f.Context().get(), list, &listed).ok());
  CHECK(listed.plans_size() == 1);

  // A new hardware profile version is a different input: a new plan.
  put.mutable_profile()->set_overlap_coefficient(1.3);
  REQUIRE(f.hardware->PutHardwareProfile(f.Context().get(), put, &stored).ok());
  v1::Plan third;
  REQUIRE(f.plans->RequestPlan(f.Context().get(), request, &third).ok());
  CHECK(third.id() != first.id());
}

TEST_CASE("PlanService: RequestPlan errors name the field or the reason") {
  PlannerFixture f;
  v1::PutHardwareProfileRequest put;
  *put.mutable_profile() = testing::SyntheticCluster("synthetic", 1, 8);
  v1::HardwareProfile stored;
  REQUIRE(f.hardware->PutHardwareProfile(f.Context().get(), put, &stored).ok());
  v1::Plan plan;

  v1::PlanRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("nowhere");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  request.set_global_batch(8);
  auto status = f.plans->RequestPlan(f.Context().get(), request, &plan);
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(status.error_message(), Catch::Contains("nowhere"));

  request.set_cluster("synthetic");
  request.set_memory_budget_bytes(0);
  status = f.plans->RequestPlan(f.Context().get(), request, &plan);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("memory_budget_bytes: 0"));

  request.set_memory_budget_bytes(int64_t{4} << 30);
  request.clear_global_batch();
  status = f.plans->RequestPlan(f.Context().get(), request, &plan);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("global_batch"));

  request.set_model("llama2-70b");
  request.set_global_batch(8);
  request.set_memory_budget_bytes(int64_t{2} << 30);
  status = f.plans->RequestPlan(f.Context().get(), request, &plan);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(status.error_message(), Catch::Contains("no plan fits"));
}

}  // namespace galvatron
