#include "planner/store/sqlite_schema.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace galvatron::store::internal {
namespace {

// Inside the open transaction: refuses a file that is not ours or too new,
// applies the missing migrations, stamps application_id and user_version.
absl::Status CheckAndMigrateInTransaction(SqliteConnection& connection) {
  const std::string& path = connection.path();
  ASSIGN_OR_RETURN(Statement app_id_query, Statement::Prepare(connection, "PRAGMA application_id",
                                                              "reading application_id"));
  ASSIGN_OR_RETURN(const int64_t application_id, app_id_query.QueryInt64());
  ASSIGN_OR_RETURN(Statement version_query,
                   Statement::Prepare(connection, "PRAGMA user_version", "reading user_version"));
  ASSIGN_OR_RETURN(const int64_t user_version, version_query.QueryInt64());
  ASSIGN_OR_RETURN(
      Statement objects_query,
      Statement::Prepare(connection, "SELECT count(*) FROM sqlite_master", "reading the schema"));
  ASSIGN_OR_RETURN(const int64_t schema_objects, objects_query.QueryInt64());
  const int latest = LatestSchemaVersion();

  if (application_id != kApplicationId) {
    if (application_id != 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s is not a galvatron-planner store: its application_id is 0x%08x, "
          "ours is 0x%08x",
          path, static_cast<uint32_t>(application_id), static_cast<uint32_t>(kApplicationId)));
    }
    // No application_id: ours only if still empty (a new file).
    if (schema_objects != 0 || user_version != 0) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s is not a galvatron-planner store: an SQLite database of another "
                          "program (no application_id; %d schema objects, user_version %d)",
                          path, schema_objects, user_version));
    }
  }
  if (user_version > latest) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s was written by a newer galvatron-planner (schema %d, this build "
                        "knows %d)",
                        path, user_version, latest));
  }
  if (user_version < 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s has a corrupt schema version (user_version %d)", path, user_version));
  }

  for (int64_t i = user_version; i < latest; ++i) {
    const Migration& migration = Migrations()[i];
    RETURN_IF_ERROR(connection.Exec(migration.sql, absl::StrFormat("migration to schema %d (%s)",
                                                                   i + 1, migration.description)));
  }
  if (application_id != kApplicationId) {
    RETURN_IF_ERROR(connection.Exec(absl::StrCat("PRAGMA application_id = ", kApplicationId),
                                    "stamping application_id"));
  }
  if (user_version != latest) {
    RETURN_IF_ERROR(
        connection.Exec(absl::StrCat("PRAGMA user_version = ", latest), "stamping user_version"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSqliteHeader(const std::string& path, bool init_empty) {
  std::ifstream file(path, std::ios::binary);
  // Absent: Open creates it. Unreadable: sqlite3_open_v2 reports why.
  if (!file) return absl::OkStatus();
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with the NUL
  char header[sizeof kMagic] = {};
  file.read(header, sizeof header);
  const std::streamsize size = file.gcount();
  if (size == 0) {
    std::error_code error;
    const bool wal_has_data = std::filesystem::file_size(path + "-wal", error) > 0 && !error;
    if (init_empty && !wal_has_data) return absl::OkStatus();
    if (wal_has_data) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is empty but ", path,
          "-wal beside it is not: the database file lost its contents. Refusing to start on it. "
          "Keep both files and restore a backup (README: backup and recovery)"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        " is empty (0 bytes). A store that lost its contents looks like this, so it is not made "
        "into a new store silently: if it is a new store, start once with --init; otherwise "
        "restore a backup (README: backup and recovery)"));
  }
  if (size < static_cast<std::streamsize>(sizeof kMagic) ||
      std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        " is not a galvatron-planner store (not an SQLite database: no SQLite header). If it was "
        "one, its first page is damaged: restore a backup; --init never overwrites a non-empty "
        "file"));
  }
  return absl::OkStatus();
}

absl::Status CheckAndMigrate(SqliteConnection& connection) {
  // Connection settings (they read the file header, but write nothing).
  absl::Status status = connection.Exec("PRAGMA foreign_keys = ON", "setting foreign_keys");
  if (status.ok()) {
    status = connection.Exec("PRAGMA synchronous = FULL", "setting synchronous");
  }
  if (status.ok()) {
    status = connection.Exec("BEGIN IMMEDIATE", "starting the open transaction");
  }
  if (status.ok()) status = CheckAndMigrateInTransaction(connection);
  if (status.ok()) {
    status = connection.Exec("COMMIT", "committing the open transaction");
  }
  if (status.ok()) return status;
  const int rc = sqlite3_extended_errcode(connection.db());
  connection.RollBackIfOpen();
  if (rc == SQLITE_NOTADB) {
    return absl::FailedPreconditionError(absl::StrCat(
        connection.path(),
        " is not a galvatron-planner store (not an SQLite database: ", sqlite3_errstr(rc), ")"));
  }
  return status;
}

absl::Status EnableWal(SqliteConnection& connection) {
  ASSIGN_OR_RETURN(Statement wal,
                   Statement::Prepare(connection, "PRAGMA journal_mode = WAL", "enabling WAL"));
  ASSIGN_OR_RETURN(bool has_row, wal.Step());
  std::string mode = has_row ? wal.ColumnString(0) : "";
  if (mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat(connection.path(), ": cannot use the WAL journal (journal_mode is \"", mode,
                     "\"); is the file on a network file system?"));
  }
  return absl::OkStatus();
}

}  // namespace galvatron::store::internal
