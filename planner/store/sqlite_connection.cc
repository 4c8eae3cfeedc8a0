#include "planner/store/sqlite_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace galvatron::store::internal {
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

}  // namespace

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

// ---- SqliteConnection ----

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                         int flags,
                                                                         int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteError(db, rc, absl::StrCat("cannot open store ", path));
    sqlite3_close_v2(db);  // harmless on nullptr
    return status;
  }
  auto connection = std::unique_ptr<SqliteConnection>(new SqliteConnection(db, path));
  sqlite3_extended_result_codes(db, 1);
  rc = sqlite3_busy_timeout(db, busy_timeout_ms);
  if (rc != SQLITE_OK) return connection->Error(rc, "setting busy timeout");
  return connection;
}

SqliteConnection::SqliteConnection(sqlite3* db, std::string path)
    : db_(db), path_(std::move(path)) {}

SqliteConnection::~SqliteConnection() {
  for (auto& entry : statements_) sqlite3_finalize(entry.second);
  sqlite3_close_v2(db_);
}

absl::Status SqliteConnection::Error(int rc, absl::string_view context) const {
  return SqliteError(db_, rc, absl::StrCat(path_, ": ", context));
}

absl::StatusOr<sqlite3_stmt*> SqliteConnection::Prepare(const std::string& sql) {
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

absl::Status SqliteConnection::Exec(const std::string& sql, absl::string_view context) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, context);
  return absl::OkStatus();
}

void SqliteConnection::RollBackIfOpen() {
  if (sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

// ---- Statement ----

absl::StatusOr<Statement> Statement::Prepare(SqliteConnection& connection, const std::string& sql,
                                             std::string context) {
  ASSIGN_OR_RETURN(sqlite3_stmt * stmt, connection.Prepare(sql));
  return Statement(connection, stmt, std::move(context));
}

Statement::Statement(SqliteConnection& connection, sqlite3_stmt* stmt, std::string context)
    : connection_(connection), stmt_(stmt), context_(std::move(context)) {}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      stmt_(other.stmt_),
      context_(std::move(other.context_)),
      bind_rc_(other.bind_rc_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::BindText(int index, const std::string& value) {
  Check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

Statement& Statement::BindBlob(int index, const std::string& value) {
  Check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_STATIC));
  return *this;
}

Statement& Statement::BindInt64(int index, int64_t value) {
  Check(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return connection_.Error(bind_rc_, context_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return connection_.Error(rc, context_);
}

absl::StatusOr<int64_t> Statement::QueryInt64() {
  ASSIGN_OR_RETURN(bool has_row, Step());
  if (!has_row) {
    return absl::InternalError(
        absl::StrCat(connection_.path(), ": ", context_, ": no row returned"));
  }
  return sqlite3_column_int64(stmt_, 0);
}

absl::StatusOr<std::optional<Row>> Statement::QueryRow() {
  ASSIGN_OR_RETURN(bool has_row, Step());
  if (!has_row) return std::nullopt;
  return ReadRow();
}

Row Statement::ReadRow() const {
  Row row;
  row.key = ColumnString(0);
  row.version = sqlite3_column_int64(stmt_, 1);
  row.id = ColumnString(2);
  row.tag = ColumnString(3);
  row.created_unix_micros = sqlite3_column_int64(stmt_, 4);
  row.payload = ColumnString(5);
  return row;
}

std::string Statement::ColumnString(int column) const {
  // column_blob returns TEXT bytes unconverted too; call it before
  // column_bytes, as the SQLite docs advise.
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), size);
}

}  // namespace galvatron::store::internal
