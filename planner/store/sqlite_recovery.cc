// Backup (SQLite's online backup API) and recovery (salvaging rows into a new
// file) of a store; declared in sqlite_integrity.h.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "planner/store/migrations.h"
#include "planner/store/sqlite_connection.h"
#include "planner/store/sqlite_integrity.h"

namespace galvatron::store {
namespace {

using internal::SqliteError;

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A raw handle closed on scope exit. Recovery expects many failing reads; it
// uses raw handles so that each is counted, not reported as a store error.
struct Db {
  sqlite3* db = nullptr;
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() { sqlite3_close_v2(db); }
};

absl::Status OpenDb(const std::string& path, int flags, Db* out) {
  const int rc = sqlite3_open_v2(path.c_str(), &out->db, flags, nullptr);
  if (rc != SQLITE_OK) return SqliteError(out->db, rc, absl::StrCat("cannot open ", path));
  sqlite3_extended_result_codes(out->db, 1);
  sqlite3_busy_timeout(out->db, 5000);
  return absl::OkStatus();
}

absl::Status Exec(const Db& db, const std::string& sql, absl::string_view context) {
  const int rc = sqlite3_exec(db.db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db.db, rc, context);
  return absl::OkStatus();
}

// A prepared statement finalized on scope exit.
class Stmt {
 public:
  Stmt(const Db& db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db.db, sql.c_str(), -1, &stmt_, nullptr);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }
  int prepare_rc() const { return rc_; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

absl::StatusOr<int64_t> QueryInt(const Db& db, const std::string& sql) {
  Stmt stmt(db, sql);
  if (stmt.prepare_rc() != SQLITE_OK) return SqliteError(db.db, stmt.prepare_rc(), sql);
  const int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return SqliteError(db.db, rc == SQLITE_DONE ? SQLITE_ERROR : rc, sql);
  return sqlite3_column_int64(stmt.get(), 0);
}

// Removes `path` and its journal files on scope exit unless released.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) { Remove(); }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!released_) Remove();
  }
  const std::string& path() const { return path_; }
  // Renames the file to `destination`; it is no longer removed.
  absl::Status RenameTo(const std::string& destination) {
    if (std::rename(path_.c_str(), destination.c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot rename ", path_, " to ", destination, ": ", std::strerror(errno)));
    }
    released_ = true;
    return absl::OkStatus();
  }

 private:
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::remove((path_ + suffix).c_str());
    }
  }
  std::string path_;
  bool released_ = false;
};

absl::Status RefuseExisting(const std::string& destination) {
  if (destination.empty()) return absl::InvalidArgumentError("the destination path is empty");
  if (Exists(destination)) {
    return absl::AlreadyExistsError(
        absl::StrCat(destination, " exists; give a new path (nothing is overwritten)"));
  }
  return absl::OkStatus();
}

absl::Status RequireSource(const std::string& source) {
  if (!Exists(source)) return absl::NotFoundError(absl::StrCat(source, ": no such file"));
  return absl::OkStatus();
}

// Copies `table` from `src` to `dst` row by row in rowid order (see
// RecoverDatabase). `columns` are the destination's columns.
TableSalvage SalvageTable(const Db& src, const Db& dst, const std::string& table,
                          const std::vector<std::string>& columns) {
  TableSalvage salvage;
  salvage.table = table;
  // count(*) reads the smallest b-tree of the table, an index when there is
  // one, so it often still works when a page of the table itself is damaged.
  absl::StatusOr<int64_t> count = QueryInt(src, absl::StrCat("SELECT count(*) FROM ", table));
  if (count.ok()) salvage.expected = *count;

  const std::string column_list = absl::StrJoin(columns, ", ");
  Stmt read(src, absl::StrFormat("SELECT rowid, %s FROM %s WHERE rowid > ?1 ORDER BY rowid",
                                 column_list, table));
  Stmt probe(
      src, absl::StrFormat("SELECT rowid FROM %s WHERE rowid > ?1 ORDER BY rowid LIMIT 1", table));
  std::vector<std::string> placeholders;
  for (size_t i = 0; i <= columns.size(); ++i) placeholders.push_back(absl::StrCat("?", i + 1));
  Stmt insert(dst, absl::StrFormat("INSERT INTO %s (rowid, %s) VALUES (%s)", table, column_list,
                                   absl::StrJoin(placeholders, ", ")));
  if (read.prepare_rc() != SQLITE_OK || probe.prepare_rc() != SQLITE_OK) {
    salvage.error = absl::StrCat("cannot read the table: ", sqlite3_errmsg(src.db));
    return salvage;
  }
  if (insert.prepare_rc() != SQLITE_OK) {
    salvage.error = absl::StrCat("cannot write the table: ", sqlite3_errmsg(dst.db));
    return salvage;
  }
  constexpr int64_t kMaxRowid = std::numeric_limits<int64_t>::max();
  // The first row after `after`: 1 a row (its rowid in *rowid), 0 none,
  // -1 the seek itself fails (a damaged page on the way).
  auto probe_after = [&](int64_t after, int64_t* rowid) {
    sqlite3_reset(probe.get());
    sqlite3_bind_int64(probe.get(), 1, after);
    const int rc = sqlite3_step(probe.get());
    if (rc == SQLITE_ROW) *rowid = sqlite3_column_int64(probe.get(), 0);
    sqlite3_reset(probe.get());
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
  };

  int64_t last = std::numeric_limits<int64_t>::min();
  while (true) {
    sqlite3_reset(read.get());
    sqlite3_bind_int64(read.get(), 1, last);
    int rc;
    while ((rc = sqlite3_step(read.get())) == SQLITE_ROW) {
      last = sqlite3_column_int64(read.get(), 0);
      sqlite3_reset(insert.get());
      for (int c = 0; c <= static_cast<int>(columns.size()); ++c) {
        sqlite3_bind_value(insert.get(), c + 1, sqlite3_column_value(read.get(), c));
      }
      if (sqlite3_step(insert.get()) == SQLITE_DONE) {
        ++salvage.copied;
      } else {
        ++salvage.unreadable;  // e.g. a damaged cell that broke a UNIQUE constraint
      }
      if (last == kMaxRowid) break;
    }
    if (rc == SQLITE_DONE || last == kMaxRowid) break;
    // The read failed after `last`. If the next rowid can still be found, only
    // that row is unreadable (e.g. a damaged overflow page): skip it.
    int64_t next = 0;
    const int found = probe_after(last, &next);
    if (found == 0) break;
    if (found == 1) {
      ++salvage.unreadable;
      last = next;
      continue;
    }
    // The seek fails: a damaged page holds the rows after `last`. Find the
    // smallest step d past `last` at which seeking works again (doubling,
    // then halving), and go on from there; the rows in between are lost.
    ++salvage.skipped_ranges;
    int64_t bad = 0;  // a step known to fail
    int64_t good = 1;
    while (true) {
      const int64_t target = last > kMaxRowid - good ? kMaxRowid : last + good;
      if (probe_after(target, &next) >= 0) break;
      if (target == kMaxRowid) return salvage;  // nothing past the damage reads
      bad = good;
      good = good > kMaxRowid / 2 ? kMaxRowid - last : good * 2;
    }
    while (good - bad > 1) {
      const int64_t mid = bad + (good - bad) / 2;
      if (probe_after(last + mid, &next) >= 0) {
        good = mid;
      } else {
        bad = mid;
      }
    }
    last += good;
    if (probe_after(last, &next) == 0) break;
  }
  return salvage;
}

}  // namespace

absl::StatusOr<BackupReport> BackupDatabase(const std::string& source,
                                            const std::string& destination) {
  RETURN_IF_ERROR(RequireSource(source));
  RETURN_IF_ERROR(RefuseExisting(destination));
  // A copy of what SQLite reads would silently lack what a damaged WAL holds.
  ASSIGN_OR_RETURN(WalReport wal, CheckWalFile(source));
  RETURN_IF_ERROR(RefuseWalThatLosesCommits(source, wal));

  Db src;
  RETURN_IF_ERROR(OpenDb(source, SQLITE_OPEN_READONLY, &src));
  TemporaryFile copy(destination + ".tmp");
  BackupReport report;
  {
    Db dst;
    RETURN_IF_ERROR(OpenDb(copy.path(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst));
    sqlite3_backup* backup = sqlite3_backup_init(dst.db, "main", src.db, "main");
    if (backup == nullptr) {
      return SqliteError(dst.db, sqlite3_extended_errcode(dst.db),
                         absl::StrCat("starting the backup of ", source));
    }
    // One step copies every page inside one read transaction of the source:
    // a consistent snapshot, and in WAL mode the planner's writes go on
    // meanwhile. BUSY/LOCKED only while another process holds an exclusive
    // lock (a checkpoint that truncates the log): retry for a while.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int rc;
    while (true) {
      rc = sqlite3_backup_step(backup, -1);
      const int primary = rc & 0xff;
      if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() > deadline) {
        break;
      }
      sqlite3_sleep(20);
    }
    report.pages = sqlite3_backup_pagecount(backup);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      return SqliteError(src.db, rc, absl::StrCat("backing up ", source, " to ", copy.path()));
    }
    ASSIGN_OR_RETURN(const int64_t page_size, QueryInt(dst, "PRAGMA page_size"));
    report.bytes = report.pages * page_size;
  }
  // The backup API copies pages as they are: a damaged source gives a damaged
  // copy, which is no backup.
  ASSIGN_OR_RETURN(std::vector<std::string> problems,
                   RunIntegrityCheck(copy.path(), IntegrityCheck::kQuick));
  if (!problems.empty()) {
    return absl::DataLossError(absl::StrCat("the copy of ", source, " fails quick_check, so ",
                                            source, " itself is damaged (", problems.front(),
                                            "); nothing was written. ", RecoveryAdvice(source)));
  }
  RETURN_IF_ERROR(copy.RenameTo(destination));
  return report;
}

std::string RecoveryReport::Summary() const {
  std::string text = absl::StrFormat("schema version %d; %d rows copied", schema_version, copied);
  for (const TableSalvage& t : tables) {
    absl::StrAppendFormat(&text, "\n  %-18s %6d copied", t.table, t.copied);
    if (t.expected >= 0) {
      absl::StrAppendFormat(&text, " of %d", t.expected);
      if (t.expected > t.copied) absl::StrAppendFormat(&text, " (%d lost)", t.expected - t.copied);
    }
    if (t.unreadable > 0) absl::StrAppendFormat(&text, ", %d unreadable rows", t.unreadable);
    if (t.skipped_ranges > 0) {
      absl::StrAppendFormat(&text, ", %d damaged stretches skipped", t.skipped_ranges);
    }
    if (!t.error.empty()) absl::StrAppend(&text, ", ", t.error);
  }
  if (!destination_problems.empty()) {
    absl::StrAppend(&text, "\n  the new file fails quick_check: ", destination_problems.front());
  }
  return text;
}

absl::StatusOr<RecoveryReport> RecoverDatabase(const std::string& source,
                                               const std::string& destination) {
  RETURN_IF_ERROR(RequireSource(source));
  RETURN_IF_ERROR(RefuseExisting(destination));
  Db src;
  RETURN_IF_ERROR(OpenDb(source, SQLITE_OPEN_READONLY, &src));
  absl::StatusOr<int64_t> application_id = QueryInt(src, "PRAGMA application_id");
  absl::StatusOr<int64_t> user_version = QueryInt(src, "PRAGMA user_version");
  if (!application_id.ok() || !user_version.ok()) {
    const absl::Status& error =
        application_id.ok() ? user_version.status() : application_id.status();
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the header of ", source, " (", error.message(),
        "); nothing can be salvaged through SQLite. Restore a backup; the sqlite3 shell's "
        ".recover command reads pages directly and may still get some rows out"));
  }
  if (*application_id != kApplicationId) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s is not a galvatron-planner store (application_id 0x%08x)", source,
                        static_cast<uint32_t>(*application_id)));
  }
  if (*user_version < 1 || *user_version > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s has schema version %d; this build knows 1..%d", source, *user_version,
                        LatestSchemaVersion()));
  }
  RecoveryReport report;
  report.schema_version = static_cast<int>(*user_version);

  TemporaryFile copy(destination + ".tmp");
  {
    Db dst;
    RETURN_IF_ERROR(OpenDb(copy.path(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst));
    RETURN_IF_ERROR(Exec(dst, "BEGIN", "starting the recovery transaction"));
    for (int i = 0; i < report.schema_version; ++i) {
      RETURN_IF_ERROR(
          Exec(dst, Migrations()[i].sql, absl::StrCat("migration ", i + 1, " of the new file")));
    }
    RETURN_IF_ERROR(Exec(dst, absl::StrCat("PRAGMA application_id = ", kApplicationId),
                         "stamping application_id"));
    RETURN_IF_ERROR(Exec(dst, absl::StrCat("PRAGMA user_version = ", report.schema_version),
                         "stamping user_version"));
    std::vector<std::string> tables;
    {
      Stmt list(dst,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name");
      while (list.prepare_rc() == SQLITE_OK && sqlite3_step(list.get()) == SQLITE_ROW) {
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list.get(), 0)));
      }
    }
    for (const std::string& table : tables) {
      std::vector<std::string> columns;
      Stmt info(dst, absl::StrCat("PRAGMA table_info(", table, ")"));
      while (info.prepare_rc() == SQLITE_OK && sqlite3_step(info.get()) == SQLITE_ROW) {
        columns.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(info.get(), 1)));
      }
      report.tables.push_back(SalvageTable(src, dst, table, columns));
      report.copied += report.tables.back().copied;
    }
    RETURN_IF_ERROR(Exec(dst, "COMMIT", "committing the recovered rows"));
  }
  ASSIGN_OR_RETURN(report.destination_problems,
                   RunIntegrityCheck(copy.path(), IntegrityCheck::kFull));
  if (!report.destination_problems.empty()) {
    return absl::InternalError(absl::StrCat(
        "the recovered file fails integrity_check: ", report.destination_problems.front(),
        "; nothing was written to ", destination));
  }
  RETURN_IF_ERROR(copy.RenameTo(destination));
  return report;
}

}  // namespace galvatron::store
