// HardwareProfileManager owns the hardware_profiles table: the measured (or
// imported) interconnect profile of each cluster, every version kept.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/service/access.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// Thread-safe: no state of its own beyond the thread-safe store.
class HardwareProfileManager final : public v1::HardwareProfileService::Service,
                                     public GuardedService {
 public:
  explicit HardwareProfileManager(store::Store* store) : store_(store) {}

  // Validates and stores a new version of the cluster's profile, uploaded
  // by `uploaded_by` (a token's NAME; empty without tokens).
  absl::StatusOr<v1::HardwareProfile> Put(v1::HardwareProfile profile,
                                          std::string uploaded_by = "");
  // Stores the cluster's profile at `version` again as its latest version.
  absl::StatusOr<v1::HardwareProfile> Rollback(const std::string& cluster, int64_t version,
                                               std::string by);
  absl::StatusOr<v1::HardwareProfile> Get(const v1::GetHardwareProfileRequest& request);
  absl::StatusOr<v1::ListHardwareProfilesResponse> List(
      const v1::ListHardwareProfilesRequest& request);

  grpc::Status PutHardwareProfile(grpc::ServerContext* context,
                                  const v1::PutHardwareProfileRequest* request,
                                  v1::HardwareProfile* response) override;
  grpc::Status RollbackHardwareProfile(grpc::ServerContext* context,
                                       const v1::RollbackHardwareProfileRequest* request,
                                       v1::HardwareProfile* response) override;
  grpc::Status GetHardwareProfile(grpc::ServerContext* context,
                                  const v1::GetHardwareProfileRequest* request,
                                  v1::HardwareProfile* response) override;
  grpc::Status ListHardwareProfiles(grpc::ServerContext* context,
                                    const v1::ListHardwareProfilesRequest* request,
                                    v1::ListHardwareProfilesResponse* response) override;

 private:
  absl::StatusOr<v1::HardwareProfile> Append(v1::HardwareProfile profile, std::string uploaded_by);

  store::Store* const store_;
};

}  // namespace galvatron::planner
