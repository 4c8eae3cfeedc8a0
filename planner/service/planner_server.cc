#include "planner/service/planner_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "planner/store/sqlite_store.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

absl::StatusOr<std::unique_ptr<PlannerServer>> PlannerServer::Start(const PlannerConfig& config) {
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
  std::unique_ptr<PlannerServer> server(new PlannerServer());
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
  PlanManagerOptions plan_options;
  plan_options.search_threads = config.search_threads;
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
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  builder.RegisterService(server->models_.get());
  builder.RegisterService(server->hardware_.get());
  builder.RegisterService(server->compute_.get());
  builder.RegisterService(server->plans_.get());
  builder.RegisterService(server->nodes_.get());
  builder.RegisterService(server->tasks_.get());
  builder.RegisterService(server->jobs_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen,
                     ": the address is invalid or in use (--listen HOST:PORT)"));
  }
  std::string host = config.listen.substr(0, config.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  server->address_ = absl::StrCat(host, ":", port);
  auto* health = server->server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(true);
  }
  spdlog::info("galvatron-planner serving on {}", server->address_);
  return server;
}

PlannerServer::~PlannerServer() {
  // No lost-node listener may run once tasks_ is destroyed (members go in
  // reverse order: tasks_ before nodes_).
  if (nodes_) nodes_->Stop();
  if (jobs_) jobs_->Shutdown();  // joins the job drivers, which call tasks_
  if (tasks_) tasks_->Shutdown();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
}

void PlannerServer::Shutdown(absl::Duration grace) {
  tasks_->Shutdown();  // long polls answer now instead of holding the shutdown
  jobs_->Shutdown();
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

void PlannerServer::Wait() { server_->Wait(); }

}  // namespace galvatron::planner
