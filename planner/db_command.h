// `galvatron-planner --db FILE check|backup|recover`: looking after the store
// file without serving it. `check` runs SQLite's integrity_check and reads the
// write-ahead log; `backup DEST` copies the file with SQLite's online backup
// API, also while a planner serves it; `recover DEST` salvages what can be read
// from a damaged file into a new one and opens the result. The SQLite work is
// in planner/store/sqlite_integrity.h.
#pragma once

#include <string>

namespace galvatron::planner {

struct DbCommandConfig {
  std::string command;      // check, backup or recover
  std::string db_path;      // the store file (--db); never created by these commands
  std::string destination;  // backup and recover: the new file, which must not exist
};

// Runs config.command and prints what it found on stdout (errors on stderr).
// Exit codes: check: 0 intact, 1 damaged, 2 not checked (no such file, or
// it cannot be opened); backup and recover: 0 written, 1 not written.
int RunDbCommand(const DbCommandConfig& config);

}  // namespace galvatron::planner
