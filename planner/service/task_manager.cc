#include "planner/service/task_manager.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/field_checks.h"
#include "common/model_validation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using field_checks::CheckRange;
using field_checks::Invalid;
using field_checks::Quoted;
using store::Table;

TaskManager::TaskManager(store::Store* store, NodeManager* nodes, ModelManager* models,
                         HardwareProfileManager* hardware, ComputeProfileManager* compute,
                         const TaskManagerOptions& options)
    : store_(store),
      models_(models),
      options_(options),
      board_(store, &revisions_),
      factory_(&board_, nodes, models),
      handout_(&board_, nodes, &revisions_, options.max_wait),
      reports_(&board_, store, nodes, hardware, compute),
      measure_(&factory_, nodes, hardware, compute) {}

TaskManager::~TaskManager() { Shutdown(); }

absl::Status TaskManager::Start() {
  store::ListOptions all;
  all.limit = store::kMaxListLimit;
  int64_t max_number = 0;
  int interrupted = 0;
  int restored = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::Row> rows, store_->List(Table::kTasks, all));
    for (const store::Row& row : rows) {
      max_number = std::max(max_number, TaskNumber(row.key));
      ASSIGN_OR_RETURN(v1::Task task, DecodeRow<v1::Task>(Table::kTasks, row));
      if (Terminal(task.state())) continue;
      if (task.kind() == v1::TASK_KIND_TRAIN && task.state() == v1::TASK_STATE_RUNNING &&
          std::all_of(task.nodes().begin(), task.nodes().end(), [](const v1::TaskNode& part) {
            return part.state() == v1::TASK_STATE_RUNNING;
          })) {
        board_.Restore(std::move(task));
        ++restored;
        continue;
      }
      // Nothing else runs yet (Start comes before serving): written directly.
      FinishTask(&task, v1::TASK_STATE_FAILED,
                 "interrupted: the planner restarted while the task was in flight; create it "
                 "again");
      RETURN_IF_ERROR(StoreTaskRow(store_, task));
      ++interrupted;
    }
    if (static_cast<int>(rows.size()) < all.limit) break;
    all.after_key = rows.back().key;
    all.after_version = rows.back().version;
  }
  board_.SetNextNumber(max_number + 1);
  if (interrupted > 0) spdlog::warn("{} task(s) interrupted by a planner restart", interrupted);
  if (restored > 0) {
    spdlog::info("{} training task(s) wait for their agents to re-attach", restored);
  }
  return absl::OkStatus();
}

void TaskManager::Shutdown() { revisions_.Stop(); }

void TaskManager::OnNodeLost(const v1::Node& node) {
  FailTasksOfLostNode(&board_, node.cluster(), node.name());
}

absl::StatusOr<v1::Task> TaskManager::Create(const v1::CreateTaskRequest& request) {
  return factory_.Create(request);
}

absl::StatusOr<v1::GetTaskResponse> TaskManager::Current(const std::string& id) {
  v1::GetTaskResponse response;
  if (std::optional<TaskBoard::View> view = board_.Find(TaskNumber(id))) {
    *response.mutable_task() = std::move(view->task);
    response.set_revision(view->revision);
    return response;
  }
  ASSIGN_OR_RETURN(std::optional<store::Row> row, store_->Get(Table::kTasks, id, 0));
  if (!row) return absl::NotFoundError(absl::StrCat("task ", Quoted(id), " not found"));
  ASSIGN_OR_RETURN(*response.mutable_task(), DecodeRow<v1::Task>(Table::kTasks, *row));
  response.set_revision(-1);  // finished: never changes again
  return response;
}

absl::StatusOr<v1::GetTaskResponse> TaskManager::Get(const v1::GetTaskRequest& request,
                                                     const grpc::ServerContext* context) {
  const int64_t number = TaskNumber(request.id());
  if (number == 0) return Invalid("id", Quoted(request.id()), "expected a task id like task-1");
  RETURN_IF_ERROR(
      CheckRange("wait_ms", request.wait_ms(), 0, absl::ToInt64Milliseconds(options_.max_wait)));
  const absl::Time deadline = absl::Now() + absl::Milliseconds(request.wait_ms());
  ASSIGN_OR_RETURN(std::optional<v1::GetTaskResponse> changed,
                   LongPoll<v1::GetTaskResponse>(
                       revisions_, deadline, context,
                       [&]() -> absl::StatusOr<std::optional<v1::GetTaskResponse>> {
                         ASSIGN_OR_RETURN(v1::GetTaskResponse now, Current(request.id()));
                         if (now.revision() == request.known_revision() && now.revision() != -1) {
                           return std::nullopt;  // unchanged: wait
                         }
                         return now;
                       }));
  if (changed.has_value()) return std::move(*changed);
  return Current(request.id());  // the wait ended: the task as it is
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
  PageBytes bytes;
  for (auto& [number, task] : tasks) {
    // The board's view is newer (it has the progress, and changes not yet
    // written).
    std::optional<TaskBoard::View> live = board_.Find(number);
    v1::Task shown = live.has_value() ? std::move(live->task) : std::move(task);
    if (response.tasks_size() == page_size || !bytes.Add(shown)) {
      response.set_next_page_token(absl::StrCat(number + 1));
      break;
    }
    *response.add_tasks() = std::move(shown);
  }
  return response;
}

absl::StatusOr<v1::Task> TaskManager::Cancel(const std::string& id) {
  const int64_t number = TaskNumber(id);
  if (number == 0) return Invalid("id", Quoted(id), "expected a task id like task-1");
  ASSIGN_OR_RETURN(
      TaskBoard::Updated cancelled,
      board_.Update(number, [](TaskBoard::Entry& entry) -> absl::StatusOr<TaskBoard::Change> {
        FinishTask(&entry.task, v1::TASK_STATE_CANCELLED, "cancelled by a client");
        return TaskBoard::Change::kState;
      }));
  if (cancelled.write.has_value()) {
    RETURN_IF_ERROR(board_.Commit(std::move(*cancelled.write)));
    return std::move(cancelled.task);
  }
  // Not in flight: it had ended already (or is unknown).
  ASSIGN_OR_RETURN(v1::GetTaskResponse current, Current(id));
  return std::move(*current.mutable_task());
}

absl::StatusOr<v1::Task> TaskManager::Fail(const std::string& id, const std::string& message) {
  const int64_t number = TaskNumber(id);
  if (number == 0) return Invalid("id", Quoted(id), "expected a task id like task-1");
  ASSIGN_OR_RETURN(
      TaskBoard::Updated failed,
      board_.Update(number, [&](TaskBoard::Entry& entry) -> absl::StatusOr<TaskBoard::Change> {
        FinishTask(&entry.task, v1::TASK_STATE_FAILED, message);
        return TaskBoard::Change::kState;
      }));
  if (failed.write.has_value()) {
    RETURN_IF_ERROR(board_.Commit(std::move(*failed.write)));
    return std::move(failed.task);
  }
  ASSIGN_OR_RETURN(v1::GetTaskResponse current, Current(id));
  return std::move(*current.mutable_task());
}

absl::StatusOr<v1::PollTaskResponse> TaskManager::Poll(const v1::PollTaskRequest& request,
                                                       const grpc::ServerContext* context) {
  return handout_.Poll(request, context);
}

absl::StatusOr<v1::ReportTaskResponse> TaskManager::Report(const v1::ReportTaskRequest& request) {
  return reports_.Report(request);
}

absl::StatusOr<v1::MeasureMissingResponse> TaskManager::MeasureMissing(const v1::ModelSpec& model,
                                                                       const std::string& cluster,
                                                                       const std::string& reason) {
  return measure_.MeasureMissing(model, cluster, reason);
}

grpc::Status TaskManager::CreateTask(grpc::ServerContext* context,
                                     const v1::CreateTaskRequest* request, v1::Task* response) {
  return Handle(context, "TaskService/CreateTask", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(who, request->cluster(), "the task"));
    return Fill(Create(*request), response);
  });
}

grpc::Status TaskManager::GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                                  v1::GetTaskResponse* response) {
  return Handle(context, "TaskService/GetTask",
                [&](const Principal&) { return Fill(Get(*request, context), response); });
}

grpc::Status TaskManager::ListTasks(grpc::ServerContext* context,
                                    const v1::ListTasksRequest* request,
                                    v1::ListTasksResponse* response) {
  return Handle(context, "TaskService/ListTasks",
                [&](const Principal&) { return Fill(List(*request), response); });
}

grpc::Status TaskManager::CancelTask(grpc::ServerContext* context,
                                     const v1::CancelTaskRequest* request, v1::Task* response) {
  return Handle(context, "TaskService/CancelTask", [&](const Principal& who) -> absl::Status {
    if (!who.cluster.empty()) {
      v1::GetTaskRequest get;
      get.set_id(request->id());
      ASSIGN_OR_RETURN(v1::GetTaskResponse task, Get(get, context));
      RETURN_IF_ERROR(CheckCluster(who, task.task().cluster(), "the task"));
    }
    return Fill(Cancel(request->id()), response);
  });
}

grpc::Status TaskManager::PollTask(grpc::ServerContext* context, const v1::PollTaskRequest* request,
                                   v1::PollTaskResponse* response) {
  return Handle(context, "TaskService/PollTask", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(who, request->cluster(), "the poll"));
    return Fill(Poll(*request, context), response);
  });
}

grpc::Status TaskManager::ReportTask(grpc::ServerContext* context,
                                     const v1::ReportTaskRequest* request,
                                     v1::ReportTaskResponse* response) {
  // The report's cluster must be the task's (checked by the reports).
  return Handle(context, "TaskService/ReportTask", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(who, request->cluster(), "the report"));
    return Fill(Report(*request), response);
  });
}

grpc::Status TaskManager::MeasureMissing(grpc::ServerContext* context,
                                         const v1::MeasureMissingRequest* request,
                                         v1::MeasureMissingResponse* response) {
  return Handle(context, "TaskService/MeasureMissing", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(who, request->cluster(), "the request"));
    ASSIGN_OR_RETURN(v1::ModelSpec model, models_->Get(request->model(), request->model_version()));
    return Fill(MeasureMissing(model, request->cluster(), "asked by a client"), response);
  });
}

}  // namespace galvatron::planner
