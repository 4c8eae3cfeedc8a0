#include "planner/service/task_manager.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/field_checks.h"
#include "common/layer_type.h"
#include "common/model_validation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using field_checks::CheckNonNegativeFinite;
using field_checks::CheckRange;
using field_checks::Invalid;
using field_checks::Quoted;
using store::Table;

namespace {

constexpr int kMaxTaskNodes = 4096;
constexpr int kMaxProfileSizes = 64;

google::protobuf::Timestamp Now() { return MicrosToTimestamp(absl::ToUnixMicros(absl::Now())); }

bool Terminal(v1::TaskState state) {
  return state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_FAILED ||
         state == v1::TASK_STATE_CANCELLED;
}

std::string KindName(v1::TaskKind kind) {
  switch (kind) {
    case v1::TASK_KIND_PROBE:
      return "probe";
    case v1::TASK_KIND_PROFILE:
      return "profile";
    default:
      return "unknown";
  }
}

absl::Status ValidateProbeSpec(const v1::ProbeTaskSpec& probe) {
  RETURN_IF_ERROR(CheckRange("probe.min_bytes", probe.min_bytes(), 0, int64_t{1} << 40));
  RETURN_IF_ERROR(CheckRange("probe.max_bytes", probe.max_bytes(), 0, int64_t{1} << 40));
  if (probe.min_bytes() > 0 && probe.max_bytes() > 0 && probe.max_bytes() < probe.min_bytes()) {
    return Invalid("probe.max_bytes", absl::StrCat(probe.max_bytes()),
                   absl::StrCat("expected at least probe.min_bytes (", probe.min_bytes(), ")"));
  }
  RETURN_IF_ERROR(CheckRange("probe.warmup", probe.warmup(), 0, 1000));
  RETURN_IF_ERROR(CheckRange("probe.repeats", probe.repeats(), 0, 10000));
  const std::string& backend = probe.backend();
  if (!backend.empty() && backend != "auto" && backend != "gloo" && backend != "nccl") {
    return Invalid("probe.backend", Quoted(backend), "expected gloo, nccl, auto or empty");
  }
  return CheckNonNegativeFinite("probe.timeout_seconds", probe.timeout_seconds());
}

absl::Status ValidateProfileSpec(const v1::ProfileTaskSpec& profile) {
  if (profile.micro_batches_size() > kMaxProfileSizes) {
    return Invalid("profile.micro_batches", absl::StrCat(profile.micro_batches_size(), " values"),
                   absl::StrCat("expected at most ", kMaxProfileSizes));
  }
  for (int i = 0; i < profile.micro_batches_size(); ++i) {
    RETURN_IF_ERROR(
        CheckRange(absl::StrCat("profile.micro_batches[", i, "]"), profile.micro_batches(i), 1, 4096));
  }
  if (profile.seq_lens_size() > kMaxProfileSizes) {
    return Invalid("profile.seq_lens", absl::StrCat(profile.seq_lens_size(), " values"),
                   absl::StrCat("expected at most ", kMaxProfileSizes));
  }
  for (int i = 0; i < profile.seq_lens_size(); ++i) {
    RETURN_IF_ERROR(
        CheckRange(absl::StrCat("profile.seq_lens[", i, "]"), profile.seq_lens(i), 1, 1 << 20));
  }
  return CheckNonNegativeFinite("profile.time_budget_seconds", profile.time_budget_seconds());
}

// Progress of the task: the least of its nodes (pending nodes count 0).
void UpdateProgress(v1::Task* task, const std::map<std::string, double>& by_node) {
  double least = 1;
  for (const v1::TaskNode& node : task->nodes()) {
    auto it = by_node.find(node.node());
    const double p = node.state() == v1::TASK_STATE_SUCCEEDED ? 1.0
                     : it == by_node.end()                     ? 0.0
                                                               : it->second;
    least = std::min(least, p);
  }
  task->set_progress(least);
}

}  // namespace

int64_t TaskNumber(const std::string& id) {
  int64_t number = 0;
  if (id.rfind("task-", 0) != 0 || !absl::SimpleAtoi(id.substr(5), &number) || number <= 0) {
    return 0;
  }
  return number;
}

TaskManager::TaskManager(store::Store* store, NodeManager* nodes, ModelManager* models,
                         HardwareProfileManager* hardware, ComputeProfileManager* compute,
                         const TaskManagerOptions& options)
    : store_(store),
      nodes_(nodes),
      models_(models),
      hardware_(hardware),
      compute_(compute),
      options_(options) {}

TaskManager::~TaskManager() { Shutdown(); }

absl::Status TaskManager::Start() {
  store::ListOptions all;
  all.limit = store::kMaxListLimit;
  int64_t max_number = 0;
  int interrupted = 0;
  absl::MutexLock lock(&mu_);
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::Row> rows, store_->List(Table::kTasks, all));
    for (const store::Row& row : rows) {
      max_number = std::max(max_number, TaskNumber(row.key));
      ASSIGN_OR_RETURN(v1::Task task, DecodeRow<v1::Task>(Table::kTasks, row));
      if (Terminal(task.state())) continue;
      task.set_state(v1::TASK_STATE_FAILED);
      task.set_message(
          "interrupted: the planner restarted while the task was in flight; create it again");
      *task.mutable_finished_at() = Now();
      RETURN_IF_ERROR(Persist(task));
      ++interrupted;
    }
    if (static_cast<int>(rows.size()) < all.limit) break;
    all.after_key = rows.back().key;
    all.after_version = rows.back().version;
  }
  next_number_ = max_number + 1;
  if (interrupted > 0) spdlog::warn("{} task(s) interrupted by a planner restart", interrupted);
  checker_ = std::thread([this] { CheckerLoop(); });
  return absl::OkStatus();
}

void TaskManager::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (checker_.joinable()) checker_.join();
}

void TaskManager::CheckerLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.check_interval);
      if (stopping_) return;
    }
    CheckLostNodes();
  }
}

void TaskManager::CheckLostNodes() {
  // Liveness is read outside mu_ (NodeManager has its own lock).
  std::vector<std::pair<std::string, std::string>> to_check;  // cluster, node
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [number, active] : active_) {
      for (const v1::TaskNode& node : active.task.nodes()) {
        if (!Terminal(node.state())) to_check.emplace_back(active.task.cluster(), node.node());
      }
    }
  }
  std::set<std::pair<std::string, std::string>> lost;
  for (const auto& key : to_check) {
    if (!nodes_->IsAlive(key.first, key.second)) lost.insert(key);
  }
  if (lost.empty()) return;
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, std::string>> failed;
  for (const auto& [number, active] : active_) {
    for (const v1::TaskNode& node : active.task.nodes()) {
      if (!Terminal(node.state()) && lost.count({active.task.cluster(), node.node()}) > 0) {
        failed.emplace_back(
            number, absl::StrCat("node ", node.node(), " of cluster ", active.task.cluster(),
                                 " was lost (no heartbeat from its agent) while its part was ",
                                 node.state() == v1::TASK_STATE_RUNNING ? "running" : "pending"));
        break;
      }
    }
  }
  for (const auto& [number, message] : failed) Finish(number, v1::TASK_STATE_FAILED, message);
}

absl::Status TaskManager::Persist(const v1::Task& task) {
  store::NewRow row;
  row.key = task.id();
  row.id_prefix = task.id() + "@";
  row.tag = task.cluster();
  row.payload = DeterministicBytes(task);
  return store_->Append(Table::kTasks, row).status();
}

void TaskManager::Touch(Active* active) { active->revision = next_revision_++; }

void TaskManager::Finish(int64_t number, v1::TaskState state, const std::string& message) {
  auto it = active_.find(number);
  if (it == active_.end()) return;
  v1::Task& task = it->second.task;
  task.set_state(state);
  task.set_message(message);
  *task.mutable_finished_at() = Now();
  if (state == v1::TASK_STATE_SUCCEEDED) task.set_progress(1);
  if (absl::Status status = Persist(task); !status.ok()) {
    spdlog::error("cannot store the end of {}: {}", task.id(), std::string(status.message()));
  }
  if (state == v1::TASK_STATE_SUCCEEDED) {
    spdlog::info("{} ({} on {}) succeeded: {}", task.id(), KindName(task.kind()), task.cluster(),
                 absl::StrJoin(task.result_ids(), ", "));
  } else {
    spdlog::warn("{} ({} on {}) {}: {}", task.id(), KindName(task.kind()), task.cluster(),
                 state == v1::TASK_STATE_CANCELLED ? "cancelled" : "failed", message);
  }
  active_.erase(it);
  ++next_revision_;
}

absl::StatusOr<v1::Task> TaskManager::Create(const v1::CreateTaskRequest& request) {
  absl::MutexLock lock(&mu_);
  return CreateLocked(request);
}

absl::StatusOr<v1::Task> TaskManager::CreateLocked(v1::CreateTaskRequest request) {
  if (request.kind() != v1::TASK_KIND_PROBE && request.kind() != v1::TASK_KIND_PROFILE) {
    return Invalid("kind", absl::StrCat(static_cast<int>(request.kind())),
                   "expected TASK_KIND_PROBE or TASK_KIND_PROFILE");
  }
  RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
  if (request.nodes_size() > kMaxTaskNodes) {
    return Invalid("nodes", absl::StrCat(request.nodes_size(), " names"),
                   absl::StrCat("expected at most ", kMaxTaskNodes));
  }
  for (int i = 0; i < request.nodes_size(); ++i) {
    RETURN_IF_ERROR(ValidateName(absl::StrCat("nodes[", i, "]"), request.nodes(i)));
  }
  if (request.reason().size() > 1024) {
    return Invalid("reason", absl::StrCat(request.reason().size(), " bytes"),
                   "expected at most 1024");
  }
  ASSIGN_OR_RETURN(std::vector<v1::Node> alive, nodes_->AliveNodes(request.cluster()));
  if (alive.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cluster ", Quoted(request.cluster()), " has no alive node: start galvatron-agent --cluster ",
        request.cluster(), " on its nodes (galvatron nodes list shows them)"));
  }
  std::vector<v1::Node> chosen;
  for (const std::string& name : request.nodes()) {
    auto it = std::find_if(alive.begin(), alive.end(),
                           [&](const v1::Node& n) { return n.name() == name; });
    if (it == alive.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", Quoted(name), " of cluster ", Quoted(request.cluster()),
          " is not alive (unknown, or its agent stopped sending heartbeats)"));
    }
    if (std::any_of(chosen.begin(), chosen.end(),
                    [&](const v1::Node& n) { return n.name() == name; })) {
      return Invalid("nodes", Quoted(name), "listed twice, expected each node once");
    }
    chosen.push_back(*it);
  }

  v1::Task task;
  task.set_id(absl::StrCat("task-", next_number_));
  task.set_kind(request.kind());
  task.set_cluster(request.cluster());
  task.set_state(v1::TASK_STATE_PENDING);
  task.set_reason(request.reason().empty() ? "requested by a client" : request.reason());
  *task.mutable_created_at() = Now();

  if (request.kind() == v1::TASK_KIND_PROBE) {
    RETURN_IF_ERROR(ValidateProbeSpec(request.probe()));
    *task.mutable_probe() = request.probe();
    if (chosen.empty()) chosen = alive;
    const int per_node = chosen.front().devices_size();
    for (const v1::Node& node : chosen) {
      if (node.devices_size() != per_node || per_node == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the nodes of a probe must have the same number of devices (at least one): ",
            chosen.front().name(), " has ", per_node, ", ", node.name(), " has ",
            node.devices_size(), "; choose nodes with --nodes"));
      }
    }
    int rank = 0;
    for (const v1::Node& node : chosen) {
      v1::TaskNode* part = task.add_nodes();
      part->set_node(node.name());
      part->set_first_rank(rank);
      part->set_num_ranks(per_node);
      part->set_state(v1::TASK_STATE_PENDING);
      rank += per_node;
    }
    task.set_world_size(rank);
  } else {
    if (request.model().empty()) {
      return Invalid("model", "\"\"", "expected the name of a stored or built-in model");
    }
    RETURN_IF_ERROR(ValidateProfileSpec(request.profile()));
    ASSIGN_OR_RETURN(v1::ModelSpec model, models_->Get(request.model(), 0));
    *task.mutable_profile() = request.profile();
    *task.mutable_profile()->mutable_model() = std::move(model);
    if (chosen.size() > 1) {
      return Invalid("nodes", absl::StrCat(chosen.size(), " names"),
                     "a profile task runs on one node, expected at most one");
    }
    if (chosen.empty()) {
      // The alive node with the fewest parts of in-flight tasks.
      std::map<std::string, int> load;
      for (const auto& [number, active] : active_) {
        if (active.task.cluster() != request.cluster()) continue;
        for (const v1::TaskNode& node : active.task.nodes()) ++load[node.node()];
      }
      chosen.push_back(*std::min_element(
          alive.begin(), alive.end(), [&](const v1::Node& a, const v1::Node& b) {
            return std::make_pair(load[a.name()], a.name()) <
                   std::make_pair(load[b.name()], b.name());
          }));
    }
    v1::TaskNode* part = task.add_nodes();
    part->set_node(chosen.front().name());
    part->set_first_rank(0);
    part->set_num_ranks(1);
    part->set_state(v1::TASK_STATE_PENDING);
    task.set_world_size(1);
  }
  RETURN_IF_ERROR(Persist(task));
  ++next_number_;
  Active& active = active_[TaskNumber(task.id())];
  active.task = task;
  Touch(&active);
  spdlog::info("{} created: {} on {} ({} node(s), {} rank(s)); {}", task.id(),
               KindName(task.kind()), task.cluster(), task.nodes_size(), task.world_size(),
               task.reason());
  return task;
}

absl::StatusOr<v1::Task> TaskManager::Stored(const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<store::Row> row, store_->Get(Table::kTasks, id, 0));
  if (!row) return absl::NotFoundError(absl::StrCat("task ", Quoted(id), " not found"));
  return DecodeRow<v1::Task>(Table::kTasks, *row);
}

absl::StatusOr<v1::GetTaskResponse> TaskManager::Get(const v1::GetTaskRequest& request,
                                                     const grpc::ServerContext* context) {
  const int64_t number = TaskNumber(request.id());
  if (number == 0) return Invalid("id", Quoted(request.id()), "expected a task id like task-1");
  RETURN_IF_ERROR(CheckRange("wait_ms", request.wait_ms(), 0,
                             absl::ToInt64Milliseconds(options_.max_wait)));
  const absl::Time deadline = absl::Now() + absl::Milliseconds(request.wait_ms());
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      auto it = active_.find(number);
      if (it == active_.end()) break;  // finished (or unknown): read the store
      if (it->second.revision != request.known_revision() || stopping_ ||
          absl::Now() >= deadline || (context != nullptr && context->IsCancelled())) {
        v1::GetTaskResponse response;
        *response.mutable_task() = it->second.task;
        response.set_revision(it->second.revision);
        return response;
      }
      const int64_t known = request.known_revision();
      auto changed = [this, number, known]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        auto found = active_.find(number);
        return stopping_ || found == active_.end() || found->second.revision != known;
      };
      mu_.AwaitWithDeadline(absl::Condition(&changed),
                            std::min(deadline, absl::Now() + absl::Seconds(1)));
    }
  }
  ASSIGN_OR_RETURN(v1::Task task, Stored(request.id()));
  v1::GetTaskResponse response;
  *response.mutable_task() = std::move(task);
  response.set_revision(-1);  // finished: never changes again
  return response;
}

absl::StatusOr<v1::ListTasksResponse> TaskManager::List(const v1::ListTasksRequest& request) {
  store::ListOptions options;
  if (!request.cluster().empty()) {
    RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
    options.tag = request.cluster();
  }
  ASSIGN_OR_RETURN(const int page_size, ResolvePageSize(request.page_size()));
  int64_t before = 0;  // the page token: list tasks numbered below this
  if (!request.page_token().empty() &&
      (!absl::SimpleAtoi(request.page_token(), &before) || before <= 0)) {
    return Invalid("page_token", Quoted(request.page_token()),
                   "expected the next_page_token of an earlier answer");
  }
  options.limit = store::kMaxListLimit;
  std::map<int64_t, v1::Task, std::greater<>> tasks;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::Row> rows, store_->List(Table::kTasks, options));
    for (const store::Row& row : rows) {
      const int64_t number = TaskNumber(row.key);
      if (number == 0 || (before > 0 && number >= before)) continue;
      ASSIGN_OR_RETURN(tasks[number], DecodeRow<v1::Task>(Table::kTasks, row));
    }
    if (static_cast<int>(rows.size()) < options.limit) break;
    options.after_key = rows.back().key;
    options.after_version = rows.back().version;
  }
  v1::ListTasksResponse response;
  absl::MutexLock lock(&mu_);
  for (auto& [number, task] : tasks) {
    if (response.tasks_size() == page_size) {
      response.set_next_page_token(absl::StrCat(number + 1));
      break;
    }
    auto it = active_.find(number);  // the live view has the progress
    *response.add_tasks() = it != active_.end() ? it->second.task : std::move(task);
  }
  return response;
}

absl::StatusOr<v1::Task> TaskManager::Cancel(const std::string& id) {
  const int64_t number = TaskNumber(id);
  if (number == 0) return Invalid("id", Quoted(id), "expected a task id like task-1");
  {
    absl::MutexLock lock(&mu_);
    if (active_.count(number) > 0) {
      Finish(number, v1::TASK_STATE_CANCELLED, "cancelled by a client");
    }
  }
  return Stored(id);
}

absl::StatusOr<v1::PollTaskResponse> TaskManager::Poll(const v1::PollTaskRequest& request,
                                                       const grpc::ServerContext* context) {
  RETURN_IF_ERROR(CheckRange("wait_ms", request.wait_ms(), 0,
                             absl::ToInt64Milliseconds(options_.max_wait)));
  RETURN_IF_ERROR(nodes_->CheckSession(request.cluster(), request.node(), request.session_id()));
  const absl::Time deadline = absl::Now() + absl::Milliseconds(request.wait_ms());
  absl::MutexLock lock(&mu_);
  // An agent polls only when idle: a part still running on this node was lost
  // with the agent's previous life.
  std::vector<int64_t> orphaned;
  for (const auto& [number, active] : active_) {
    if (active.task.cluster() != request.cluster()) continue;
    for (const v1::TaskNode& node : active.task.nodes()) {
      if (node.node() == request.node() && node.state() == v1::TASK_STATE_RUNNING) {
        orphaned.push_back(number);
      }
    }
  }
  for (int64_t number : orphaned) {
    Finish(number, v1::TASK_STATE_FAILED,
           absl::StrCat("the agent of node ", request.node(),
                        " restarted while running its part of the task"));
  }
  while (true) {
    for (auto& [number, active] : active_) {
      v1::Task& task = active.task;
      if (task.cluster() != request.cluster()) continue;
      for (int i = 0; i < task.nodes_size(); ++i) {
        v1::TaskNode* node = task.mutable_nodes(i);
        if (node->node() != request.node() || node->state() != v1::TASK_STATE_PENDING) continue;
        if (node->first_rank() != 0 && task.store_address().empty()) continue;
        node->set_state(v1::TASK_STATE_RUNNING);
        if (task.state() == v1::TASK_STATE_PENDING) {
          task.set_state(v1::TASK_STATE_RUNNING);
          *task.mutable_started_at() = Now();
          spdlog::info("{} started on {}", task.id(), request.node());
        }
        if (absl::Status status = Persist(task); !status.ok()) {
          node->set_state(v1::TASK_STATE_PENDING);
          return status;
        }
        Touch(&active);
        v1::PollTaskResponse response;
        *response.mutable_task() = task;
        response.set_node_index(i);
        return response;
      }
    }
    if (stopping_ || absl::Now() >= deadline || (context != nullptr && context->IsCancelled())) {
      return v1::PollTaskResponse();
    }
    const int64_t seen = next_revision_;
    auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || next_revision_ != seen;
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed),
                          std::min(deadline, absl::Now() + absl::Seconds(1)));
  }
}

absl::Status TaskManager::StoreResult(const v1::ReportTaskRequest& report, v1::Task* task) {
  if (task->kind() == v1::TASK_KIND_PROBE) {
    if (!report.has_hardware()) {
      return absl::InvalidArgumentError(
          "hardware: rank 0 reported success without the hardware profile");
    }
    v1::HardwareProfile profile = report.hardware();
    profile.set_cluster(task->cluster());
    profile.set_source(v1::PROFILE_SOURCE_MEASURED);
    ASSIGN_OR_RETURN(v1::HardwareProfile stored, hardware_->Put(std::move(profile)));
    task->add_result_ids(stored.id());
    return absl::OkStatus();
  }
  if (report.compute_size() == 0) {
    return absl::InvalidArgumentError("compute: the worker reported success without profiles");
  }
  std::vector<v1::ComputeProfile> profiles(report.compute().begin(), report.compute().end());
  for (v1::ComputeProfile& profile : profiles) {
    profile.set_cluster(task->cluster());
    profile.set_source(v1::PROFILE_SOURCE_MEASURED);
    ASSIGN_OR_RETURN(v1::ComputeProfile stored, compute_->Put(std::move(profile)));
    task->add_result_ids(stored.id());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ReportTaskResponse> TaskManager::Report(const v1::ReportTaskRequest& request) {
  RETURN_IF_ERROR(nodes_->CheckSession(request.cluster(), request.node(), request.session_id()));
  const int64_t number = TaskNumber(request.task_id());
  if (number == 0) {
    return Invalid("task_id", Quoted(request.task_id()), "expected a task id like task-1");
  }
  const v1::TaskState state = request.state();
  if (state != v1::TASK_STATE_RUNNING && state != v1::TASK_STATE_SUCCEEDED &&
      state != v1::TASK_STATE_FAILED) {
    return Invalid("state", absl::StrCat(static_cast<int>(state)),
                   "expected TASK_STATE_RUNNING, TASK_STATE_SUCCEEDED or TASK_STATE_FAILED");
  }
  RETURN_IF_ERROR(CheckNonNegativeFinite("progress", request.progress()));
  v1::ReportTaskResponse response;
  absl::MutexLock lock(&mu_);
  auto it = active_.find(number);
  if (it == active_.end()) {
    // Finished already (failed elsewhere, cancelled) or unknown.
    ASSIGN_OR_RETURN(v1::Task stored, Stored(request.task_id()));
    response.set_cancel(stored.state() != v1::TASK_STATE_SUCCEEDED);
    return response;
  }
  v1::Task& task = it->second.task;
  if (task.cluster() != request.cluster()) {
    return Invalid("cluster", Quoted(request.cluster()),
                   absl::StrCat("expected ", Quoted(task.cluster()), ", the task's cluster"));
  }
  int index = -1;
  for (int i = 0; i < task.nodes_size(); ++i) {
    if (task.nodes(i).node() == request.node()) index = i;
  }
  if (index < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node ", Quoted(request.node()), " has no part in ", task.id()));
  }
  v1::TaskNode* part = task.mutable_nodes(index);
  if (part->state() != v1::TASK_STATE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the part of node ", request.node(), " in ", task.id(), " is not running"));
  }
  if (!request.store_address().empty() && part->first_rank() == 0 &&
      task.store_address().empty()) {
    task.set_store_address(request.store_address());
    spdlog::info("{}: rank 0 store at {}", task.id(), request.store_address());
  }
  if (!request.progress_message().empty()) {
    task.set_progress_message(task.nodes_size() > 1
                                  ? absl::StrCat(request.node(), ": ", request.progress_message())
                                  : request.progress_message());
  }
  // Progress of each node is the node's message's fraction; keep the least.
  std::map<std::string, double> by_node;
  by_node[request.node()] = std::min(1.0, request.progress());
  for (const v1::TaskNode& node : task.nodes()) {
    if (node.node() != request.node() && node.state() == v1::TASK_STATE_RUNNING) {
      by_node[node.node()] = task.progress();  // unknown per node: the last overall value
    }
  }
  UpdateProgress(&task, by_node);

  if (state == v1::TASK_STATE_FAILED) {
    part->set_state(v1::TASK_STATE_FAILED);
    part->set_message(request.message());
    Finish(number, v1::TASK_STATE_FAILED,
           absl::StrCat("node ", request.node(), ": ",
                        request.message().empty() ? "failed" : request.message()));
    response.set_cancel(true);
    return response;
  }
  if (state == v1::TASK_STATE_SUCCEEDED) {
    if (part->first_rank() == 0) {
      if (absl::Status stored = StoreResult(request, &task); !stored.ok()) {
        Finish(number, v1::TASK_STATE_FAILED,
               absl::StrCat("the result of node ", request.node(),
                            " was rejected: ", stored.message()));
        response.set_cancel(true);
        return response;
      }
    }
    part->set_state(v1::TASK_STATE_SUCCEEDED);
    part->set_message(request.message());
    const bool all_done = std::all_of(task.nodes().begin(), task.nodes().end(),
                                      [](const v1::TaskNode& n) {
                                        return n.state() == v1::TASK_STATE_SUCCEEDED;
                                      });
    if (all_done) {
      Finish(number, v1::TASK_STATE_SUCCEEDED,
             request.message().empty() ? "done" : request.message());
      return response;
    }
    if (absl::Status status = Persist(task); !status.ok()) return status;
  }
  Touch(&it->second);
  return response;
}

absl::StatusOr<v1::MeasureMissingResponse> TaskManager::MeasureMissing(
    const v1::ModelSpec& model, const std::string& cluster, const std::string& reason) {
  RETURN_IF_ERROR(ValidateName("cluster", cluster));
  v1::MeasureMissingResponse response;
  {
    v1::GetHardwareProfileRequest get;
    get.set_cluster(cluster);
    auto profile = hardware_->Get(get);
    if (absl::IsNotFound(profile.status())) {
      response.set_hardware_missing(true);
    } else if (!profile.ok()) {
      return profile.status();
    }
  }
  for (const std::string& key : ModelLayerTypeKeys(model)) {
    v1::GetComputeProfileRequest get;
    get.set_layer_type(key);
    get.set_cluster(cluster);
    auto profile = compute_->Get(get);
    if (absl::IsNotFound(profile.status())) {
      response.add_missing_layer_types(key);
    } else if (!profile.ok()) {
      return profile.status();
    }
  }
  ASSIGN_OR_RETURN(std::vector<v1::Node> alive, nodes_->AliveNodes(cluster));
  response.set_alive_nodes(static_cast<int>(alive.size()));
  if (alive.empty()) return response;

  absl::MutexLock lock(&mu_);
  if (response.hardware_missing()) {
    const v1::Task* running = nullptr;
    for (const auto& [number, active] : active_) {
      if (active.task.cluster() == cluster && active.task.kind() == v1::TASK_KIND_PROBE) {
        running = &active.task;
      }
    }
    if (running != nullptr) {
      *response.add_tasks() = *running;
    } else {
      v1::CreateTaskRequest create;
      create.set_kind(v1::TASK_KIND_PROBE);
      create.set_cluster(cluster);
      create.set_reason(absl::StrCat("cluster ", cluster, " has no hardware profile; ", reason));
      ASSIGN_OR_RETURN(*response.add_tasks(), CreateLocked(create));
    }
  }
  if (response.missing_layer_types_size() > 0) {
    // An in-flight profile task whose model has every missing layer type.
    const v1::Task* covering = nullptr;
    for (const auto& [number, active] : active_) {
      if (active.task.cluster() != cluster || active.task.kind() != v1::TASK_KIND_PROFILE) {
        continue;
      }
      const std::vector<std::string> keys = ModelLayerTypeKeys(active.task.profile().model());
      const std::set<std::string> has(keys.begin(), keys.end());
      if (std::all_of(response.missing_layer_types().begin(),
                      response.missing_layer_types().end(),
                      [&](const std::string& key) { return has.count(key) > 0; })) {
        covering = &active.task;
      }
    }
    if (covering != nullptr) {
      *response.add_tasks() = *covering;
    } else {
      v1::CreateTaskRequest create;
      create.set_kind(v1::TASK_KIND_PROFILE);
      create.set_cluster(cluster);
      create.set_model(model.name());
      create.set_reason(absl::StrCat(model.name(), " has ", response.missing_layer_types_size(),
                                     " layer type(s) not measured on ", cluster, "; ", reason));
      // The task profiles the spec given, which may be an unstored one.
      ASSIGN_OR_RETURN(v1::Task task, CreateLocked(create));
      *active_[TaskNumber(task.id())].task.mutable_profile()->mutable_model() = model;
      *task.mutable_profile()->mutable_model() = model;
      *response.add_tasks() = std::move(task);
    }
  }
  return response;
}

grpc::Status TaskManager::CreateTask(grpc::ServerContext*, const v1::CreateTaskRequest* request,
                                     v1::Task* response) {
  return Reply(Create(*request), response);
}

grpc::Status TaskManager::GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                                  v1::GetTaskResponse* response) {
  return Reply(Get(*request, context), response);
}

grpc::Status TaskManager::ListTasks(grpc::ServerContext*, const v1::ListTasksRequest* request,
                                    v1::ListTasksResponse* response) {
  return Reply(List(*request), response);
}

grpc::Status TaskManager::CancelTask(grpc::ServerContext*, const v1::CancelTaskRequest* request,
                                     v1::Task* response) {
  return Reply(Cancel(request->id()), response);
}

grpc::Status TaskManager::PollTask(grpc::ServerContext* context,
                                   const v1::PollTaskRequest* request,
                                   v1::PollTaskResponse* response) {
  return Reply(Poll(*request, context), response);
}

grpc::Status TaskManager::ReportTask(grpc::ServerContext*, const v1::ReportTaskRequest* request,
                                     v1::ReportTaskResponse* response) {
  return Reply(Report(*request), response);
}

grpc::Status TaskManager::MeasureMissing(grpc::ServerContext*,
                                         const v1::MeasureMissingRequest* request,
                                         v1::MeasureMissingResponse* response) {
  auto model = models_->Get(request->model(), request->model_version());
  if (!model.ok()) return ToGrpcStatus(model.status());
  return Reply(MeasureMissing(*model, request->cluster(), "asked by a client"), response);
}

}  // namespace galvatron::planner
