#include "planner/service/compute_profile_manager.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/layer_type.h"
#include "common/model_validation.h"
#include "common/profile_validation.h"
#include "common/rpc_status.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using store::Table;

std::string ComputeProfileKey(const std::string& cluster, const std::string& layer_type) {
  return absl::StrCat(cluster, "/", layer_type);
}

absl::StatusOr<v1::ComputeProfile> ComputeProfileManager::Put(v1::ComputeProfile profile,
                                                              std::string uploaded_by) {
  profile.clear_restored_from_version();
  return Append(std::move(profile), std::move(uploaded_by));
}

absl::StatusOr<v1::ComputeProfile> ComputeProfileManager::Rollback(const std::string& cluster,
                                                                   const std::string& layer_type,
                                                                   int64_t version,
                                                                   std::string by) {
  if (version < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: ", version, ", expected the version (>= 1) to restore"));
  }
  v1::GetComputeProfileRequest get;
  get.set_cluster(cluster);
  get.set_layer_type(layer_type);
  get.set_version(version);
  ASSIGN_OR_RETURN(v1::ComputeProfile old, Get(get));
  old.set_restored_from_version(version);
  ASSIGN_OR_RETURN(v1::ComputeProfile restored, Append(std::move(old), std::move(by)));
  spdlog::info("compute profile of {} on {} rolled back to version {} as {}", layer_type, cluster,
               version, restored.id());
  return restored;
}

absl::StatusOr<v1::ComputeProfile> ComputeProfileManager::Append(v1::ComputeProfile profile,
                                                                 std::string uploaded_by) {
  RETURN_IF_ERROR(ValidateComputeProfile(profile));
  profile.clear_id();
  profile.clear_version();
  profile.clear_created_at();
  profile.set_uploaded_by(std::move(uploaded_by));
  store::NewRow row;
  row.key = ComputeProfileKey(profile.cluster(), profile.layer_type());
  row.id_prefix =
      absl::StrCat("cp-", profile.cluster(), "-", Fnv1a64Hex(profile.layer_type(), 10), "-");
  row.tag = profile.cluster();
  row.payload = DeterministicBytes(profile);
  ASSIGN_OR_RETURN(store::Row stored, store_->Append(Table::kComputeProfiles, row));
  spdlog::info("compute profile {} stored ({} on {})", stored.id, profile.layer_type(),
               profile.cluster());
  return DecodeRow<v1::ComputeProfile>(Table::kComputeProfiles, stored);
}

absl::StatusOr<v1::ComputeProfile> ComputeProfileManager::Get(
    const v1::GetComputeProfileRequest& request) {
  if (!request.id().empty()) {
    if (!request.layer_type().empty() || !request.cluster().empty() || request.version() != 0) {
      return absl::InvalidArgumentError(
          "id: given together with layer_type/cluster/version, expected one or the other");
    }
    ASSIGN_OR_RETURN(auto row, store_->GetById(Table::kComputeProfiles, request.id()));
    if (!row) {
      return absl::NotFoundError(absl::StrCat("compute profile \"", request.id(), "\" not found"));
    }
    return DecodeRow<v1::ComputeProfile>(Table::kComputeProfiles, *row);
  }
  if (request.layer_type().empty()) {
    return absl::InvalidArgumentError(
        "layer_type: empty, expected a profile id or a layer type and a cluster");
  }
  RETURN_IF_ERROR(CheckLayerTypeKey("layer_type", request.layer_type()));
  RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
  if (request.version() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: ", request.version(), ", must be >= 0 (0 = latest)"));
  }
  ASSIGN_OR_RETURN(auto row, store_->Get(Table::kComputeProfiles,
                                         ComputeProfileKey(request.cluster(), request.layer_type()),
                                         request.version()));
  if (!row) {
    return absl::NotFoundError(absl::StrCat("no compute profile of layer type \"",
                                            request.layer_type(), "\" on cluster \"",
                                            request.cluster(), "\""));
  }
  return DecodeRow<v1::ComputeProfile>(Table::kComputeProfiles, *row);
}

absl::StatusOr<v1::ListComputeProfilesResponse> ComputeProfileManager::List(
    const v1::ListComputeProfilesRequest& request) {
  store::ListOptions options;
  if (!request.cluster().empty()) {
    RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
    options.tag = request.cluster();
  }
  std::set<std::string> layer_types;
  if (!request.model().empty()) {
    ASSIGN_OR_RETURN(v1::ModelSpec spec, models_->Get(request.model(), 0));
    for (std::string& key : ModelLayerTypeKeys(spec)) layer_types.insert(std::move(key));
  }
  auto keep = [&](const v1::ComputeProfile& p) {
    return layer_types.empty() || layer_types.count(p.layer_type()) > 0;
  };
  v1::ListComputeProfilesResponse response;
  std::string next;
  ASSIGN_OR_RETURN(
      std::vector<v1::ComputeProfile> profiles,
      ListPage<v1::ComputeProfile>(store_, Table::kComputeProfiles, options, request.page_token(),
                                   request.page_size(), keep, &next));
  for (auto& p : profiles) *response.add_profiles() = std::move(p);
  response.set_next_page_token(next);
  return response;
}

grpc::Status ComputeProfileManager::PutComputeProfile(grpc::ServerContext* context,
                                                      const v1::PutComputeProfileRequest* request,
                                                      v1::ComputeProfile* response) {
  return Handle(context, "ComputeProfileService/PutComputeProfile",
                [&](const Principal& who) -> absl::Status {
                  RETURN_IF_ERROR(CheckCluster(who, request->profile().cluster(), "the profile"));
                  return Fill(Put(request->profile(), who.name), response);
                });
}

grpc::Status ComputeProfileManager::RollbackComputeProfile(
    grpc::ServerContext* context, const v1::RollbackComputeProfileRequest* request,
    v1::ComputeProfile* response) {
  return Handle(context, "ComputeProfileService/RollbackComputeProfile", [&](const Principal& who) {
    return Fill(Rollback(request->cluster(), request->layer_type(), request->version(), who.name),
                response);
  });
}

grpc::Status ComputeProfileManager::GetComputeProfile(grpc::ServerContext* context,
                                                      const v1::GetComputeProfileRequest* request,
                                                      v1::ComputeProfile* response) {
  return Handle(context, "ComputeProfileService/GetComputeProfile",
                [&](const Principal&) { return Fill(Get(*request), response); });
}

grpc::Status ComputeProfileManager::ListComputeProfiles(
    grpc::ServerContext* context, const v1::ListComputeProfilesRequest* request,
    v1::ListComputeProfilesResponse* response) {
  return Handle(context, "ComputeProfileService/ListComputeProfiles",
                [&](const Principal&) { return Fill(List(*request), response); });
}

}  // namespace galvatron::planner
