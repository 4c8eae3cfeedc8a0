#include "tests/dashboard/cli/fake_job_planner.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace galvatron::testing {
namespace {

bool Finished(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

double DeadlineLeft(const grpc::ServerContext* context) {
  return std::chrono::duration<double>(context->deadline() - std::chrono::system_clock::now())
      .count();
}

grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the planner is restarting");
}

grpc::Status NotFound(const std::string& id) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("job ", id, " not found"));
}

int JobNumber(const std::string& id) {
  int n = 0;
  return absl::SimpleAtoi(id.substr(id.find('-') + 1), &n) ? n : 0;
}

}  // namespace

class FakeJobPlanner::JobService final : public v1::JobService::Service {
 public:
  explicit JobService(FakeJobPlanner* fake) : fake_(fake) {}

  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::Job* response) override {
    if (!fake_->Arrive({"SubmitJob", 0, 0, 0, DeadlineLeft(context)})) return Unavailable();
    absl::MutexLock lock(&fake_->mu_);
    fake_->submitted_.push_back(*request);
    v1::Job job;
    job.set_id(absl::StrCat("job-", fake_->next_job_++));
    job.set_model(request->has_model_spec() ? request->model_spec().name() : request->model());
    job.set_cluster(request->cluster());
    job.set_plan_id(request->plan_id());
    job.set_state(v1::JOB_STATE_PENDING);
    job.set_message("submitted");
    *job.mutable_training() = request->training();
    job.set_memory_budget_bytes(request->memory_budget_bytes());
    *job.mutable_nodes() = request->nodes();
    auto* transition = job.add_transitions();
    transition->set_state(v1::JOB_STATE_PENDING);
    transition->set_reason("submitted");
    fake_->jobs_[job.id()] = job;
    fake_->Bump();
    *response = job;
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::GetJobResponse* response) override {
    if (!fake_->Arrive(
            {"GetJob", request->wait_ms(), request->known_revision(), 0, DeadlineLeft(context)})) {
      return Unavailable();
    }
    absl::MutexLock lock(&fake_->mu_);
    if (fake_->jobs_.count(request->id()) == 0) return NotFound(request->id());
    const int64_t known = request->known_revision();
    fake_->Await("GetJob", request->wait_ms(),
                 [this, known]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake_->mu_) {
                   return fake_->revision_ != known;
                 });
    *response->mutable_job() = fake_->jobs_[request->id()];
    response->set_revision(fake_->revision_);
    return grpc::Status::OK;
  }

  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override {
    if (!fake_->Arrive({"ListJobs", 0, 0, 0, DeadlineLeft(context)})) return Unavailable();
    absl::MutexLock lock(&fake_->mu_);
    fake_->list_requests_.push_back(*request);
    std::vector<const v1::Job*> matching;
    for (const auto& [id, job] : fake_->jobs_) {
      if (!request->cluster().empty() && job.cluster() != request->cluster()) continue;
      if (request->state() != v1::JOB_STATE_UNSPECIFIED && job.state() != request->state()) {
        continue;
      }
      matching.push_back(&job);
    }
    std::sort(matching.begin(), matching.end(), [](const v1::Job* a, const v1::Job* b) {
      return JobNumber(a->id()) > JobNumber(b->id());  // newest first
    });
    int start = 0;
    if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &start)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token");
    }
    const int size = request->page_size() > 0 ? request->page_size() : 100;
    for (int i = start; i < static_cast<int>(matching.size()) && i < start + size; ++i) {
      *response->add_jobs() = *matching[static_cast<size_t>(i)];
    }
    if (start + size < static_cast<int>(matching.size())) {
      response->set_next_page_token(absl::StrCat(start + size));
    }
    return grpc::Status::OK;
  }

  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override {
    if (!fake_->Arrive({"CancelJob", 0, 0, 0, DeadlineLeft(context)})) return Unavailable();
    {
      absl::MutexLock lock(&fake_->mu_);
      if (fake_->jobs_.count(request->id()) == 0) return NotFound(request->id());
    }
    fake_->SetState(request->id(), v1::JOB_STATE_CANCELLED, "cancelled by the user");
    absl::MutexLock lock(&fake_->mu_);
    *response = fake_->jobs_[request->id()];
    return grpc::Status::OK;
  }

  grpc::Status GetJobMetrics(grpc::ServerContext* context, const v1::GetJobMetricsRequest* request,
                             v1::GetJobMetricsResponse* response) override {
    if (!fake_->Arrive({"GetJobMetrics", request->wait_ms(), 0, request->after_step(),
                        DeadlineLeft(context)})) {
      return Unavailable();
    }
    absl::MutexLock lock(&fake_->mu_);
    const std::string& id = request->job_id();
    if (fake_->jobs_.count(id) == 0) return NotFound(id);
    const int64_t after = request->after_step();
    auto fresh = [this, &id, after]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake_->mu_) {
      const auto& steps = fake_->metrics_[id];
      return !steps.empty() && steps.back().step() > after;
    };
    if (fake_->metrics_long_poll_ && fake_->jobs_[id].state() == v1::JOB_STATE_RUNNING) {
      fake_->Await("GetJobMetrics", request->wait_ms(),
                   [this, &id, &fresh]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake_->mu_) {
                     return fresh() || fake_->jobs_[id].state() != v1::JOB_STATE_RUNNING;
                   });
    }
    const int size = request->page_size() > 0 ? request->page_size() : 1000;
    bool more = false;
    for (const v1::StepMetrics& m : fake_->metrics_[id]) {
      if (m.step() <= after) continue;
      if (response->metrics_size() == size) {
        more = true;
        break;
      }
      *response->add_metrics() = m;
    }
    response->set_job_finished(Finished(fake_->jobs_[id].state()) && !more);
    return grpc::Status::OK;
  }

  grpc::Status GetJobLogs(grpc::ServerContext* context, const v1::GetJobLogsRequest* request,
                          v1::GetJobLogsResponse* response) override {
    if (!fake_->Arrive({"GetJobLogs", 0, 0, 0, DeadlineLeft(context)})) return Unavailable();
    absl::MutexLock lock(&fake_->mu_);
    fake_->log_requests_.push_back(*request);
    if (fake_->jobs_.count(request->job_id()) == 0) return NotFound(request->job_id());
    for (const v1::RankLog& log : fake_->logs_[request->job_id()]) {
      if (request->rank() == -1 || request->rank() == log.rank()) *response->add_logs() = log;
    }
    return grpc::Status::OK;
  }

 private:
  FakeJobPlanner* fake_;
};

class FakeJobPlanner::NodeService final : public v1::NodeService::Service {
 public:
  explicit NodeService(FakeJobPlanner* fake) : fake_(fake) {}
  grpc::Status ListNodes(grpc::ServerContext* context, const v1::ListNodesRequest* request,
                         v1::ListNodesResponse* response) override {
    if (!fake_->Arrive({"ListNodes", 0, 0, 0, DeadlineLeft(context)})) return Unavailable();
    absl::MutexLock lock(&fake_->mu_);
    for (const v1::Node& node : fake_->nodes_) {
      if (request->cluster().empty() || node.cluster() == request->cluster()) {
        *response->add_nodes() = node;
      }
    }
    return grpc::Status::OK;
  }

 private:
  FakeJobPlanner* fake_;
};

class FakeJobPlanner::PlanService final : public v1::PlanService::Service {
 public:
  explicit PlanService(FakeJobPlanner* fake) : fake_(fake) {}
  grpc::Status GetPlan(grpc::ServerContext* context, const v1::GetPlanRequest* request,
                       v1::Plan* response) override {
    if (!fake_->Arrive({"GetPlan", 0, 0, 0, DeadlineLeft(context)})) return Unavailable();
    absl::MutexLock lock(&fake_->mu_);
    auto it = fake_->plans_.find(request->id());
    if (it == fake_->plans_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no plan " + request->id());
    }
    *response = it->second;
    return grpc::Status::OK;
  }

 private:
  FakeJobPlanner* fake_;
};

FakeJobPlanner::FakeJobPlanner(const std::string& listen, const std::vector<v1::Job>& jobs)
    : revision_(absl::ToUnixMicros(absl::Now())),
      job_service_(std::make_unique<JobService>(this)),
      node_service_(std::make_unique<NodeService>(this)),
      plan_service_(std::make_unique<PlanService>(this)) {
  for (const v1::Job& job : jobs) PutJob(job);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(job_service_.get());
  builder.RegisterService(node_service_.get());
  builder.RegisterService(plan_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ != nullptr && port > 0) {
    address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  }
}

FakeJobPlanner::~FakeJobPlanner() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
  }
}

void FakeJobPlanner::PutJob(const v1::Job& job) {
  absl::MutexLock lock(&mu_);
  jobs_[job.id()] = job;
  next_job_ = std::max(next_job_, JobNumber(job.id()) + 1);
  Bump();
}

void FakeJobPlanner::UpdateJob(const std::string& id, const std::function<void(v1::Job*)>& change) {
  absl::MutexLock lock(&mu_);
  change(&jobs_[id]);
  Bump();
}

void FakeJobPlanner::SetState(const std::string& id, v1::JobState state,
                              const std::string& reason) {
  UpdateJob(id, [&](v1::Job* job) {
    job->set_state(state);
    job->set_message(reason);
    auto* transition = job->add_transitions();
    transition->set_state(state);
    transition->set_reason(reason);
  });
}

void FakeJobPlanner::AddSteps(const std::string& id, int64_t first, int64_t last) {
  absl::MutexLock lock(&mu_);
  v1::Job& job = jobs_[id];
  for (int64_t step = first; step <= last; ++step) {
    v1::StepMetrics m;
    m.set_job_id(id);
    m.set_step(step);
    m.set_loss(10.0 / static_cast<double>(step));
    m.set_step_seconds(0.25);
    m.set_tokens_per_second(2048);
    m.set_samples_per_second(32);
    m.set_learning_rate(1e-3);
    m.set_grad_norm(0.5);
    metrics_[id].push_back(m);
    job.set_steps_done(step);
    *job.mutable_last_metrics() = m;
  }
  Bump();
}

void FakeJobPlanner::SetLogs(const std::string& id, const std::vector<v1::RankLog>& logs) {
  absl::MutexLock lock(&mu_);
  logs_[id] = logs;
  Bump();
}

void FakeJobPlanner::SetNodes(const std::vector<v1::Node>& nodes) {
  absl::MutexLock lock(&mu_);
  nodes_ = nodes;
}

void FakeJobPlanner::PutPlan(const v1::Plan& plan) {
  absl::MutexLock lock(&mu_);
  plans_[plan.id()] = plan;
}

void FakeJobPlanner::FailNext(int calls) {
  absl::MutexLock lock(&mu_);
  fail_next_ = calls;
}

void FakeJobPlanner::set_metrics_long_poll(bool on) {
  absl::MutexLock lock(&mu_);
  metrics_long_poll_ = on;
}

std::vector<FakeJobPlanner::Call> FakeJobPlanner::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int FakeJobPlanner::waiting(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = waiting_.find(method);
  return it == waiting_.end() ? 0 : it->second;
}

std::vector<v1::SubmitJobRequest> FakeJobPlanner::submitted() const {
  absl::MutexLock lock(&mu_);
  return submitted_;
}

std::vector<v1::GetJobLogsRequest> FakeJobPlanner::log_requests() const {
  absl::MutexLock lock(&mu_);
  return log_requests_;
}

std::vector<v1::ListJobsRequest> FakeJobPlanner::list_requests() const {
  absl::MutexLock lock(&mu_);
  return list_requests_;
}

bool FakeJobPlanner::Arrive(const Call& call) {
  absl::MutexLock lock(&mu_);
  calls_.push_back(call);
  if (fail_next_ > 0) {
    --fail_next_;
    return false;
  }
  return true;
}

void FakeJobPlanner::Await(const std::string& method, int64_t wait_ms,
                           const std::function<bool()>& ready) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(wait_ms);
  ++waiting_[method];
  auto done = [this, &ready]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || ready(); };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  --waiting_[method];
}

}  // namespace galvatron::testing
