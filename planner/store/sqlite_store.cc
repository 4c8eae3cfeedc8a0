#include "planner/store/sqlite_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "planner/store/migrations.h"

namespace galvatron::store {
namespace internal {
namespace {

absl::StatusCode StatusCodeFor(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::StatusCode::kAlreadyExists;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
    case SQLITE_CONSTRAINT:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
      return absl::StatusCode::kDataLoss;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_INTERRUPT:
      return absl::StatusCode::kCancelled;
    default:
      return absl::StatusCode::kInternal;
  }
}

// "<context>: <sqlite3_errmsg> (<sqlite3_errstr>)". `db` may be null; its
// message is used only when it describes `rc`.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context) {
  const std::string generic = sqlite3_errstr(rc);
  std::string detail = generic;
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    detail = sqlite3_errmsg(db);
  }
  std::string message = absl::StrCat(context, ": ", detail);
  if (detail != generic) absl::StrAppend(&message, " (", generic, ")");
  return absl::Status(StatusCodeFor(rc), message);
}

}  // namespace

// One sqlite3 handle (opened in multi-thread mode, SQLITE_OPEN_NOMUTEX) and
// its prepared statements. Not thread-safe: used by one thread at a time (the
// write connection under SqliteStore::write_mu_, a read connection by the call
// that borrowed it from the pool).
class SqliteConnection {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(
      const std::string& path, int flags, int busy_timeout_ms) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      absl::Status status =
          SqliteError(db, rc, absl::StrCat("cannot open store ", path));
      sqlite3_close_v2(db);  // harmless on nullptr
      return status;
    }
    auto connection =
        std::unique_ptr<SqliteConnection>(new SqliteConnection(db, path));
    sqlite3_extended_result_codes(db, 1);
    rc = sqlite3_busy_timeout(db, busy_timeout_ms);
    if (rc != SQLITE_OK) return connection->Error(rc, "setting busy timeout");
    return connection;
  }

  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection() {
    for (auto& entry : statements_) sqlite3_finalize(entry.second);
    sqlite3_close_v2(db_);
  }

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }

  // An error of this connection: "<path>: <context>: <sqlite message>".
  absl::Status Error(int rc, absl::string_view context) const {
    return SqliteError(db_, rc, absl::StrCat(path_, ": ", context));
  }

  // The statement for `sql`, prepared on first use and kept for the life of
  // the connection. The caller resets it after use (Statement does).
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return Error(rc, absl::StrCat("preparing \"", sql, "\""));
    }
    statements_.emplace(sql, stmt);
    return stmt;
  }

  // Runs SQL once without keeping a statement (pragmas, migrations).
  absl::Status Exec(const std::string& sql, absl::string_view context) {
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Error(rc, context);
    return absl::OkStatus();
  }

 private:
  SqliteConnection(sqlite3* db, std::string path)
      : db_(db), path_(std::move(path)) {}

  sqlite3* const db_;
  const std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace internal

namespace {

using internal::SqliteConnection;

// Idle read connections kept open. More are opened while many reads run at
// once; a connection that comes back to a full pool is closed.
constexpr size_t kMaxIdleReaders = 4;

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One use of a connection's cached statement: binds, steps, reads columns,
// and resets the statement when destroyed, so that the connection holds no
// open read once the Statement is gone.
class Statement {
 public:
  // Errors read "<path>: <context>: <sqlite message>".
  static absl::StatusOr<Statement> Prepare(SqliteConnection& connection,
                                           const std::string& sql,
                                           std::string context) {
    ASSIGN_OR_RETURN(sqlite3_stmt * stmt, connection.Prepare(sql));
    return Statement(connection, stmt, std::move(context));
  }

  Statement(Statement&& other) noexcept
      : connection_(other.connection_),
        stmt_(other.stmt_),
        context_(std::move(other.context_)),
        bind_rc_(other.bind_rc_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  // Binding fails only for a bad index or an oversized value; Step reports
  // the first failure. Values are not copied: they must outlive the Step
  // calls.
  Statement& BindText(int index, const std::string& value) {
    Check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                              SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Statement& BindBlob(int index, const std::string& value) {
    // value.data() is never null, so an empty payload is a zero-length blob
    // and not NULL.
    Check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(),
                              SQLITE_STATIC));
    return *this;
  }
  Statement& BindInt64(int index, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }

  // true: a row is ready to read; false: the statement is done.
  absl::StatusOr<bool> Step() {
    if (bind_rc_ != SQLITE_OK) return connection_.Error(bind_rc_, context_);
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return connection_.Error(rc, context_);
  }

  // Steps a statement whose rows, if any, are not needed.
  absl::Status Run() { return Step().status(); }

  // The single integer a query returns.
  absl::StatusOr<int64_t> QueryInt64() {
    ASSIGN_OR_RETURN(bool has_row, Step());
    if (!has_row) {
      return absl::InternalError(absl::StrCat(connection_.path(), ": ",
                                              context_, ": no row returned"));
    }
    return sqlite3_column_int64(stmt_, 0);
  }

  // The first row of a SELECT of kRowColumns, or nullopt.
  absl::StatusOr<std::optional<Row>> QueryRow() {
    ASSIGN_OR_RETURN(bool has_row, Step());
    if (!has_row) return std::nullopt;
    return ReadRow();
  }

  // The current row of a SELECT of kRowColumns.
  Row ReadRow() const {
    Row row;
    row.key = ColumnString(0);
    row.version = sqlite3_column_int64(stmt_, 1);
    row.id = ColumnString(2);
    row.tag = ColumnString(3);
    row.created_unix_micros = sqlite3_column_int64(stmt_, 4);
    row.payload = ColumnString(5);
    return row;
  }

  std::string ColumnString(int column) const {
    // column_blob returns TEXT bytes unconverted too; call it before
    // column_bytes, as the SQLite docs advise.
    const void* data = sqlite3_column_blob(stmt_, column);
    int size = sqlite3_column_bytes(stmt_, column);
    if (data == nullptr || size <= 0) return std::string();
    return std::string(static_cast<const char*>(data), size);
  }

 private:
  Statement(SqliteConnection& connection, sqlite3_stmt* stmt,
            std::string context)
      : connection_(connection), stmt_(stmt), context_(std::move(context)) {}

  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  SqliteConnection& connection_;
  sqlite3_stmt* stmt_;
  std::string context_;
  int bind_rc_ = SQLITE_OK;
};

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
  return absl::StrCat("SELECT ", kRowColumns, " FROM ", TableName(table),
                      " WHERE id = ?1");
}
std::string MaxVersionSql(Table table) {
  return absl::StrCat("SELECT coalesce(max(version), 0) FROM ",
                      TableName(table), " WHERE key = ?1");
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
  std::string sql =
      absl::StrCat("SELECT ", kRowColumns, " FROM ", TableName(table),
                   " AS r WHERE (key, version) > (?1, ?2)");
  if (options.key.has_value()) absl::StrAppend(&sql, " AND key = ?3");
  if (options.tag.has_value()) absl::StrAppend(&sql, " AND tag = ?4");
  if (options.latest_only) {
    absl::StrAppend(&sql, " AND version = (SELECT max(version) FROM ",
                    TableName(table), " WHERE key = r.key)");
  }
  absl::StrAppend(&sql, " ORDER BY key, version LIMIT ?5");
  return sql;
}

absl::Status CheckVersion(Table table, int64_t version) {
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(TableName(table),
                     ": version must be >= 0 (0 = latest), got ", version));
  }
  return absl::OkStatus();
}

// Inside the open transaction: refuses a file that is not ours or too new,
// applies the missing migrations, stamps application_id and user_version.
absl::Status CheckAndMigrateInTransaction(SqliteConnection& connection) {
  const std::string& path = connection.path();
  ASSIGN_OR_RETURN(Statement app_id_query,
                   Statement::Prepare(connection, "PRAGMA application_id",
                                      "reading application_id"));
  ASSIGN_OR_RETURN(const int64_t application_id, app_id_query.QueryInt64());
  ASSIGN_OR_RETURN(Statement version_query,
                   Statement::Prepare(connection, "PRAGMA user_version",
                                      "reading user_version"));
  ASSIGN_OR_RETURN(const int64_t user_version, version_query.QueryInt64());
  ASSIGN_OR_RETURN(
      Statement objects_query,
      Statement::Prepare(connection, "SELECT count(*) FROM sqlite_master",
                         "reading the schema"));
  ASSIGN_OR_RETURN(const int64_t schema_objects, objects_query.QueryInt64());
  const int latest = SqliteStore::LatestSchemaVersion();

  if (application_id != SqliteStore::kApplicationId) {
    if (application_id != 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s is not a galvatron-planner store: its application_id is 0x%08x, "
          "ours is 0x%08x",
          path, static_cast<uint32_t>(application_id),
          static_cast<uint32_t>(SqliteStore::kApplicationId)));
    }
    // No application_id: ours only if still empty (a new file).
    if (schema_objects != 0 || user_version != 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s is not a galvatron-planner store: an SQLite database of another "
          "program (no application_id; %d schema objects, user_version %d)",
          path, schema_objects, user_version));
    }
  }
  if (user_version > latest) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s was written by a newer galvatron-planner (schema %d, this build "
        "knows %d)",
        path, user_version, latest));
  }
  if (user_version < 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s has a corrupt schema version (user_version %d)",
                        path, user_version));
  }

  for (int64_t i = user_version; i < latest; ++i) {
    const Migration& migration = Migrations()[i];
    RETURN_IF_ERROR(connection.Exec(
        migration.sql, absl::StrFormat("migration to schema %d (%s)", i + 1,
                                       migration.description)));
  }
  if (application_id != SqliteStore::kApplicationId) {
    RETURN_IF_ERROR(connection.Exec(
        absl::StrCat("PRAGMA application_id = ", SqliteStore::kApplicationId),
        "stamping application_id"));
  }
  if (user_version != latest) {
    RETURN_IF_ERROR(
        connection.Exec(absl::StrCat("PRAGMA user_version = ", latest),
                        "stamping user_version"));
  }
  return absl::OkStatus();
}

// Rolls back the connection's open transaction, if any. SQLite rolls back by
// itself after some errors; then there is nothing left to do.
void RollBackIfOpen(SqliteConnection& connection) {
  if (sqlite3_get_autocommit(connection.db()) == 0) {
    sqlite3_exec(connection.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

// SQLite treats a file shorter than its header as an empty database and
// would overwrite it, so an existing non-empty file must start with the
// SQLite header before SQLite touches it.
absl::Status CheckSqliteHeader(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  // Absent: Open creates it. Unreadable: sqlite3_open_v2 reports why.
  if (!file) return absl::OkStatus();
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with the NUL
  char header[sizeof kMagic] = {};
  file.read(header, sizeof header);
  const std::streamsize size = file.gcount();
  if (size == 0) return absl::OkStatus();  // an empty file is a new store
  if (size < static_cast<std::streamsize>(sizeof kMagic) ||
      std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     " is not a galvatron-planner store (not an SQLite "
                     "database: no SQLite header)"));
  }
  return absl::OkStatus();
}

// Sets up the write connection, then checks and migrates the file in one
// transaction. BEGIN IMMEDIATE takes the write lock first, so two processes
// opening a new file do not both migrate it.
absl::Status CheckAndMigrate(SqliteConnection& connection) {
  // Connection settings (they read the file header, but write nothing).
  absl::Status status =
      connection.Exec("PRAGMA foreign_keys = ON", "setting foreign_keys");
  if (status.ok()) {
    status =
        connection.Exec("PRAGMA synchronous = FULL", "setting synchronous");
  }
  if (status.ok()) {
    status =
        connection.Exec("BEGIN IMMEDIATE", "starting the open transaction");
  }
  if (status.ok()) status = CheckAndMigrateInTransaction(connection);
  if (status.ok()) {
    status = connection.Exec("COMMIT", "committing the open transaction");
  }
  if (status.ok()) return status;
  const int rc = sqlite3_extended_errcode(connection.db());
  RollBackIfOpen(connection);
  if (rc == SQLITE_NOTADB) {
    return absl::FailedPreconditionError(absl::StrCat(
        connection.path(),
        " is not a galvatron-planner store (not an SQLite database: ",
        sqlite3_errstr(rc), ")"));
  }
  return status;
}

absl::Status EnableWal(SqliteConnection& connection) {
  // journal_mode is persistent in the file: this changes it on a new file
  // and is a no-op afterwards. It runs after the checks so that a file of
  // another program is never touched.
  ASSIGN_OR_RETURN(Statement wal,
                   Statement::Prepare(connection, "PRAGMA journal_mode = WAL",
                                      "enabling WAL"));
  ASSIGN_OR_RETURN(bool has_row, wal.Step());
  std::string mode = has_row ? wal.ColumnString(0) : "";
  if (mode != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(
        connection.path(), ": cannot use the WAL journal (journal_mode is \"",
        mode, "\"); is the file on a network file system?"));
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

int SqliteStore::LatestSchemaVersion() {
  return static_cast<int>(Migrations().size());
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("SqliteStoreOptions.path is empty");
  }
  if (options.busy_timeout_ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("SqliteStoreOptions.busy_timeout_ms must be >= 0, got ",
                     options.busy_timeout_ms));
  }
  if (sqlite3_threadsafe() == 0) {
    return absl::FailedPreconditionError(
        "the SQLite library was built with SQLITE_THREADSAFE=0");
  }
  RETURN_IF_ERROR(CheckSqliteHeader(options.path));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> writer,
      Connection::Open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                       options.busy_timeout_ms));
  RETURN_IF_ERROR(CheckAndMigrate(*writer));
  RETURN_IF_ERROR(EnableWal(*writer));

  auto store =
      std::unique_ptr<SqliteStore>(new SqliteStore(options, std::move(writer)));
  // Open a read connection now, so that a problem shows at Open rather than
  // at the first read.
  { ASSIGN_OR_RETURN(ReaderLease reader, store->AcquireReader()); }
  return store;
}

SqliteStore::SqliteStore(SqliteStoreOptions options,
                         std::unique_ptr<Connection> writer)
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
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                   Connection::Open(options_.path, SQLITE_OPEN_READWRITE,
                                    options_.busy_timeout_ms));
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

absl::Status SqliteStore::InWriteTransaction(
    Table table, const std::function<absl::Status(Connection&)>& body) {
  Connection& connection = *writer_;
  const std::string context = absl::StrCat(TableName(table), " transaction");
  {
    ASSIGN_OR_RETURN(
        Statement begin,
        Statement::Prepare(connection, "BEGIN IMMEDIATE", context));
    RETURN_IF_ERROR(begin.Run());
  }
  absl::Status status = body(connection);
  if (status.ok()) {
    absl::StatusOr<Statement> commit =
        Statement::Prepare(connection, "COMMIT", context);
    status = commit.ok() ? commit->Run() : commit.status();
  }  // the COMMIT statement is reset here, before any ROLLBACK
  if (!status.ok()) RollBackIfOpen(connection);
  return status;
}

namespace {

// Inserts `version` of new_row; fills *row with what was stored.
absl::Status InsertRow(SqliteConnection& connection, Table table,
                       const NewRow& new_row, int64_t version, Row* row) {
  row->key = new_row.key;
  row->version = version;
  row->id = new_row.id_prefix + std::to_string(version);
  row->tag = new_row.tag;
  row->created_unix_micros = NowUnixMicros();
  row->payload = new_row.payload;
  ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(
          connection, InsertSql(table),
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
        absl::StrCat(TableName(table), ": id \"", row->id,
                     "\" is already used by another row"));
  }
  return status;
}

}  // namespace

absl::StatusOr<Row> SqliteStore::Append(Table table, const NewRow& new_row) {
  RETURN_IF_ERROR(ValidateNewRow(table, new_row));
  Row row;
  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(InWriteTransaction(table, [&](Connection& connection) {
    ASSIGN_OR_RETURN(Statement max_version,
                     Statement::Prepare(connection, MaxVersionSql(table),
                                        absl::StrCat(TableName(table),
                                                     ": newest version of \"",
                                                     new_row.key, "\"")));
    max_version.BindText(1, new_row.key);
    ASSIGN_OR_RETURN(int64_t latest, max_version.QueryInt64());
    return InsertRow(connection, table, new_row, latest + 1, &row);
  }));
  return row;
}

absl::StatusOr<std::pair<Row, bool>> SqliteStore::InsertIfAbsent(
    Table table, const NewRow& new_row) {
  RETURN_IF_ERROR(ValidateNewRow(table, new_row));
  std::optional<Row> existing;
  Row inserted;
  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(InWriteTransaction(table, [&](Connection& connection) {
    ASSIGN_OR_RETURN(
        Statement latest,
        Statement::Prepare(
            connection, SelectLatestSql(table),
            absl::StrCat(TableName(table), ": reading \"", new_row.key, "\"")));
    latest.BindText(1, new_row.key);
    ASSIGN_OR_RETURN(existing, latest.QueryRow());
    if (existing.has_value()) return absl::OkStatus();
    return InsertRow(connection, table, new_row, 1, &inserted);
  }));
  if (existing.has_value()) return std::make_pair(std::move(*existing), false);
  return std::make_pair(std::move(inserted), true);
}

absl::StatusOr<std::optional<Row>> SqliteStore::Get(Table table,
                                                    const std::string& key,
                                                    int64_t version) {
  RETURN_IF_ERROR(ValidateTable(table));
  RETURN_IF_ERROR(CheckVersion(table, version));
  ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  ASSIGN_OR_RETURN(
      Statement get,
      Statement::Prepare(
          *reader,
          version == 0 ? SelectLatestSql(table) : SelectVersionSql(table),
          absl::StrCat(TableName(table), ": reading \"", key, "\" version ",
                       version)));
  get.BindText(1, key);
  if (version != 0) get.BindInt64(2, version);
  return get.QueryRow();
}

absl::StatusOr<std::optional<Row>> SqliteStore::GetById(Table table,
                                                        const std::string& id) {
  RETURN_IF_ERROR(ValidateTable(table));
  ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  ASSIGN_OR_RETURN(
      Statement get,
      Statement::Prepare(
          *reader, SelectByIdSql(table),
          absl::StrCat(TableName(table), ": reading id \"", id, "\"")));
  get.BindText(1, id);
  return get.QueryRow();
}

absl::StatusOr<std::vector<Row>> SqliteStore::List(Table table,
                                                   const ListOptions& options) {
  RETURN_IF_ERROR(ValidateListOptions(table, options));
  ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  ASSIGN_OR_RETURN(
      Statement list,
      Statement::Prepare(*reader, ListSql(table, options),
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

absl::StatusOr<int64_t> SqliteStore::Delete(Table table,
                                            const std::string& key) {
  RETURN_IF_ERROR(ValidateTable(table));
  int64_t deleted = 0;
  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(InWriteTransaction(table, [&](Connection& connection) {
    ASSIGN_OR_RETURN(
        Statement remove,
        Statement::Prepare(
            connection, DeleteSql(table),
            absl::StrCat(TableName(table), ": deleting \"", key, "\"")));
    remove.BindText(1, key);
    RETURN_IF_ERROR(remove.Run());
    deleted = sqlite3_changes(connection.db());
    return absl::OkStatus();
  }));
  return deleted;
}

}  // namespace galvatron::store
