// Shared plumbing of the resource managers: protobuf rows in and out of the
// store, list paging and stable ids. Thread-safe: pure functions (ListPage
// calls the thread-safe Store).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "galvatron/v1/task.pb.h"
#include "google/protobuf/message_lite.h"
#include "planner/store/store.h"

namespace galvatron::planner {

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
// Every List* page also stops before the serialized size of its items would
// pass this bound, with a next_page_token, so that a page fits the 4 MiB a
// gRPC client accepts by default with room to spare for the response's other
// fields. One item bigger than the bound still comes, alone on its page
// (docs/api.md).
inline constexpr size_t kMaxPageBytes = 3 * 1024 * 1024;

// The bytes `item` adds to a list response's repeated field: its serialized
// size, the field's tag and the length prefix.
size_t PageItemBytes(const google::protobuf::MessageLite& item);

// Counts the bytes of a page as items join it. Not thread-safe: one per
// call.
class PageBytes {
 public:
  // False when `item` would take a page that holds something past
  // kMaxPageBytes; otherwise counts it and returns true.
  bool Add(const google::protobuf::MessageLite& item);

 private:
  size_t bytes_ = 0;
  bool empty_ = true;
};

// 0 → the default; otherwise 1..kMaxPageSize.
absl::StatusOr<int> ResolvePageSize(int32_t requested);

// Opaque paging position (key, version); "" for the first page.
std::string EncodePageToken(const std::string& key, int64_t version);
absl::Status DecodePageToken(const std::string& token, std::string* key, int64_t* version);

google::protobuf::Timestamp MicrosToTimestamp(int64_t unix_micros);

// Copies the row's output-only fields (version, id, created time) into the
// message read from it.
void FillRowFields(const store::Row& row, v1::ModelSpec* message);
void FillRowFields(const store::Row& row, v1::HardwareProfile* message);
void FillRowFields(const store::Row& row, v1::ComputeProfile* message);
void FillRowFields(const store::Row& row, v1::Plan* message);
void FillRowFields(const store::Row& row, v1::Calibration* message);
// registered_at = when this description of the node was first stored.
void FillRowFields(const store::Row& row, v1::Node* message);
// Tasks carry their own times; nothing to fill.
inline void FillRowFields(const store::Row&, v1::Task*) {}
// Jobs and their step metrics carry their own times too.
inline void FillRowFields(const store::Row&, v1::Job*) {}
inline void FillRowFields(const store::Row&, v1::StepMetrics*) {}

// The message stored in `row`, with its output-only fields filled in.
// DATA_LOSS if the payload does not parse.
template <typename Message>
absl::StatusOr<Message> DecodeRow(store::Table table, const store::Row& row) {
  Message message;
  if (!message.ParseFromString(row.payload)) {
    return absl::DataLossError(absl::StrCat("stored ", store::TableName(table), " row '", row.id,
                                            "' is corrupt: cannot parse ",
                                            Message::descriptor()->name()));
  }
  FillRowFields(row, &message);
  return message;
}

// One page of a list: rows of `table` that pass `options` (key/tag filters,
// latest_only) and `keep`, in key order, starting after `page_token`, at
// most `page_size` of them and at most kMaxPageBytes of them (PageBytes).
// Sets `next_page_token` to "" when nothing more passes.
template <typename Message, typename Keep>
absl::StatusOr<std::vector<Message>> ListPage(store::Store* store, store::Table table,
                                              store::ListOptions options,
                                              const std::string& page_token, int32_t page_size,
                                              Keep keep, std::string* next_page_token) {
  ASSIGN_OR_RETURN(int size, ResolvePageSize(page_size));
  RETURN_IF_ERROR(DecodePageToken(page_token, &options.after_key, &options.after_version));
  next_page_token->clear();
  std::vector<Message> out;
  PageBytes bytes;
  std::string last_key;
  int64_t last_version = 0;
  options.limit = size + 1;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::Row> rows, store->List(table, options));
    for (const store::Row& row : rows) {
      options.after_key = row.key;
      options.after_version = row.version;
      ASSIGN_OR_RETURN(Message message, DecodeRow<Message>(table, row));
      if (!keep(message)) continue;
      if (static_cast<int>(out.size()) == size || !bytes.Add(message)) {
        // One more item passes: the page is full and another follows.
        *next_page_token = EncodePageToken(last_key, last_version);
        return out;
      }
      out.push_back(std::move(message));
      last_key = row.key;
      last_version = row.version;
    }
    if (static_cast<int>(rows.size()) < options.limit) return out;
  }
}

}  // namespace galvatron::planner
