// An in-memory Store for unit tests: the semantics of SqliteStore (the same
// contract tests run against both, tests/planner/store/store_contract_test.cc)
// without a file. Nothing survives the object.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "planner/store/store.h"

namespace galvatron::store {

// Thread-safe: every table is guarded by mu_, and each method holds it for
// its whole run, so every call is atomic.
class MemoryStore final : public Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  absl::StatusOr<Row> Append(Table table, const NewRow& row) override;
  absl::StatusOr<std::pair<Row, bool>> InsertIfAbsent(Table table, const NewRow& row) override;
  absl::StatusOr<std::optional<Row>> Get(Table table, const std::string& key,
                                         int64_t version) override;
  absl::StatusOr<std::optional<Row>> GetById(Table table, const std::string& id) override;
  absl::StatusOr<std::vector<Row>> List(Table table, const ListOptions& options) override;
  absl::StatusOr<int64_t> Delete(Table table, const std::string& key) override;

 private:
  using RowKey = std::pair<std::string, int64_t>;  // (key, version)

  struct TableRows {
    std::map<RowKey, Row> rows;           // in (key, version) order
    std::map<std::string, RowKey> by_id;  // id -> (key, version)
  };

  TableRows& Rows(Table table) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The newest row of `key`, or nullptr.
  const Row* Latest(const TableRows& rows, const std::string& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `version` of row.key.
  absl::StatusOr<Row> Insert(Table table, const NewRow& row, int64_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  // One per Table enumerator, indexed by its value.
  std::array<TableRows, static_cast<size_t>(Table::kCalibrations) + 1> tables_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::store
