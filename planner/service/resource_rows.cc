#include "planner/service/resource_rows.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/stable_hash.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/time_util.h"

namespace galvatron::planner {

size_t PageItemBytes(const google::protobuf::MessageLite& item) {
  const size_t size = item.ByteSizeLong();
  // Every list response's repeated field has a number below 16: a 1-byte tag.
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;
}

bool PageBytes::Add(const google::protobuf::MessageLite& item) {
  const size_t bytes = PageItemBytes(item);
  if (!empty_ && bytes_ + bytes > kMaxPageBytes) return false;
  bytes_ += bytes;
  empty_ = false;
  return true;
}

absl::StatusOr<int> ResolvePageSize(int32_t requested) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: ", requested,
                                                   ", must be between 0 (default ",
                                                   kDefaultPageSize, ") and ", kMaxPageSize));
  }
  return requested;
}

std::string EncodePageToken(const std::string& key, int64_t version) {
  return absl::WebSafeBase64Escape(absl::StrCat(key, "\n", version));
}

absl::Status DecodePageToken(const std::string& token, std::string* key, int64_t* version) {
  key->clear();
  *version = 0;
  if (token.empty()) return absl::OkStatus();
  std::string raw;
  auto bad = [&token] {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token: \"", token, "\", must be a next_page_token returned by the previous call"));
  };
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad();
  size_t nl = raw.rfind('\n');
  if (nl == std::string::npos) return bad();
  if (!absl::SimpleAtoi(raw.substr(nl + 1), version) || *version < 0) return bad();
  *key = raw.substr(0, nl);
  return absl::OkStatus();
}

google::protobuf::Timestamp MicrosToTimestamp(int64_t unix_micros) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(unix_micros);
}

void FillRowFields(const store::Row& row, v1::ModelSpec* message) {
  message->set_version(row.version);
  *message->mutable_created_at() = MicrosToTimestamp(row.created_unix_micros);
  message->set_builtin(false);
}

void FillRowFields(const store::Row& row, v1::HardwareProfile* message) {
  message->set_id(row.id);
  message->set_version(row.version);
  *message->mutable_created_at() = MicrosToTimestamp(row.created_unix_micros);
}

void FillRowFields(const store::Row& row, v1::ComputeProfile* message) {
  message->set_id(row.id);
  message->set_version(row.version);
  *message->mutable_created_at() = MicrosToTimestamp(row.created_unix_micros);
}

void FillRowFields(const store::Row& row, v1::Calibration* message) {
  message->set_id(row.id);
  message->set_version(row.version);
  *message->mutable_created_at() = MicrosToTimestamp(row.created_unix_micros);
}

void FillRowFields(const store::Row& row, v1::Plan* message) {
  message->set_id(row.key);
  *message->mutable_created_at() = MicrosToTimestamp(row.created_unix_micros);
}

void FillRowFields(const store::Row& row, v1::Node* message) {
  *message->mutable_registered_at() = MicrosToTimestamp(row.created_unix_micros);
}

}  // namespace galvatron::planner
