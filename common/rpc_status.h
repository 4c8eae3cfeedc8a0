// The one mapping between absl::Status and grpc::Status. Both use the same
// canonical code numbers, so the code and the message cross unchanged.
// INVALID_ARGUMENT also carries its field in machine-readable form: a
// serialized google.rpc.Status holding one google.rpc.BadRequest, which gRPC
// sends in the `grpc-status-details-bin` trailer (docs/api.md).
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/support/status.h"

namespace galvatron {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// The BadRequest of an INVALID_ARGUMENT message of the form
// "<field path>: <description>" (common/field_checks.h): one violation with
// the path in proto field names and, when it reads differently, one with
// the same path in JSON names. nullopt for any other code or form.
std::optional<google::rpc::BadRequest> BadRequestOf(const absl::Status& status);

// "optimizer.warmup_steps" -> "optimizer.warmupSteps": every identifier of a
// field path in lowerCamelCase, as protobuf's JSON mapping names fields;
// list indexes ([0]) and map keys (["a_b"]) stay as they are.
std::string JsonFieldPath(absl::string_view proto_path);

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
