#include "planner/service/hardware_profile_manager.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model_validation.h"
#include "common/profile_validation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using store::Table;

absl::StatusOr<v1::HardwareProfile> HardwareProfileManager::Put(v1::HardwareProfile profile,
                                                                std::string uploaded_by) {
  profile.clear_restored_from_version();
  return Append(std::move(profile), std::move(uploaded_by));
}

absl::StatusOr<v1::HardwareProfile> HardwareProfileManager::Rollback(const std::string& cluster,
                                                                     int64_t version,
                                                                     std::string by) {
  if (version < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: ", version, ", expected the version (>= 1) to restore"));
  }
  v1::GetHardwareProfileRequest get;
  get.set_cluster(cluster);
  get.set_version(version);
  ASSIGN_OR_RETURN(v1::HardwareProfile old, Get(get));
  old.set_restored_from_version(version);
  ASSIGN_OR_RETURN(v1::HardwareProfile restored, Append(std::move(old), std::move(by)));
  spdlog::info("hardware profile of {} rolled back to version {} as {}", cluster, version,
               restored.id());
  return restored;
}

absl::StatusOr<v1::HardwareProfile> HardwareProfileManager::Append(v1::HardwareProfile profile,
                                                                   std::string uploaded_by) {
  RETURN_IF_ERROR(ValidateHardwareProfile(profile));
  profile.clear_id();
  profile.clear_version();
  profile.clear_created_at();
  profile.set_uploaded_by(std::move(uploaded_by));
  store::NewRow row;
  row.key = profile.cluster();
  row.id_prefix = absl::StrCat("hw-", profile.cluster(), "-");
  row.tag = profile.cluster();
  row.payload = DeterministicBytes(profile);
  ASSIGN_OR_RETURN(store::Row stored, store_->Append(Table::kHardwareProfiles, row));
  spdlog::info("hardware profile {} stored", stored.id);
  return DecodeRow<v1::HardwareProfile>(Table::kHardwareProfiles, stored);
}

absl::StatusOr<v1::HardwareProfile> HardwareProfileManager::Get(
    const v1::GetHardwareProfileRequest& request) {
  if (!request.id().empty()) {
    if (!request.cluster().empty() || request.version() != 0) {
      return absl::InvalidArgumentError(
          "id: given together with cluster/version, expected one or the other");
    }
    ASSIGN_OR_RETURN(auto row, store_->GetById(Table::kHardwareProfiles, request.id()));
    if (!row) {
      return absl::NotFoundError(absl::StrCat("hardware profile \"", request.id(), "\" not found"));
    }
    return DecodeRow<v1::HardwareProfile>(Table::kHardwareProfiles, *row);
  }
  if (request.cluster().empty()) {
    return absl::InvalidArgumentError(
        "id: empty and cluster: empty, expected a profile id or a cluster name");
  }
  RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
  if (request.version() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: ", request.version(), ", must be >= 0 (0 = latest)"));
  }
  ASSIGN_OR_RETURN(auto row,
                   store_->Get(Table::kHardwareProfiles, request.cluster(), request.version()));
  if (!row) {
    return absl::NotFoundError(
        request.version() == 0
            ? absl::StrCat("cluster \"", request.cluster(), "\" has no hardware profile")
            : absl::StrCat("cluster \"", request.cluster(), "\" has no hardware profile version ",
                           request.version()));
  }
  return DecodeRow<v1::HardwareProfile>(Table::kHardwareProfiles, *row);
}

absl::StatusOr<v1::ListHardwareProfilesResponse> HardwareProfileManager::List(
    const v1::ListHardwareProfilesRequest& request) {
  store::ListOptions options;
  if (!request.cluster().empty()) {
    RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
    options.key = request.cluster();
    options.latest_only = false;  // the cluster's history
  }
  v1::ListHardwareProfilesResponse response;
  std::string next;
  ASSIGN_OR_RETURN(
      std::vector<v1::HardwareProfile> profiles,
      ListPage<v1::HardwareProfile>(
          store_, Table::kHardwareProfiles, options, request.page_token(), request.page_size(),
          [](const v1::HardwareProfile&) { return true; }, &next));
  for (auto& p : profiles) *response.add_profiles() = std::move(p);
  response.set_next_page_token(next);
  return response;
}

grpc::Status HardwareProfileManager::PutHardwareProfile(
    grpc::ServerContext* context, const v1::PutHardwareProfileRequest* request,
    v1::HardwareProfile* response) {
  return Handle(context, "HardwareProfileService/PutHardwareProfile",
                [&](const Principal& who) -> absl::Status {
                  RETURN_IF_ERROR(CheckCluster(who, request->profile().cluster(), "the profile"));
                  return Fill(Put(request->profile(), who.name), response);
                });
}

grpc::Status HardwareProfileManager::RollbackHardwareProfile(
    grpc::ServerContext* context, const v1::RollbackHardwareProfileRequest* request,
    v1::HardwareProfile* response) {
  return Handle(context, "HardwareProfileService/RollbackHardwareProfile",
                [&](const Principal& who) {
                  return Fill(Rollback(request->cluster(), request->version(), who.name), response);
                });
}

grpc::Status HardwareProfileManager::GetHardwareProfile(
    grpc::ServerContext* context, const v1::GetHardwareProfileRequest* request,
    v1::HardwareProfile* response) {
  return Handle(context, "HardwareProfileService/GetHardwareProfile",
                [&](const Principal&) { return Fill(Get(*request), response); });
}

grpc::Status HardwareProfileManager::ListHardwareProfiles(
    grpc::ServerContext* context, const v1::ListHardwareProfilesRequest* request,
    v1::ListHardwareProfilesResponse* response) {
  return Handle(context, "HardwareProfileService/ListHardwareProfiles",
                [&](const Principal&) { return Fill(List(*request), response); });
}

}  // namespace galvatron::planner
