#include "planner/service/plan_manager.h"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/layer_type.h"
#include "common/model_validation.h"
#include "common/profile_validation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "planner/search/plan_builder.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using store::Table;

namespace {

// Plan ids are lower-case hex digests, optionally prefixed ("plan-...").
absl::Status ValidatePlanId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128;
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("id: \"", id, "\", must be 1-128 characters of [a-z0-9-]"));
  }
  return absl::OkStatus();
}

// FAILED_PRECONDITION naming the tasks that measure what the plan lacks.
absl::Status MeasuringError(const v1::MeasureMissingResponse& measuring) {
  std::string what;
  if (measuring.hardware_missing()) what = "its hardware profile";
  if (measuring.missing_layer_types_size() > 0) {
    absl::StrAppend(&what, what.empty() ? "" : " and ", measuring.missing_layer_types_size(),
                    " compute profile(s)");
  }
  std::string tasks;
  for (const v1::Task& task : measuring.tasks()) {
    absl::StrAppend(&tasks, tasks.empty() ? "" : ", ", task.id());
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the cluster lacks ", what, "; being measured by ", tasks,
                   " (galvatron tasks wait ", measuring.tasks(0).id(),
                   "); ask again when finished, or set estimate_missing "
                   "(galvatron plan --estimate-missing) to estimate compute profiles"));
}

// The caller of a RequestPlan for the search queue's fairness: the token's
// name, or without one the client's address without its port (a client
// that opens more connections stays one caller).
std::string SearchCaller(const Principal& who, const grpc::ServerContext& context) {
  if (!who.name.empty()) return who.name;
  std::string peer = context.peer();  // "ipv4:127.0.0.1:41234", "ipv6:[::1]:41234"
  const size_t colon = peer.rfind(':');
  if (colon != std::string::npos && colon + 1 < peer.size() &&
      peer.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
      peer.find(':') < colon) {
    peer.resize(colon);
  }
  return peer.empty() ? "anonymous" : peer;
}

// OK while the client of `context` still waits for its answer.
absl::Status StillWanted(grpc::ServerContext* context) {
  if (context->deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the call's deadline passed while its plan search ran");
  }
  if (context->IsCancelled()) {
    return absl::CancelledError("the client cancelled the call while its plan search ran");
  }
  return absl::OkStatus();
}

}  // namespace

PlanManager::PlanManager(store::Store* store, ModelManager* models,
                         HardwareProfileManager* hardware, ComputeProfileManager* compute,
                         PlanManagerOptions options, TaskManager* tasks,
                         CalibrationManager* calibrations)
    : store_(store),
      models_(models),
      hardware_(hardware),
      compute_(compute),
      options_(options),
      tasks_(tasks),
      calibrations_(calibrations),
      queue_(options.queue) {}

absl::StatusOr<std::pair<v1::Plan, bool>> PlanManager::Store(v1::Plan plan) {
  RETURN_IF_ERROR(ValidatePlanId(plan.id()));
  plan.clear_created_at();
  store::NewRow row;
  row.key = plan.id();
  row.id_prefix = plan.id() + "#";
  row.tag = plan.cluster();
  row.payload = DeterministicBytes(plan);
  ASSIGN_OR_RETURN(auto stored, store_->InsertIfAbsent(Table::kPlans, row));
  if (stored.second) spdlog::info("plan {} stored", plan.id());
  ASSIGN_OR_RETURN(v1::Plan result, DecodeRow<v1::Plan>(Table::kPlans, stored.first));
  return std::make_pair(std::move(result), stored.second);
}

absl::StatusOr<v1::Plan> PlanManager::Request(const v1::PlanRequest& request, SearchCall call) {
  search::PlanInputs inputs;
  inputs.request = request;
  if (request.has_model_spec()) {
    if (!request.model().empty()) {
      return absl::InvalidArgumentError(
          "model: given together with model_spec, expected one or the other");
    }
    RETURN_IF_ERROR(ValidateModelSpec(request.model_spec()));
    inputs.model = request.model_spec();
  } else if (!request.model().empty()) {
    ASSIGN_OR_RETURN(inputs.model, models_->Get(request.model(), request.model_version()));
  } else {
    return absl::InvalidArgumentError(
        "model: empty, expected a model name (stored or built-in) or a model_spec");
  }
  if (request.hardware_profile_version() < 0 ||
      (request.hardware_profile_version() > 0 && request.has_hardware())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hardware_profile_version: ", request.hardware_profile_version(),
        ", expected 0 (the latest) or, with a cluster (not an inline profile), a stored version"));
  }
  if (request.has_hardware()) {
    RETURN_IF_ERROR(ValidateHardwareProfile(request.hardware()));
    inputs.hardware = request.hardware();
  } else if (!request.cluster().empty()) {
    v1::GetHardwareProfileRequest get;
    get.set_cluster(request.cluster());
    get.set_version(request.hardware_profile_version());
    auto hardware = hardware_->Get(get);
    if (request.hardware_profile_version() > 0 && !hardware.ok()) return hardware.status();
    if (absl::IsNotFound(hardware.status()) && tasks_ != nullptr) {
      ASSIGN_OR_RETURN(
          v1::MeasureMissingResponse measuring,
          tasks_->MeasureMissing(inputs.model, request.cluster(), "a plan was requested"));
      if (measuring.tasks_size() > 0) return MeasuringError(measuring);
    }
    if (absl::IsNotFound(hardware.status())) {
      return absl::NotFoundError(absl::StrCat(
          "cluster \"", request.cluster(),
          "\" has no hardware profile and no alive node to probe it: import one (galvatron "
          "profiles import) or start galvatron-agent on its nodes"));
    }
    if (!hardware.ok()) return hardware.status();
    inputs.hardware = std::move(*hardware);
  } else {
    return absl::InvalidArgumentError(
        "cluster: empty, expected a cluster with a hardware profile or an inline hardware profile");
  }
  // The cluster's latest profile of every layer type of the model; a type
  // without one is estimated analytically (and the plan says so).
  for (const std::string& key : ModelLayerTypeKeys(inputs.model)) {
    v1::GetComputeProfileRequest get;
    get.set_layer_type(key);
    get.set_cluster(inputs.hardware.cluster());
    auto profile = compute_->Get(get);
    if (profile.ok()) {
      inputs.compute.push_back(std::move(*profile));
    } else if (!absl::IsNotFound(profile.status())) {
      return profile.status();
    }
  }
  if (tasks_ != nullptr && !request.has_hardware() && !request.estimate_missing() &&
      inputs.compute.size() < ModelLayerTypeKeys(inputs.model).size()) {
    ASSIGN_OR_RETURN(
        v1::MeasureMissingResponse measuring,
        tasks_->MeasureMissing(inputs.model, inputs.hardware.cluster(), "a plan was requested"));
    if (measuring.tasks_size() > 0) return MeasuringError(measuring);
  }
  if (calibrations_ != nullptr && !search::IsGalvatronMode(request.mode()) &&
      !request.uncalibrated()) {
    // Only for the profile the calibration was learned on (a stored
    // profile, or a job's cut of it, which keeps its id).
    ASSIGN_OR_RETURN(inputs.calibration,
                     calibrations_->Usable(inputs.hardware.cluster(), inputs.hardware.id()));
  }
  const std::string id = search::PlanId(inputs);
  ASSIGN_OR_RETURN(auto existing, store_->Get(Table::kPlans, id, 0));
  if (existing) return DecodeRow<v1::Plan>(Table::kPlans, *existing);

  if (inputs.request.time_limit_seconds() == 0) {
    inputs.request.set_time_limit_seconds(options_.default_time_limit_seconds);
  }
  call.key = id;
  return queue_.Run(
      call,
      [this, inputs = std::move(inputs), id](const std::function<bool()>& cancelled,
                                             int threads) -> absl::StatusOr<v1::Plan> {
        // A search of the same inputs may have ended since the look-up above.
        ASSIGN_OR_RETURN(auto stored, store_->Get(Table::kPlans, id, 0));
        if (stored) return DecodeRow<v1::Plan>(Table::kPlans, *stored);
        search::PlanBuildOptions build;
        build.threads = threads;
        build.cancelled = cancelled;
        spdlog::info("searching a plan for {} on {} ({} compute profiles, time limit {} s)",
                     inputs.model.name(), inputs.hardware.cluster(), inputs.compute.size(),
                     inputs.request.time_limit_seconds());
        ASSIGN_OR_RETURN(v1::Plan plan, search::BuildPlan(inputs, build));
        plan.set_id(id);  // the id of the request as given (time limit default aside)
        spdlog::info("plan {}: {:.3f} samples/s, search {:.2f} s", id,
                     plan.prediction().samples_per_second(), plan.search().wall_seconds());
        ASSIGN_OR_RETURN(auto added, Store(std::move(plan)));
        return std::move(added.first);
      });
}

absl::StatusOr<v1::Plan> PlanManager::Get(const std::string& id) {
  RETURN_IF_ERROR(ValidatePlanId(id));
  ASSIGN_OR_RETURN(auto row, store_->Get(Table::kPlans, id, 0));
  if (!row) return absl::NotFoundError(absl::StrCat("plan \"", id, "\" not found"));
  return DecodeRow<v1::Plan>(Table::kPlans, *row);
}

absl::StatusOr<v1::ListPlansResponse> PlanManager::List(const v1::ListPlansRequest& request) {
  store::ListOptions options;
  if (!request.cluster().empty()) {
    RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
    options.tag = request.cluster();
  }
  if (!request.model().empty()) RETURN_IF_ERROR(ValidateName("model", request.model()));
  auto keep = [&](const v1::Plan& plan) {
    return request.model().empty() || plan.model() == request.model();
  };
  v1::ListPlansResponse response;
  std::string next;
  ASSIGN_OR_RETURN(std::vector<v1::Plan> plans,
                   ListPage<v1::Plan>(store_, Table::kPlans, options, request.page_token(),
                                      request.page_size(), keep, &next));
  for (auto& p : plans) *response.add_plans() = std::move(p);
  response.set_next_page_token(next);
  return response;
}

grpc::Status PlanManager::RequestPlan(grpc::ServerContext* context, const v1::PlanRequest* request,
                                      v1::Plan* response) {
  return Handle(context, "PlanService/RequestPlan", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(
        who, request->has_hardware() ? request->hardware().cluster() : request->cluster(),
        "the plan request"));
    SearchCall call;
    call.caller = SearchCaller(who, *context);
    call.still_wanted = [context] { return StillWanted(context); };
    call.wait_when_full = false;
    return Fill(Request(*request, std::move(call)), response);
  });
}

grpc::Status PlanManager::GetCalibration(grpc::ServerContext* context,
                                         const v1::GetCalibrationRequest* request,
                                         v1::Calibration* response) {
  return Handle(context, "PlanService/GetCalibration", [&](const Principal&) -> absl::Status {
    if (calibrations_ == nullptr) {
      return absl::UnimplementedError("this planner keeps no calibrations");
    }
    return Fill(calibrations_->Get(request->cluster(), request->version()), response);
  });
}

grpc::Status PlanManager::GetPlan(grpc::ServerContext* context, const v1::GetPlanRequest* request,
                                  v1::Plan* response) {
  return Handle(context, "PlanService/GetPlan",
                [&](const Principal&) { return Fill(Get(request->id()), response); });
}

grpc::Status PlanManager::ListPlans(grpc::ServerContext* context,
                                    const v1::ListPlansRequest* request,
                                    v1::ListPlansResponse* response) {
  return Handle(context, "PlanService/ListPlans",
                [&](const Principal&) { return Fill(List(*request), response); });
}

}  // namespace galvatron::planner
