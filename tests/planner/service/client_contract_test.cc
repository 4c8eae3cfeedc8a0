// What a client of any language relies on (docs/api.md), over real gRPC on
// a loopback ephemeral port: error details in the grpc-status-details-bin
// trailer, health per service and NOT_SERVING at shutdown, one listening
// socket, list pages that fit a default client's 4 MiB, and ListModels
// saying what include_builtin left out.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/model_catalog.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "planner/service/planner_server.h"
#include "planner/service/resource_rows.h"
#include "planner/store/memory_store.h"

namespace galvatron {
namespace {

using planner::PlannerConfig;
using planner::PlannerServer;

std::unique_ptr<PlannerServer> StartPlanner() {
  PlannerConfig config;
  config.listen = "127.0.0.1:0";
  auto server = PlannerServer::Start(config, std::make_unique<store::MemoryStore>());
  REQUIRE(server.ok());
  return std::move(*server);
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

// grpc.health.v1.HealthCheckRequest{service}: field 1, a string.
grpc::ByteBuffer HealthRequest(const std::string& service) {
  std::string bytes;
  if (!service.empty()) bytes = absl::StrCat("\x0a", std::string(1, char(service.size())), service);
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  REQUIRE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

const std::string kServing("\x08\x01", 2);     // HealthCheckResponse{status: SERVING}
const std::string kNotServing("\x08\x02", 2);  // HealthCheckResponse{status: NOT_SERVING}
const std::string kUnknown("\x08\x03", 2);     // SERVICE_UNKNOWN (Watch only)

// One grpc.health.v1.Health/Check: the response bytes, or the error.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::string* bytes) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request = HealthRequest(service);
  grpc::ByteBuffer response;
  grpc::Status status;
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  REQUIRE(cq.Next(&tag, &ok));
  if (status.ok()) *bytes = Bytes(response);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// The local ports of the TCP sockets in LISTEN state that this process
// holds, from /proc/self/fd and /proc/net/tcp{,6}.
std::multiset<int> ListeningPorts() {
  std::set<std::string> inodes;
  DIR* dir = opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  while (dirent* entry = readdir(dir)) {
    char target[256] = {};
    const std::string path = absl::StrCat("/proc/self/fd/", entry->d_name);
    const ssize_t n = readlink(path.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    absl::string_view link(target, n);
    if (absl::ConsumePrefix(&link, "socket:[") && absl::ConsumeSuffix(&link, "]")) {
      inodes.insert(std::string(link));
    }
  }
  closedir(dir);
  std::multiset<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() < 10 || fields[3] != "0A" || inodes.count(fields[9]) == 0) continue;
      int port = 0;
      REQUIRE(absl::SimpleHexAtoi(fields[1].substr(fields[1].rfind(':') + 1), &port));
      ports.insert(port);
    }
  }
  return ports;
}

int PortOf(const std::string& address) {
  int port = 0;
  REQUIRE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
  return port;
}

}  // namespace

TEST_CASE("INVALID_ARGUMENT carries a google.rpc.BadRequest a client reads from the trailer") {
  auto server = StartPlanner();
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto models = v1::ModelService::NewStub(channel);
  v1::ListModelsRequest list;
  list.set_page_size(5000);
  v1::ListModelsResponse listed;
  grpc::Status status = models->ListModels(Context().get(), list, &listed);
  REQUIRE(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("page_size: 5000"));

  // What grpcio's rpc_status.from_call and grpc-js's status details read.
  google::rpc::Status details;
  REQUIRE(details.ParseFromString(status.error_details()));
  CHECK(details.code() == static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  CHECK(details.message() == status.error_message());
  REQUIRE(details.details_size() == 1);
  google::rpc::BadRequest bad_request;
  REQUIRE(details.details(0).UnpackTo(&bad_request));
  REQUIRE(bad_request.field_violations_size() == 2);
  CHECK(bad_request.field_violations(0).field() == "page_size");
  CHECK(bad_request.field_violations(1).field() == "pageSize");
  CHECK_THAT(bad_request.field_violations(0).description(), Catch::StartsWith("5000"));

  // NOT_FOUND stays text only.
  v1::GetModelRequest get;
  get.set_name("no-such-model");
  v1::ModelSpec got;
  status = models->GetModel(Context().get(), get, &got);
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(status.error_details().empty());
}

TEST_CASE("Health is SERVING per service and NOT_SERVING once shutdown begins") {
  auto server = StartPlanner();
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  for (const std::string& service :
       {std::string(""), std::string("galvatron.v1.ModelService"),
        std::string("galvatron.v1.HardwareProfileService"),
        std::string("galvatron.v1.ComputeProfileService"), std::string("galvatron.v1.PlanService"),
        std::string("galvatron.v1.NodeService"), std::string("galvatron.v1.TaskService"),
        std::string("galvatron.v1.JobService")}) {
    INFO(service);
    std::string bytes;
    REQUIRE(HealthCheck(channel, service, &bytes).ok());
    CHECK(bytes == kServing);
  }
  std::string bytes;
  CHECK(HealthCheck(channel, "galvatron.v1.NoSuchService", &bytes).error_code() ==
        grpc::StatusCode::NOT_FOUND);

  // A watcher of one service sees SERVING, then NOT_SERVING when shutdown
  // begins, before the port closes.
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto call = stub.PrepareCall(&context, "/grpc.health.v1.Health/Watch", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](void* expected) {
    REQUIRE(cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::seconds(10)) ==
            grpc::CompletionQueue::GOT_EVENT);
    CHECK(tag == expected);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  REQUIRE(step(reinterpret_cast<void*>(1)));
  call->WriteLast(HealthRequest("galvatron.v1.PlanService"), grpc::WriteOptions(),
                  reinterpret_cast<void*>(2));
  REQUIRE(step(reinterpret_cast<void*>(2)));
  grpc::ByteBuffer update;
  call->Read(&update, reinterpret_cast<void*>(3));
  REQUIRE(step(reinterpret_cast<void*>(3)));
  CHECK(Bytes(update) == kServing);

  std::thread stopper([&server] { server->Shutdown(absl::Seconds(10)); });
  call->Read(&update, reinterpret_cast<void*>(4));
  REQUIRE(step(reinterpret_cast<void*>(4)));
  CHECK(Bytes(update) == kNotServing);
  context.TryCancel();  // ends the watch, so the shutdown need not wait for it
  grpc::Status finished;
  call->Finish(&finished, reinterpret_cast<void*>(5));
  step(reinterpret_cast<void*>(5));
  stopper.join();
  server->Wait();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_CASE("Port 0 opens exactly one listening socket: the reported one") {
  REQUIRE(ListeningPorts().empty());
  auto server = StartPlanner();
  const std::multiset<int> ports = ListeningPorts();
  INFO(server->address());
  REQUIRE(ports.size() == 1);
  CHECK(*ports.begin() == PortOf(server->address()));
  // And it serves.
  std::string bytes;
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  REQUIRE(HealthCheck(channel, "", &bytes).ok());
}

TEST_CASE("List pages stay under 3 MiB for a client with the default 4 MiB limit") {
  auto server = StartPlanner();
  // Ten plans of about 1 MiB each: 10 MiB in all, more than any one
  // message a default client accepts.
  constexpr int kPlans = 10;
  for (int i = 0; i < kPlans; ++i) {
    v1::Plan plan;
    plan.set_id(absl::StrCat("plan-big", i));
    plan.set_model("gpt-tiny");
    plan.set_cluster("lab");
    plan.mutable_prediction()->set_note(std::string(1 << 20, 'a' + i));
    REQUIRE(server->plans().Store(plan).ok());
  }
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto plans = v1::PlanService::NewStub(channel);
  v1::ListPlansRequest request;
  std::set<std::string> seen;
  int pages = 0;
  do {
    v1::ListPlansResponse page;
    grpc::Status status = plans->ListPlans(Context().get(), request, &page);
    REQUIRE(status.ok());
    ++pages;
    CHECK(page.ByteSizeLong() <= planner::kMaxPageBytes + 1024);
    CHECK(page.plans_size() >= 1);
    for (const v1::Plan& plan : page.plans()) CHECK(seen.insert(plan.id()).second);
    request.set_page_token(page.next_page_token());
    REQUIRE(pages <= kPlans);
  } while (!request.page_token().empty());
  CHECK(seen.size() == kPlans);
  CHECK(pages >= 4);  // at most 2 of 1 MiB fit under 3 MiB with their framing

  // A page size of 1 still pages by count.
  request.set_page_token("");
  request.set_page_size(1);
  v1::ListPlansResponse one;
  REQUIRE(plans->ListPlans(Context().get(), request, &one).ok());
  CHECK(one.plans_size() == 1);
  CHECK_FALSE(one.next_page_token().empty());
}

TEST_CASE("ListModels says how many catalog models include_builtin left out") {
  auto server = StartPlanner();
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto models = v1::ModelService::NewStub(channel);
  v1::ListModelsRequest request;
  v1::ListModelsResponse response;
  REQUIRE(models->ListModels(Context().get(), request, &response).ok());
  CHECK(response.models_size() == 0);
  CHECK(response.builtin_models_omitted() == static_cast<int>(CatalogModelNames().size()));
  request.set_include_builtin(true);
  REQUIRE(models->ListModels(Context().get(), request, &response).ok());
  CHECK(response.models_size() == static_cast<int>(CatalogModelNames().size()));
  CHECK(response.builtin_models_omitted() == 0);
}

}  // namespace galvatron
