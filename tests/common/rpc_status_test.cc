// ToGrpcStatus: INVALID_ARGUMENT carries a google.rpc.Status with a
// BadRequest naming the field in proto and JSON names; other codes and
// messages without a field path stay text only.
#include <catch2/catch.hpp>

#include "common/field_checks.h"
#include "common/rpc_status.h"
#include "google/rpc/status.pb.h"

namespace galvatron {
namespace {

google::rpc::BadRequest DetailsOf(const grpc::Status& status) {
  google::rpc::Status details;
  REQUIRE(details.ParseFromString(status.error_details()));
  CHECK(details.code() == status.error_code());
  CHECK(details.message() == status.error_message());
  REQUIRE(details.details_size() == 1);
  CHECK(details.details(0).type_url() == "type.googleapis.com/google.rpc.BadRequest");
  google::rpc::BadRequest bad_request;
  REQUIRE(details.details(0).UnpackTo(&bad_request));
  return bad_request;
}

}  // namespace

TEST_CASE("JsonFieldPath names each identifier in lowerCamelCase and keeps subscripts") {
  CHECK(JsonFieldPath("page_size") == "pageSize");
  CHECK(JsonFieldPath("layers[0].heads") == "layers[0].heads");
  CHECK(JsonFieldPath("optimizer.warmup_steps") == "optimizer.warmupSteps");
  CHECK(JsonFieldPath("layers[10].ffn_hidden_size") == "layers[10].ffnHiddenSize");
  CHECK(JsonFieldPath("tags[\"a_b\"].max_value") == "tags[\"a_b\"].maxValue");
}

TEST_CASE("INVALID_ARGUMENT with a field path carries a BadRequest") {
  const grpc::Status status =
      ToGrpcStatus(field_checks::Invalid("optimizer.warmup_steps", "-1", "must be >= 0"));
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "optimizer.warmup_steps: -1, must be >= 0");
  const google::rpc::BadRequest bad_request = DetailsOf(status);
  REQUIRE(bad_request.field_violations_size() == 2);
  CHECK(bad_request.field_violations(0).field() == "optimizer.warmup_steps");
  CHECK(bad_request.field_violations(1).field() == "optimizer.warmupSteps");
  for (const auto& violation : bad_request.field_violations()) {
    CHECK(violation.description() == "-1, must be >= 0");
  }
}

TEST_CASE("A path that reads the same in JSON is sent once") {
  const google::rpc::BadRequest bad_request =
      DetailsOf(ToGrpcStatus(field_checks::Invalid("layers[0].heads", "0", "must be >= 1")));
  REQUIRE(bad_request.field_violations_size() == 1);
  CHECK(bad_request.field_violations(0).field() == "layers[0].heads");
  CHECK(bad_request.field_violations(0).description() == "0, must be >= 1");
}

TEST_CASE("Other codes and messages without a field path have no details") {
  CHECK(ToGrpcStatus(absl::FailedPreconditionError("name: in use")).error_details().empty());
  CHECK(ToGrpcStatus(absl::NotFoundError("model \"x\" not found")).error_details().empty());
  CHECK(ToGrpcStatus(absl::InvalidArgumentError("--tls-cert and --tls-key: one given"))
            .error_details()
            .empty());
  CHECK(ToGrpcStatus(absl::InvalidArgumentError("no colon here")).error_details().empty());
  CHECK(ToGrpcStatus(absl::InvalidArgumentError("a..b: x")).error_details().empty());
  CHECK(ToGrpcStatus(absl::InvalidArgumentError("a[]: x")).error_details().empty());
  CHECK(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace galvatron
