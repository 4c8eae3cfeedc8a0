// A stand-in for galvatron-agent in tests: a gRPC client of the planner's
// public NodeService and TaskService that registers a node, heartbeats from a
// thread at the interval the planner asks for, takes a training task and
// reports it as a real agent would (RUNNING, rank 0's store address, step
// metrics and log tails, checkpoint shards, SUCCEEDED) without starting a
// single worker. The steps are made up: a loss that falls, step times with a
// little noise. Loopback or not, plaintext, with an optional bearer token.
//
// Everything stops with the object (RAII): the heartbeat and training threads
// end, every call has a deadline. Thread-safe; errors of the background
// threads are collected, not thrown (Errors()), so tests check them from
// their own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace galvatron::testing {

struct FakeAgentOptions {
  std::string planner;  // HOST:PORT
  std::string cluster = "test";
  std::string node;   // the node's name
  int devices = 2;    // CPU devices of 8 GiB, indices 0..devices-1
  std::string token;  // a bearer token for every call ("" = none)
  // What the node of rank 0 reports as its store's address. Nothing listens
  // there: no worker ever joins it.
  std::string store_address = "127.0.0.1:1";
  // Each call's deadline.
  std::chrono::milliseconds rpc_timeout = std::chrono::seconds(10);
};

// How FakeAgent::StartTraining plays a training task.
struct FakeTrainingOptions {
  // How long to wait for the planner to hand this node a training task.
  std::chrono::milliseconds task_timeout = std::chrono::seconds(60);
  // Rank 0's node reports one step this often until Finish().
  std::chrono::milliseconds step_period = std::chrono::milliseconds(300);
  double step_seconds = 0.3;  // the step time it reports (± a few percent)
  // Steps rank 0's node reports at once when the task starts, as if the
  // workers had been training for a while (with times in the past): charts
  // with history, and the planner's warm-up (the first tenth of the steps)
  // behind it.
  int64_t backlog_steps = 0;
  int global_batch = 8;
  int seq_len = 64;
};

class FakeAgent {
 public:
  // Registers the node (throws std::runtime_error when the planner refuses
  // or does not answer) and starts heartbeating.
  explicit FakeAgent(FakeAgentOptions options);
  ~FakeAgent();
  FakeAgent(const FakeAgent&) = delete;
  FakeAgent& operator=(const FakeAgent&) = delete;

  const std::string& node() const { return options_.node; }
  const std::string& cluster() const { return options_.cluster; }
  std::string session_id() const;
  int64_t heartbeats() const { return heartbeats_.load(); }

  // One long poll (wait_ms, at most 60 s): the task handed to this node, if
  // any; `node_index` its part's index in task.nodes.
  grpc::Status Poll(std::chrono::milliseconds wait, std::optional<v1::Task>* task,
                    int* node_index = nullptr);

  // Reports on `task_id` with this node's cluster, name and session filled
  // in; `response` (if given) the planner's answer.
  grpc::Status Report(v1::ReportTaskRequest request, v1::ReportTaskResponse* response = nullptr);

  // Plays the next training task handed to this node, in a thread: waits
  // for it, reports RUNNING (rank 0's node with its store address), then,
  // on rank 0's node, the backlog and one made-up step every step_period
  // with the log tails of its ranks (never beyond the job's steps); the
  // other nodes only heartbeat. Finish() ends it.
  void StartTraining(FakeTrainingOptions options = {});
  // Whether this node's part of the task is RUNNING (reported and taken).
  bool training_running() const { return running_.load(); }
  // The last step rank 0's node reported and the planner took (0 before).
  int64_t steps_reported() const { return steps_.load(); }
  // The training task (empty before it was handed out).
  std::string train_task_id() const;
  // Whether this node holds rank 0 of the task (known once it is RUNNING).
  bool rank0() const { return rank0_.load(); }
  // Stops the steps and reports SUCCEEDED with checkpoint shards for this
  // node's ranks: of the last step on rank 0's node, of `checkpoint_step`
  // (0: none) on the others, so finish rank 0's node first and pass its
  // steps_reported(). Waits up to `timeout` for the report to be taken.
  // False when it did not end cleanly (see Errors()).
  bool Finish(int64_t checkpoint_step = 0,
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // What went wrong in the background threads (empty: nothing).
  std::string Errors() const;

  // A made-up step of a job: loss falling from ~6.3 towards 2, a step time
  // near `step_seconds`, throughput from the batch, `stages` stage times.
  static v1::StepMetrics MakeStep(int64_t step, double step_seconds, int global_batch, int seq_len,
                                  int stages);

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;
  grpc::Status Register();
  void HeartbeatLoop();
  void TrainLoop(FakeTrainingOptions options);
  void AddError(const std::string& error);
  // Sleeps up to `d`; false when the agent is stopping.
  bool SleepFor(std::chrono::milliseconds d) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `d` for Finish() (or the end); true when it came.
  bool WaitForFinish(std::chrono::milliseconds d) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  const FakeAgentOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NodeService::Stub> nodes_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  const std::string instance_id_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // the object is going away
  // Finish() was called (or the object is going away: set with stopping_).
  bool finish_ ABSL_GUARDED_BY(mu_) = false;
  std::string session_id_ ABSL_GUARDED_BY(mu_);
  std::chrono::milliseconds interval_ ABSL_GUARDED_BY(mu_){200};
  std::string task_id_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);

  std::atomic<int64_t> heartbeats_{0};
  std::atomic<bool> running_{false};
  std::atomic<int64_t> steps_{0};
  std::atomic<bool> rank0_{false};
  std::atomic<int64_t> finish_checkpoint_step_{0};
  std::atomic<bool> trained_ok_{false};
  std::atomic<bool> trainer_done_{false};
  std::thread heartbeat_;
  std::thread trainer_;
};

}  // namespace galvatron::testing
