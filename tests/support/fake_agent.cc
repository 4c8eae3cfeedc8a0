#include "tests/support/fake_agent.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace galvatron::testing {

namespace {

std::string RandomInstanceId() {
  std::random_device random;
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "fake-%08x%08x", random(), random());
  return buffer;
}

void SetNow(google::protobuf::Timestamp* time) {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
  time->set_seconds(nanos / 1000000000);
  time->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

std::string Describe(const grpc::Status& status) {
  return std::to_string(static_cast<int>(status.error_code())) + " " + status.error_message();
}

// Worth another try: the planner is busy or the call raced a re-registration.
bool Transient(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return true;
    default:
      return false;
  }
}

std::string StepLine(const v1::StepMetrics& m) {
  char line[160];
  std::snprintf(line, sizeof(line), "step %lld | loss %.4f | %.3f s/step | %.1f samples/s\n",
                static_cast<long long>(m.step()), m.loss(), m.step_seconds(),
                m.samples_per_second());
  return line;
}

}  // namespace

FakeAgent::FakeAgent(FakeAgentOptions options)
    : options_(std::move(options)),
      channel_(grpc::CreateChannel(options_.planner, grpc::InsecureChannelCredentials())),
      nodes_(v1::NodeService::NewStub(channel_)),
      tasks_(v1::TaskService::NewStub(channel_)),
      instance_id_(RandomInstanceId()) {
  grpc::Status status = Register();
  for (int attempt = 0; !status.ok() && Transient(status) && attempt < 50; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = Register();
  }
  if (!status.ok()) {
    throw std::runtime_error("fake agent " + options_.node +
                             ": RegisterNode failed: " + Describe(status));
  }
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
}

FakeAgent::~FakeAgent() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    finish_ = true;
  }
  if (trainer_.joinable()) trainer_.join();
  if (heartbeat_.joinable()) heartbeat_.join();
}

std::unique_ptr<grpc::ClientContext> FakeAgent::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  if (!options_.token.empty()) context->AddMetadata("authorization", "Bearer " + options_.token);
  return context;
}

std::string FakeAgent::session_id() const {
  absl::MutexLock lock(&mu_);
  return session_id_;
}

std::string FakeAgent::train_task_id() const {
  absl::MutexLock lock(&mu_);
  return task_id_;
}

std::string FakeAgent::Errors() const {
  absl::MutexLock lock(&mu_);
  std::string all;
  for (const std::string& e : errors_) all += options_.node + ": " + e + "\n";
  return all;
}

void FakeAgent::AddError(const std::string& error) {
  absl::MutexLock lock(&mu_);
  errors_.push_back(error);
}

bool FakeAgent::SleepFor(std::chrono::milliseconds d) {
  absl::MutexLock lock(&mu_);
  return !mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(d));
}

bool FakeAgent::WaitForFinish(std::chrono::milliseconds d) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&finish_), absl::FromChrono(d));
}

bool FakeAgent::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

grpc::Status FakeAgent::Register() {
  v1::RegisterNodeRequest request;
  v1::Node* node = request.mutable_node();
  node->set_name(options_.node);
  node->set_cluster(options_.cluster);
  node->set_host("127.0.0.1");
  node->set_cpu_cores(2);
  node->set_memory_bytes(int64_t{16} << 30);
  node->set_agent_version("0.1.0-fake");
  node->set_agent_instance_id(instance_id_);
  for (int i = 0; i < options_.devices; ++i) {
    v1::Device* device = node->add_devices();
    device->set_kind(v1::DEVICE_KIND_CPU);
    device->set_index(i);
    device->set_name("cpu");
    device->set_memory_bytes(int64_t{8} << 30);
  }
  v1::RegisterNodeResponse response;
  grpc::Status status = nodes_->RegisterNode(Context().get(), request, &response);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  session_id_ = response.session_id();
  if (response.heartbeat_interval_ms() > 0) {
    interval_ = std::chrono::milliseconds(response.heartbeat_interval_ms());
  }
  return status;
}

void FakeAgent::HeartbeatLoop() {
  while (true) {
    std::chrono::milliseconds interval;
    {
      absl::MutexLock lock(&mu_);
      interval = interval_;
    }
    if (!SleepFor(interval)) return;
    v1::HeartbeatRequest request;
    request.set_cluster(options_.cluster);
    request.set_node(options_.node);
    request.set_session_id(session_id());
    v1::HeartbeatResponse response;
    grpc::Status status = nodes_->Heartbeat(Context().get(), request, &response);
    if (status.ok()) {
      ++heartbeats_;
      absl::MutexLock lock(&mu_);
      if (response.heartbeat_interval_ms() > 0) {
        interval_ = std::chrono::milliseconds(response.heartbeat_interval_ms());
      }
      continue;
    }
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      // The planner forgot this session (it restarted): register again.
      grpc::Status registered = Register();
      if (!registered.ok() && !Transient(registered)) {
        AddError("registering again failed: " + Describe(registered));
      }
    } else if (!Transient(status)) {
      AddError("heartbeat failed: " + Describe(status));
    }
  }
}

grpc::Status FakeAgent::Poll(std::chrono::milliseconds wait, std::optional<v1::Task>* task,
                             int* node_index) {
  task->reset();
  v1::PollTaskRequest request;
  request.set_cluster(options_.cluster);
  request.set_node(options_.node);
  request.set_session_id(session_id());
  request.set_wait_ms(std::min<int64_t>(wait.count(), 60000));
  auto context = Context();
  context->set_deadline(std::chrono::system_clock::now() + wait + options_.rpc_timeout);
  v1::PollTaskResponse response;
  grpc::Status status = tasks_->PollTask(context.get(), request, &response);
  if (status.ok() && response.has_task()) {
    *task = response.task();
    if (node_index != nullptr) *node_index = response.node_index();
  }
  return status;
}

grpc::Status FakeAgent::Report(v1::ReportTaskRequest request, v1::ReportTaskResponse* response) {
  request.set_cluster(options_.cluster);
  request.set_node(options_.node);
  request.set_session_id(session_id());
  v1::ReportTaskResponse ignored;
  return tasks_->ReportTask(Context().get(), request, response != nullptr ? response : &ignored);
}

v1::StepMetrics FakeAgent::MakeStep(int64_t step, double step_seconds, int global_batch,
                                    int seq_len, int stages) {
  const double s = static_cast<double>(step);
  // Deterministic wiggles instead of random noise: the same run each time.
  const double wiggle = std::sin(s * 1.7) * 0.5 + std::sin(s * 0.37) * 0.5;
  v1::StepMetrics m;
  m.set_step(step);
  m.set_loss(2.0 + 4.3 * std::exp(-s / 150.0) + 0.08 * wiggle);
  const double seconds = step_seconds * (1.0 + 0.04 * wiggle) * (step == 1 ? 2.5 : 1.0);
  m.set_step_seconds(seconds);
  m.set_samples_per_second(global_batch / seconds);
  m.set_tokens_per_second(global_batch * seq_len / seconds);
  m.set_learning_rate(1e-3);
  m.set_grad_norm(1.5 * std::exp(-s / 90.0) + 0.3 + 0.05 * wiggle);
  m.set_peak_memory_bytes(int64_t{180} << 20);
  m.set_model_state_bytes(int64_t{12} << 20);
  for (int i = 0; i < std::max(1, stages); ++i) {
    m.add_stage_seconds(seconds * (0.85 + 0.05 * i) / std::max(1, stages));
  }
  SetNow(m.mutable_time());
  return m;
}

void FakeAgent::StartTraining(FakeTrainingOptions options) {
  if (trainer_.joinable()) throw std::logic_error("StartTraining: already started");
  trainer_ = std::thread([this, options] { TrainLoop(options); });
}

void FakeAgent::TrainLoop(FakeTrainingOptions options) {
  struct Done {
    std::atomic<bool>* flag;
    ~Done() { *flag = true; }
  } done_flag{&trainer_done_};
  // 1. Wait for a training task.
  const auto deadline = std::chrono::steady_clock::now() + options.task_timeout;
  std::optional<v1::Task> task;
  int index = 0;
  while (!task.has_value()) {
    if (stopping()) return;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      AddError("no training task was handed to this node within " +
               std::to_string(options.task_timeout.count()) + " ms");
      return;
    }
    grpc::Status status = Poll(std::min(left, std::chrono::milliseconds(2000)), &task, &index);
    if (!status.ok()) {
      if (!Transient(status) && status.error_code() != grpc::StatusCode::NOT_FOUND) {
        AddError("PollTask failed: " + Describe(status));
        return;
      }
      if (!SleepFor(std::chrono::milliseconds(100))) return;
      continue;
    }
    if (task.has_value() && task->kind() != v1::TASK_KIND_TRAIN) {
      AddError("got " + v1::TaskKind_Name(task->kind()) + " task " + task->id() +
               "; a fake agent only trains: failing it");
      v1::ReportTaskRequest failed;
      failed.set_task_id(task->id());
      failed.set_state(v1::TASK_STATE_FAILED);
      failed.set_message("a fake agent runs training tasks only");
      Report(failed).ok();
      task.reset();
    }
  }
  if (index < 0 || index >= task->nodes_size()) {
    AddError("node_index " + std::to_string(index) + " out of range in " + task->id());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    task_id_ = task->id();
  }
  const v1::TaskNode part = task->nodes(index);
  const bool rank0 = part.first_rank() == 0;
  rank0_ = rank0;
  const int stages = std::max(1, task->train().plan().pp());
  const int64_t total =
      task->train().training().steps() > 0 ? task->train().training().steps() : 10;
  const int global_batch = task->train().plan().global_batch() > 0
                               ? task->train().plan().global_batch()
                               : options.global_batch;

  // The log tails of this node's ranks: the last few lines of each.
  std::deque<std::string> lines = {"fake worker: " + task->id() + ", job " +
                                   task->train().job_id() + ", " + std::to_string(stages) +
                                   " pipeline stage(s)\n"};
  // Rank 0 logs its steps; the others only that they train.
  const std::string header = lines.front();
  auto add_logs = [&](v1::ReportTaskRequest* request) {
    std::string steps;
    for (const std::string& line : lines) steps += line;
    for (int r = part.first_rank(); r < part.first_rank() + part.num_ranks(); ++r) {
      v1::RankLog* log = request->add_logs();
      log->set_rank(r);
      log->set_text(r == 0 ? steps : header + "rank " + std::to_string(r) + ": training\n");
      SetNow(log->mutable_updated_at());
    }
  };
  // Sends `request` until the planner takes it (transient errors retried
  // for up to 10 s); false after recording the error.
  auto send = [&](const v1::ReportTaskRequest& request, const char* what) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
      v1::ReportTaskResponse response;
      grpc::Status status = Report(request, &response);
      if (status.ok()) {
        if (response.cancel()) {
          AddError(std::string(what) + ": the planner answered cancel (task " + task->id() +
                   " ended or failed)");
          return false;
        }
        return true;
      }
      if (!Transient(status) || std::chrono::steady_clock::now() > until) {
        AddError(std::string(what) + " not taken: " + Describe(status));
        return false;
      }
      if (!SleepFor(std::chrono::milliseconds(100))) return false;
    }
  };

  // 2. RUNNING; rank 0's node with the address of its (pretend) store.
  v1::ReportTaskRequest running;
  running.set_task_id(task->id());
  running.set_state(v1::TASK_STATE_RUNNING);
  running.set_progress_message("training (fake workers)");
  if (rank0) running.set_store_address(options_.store_address);
  add_logs(&running);
  if (!send(running, "RUNNING")) return;
  running_ = true;

  // 3. Steps from rank 0's node until Finish(): the backlog at once, then
  // one per period.
  int64_t step = task->train().resume_step();
  std::vector<v1::StepMetrics> pending;  // made, not yet taken
  if (rank0 && options.backlog_steps > 0) {
    const int64_t last = std::min(total, step + options.backlog_steps);
    const int64_t now_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    for (int64_t s = step + 1; s <= last; ++s) {
      v1::StepMetrics m = MakeStep(s, options.step_seconds, global_batch, options.seq_len, stages);
      // Spaced one step time apart, the last one now.
      const int64_t at =
          now_nanos - static_cast<int64_t>(static_cast<double>(last - s) * m.step_seconds() * 1e9);
      m.mutable_time()->set_seconds(at / 1000000000);
      m.mutable_time()->set_nanos(static_cast<int32_t>(at % 1000000000));
      lines.push_back(StepLine(m));
      pending.push_back(std::move(m));
    }
    while (lines.size() > 8) lines.pop_front();
    v1::ReportTaskRequest backlog;
    backlog.set_task_id(task->id());
    backlog.set_state(v1::TASK_STATE_RUNNING);
    backlog.set_progress(static_cast<double>(last) / static_cast<double>(total));
    for (const v1::StepMetrics& m : pending) *backlog.add_metrics() = m;
    add_logs(&backlog);
    if (!send(backlog, "the backlog of steps")) return;
    pending.clear();
    step = last;
    steps_ = step;
  }
  while (rank0) {
    if (WaitForFinish(options.step_period)) break;
    if (step >= total) continue;  // every step done: wait for Finish()
    ++step;
    pending.push_back(MakeStep(step, options.step_seconds, global_batch, options.seq_len, stages));
    lines.push_back(StepLine(pending.back()));
    while (lines.size() > 8) lines.pop_front();
    v1::ReportTaskRequest progress;
    progress.set_task_id(task->id());
    progress.set_state(v1::TASK_STATE_RUNNING);
    progress.set_progress(static_cast<double>(step) / static_cast<double>(total));
    progress.set_progress_message("step " + std::to_string(step) + " of " + std::to_string(total));
    for (const v1::StepMetrics& m : pending) *progress.add_metrics() = m;
    add_logs(&progress);
    v1::ReportTaskResponse response;
    grpc::Status status = Report(progress, &response);
    if (status.ok() && response.cancel()) {
      AddError("step " + std::to_string(step) + ": the planner answered cancel");
      return;
    }
    if (status.ok()) {
      pending.clear();
      steps_ = step;
    } else if (!Transient(status)) {
      AddError("step " + std::to_string(step) + " not taken: " + Describe(status));
      return;
    }
  }

  // The other nodes report their progress now and then, as agents do (a
  // task's progress is its slowest node's): the steps rank 0 has made by
  // now at its pace, which they cannot see.
  const auto started = std::chrono::steady_clock::now();
  while (!rank0 && !WaitForFinish(options.step_period * 4)) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double period = std::chrono::duration<double>(options.step_period).count();
    const int64_t estimate = std::min<int64_t>(
        total, step + options.backlog_steps + static_cast<int64_t>(elapsed / period));
    v1::ReportTaskRequest progress;
    progress.set_task_id(task->id());
    progress.set_state(v1::TASK_STATE_RUNNING);
    progress.set_progress(static_cast<double>(estimate) / static_cast<double>(total));
    progress.set_progress_message("step " + std::to_string(estimate) + " of " +
                                  std::to_string(total));
    v1::ReportTaskResponse response;
    grpc::Status status = Report(progress, &response);
    if (status.ok() && response.cancel()) {
      AddError("progress: the planner answered cancel");
      return;
    }
    if (!status.ok() && !Transient(status)) {
      AddError("progress not taken: " + Describe(status));
      return;
    }
  }

  // 4. Wait for Finish(), then SUCCEEDED with this node's checkpoint shards.
  while (!WaitForFinish(std::chrono::seconds(1))) {
  }
  if (stopping()) return;
  const int64_t checkpoint_step = rank0 ? step : finish_checkpoint_step_.load();
  v1::ReportTaskRequest done;
  done.set_task_id(task->id());
  done.set_state(v1::TASK_STATE_SUCCEEDED);
  done.set_progress(1);
  done.set_message("trained ranks " + std::to_string(part.first_rank()) + ".." +
                   std::to_string(part.first_rank() + part.num_ranks() - 1) + " (fake workers)");
  for (const v1::StepMetrics& m : pending) *done.add_metrics() = m;
  if (checkpoint_step > 0) {
    v1::CheckpointShards* shards = done.add_checkpoints();
    shards->set_step(checkpoint_step);
    for (int r = part.first_rank(); r < part.first_rank() + part.num_ranks(); ++r) {
      shards->add_ranks(r);
    }
    shards->set_dir("/nonexistent/fake-checkpoints/" + task->train().job_id() + "/step-" +
                    std::to_string(checkpoint_step));
  }
  lines.push_back("done\n");
  add_logs(&done);
  if (!send(done, "SUCCEEDED")) return;
  if (!pending.empty()) steps_ = step;
  trained_ok_ = true;
}

bool FakeAgent::Finish(int64_t checkpoint_step, std::chrono::milliseconds timeout) {
  if (!trainer_.joinable()) return false;
  finish_checkpoint_step_ = checkpoint_step;
  {
    absl::MutexLock lock(&mu_);
    finish_ = true;
  }
  // std::thread has no timed join: wait for the thread to say it ended.
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!trainer_done_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!trainer_done_.load()) {
    AddError("Finish: the training thread did not end within " + std::to_string(timeout.count()) +
             " ms");
    return false;
  }
  trainer_.join();
  return trained_ok_.load();
}

}  // namespace galvatron::testing
