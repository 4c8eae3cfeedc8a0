// The planner's storage interface. Resources live in tables of versioned
// rows; a row's payload is a serialised protobuf message (the services decode
// rows with DecodeRow in planner/service/resource_rows.h). Implementations: SqliteStore
// (sqlite_store.h) and MemoryStore (memory_store.h, for unit tests); both pass the same contract
// tests (tests/planner/store/store_contract_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace galvatron::store {

enum class Table {
  kModels,            // key: model name
  kHardwareProfiles,  // key: cluster
  kComputeProfiles,   // key: cluster + "/" + layer type; tag: cluster
  kPlans,             // key: plan id (content hash)
  kNodes,             // key: cluster + "/" + node name; tag: cluster
  kTasks,             // key: task id; tag: cluster; a version per state change
  kJobs,              // key: job id; tag: cluster; a version per state change
  kJobMetrics,        // key: job id + "/" + step (12 digits); tag: job id
  kCalibrations,      // key: cluster; a version per refit
};

// The SQL table name (also used in error messages).
const char* TableName(Table table);

struct Row {
  std::string key;
  int64_t version = 0;  // 1, 2, ... per key, assigned by Append
  std::string id;       // unique within the table (e.g. "hw-a100-3")
  std::string tag;      // secondary index for filtering; may be empty
  int64_t created_unix_micros = 0;
  std::string payload;  // serialised protobuf message
};

// What Append stores; the store assigns version and created time.
struct NewRow {
  std::string key;
  // Builds the row id from the version the store assigns, e.g.
  // "hw-a100-" + version. Required.
  std::string id_prefix;
  std::string tag;
  std::string payload;
};

struct ListOptions {
  std::optional<std::string> key;  // only this key
  std::optional<std::string> tag;  // only rows with this tag
  // Only the newest version of each key. Applied before the tag filter: a
  // key whose newest version has another tag yields no row.
  bool latest_only = true;
  // Paging in (key, version) order: rows strictly after this position.
  std::string after_key;
  int64_t after_version = 0;
  int limit = 100;  // 1..kMaxListLimit
};

inline constexpr int kMaxListLimit = 10000;

// The argument checks every implementation applies first, so that they all
// reject the same requests with the same INVALID_ARGUMENT message: a known
// table, a non-empty key and id_prefix, a limit in 1..kMaxListLimit.
absl::Status ValidateTable(Table table);
absl::Status ValidateNewRow(Table table, const NewRow& row);
absl::Status ValidateListOptions(Table table, const ListOptions& options);

// Thread-safe: every method may be called from any thread. Writes are
// durable when they return OK (a process crash right after loses nothing).
class Store {
 public:
  virtual ~Store() = default;

  // Adds version max(existing)+1 of row.key (1 for a new key) in one
  // transaction; row id = id_prefix + version. Returns the stored row.
  // ALREADY_EXISTS if that id belongs to another row of the table (two keys
  // whose prefixes collide), and nothing is stored.
  virtual absl::StatusOr<Row> Append(Table table, const NewRow& row) = 0;

  // Stores the row with version 1 unless the key exists; returns the stored
  // row (the newest version if the key has several) and whether it was
  // inserted now. For content-addressed resources.
  virtual absl::StatusOr<std::pair<Row, bool>> InsertIfAbsent(Table table, const NewRow& row) = 0;

  // version 0 = latest. nullopt if absent; INVALID_ARGUMENT if negative.
  virtual absl::StatusOr<std::optional<Row>> Get(Table table, const std::string& key,
                                                 int64_t version) = 0;
  virtual absl::StatusOr<std::optional<Row>> GetById(Table table, const std::string& id) = 0;

  virtual absl::StatusOr<std::vector<Row>> List(Table table, const ListOptions& options) = 0;

  // Deletes every version of `key`; returns how many rows went (0 if none).
  // A later Append of the key starts again at version 1.
  virtual absl::StatusOr<int64_t> Delete(Table table, const std::string& key) = 0;
};

}  // namespace galvatron::store
