#include "dashboard/cli/cli_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_file.h"
#include "common/message_text.h"
#include "common/plan_explanation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "dashboard/cli/paging.h"
#include "google/protobuf/struct.pb.h"
#include "grpcpp/create_channel.h"
#include "interop/galvatron_hardware.h"

namespace galvatron::cli {

using text::CalibrationDetails;
using text::ComputeProfileDetails;
using text::FormatTimestamp;
using text::HardwareProfileDetails;
using text::ModelDetails;
using text::ModelListTable;
using text::NodeListTable;
using text::PlanDetails;
using text::PlanListTable;
using text::ShortEnumName;
using text::TaskDetails;
using text::TaskListTable;
using text::TaskWhat;
using text::TextTable;

namespace {

// "measured", or "measured (noisy)" for a profile flagged noisy
// (docs/measurement.md).
std::string Source(v1::ProfileSource source, const v1::MeasurementQuality& quality) {
  return absl::StrCat(ShortEnumName(v1::ProfileSource_Name(source), "PROFILE_SOURCE_"),
                      quality.noisy() ? " (noisy)" : "");
}

}  // namespace

int JobExitCode(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_SUCCEEDED:
      return kExitOk;
    case v1::JOB_STATE_FAILED:
      return kExitJobFailed;
    case v1::JOB_STATE_CANCELLED:
      return kExitJobCancelled;
    default:
      return kExitCallFailed;  // not ended
  }
}

PlannerClient::PlannerClient(const ClientOptions& options, std::ostream* out, std::ostream* err)
    : options_(options), out_(out), err_(err) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  // A planner that restarts is found again within seconds (gRPC's own
  // reconnect backoff would grow to two minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  auto channel = CreatePlannerChannel(options.planner, options.credentials, args);
  models_ = v1::ModelService::NewStub(channel);
  hardware_ = v1::HardwareProfileService::NewStub(channel);
  compute_ = v1::ComputeProfileService::NewStub(channel);
  plans_ = v1::PlanService::NewStub(channel);
  nodes_ = v1::NodeService::NewStub(channel);
  tasks_ = v1::TaskService::NewStub(channel);
  jobs_ = v1::JobService::NewStub(channel);
}

std::unique_ptr<grpc::ClientContext> PlannerClient::Context(double seconds) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (seconds <= 0) seconds = options_.timeout_seconds;
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return context;
}

absl::Status PlannerClient::Check(const grpc::Status& status) const {
  absl::Status result = FromGrpcStatus(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
       absl::StrContains(status.error_message(), "connect"))) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the planner at ", options_.planner, " (", status.error_message(),
        "); is galvatron-planner running? Use --planner HOST:PORT or GALVATRON_PLANNER"));
  }
  return result;
}

absl::Status PlannerClient::ModelsSubmit(const std::string& file) {
  v1::SubmitModelRequest request;
  RETURN_IF_ERROR(ReadJsonFile(file, request.mutable_spec()));
  v1::ModelSpec response;
  RETURN_IF_ERROR(Check(models_->SubmitModel(Context().get(), request, &response)));
  if (options_.json) {
    *out_ << MessageToJson(response) << "\n";
  } else {
    *out_ << "model " << response.name() << " version " << response.version() << " stored\n";
  }
  return absl::OkStatus();
}

absl::Status PlannerClient::ModelsList(bool include_builtin) {
  v1::ListModelsRequest request;
  request.set_include_builtin(include_builtin);
  v1::ListModelsResponse all;
  RETURN_IF_ERROR(FetchAllPages(
      request,
      [&](const auto& r, auto* page) {
        return Check(models_->ListModels(Context().get(), r, page));
      },
      &v1::ListModelsResponse::mutable_models, &all));
  if (options_.json) {
    *out_ << MessageToJson(all) << "\n";
  } else {
    *out_ << ModelListTable({all.models().begin(), all.models().end()});
  }
  return absl::OkStatus();
}

absl::Status PlannerClient::ModelsShow(const std::string& name, int64_t version) {
  v1::GetModelRequest request;
  request.set_name(name);
  request.set_version(version);
  v1::ModelSpec response;
  RETURN_IF_ERROR(Check(models_->GetModel(Context().get(), request, &response)));
  *out_ << (options_.json ? MessageToJson(response) + "\n" : ModelDetails(response));
  return absl::OkStatus();
}

absl::Status PlannerClient::ModelsDelete(const std::string& name) {
  v1::DeleteModelRequest request;
  request.set_name(name);
  v1::DeleteModelResponse response;
  RETURN_IF_ERROR(Check(models_->DeleteModel(Context().get(), request, &response)));
  if (options_.json) {
    *out_ << MessageToJson(response) << "\n";
  } else {
    *out_ << "model " << name << " deleted (" << response.versions_deleted() << " versions)\n";
  }
  return absl::OkStatus();
}

absl::Status PlannerClient::ProfilesImport(const std::string& file) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(file));
  google::protobuf::Struct fields;
  RETURN_IF_ERROR(JsonToMessage(text, file, &fields));
  if (fields.fields().count("profiles") > 0) {  // a ComputeProfileList (galvatron-worker profile)
    v1::ComputeProfileList list;
    RETURN_IF_ERROR(JsonToMessage(text, file, &list));
    if (list.profiles_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": profiles: empty"));
    }
    v1::ComputeProfileList stored;
    for (int i = 0; i < list.profiles_size(); ++i) {
      v1::PutComputeProfileRequest request;
      *request.mutable_profile() = list.profiles(i);
      v1::ComputeProfile response;
      absl::Status put = Check(compute_->PutComputeProfile(Context().get(), request, &response));
      if (!put.ok()) {
        return absl::Status(put.code(),
                            absl::StrCat("profiles[", i, "] (", list.profiles(i).layer_type(),
                                         "): ", put.message(), "; ", i, " before it were stored"));
      }
      if (!options_.json) {
        *out_ << "compute profile " << response.id() << " stored (" << response.layer_type()
              << " on " << response.cluster() << ")\n";
      }
      *stored.add_profiles() = std::move(response);
    }
    if (options_.json) *out_ << MessageToJson(stored) << "\n";
    return absl::OkStatus();
  }
  const bool compute =
      fields.fields().count("layerType") > 0 || fields.fields().count("layer_type") > 0;
  if (compute) {
    v1::PutComputeProfileRequest request;
    RETURN_IF_ERROR(JsonToMessage(text, file, request.mutable_profile()));
    v1::ComputeProfile response;
    RETURN_IF_ERROR(Check(compute_->PutComputeProfile(Context().get(), request, &response)));
    if (options_.json) {
      *out_ << MessageToJson(response) << "\n";
    } else {
      *out_ << "compute profile " << response.id() << " stored (" << response.layer_type() << " on "
            << response.cluster() << ")\n";
    }
    return absl::OkStatus();
  }
  if (fields.fields().count("cluster") == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(file,
                     ": neither a hardware profile (needs \"cluster\") nor a compute profile "
                     "(needs \"layerType\") nor a list of compute profiles (needs \"profiles\")"));
  }
  v1::PutHardwareProfileRequest request;
  RETURN_IF_ERROR(JsonToMessage(text, file, request.mutable_profile()));
  v1::HardwareProfile response;
  RETURN_IF_ERROR(Check(hardware_->PutHardwareProfile(Context().get(), request, &response)));
  if (options_.json) {
    *out_ << MessageToJson(response) << "\n";
  } else {
    *out_ << "hardware profile " << response.id() << " stored (cluster " << response.cluster()
          << ", version " << response.version() << ")\n";
  }
  return absl::OkStatus();
}

absl::Status PlannerClient::ProfilesList(const std::string& kind, const std::string& cluster) {
  if (kind != "all" && kind != "hardware" && kind != "compute") {
    return absl::InvalidArgumentError(
        absl::StrCat("--kind: \"", kind, "\", expected all, hardware or compute"));
  }
  v1::ListHardwareProfilesResponse hw;
  v1::ListComputeProfilesResponse cp;
  if (kind != "compute") {
    v1::ListHardwareProfilesRequest request;
    request.set_cluster(cluster);
    RETURN_IF_ERROR(FetchAllPages(
        request,
        [&](const auto& r, auto* page) {
          return Check(hardware_->ListHardwareProfiles(Context().get(), r, page));
        },
        &v1::ListHardwareProfilesResponse::mutable_profiles, &hw));
  }
  if (kind != "hardware") {
    v1::ListComputeProfilesRequest request;
    request.set_cluster(cluster);
    RETURN_IF_ERROR(FetchAllPages(
        request,
        [&](const auto& r, auto* page) {
          return Check(compute_->ListComputeProfiles(Context().get(), r, page));
        },
        &v1::ListComputeProfilesResponse::mutable_profiles, &cp));
  }
  if (options_.json) {
    *out_ << "{\n\"hardwareProfiles\": " << MessageToJson(hw)
          << ",\n\"computeProfiles\": " << MessageToJson(cp) << "\n}\n";
    return absl::OkStatus();
  }
  TextTable table({"ID", "KIND", "CLUSTER", "VERSION", "DETAIL", "SOURCE", "STORED"});
  for (const auto& p : hw.profiles()) {
    table.AddRow({p.id(), "hardware", p.cluster(), absl::StrCat(p.version()),
                  absl::StrCat(p.num_nodes(), "x", p.devices_per_node(), " ",
                               p.device().name().empty() ? "devices" : p.device().name()),
                  Source(p.source(), p.quality()), FormatTimestamp(p.created_at())});
  }
  for (const auto& p : cp.profiles()) {
    table.AddRow({p.id(), "compute", p.cluster(), absl::StrCat(p.version()), p.layer_type(),
                  Source(p.source(), p.quality()), FormatTimestamp(p.created_at())});
  }
  *out_ << (table.empty() ? std::string("no profiles\n") : table.Render());
  return absl::OkStatus();
}

absl::Status PlannerClient::ProfilesShow(const std::string& id) {
  if (absl::StartsWith(id, "hw-")) {
    v1::GetHardwareProfileRequest request;
    request.set_id(id);
    v1::HardwareProfile response;
    RETURN_IF_ERROR(Check(hardware_->GetHardwareProfile(Context().get(), request, &response)));
    *out_ << (options_.json ? MessageToJson(response) + "\n" : HardwareProfileDetails(response));
    return absl::OkStatus();
  }
  if (absl::StartsWith(id, "cp-")) {
    v1::GetComputeProfileRequest request;
    request.set_id(id);
    v1::ComputeProfile response;
    RETURN_IF_ERROR(Check(compute_->GetComputeProfile(Context().get(), request, &response)));
    *out_ << (options_.json ? MessageToJson(response) + "\n" : ComputeProfileDetails(response));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("ID: \"", id,
                   "\", expected a hardware profile id (hw-...) or a compute profile id (cp-...)"));
}

absl::Status PlannerClient::ProfilesRollback(const std::string& cluster,
                                             const std::string& layer_type, int64_t version) {
  if (layer_type.empty()) {
    v1::RollbackHardwareProfileRequest request;
    request.set_cluster(cluster);
    request.set_version(version);
    v1::HardwareProfile response;
    RETURN_IF_ERROR(Check(hardware_->RollbackHardwareProfile(Context().get(), request, &response)));
    *out_ << (options_.json ? MessageToJson(response) + "\n"
                            : absl::StrCat("hardware profile ", response.id(), " stored: ", cluster,
                                           " is back at version ", version, "\n"));
    return absl::OkStatus();
  }
  v1::RollbackComputeProfileRequest request;
  request.set_cluster(cluster);
  request.set_layer_type(layer_type);
  request.set_version(version);
  v1::ComputeProfile response;
  RETURN_IF_ERROR(Check(compute_->RollbackComputeProfile(Context().get(), request, &response)));
  *out_ << (options_.json ? MessageToJson(response) + "\n"
                          : absl::StrCat("compute profile ", response.id(), " stored: ", layer_type,
                                         " on ", cluster, " is back at version ", version, "\n"));
  return absl::OkStatus();
}

absl::StatusOr<v1::Task> PlannerClient::Follow(const std::string& id) {
  v1::GetTaskRequest request;
  request.set_id(id);
  request.set_wait_ms(20000);
  std::string last_line;
  while (true) {
    v1::GetTaskResponse response;
    RETURN_IF_ERROR(Retrying(id, [&] {
      return tasks_->GetTask(Context(request.wait_ms() / 1000.0 + options_.timeout_seconds).get(),
                             request, &response);
    }));
    const v1::Task& task = response.task();
    const std::string line = absl::StrFormat(
        "%s %s: %s %3.0f%% %s", task.id(), TaskWhat(task),
        ShortEnumName(v1::TaskState_Name(task.state()), "TASK_STATE_"), 100 * task.progress(),
        response.revision() < 0 ? task.message().substr(0, task.message().find('\n'))
                                : task.progress_message());
    if (line != last_line) {
      *err_ << line << std::endl;
      last_line = line;
    }
    if (response.revision() < 0) return task;  // finished
    request.set_known_revision(response.revision());
  }
}

namespace {

absl::Status TaskOutcome(const v1::Task& task) {
  switch (task.state()) {
    case v1::TASK_STATE_SUCCEEDED:
      return absl::OkStatus();
    case v1::TASK_STATE_CANCELLED:
      return absl::CancelledError(absl::StrCat(task.id(), " was cancelled: ", task.message()));
    default:
      return absl::AbortedError(absl::StrCat(task.id(), " failed: ", task.message()));
  }
}

}  // namespace

absl::Status PlannerClient::ProfilesProbe(const v1::CreateTaskRequest& request, bool wait,
                                          const std::string& galvatron_out) {
  v1::Task task;
  RETURN_IF_ERROR(Check(tasks_->CreateTask(Context().get(), request, &task)));
  if (!wait) {
    *out_ << (options_.json ? MessageToJson(task) + "\n" : TaskDetails(task));
    return absl::OkStatus();
  }
  *err_ << task.id() << " started: probing " << task.world_size() << " rank(s) on "
        << task.nodes_size() << " node(s) of " << task.cluster() << std::endl;
  ASSIGN_OR_RETURN(task, Follow(task.id()));
  RETURN_IF_ERROR(TaskOutcome(task));
  if (task.result_ids_size() == 0) {
    return absl::InternalError(absl::StrCat(task.id(), " succeeded without a result"));
  }
  v1::GetHardwareProfileRequest get;
  get.set_id(task.result_ids(0));
  v1::HardwareProfile profile;
  RETURN_IF_ERROR(Check(hardware_->GetHardwareProfile(Context().get(), get, &profile)));
  if (!galvatron_out.empty()) {
    RETURN_IF_ERROR(interop::WriteGalvatronHardware(profile, galvatron_out));
    *err_ << "Galvatron hardware-profile files written to " << galvatron_out << std::endl;
  }
  *out_ << (options_.json ? MessageToJson(profile) + "\n" : HardwareProfileDetails(profile));
  return absl::OkStatus();
}

absl::Status PlannerClient::ProfilesMeasure(const v1::CreateTaskRequest& request, bool wait) {
  v1::Task task;
  RETURN_IF_ERROR(Check(tasks_->CreateTask(Context().get(), request, &task)));
  if (!wait) {
    *out_ << (options_.json ? MessageToJson(task) + "\n" : TaskDetails(task));
    return absl::OkStatus();
  }
  *err_ << task.id() << " started: profiling " << request.model() << " on node "
        << task.nodes(0).node() << std::endl;
  ASSIGN_OR_RETURN(task, Follow(task.id()));
  RETURN_IF_ERROR(TaskOutcome(task));
  *out_ << (options_.json ? MessageToJson(task) + "\n" : TaskDetails(task));
  return absl::OkStatus();
}

absl::Status PlannerClient::TasksList(const std::string& cluster) {
  v1::ListTasksRequest request;
  request.set_cluster(cluster);
  v1::ListTasksResponse all;
  RETURN_IF_ERROR(FetchAllPages(
      request,
      [&](const auto& r, auto* page) { return Check(tasks_->ListTasks(Context().get(), r, page)); },
      &v1::ListTasksResponse::mutable_tasks, &all));
  *out_ << (options_.json ? MessageToJson(all) + "\n"
                          : TaskListTable({all.tasks().begin(), all.tasks().end()}));
  return absl::OkStatus();
}

absl::Status PlannerClient::TasksShow(const std::string& id) {
  v1::GetTaskRequest request;
  request.set_id(id);
  v1::GetTaskResponse response;
  RETURN_IF_ERROR(Check(tasks_->GetTask(Context().get(), request, &response)));
  *out_ << (options_.json ? MessageToJson(response.task()) + "\n" : TaskDetails(response.task()));
  return absl::OkStatus();
}

absl::Status PlannerClient::TasksWait(const std::string& id) {
  ASSIGN_OR_RETURN(v1::Task task, Follow(id));
  *out_ << (options_.json ? MessageToJson(task) + "\n" : TaskDetails(task));
  return TaskOutcome(task);
}

absl::Status PlannerClient::TasksCancel(const std::string& id) {
  v1::CancelTaskRequest request;
  request.set_id(id);
  v1::Task task;
  RETURN_IF_ERROR(Check(tasks_->CancelTask(Context().get(), request, &task)));
  *out_ << (options_.json ? MessageToJson(task) + "\n" : TaskDetails(task));
  return absl::OkStatus();
}

absl::Status PlannerClient::Plan(const v1::PlanRequest& request, bool measure) {
  if (measure && !request.has_hardware() && !request.cluster().empty() &&
      !request.estimate_missing() && !request.model().empty()) {
    v1::MeasureMissingRequest missing;
    missing.set_model(request.model());
    missing.set_model_version(request.model_version());
    missing.set_cluster(request.cluster());
    v1::MeasureMissingResponse measuring;
    RETURN_IF_ERROR(Check(tasks_->MeasureMissing(Context().get(), missing, &measuring)));
    for (const v1::Task& task : measuring.tasks()) {
      *err_ << "measuring first: " << task.id() << " (" << TaskWhat(task) << ", " << task.reason()
            << ")" << std::endl;
      ASSIGN_OR_RETURN(v1::Task done, Follow(task.id()));
      RETURN_IF_ERROR(TaskOutcome(done));
    }
  }
  v1::Plan response;
  // --timeout bounds the call when given: the planner stops the search when
  // the deadline passes (unless another client waits for the same plan).
  // Otherwise the search's time limit bounds it: the request's, or the
  // planner's default (120 s unless galvatron-planner --search-time-limit
  // says otherwise), plus kPlanMarginSeconds for a wait in the planner's
  // search queue and the answer.
  constexpr double kDefaultTimeLimitSeconds = 120, kPlanMarginSeconds = 60;
  const double wait = options_.timeout_given
                          ? options_.timeout_seconds
                          : std::max(options_.timeout_seconds, (request.time_limit_seconds() > 0
                                                                    ? request.time_limit_seconds()
                                                                    : kDefaultTimeLimitSeconds) +
                                                                   kPlanMarginSeconds);
  absl::Status asked = Check(plans_->RequestPlan(Context(wait).get(), request, &response));
  if (absl::IsDeadlineExceeded(asked)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no plan within ", wait, " s (",
        options_.timeout_given ? "--timeout" : "the search's time limit plus 60 s; see --timeout",
        "); the planner stops the search unless another client waits for the same plan"));
  }
  RETURN_IF_ERROR(asked);
  PrintPlan(response);
  return absl::OkStatus();
}

absl::Status PlannerClient::PlansList(const std::string& model, const std::string& cluster) {
  v1::ListPlansRequest request;
  request.set_model(model);
  request.set_cluster(cluster);
  v1::ListPlansResponse all;
  RETURN_IF_ERROR(FetchAllPages(
      request,
      [&](const auto& r, auto* page) { return Check(plans_->ListPlans(Context().get(), r, page)); },
      &v1::ListPlansResponse::mutable_plans, &all));
  *out_ << (options_.json ? MessageToJson(all) + "\n"
                          : PlanListTable({all.plans().begin(), all.plans().end()}));
  return absl::OkStatus();
}

absl::Status PlannerClient::PlansShow(const std::string& id) {
  v1::GetPlanRequest request;
  request.set_id(id);
  v1::Plan response;
  RETURN_IF_ERROR(Check(plans_->GetPlan(Context().get(), request, &response)));
  PrintPlan(response);
  return absl::OkStatus();
}

void PlannerClient::PrintPlan(const v1::Plan& plan) {
  if (options_.json) {
    *out_ << MessageToJson(plan) << "\n";
    return;
  }
  *out_ << PlanDetails(plan);
  if (options_.explain) *out_ << text::ExplainRunnersUp(plan);
}

absl::Status PlannerClient::CalibrationShow(const std::string& cluster, int64_t version) {
  v1::GetCalibrationRequest request;
  request.set_cluster(cluster);
  request.set_version(version);
  v1::Calibration response;
  RETURN_IF_ERROR(Check(plans_->GetCalibration(Context().get(), request, &response)));
  *out_ << (options_.json ? MessageToJson(response) + "\n" : CalibrationDetails(response));
  return absl::OkStatus();
}

absl::Status PlannerClient::NodesList(const std::string& cluster) {
  v1::ListNodesRequest request;
  request.set_cluster(cluster);
  v1::ListNodesResponse all;
  RETURN_IF_ERROR(FetchAllPages(
      request,
      [&](const auto& r, auto* page) { return Check(nodes_->ListNodes(Context().get(), r, page)); },
      &v1::ListNodesResponse::mutable_nodes, &all));
  *out_ << (options_.json ? MessageToJson(all) + "\n"
                          : NodeListTable({all.nodes().begin(), all.nodes().end()}));
  return absl::OkStatus();
}

}  // namespace galvatron::cli
