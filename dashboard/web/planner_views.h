// The dashboard's JSON API (docs/dashboard.md): each call asks the planner
// over its public gRPC API and answers with the planner's messages in
// protobuf's JSON mapping, combined per page. Independent of HTTP, so tests
// can call it directly.
//
// Thread-safe: gRPC stubs are, and the metrics cache is guarded.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dashboard/web/browser_auth.h"
#include "dashboard/web/metrics_series.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"
#include "grpcpp/channel.h"
#include "nlohmann/json.hpp"

namespace galvatron::dashboard {

// One answer: an HTTP status and a body.
struct ApiReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string download_name;  // not empty: served as an attachment of this name
};

// The query string's parameters.
using Query = std::map<std::string, std::string>;

// {"error": {"code", "message"}} with `status`.
ApiReply ErrorReply(int status, const std::string& code, const std::string& message);
// The HTTP status for a planner's answer (NOT_FOUND → 404, ...). A planner
// refusing the dashboard's own token is the dashboard's configuration, not
// the browser's: 502.
int HttpStatusOf(absl::StatusCode code);

struct PlannerViewsOptions {
  double timeout_seconds = 30;        // each call
  double plan_timeout_seconds = 150;  // a what-if RequestPlan (a search)
  double whatif_time_limit_seconds = 60;
  size_t metrics_jobs_cached = 64;  // jobs whose steps are kept
};

class PlannerViews {
 public:
  PlannerViews(const std::shared_ptr<grpc::Channel>& channel, PlannerViewsOptions options);

  ApiReply Overview();
  ApiReply Nodes(const Query& query);
  ApiReply Cluster(const std::string& name);
  ApiReply ClusterHardware(const std::string& name, const Query& query);
  ApiReply Models(const Query& query);
  ApiReply Model(const std::string& name);
  ApiReply Plans(const Query& query);
  ApiReply Plan(const std::string& id);
  // The stored plan as our JSON or as Galvatron's strategy file.
  ApiReply PlanDownload(const std::string& id, bool galvatron);
  ApiReply Jobs(const Query& query);
  // The job, its revision and (unless plan=false) its plan.
  ApiReply Job(const std::string& id, const Query& query);
  ApiReply JobMetrics(const std::string& id, const Query& query);
  ApiReply JobLogs(const std::string& id, const Query& query);
  ApiReply Tasks(const Query& query);  // training tasks without their plan and model
  ApiReply Task(const std::string& id);
  // Asks the planner for a plan (RequestPlan) from the form's JSON body.
  ApiReply WhatIf(const std::string& body, const Viewer& viewer);

 private:
  struct CachedSteps {
    int64_t attempt = 0;
    std::vector<StepPoint> steps;
    v1::StepMetrics last;
    bool finished = false;
  };
  std::unique_ptr<grpc::ClientContext> Context(double seconds = 0) const;
  // One page of ListNodes / ListHardwareProfiles, for walking every page.
  std::function<grpc::Status(const v1::ListNodesRequest&, v1::ListNodesResponse*)> ListNodesCall()
      const;
  std::function<grpc::Status(const v1::ListHardwareProfilesRequest&,
                             v1::ListHardwareProfilesResponse*)>
  ListHardwareCall() const;
  // Every compute profile `request` filters, as a JSON array in *out.
  grpc::Status ComputeProfilesJson(const v1::ListComputeProfilesRequest& request,
                                   nlohmann::json* out) const;
  // Fetches the steps after the cached ones (all of them when the job was
  // relaunched since) and keeps them.
  absl::Status RefreshSteps(const v1::Job& job, CachedSteps* out) ABSL_LOCKS_EXCLUDED(mu_);

  const PlannerViewsOptions options_;
  std::unique_ptr<v1::ModelService::Stub> models_;
  std::unique_ptr<v1::HardwareProfileService::Stub> hardware_;
  std::unique_ptr<v1::ComputeProfileService::Stub> compute_;
  std::unique_ptr<v1::PlanService::Stub> plans_;
  std::unique_ptr<v1::NodeService::Stub> nodes_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::JobService::Stub> jobs_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CachedSteps> steps_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> recent_ ABSL_GUARDED_BY(mu_);  // least recently used first
};

}  // namespace galvatron::dashboard
