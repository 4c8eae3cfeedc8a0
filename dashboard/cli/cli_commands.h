// The `galvatron` CLI's commands: each talks to the planner over the public
// gRPC API and writes its result to `out` (tables, or JSON with --json),
// progress and notes to `err`. Not thread-safe; one command at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/rpc_channel.h"
#include "dashboard/cli/job_flags.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"

namespace galvatron::cli {

// Exit codes of `galvatron`.
inline constexpr int kExitOk = 0;            // done; a waited-for job SUCCEEDED
inline constexpr int kExitCallFailed = 1;    // a call failed (the planner's message)
inline constexpr int kExitUsage = 2;         // bad command line
inline constexpr int kExitJobFailed = 3;     // the waited-for job FAILED
inline constexpr int kExitJobCancelled = 4;  // the waited-for job was CANCELLED

// The exit code of `jobs wait` for a job that ended in `state`.
int JobExitCode(v1::JobState state);

struct ClientOptions {
  std::string planner = "127.0.0.1:50051";
  bool json = false;
  // `plan` and `plans show`: also say why the plan won (its nearest
  // runners-up by component, common/plan_explanation.h).
  bool explain = false;
  // The deadline of each call. `plan` waits longer unless it was given
  // (timeout_given): the search's time limit plus a margin.
  double timeout_seconds = 30;
  bool timeout_given = false;
  // Following a job or a task: how long to keep retrying while the planner
  // is unavailable (e.g. restarting), and the first pause between tries
  // (doubling, at most 5 s).
  double reconnect_seconds = 120;
  double reconnect_backoff_seconds = 0.5;
  // TLS and the bearer token (common/rpc_channel.h); default: plaintext,
  // no token.
  ClientCredentials credentials;
};

class PlannerClient {
 public:
  PlannerClient(const ClientOptions& options, std::ostream* out, std::ostream* err = &std::cerr);

  absl::Status ModelsSubmit(const std::string& file);
  absl::Status ModelsList(bool include_builtin);
  absl::Status ModelsShow(const std::string& name, int64_t version);
  absl::Status ModelsDelete(const std::string& name);

  // Imports our HardwareProfile or ComputeProfile JSON (told apart by their
  // fields).
  absl::Status ProfilesImport(const std::string& file);
  // kind: "all", "hardware" or "compute".
  absl::Status ProfilesList(const std::string& kind, const std::string& cluster);
  absl::Status ProfilesShow(const std::string& id);
  // Makes the cluster's hardware profile (or, with a layer type, that
  // compute profile) at `version` its latest again.
  absl::Status ProfilesRollback(const std::string& cluster, const std::string& layer_type,
                                int64_t version);

  // Asks the agents of the cluster to measure its interconnect (a probe
  // task); with `wait`, follows it to the end (progress on stderr), prints
  // the stored hardware profile and, with `galvatron_out`, writes Galvatron's
  // hardware-profile JSON files there.
  absl::Status ProfilesProbe(const v1::CreateTaskRequest& request, bool wait,
                             const std::string& galvatron_out);
  // Asks an agent to measure the model's layer types (a profile task).
  absl::Status ProfilesMeasure(const v1::CreateTaskRequest& request, bool wait);

  absl::Status TasksList(const std::string& cluster);
  absl::Status TasksShow(const std::string& id);
  // Follows the task to its end; an error unless it succeeded.
  absl::Status TasksWait(const std::string& id);
  absl::Status TasksCancel(const std::string& id);

  // Asks the planner for the best plan (searching unless it has one for the
  // same inputs) and prints it. With `measure`, first has the cluster's
  // agents measure what the plan lacks and waits for them.
  absl::Status Plan(const v1::PlanRequest& request, bool measure = true);
  absl::Status PlansList(const std::string& model, const std::string& cluster);
  absl::Status PlansShow(const std::string& id);
  // The cluster's calibration (version 0: the latest) with its samples.
  absl::Status CalibrationShow(const std::string& cluster, int64_t version);

  // Every registered node (of `cluster`, or all) with its state.
  absl::Status NodesList(const std::string& cluster);

  // Training jobs. Submits the job and prints its id (--json: the Job). A
  // Galvatron strategy file without a world size is converted for the
  // devices of the job's nodes (the alive nodes of the cluster, or --nodes).
  // With `follow`, then follows it like JobsWait, showing every step too. The
  // exit code: kExitOk, or JobExitCode when following.
  absl::StatusOr<int> JobsSubmit(JobSubmission* submission, bool follow);
  // Every job (of `cluster`, in `state`; UNSPECIFIED = any), newest first.
  absl::Status JobsList(const std::string& cluster, v1::JobState state);
  // The job in full (JobDetails), with its plan's shape when the plan is
  // stored.
  absl::Status JobsShow(const std::string& id);
  // One line per step so far (--json: one StepMetrics object a line); with
  // `follow`, then each new step until the job ends.
  absl::Status JobsMetrics(const std::string& id, bool follow);
  // The tails of the ranks' logs (`rank` -1: every rank), at most
  // `max_lines` each (0: the planner's default); with `follow`, then new
  // lines as the agents send them, until the job ends.
  absl::Status JobsLogs(const std::string& id, int rank, int max_lines, bool follow);
  // Follows the job to its end, state changes on `err`; prints it and
  // returns JobExitCode (the reason on `err` unless it succeeded).
  absl::StatusOr<int> JobsWait(const std::string& id);
  absl::Status JobsCancel(const std::string& id);

 private:
  // A plan on out_: JSON, or readable (with ExplainRunnersUp under
  // options_.explain).
  void PrintPlan(const v1::Plan& plan);
  // What FollowJob shows as it goes.
  struct JobFollowView {
    bool transitions = true;        // each state change, on err_
    std::ostream* steps = nullptr;  // each step, when set
    bool steps_json = false;        // ... as a StepMetrics JSON line
    int64_t after_step = 0;         // only steps after this one
  };
  // Follows the job until it ends, with long polls (GetJob; GetJobMetrics
  // while it runs and steps are shown); the final job.
  absl::StatusOr<v1::Job> FollowJob(const std::string& id, const JobFollowView& view);
  // One GetJob that waits up to `wait_ms` for a change from *revision
  // (updated), retrying while the planner is unavailable.
  absl::StatusOr<v1::Job> PollJob(const std::string& id, int64_t wait_ms, int64_t* revision);
  // Prints the final job and its outcome; the exit code.
  int ReportOutcome(const v1::Job& job);
  // Makes the call (`call` builds its own context each time), retrying with
  // backoff while the planner is unavailable, for up to reconnect_seconds,
  // and says so on err_; not before the planner has answered once (an
  // address nothing serves is reported at once). `what` names what is being
  // followed.
  absl::Status Retrying(const std::string& what, const std::function<grpc::Status()>& call);

  // Follows a task until it ends, showing progress on stderr; the final task.
  absl::StatusOr<v1::Task> Follow(const std::string& id);
  // A context with the configured deadline (or `seconds` when > 0).
  std::unique_ptr<grpc::ClientContext> Context(double seconds = 0) const;
  // The call's status, with "cannot reach the planner" added when it is down.
  absl::Status Check(const grpc::Status& status) const;

  ClientOptions options_;
  std::ostream* out_;
  std::ostream* err_;
  std::unique_ptr<v1::ModelService::Stub> models_;
  std::unique_ptr<v1::HardwareProfileService::Stub> hardware_;
  std::unique_ptr<v1::ComputeProfileService::Stub> compute_;
  std::unique_ptr<v1::PlanService::Stub> plans_;
  std::unique_ptr<v1::NodeService::Stub> nodes_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  bool planner_answered_ = false;  // a call has succeeded
};

}  // namespace galvatron::cli
