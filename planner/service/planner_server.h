// The planner's composition root: open the store (migrating it), build one
// manager per resource, wire them (NodeManager's lost-node listener fails
// the tasks of a lost node; the training tasks' reports reach the job
// manager, and the jobs that succeed reach the calibrations the plans use;
// the only place that wiring is done), then open the port. Health checking
// (per service) and server reflection (v1alpha from gRPC, v1 from
// reflection_v1.h) are on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "planner/service/access.h"
#include "planner/service/calibration_manager.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/job_manager.h"
#include "planner/service/model_manager.h"
#include "planner/service/node_manager.h"
#include "planner/service/plan_manager.h"
#include "planner/service/reflection_v1.h"
#include "planner/service/task_manager.h"
#include "planner/store/sqlite_integrity.h"
#include "planner/store/store.h"

namespace galvatron::planner {

struct PlannerConfig {
  // Created when absent; an existing empty file only with init_empty_db.
  std::string db_path = "./galvatron-planner.db";
  bool init_empty_db = false;
  // What the store checks before serving the file (none, quick or full).
  store::IntegrityCheck integrity_check = store::IntegrityCheck::kQuick;
  // host:port; port 0 picks a free port (see PlannerServer::address()).
  std::string listen = "127.0.0.1:50051";
  // Largest request or response accepted.
  int max_message_bytes = 16 * 1024 * 1024;
  // Plan searches (RequestPlan, jobs; search_queue.h). Threads of a search
  // running alone (0 = all cores; shared out when several run); searches
  // running at once (0 = max(1, cores / 2)); searches waiting to start, from
  // all callers and from one (0 = max(1, search_queue / 4)); the time limit
  // of a search whose request sets none.
  int search_threads = 0;
  int max_concurrent_searches = 0;
  int search_queue = 16;
  int search_queue_per_caller = 0;
  double search_time_limit_seconds = 120;
  // Agents heartbeat this often (sent to them when they register).
  int64_t heartbeat_interval_ms = 2000;
  // A node whose last heartbeat is older than this is LOST.
  int64_t node_timeout_ms = 10000;
  // Finished jobs whose step times spread more than this ((p90 - p10) /
  // median) are not fitted by the cluster's calibration.
  double calibration_max_spread = cost::CalibrationOptions{}.max_spread;
  // After a restart, how long jobs wait for their nodes' agents to register
  // again (a running job: to report again) before going on without them or
  // failing (JobManagerOptions::reattach_timeout).
  int64_t reattach_timeout_ms = 60000;

  // Security (docs/security.md). TLS: the server's certificate chain and
  // key (PEM files); with tls_client_ca, clients must present a certificate
  // signed by that CA (mutual TLS). Tokens: the token file of
  // common/token_file.h; without one every caller is an anonymous admin.
  // With neither TLS nor tokens the planner listens on loopback only.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string auth_tokens;
};

// Thread-safe after Start(): Shutdown() may be called from any thread.
class PlannerServer {
 public:
  // Opens `config.db_path` and serves on `config.listen`.
  static absl::StatusOr<std::unique_ptr<PlannerServer>> Start(const PlannerConfig& config);
  // Serves an already opened store (tests inject a MemoryStore).
  static absl::StatusOr<std::unique_ptr<PlannerServer>> Start(const PlannerConfig& config,
                                                              std::unique_ptr<store::Store> store);

  ~PlannerServer();

  // The address clients can dial, with the actual port.
  const std::string& address() const { return address_; }

  // Stops accepting calls and waits up to `grace` for calls in flight.
  void Shutdown(absl::Duration grace);
  // Blocks until the server has shut down.
  void Wait();

  ModelManager& models() { return *models_; }
  HardwareProfileManager& hardware_profiles() { return *hardware_; }
  ComputeProfileManager& compute_profiles() { return *compute_; }
  PlanManager& plans() { return *plans_; }
  CalibrationManager& calibrations() { return *calibrations_; }
  NodeManager& nodes() { return *nodes_; }
  TaskManager& tasks() { return *tasks_; }
  JobManager& jobs() { return *jobs_; }
  // Re-read on SIGHUP.
  Authorizer& authorizer() { return *authorizer_; }

 private:
  PlannerServer() = default;

  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<HardwareProfileManager> hardware_;
  std::unique_ptr<ComputeProfileManager> compute_;
  std::unique_ptr<CalibrationManager> calibrations_;
  std::unique_ptr<PlanManager> plans_;
  std::unique_ptr<NodeManager> nodes_;
  std::unique_ptr<TaskManager> tasks_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<ReflectionV1Service> reflection_v1_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace galvatron::planner
