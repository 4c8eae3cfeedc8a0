// A gRPC client of the planner's jobs, tasks and nodes for end-to-end tests:
// each call has a deadline and REQUIREs success (the Try* calls return the
// status instead); the waits ride through a planner restart. Not
// thread-safe (test code).
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/support/test_support.h"

namespace galvatron::testing {

class JobClient {
 public:
  explicit JobClient(const std::string& address)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        jobs_(v1::JobService::NewStub(channel_)),
        tasks_(v1::TaskService::NewStub(channel_)),
        nodes_(v1::NodeService::NewStub(channel_)) {}

  // Alive nodes of every cluster; -1 when the planner does not answer.
  int AliveNodes() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListNodesResponse response;
    if (!nodes_->ListNodes(&context, v1::ListNodesRequest(), &response).ok()) return -1;
    int alive = 0;
    for (const v1::Node& node : response.nodes()) alive += node.state() == v1::NODE_STATE_ALIVE;
    return alive;
  }

  grpc::Status TrySubmit(const v1::SubmitJobRequest& request, v1::Job* job = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::Job ignored;
    return jobs_->SubmitJob(&context, request, job != nullptr ? job : &ignored);
  }

  v1::Job Submit(const v1::SubmitJobRequest& request) {
    v1::Job job;
    grpc::Status status = TrySubmit(request, &job);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return job;
  }

  // The job; through a planner restart (waits for the planner to serve).
  v1::Job Get(const std::string& id) {
    for (int attempt = 0;; ++attempt) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      context.set_wait_for_ready(true);
      v1::GetJobRequest request;
      request.set_id(id);
      v1::GetJobResponse response;
      grpc::Status status = jobs_->GetJob(&context, request, &response);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && attempt < 3) continue;
      INFO(status.error_message());
      REQUIRE(status.ok());
      return response.job();
    }
  }

  v1::Task Task(const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    context.set_wait_for_ready(true);
    v1::GetTaskRequest request;
    request.set_id(id);
    v1::GetTaskResponse response;
    grpc::Status status = tasks_->GetTask(&context, request, &response);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return response.task();
  }

  // Follows the job with long polls until it ends or `timeout` passes.
  v1::Job WaitEnd(const std::string& id, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int64_t revision = 0;
    v1::Job job;
    while (std::chrono::steady_clock::now() < deadline) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
      v1::GetJobRequest request;
      request.set_id(id);
      request.set_wait_ms(5000);
      request.set_known_revision(revision);
      context.set_wait_for_ready(true);  // through a planner restart
      v1::GetJobResponse response;
      grpc::Status status = jobs_->GetJob(&context, request, &response);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
          status.error_code() == grpc::StatusCode::CANCELLED) {
        continue;  // restarting
      }
      INFO(status.error_message());
      REQUIRE(status.ok());
      job = response.job();
      revision = response.revision();
      if (revision == -1) break;
    }
    return job;
  }

  // Waits until `ready` holds for the job (or it has ended); the job.
  v1::Job WaitJob(const std::string& id, const std::function<bool(const v1::Job&)>& ready,
                  std::chrono::seconds timeout) {
    v1::Job job;
    WaitFor(
        [&] {
          job = Get(id);
          return ready(job) || job.state() >= v1::JOB_STATE_SUCCEEDED;
        },
        timeout);
    return job;
  }

  // Waits until the job is in `state` (or has ended).
  v1::Job WaitState(const std::string& id, v1::JobState state, std::chrono::seconds timeout) {
    return WaitJob(
        id, [state](const v1::Job& job) { return job.state() == state; }, timeout);
  }

  // Every stored step, fetched two a page (exercises paging).
  std::vector<v1::StepMetrics> Metrics(const std::string& id) {
    std::vector<v1::StepMetrics> all;
    int64_t after = 0;
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::GetJobMetricsRequest request;
      request.set_job_id(id);
      request.set_after_step(after);
      request.set_page_size(2);
      v1::GetJobMetricsResponse response;
      grpc::Status status = jobs_->GetJobMetrics(&context, request, &response);
      INFO(status.error_message());
      REQUIRE(status.ok());
      for (const v1::StepMetrics& m : response.metrics()) all.push_back(m);
      if (response.metrics_size() == 0 || response.job_finished()) break;
      after = response.metrics(response.metrics_size() - 1).step();
    }
    return all;
  }

  v1::GetJobLogsResponse Logs(const std::string& id, int rank) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetJobLogsRequest request;
    request.set_job_id(id);
    request.set_rank(rank);
    v1::GetJobLogsResponse response;
    grpc::Status status = jobs_->GetJobLogs(&context, request, &response);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return response;
  }

  v1::Job Cancel(const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::CancelJobRequest request;
    request.set_id(id);
    v1::Job job;
    grpc::Status status = jobs_->CancelJob(&context, request, &job);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return job;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::NodeService::Stub> nodes_;
};

// One line on how a job ended (its last transition's reason and any worker
// failure), for INFO before the full message: a long DebugString may be cut
// from a test log, this line is not.
inline std::string JobEnding(const v1::Job& job) {
  std::string line = v1::JobState_Name(job.state());
  if (job.transitions_size() > 0) {
    line += ": " + job.transitions(job.transitions_size() - 1).reason();
  }
  if (job.has_failure()) line += " | failure: " + job.failure().ShortDebugString();
  return line;
}

}  // namespace galvatron::testing
