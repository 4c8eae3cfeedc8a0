// Crash safety: a client writes 200 records while the planner is killed with
// SIGKILL at a random point; after a restart on the same file every write the
// client saw acknowledged is there.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/model_catalog.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

constexpr int kRecords = 200;

std::unique_ptr<grpc::ClientContext> Context(int seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

v1::ModelSpec Record(int i) {
  v1::ModelSpec spec = *CatalogModel("gpt-tiny");
  spec.set_builtin(false);
  spec.set_name("crash-" + std::to_string(i));
  spec.set_description("record " + std::to_string(i));
  return spec;
}

v1::HardwareProfile HardwareRecord(int i) {
  v1::HardwareProfile p;
  p.set_cluster("crash-cluster");
  p.set_num_nodes(1);
  p.set_devices_per_node(4);
  p.set_measured_by("record " + std::to_string(i));
  return p;
}

}  // namespace

TEST_CASE("acknowledged writes survive SIGKILL of the planner") {
  testing::TempDir dir;
  const std::string db = dir.File("planner.db");
  std::mt19937 rng(std::random_device{}());
  const int kill_after = std::uniform_int_distribution<int>(10, kRecords - 20)(rng);
  INFO("killing after " << kill_after << " acknowledged writes");

  // What the planner acknowledged, written by the client thread.
  struct Acknowledged {
    absl::Mutex mu;
    std::set<int> models ABSL_GUARDED_BY(mu);
    std::set<std::string> profile_ids ABSL_GUARDED_BY(mu);
  } acknowledged;
  int next = 0;
  {
    testing::PlannerProcess planner(db, dir.path());
    auto channel = grpc::CreateChannel(planner.address(), grpc::InsecureChannelCredentials());
    auto models = v1::ModelService::NewStub(channel);
    auto hardware = v1::HardwareProfileService::NewStub(channel);
    std::atomic<int> acked{0};
    // The client writes alternately models and hardware-profile versions and
    // records what the planner acknowledged, until the planner is gone.
    std::thread client([&] {
      for (int i = 0; i < kRecords; ++i) {
        grpc::Status status;
        if (i % 2 == 0) {
          v1::SubmitModelRequest request;
          *request.mutable_spec() = Record(i);
          v1::ModelSpec response;
          status = models->SubmitModel(Context(5).get(), request, &response);
          if (status.ok()) {
            absl::MutexLock lock(&acknowledged.mu);
            acknowledged.models.insert(i);
          }
        } else {
          v1::PutHardwareProfileRequest request;
          *request.mutable_profile() = HardwareRecord(i);
          v1::HardwareProfile response;
          status = hardware->PutHardwareProfile(Context(5).get(), request, &response);
          if (status.ok()) {
            absl::MutexLock lock(&acknowledged.mu);
            acknowledged.profile_ids.insert(response.id());
          }
        }
        if (!status.ok()) {
          next = i;
          return;
        }
        ++acked;
      }
      next = kRecords;
    });
    // Spin rather than poll so the kill lands within microseconds of the
    // chosen write, while the client still has writes in flight.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (acked.load() < kill_after && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    REQUIRE(acked.load() >= kill_after);
    planner.process().Signal(SIGKILL);
    CHECK(planner.process().Wait(std::chrono::seconds(10)) == 128 + SIGKILL);
    client.join();
  }
  std::set<int> acked_models;
  std::set<std::string> acked_profile_ids;
  {
    absl::MutexLock lock(&acknowledged.mu);
    acked_models = acknowledged.models;
    acked_profile_ids = acknowledged.profile_ids;
  }
  REQUIRE(next < kRecords);  // the kill landed while the client was writing
  REQUIRE(static_cast<int>(acked_models.size() + acked_profile_ids.size()) >= kill_after);

  // Restart on the same file: every acknowledged write is there.
  testing::PlannerProcess planner(db, dir.path());
  auto channel = grpc::CreateChannel(planner.address(), grpc::InsecureChannelCredentials());
  auto models = v1::ModelService::NewStub(channel);
  auto hardware = v1::HardwareProfileService::NewStub(channel);
  for (int i : acked_models) {
    v1::GetModelRequest request;
    request.set_name("crash-" + std::to_string(i));
    v1::ModelSpec response;
    grpc::Status status = models->GetModel(Context(10).get(), request, &response);
    INFO("model crash-" << i << ": " << status.error_message());
    REQUIRE(status.ok());
    CHECK(response.description() == "record " + std::to_string(i));
  }
  for (const std::string& id : acked_profile_ids) {
    v1::GetHardwareProfileRequest request;
    request.set_id(id);
    v1::HardwareProfile response;
    grpc::Status status = hardware->GetHardwareProfile(Context(10).get(), request, &response);
    INFO("hardware profile " << id << ": " << status.error_message());
    REQUIRE(status.ok());
  }
  // The client finishes its 200 writes on the restarted planner.
  for (int i = next; i < kRecords; ++i) {
    v1::SubmitModelRequest request;
    *request.mutable_spec() = Record(i);
    v1::ModelSpec response;
    REQUIRE(models->SubmitModel(Context(10).get(), request, &response).ok());
  }
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

}  // namespace galvatron
