// ComputeProfileManager owns the compute_profiles table: per layer type and
// cluster, how long the layer takes and how much memory it needs. Every
// version is kept; lookups return the latest.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/service/model_manager.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// Thread-safe: no state of its own beyond the thread-safe store and the
// thread-safe ModelManager (read to resolve a model's layer types).
class ComputeProfileManager final : public v1::ComputeProfileService::Service {
 public:
  ComputeProfileManager(store::Store* store, ModelManager* models)
      : store_(store), models_(models) {}

  absl::StatusOr<v1::ComputeProfile> Put(v1::ComputeProfile profile);
  absl::StatusOr<v1::ComputeProfile> Get(const v1::GetComputeProfileRequest& request);
  absl::StatusOr<v1::ListComputeProfilesResponse> List(
      const v1::ListComputeProfilesRequest& request);

  grpc::Status PutComputeProfile(grpc::ServerContext* context,
                                 const v1::PutComputeProfileRequest* request,
                                 v1::ComputeProfile* response) override;
  grpc::Status GetComputeProfile(grpc::ServerContext* context,
                                 const v1::GetComputeProfileRequest* request,
                                 v1::ComputeProfile* response) override;
  grpc::Status ListComputeProfiles(grpc::ServerContext* context,
                                   const v1::ListComputeProfilesRequest* request,
                                   v1::ListComputeProfilesResponse* response) override;

 private:
  store::Store* const store_;
  ModelManager* const models_;
};

// The store key of a profile: "<cluster>/<layer type>" (cluster names hold no '/').
std::string ComputeProfileKey(const std::string& cluster, const std::string& layer_type);

}  // namespace galvatron::planner
