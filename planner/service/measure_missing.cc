#include "planner/service/measure_missing.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/layer_type.h"
#include "common/model_validation.h"
#include "common/status_macros.h"

namespace galvatron::planner {

absl::StatusOr<v1::MeasureMissingResponse> MeasurePolicy::MeasureMissing(
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

  if (response.hardware_missing()) {
    v1::CreateTaskRequest create;
    create.set_kind(v1::TASK_KIND_PROBE);
    create.set_cluster(cluster);
    create.set_reason(absl::StrCat("cluster ", cluster, " has no hardware profile; ", reason));
    auto probing = [&](const v1::Task& task) {
      return task.cluster() == cluster && task.kind() == v1::TASK_KIND_PROBE;
    };
    ASSIGN_OR_RETURN(*response.add_tasks(), factory_->Create(create, nullptr, probing));
  }
  if (response.missing_layer_types_size() > 0) {
    const std::vector<std::string> missing(response.missing_layer_types().begin(),
                                           response.missing_layer_types().end());
    // An in-flight profile task whose model has every missing layer type.
    auto covering = [&](const v1::Task& task) {
      if (task.cluster() != cluster || task.kind() != v1::TASK_KIND_PROFILE) return false;
      const std::vector<std::string> keys = ModelLayerTypeKeys(task.profile().model());
      const std::set<std::string> has(keys.begin(), keys.end());
      return std::all_of(missing.begin(), missing.end(),
                         [&](const std::string& key) { return has.count(key) > 0; });
    };
    v1::CreateTaskRequest create;
    create.set_kind(v1::TASK_KIND_PROFILE);
    create.set_cluster(cluster);
    create.set_model(model.name());
    create.set_reason(absl::StrCat(model.name(), " has ", response.missing_layer_types_size(),
                                   " layer type(s) not measured on ", cluster, "; ", reason));
    // The task profiles the spec given, which may be one that is not stored.
    ASSIGN_OR_RETURN(*response.add_tasks(), factory_->Create(create, &model, covering));
  }
  return response;
}

}  // namespace galvatron::planner
