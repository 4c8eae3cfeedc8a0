// SqliteStore: the Store on one SQLite file (the SQL of each operation, the
// write connection, the pool of read connections). The SQLite wrappers are in
// sqlite_connection.h, the checks and migrations of a file in sqlite_schema.h.
#include "planner/store/sqlite_store.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "planner/store/sqlite_connection.h"
#include "planner/store/sqlite_schema.h"
#include "spdlog/spdlog.h"

namespace galvatron::store {
namespace {

using internal::SqliteConnection;
using internal::Statement;

// Idle read connections kept open. More are opened while many reads run at
// once; a connection that comes back to a full pool is closed.
constexpr size_t kMaxIdleReaders = 4;

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The SQL of each statement, per table. Identical text maps to the same
// cached statement of a connection.
constexpr char kRowColumns[] = "key, version, id, tag, created_us, payload";

std::string SelectLatestSql(Table table) {
  return absl::StrCat("SELECT ", kRowColumns, " FROM ", TableName(table),
                      " WHERE key = ?1 ORDER BY version DESC LIMIT 1");
}
std::string SelectVersionSql(Table table) {
  return absl::StrCat("SELECT ", kRowColumns, " FROM ", TableName(table),
                      " WHERE key = ?1 AND version = ?2");
}
std::string SelectByIdSql(Table table) {
  return absl::StrCat("SELECT ", kRowColumns, " FROM ", TableName(table), " WHERE id = ?1");
}
std::string MaxVersionSql(Table table) {
  return absl::StrCat("SELECT coalesce(max(version), 0) FROM ", TableName(table),
                      " WHERE key = ?1");
}
std::string InsertSql(Table table) {
  return absl::StrCat("INSERT INTO ", TableName(table), " (", kRowColumns,
                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
}
std::string DeleteSql(Table table) {
  return absl::StrCat("DELETE FROM ", TableName(table), " WHERE key = ?1");
}
// Parameters: ?1 after_key, ?2 after_version, ?3 key, ?4 tag, ?5 limit.
// latest_only keeps the rows that are the newest of their key before the tag
// filter applies (store.h).
std::string ListSql(Table table, const ListOptions& options) {
  std::string sql = absl::StrCat("SELECT ", kRowColumns, " FROM ", TableName(table),
                                 " AS r WHERE (key, version) > (?1, ?2)");
  if (options.key.has_value()) absl::StrAppend(&sql, " AND key = ?3");
  if (options.tag.has_value()) absl::StrAppend(&sql, " AND tag = ?4");
  if (options.latest_only) {
    absl::StrAppend(&sql, " AND version = (SELECT max(version) FROM ", TableName(table),
                    " WHERE key = r.key)");
  }
  absl::StrAppend(&sql, " ORDER BY key, version LIMIT ?5");
  return sql;
}

// DATA_LOSS and INTERNAL mean a damaged file or a bug, never a bad request:
// they are logged here, where the file's path is known.
bool IsSevere(const absl::Status& status) {
  return status.code() == absl::StatusCode::kDataLoss ||
         status.code() == absl::StatusCode::kInternal;
}

template <typename T>
T Logged(T result, const std::string& path, absl::string_view operation) {
  const absl::Status& status = result.status();
  if (IsSevere(status)) {
    spdlog::error("store {}: {}: {}", path, std::string(operation), status.ToString());
  }
  return result;
}

template <typename T>
T Logged(T result, const std::string& path, Table table, absl::string_view operation) {
  if (IsSevere(result.status())) {
    return Logged(std::move(result), path, absl::StrCat(TableName(table), " ", operation));
  }
  return result;
}

absl::Status CheckVersion(Table table, int64_t version) {
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(TableName(table), ": version must be >= 0 (0 = latest), got ", version));
  }
  return absl::OkStatus();
}

}  // namespace

class SqliteStore::ReaderLease {
 public:
  ReaderLease(SqliteStore* store, std::unique_ptr<Connection> connection)
      : store_(store), connection_(std::move(connection)) {}
  ReaderLease(ReaderLease&& other) noexcept
      : store_(other.store_), connection_(std::move(other.connection_)) {}
  ReaderLease& operator=(ReaderLease&&) = delete;
  ~ReaderLease() {
    if (connection_ != nullptr) store_->ReleaseReader(std::move(connection_));
  }

  Connection& operator*() const { return *connection_; }

 private:
  SqliteStore* const store_;
  std::unique_ptr<Connection> connection_;
};

int SqliteStore::LatestSchemaVersion() { return store::LatestSchemaVersion(); }

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::OpenUnlogged(
    const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("SqliteStoreOptions.path is empty");
  }
  if (options.busy_timeout_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SqliteStoreOptions.busy_timeout_ms must be >= 0, got ", options.busy_timeout_ms));
  }
  if (sqlite3_threadsafe() == 0) {
    return absl::FailedPreconditionError("the SQLite library was built with SQLITE_THREADSAFE=0");
  }
  RETURN_IF_ERROR(internal::CheckSqliteHeader(options.path, options.init_empty_file));
  // Before SQLite reads the log (and drops what follows a bad frame).
  ASSIGN_OR_RETURN(const WalReport wal, CheckWalFile(options.path));
  RETURN_IF_ERROR(RefuseWalThatLosesCommits(options.path, wal));
  if (wal.dropped_frames > 0) {
    spdlog::warn("store {}: {}", options.path, wal.Summary());
  }
  if (std::filesystem::exists(options.path)) {
    ASSIGN_OR_RETURN(std::vector<std::string> problems,
                     RunIntegrityCheck(options.path, options.integrity_check));
    RETURN_IF_ERROR(DamagedFileError(options.path, options.integrity_check, problems));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                   Connection::Open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                    options.busy_timeout_ms));
  RETURN_IF_ERROR(internal::CheckAndMigrate(*writer));
  RETURN_IF_ERROR(internal::EnableWal(*writer));

  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(options, std::move(writer)));
  // Open a read connection now, so that a problem shows at Open rather than
  // at the first read.
  { ASSIGN_OR_RETURN(ReaderLease reader, store->AcquireReader()); }
  return store;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  return Logged(OpenUnlogged(options), options.path, "open");
}

absl::StatusOr<Row> SqliteStore::Append(Table table, const NewRow& row) {
  return Logged(AppendUnlogged(table, row), path(), table, "append");
}

absl::StatusOr<std::pair<Row, bool>> SqliteStore::InsertIfAbsent(Table table, const NewRow& row) {
  return Logged(InsertIfAbsentUnlogged(table, row), path(), table, "insert");
}

absl::StatusOr<std::optional<Row>> SqliteStore::Get(Table table, const std::string& key,
                                                    int64_t version) {
  return Logged(GetUnlogged(table, key, version), path(), table, "get");
}

absl::StatusOr<std::optional<Row>> SqliteStore::GetById(Table table, const std::string& id) {
  return Logged(GetByIdUnlogged(table, id), path(), table, "get by id");
}

absl::StatusOr<std::vector<Row>> SqliteStore::List(Table table, const ListOptions& options) {
  return Logged(ListUnlogged(table, options), path(), table, "list");
}

absl::StatusOr<int64_t> SqliteStore::Delete(Table table, const std::string& key) {
  return Logged(DeleteUnlogged(table, key), path(), table, "delete");
}

SqliteStore::SqliteStore(SqliteStoreOptions options, std::unique_ptr<Connection> writer)
    : options_(std::move(options)), writer_(std::move(writer)) {}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&pool_mu_);
    idle_readers_.clear();
  }
  absl::MutexLock lock(&write_mu_);
  // The last connection to close checkpoints the WAL into the file.
  writer_.reset();
}

absl::StatusOr<SqliteStore::ReaderLease> SqliteStore::AcquireReader() {
  {
    absl::MutexLock lock(&pool_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(reader));
    }
  }
  // No SQLITE_OPEN_CREATE: the file exists since Open.
  ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> reader,
      Connection::Open(options_.path, SQLITE_OPEN_READWRITE, options_.busy_timeout_ms));
  RETURN_IF_ERROR(reader->Exec("PRAGMA query_only = ON", "query_only"));
  return ReaderLease(this, std::move(reader));
}

void SqliteStore::ReleaseReader(std::unique_ptr<Connection> reader) {
  {
    absl::MutexLock lock(&pool_mu_);
    if (idle_readers_.size() < kMaxIdleReaders) {
      idle_readers_.push_back(std::move(reader));
      return;
    }
  }
  reader.reset();  // closed outside the lock
}

absl::Status SqliteStore::InWriteTransaction(Table table,
                                             const std::function<absl::Status(Connection&)>& body) {
  Connection& connection = *writer_;
  const std::string context = absl::StrCat(TableName(table), " transaction");
  {
    ASSIGN_OR_RETURN(Statement begin, Statement::Prepare(connection, "BEGIN IMMEDIATE", context));
    RETURN_IF_ERROR(begin.Run());
  }
  absl::Status status = body(connection);
  if (status.ok()) {
    absl::StatusOr<Statement> commit = Statement::Prepare(connection, "COMMIT", context);
    status = commit.ok() ? commit->Run() : commit.status();
  }  // the COMMIT statement is reset here, before any ROLLBACK
  if (!status.ok()) connection.RollBackIfOpen();
  return status;
}

namespace {

// Inserts `version` of new_row; fills *row with what was stored.
absl::Status InsertRow(SqliteConnection& connection, Table table, const NewRow& new_row,
                       int64_t version, Row* row) {
  row->key = new_row.key;
  row->version = version;
  row->id = new_row.id_prefix + std::to_string(version);
  row->tag = new_row.tag;
  row->created_unix_micros = NowUnixMicros();
  row->payload = new_row.payload;
  ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(connection, InsertSql(table),
                         absl::StrCat(TableName(table), ": inserting \"", row->id, "\"")));
  insert.BindText(1, row->key)
      .BindInt64(2, row->version)
      .BindText(3, row->id)
      .BindText(4, row->tag)
      .BindInt64(5, row->created_unix_micros)
      .BindBlob(6, row->payload);
  absl::Status status = insert.Run();
  if (absl::IsAlreadyExists(status)) {
    // (key, version) cannot collide inside the transaction: the id did.
    return absl::AlreadyExistsError(
        absl::StrCat(TableName(table), ": id \"", row->id, "\" is already used by another row"));
  }
  return status;
}

}  // namespace

absl::StatusOr<Row> SqliteStore::AppendUnlogged(Table table, const NewRow& new_row) {
  RETURN_IF_ERROR(ValidateNewRow(table, new_row));
  Row row;
  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(InWriteTransaction(table, [&](Connection& connection) {
    ASSIGN_OR_RETURN(Statement max_version,
                     Statement::Prepare(connection, MaxVersionSql(table),
                                        absl::StrCat(TableName(table), ": newest version of \"",
                                                     new_row.key, "\"")));
    max_version.BindText(1, new_row.key);
    ASSIGN_OR_RETURN(int64_t latest, max_version.QueryInt64());
    return InsertRow(connection, table, new_row, latest + 1, &row);
  }));
  return row;
}

absl::StatusOr<std::pair<Row, bool>> SqliteStore::InsertIfAbsentUnlogged(Table table,
                                                                         const NewRow& new_row) {
  RETURN_IF_ERROR(ValidateNewRow(table, new_row));
  std::optional<Row> existing;
  Row inserted;
  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(InWriteTransaction(table, [&](Connection& connection) {
    ASSIGN_OR_RETURN(
        Statement latest,
        Statement::Prepare(connection, SelectLatestSql(table),
                           absl::StrCat(TableName(table), ": reading \"", new_row.key, "\"")));
    latest.BindText(1, new_row.key);
    ASSIGN_OR_RETURN(existing, latest.QueryRow());
    if (existing.has_value()) return absl::OkStatus();
    return InsertRow(connection, table, new_row, 1, &inserted);
  }));
  if (existing.has_value()) return std::make_pair(std::move(*existing), false);
  return std::make_pair(std::move(inserted), true);
}

absl::StatusOr<std::optional<Row>> SqliteStore::GetUnlogged(Table table, const std::string& key,
                                                            int64_t version) {
  RETURN_IF_ERROR(ValidateTable(table));
  RETURN_IF_ERROR(CheckVersion(table, version));
  ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  ASSIGN_OR_RETURN(
      Statement get,
      Statement::Prepare(
          *reader, version == 0 ? SelectLatestSql(table) : SelectVersionSql(table),
          absl::StrCat(TableName(table), ": reading \"", key, "\" version ", version)));
  get.BindText(1, key);
  if (version != 0) get.BindInt64(2, version);
  return get.QueryRow();
}

absl::StatusOr<std::optional<Row>> SqliteStore::GetByIdUnlogged(Table table,
                                                                const std::string& id) {
  RETURN_IF_ERROR(ValidateTable(table));
  ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  ASSIGN_OR_RETURN(Statement get,
                   Statement::Prepare(*reader, SelectByIdSql(table),
                                      absl::StrCat(TableName(table), ": reading id \"", id, "\"")));
  get.BindText(1, id);
  return get.QueryRow();
}

absl::StatusOr<std::vector<Row>> SqliteStore::ListUnlogged(Table table,
                                                           const ListOptions& options) {
  RETURN_IF_ERROR(ValidateListOptions(table, options));
  ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  ASSIGN_OR_RETURN(Statement list, Statement::Prepare(*reader, ListSql(table, options),
                                                      absl::StrCat(TableName(table), ": list")));
  list.BindText(1, options.after_key).BindInt64(2, options.after_version);
  if (options.key.has_value()) list.BindText(3, *options.key);
  if (options.tag.has_value()) list.BindText(4, *options.tag);
  list.BindInt64(5, options.limit);
  std::vector<Row> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool has_row, list.Step());
    if (!has_row) break;
    rows.push_back(list.ReadRow());
  }
  return rows;
}

absl::StatusOr<int64_t> SqliteStore::DeleteUnlogged(Table table, const std::string& key) {
  RETURN_IF_ERROR(ValidateTable(table));
  int64_t deleted = 0;
  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(InWriteTransaction(table, [&](Connection& connection) {
    ASSIGN_OR_RETURN(
        Statement remove,
        Statement::Prepare(connection, DeleteSql(table),
                           absl::StrCat(TableName(table), ": deleting \"", key, "\"")));
    remove.BindText(1, key);
    RETURN_IF_ERROR(remove.Run());
    deleted = sqlite3_changes(connection.db());
    return absl::OkStatus();
  }));
  return deleted;
}

}  // namespace galvatron::store
