// Who may do what, over real gRPC on loopback: the token file, the table of
// every RPC (against the services' descriptors and the README), each role
// against each RPC, tokens limited to a cluster, owners of models and jobs,
// profile rollback and pinning, TLS and mutual TLS, and the planner that
// refuses to serve beyond loopback without TLS or tokens.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "common/rpc_channel.h"
#include "common/token_file.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "planner/service/access.h"
#include "planner/service/planner_server.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using planner::Access;
using planner::PlannerConfig;
using planner::PlannerServer;
using planner::RpcRules;

constexpr char kAdminToken[] = "admin-token-0123456789";
constexpr char kUserToken[] = "alice-token-0123456789";
constexpr char kOtherUserToken[] = "bob-token-0123456789ab";
constexpr char kAgentToken[] = "agent-token-0123456789";
constexpr char kClusterAgentToken[] = "agent-c1-token-012345";
constexpr char kViewerToken[] = "viewer-token-012345678";

std::string TokenFileText() {
  return absl::StrCat("# roles of the test cluster\n", "admin root ", kAdminToken, "\n",
                      "user alice ", kUserToken, "\n", "user bob ", kOtherUserToken,
                      "  # a comment\n", "agent any-agent ", kAgentToken, "\n", "agent c1-agent ",
                      kClusterAgentToken, " c1\n", "\n", "viewer watcher ", kViewerToken, "\n");
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address, const std::string& token,
                                       std::shared_ptr<grpc::ChannelCredentials> tls = nullptr) {
  ClientCredentials credentials;
  credentials.channel = tls ? tls : grpc::InsecureChannelCredentials();
  credentials.token = token;
  return CreatePlannerChannel(address, credentials, grpc::ChannelArguments());
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

// Calls "/galvatron.v1.<method>" with an empty request.
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel, absl::string_view method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, absl::StrCat("/galvatron.v1.", method), grpc::StubOptions(), &request,
                 &response, [&done](grpc::Status s) { done.set_value(s); });
  auto future = done.get_future();
  REQUIRE(future.wait_for(std::chrono::seconds(15)) == std::future_status::ready);
  return future.get();
}

bool Denied(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         s.error_code() == grpc::StatusCode::PERMISSION_DENIED;
}

class SecureFixture {
 public:
  explicit SecureFixture(bool tokens = true) {
    PlannerConfig config;
    config.db_path = dir_.File("planner.db");
    config.listen = "127.0.0.1:0";
    if (tokens) {
      REQUIRE(WriteTextFile(TokenFile(), TokenFileText()).ok());
      config.auth_tokens = TokenFile();
    }
    auto server = PlannerServer::Start(config);
    REQUIRE(server.ok());
    server_ = std::move(*server);
  }

  std::string TokenFile() const { return dir_.File("tokens"); }
  PlannerServer& server() { return *server_; }
  std::shared_ptr<grpc::Channel> As(const std::string& token) {
    return Channel(server_->address(), token);
  }

 private:
  testing::TempDir dir_;
  std::unique_ptr<PlannerServer> server_;
};

TEST_CASE("The token file names the line and field of each mistake and never a token") {
  auto parsed = ParseTokenFile(TokenFileText());
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 6);
  CHECK((*parsed)[0].role == Role::kAdmin);
  CHECK((*parsed)[0].name == "root");
  CHECK((*parsed)[2].name == "bob");
  CHECK((*parsed)[2].line == 4);
  CHECK((*parsed)[4].cluster == "c1");

  auto error = [](const std::string& text) {
    auto result = ParseTokenFile(text);
    REQUIRE_FALSE(result.ok());
    return std::string(result.status().message());
  };
  CHECK_THAT(error("\n\nroot admin x0123456789abcdef\n"),
             Catch::Contains("line 3") && Catch::Contains("ROLE \"root\""));
  CHECK_THAT(error("user alice short\n"),
             Catch::Contains("TOKEN of alice: 5 characters") && !Catch::Contains("short"));
  CHECK_THAT(error("user alice 0123456789abcdefgh\nuser bob 0123456789abcdefgh\n"),
             Catch::Contains("line 2") && Catch::Contains("unique"));
  CHECK_THAT(error("admin root 0123456789abcdefgh c1\n"),
             Catch::Contains("CLUSTER") && Catch::Contains("admin"));
  CHECK_THAT(error("user al/ice 0123456789abcdefgh\n"), Catch::Contains("NAME"));
  CHECK_THAT(error("user alice\n"), Catch::Contains("2 fields"));
  CHECK_THAT(error("agent a 0123456789abcdefgh ../c1\n"), Catch::Contains("CLUSTER"));
  // A UTF-8 byte order mark is not part of the first role.
  CHECK(ParseTokenFile("\xEF\xBB\xBFviewer v 0123456789abcdefgh\n").ok());

  auto client = ParseClientToken("# mine\n  0123456789abcdefgh  \n");
  REQUIRE(client.ok());
  CHECK(*client == "0123456789abcdefgh");
  CHECK(*ParseClientToken("user alice 0123456789abcdefgh c1\n") == "0123456789abcdefgh");
  CHECK_FALSE(ParseClientToken("# nothing\n").ok());
}

// The services as compiled, method by method.
std::set<std::string> ServedMethods() {
  std::set<std::string> methods;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* file :
       {"galvatron/v1/service.proto", "galvatron/v1/task.proto", "galvatron/v1/job.proto"}) {
    const auto* descriptor = pool->FindFileByName(file);
    REQUIRE(descriptor != nullptr);
    for (int s = 0; s < descriptor->service_count(); ++s) {
      const auto* service = descriptor->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        methods.insert(absl::StrCat(service->name(), "/", service->method(m)->name()));
      }
    }
  }
  return methods;
}

TEST_CASE("Every RPC has exactly one access rule and one row in the README's table") {
  std::set<std::string> ruled;
  for (const auto& rule : RpcRules()) {
    CHECK(ruled.insert(std::string(rule.method)).second);  // no method twice
  }
  CHECK(ruled == ServedMethods());

  // README rows: | `Service/Method` | role | scope |
  std::ifstream readme(testing::SourceDir() + "/README.md");
  REQUIRE(readme.good());
  std::map<std::string, std::string> rows;
  std::regex row_pattern(R"(^\| `([A-Za-z]+Service/[A-Za-z]+)` \| ([a-z]+) \|)");
  std::string line;
  while (std::getline(readme, line)) {
    std::smatch match;
    if (std::regex_search(line, match, row_pattern)) {
      INFO(line);
      CHECK(rows.emplace(match[1].str(), match[2].str()).second);  // one row each
    }
  }
  for (const auto& rule : RpcRules()) {
    INFO(rule.method);
    auto row = rows.find(std::string(rule.method));
    REQUIRE(row != rows.end());
    CHECK(row->second == std::string(planner::AccessName(rule.access)));
  }
  CHECK(rows.size() == RpcRules().size());
}

TEST_CASE("Each role against each RPC") {
  SecureFixture f;
  struct Caller {
    const char* token;
    Role role;
  };
  for (const auto& rule : RpcRules()) {
    INFO(rule.method);
    // No token, and a token the planner does not know.
    grpc::Status none = CallEmpty(f.As(""), rule.method);
    CHECK(none.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK_THAT(none.error_message(), Catch::Contains("no bearer token"));
    grpc::Status wrong = CallEmpty(f.As("not-a-known-token-0123"), rule.method);
    CHECK(wrong.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK_THAT(wrong.error_message(), !Catch::Contains("not-a-known-token"));
    for (const Caller& caller :
         {Caller{kViewerToken, Role::kViewer}, Caller{kAgentToken, Role::kAgent},
          Caller{kUserToken, Role::kUser}, Caller{kAdminToken, Role::kAdmin}}) {
      INFO(RoleName(caller.role));
      const bool allowed = rule.access == Access::kRead || caller.role == Role::kAdmin ||
                           (rule.access == Access::kUser && caller.role == Role::kUser) ||
                           (rule.access == Access::kAgent && caller.role == Role::kAgent);
      grpc::Status status = CallEmpty(f.As(caller.token), rule.method);
      if (allowed) {
        // Past the check: the empty request is judged on its merits.
        CHECK_FALSE(Denied(status));
      } else {
        CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
        CHECK_THAT(status.error_message(),
                   Catch::Contains(std::string(planner::AccessName(rule.access)) + " role") &&
                       Catch::Contains(std::string(RoleName(caller.role))));
      }
    }
  }
}

TEST_CASE("A token limited to a cluster acts on that cluster only") {
  SecureFixture f;
  auto agent = v1::NodeService::NewStub(f.As(kClusterAgentToken));
  v1::RegisterNodeRequest request;
  request.mutable_node()->set_name("n1");
  request.mutable_node()->set_cluster("c2");
  request.mutable_node()->set_host("n1.example");
  request.mutable_node()->set_cpu_cores(2);
  request.mutable_node()->set_memory_bytes(int64_t{1} << 30);
  auto* device = request.mutable_node()->add_devices();
  device->set_kind(v1::DEVICE_KIND_CPU);
  device->set_name("cpu");
  device->set_memory_bytes(int64_t{1} << 30);
  v1::RegisterNodeResponse response;
  grpc::Status other = agent->RegisterNode(Context().get(), request, &response);
  CHECK(other.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(other.error_message(), Catch::Contains("limited to cluster c1"));
  request.mutable_node()->set_cluster("c1");
  grpc::Status own = agent->RegisterNode(Context().get(), request, &response);
  CHECK(own.ok());
  INFO(own.error_message());

  // A bogus profile for someone else's cluster: refused for the c1 agent
  // and for users; the profile in force is unchanged.
  auto hardware_as = [&](const char* token) {
    return v1::HardwareProfileService::NewStub(f.As(token));
  };
  v1::PutHardwareProfileRequest put;
  *put.mutable_profile() = testing::SyntheticCluster("a100x8", 1, 8);
  v1::HardwareProfile stored;
  REQUIRE(hardware_as(kAdminToken)->PutHardwareProfile(Context().get(), put, &stored).ok());
  CHECK(stored.uploaded_by() == "root");
  put.mutable_profile()->set_overlap_coefficient(1.9);
  CHECK(hardware_as(kClusterAgentToken)
            ->PutHardwareProfile(Context().get(), put, &stored)
            .error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(hardware_as(kUserToken)->PutHardwareProfile(Context().get(), put, &stored).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  v1::GetHardwareProfileRequest get;
  get.set_cluster("a100x8");
  v1::HardwareProfile latest;
  REQUIRE(hardware_as(kViewerToken)->GetHardwareProfile(Context().get(), get, &latest).ok());
  CHECK(latest.version() == 1);
}

TEST_CASE("Users change only the models and jobs they own") {
  SecureFixture f;
  auto models_as = [&](const char* token) { return v1::ModelService::NewStub(f.As(token)); };
  v1::SubmitModelRequest submit;
  auto catalog = f.server().models().Get("gpt-tiny", 0);
  REQUIRE(catalog.ok());
  *submit.mutable_spec() = *catalog;
  submit.mutable_spec()->set_name("alices-model");
  submit.mutable_spec()->clear_builtin();
  submit.mutable_spec()->set_owner("mallory");  // output only: ignored
  v1::ModelSpec stored;
  REQUIRE(models_as(kUserToken)->SubmitModel(Context().get(), submit, &stored).ok());
  CHECK(stored.owner() == "alice");

  v1::DeleteModelRequest remove;
  remove.set_name("alices-model");
  v1::DeleteModelResponse removed;
  grpc::Status by_bob = models_as(kOtherUserToken)->DeleteModel(Context().get(), remove, &removed);
  CHECK(by_bob.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(by_bob.error_message(), Catch::Contains("belongs to alice"));
  // Nor may bob add a version of alice's model.
  CHECK(models_as(kOtherUserToken)->SubmitModel(Context().get(), submit, &stored).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  CHECK(models_as(kViewerToken)->DeleteModel(Context().get(), remove, &removed).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  REQUIRE(models_as(kUserToken)->DeleteModel(Context().get(), remove, &removed).ok());
  CHECK(removed.versions_deleted() == 1);
  // An admin may delete anyone's.
  submit.mutable_spec()->set_name("bobs-model");
  REQUIRE(models_as(kOtherUserToken)->SubmitModel(Context().get(), submit, &stored).ok());
  remove.set_name("bobs-model");
  CHECK(models_as(kAdminToken)->DeleteModel(Context().get(), remove, &removed).ok());

  // Jobs: bob may not cancel alice's job; alice may.
  auto jobs_as = [&](const char* token) { return v1::JobService::NewStub(f.As(token)); };
  v1::SubmitJobRequest job_request;
  job_request.set_model("gpt-tiny");
  job_request.set_cluster("c1");
  job_request.set_memory_budget_bytes(int64_t{1} << 30);
  job_request.set_global_batch(4);
  job_request.mutable_training()->set_steps(2);
  v1::Job job;
  grpc::Status submitted = jobs_as(kUserToken)->SubmitJob(Context().get(), job_request, &job);
  INFO(submitted.error_message());
  REQUIRE(submitted.ok());
  CHECK(job.owner() == "alice");
  v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  grpc::Status bob_cancels = jobs_as(kOtherUserToken)->CancelJob(Context().get(), cancel, &job);
  CHECK(bob_cancels.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(bob_cancels.error_message(), Catch::Contains("belongs to alice"));
  REQUIRE(jobs_as(kUserToken)->CancelJob(Context().get(), cancel, &job).ok());
  CHECK(job.state() == v1::JOB_STATE_CANCELLED);
}

TEST_CASE("A hardware profile can be rolled back and a plan can pin a version") {
  SecureFixture f;
  auto hardware = v1::HardwareProfileService::NewStub(f.As(kAdminToken));
  v1::PutHardwareProfileRequest put;
  *put.mutable_profile() = testing::SyntheticCluster("a100x8", 1, 8);
  v1::HardwareProfile good, bogus, restored;
  REQUIRE(hardware->PutHardwareProfile(Context().get(), put, &good).ok());
  // A profile whose collectives are 1000x slower (imported by mistake).
  for (auto& table : *put.mutable_profile()->mutable_collectives()) {
    for (auto& sample : *table.mutable_samples()) sample.set_seconds(sample.seconds() * 1000);
    table.set_bus_bandwidth_bytes_per_second(table.bus_bandwidth_bytes_per_second() / 1000);
  }
  REQUIRE(hardware->PutHardwareProfile(Context().get(), put, &bogus).ok());
  CHECK(bogus.version() == 2);

  auto plans = v1::PlanService::NewStub(f.As(kUserToken));
  v1::PlanRequest request;
  request.set_model("gpt2-medium");
  request.set_cluster("a100x8");
  request.set_memory_budget_bytes(int64_t{40} << 30);
  request.set_global_batch(64);
  request.set_estimate_missing(true);
  request.set_time_limit_seconds(60);
  v1::Plan latest_plan, pinned_plan, after_rollback;
  REQUIRE(plans->RequestPlan(Context().get(), request, &latest_plan).ok());
  CHECK(latest_plan.hardware_profile_id() == bogus.id());
  request.set_hardware_profile_version(1);
  REQUIRE(plans->RequestPlan(Context().get(), request, &pinned_plan).ok());
  CHECK(pinned_plan.hardware_profile_id() == good.id());
  CHECK(pinned_plan.prediction().samples_per_second() >
        latest_plan.prediction().samples_per_second());
  request.set_hardware_profile_version(7);
  v1::Plan missing;
  CHECK(plans->RequestPlan(Context().get(), request, &missing).error_code() ==
        grpc::StatusCode::NOT_FOUND);

  // Users may not roll back; admins may.
  v1::RollbackHardwareProfileRequest rollback;
  rollback.set_cluster("a100x8");
  rollback.set_version(1);
  auto as_user = v1::HardwareProfileService::NewStub(f.As(kUserToken));
  CHECK(as_user->RollbackHardwareProfile(Context().get(), rollback, &restored).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  REQUIRE(hardware->RollbackHardwareProfile(Context().get(), rollback, &restored).ok());
  CHECK(restored.version() == 3);
  CHECK(restored.restored_from_version() == 1);
  CHECK(restored.uploaded_by() == "root");
  request.set_hardware_profile_version(0);
  REQUIRE(plans->RequestPlan(Context().get(), request, &after_rollback).ok());
  // The same figures as version 1: the same plan (stored, naming the version
  // it was first made from).
  CHECK(after_rollback.id() == pinned_plan.id());
  CHECK(after_rollback.hardware_profile_id() == good.id());
}

TEST_CASE("A compute profile can be rolled back") {
  SecureFixture f(false);  // without tokens: an anonymous admin
  const std::string key = ModelLayerTypeKeys(*CatalogModel("gpt-tiny")).front();
  auto missing = f.server().compute_profiles().Rollback("c1", key, 1, "");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  auto bad_key = f.server().compute_profiles().Rollback("c1", "../../etc/passwd", 1, "");
  CHECK(bad_key.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Reloading the token file takes new tokens and keeps the old ones on a bad file") {
  SecureFixture f;
  auto models_as = [&](const std::string& token) { return v1::ModelService::NewStub(f.As(token)); };
  v1::ListModelsRequest list;
  v1::ListModelsResponse listed;
  const std::string new_token = "carol-token-0123456789";
  CHECK(models_as(new_token)->ListModels(Context().get(), list, &listed).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(WriteTextFile(f.TokenFile(), absl::StrCat("viewer carol ", new_token, "\n")).ok());
  REQUIRE(f.server().authorizer().Reload().ok());
  CHECK(models_as(new_token)->ListModels(Context().get(), list, &listed).ok());
  CHECK(models_as(kViewerToken)->ListModels(Context().get(), list, &listed).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(WriteTextFile(f.TokenFile(), "viewer carol short\n").ok());
  CHECK_FALSE(f.server().authorizer().Reload().ok());
  CHECK(models_as(new_token)->ListModels(Context().get(), list, &listed).ok());
}

TEST_CASE("Without TLS or tokens the planner serves loopback only") {
  testing::TempDir dir;
  PlannerConfig config;
  config.db_path = dir.File("planner.db");
  config.listen = "0.0.0.0:0";
  auto refused = PlannerServer::Start(config);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(refused.status().message()), Catch::Contains("loopback only"));
  config.listen = "[::]:0";
  CHECK_FALSE(PlannerServer::Start(config).ok());
  // Tokens make it acceptable.
  REQUIRE(WriteTextFile(dir.File("tokens"), TokenFileText()).ok());
  config.auth_tokens = dir.File("tokens");
  auto served = PlannerServer::Start(config);
  INFO(served.status().message());
  CHECK(served.ok());
}

struct Certificates {
  testing::TempDir dir;
  Certificates() {
    auto made = testing::RunCommand({testing::SourceDir() + "/scripts/make-certs.sh", "--out",
                                     dir.path(), "--client", "agent", "--days", "2"});
    INFO(made.err);
    REQUIRE(made.exit_code == 0);
  }
  std::string Pem(const std::string& name) const {
    auto text = ReadTextFile(dir.File(name));
    REQUIRE(text.ok());
    return *text;
  }
};

std::shared_ptr<grpc::ChannelCredentials> Tls(const Certificates& certs, bool client_cert) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = certs.Pem("ca.crt");
  if (client_cert) {
    options.pem_cert_chain = certs.Pem("agent.crt");
    options.pem_private_key = certs.Pem("agent.key");
  }
  return grpc::SslCredentials(options);
}

TEST_CASE("TLS and mutual TLS") {
  Certificates certs;
  testing::TempDir dir;
  PlannerConfig config;
  config.db_path = dir.File("planner.db");
  config.listen = "127.0.0.1:0";
  config.tls_cert = certs.dir.File("planner.crt");
  config.tls_key = certs.dir.File("planner.key");

  // ListModels over a channel with `tls` to the planner, by the name its
  // certificate holds.
  auto list_models = [](const PlannerServer& server,
                        std::shared_ptr<grpc::ChannelCredentials> tls) {
    const std::string address =
        absl::StrCat("localhost:", server.address().substr(server.address().rfind(':') + 1));
    v1::ListModelsRequest list;
    v1::ListModelsResponse listed;
    return v1::ModelService::NewStub(Channel(address, "", std::move(tls)))
        ->ListModels(Context().get(), list, &listed)
        .error_code();
  };
  SECTION("TLS") {
    auto server = PlannerServer::Start(config);
    REQUIRE(server.ok());
    CHECK(list_models(**server, Tls(certs, false)) == grpc::StatusCode::OK);
    // Plaintext against TLS: no call gets through.
    CHECK(list_models(**server, grpc::InsecureChannelCredentials()) ==
          grpc::StatusCode::UNAVAILABLE);
    // A client that trusts another CA.
    Certificates other;
    CHECK(list_models(**server, Tls(other, false)) == grpc::StatusCode::UNAVAILABLE);
  }
  SECTION("Mutual TLS") {
    config.tls_client_ca = certs.dir.File("ca.crt");
    auto server = PlannerServer::Start(config);
    REQUIRE(server.ok());
    CHECK(list_models(**server, Tls(certs, true)) == grpc::StatusCode::OK);
    CHECK(list_models(**server, Tls(certs, false)) == grpc::StatusCode::UNAVAILABLE);
  }
  SECTION("A bad set-up is refused before serving") {
    config.tls_key = "";
    auto refused = PlannerServer::Start(config);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(std::string(refused.status().message()), Catch::Contains("--tls-key"));
  }
}

TEST_CASE("Client credentials name the flag of a missing or wrong file") {
  testing::TempDir dir;
  ClientSecurityOptions options;
  options.tls_ca = dir.File("missing.crt");
  auto missing = LoadClientCredentials(options);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("--tls-ca"));
  REQUIRE(WriteTextFile(dir.File("not.pem"), "hello\n").ok());
  options.tls_ca = dir.File("not.pem");
  CHECK_THAT(std::string(LoadClientCredentials(options).status().message()),
             Catch::Contains("no PEM block"));
  options = ClientSecurityOptions{};
  options.tls_cert = dir.File("c.crt");
  CHECK_THAT(std::string(LoadClientCredentials(options).status().message()),
             Catch::Contains("--tls-key"));
  options = ClientSecurityOptions{};
  REQUIRE(WriteTextFile(dir.File("token"), "# my token\n0123456789abcdefgh\n").ok());
  options.token_file = dir.File("token");
  auto loaded = LoadClientCredentials(options);
  REQUIRE(loaded.ok());
  CHECK(loaded->token == "0123456789abcdefgh");
  CHECK_FALSE(loaded->tls);
}

}  // namespace
}  // namespace galvatron
