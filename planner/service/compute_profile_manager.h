// ComputeProfileManager owns the compute_profiles table: per layer type and
// cluster, how long the layer takes and how much memory it needs. Every
// version is kept; lookups return the latest.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/service/access.h"
#include "planner/service/model_manager.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// Thread-safe: no state of its own beyond the thread-safe store and the
// thread-safe ModelManager (read to resolve a model's layer types).
class ComputeProfileManager final : public v1::ComputeProfileService::Service,
                                    public GuardedService {
 public:
  ComputeProfileManager(store::Store* store, ModelManager* models)
      : store_(store), models_(models) {}

  // Validates and stores a new version, uploaded by `uploaded_by` (a
  // token's NAME; empty without tokens).
  absl::StatusOr<v1::ComputeProfile> Put(v1::ComputeProfile profile, std::string uploaded_by = "");
  // Stores the profile of (cluster, layer type) at `version` again as its
  // latest version.
  absl::StatusOr<v1::ComputeProfile> Rollback(const std::string& cluster,
                                              const std::string& layer_type, int64_t version,
                                              std::string by);
  absl::StatusOr<v1::ComputeProfile> Get(const v1::GetComputeProfileRequest& request);
  absl::StatusOr<v1::ListComputeProfilesResponse> List(
      const v1::ListComputeProfilesRequest& request);

  grpc::Status PutComputeProfile(grpc::ServerContext* context,
                                 const v1::PutComputeProfileRequest* request,
                                 v1::ComputeProfile* response) override;
  grpc::Status RollbackComputeProfile(grpc::ServerContext* context,
                                      const v1::RollbackComputeProfileRequest* request,
                                      v1::ComputeProfile* response) override;
  grpc::Status GetComputeProfile(grpc::ServerContext* context,
                                 const v1::GetComputeProfileRequest* request,
                                 v1::ComputeProfile* response) override;
  grpc::Status ListComputeProfiles(grpc::ServerContext* context,
                                   const v1::ListComputeProfilesRequest* request,
                                   v1::ListComputeProfilesResponse* response) override;

 private:
  absl::StatusOr<v1::ComputeProfile> Append(v1::ComputeProfile profile, std::string uploaded_by);

  store::Store* const store_;
  ModelManager* const models_;
};

// The store key of a profile: "<cluster>/<layer type>" (cluster names hold no '/').
std::string ComputeProfileKey(const std::string& cluster, const std::string& layer_type);

}  // namespace galvatron::planner
