// The one mapping between absl::Status and grpc::Status. Both use the same
// canonical code numbers, so the code and the message cross unchanged.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"

namespace galvatron {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Ends a gRPC handler: the value into *response, or the error.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

// Ends a handler body that returns absl::Status (planner/service/access.h):
// the value into *response, or the error.
template <typename T>
absl::Status Fill(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return result.status();
  *response = std::move(*result);
  return absl::OkStatus();
}

// Name of a code as a user reads it: "INVALID_ARGUMENT", "NOT_FOUND", ...
const char* StatusCodeName(absl::StatusCode code);

}  // namespace galvatron
