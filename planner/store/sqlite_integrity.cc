// The integrity checks of a store file and the check of its write-ahead log.
// Backup and recovery are in sqlite_recovery.cc.
#include "planner/store/sqlite_integrity.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "planner/store/sqlite_connection.h"
#include "planner/store/sqlite_schema.h"

namespace galvatron::store {
namespace {

// ---- The WAL format (sqlite.org/fileformat.html, "The Write-Ahead Log") ----
//
// A 32-byte header: magic, format version 3007000, page size, checkpoint
// sequence, salt-1, salt-2, checksum-1, checksum-2 (of the first 24 bytes);
// then frames of a 24-byte header (page number, database size in pages for a
// commit frame or 0, salt-1, salt-2, checksum-1, checksum-2) and one page.
// Every field is big-endian. A frame's checksum runs over its first 8 header
// bytes and its page, seeded with the checksum of the frame before it (the
// header's for frame 1), so SQLite cannot trust anything after a bad frame.
constexpr uint32_t kWalMagicLittleEndian = 0x377f0682;  // checksum words little-endian
constexpr uint32_t kWalMagicBigEndian = 0x377f0683;     // checksum words big-endian
constexpr uint32_t kWalFormatVersion = 3007000;
constexpr size_t kWalHeaderBytes = 32;
constexpr size_t kWalFrameHeaderBytes = 24;

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint32_t LittleEndian32(const unsigned char* p) {
  return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[0]};
}

struct WalChecksum {
  uint32_t s1 = 0;
  uint32_t s2 = 0;
  bool operator==(const WalChecksum& o) const { return s1 == o.s1 && s2 == o.s2; }
};

// SQLite's walChecksumBytes: over 32-bit words x[i] in pairs,
// s1 += x[i] + s2; s2 += x[i+1] + s1.
WalChecksum Checksum(bool big_endian, const unsigned char* data, size_t size, WalChecksum seed) {
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint32_t x0 = big_endian ? BigEndian32(data + i) : LittleEndian32(data + i);
    const uint32_t x1 = big_endian ? BigEndian32(data + i + 4) : LittleEndian32(data + i + 4);
    seed.s1 += x0 + seed.s2;
    seed.s2 += x1 + seed.s1;
  }
  return seed;
}

WalChecksum StoredChecksum(const unsigned char* at) {
  return WalChecksum{BigEndian32(at), BigEndian32(at + 4)};
}

bool ValidPageSize(uint32_t size) {
  return size >= 512 && size <= 65536 && (size & (size - 1)) == 0;
}

// The page size written in the database file's header (offset 16; 1 means
// 65536), or 0 when it cannot be read.
uint32_t DatabasePageSize(const std::string& db_path) {
  std::ifstream in(db_path, std::ios::binary);
  unsigned char header[18] = {};
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return 0;
  const uint32_t size = (uint32_t{header[16]} << 8) | header[17];
  if (size == 1) return 65536;
  return ValidPageSize(size) ? size : 0;
}

// Whether another process holds an SQLite lock on the database: every
// connection in WAL mode keeps a shared lock on the SHARED byte range
// (PENDING_BYTE + 2 = 0x40000002, 510 bytes) for as long as it is open. Our
// own process's locks are invisible to F_GETLK, which is what we want.
bool OpenedByAnotherProcess(const std::string& db_path) {
  const int fd = ::open(db_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock lock;
  std::memset(&lock, 0, sizeof lock);
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0x40000002;
  lock.l_len = 510;
  const bool locked = ::fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  ::close(fd);
  return locked;
}

// Walks the frames of `wal` (whole frames only) as SQLite's recovery does and
// fills the frame counts of *report.
void WalkFrames(const std::string& wal, uint32_t page_size, bool big_endian, bool header_ok,
                WalReport* report) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(wal.data());
  const size_t frame_bytes = kWalFrameHeaderBytes + page_size;
  report->frames = static_cast<int64_t>((wal.size() - kWalHeaderBytes) / frame_bytes);
  // The current generation's salts: the header's, or frame 1's when the
  // header is damaged (each generation writes the log from its start).
  const unsigned char* salts = bytes + 16;
  if (!header_ok) {
    if (report->frames == 0) return;
    salts = bytes + kWalHeaderBytes + 8;
  }
  auto frame_at = [&](int64_t i) { return bytes + kWalHeaderBytes + (i - 1) * frame_bytes; };
  auto current = [&](const unsigned char* frame) { return std::memcmp(frame + 8, salts, 8) == 0; };
  // Whether frame i, seeded with the checksum stored before it, is intact.
  auto intact = [&](int64_t i) {
    const unsigned char* frame = frame_at(i);
    if (!current(frame) || BigEndian32(frame) == 0) return false;
    const WalChecksum seed = StoredChecksum(i == 1 ? bytes + 24 : frame_at(i - 1) + 16);
    WalChecksum sum = Checksum(big_endian, frame, 8, seed);
    sum = Checksum(big_endian, frame + kWalFrameHeaderBytes, page_size, sum);
    return sum == StoredChecksum(frame + 16);
  };
  auto is_commit = [&](int64_t i) { return BigEndian32(frame_at(i) + 4) != 0; };

  int64_t i = 1;
  if (header_ok) {
    int64_t commits = 0;
    for (; i <= report->frames; ++i) {
      if (!intact(i)) break;
      if (is_commit(i)) {
        report->replayed_frames = i;
        report->replayed_commits = ++commits;
      }
    }
    if (i > report->frames) return;  // every frame intact: an unfinished tail at most
    // Frames past the last commit are an unfinished transaction that SQLite
    // rightly drops; damage is what fails first.
    report->first_bad_frame = i;
  } else {
    report->first_bad_frame = 1;
  }
  for (int64_t j = report->replayed_frames + 1; j <= report->frames; ++j) {
    if (!current(frame_at(j))) continue;  // a stale frame of an older generation
    ++report->dropped_frames;
    if (is_commit(j) && intact(j)) ++report->dropped_commits;
  }
}

}  // namespace

absl::StatusOr<IntegrityCheck> ParseIntegrityCheck(absl::string_view name) {
  if (name == "none") return IntegrityCheck::kNone;
  if (name == "quick") return IntegrityCheck::kQuick;
  if (name == "full") return IntegrityCheck::kFull;
  return absl::InvalidArgumentError(
      absl::StrCat("integrity check \"", name, "\": must be none, quick or full"));
}

const char* IntegrityCheckName(IntegrityCheck check) {
  switch (check) {
    case IntegrityCheck::kNone:
      return "none";
    case IntegrityCheck::kQuick:
      return "quick";
    case IntegrityCheck::kFull:
      return "full";
  }
  return "?";
}

std::string RecoveryAdvice(const std::string& path) {
  return absl::StrCat(
      "To recover: stop every planner on it, keep a copy of ", path, " (and of ", path,
      "-wal if present), then either restore your latest backup, or salvage what can be read with "
      "`galvatron-planner --db ",
      path, " recover NEW.db` and start the planner on NEW.db (README: backup and recovery)");
}

absl::Status CheckStoreFileHeader(const std::string& path) {
  return internal::CheckSqliteHeader(path, /*init_empty=*/false);
}

std::string WalReport::Summary() const {
  if (!present) return "no write-ahead log";
  if (in_use) return "write-ahead log in use by another process (not checked)";
  std::string text = absl::StrFormat("write-ahead log: %d frames, %d replayed in %d transactions",
                                     frames, replayed_frames, replayed_commits);
  if (!header_ok) absl::StrAppend(&text, "; its header is damaged, so SQLite ignores all of it");
  if (first_bad_frame > 0 && header_ok) {
    absl::StrAppendFormat(&text, "; frame %d fails its checksum", first_bad_frame);
  }
  if (dropped_frames > 0) {
    absl::StrAppendFormat(&text, "; %d frames would be dropped", dropped_frames);
  }
  if (dropped_commits > 0) {
    absl::StrAppendFormat(&text, ", among them %d committed transactions", dropped_commits);
  } else if (dropped_frames > 0) {
    absl::StrAppend(&text,
                    " (no intact commit among them: what a write cut off by a crash leaves)");
  }
  return text;
}

absl::StatusOr<WalReport> CheckWalFile(const std::string& db_path) {
  WalReport report;
  const std::string wal_path = db_path + "-wal";
  struct stat st;
  if (::stat(wal_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return report;
    return absl::FailedPreconditionError(
        absl::StrCat(wal_path, ": cannot read: ", std::strerror(errno)));
  }
  if (st.st_size == 0) return report;
  report.present = true;
  if (OpenedByAnotherProcess(db_path)) {
    report.in_use = true;
    return report;
  }
  std::ifstream in(wal_path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat(wal_path, ": cannot read: ", std::strerror(errno)));
  }
  const std::string wal((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (wal.size() < kWalHeaderBytes) return report;  // a torn first write: nothing committed
  const auto* bytes = reinterpret_cast<const unsigned char*>(wal.data());
  const uint32_t magic = BigEndian32(bytes);
  const uint32_t wal_page_size = BigEndian32(bytes + 8);
  const bool magic_ok = magic == kWalMagicLittleEndian || magic == kWalMagicBigEndian;
  const bool big_endian = magic == kWalMagicBigEndian;
  report.header_ok = magic_ok && BigEndian32(bytes + 4) == kWalFormatVersion &&
                     ValidPageSize(wal_page_size) &&
                     Checksum(big_endian, bytes, 24, WalChecksum{}) == StoredChecksum(bytes + 24);
  const uint32_t page_size =
      ValidPageSize(wal_page_size) ? wal_page_size : DatabasePageSize(db_path);
  if (page_size == 0) return report;
  if (magic_ok || report.header_ok) {
    WalkFrames(wal, page_size, big_endian, report.header_ok, &report);
    return report;
  }
  // The magic is damaged too, so the checksums' byte order is unknown: take the
  // order under which more committed frames are intact.
  WalReport little = report;
  WalkFrames(wal, page_size, /*big_endian=*/false, false, &little);
  WalReport big = report;
  WalkFrames(wal, page_size, /*big_endian=*/true, false, &big);
  return big.dropped_commits > little.dropped_commits ? big : little;
}

absl::Status RefuseWalThatLosesCommits(const std::string& db_path, const WalReport& report) {
  if (!report.LosesCommits()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      db_path, "-wal is damaged: ", report.Summary(),
      ". SQLite would open the file without them, silently; refusing to. ", RecoveryAdvice(db_path),
      " — a recovery keeps what SQLite can read and loses those transactions."));
}

absl::StatusOr<std::vector<std::string>> RunIntegrityCheck(const std::string& path,
                                                           IntegrityCheck check) {
  std::vector<std::string> problems;
  if (check == IntegrityCheck::kNone) return problems;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = internal::SqliteError(db, rc, absl::StrCat("cannot open ", path));
    sqlite3_close_v2(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  const std::string sql =
      check == IntegrityCheck::kFull ? "PRAGMA integrity_check(100)" : "PRAGMA quick_check(100)";
  sqlite3_stmt* stmt = nullptr;
  rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      std::string line = text == nullptr ? "" : reinterpret_cast<const char*>(text);
      if (line != "ok") problems.push_back(std::move(line));
    }
  }
  if (rc != SQLITE_DONE) {
    const int code = sqlite3_extended_errcode(db);
    const int primary = code & 0xff;
    std::string error = sqlite3_errmsg(db);
    if (error != sqlite3_errstr(code)) absl::StrAppend(&error, " (", sqlite3_errstr(code), ")");
    sqlite3_finalize(stmt);
    sqlite3_close_v2(db);
    // A file too damaged to check is a damaged file; a busy lock or a full
    // disk is not.
    if (primary == SQLITE_NOTADB) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not a galvatron-planner store (not an SQLite database: ", error,
                       "). If it was one, its header is damaged: restore a backup"));
    }
    if (primary == SQLITE_CORRUPT || primary == SQLITE_IOERR) {
      return std::vector<std::string>{absl::StrCat("the check itself failed: ", error)};
    }
    return internal::SqliteError(nullptr, code, absl::StrCat(path, ": ", sql, ": ", error));
  }
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return problems;
}

absl::Status DamagedFileError(const std::string& path, IntegrityCheck check,
                              const std::vector<std::string>& problems) {
  if (problems.empty()) return absl::OkStatus();
  constexpr size_t kShown = 3;
  std::vector<std::string> shown(problems.begin(),
                                 problems.begin() + std::min(problems.size(), kShown));
  return absl::DataLossError(
      absl::StrFormat("%s is damaged: %s_check found %d problem%s (%s%s). %s", path,
                      check == IntegrityCheck::kFull ? "integrity" : "quick", problems.size(),
                      problems.size() == 1 ? "" : "s", absl::StrJoin(shown, "; "),
                      problems.size() > kShown ? "; ..." : "", RecoveryAdvice(path)));
}

}  // namespace galvatron::store
