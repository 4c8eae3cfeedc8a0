#include "agent/daemon/agent_daemon.h"

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_file.h"
#include "common/rpc_status.h"
#include "grpcpp/create_channel.h"
#include "spdlog/spdlog.h"

namespace galvatron::agent {
namespace {

absl::Duration IntervalOr(int64_t override_ms, int64_t planner_ms) {
  if (override_ms > 0) return absl::Milliseconds(override_ms);
  if (planner_ms > 0) return absl::Milliseconds(planner_ms);
  return absl::Seconds(2);
}

std::shared_ptr<grpc::Channel> PlannerChannel(const AgentConfig& config) {
  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff (1 s growing to 120 s by default) would
  // otherwise hide a restarted planner from us for minutes; match ours.
  const int initial_ms = static_cast<int>(absl::ToInt64Milliseconds(config.backoff.initial));
  const int max_ms = static_cast<int>(absl::ToInt64Milliseconds(config.backoff.max));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, initial_ms);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, initial_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  return CreatePlannerChannel(config.planner, config.credentials, args);
}

v1::Node WithInstanceId(v1::Node node) {
  if (node.agent_instance_id().empty()) node.set_agent_instance_id(NewAgentInstanceId());
  return node;
}

}  // namespace

std::string NewAgentInstanceId() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) absl::StrAppendFormat(&id, "%08x", random());
  return id;
}

AgentDaemon::AgentDaemon(const AgentConfig& config, const v1::Node& node)
    : config_(config),
      node_(WithInstanceId(node)),
      node_key_(absl::StrCat(node.cluster(), "/", node.name())),
      channel_(PlannerChannel(config)),
      stub_(v1::NodeService::NewStub(channel_)),
      tasks_(v1::TaskService::NewStub(channel_)),
      backoff_(config.backoff),
      executor_(config.executor, node),
      interval_(IntervalOr(config.heartbeat_interval_ms, 0)) {}

void AgentDaemon::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  for (auto& call : calls_) {
    if (call) call->TryCancel();
  }
}

bool AgentDaemon::stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

std::string AgentDaemon::session() {
  absl::MutexLock lock(&mu_);
  return session_;
}

bool AgentDaemon::WaitForStop(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
  return stopping_;
}

std::shared_ptr<grpc::ClientContext> AgentDaemon::BeginCall(int slot, absl::Duration timeout) {
  auto context = std::make_shared<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  absl::MutexLock lock(&mu_);
  if (stopping_ && slot != 2) return nullptr;  // a final report still goes out
  calls_[slot] = context;
  return context;
}

void AgentDaemon::EndCall(int slot) {
  absl::MutexLock lock(&mu_);
  calls_[slot].reset();
}

absl::Status AgentDaemon::Register() {
  std::shared_ptr<grpc::ClientContext> context = BeginCall(0, config_.rpc_timeout);
  if (!context) return absl::CancelledError("stopping");
  v1::RegisterNodeRequest request;
  *request.mutable_node() = node_;
  v1::RegisterNodeResponse response;
  grpc::Status status = stub_->RegisterNode(context.get(), request, &response);
  EndCall(0);
  if (!status.ok()) return FromGrpcStatus(status);
  session_id_ = response.session_id();
  {
    absl::MutexLock lock(&mu_);
    session_ = session_id_;
  }
  interval_ = IntervalOr(config_.heartbeat_interval_ms, response.heartbeat_interval_ms());
  spdlog::info(
      "registered {} with the planner at {} ({} devices; heartbeat every {}; agent instance {})",
      node_key_, config_.planner, node_.devices_size(), absl::FormatDuration(interval_),
      node_.agent_instance_id());
  if (!ready_written_ && !config_.ready_file.empty()) {
    absl::Status written = WriteTextFile(
        config_.ready_file, absl::StrCat("registered ", node_key_, " at ", config_.planner, "\n"));
    if (!written.ok()) {
      spdlog::warn("--ready-file: {}", std::string(written.message()));
    }
  }
  ready_written_ = true;
  return absl::OkStatus();
}

absl::Status AgentDaemon::Heartbeat() {
  std::shared_ptr<grpc::ClientContext> context = BeginCall(0, config_.rpc_timeout);
  if (!context) return absl::CancelledError("stopping");
  v1::HeartbeatRequest request;
  request.set_cluster(node_.cluster());
  request.set_node(node_.name());
  request.set_session_id(session_id_);
  v1::HeartbeatResponse response;
  grpc::Status status = stub_->Heartbeat(context.get(), request, &response);
  EndCall(0);
  if (!status.ok()) return FromGrpcStatus(status);
  interval_ = IntervalOr(config_.heartbeat_interval_ms, response.heartbeat_interval_ms());
  return absl::OkStatus();
}

absl::StatusOr<v1::ReportTaskResponse> AgentDaemon::SendReport(v1::ReportTaskRequest request) {
  request.set_cluster(node_.cluster());
  request.set_node(node_.name());
  request.set_session_id(session());
  std::shared_ptr<grpc::ClientContext> context = BeginCall(2, config_.rpc_timeout);
  if (!context) return absl::CancelledError("stopping");
  v1::ReportTaskResponse response;
  grpc::Status status = tasks_->ReportTask(context.get(), request, &response);
  EndCall(2);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

void AgentDaemon::TaskLoop() {
  ExponentialBackoff backoff(config_.backoff);
  const ReportFn report = [this](v1::ReportTaskRequest request) {
    return SendReport(std::move(request));
  };
  const std::function<bool()> is_stopping = [this] { return stopping(); };
  absl::Duration delay = absl::ZeroDuration();
  while (!WaitForStop(delay)) {
    const std::string session_id = session();
    if (session_id.empty()) {  // not registered (yet, or again)
      delay = absl::Milliseconds(100);
      continue;
    }
    std::shared_ptr<grpc::ClientContext> context =
        BeginCall(1, config_.poll_wait + config_.rpc_timeout);
    if (!context) break;
    v1::PollTaskRequest request;
    request.set_cluster(node_.cluster());
    request.set_node(node_.name());
    request.set_session_id(session_id);
    request.set_wait_ms(absl::ToInt64Milliseconds(config_.poll_wait));
    v1::PollTaskResponse response;
    grpc::Status status = tasks_->PollTask(context.get(), request, &response);
    EndCall(1);
    if (!status.ok()) {
      if (stopping()) break;
      delay = status.error_code() == grpc::StatusCode::NOT_FOUND
                  ? absl::Milliseconds(200)  // the heartbeat loop registers again
                  : backoff.Next();
      spdlog::debug("task poll failed: {}; retrying in {}", status.error_message(),
                    absl::FormatDuration(delay));
      continue;
    }
    backoff.Reset();
    delay = absl::ZeroDuration();
    if (!response.has_task()) continue;
    executor_.Run(response.task(), response.node_index(), report, is_stopping);
  }
}

absl::Status AgentDaemon::Run() {
  std::thread task_thread([this] { TaskLoop(); });
  absl::Status status = RunHeartbeats();
  Stop();
  task_thread.join();
  return status;
}

absl::Status AgentDaemon::RunHeartbeats() {
  absl::Duration delay = absl::ZeroDuration();
  bool reachable = true;  // log the first failure of a run of them as a warning
  while (!WaitForStop(delay)) {
    const bool registering = session_id_.empty();
    absl::Status status = registering ? Register() : Heartbeat();
    if (status.ok()) {
      if (!reachable) spdlog::info("planner at {} reachable again", config_.planner);
      reachable = true;
      refused_since_ = absl::InfiniteFuture();
      backoff_.Reset();
      delay = interval_;
      continue;
    }
    if (WaitForStop(absl::ZeroDuration())) break;
    if (registering && status.code() == absl::StatusCode::kInvalidArgument) {
      spdlog::error("the planner rejected the registration of {}: {}", node_key_,
                    std::string(status.message()));
      return status;
    }
    if (registering && status.code() == absl::StatusCode::kAlreadyExists) {
      // Another live agent holds this node name. Wait for it to be found
      // lost (it may be this agent's killed predecessor), then give up:
      // two agents taking turns at one name would each lose their session
      // every heartbeat.
      const absl::Time now = absl::Now();
      if (refused_since_ == absl::InfiniteFuture()) {
        refused_since_ = now;
        spdlog::warn("the planner refused {}: {}; retrying for up to {}", node_key_,
                     std::string(status.message()), absl::FormatDuration(config_.claim_wait));
      }
      if (now - refused_since_ >= config_.claim_wait) {
        const std::string message = absl::StrCat(
            "another agent is registered as ", node_key_, " (refused for ",
            absl::FormatDuration(absl::Trunc(now - refused_since_, absl::Seconds(1))),
            "); start this agent with its own --node-name, or stop the other one. The planner "
            "said: ",
            status.message());
        spdlog::error("{}", message);
        return absl::AlreadyExistsError(message);
      }
      delay = std::min(backoff_.Next(), config_.claim_wait);
      continue;
    }
    if (!registering && status.code() == absl::StatusCode::kNotFound) {
      spdlog::info("the planner does not know this session of {}; registering again", node_key_);
      session_id_.clear();
      {
        absl::MutexLock lock(&mu_);
        session_.clear();
      }
      delay = absl::ZeroDuration();
      continue;
    }
    delay = backoff_.Next();
    const std::string message = absl::StrCat(
        registering ? "registration" : "heartbeat", " failed: ", StatusCodeName(status.code()),
        ": ", status.message(), "; retrying in ", absl::FormatDuration(delay));
    if (reachable) {
      spdlog::warn("{}", message);
    } else {
      spdlog::debug("{}", message);
    }
    reachable = false;
  }
  spdlog::info("agent of {} stopping", node_key_);
  return absl::OkStatus();
}

}  // namespace galvatron::agent
