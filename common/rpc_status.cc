#include "common/rpc_status.h"

#include <string>

#include "absl/strings/ascii.h"
#include "google/rpc/status.pb.h"

namespace galvatron {

namespace {

bool IsIdentifierStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentifierChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// True for "a", "a.b_c", "a[0].b", "a[\"key\"]": dot-separated identifiers,
// each followed by any number of [...] subscripts.
bool IsFieldPath(absl::string_view path) {
  size_t i = 0;
  while (true) {
    if (i >= path.size() || !IsIdentifierStart(path[i])) return false;
    while (i < path.size() && IsIdentifierChar(path[i])) ++i;
    while (i < path.size() && path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == absl::string_view::npos || close == i + 1) return false;
      i = close + 1;
    }
    if (i == path.size()) return true;
    if (path[i] != '.') return false;
    ++i;
  }
}

}  // namespace

std::string JsonFieldPath(absl::string_view proto_path) {
  std::string out;
  out.reserve(proto_path.size());
  bool in_subscript = false;
  bool upper_next = false;
  for (char c : proto_path) {
    if (in_subscript) {
      out.push_back(c);
      in_subscript = c != ']';
      continue;
    }
    if (c == '[') {
      in_subscript = true;
      upper_next = false;
      out.push_back(c);
    } else if (c == '_') {
      upper_next = true;
    } else if (c == '.') {
      upper_next = false;
      out.push_back(c);
    } else {
      out.push_back(upper_next ? absl::ascii_toupper(c) : c);
      upper_next = false;
    }
  }
  return out;
}

std::optional<google::rpc::BadRequest> BadRequestOf(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return std::nullopt;
  const absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos) return std::nullopt;
  const absl::string_view path = message.substr(0, colon);
  if (!IsFieldPath(path)) return std::nullopt;
  const absl::string_view description = message.substr(colon + 2);
  google::rpc::BadRequest bad_request;
  auto* proto_form = bad_request.add_field_violations();
  proto_form->set_field(std::string(path));
  proto_form->set_description(std::string(description));
  std::string json_path = JsonFieldPath(path);
  if (json_path != path) {
    auto* json_form = bad_request.add_field_violations();
    json_form->set_field(std::move(json_path));
    json_form->set_description(std::string(description));
  }
  return bad_request;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  std::optional<google::rpc::BadRequest> bad_request = BadRequestOf(status);
  if (!bad_request.has_value()) return grpc::Status(code, std::move(message));
  // The trailer holds a google.rpc.Status whose code and message repeat the
  // call's, as gRPC's rich error model asks.
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(message);
  details.add_details()->PackFrom(*bad_request);
  return grpc::Status(code, std::move(message), details.SerializeAsString());
}
absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

const char* StatusCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kUnknown:
      return "UNKNOWN";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal:
      return "INTERNAL";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace galvatron
