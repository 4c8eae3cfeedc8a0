// Keeping a store file honest: the integrity checks SqliteStore::Open runs
// before it serves a file, the check of the write-ahead log that SQLite itself
// does not make, and the tools behind `galvatron-planner check|backup|recover`
// (online backup, and salvaging rows from a damaged file into a new one).
//
// Why the WAL check: when SQLite opens a database whose -wal file holds a
// frame that fails its checksum, it replays the frames before that one and
// silently ignores every frame after it, committed or not. After a crash that
// is right (the tail is a transaction that never committed); after damage to
// the middle of the log it drops transactions the planner had acknowledged.
// CheckWalFile reads the log before SQLite does and tells the two apart.
//
// Thread model: free functions without shared state; each opens its own
// SQLite handles, so they may run from any thread, and beside a SqliteStore or
// a planner process on the same file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galvatron::store {

// Which check SqliteStore::Open runs before it serves a file.
enum class IntegrityCheck {
  kNone,   // none (the file's header and WAL are still checked)
  kQuick,  // PRAGMA quick_check: every page and b-tree cell, O(file size)
  kFull,   // PRAGMA integrity_check: also that every index matches its table
};

// "none", "quick" or "full"; INVALID_ARGUMENT names the value otherwise.
absl::StatusOr<IntegrityCheck> ParseIntegrityCheck(absl::string_view name);
const char* IntegrityCheckName(IntegrityCheck check);

// The advice every refusal of a damaged file ends with: how to salvage it and
// where to find out more. `path` is the damaged file.
std::string RecoveryAdvice(const std::string& path);

// The header check Open makes first: OK for a file that starts with the SQLite
// header; FAILED_PRECONDITION for an empty file (what a store that lost its
// contents looks like) or one without the header.
absl::Status CheckStoreFileHeader(const std::string& path);

// What CheckWalFile found in `<db>-wal`.
struct WalReport {
  bool present = false;    // the -wal file exists and is not empty
  bool in_use = false;     // another process has the database open: not read
  bool header_ok = false;  // magic, version and header checksum hold
  int64_t frames = 0;      // whole frames in the file (of any generation)
  // Frames SQLite replays: the intact ones of the current generation up to
  // and including the last commit frame before the first bad one.
  int64_t replayed_frames = 0;
  int64_t replayed_commits = 0;
  // The first frame (1-based) of the current generation that fails its
  // checksum; 0 if none does.
  int64_t first_bad_frame = 0;
  // Past the first bad frame: the frames of the current generation that SQLite
  // would ignore, and how many of them are intact commit frames, that is
  // transactions that committed and would be lost.
  int64_t dropped_frames = 0;
  int64_t dropped_commits = 0;

  // Committed transactions would be lost if SQLite opened the file.
  bool LosesCommits() const { return dropped_commits > 0; }
  // One line for logs and the `check` command.
  std::string Summary() const;
};

// Reads `<db_path>-wal` (if any) and checks its header and every frame as
// SQLite would (sqlite.org/fileformat.html, "The Write-Ahead Log"). Reads
// nothing when another process holds the database open (its SQLite has read
// the log already, and the log may be changing under us): then in_use is set.
// Errors only when the file cannot be read.
absl::StatusOr<WalReport> CheckWalFile(const std::string& db_path);

// The WAL check Open makes: DATA_LOSS, naming the frames and transactions and
// how to recover, when committed transactions would be lost; OK otherwise.
absl::Status RefuseWalThatLosesCommits(const std::string& db_path, const WalReport& report);

// PRAGMA quick_check or integrity_check on `path`, opened read-only. Returns
// the problems found (empty when the file is intact). A file so damaged that
// the check itself fails (a corrupt header or schema) gives one problem
// naming SQLite's error. Errors: the file cannot be opened, or it is not an
// SQLite database (FAILED_PRECONDITION; SQLite cannot tell that from a
// damaged header).
absl::StatusOr<std::vector<std::string>> RunIntegrityCheck(const std::string& path,
                                                           IntegrityCheck check);

// DATA_LOSS "<path> is damaged: <check> found N problems: <first ones>" with
// the recovery advice; OK for no problems.
absl::Status DamagedFileError(const std::string& path, IntegrityCheck check,
                              const std::vector<std::string>& problems);

// Copies the database at `source` into a new file `destination` with SQLite's
// online backup API, one consistent snapshot taken in a read transaction, so
// it works while a planner writes to `source` (in WAL mode writers do not wait
// for it). Writes `destination`.tmp first and renames it when the copy is
// complete. Refuses an existing destination (ALREADY_EXISTS).
struct BackupReport {
  int64_t pages = 0;
  int64_t bytes = 0;
};
absl::StatusOr<BackupReport> BackupDatabase(const std::string& source,
                                            const std::string& destination);

// Salvaging a damaged store into a new file.
struct TableSalvage {
  std::string table;
  int64_t copied = 0;
  // Rows that a seek reached but whose columns could not be read.
  int64_t unreadable = 0;
  // Stretches of rowids that could not be read at all (a damaged page).
  int64_t skipped_ranges = 0;
  // The table's row count through an index when that still reads (-1 if not);
  // expected - copied is then the number of rows lost.
  int64_t expected = -1;
  std::string error;  // the table could not be read at all
};
struct RecoveryReport {
  int schema_version = 0;  // of the source, which the new file keeps
  std::vector<TableSalvage> tables;
  int64_t copied = 0;
  // Problems that quick_check finds in the new file; empty when it is intact.
  std::vector<std::string> destination_problems;
  std::string Summary() const;
};

// Creates `destination` (which must not exist) with the schema of `source`'s
// version (our migrations), then copies every table of it row by row in rowid
// order from `source`, opened read-only: a row that cannot be read is counted
// and skipped, and a damaged page is stepped over by seeking past it, so one
// bad page costs the rows on it and not the rest of the table. The new file
// gets the source's application_id and user_version (a planner start migrates
// it as usual) and is checked with quick_check. FAILED_PRECONDITION when the
// source is not a galvatron-planner store or its schema cannot be read.
absl::StatusOr<RecoveryReport> RecoverDatabase(const std::string& source,
                                               const std::string& destination);

}  // namespace galvatron::store
