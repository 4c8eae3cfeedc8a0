// Thin wrappers over the SQLite C API for SqliteStore: one database handle
// with its cached prepared statements (SqliteConnection), one use of a
// statement (Statement), and the mapping of SQLite result codes to
// absl::Status (SqliteError). Internal to planner/store: only the store's own
// sources include this header.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "planner/store/store.h"

namespace galvatron::store::internal {

// The Status for SQLite result code `rc` (an extended code):
// "<context>: <sqlite3_errmsg> (<sqlite3_errstr>)". Busy/locked ->
// UNAVAILABLE, a taken unique value -> ALREADY_EXISTS, a file that is not a
// database, unopenable or read-only -> FAILED_PRECONDITION, corrupt ->
// DATA_LOSS, full disk or memory -> RESOURCE_EXHAUSTED, interrupted ->
// CANCELLED, the rest INTERNAL. `db` may be null; its message is used only
// when it describes `rc`.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context);

// One sqlite3 handle (opened in multi-thread mode, SQLITE_OPEN_NOMUTEX) and
// its prepared statements.
//
// Thread model: not thread-safe; used by one thread at a time (SqliteStore
// keeps its write connection under its write mutex and lends each read
// connection to one call at a time).
class SqliteConnection {
 public:
  // Opens `path` with `flags` (SQLITE_OPEN_*), extended result codes on, and
  // waits up to `busy_timeout_ms` for another process's lock.
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path, int flags,
                                                                int busy_timeout_ms);

  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection();

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }

  // An error of this connection: "<path>: <context>: <sqlite message>".
  absl::Status Error(int rc, absl::string_view context) const;

  // The statement for `sql`, prepared on first use and kept for the life of
  // the connection. The caller resets it after use (Statement does).
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql);

  // Runs SQL once without keeping a statement (pragmas, migrations).
  absl::Status Exec(const std::string& sql, absl::string_view context);

  // Rolls back the open transaction, if any. SQLite rolls back by itself
  // after some errors; then there is nothing left to do.
  void RollBackIfOpen();

 private:
  SqliteConnection(sqlite3* db, std::string path);

  sqlite3* const db_;
  const std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// One use of a connection's cached statement: binds, steps, reads columns,
// and resets the statement when destroyed, so that the connection holds no
// open read once the Statement is gone.
//
// Thread model: not thread-safe, like its connection.
class Statement {
 public:
  // Errors read "<path>: <context>: <sqlite message>".
  static absl::StatusOr<Statement> Prepare(SqliteConnection& connection, const std::string& sql,
                                           std::string context);

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Binding fails only for a bad index or an oversized value; Step reports
  // the first failure. Values are not copied: they must outlive the Step
  // calls.
  Statement& BindText(int index, const std::string& value);
  // value.data() is never null, so an empty payload is a zero-length blob
  // and not NULL.
  Statement& BindBlob(int index, const std::string& value);
  Statement& BindInt64(int index, int64_t value);

  // true: a row is ready to read; false: the statement is done.
  absl::StatusOr<bool> Step();
  // Steps a statement whose rows, if any, are not needed.
  absl::Status Run() { return Step().status(); }
  // The single integer a query returns.
  absl::StatusOr<int64_t> QueryInt64();
  // The first row of a SELECT of the row columns (key, version, id, tag,
  // created_us, payload), or nullopt.
  absl::StatusOr<std::optional<Row>> QueryRow();
  // The current row of such a SELECT.
  Row ReadRow() const;
  // Column `column` of the current row as bytes ("" for NULL).
  std::string ColumnString(int column) const;

 private:
  Statement(SqliteConnection& connection, sqlite3_stmt* stmt, std::string context);

  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  SqliteConnection& connection_;
  sqlite3_stmt* stmt_;
  std::string context_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace galvatron::store::internal
