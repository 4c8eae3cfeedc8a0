// How SqliteStore opens a file: the checks that it is ours (or new), the
// schema migrations (the list is in migrations.h) and the stamps that record
// them, and the WAL journal. Internal to planner/store.
//
// File format: PRAGMA application_id = kApplicationId (migrations.h) marks
// the file as ours, and PRAGMA user_version is the number of migrations
// applied.
//
// Thread model: functions of the connection they are given, which the caller
// uses from one thread (SqliteStore::Open, before the store is shared).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "planner/store/migrations.h"
#include "planner/store/sqlite_connection.h"

namespace galvatron::store::internal {

// SQLite treats an empty file as a new database and would build one in it,
// so an existing file must start with the SQLite header before SQLite touches
// it. OK for an absent file (Open creates it). An empty (0-byte) file is what a
// store that lost its contents looks like, so it is refused unless
// `init_empty` (--init) says it is meant to become a new store, and even then
// not when a non-empty -wal file sits beside it. FAILED_PRECONDITION
// otherwise, saying what to do.
absl::Status CheckSqliteHeader(const std::string& path, bool init_empty);

// Sets up the write connection (foreign keys, synchronous = FULL), then, in
// one BEGIN IMMEDIATE transaction (so two processes opening a new file do
// not both migrate it): refuses with FAILED_PRECONDITION a file of another
// program or one written by a newer build, applies the missing migrations and
// stamps application_id and user_version. Nothing is changed on failure.
absl::Status CheckAndMigrate(SqliteConnection& connection);

// Switches the file to the WAL journal (persistent in the file; a no-op once
// set). Runs after CheckAndMigrate so that a file of another program is never
// touched. FAILED_PRECONDITION where WAL is unavailable (network file
// systems).
absl::Status EnableWal(SqliteConnection& connection);

}  // namespace galvatron::store::internal
