// JobManager is the JobService: a user submits a model for a cluster and the
// planner takes it through
//   PENDING -> PROFILING -> PLANNED -> LAUNCHING -> RUNNING
//           -> SUCCEEDED | FAILED | CANCELLED
// (PENDING -> PLANNED directly when the job brings its own plan). Every
// transition is a new version of the job's row with its reason, also kept
// in Job.transitions.
//
//  - PENDING waits for an alive node of the cluster (or every node the job
//    names).
//  - PROFILING asks the task manager to measure what a plan lacks (a probe,
//    compute profiles: MeasureMissing), waits for those tasks, then searches
//    a plan for the job's devices (PlanManager).
//  - PLANNED places one rank per device, consecutive per node (rank 0 on the
//    first node), so that every tensor/sequence-parallel group sits inside a
//    node and a stage spans as few nodes as its size allows; the assignment
//    is Job.ranks. It creates the training task (TaskManager::CreateTrain):
//    the agents' hand-out, rendezvous and supervision are the tasks'.
//  - LAUNCHING becomes RUNNING once every node runs its workers.
//  - RUNNING: the agents' reports of the training task reach the job
//    (TrainReportListener): rank 0's step metrics (stored, one row per
//    step), the tails of the workers' logs (kept in memory), the checkpoint
//    shards written on each node (a checkpoint is complete when every rank's
//    is), and a failed worker's rank, exit and log tail.
//  - The task's end ends the job: SUCCEEDED (and the job's measured step
//    time against its plan's prediction goes to the cluster's calibration,
//    CalibrationManager); FAILED (a worker failed with
//    no restart left, a node was lost, the search found nothing, ...);
//    CANCELLED. A worker failure with restarts left relaunches every rank
//    from the latest complete checkpoint on the same nodes (a new training
//    task, attempt + 1, back to LAUNCHING).
//
// Planner restarts: a RUNNING job's training task stays (TaskManager::Start
// keeps a training task whose parts all ran): its agents kept the workers
// running, register again and go on reporting; metrics continue where the
// stored ones end, each step once. A node that does not report within
// reattach_timeout fails the task. Other tasks in flight fail; a job that
// was PENDING, PROFILING or PLANNED redoes that step, one that was
// LAUNCHING launches again, one that was RUNNING without its task counts
// as a failed attempt (relaunched from its latest complete checkpoint if it
// has restarts left). Nodes read LOST after a restart until their agents
// register again, so for up to reattach_timeout these jobs first wait for
// their nodes (a job without named nodes: every node of its cluster).
//
// Thread model: thread-safe. mu_ guards the jobs in memory and is never held
// across a store write or a call to another manager: a change is made under
// mu_, takes a WriteSequencer ticket there, and is written after mu_ is
// released (as task_board.h does for tasks). One driver thread per
// unfinished job takes it from state to state; Shutdown stops and joins
// them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "planner/service/access.h"
#include "planner/service/calibration_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/long_poll.h"
#include "planner/service/model_manager.h"
#include "planner/service/node_manager.h"
#include "planner/service/plan_manager.h"
#include "planner/service/task_manager.h"
#include "planner/service/task_reports.h"
#include "planner/service/write_sequencer.h"
#include "planner/store/store.h"

namespace galvatron::planner {

struct JobManagerOptions {
  // The longest GetJob / GetJobMetrics wait a caller may ask for.
  absl::Duration max_wait = absl::Seconds(60);
  // How often a driver looks again while it waits for nodes or tasks.
  absl::Duration tick = absl::Seconds(1);
  // Rounds of measuring before a job gives up on a cluster that keeps
  // lacking profiles.
  int max_profiling_rounds = 3;
  // After a planner restart, how long a running job waits for each of its
  // nodes' agents to report again before its task fails, and how long a job
  // not yet running waits for its nodes' agents to register again before it
  // goes on with the nodes that are alive (galvatron-planner
  // --reattach-timeout-ms).
  absl::Duration reattach_timeout = absl::Seconds(60);
  // How long CancelJob waits for the job to end.
  absl::Duration cancel_wait = absl::Seconds(20);
};

class JobManager final : public v1::JobService::Service,
                         public TrainReportListener,
                         public GuardedService {
 public:
  JobManager(store::Store* store, NodeManager* nodes, ModelManager* models,
             HardwareProfileManager* hardware, PlanManager* plans, TaskManager* tasks,
             const JobManagerOptions& options = {}, CalibrationManager* calibrations = nullptr);
  ~JobManager() override;

  // Reads the stored jobs and takes the unfinished ones up again (see
  // above). Call once, after TaskManager::Start, before serving.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the drivers (jobs stay as stored) and wakes every long poll.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // `owner`: the submitting token's NAME (empty without tokens).
  absl::StatusOr<v1::Job> Submit(const v1::SubmitJobRequest& request, const std::string& owner = "")
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::GetJobResponse> Get(const v1::GetJobRequest& request,
                                         const grpc::ServerContext* context = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::ListJobsResponse> List(const v1::ListJobsRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::Job> Cancel(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::GetJobMetricsResponse> Metrics(const v1::GetJobMetricsRequest& request,
                                                    const grpc::ServerContext* context = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::GetJobLogsResponse> Logs(const v1::GetJobLogsRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // TrainReportListener.
  absl::Status OnTrainReport(const v1::Task& task, const v1::ReportTaskRequest& report) override
      ABSL_LOCKS_EXCLUDED(mu_);

  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::GetJobResponse* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetJobMetrics(grpc::ServerContext* context, const v1::GetJobMetricsRequest* request,
                             v1::GetJobMetricsResponse* response) override;
  grpc::Status GetJobLogs(grpc::ServerContext* context, const v1::GetJobLogsRequest* request,
                          v1::GetJobLogsResponse* response) override;

 private:
  // A job in memory: the record, and what is kept beside it.
  struct Entry {
    v1::Job job;
    int64_t revision = 0;
    bool cancel_requested = false;
    v1::ModelSpec model;          // resolved at submission
    v1::Plan given_plan;          // a plan given whole (has an id once stored)
    v1::Plan plan;                // the plan in use, once PLANNED
    std::vector<v1::Node> nodes;  // the job's nodes, once chosen
    std::map<int, v1::RankLog> logs;
    // Metrics of the current attempt: the last step stored, and the
    // measured step and stage times after the warm-up.
    int64_t stored_through = 0;
    std::map<int64_t, double> step_seconds;
    std::map<int64_t, std::vector<double>> stage_seconds;
    // Rank 0's waits for communication in the passes and for the gradient
    // sync (StepMetrics), by step; only steps whose workers reported waits.
    std::map<int64_t, std::pair<double, double>> waits;
    // Keeps a measured step's times and waits (a step after the warm-up).
    void KeepMeasured(const v1::StepMetrics& m);
    // Checkpoint shards reported: step -> ranks.
    std::map<int64_t, std::set<int>> shards;
    std::optional<v1::JobFailure> failure;  // of the current attempt's task
    // What rank 0's node reported exporting, with its final report.
    std::optional<v1::ExportedModel> exported;
    absl::Time failure_at;
    // After a planner restart: until when the nodes may re-attach, and
    // those that have (reported since).
    absl::Time reattach_deadline = absl::InfiniteFuture();
    std::set<std::string> reattached;
    // After a planner restart: until when a job that is not running waits
    // for the agents of its nodes to register again (NodesNotBack).
    absl::Time nodes_deadline = absl::InfinitePast();
  };

  // What a change must write: the job as the change left it, in its turn.
  struct Write {
    v1::Job job;
    WriteSequencer::Ticket ticket;
  };

  // Runs `change` on the entry under mu_ (false: nothing changed); bumps the
  // revision; returns the row to write when `store` (nullopt otherwise or
  // when nothing changed or the job is unknown).
  std::optional<Write> Change(int64_t number, bool store,
                              const std::function<bool(Entry& entry)>& change)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Commit(std::optional<Write> write);
  // Moves the job to `state` with `reason` and stores it. `extra` (may be
  // null) changes more of the entry in the same step.
  absl::Status Transition(int64_t number, v1::JobState state, const std::string& reason,
                          const std::function<void(Entry& entry)>& extra = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  std::optional<Entry> Snapshot(int64_t number) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::GetJobResponse> Current(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);

  // The driver of one job, on its own thread, until the job ends or the
  // manager shuts down.
  void Drive(int64_t number);
  // One step of the state machine; false when the driver should end.
  bool Step(int64_t number);
  absl::Status Pend(int64_t number, const Entry& entry);
  absl::Status Profile(int64_t number, const Entry& entry);
  absl::Status Launch(int64_t number, const Entry& entry);
  absl::Status Watch(int64_t number, const Entry& entry);
  // The task ended: the job ends, or relaunches.
  absl::Status TaskEnded(int64_t number, const Entry& ended, const v1::Task& task);
  // A worker's failure that is only an exit (a peer stopping because a
  // worker died, say) may be followed by the report of a worker killed by a
  // signal, from a node whose agent was busy: waits for it a moment after
  // the first failure. The entry then, or nullopt when there is nothing to
  // wait for.
  std::optional<Entry> AwaitKilledWorker(int64_t number, const Entry& entry)
      ABSL_LOCKS_EXCLUDED(mu_);
  // After a worker failure reported at `since`: the job's nodes found lost
  // (an agent that died takes its workers with it, and their peers fail
  // first). Waits until every node has either heartbeated after `since` or
  // is lost, at most the node timeout and a second.
  std::vector<std::string> LostNodes(const v1::Job& job, absl::Time since);
  // Waits until `task_id` changes from `known` or a tick passes; the task.
  absl::StatusOr<v1::GetTaskResponse> WaitTask(const std::string& task_id, int64_t known);
  // Waits a tick or until the job changes (a cancel).
  void Nap(int64_t number);
  // The alive nodes the job may use, in order; empty when they are not all
  // up yet.
  absl::StatusOr<std::vector<v1::Node>> JobNodes(const v1::Job& job);
  // Before the entry's nodes_deadline: the job's nodes (those it was placed
  // on or names, else every node the cluster has registered) whose agents
  // have not registered since the restart; empty after it. Then a job waits
  // (WaitForNodes) rather than go on without them (PENDING, PROFILING) or
  // fail (PLANNED).
  std::vector<std::string> NodesNotBack(const Entry& entry);
  // Says so in the job's message and naps.
  absl::Status WaitForNodes(int64_t number, const std::vector<std::string>& away);
  void StartDriver(int64_t number) ABSL_LOCKS_EXCLUDED(mu_);
  // After a restart: the stored metrics of the job's current attempt back
  // in its entry (the last step, the measured step times).
  absl::Status ReloadMetrics(int64_t number, const std::string& job_id) ABSL_LOCKS_EXCLUDED(mu_);

  store::Store* const store_;
  NodeManager* const nodes_;
  ModelManager* const models_;
  HardwareProfileManager* const hardware_;
  PlanManager* const plans_;
  TaskManager* const tasks_;
  CalibrationManager* const calibrations_;  // null: jobs teach no calibration
  const JobManagerOptions options_;
  Revisions revisions_;
  WriteSequencer writes_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Training task id -> job number.
  std::map<std::string, int64_t> train_tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> drivers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::planner
