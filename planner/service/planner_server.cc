#include "planner/service/planner_server.h"

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/net_address.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"
#include "planner/store/sqlite_store.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

namespace {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const PlannerConfig& config) {
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key: one given without the other, expected both or neither");
  }
  if (config.tls_cert.empty()) {
    if (!config.tls_client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--tls-client-ca: given without --tls-cert/--tls-key, expected mutual TLS on top of "
          "TLS");
    }
    if (config.auth_tokens.empty() && !IsLoopbackAddress(config.listen)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--listen ", config.listen,
          ": without TLS (--tls-cert/--tls-key) or tokens (--auth-tokens) the planner serves "
          "loopback only (127.0.0.1, ::1 or localhost); anyone who can reach the port could "
          "change every profile and run jobs on every node"));
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadTextFile(config.tls_cert));
  ASSIGN_OR_RETURN(pair.private_key, ReadTextFile(config.tls_key));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!config.tls_client_ca.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadTextFile(config.tls_client_ca));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PlannerServer>> PlannerServer::Start(const PlannerConfig& config) {
  // Refuse a bad security set-up before touching the store.
  RETURN_IF_ERROR(ServerCredentials(config).status());
  store::SqliteStoreOptions options;
  options.path = config.db_path;
  options.init_empty_file = config.init_empty_db;
  options.integrity_check = config.integrity_check;
  ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> store, store::SqliteStore::Open(options));
  spdlog::info("store {} open (schema version {}, integrity check: {})", config.db_path,
               store::SqliteStore::LatestSchemaVersion(),
               store::IntegrityCheckName(config.integrity_check));
  return Start(config, std::move(store));
}

absl::StatusOr<std::unique_ptr<PlannerServer>> PlannerServer::Start(
    const PlannerConfig& config, std::unique_ptr<store::Store> store) {
  if (config.heartbeat_interval_ms <= 0 || config.node_timeout_ms <= 0 ||
      config.reattach_timeout_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("heartbeat_interval_ms: ", config.heartbeat_interval_ms,
                     ", node_timeout_ms: ", config.node_timeout_ms,
                     ", reattach_timeout_ms: ", config.reattach_timeout_ms, ", expected all > 0"));
  }
  if (!(config.calibration_max_spread >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration_max_spread: ", config.calibration_max_spread, ", expected >= 0"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, ServerCredentials(config));
  std::unique_ptr<PlannerServer> server(new PlannerServer());
  if (config.auth_tokens.empty()) {
    server->authorizer_ = std::make_unique<Authorizer>();
  } else {
    ASSIGN_OR_RETURN(server->authorizer_, Authorizer::FromFile(config.auth_tokens));
  }
  server->store_ = std::move(store);
  server->models_ = std::make_unique<ModelManager>(server->store_.get());
  server->hardware_ = std::make_unique<HardwareProfileManager>(server->store_.get());
  server->compute_ =
      std::make_unique<ComputeProfileManager>(server->store_.get(), server->models_.get());
  NodeManagerOptions node_options;
  node_options.heartbeat_interval = absl::Milliseconds(config.heartbeat_interval_ms);
  node_options.node_timeout = absl::Milliseconds(config.node_timeout_ms);
  server->nodes_ = std::make_unique<NodeManager>(server->store_.get(), node_options);
  server->tasks_ = std::make_unique<TaskManager>(server->store_.get(), server->nodes_.get(),
                                                 server->models_.get(), server->hardware_.get(),
                                                 server->compute_.get());
  RETURN_IF_ERROR(server->tasks_->Start());
  // The one place where a lost node reaches the tasks: NodeManager's
  // deadline thread calls this (no NodeManager lock held).
  server->nodes_->AddNodeLostListener(
      [tasks = server->tasks_.get()](const v1::Node& node) { tasks->OnNodeLost(node); });
  cost::CalibrationOptions calibration_options;
  calibration_options.max_spread = config.calibration_max_spread;
  server->calibrations_ = std::make_unique<CalibrationManager>(
      server->store_.get(), server->hardware_.get(), calibration_options);
  if (config.search_threads < 0 || config.max_concurrent_searches < 0 || config.search_queue < 0 ||
      config.search_queue_per_caller < 0 || !(config.search_time_limit_seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("search_threads: ", config.search_threads, ", max_concurrent_searches: ",
                     config.max_concurrent_searches, ", search_queue: ", config.search_queue,
                     ", search_queue_per_caller: ", config.search_queue_per_caller,
                     ", search_time_limit_seconds: ", config.search_time_limit_seconds,
                     ", expected all >= 0 (0 = the default) and a time limit > 0"));
  }
  PlanManagerOptions plan_options;
  plan_options.default_time_limit_seconds = config.search_time_limit_seconds;
  plan_options.queue.threads = config.search_threads;
  plan_options.queue.max_running = config.max_concurrent_searches;
  plan_options.queue.max_queued = config.search_queue;
  plan_options.queue.max_queued_per_caller = config.search_queue_per_caller;
  server->plans_ = std::make_unique<PlanManager>(
      server->store_.get(), server->models_.get(), server->hardware_.get(), server->compute_.get(),
      plan_options, server->tasks_.get(), server->calibrations_.get());
  JobManagerOptions job_options;
  job_options.reattach_timeout = absl::Milliseconds(config.reattach_timeout_ms);
  server->jobs_ = std::make_unique<JobManager>(
      server->store_.get(), server->nodes_.get(), server->models_.get(), server->hardware_.get(),
      server->plans_.get(), server->tasks_.get(), job_options, server->calibrations_.get());
  // Reports of training tasks reach the jobs before they change the task.
  server->tasks_->SetTrainListener(server->jobs_.get());
  RETURN_IF_ERROR(server->jobs_->Start());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  const std::vector<grpc::Service*> services = {
      server->models_.get(), server->hardware_.get(), server->compute_.get(), server->plans_.get(),
      server->nodes_.get(),  server->tasks_.get(),    server->jobs_.get()};
  const std::vector<std::string> service_names = {v1::ModelService::service_full_name(),
                                                  v1::HardwareProfileService::service_full_name(),
                                                  v1::ComputeProfileService::service_full_name(),
                                                  v1::PlanService::service_full_name(),
                                                  v1::NodeService::service_full_name(),
                                                  v1::TaskService::service_full_name(),
                                                  v1::JobService::service_full_name()};
  std::vector<std::string> listed = service_names;
  listed.insert(listed.end(), {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                               "grpc.reflection.v1alpha.ServerReflection"});
  server->reflection_v1_ = std::make_unique<ReflectionV1Service>(std::move(listed));
  for (GuardedService* service : std::initializer_list<GuardedService*>{
           server->models_.get(), server->hardware_.get(), server->compute_.get(),
           server->plans_.get(), server->nodes_.get(), server->tasks_.get(), server->jobs_.get(),
           server->reflection_v1_.get()}) {
    service->set_authorizer(server->authorizer_.get());
  }
  grpc::ServerBuilder builder;
  // No SO_REUSEPORT: with it gRPC opens one more listening socket per extra
  // polling set by binding the address again, which with port 0 picks a
  // second free port that serves too but is reported nowhere; and another
  // process could bind the planner's fixed port beside it and take a share
  // of its connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort(config.listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.RegisterService(server->reflection_v1_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen,
                     ": the address is invalid or in use (--listen HOST:PORT)"));
  }
  std::string host = config.listen.substr(0, config.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  server->address_ = absl::StrCat(host, ":", port);
  // Health per service: "" (the whole server) and each galvatron.v1
  // service; Shutdown() turns them all NOT_SERVING.
  if (auto* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(true);
    for (const std::string& name : service_names) health->SetServingStatus(name, true);
  }
  const SearchQueueOptions& queue = server->plans_->search_queue().options();
  spdlog::info(
      "plan searches: at most {} at once, {} waiting ({} per caller), {} threads, time limit {} s "
      "unless the request sets one",
      queue.max_running, queue.max_queued, queue.max_queued_per_caller, queue.threads,
      config.search_time_limit_seconds);
  spdlog::info(
      "galvatron-planner serving on {} ({}{}, {})", server->address_,
      config.tls_cert.empty() ? "plaintext" : "TLS",
      config.tls_client_ca.empty() ? "" : " with client certificates",
      config.auth_tokens.empty() ? "no tokens: every caller is admin" : "bearer tokens required");
  return server;
}

PlannerServer::~PlannerServer() {
  // No lost-node listener may run once tasks_ is destroyed (members go in
  // reverse order: tasks_ before nodes_).
  if (nodes_) nodes_->Stop();
  // Joins the job drivers, which call tasks_ (one waiting for a search
  // leaves it once the jobs stop).
  if (jobs_) jobs_->Shutdown();
  if (plans_) plans_->Shutdown();
  if (tasks_) tasks_->Shutdown();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
}

void PlannerServer::Shutdown(absl::Duration grace) {
  tasks_->Shutdown();  // long polls answer now instead of holding the shutdown
  jobs_->Shutdown();
  plans_->Shutdown();  // calls waiting for a plan search answer now too
  // Every service name and "" go NOT_SERVING before the port closes, so a
  // load balancer stops sending calls while those in flight finish.
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

void PlannerServer::Wait() { server_->Wait(); }

}  // namespace galvatron::planner
