#include "dashboard/web/planner_views.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/json_file.h"
#include "common/message_text.h"
#include "common/plan_request_flags.h"
#include "common/rpc_status.h"
#include "interop/galvatron_config.h"

namespace galvatron::dashboard {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;      // the planner's largest page
constexpr int kPlannerPage = 1000;      // the planner's largest page
constexpr int kMaxPlannerPages = 1000;  // a bound on any walk through pages
constexpr int kDefaultMaxPoints = 500;
constexpr int kMaxPoints = 5000;
constexpr int kMetricsPage = 10000;  // the planner's largest metrics page

using nlohmann::json;

json ToJson(const google::protobuf::Message& message) {
  JsonPrintOptions options;
  options.pretty = false;
  return json::parse(MessageToJson(message, options));
}

ApiReply JsonReply(const json& value) {
  ApiReply reply;
  reply.body = value.dump();
  return reply;
}

ApiReply MessageReply(const google::protobuf::Message& message) {
  JsonPrintOptions options;
  options.pretty = false;
  ApiReply reply;
  reply.body = MessageToJson(message, options);
  return reply;
}

ApiReply PlannerError(const grpc::Status& status) {
  const absl::Status s = FromGrpcStatus(status);
  std::string message(s.message());
  if (s.code() == absl::StatusCode::kUnauthenticated ||
      s.code() == absl::StatusCode::kPermissionDenied) {
    message =
        absl::StrCat("the planner refused the dashboard's own token (its --token-file): ", message);
  } else if (s.code() == absl::StatusCode::kUnavailable) {
    message = absl::StrCat("cannot reach the planner: ", message);
  }
  return ErrorReply(HttpStatusOf(s.code()), StatusCodeName(s.code()), message);
}

ApiReply BadRequest(const std::string& message) {
  return ErrorReply(400, "INVALID_ARGUMENT", message);
}

// `name` as an integer in [low, high], or `fallback` when absent.
absl::Status IntParam(const Query& query, const std::string& name, int64_t low, int64_t high,
                      int64_t fallback, int64_t* out) {
  auto it = query.find(name);
  if (it == query.end() || it->second.empty()) {
    *out = fallback;
    return absl::OkStatus();
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < low || value > high) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": \"", it->second, "\", expected an integer in [", low, ", ", high, "]"));
  }
  *out = value;
  return absl::OkStatus();
}

std::string Param(const Query& query, const std::string& name) {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

// The request's page size and token from pageSize and pageToken.
template <typename Request>
absl::Status SetPaging(const Query& query, Request* request) {
  int64_t size = 0;
  if (absl::Status s = IntParam(query, "pageSize", 1, kMaxPageSize, kDefaultPageSize, &size);
      !s.ok()) {
    return s;
  }
  request->set_page_size(static_cast<int32_t>(size));
  request->set_page_token(Param(query, "pageToken"));
  return absl::OkStatus();
}

// A plan without what only its own page needs (layers, stages, runners-up).
json PlanSummaryJson(v1::Plan plan) {
  plan.clear_layers();
  plan.clear_stages();
  plan.clear_runners_up();
  return ToJson(plan);
}

// Walks every page of a List call: `call` asks for one page of `request`
// (page size and token set here), `take` takes each response.
template <typename Request, typename Response>
grpc::Status EachPage(Request request,
                      const std::function<grpc::Status(const Request&, Response*)>& call,
                      const std::function<void(Response&)>& take) {
  request.set_page_size(kPlannerPage);
  for (int page = 0; page < kMaxPlannerPages; ++page) {
    Response response;
    if (grpc::Status status = call(request, &response); !status.ok()) return status;
    take(response);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return grpc::Status::OK;
}

absl::StatusOr<v1::JobState> ParseJobState(const std::string& text) {
  if (text.empty()) return v1::JOB_STATE_UNSPECIFIED;
  std::string name = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(name, "JOB_STATE_")) name = absl::StrCat("JOB_STATE_", name);
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  if (!v1::JobState_Parse(name, &state) || state == v1::JOB_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: \"", text,
        "\", expected pending, profiling, planned, launching, running, succeeded, failed or "
        "cancelled"));
  }
  return state;
}

}  // namespace

ApiReply ErrorReply(int status, const std::string& code, const std::string& message) {
  ApiReply reply;
  reply.status = status;
  reply.body = json{{"error", {{"code", code}, {"message", message}}}}.dump();
  return reply;
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return 502;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

PlannerViews::PlannerViews(const std::shared_ptr<grpc::Channel>& channel,
                           PlannerViewsOptions options)
    : options_(options),
      models_(v1::ModelService::NewStub(channel)),
      hardware_(v1::HardwareProfileService::NewStub(channel)),
      compute_(v1::ComputeProfileService::NewStub(channel)),
      plans_(v1::PlanService::NewStub(channel)),
      nodes_(v1::NodeService::NewStub(channel)),
      tasks_(v1::TaskService::NewStub(channel)),
      jobs_(v1::JobService::NewStub(channel)) {}

std::function<grpc::Status(const v1::ListNodesRequest&, v1::ListNodesResponse*)>
PlannerViews::ListNodesCall() const {
  return [this](const v1::ListNodesRequest& request, v1::ListNodesResponse* response) {
    return nodes_->ListNodes(Context().get(), request, response);
  };
}

std::function<grpc::Status(const v1::ListHardwareProfilesRequest&,
                           v1::ListHardwareProfilesResponse*)>
PlannerViews::ListHardwareCall() const {
  return [this](const v1::ListHardwareProfilesRequest& request,
                v1::ListHardwareProfilesResponse* response) {
    return hardware_->ListHardwareProfiles(Context().get(), request, response);
  };
}

grpc::Status PlannerViews::ComputeProfilesJson(const v1::ListComputeProfilesRequest& request,
                                               nlohmann::json* out) const {
  *out = json::array();
  return EachPage<v1::ListComputeProfilesRequest, v1::ListComputeProfilesResponse>(
      request,
      [this](const v1::ListComputeProfilesRequest& r, v1::ListComputeProfilesResponse* response) {
        return compute_->ListComputeProfiles(Context().get(), r, response);
      },
      [out](v1::ListComputeProfilesResponse& r) {
        for (const v1::ComputeProfile& p : r.profiles()) out->push_back(ToJson(p));
      });
}

std::unique_ptr<grpc::ClientContext> PlannerViews::Context(double seconds) const {
  auto context = std::make_unique<grpc::ClientContext>();
  const double timeout = seconds > 0 ? seconds : options_.timeout_seconds;
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
  return context;
}

ApiReply PlannerViews::Overview() {
  // Every node (a cluster of 1,000 nodes is one page of the planner's).
  std::vector<v1::Node> nodes;
  grpc::Status status = EachPage<v1::ListNodesRequest, v1::ListNodesResponse>(
      {}, ListNodesCall(), [&](v1::ListNodesResponse& r) {
        for (v1::Node& node : *r.mutable_nodes()) nodes.push_back(std::move(node));
      });
  if (!status.ok()) return PlannerError(status);
  // The latest hardware profile of every cluster.
  std::map<std::string, v1::HardwareProfile> profiles;
  status = EachPage<v1::ListHardwareProfilesRequest, v1::ListHardwareProfilesResponse>(
      {}, ListHardwareCall(), [&](v1::ListHardwareProfilesResponse& r) {
        for (v1::HardwareProfile& p : *r.mutable_profiles()) {
          p.clear_collectives();  // the overview shows versions, not tables
          profiles[p.cluster()] = std::move(p);
        }
      });
  if (!status.ok()) return PlannerError(status);

  struct ClusterCounts {
    int alive = 0, lost = 0, devices = 0;
  };
  std::map<std::string, ClusterCounts> clusters;
  for (const auto& [name, profile] : profiles) clusters[name];
  int alive = 0, lost = 0;
  for (const v1::Node& node : nodes) {
    ClusterCounts& c = clusters[node.cluster()];
    if (node.state() == v1::NODE_STATE_ALIVE) {
      ++c.alive;
      ++alive;
      c.devices += node.devices_size();
    } else {
      ++c.lost;
      ++lost;
    }
  }
  json out;
  out["clusters"] = json::array();
  for (const auto& [name, c] : clusters) {
    json cluster = {{"name", name},
                    {"nodesAlive", c.alive},
                    {"nodesLost", c.lost},
                    {"devices", c.devices},
                    {"hardwareProfile", nullptr}};
    if (auto it = profiles.find(name); it != profiles.end()) {
      cluster["hardwareProfile"] = ToJson(it->second);
    }
    out["clusters"].push_back(std::move(cluster));
  }
  out["nodesAlive"] = alive;
  out["nodesLost"] = lost;

  v1::ListJobsRequest running_request;
  running_request.set_state(v1::JOB_STATE_RUNNING);
  running_request.set_page_size(20);
  v1::ListJobsResponse running;
  if (grpc::Status s = jobs_->ListJobs(Context().get(), running_request, &running); !s.ok()) {
    return PlannerError(s);
  }
  out["runningJobs"] = json::array();
  for (const v1::Job& job : running.jobs()) out["runningJobs"].push_back(ToJson(job));

  v1::ListJobsRequest recent_request;
  recent_request.set_page_size(10);
  v1::ListJobsResponse recent;
  if (grpc::Status s = jobs_->ListJobs(Context().get(), recent_request, &recent); !s.ok()) {
    return PlannerError(s);
  }
  out["recentJobs"] = json::array();
  for (const v1::Job& job : recent.jobs()) out["recentJobs"].push_back(ToJson(job));

  v1::ListPlansRequest plans_request;
  plans_request.set_page_size(10);
  v1::ListPlansResponse plans;
  if (grpc::Status s = plans_->ListPlans(Context().get(), plans_request, &plans); !s.ok()) {
    return PlannerError(s);
  }
  out["recentPlans"] = json::array();
  for (const v1::Plan& plan : plans.plans()) out["recentPlans"].push_back(PlanSummaryJson(plan));

  v1::ListTasksRequest tasks_request;
  tasks_request.set_page_size(10);
  v1::ListTasksResponse tasks;
  if (grpc::Status s = tasks_->ListTasks(Context().get(), tasks_request, &tasks); !s.ok()) {
    return PlannerError(s);
  }
  out["recentTasks"] = json::array();
  for (const v1::Task& task : tasks.tasks()) out["recentTasks"].push_back(ToJson(task));
  return JsonReply(out);
}

ApiReply PlannerViews::Nodes(const Query& query) {
  v1::ListNodesRequest request;
  request.set_cluster(Param(query, "cluster"));
  if (absl::Status s = SetPaging(query, &request); !s.ok())
    return BadRequest(std::string(s.message()));
  v1::ListNodesResponse response;
  grpc::Status status = nodes_->ListNodes(Context().get(), request, &response);
  return status.ok() ? MessageReply(response) : PlannerError(status);
}

ApiReply PlannerViews::Cluster(const std::string& name) {
  json out = {{"name", name}, {"hardware", nullptr}, {"calibration", nullptr}};
  v1::GetHardwareProfileRequest get;
  get.set_cluster(name);
  v1::HardwareProfile latest;
  grpc::Status status = hardware_->GetHardwareProfile(Context().get(), get, &latest);
  if (status.ok()) {
    out["hardware"] = ToJson(latest);
  } else if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
    return PlannerError(status);
  }
  out["versions"] = json::array();
  v1::ListHardwareProfilesRequest list;
  list.set_cluster(name);
  status = EachPage<v1::ListHardwareProfilesRequest, v1::ListHardwareProfilesResponse>(
      list, ListHardwareCall(), [&](v1::ListHardwareProfilesResponse& r) {
        for (v1::HardwareProfile& p : *r.mutable_profiles()) {
          p.clear_collectives();
          out["versions"].push_back(ToJson(p));
        }
      });
  if (!status.ok()) return PlannerError(status);
  v1::GetCalibrationRequest calibration_request;
  calibration_request.set_cluster(name);
  v1::Calibration calibration;
  status = plans_->GetCalibration(Context().get(), calibration_request, &calibration);
  if (status.ok()) {
    out["calibration"] = ToJson(calibration);
  } else if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
    return PlannerError(status);
  }
  v1::ListComputeProfilesRequest compute;
  compute.set_cluster(name);
  status = ComputeProfilesJson(compute, &out["computeProfiles"]);
  if (!status.ok()) return PlannerError(status);
  if (out["hardware"].is_null() && out["versions"].empty() && out["computeProfiles"].empty()) {
    // A cluster is known by its profiles or its nodes.
    v1::ListNodesRequest nodes_request;
    nodes_request.set_cluster(name);
    nodes_request.set_page_size(1);
    v1::ListNodesResponse nodes;
    status = nodes_->ListNodes(Context().get(), nodes_request, &nodes);
    if (!status.ok()) return PlannerError(status);
    if (nodes.nodes().empty()) {
      return ErrorReply(
          404, "NOT_FOUND",
          absl::StrCat("cluster ", name, ": no node, no hardware or compute profile"));
    }
  }
  return JsonReply(out);
}

ApiReply PlannerViews::ClusterHardware(const std::string& name, const Query& query) {
  int64_t version = 0;
  if (absl::Status s = IntParam(query, "version", 0, INT64_MAX, 0, &version); !s.ok()) {
    return BadRequest(std::string(s.message()));
  }
  v1::GetHardwareProfileRequest get;
  get.set_cluster(name);
  get.set_version(version);
  v1::HardwareProfile profile;
  grpc::Status status = hardware_->GetHardwareProfile(Context().get(), get, &profile);
  return status.ok() ? MessageReply(profile) : PlannerError(status);
}

ApiReply PlannerViews::Models(const Query& query) {
  v1::ListModelsRequest request;
  request.set_include_builtin(true);
  if (absl::Status s = SetPaging(query, &request); !s.ok())
    return BadRequest(std::string(s.message()));
  v1::ListModelsResponse response;
  grpc::Status status = models_->ListModels(Context().get(), request, &response);
  return status.ok() ? MessageReply(response) : PlannerError(status);
}

ApiReply PlannerViews::Model(const std::string& name) {
  v1::GetModelRequest get;
  get.set_name(name);
  v1::ModelSpec model;
  grpc::Status status = models_->GetModel(Context().get(), get, &model);
  if (!status.ok()) return PlannerError(status);
  json out = {{"model", ToJson(model)}, {"computeProfiles", json::array()}};
  v1::ListComputeProfilesRequest compute;
  compute.set_model(name);
  status = ComputeProfilesJson(compute, &out["computeProfiles"]);
  if (!status.ok()) return PlannerError(status);
  return JsonReply(out);
}

ApiReply PlannerViews::Plans(const Query& query) {
  v1::ListPlansRequest request;
  request.set_model(Param(query, "model"));
  request.set_cluster(Param(query, "cluster"));
  if (absl::Status s = SetPaging(query, &request); !s.ok())
    return BadRequest(std::string(s.message()));
  v1::ListPlansResponse response;
  grpc::Status status = plans_->ListPlans(Context().get(), request, &response);
  if (!status.ok()) return PlannerError(status);
  json out = {{"plans", json::array()}};
  for (const v1::Plan& plan : response.plans()) out["plans"].push_back(PlanSummaryJson(plan));
  if (!response.next_page_token().empty()) out["nextPageToken"] = response.next_page_token();
  return JsonReply(out);
}

ApiReply PlannerViews::Plan(const std::string& id) {
  v1::GetPlanRequest get;
  get.set_id(id);
  v1::Plan plan;
  grpc::Status status = plans_->GetPlan(Context().get(), get, &plan);
  return status.ok() ? MessageReply(plan) : PlannerError(status);
}

ApiReply PlannerViews::PlanDownload(const std::string& id, bool galvatron) {
  v1::GetPlanRequest get;
  get.set_id(id);
  v1::Plan plan;
  grpc::Status status = plans_->GetPlan(Context().get(), get, &plan);
  if (!status.ok()) return PlannerError(status);
  ApiReply reply;
  if (!galvatron) {
    reply.body = MessageToJson(plan);
    reply.download_name = absl::StrCat(id, ".json");
    return reply;
  }
  absl::StatusOr<std::string> text = interop::WriteGalvatronConfig(plan);
  if (!text.ok()) {
    return ErrorReply(422, "INVALID_ARGUMENT",
                      absl::StrCat("Galvatron's strategy file cannot express plan ", id, ": ",
                                   text.status().message()));
  }
  reply.body = *text;
  reply.download_name = interop::GalvatronConfigFileName(interop::GalvatronConfigNameForPlan(plan));
  return reply;
}

ApiReply PlannerViews::Jobs(const Query& query) {
  v1::ListJobsRequest request;
  request.set_cluster(Param(query, "cluster"));
  absl::StatusOr<v1::JobState> state = ParseJobState(Param(query, "state"));
  if (!state.ok()) return BadRequest(std::string(state.status().message()));
  request.set_state(*state);
  if (absl::Status s = SetPaging(query, &request); !s.ok())
    return BadRequest(std::string(s.message()));
  v1::ListJobsResponse response;
  grpc::Status status = jobs_->ListJobs(Context().get(), request, &response);
  return status.ok() ? MessageReply(response) : PlannerError(status);
}

ApiReply PlannerViews::Job(const std::string& id, const Query& query) {
  const std::string with_plan = Param(query, "plan");
  if (!with_plan.empty() && with_plan != "true" && with_plan != "false") {
    return BadRequest(absl::StrCat("plan: \"", with_plan, "\", expected true or false"));
  }
  v1::GetJobRequest get;
  get.set_id(id);
  v1::GetJobResponse response;
  grpc::Status status = jobs_->GetJob(Context().get(), get, &response);
  if (!status.ok()) return PlannerError(status);
  json out = {{"job", ToJson(response.job())},
              {"revision", std::to_string(response.revision())},
              {"plan", nullptr}};
  if (!response.job().plan_id().empty() && with_plan != "false") {
    v1::GetPlanRequest plan_get;
    plan_get.set_id(response.job().plan_id());
    v1::Plan plan;
    status = plans_->GetPlan(Context().get(), plan_get, &plan);
    if (status.ok()) {
      out["plan"] = ToJson(plan);
    } else if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      return PlannerError(status);
    }
  }
  return JsonReply(out);
}

absl::Status PlannerViews::RefreshSteps(const v1::Job& job, CachedSteps* out) {
  CachedSteps cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = steps_.find(job.id());
    if (it != steps_.end() && it->second.attempt == job.attempt()) cached = it->second;
  }
  // A relaunched job (another attempt) may have run steps again from its
  // checkpoint: fetch all of them again.
  cached.attempt = job.attempt();
  if (!cached.finished) {
    for (int page = 0; page < kMaxPlannerPages; ++page) {
      v1::GetJobMetricsRequest request;
      request.set_job_id(job.id());
      request.set_after_step(cached.steps.empty() ? 0 : cached.steps.back().step);
      request.set_page_size(kMetricsPage);
      v1::GetJobMetricsResponse response;
      grpc::Status status = jobs_->GetJobMetrics(Context().get(), request, &response);
      if (!status.ok()) return FromGrpcStatus(status);
      for (const v1::StepMetrics& m : response.metrics()) {
        cached.steps.push_back(ToStepPoint(m));
        cached.last = m;
      }
      if (response.metrics_size() < kMetricsPage) {
        cached.finished = response.job_finished() && text::JobEnded(job.state());
        break;
      }
    }
  }
  *out = cached;
  absl::MutexLock lock(&mu_);
  steps_[job.id()] = std::move(cached);
  recent_.remove(job.id());
  recent_.push_back(job.id());
  while (recent_.size() > options_.metrics_jobs_cached) {
    steps_.erase(recent_.front());
    recent_.pop_front();
  }
  return absl::OkStatus();
}

ApiReply PlannerViews::JobMetrics(const std::string& id, const Query& query) {
  int64_t max_points = 0;
  if (absl::Status s = IntParam(query, "maxPoints", 1, kMaxPoints, kDefaultMaxPoints, &max_points);
      !s.ok()) {
    return BadRequest(std::string(s.message()));
  }
  v1::GetJobRequest get;
  get.set_id(id);
  v1::GetJobResponse job;
  grpc::Status status = jobs_->GetJob(Context().get(), get, &job);
  if (!status.ok()) return PlannerError(status);
  CachedSteps steps;
  if (absl::Status s = RefreshSteps(job.job(), &steps); !s.ok()) {
    return PlannerError(ToGrpcStatus(s));
  }
  int64_t bucket = 1;
  json out;
  out["points"] = DownsampleSteps(steps.steps, static_cast<int>(max_points), &bucket);
  out["bucketSteps"] = bucket;
  out["stepsDone"] = std::to_string(job.job().steps_done());
  out["totalSteps"] = std::to_string(job.job().training().steps());
  out["jobFinished"] = text::JobEnded(job.job().state());
  out["last"] = steps.steps.empty() ? json(nullptr) : ToJson(steps.last);
  return JsonReply(out);
}

ApiReply PlannerViews::JobLogs(const std::string& id, const Query& query) {
  int64_t rank = -1, lines = 100;
  if (absl::Status s = IntParam(query, "rank", -1, 1 << 20, -1, &rank); !s.ok()) {
    return BadRequest(std::string(s.message()));
  }
  if (absl::Status s = IntParam(query, "lines", 1, 10000, 100, &lines); !s.ok()) {
    return BadRequest(std::string(s.message()));
  }
  v1::GetJobLogsRequest request;
  request.set_job_id(id);
  request.set_rank(static_cast<int32_t>(rank));
  request.set_max_lines(static_cast<int32_t>(lines));
  v1::GetJobLogsResponse response;
  grpc::Status status = jobs_->GetJobLogs(Context().get(), request, &response);
  return status.ok() ? MessageReply(response) : PlannerError(status);
}

ApiReply PlannerViews::Tasks(const Query& query) {
  v1::ListTasksRequest request;
  request.set_cluster(Param(query, "cluster"));
  if (absl::Status s = SetPaging(query, &request); !s.ok())
    return BadRequest(std::string(s.message()));
  v1::ListTasksResponse response;
  grpc::Status status = tasks_->ListTasks(Context().get(), request, &response);
  if (!status.ok()) return PlannerError(status);
  // A training task carries its whole plan and model: a list needs neither
  // (the task's own address has them).
  for (v1::Task& task : *response.mutable_tasks()) {
    task.mutable_train()->clear_plan();
    task.mutable_train()->clear_model();
    if (task.train().ByteSizeLong() == 0) task.clear_train();
  }
  return MessageReply(response);
}

ApiReply PlannerViews::Task(const std::string& id) {
  v1::GetTaskRequest get;
  get.set_id(id);
  v1::GetTaskResponse response;
  grpc::Status status = tasks_->GetTask(Context().get(), get, &response);
  return status.ok() ? MessageReply(response.task()) : PlannerError(status);
}

ApiReply PlannerViews::WhatIf(const std::string& body, const Viewer& viewer) {
  if (!viewer.can_plan()) {
    return ErrorReply(403, "PERMISSION_DENIED",
                      absl::StrCat("asking for a plan needs a user or admin token; the token of ",
                                   viewer.name, " is ", std::string(RoleName(viewer.role))));
  }
  json form = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!form.is_object()) return BadRequest("the body: expected a JSON object");
  auto text = [&](const char* key) -> std::string {
    auto it = form.find(key);
    if (it == form.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
    return "\x01";  // neither: refused below
  };
  v1::PlanRequest request;
  request.set_model(text("model"));
  request.set_cluster(text("cluster"));
  if (request.model().empty()) return BadRequest("model: missing, expected a model name");
  if (request.cluster().empty()) return BadRequest("cluster: missing, expected a cluster name");
  if (!viewer.cluster.empty() && viewer.cluster != request.cluster()) {
    return ErrorReply(403, "PERMISSION_DENIED",
                      absl::StrCat("cluster: \"", request.cluster(), "\", the token of ",
                                   viewer.name, " may plan for cluster ", viewer.cluster, " only"));
  }
  const std::string memory = text("memory");
  if (memory.empty()) return BadRequest("memory: missing, expected e.g. 40GiB");
  if (absl::Status s = ParseMemoryFlag(memory, &request); !s.ok()) {
    return BadRequest(absl::StrCat("memory: ", s.message()));
  }
  const std::string batch = text("globalBatch").empty() ? "8" : text("globalBatch");
  if (absl::Status s = ParseGlobalBatchFlag(batch, &request); !s.ok()) {
    return BadRequest(absl::StrCat("globalBatch: ", s.message()));
  }
  const std::string mode = text("mode").empty() ? "default" : text("mode");
  if (absl::Status s = ParseModeFlag(mode, &request); !s.ok()) {
    return BadRequest(absl::StrCat("mode: ", s.message()));
  }
  for (const char* key : {"maxTp", "maxPp"}) {
    const std::string value = text(key);
    int64_t degree = 0;
    if (!value.empty() && (!absl::SimpleAtoi(value, &degree) || degree < 0 || degree > 1024)) {
      return BadRequest(absl::StrCat(key, ": \"", value, "\", expected an integer in [0, 1024]"));
    }
    if (std::string(key) == "maxTp") {
      request.set_max_tp(static_cast<int32_t>(degree));
    } else {
      request.set_max_pp(static_cast<int32_t>(degree));
    }
  }
  if (auto it = form.find("estimateMissing"); it != form.end() && !it->is_null()) {
    if (!it->is_boolean()) return BadRequest("estimateMissing: expected true or false");
    request.set_estimate_missing(it->get<bool>());
  }
  request.set_time_limit_seconds(options_.whatif_time_limit_seconds);
  v1::Plan plan;
  grpc::Status status =
      plans_->RequestPlan(Context(options_.plan_timeout_seconds).get(), request, &plan);
  if (!status.ok()) {
    ApiReply reply = PlannerError(status);
    // "No plan fits" is an answer to the question, not a rate limit.
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        absl::StrContains(status.error_message(), "fits")) {
      reply.status = 422;
    }
    return reply;
  }
  return MessageReply(plan);
}

}  // namespace galvatron::dashboard
