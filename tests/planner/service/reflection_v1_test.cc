// grpc.reflection.v1 over real gRPC: list the services, fetch the file of a
// service and of a symbol with their imports once per stream, and answer
// what it cannot find with an ErrorResponse while the stream goes on.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "planner/service/planner_server.h"
#include "planner/store/memory_store.h"

namespace galvatron {
namespace {

namespace rv1 = ::grpc::reflection::v1;

std::set<std::string> FileNames(const rv1::ServerReflectionResponse& response) {
  std::set<std::string> names;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    REQUIRE(file.ParseFromString(bytes));
    names.insert(file.name());
  }
  return names;
}

}  // namespace

TEST_CASE("A reflection v1 client lists the services and fetches file descriptors") {
  planner::PlannerConfig config;
  config.listen = "127.0.0.1:0";
  auto server = planner::PlannerServer::Start(config, std::make_unique<store::MemoryStore>());
  REQUIRE(server.ok());
  auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
  auto stub = rv1::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&context);
  rv1::ServerReflectionRequest request;
  rv1::ServerReflectionResponse response;

  request.set_list_services("*");
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  REQUIRE(response.has_list_services_response());
  CHECK(response.original_request().list_services() == "*");
  std::set<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.insert(service.name());
  }
  for (const char* name :
       {"galvatron.v1.ModelService", "galvatron.v1.HardwareProfileService",
        "galvatron.v1.ComputeProfileService", "galvatron.v1.PlanService",
        "galvatron.v1.NodeService", "galvatron.v1.TaskService", "galvatron.v1.JobService",
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection"}) {
    INFO(name);
    CHECK(services.count(name) == 1);
  }

  // The file of a service, with its imports (sent once per stream).
  request.set_file_containing_symbol("galvatron.v1.ModelService");
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  REQUIRE(response.has_file_descriptor_response());
  std::set<std::string> files = FileNames(response);
  CHECK(files.count("galvatron/v1/service.proto") == 1);
  CHECK(files.count("galvatron/v1/model.proto") == 1);
  google::protobuf::FileDescriptorProto first;
  REQUIRE(first.ParseFromString(response.file_descriptor_response().file_descriptor_proto(0)));
  CHECK(first.name() == "galvatron/v1/service.proto");
  bool has_model_service = false;
  for (const auto& service : first.service()) has_model_service |= service.name() == "ModelService";
  CHECK(has_model_service);

  // By file name: the file itself again, its imports not again.
  request.set_file_by_filename("galvatron/v1/service.proto");
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  CHECK(FileNames(response) == std::set<std::string>{"galvatron/v1/service.proto"});

  // A method and a nested symbol resolve to their files.
  request.set_file_containing_symbol("galvatron.v1.PlanService.RequestPlan");
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  CHECK(FileNames(response).count("galvatron/v1/service.proto") == 1);

  // What cannot be found is an ErrorResponse; the stream goes on.
  request.set_file_by_filename("no/such.proto");
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  REQUIRE(response.has_error_response());
  CHECK(response.error_response().error_code() == static_cast<int>(grpc::StatusCode::NOT_FOUND));
  request.set_file_containing_symbol("galvatron.v1.NoSuchThing");
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  CHECK(response.error_response().error_code() == static_cast<int>(grpc::StatusCode::NOT_FOUND));
  request.mutable_file_containing_extension()->set_containing_type("galvatron.v1.ModelSpec");
  request.mutable_file_containing_extension()->set_extension_number(1000);
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  CHECK(response.error_response().error_code() == static_cast<int>(grpc::StatusCode::NOT_FOUND));

  // Extension numbers of a type without extensions: none, and the type's name.
  request.set_all_extension_numbers_of_type("galvatron.v1.ModelSpec");
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  REQUIRE(response.has_all_extension_numbers_response());
  CHECK(response.all_extension_numbers_response().base_type_name() == "galvatron.v1.ModelSpec");
  CHECK(response.all_extension_numbers_response().extension_number_size() == 0);

  // A request that asks nothing.
  request.Clear();
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&response));
  CHECK(response.error_response().error_code() ==
        static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));

  REQUIRE(stream->WritesDone());
  CHECK_FALSE(stream->Read(&response));
  CHECK(stream->Finish().ok());
}

}  // namespace galvatron
