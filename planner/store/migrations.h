// The SQLite schema as an append-only list of migrations (the Chromium/Bitcoin
// Core pattern). PRAGMA user_version of a store file is the number of
// migrations applied to it; SqliteStore::Open applies the missing ones in the
// same transaction that stamps PRAGMA application_id and user_version.
//
// Rules: never edit, reorder or delete a migration that has shipped; add a
// new one at the end instead, and add a golden database of the previous
// schema under tests/data/store/ with a test that opens it.
#pragma once

#include <cstdint>

#include "absl/types/span.h"

namespace galvatron::store {

// PRAGMA application_id of our files: "GALV".
inline constexpr int32_t kApplicationId = 0x47414c56;

struct Migration {
  // One line for logs and error messages, e.g. "create the v1 tables".
  const char* description;
  // One or more SQL statements, run with sqlite3_exec inside the open
  // transaction.
  const char* sql;
};

// Migration i (0-based) takes a file from user_version i to i + 1.
absl::Span<const Migration> Migrations();

// The schema version this build writes: the number of migrations.
inline int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

}  // namespace galvatron::store
