// The planner's Store on one SQLite file. Files: sqlite_store.cc (this
// class), sqlite_connection.h (the SQLite C API wrapped: handles, prepared
// statements, result codes as absl::Status), sqlite_schema.h (what Open checks
// and migrates) with migrations.h (the schema, one migration at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "planner/store/migrations.h"
#include "planner/store/sqlite_integrity.h"
#include "planner/store/store.h"

namespace galvatron::store {
namespace internal {
class SqliteConnection;  // one sqlite3 handle and its prepared statements
}  // namespace internal

struct SqliteStoreOptions {
  // The database file, created if absent. Its -wal and -shm files live beside
  // it, so the directory must be writable.
  std::string path;
  // An existing empty (0-byte) file is refused unless this is set (--init).
  bool init_empty_file = false;
  // The check Open runs before it serves the file (sqlite_integrity.h).
  IntegrityCheck integrity_check = IntegrityCheck::kQuick;
  // How long a statement waits for a lock that another process holds before
  // it fails with UNAVAILABLE.
  int busy_timeout_ms = 5000;
};

// Store on an SQLite file.
//
// File: PRAGMA application_id = kApplicationId marks the file as ours, and
// PRAGMA user_version is the number of migrations applied (sqlite_schema.h).
// Open creates or migrates the schema and stamps both in one transaction, and
// refuses with FAILED_PRECONDITION a file that is not SQLite, an empty file
// (unless init_empty_file), an SQLite file of another program, or one written
// by a newer build. Before it touches the file it refuses with DATA_LOSS, and
// advice on recovery, a -wal file whose damage would drop committed
// transactions and a file that fails options.integrity_check.
//
// Durability: WAL journal with synchronous=FULL, so a write that returned OK
// is in the fsynced log and survives a crash of the process or the machine.
//
// Errors: every SQLite failure becomes a Status carrying sqlite3_errmsg /
// sqlite3_errstr text (busy/locked -> UNAVAILABLE, a taken row id ->
// ALREADY_EXISTS, corrupt file -> DATA_LOSS, full disk -> RESOURCE_EXHAUSTED,
// the rest INTERNAL); nothing aborts the process. Every DATA_LOSS and INTERNAL
// error is also logged at error level where it happens, so that a damaged file
// shows in the planner's log even when a caller only passes the Status on.
//
// Thread model: thread-safe. Writes share one write connection guarded by
// write_mu_ and each runs in its own BEGIN IMMEDIATE ... COMMIT, so writers
// are serialised (which also makes Append's max(version) + 1 race-free).
// Reads never take write_mu_: each read borrows a read-only connection from a
// pool guarded by pool_mu_ (opening another when all are lent out), and in WAL
// mode it sees the last committed state without waiting for a writer's open
// transaction. A connection is used by one thread at a time and keeps its
// prepared statements for its lifetime.
class SqliteStore final : public Store {
 public:
  // PRAGMA application_id of our files: "GALV".
  static constexpr int32_t kApplicationId = store::kApplicationId;

  // The schema version this build writes: the number of migrations.
  static int LatestSchemaVersion();

  // Opens (creating if absent) and migrates the file at options.path.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  absl::StatusOr<Row> Append(Table table, const NewRow& row) override;
  absl::StatusOr<std::pair<Row, bool>> InsertIfAbsent(Table table, const NewRow& row) override;
  absl::StatusOr<std::optional<Row>> Get(Table table, const std::string& key,
                                         int64_t version) override;
  absl::StatusOr<std::optional<Row>> GetById(Table table, const std::string& id) override;
  absl::StatusOr<std::vector<Row>> List(Table table, const ListOptions& options) override;
  absl::StatusOr<int64_t> Delete(Table table, const std::string& key) override;

  const std::string& path() const { return options_.path; }

 private:
  using Connection = internal::SqliteConnection;
  // A read connection lent by the pool; returns it when destroyed.
  class ReaderLease;

  SqliteStore(SqliteStoreOptions options, std::unique_ptr<Connection> writer);

  // Open, Append, ... without the logging of severe errors that the public
  // methods add.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> OpenUnlogged(
      const SqliteStoreOptions& options);
  absl::StatusOr<Row> AppendUnlogged(Table table, const NewRow& row);
  absl::StatusOr<std::pair<Row, bool>> InsertIfAbsentUnlogged(Table table, const NewRow& row);
  absl::StatusOr<std::optional<Row>> GetUnlogged(Table table, const std::string& key,
                                                 int64_t version);
  absl::StatusOr<std::optional<Row>> GetByIdUnlogged(Table table, const std::string& id);
  absl::StatusOr<std::vector<Row>> ListUnlogged(Table table, const ListOptions& options);
  absl::StatusOr<int64_t> DeleteUnlogged(Table table, const std::string& key);

  absl::StatusOr<ReaderLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> reader);

  // Runs `body` on the write connection inside BEGIN IMMEDIATE; commits if it
  // returns OK, else rolls back and returns its error.
  absl::Status InWriteTransaction(Table table, const std::function<absl::Status(Connection&)>& body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const SqliteStoreOptions options_;

  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace galvatron::store
