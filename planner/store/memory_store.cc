#include "planner/store/memory_store.h"

#include <chrono>
#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace galvatron::store {
namespace {

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MemoryStore::TableRows& MemoryStore::Rows(Table table) {
  return tables_[static_cast<size_t>(table)];
}

const Row* MemoryStore::Latest(const TableRows& rows, const std::string& key) const {
  // The first row after every version of `key`, then one step back.
  auto it = rows.rows.upper_bound(RowKey(key, std::numeric_limits<int64_t>::max()));
  if (it == rows.rows.begin()) return nullptr;
  --it;
  return it->first.first == key ? &it->second : nullptr;
}

absl::StatusOr<Row> MemoryStore::Insert(Table table, const NewRow& row, int64_t version) {
  TableRows& rows = Rows(table);
  Row stored;
  stored.key = row.key;
  stored.version = version;
  stored.id = row.id_prefix + std::to_string(version);
  stored.tag = row.tag;
  stored.created_unix_micros = NowUnixMicros();
  stored.payload = row.payload;
  if (rows.by_id.count(stored.id) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(TableName(table), ": id \"", stored.id, "\" is already used by another row"));
  }
  rows.by_id.emplace(stored.id, RowKey(stored.key, stored.version));
  rows.rows.emplace(RowKey(stored.key, stored.version), stored);
  return stored;
}

absl::StatusOr<Row> MemoryStore::Append(Table table, const NewRow& row) {
  RETURN_IF_ERROR(ValidateNewRow(table, row));
  absl::MutexLock lock(&mu_);
  const Row* latest = Latest(Rows(table), row.key);
  return Insert(table, row, latest == nullptr ? 1 : latest->version + 1);
}

absl::StatusOr<std::pair<Row, bool>> MemoryStore::InsertIfAbsent(Table table, const NewRow& row) {
  RETURN_IF_ERROR(ValidateNewRow(table, row));
  absl::MutexLock lock(&mu_);
  if (const Row* latest = Latest(Rows(table), row.key); latest != nullptr) {
    return std::make_pair(*latest, false);
  }
  ASSIGN_OR_RETURN(Row stored, Insert(table, row, 1));
  return std::make_pair(std::move(stored), true);
}

absl::StatusOr<std::optional<Row>> MemoryStore::Get(Table table, const std::string& key,
                                                    int64_t version) {
  RETURN_IF_ERROR(ValidateTable(table));
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(TableName(table), ": version must be >= 0 (0 = latest), got ", version));
  }
  absl::MutexLock lock(&mu_);
  const TableRows& rows = Rows(table);
  if (version == 0) {
    const Row* latest = Latest(rows, key);
    if (latest == nullptr) return std::nullopt;
    return *latest;
  }
  auto it = rows.rows.find(RowKey(key, version));
  if (it == rows.rows.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<Row>> MemoryStore::GetById(Table table, const std::string& id) {
  RETURN_IF_ERROR(ValidateTable(table));
  absl::MutexLock lock(&mu_);
  const TableRows& rows = Rows(table);
  auto it = rows.by_id.find(id);
  if (it == rows.by_id.end()) return std::nullopt;
  return rows.rows.at(it->second);
}

absl::StatusOr<std::vector<Row>> MemoryStore::List(Table table, const ListOptions& options) {
  RETURN_IF_ERROR(ValidateListOptions(table, options));
  absl::MutexLock lock(&mu_);
  const TableRows& rows = Rows(table);
  std::vector<Row> out;
  for (auto it = rows.rows.upper_bound(RowKey(options.after_key, options.after_version));
       it != rows.rows.end() && out.size() < static_cast<size_t>(options.limit); ++it) {
    const Row& row = it->second;
    if (options.key.has_value()) {
      if (row.key < *options.key) continue;
      if (row.key > *options.key) break;
    }
    if (options.latest_only) {
      auto next = std::next(it);
      if (next != rows.rows.end() && next->first.first == row.key) continue;
    }
    if (options.tag.has_value() && row.tag != *options.tag) continue;
    out.push_back(row);
  }
  return out;
}

absl::StatusOr<int64_t> MemoryStore::Delete(Table table, const std::string& key) {
  RETURN_IF_ERROR(ValidateTable(table));
  absl::MutexLock lock(&mu_);
  TableRows& rows = Rows(table);
  auto first = rows.rows.lower_bound(RowKey(key, std::numeric_limits<int64_t>::min()));
  int64_t deleted = 0;
  while (first != rows.rows.end() && first->first.first == key) {
    rows.by_id.erase(first->second.id);
    first = rows.rows.erase(first);
    ++deleted;
  }
  return deleted;
}

}  // namespace galvatron::store
