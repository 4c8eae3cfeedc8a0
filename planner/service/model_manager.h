// ModelManager owns the models table: versions of user-submitted model specs,
// with the built-in catalog (common/model_catalog.h) visible beside them.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/service/access.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// Thread-safe: no state of its own beyond the thread-safe store; gRPC calls
// it from its thread pool.
class ModelManager final : public v1::ModelService::Service, public GuardedService {
 public:
  explicit ModelManager(store::Store* store) : store_(store) {}

  // Validates and stores a new version of spec.name() owned by `owner` (a
  // token's NAME; empty without tokens); returns it as stored.
  absl::StatusOr<v1::ModelSpec> Submit(v1::ModelSpec spec, std::string owner = "");
  // PERMISSION_DENIED unless `who` may add a version of, or delete, the
  // stored model `name`: an admin, its owner, or anyone for a new name.
  absl::Status MayChange(const Principal& who, const std::string& name);
  // A stored model (version 0 = latest) or a catalog model.
  absl::StatusOr<v1::ModelSpec> Get(const std::string& name, int64_t version);
  absl::StatusOr<v1::ListModelsResponse> List(const v1::ListModelsRequest& request);
  absl::StatusOr<int64_t> Delete(const std::string& name);

  grpc::Status SubmitModel(grpc::ServerContext* context, const v1::SubmitModelRequest* request,
                           v1::ModelSpec* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::ModelSpec* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status DeleteModel(grpc::ServerContext* context, const v1::DeleteModelRequest* request,
                           v1::DeleteModelResponse* response) override;

 private:
  store::Store* const store_;
};

}  // namespace galvatron::planner
