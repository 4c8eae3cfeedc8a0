// A stand-in for the planner's JobService (plus ListNodes and GetPlan) on a
// loopback port, for tests of the CLI's jobs commands: the test sets the jobs,
// their steps and logs; every change bumps one revision and wakes the long
// polls, as the planner's do; every call is recorded with its wait and its
// deadline. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/server.h"

namespace galvatron::testing {

class FakeJobPlanner {
 public:
  struct Call {
    std::string method;  // "GetJob", "GetJobMetrics", ...
    int64_t wait_ms = 0;
    int64_t known_revision = 0;
    int64_t after_step = 0;
    double deadline_seconds = 0;  // left when the call arrived
  };

  // Serves `jobs` on `listen` (port 0: a free one).
  explicit FakeJobPlanner(const std::string& listen = "127.0.0.1:0",
                          const std::vector<v1::Job>& jobs = {});
  // Long polls answer at once (as the planner's do when it stops), then the
  // server stops.
  ~FakeJobPlanner();
  FakeJobPlanner(const FakeJobPlanner&) = delete;
  FakeJobPlanner& operator=(const FakeJobPlanner&) = delete;

  const std::string& address() const { return address_; }

  // Adds or replaces a job (by id).
  void PutJob(const v1::Job& job) ABSL_LOCKS_EXCLUDED(mu_);
  // Changes a job in place.
  void UpdateJob(const std::string& id, const std::function<void(v1::Job*)>& change)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Moves the job to `state` with `reason`, recording the transition.
  void SetState(const std::string& id, v1::JobState state, const std::string& reason)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Steps first..last of the job with loss 10/step; steps_done and
  // last_metrics follow.
  void AddSteps(const std::string& id, int64_t first, int64_t last) ABSL_LOCKS_EXCLUDED(mu_);
  void SetLogs(const std::string& id, const std::vector<v1::RankLog>& logs)
      ABSL_LOCKS_EXCLUDED(mu_);
  void SetNodes(const std::vector<v1::Node>& nodes) ABSL_LOCKS_EXCLUDED(mu_);
  void PutPlan(const v1::Plan& plan) ABSL_LOCKS_EXCLUDED(mu_);
  // The next `calls` calls answer UNAVAILABLE (a planner restarting).
  void FailNext(int calls) ABSL_LOCKS_EXCLUDED(mu_);
  // false: GetJobMetrics answers at once instead of waiting for a step.
  void set_metrics_long_poll(bool on) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<Call> calls() const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls parked in a long poll now, by method.
  int waiting(const std::string& method) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<v1::SubmitJobRequest> submitted() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<v1::GetJobLogsRequest> log_requests() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<v1::ListJobsRequest> list_requests() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class JobService;
  class NodeService;
  class PlanService;

  // Records the call; false (answer UNAVAILABLE) while FailNext lasts.
  bool Arrive(const Call& call) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `wait_ms` (and while not stopping) until `ready` holds.
  void Await(const std::string& method, int64_t wait_ms, const std::function<bool()>& ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Bump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++revision_; }

  mutable absl::Mutex mu_;
  // Seeded from the clock: revisions never repeat across a restart (or a
  // client that reconnects without noticing would wait for a change from a
  // revision the new planner is also at).
  int64_t revision_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  bool metrics_long_poll_ ABSL_GUARDED_BY(mu_) = true;
  int next_job_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, v1::Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<v1::StepMetrics>> metrics_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<v1::RankLog>> logs_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Node> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Plan> plans_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> waiting_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SubmitJobRequest> submitted_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::GetJobLogsRequest> log_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListJobsRequest> list_requests_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<JobService> job_service_;
  std::unique_ptr<NodeService> node_service_;
  std::unique_ptr<PlanService> plan_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace galvatron::testing
