// Damaging SQLite files on purpose, for the tests of the store's integrity
// checks, backup and recovery: finding a page that holds a table's rows (a leaf
// of its b-tree, by walking the b-tree from its root page), overwriting a page
// or a write-ahead-log frame, cutting a file short.
// Header-only; the test links SQLite. Not thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>

namespace galvatron::testing {

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline uint32_t ReadBigEndian32(const std::string& bytes, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])); };
  return (b(at) << 24) | (b(at + 1) << 16) | (b(at + 2) << 8) | b(at + 3);
}

struct TablePages {
  int64_t page_size = 0;
  int64_t root = 0;
  int64_t leaf = 0;  // a leaf page holding rows of the table, in the middle of its b-tree
};

// A leaf page of `table`'s b-tree in the file at `db_path`, which must have no
// -wal file (close every connection first, so the log is checkpointed). Walks
// down from the root page (sqlite_master.rootpage) through the middle child of
// each interior page (sqlite.org/fileformat.html, "B-tree Pages": type 0x05
// interior and 0x0d leaf table pages; an interior page lists its children
// as 4-byte page numbers at the start of each cell, and the right-most one at
// offset 8). Throws unless the table spans more than one page.
inline TablePages FindTableLeafPage(const std::string& db_path, const std::string& table) {
  TablePages pages;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(db);
    throw std::runtime_error("cannot open " + db_path);
  }
  auto query = [&](const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int64_t value = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return value;
  };
  pages.page_size = query("PRAGMA page_size");
  pages.root =
      query("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = '" + table + "'");
  sqlite3_close_v2(db);
  if (pages.page_size <= 0 || pages.root <= 1) {
    throw std::runtime_error("no table " + table + " in " + db_path);
  }
  const std::string file = ReadBytes(db_path);
  int64_t page = pages.root;
  while (true) {
    const size_t offset = static_cast<size_t>((page - 1) * pages.page_size);
    if (offset + pages.page_size > file.size()) throw std::runtime_error("page past the end");
    const auto type = static_cast<unsigned char>(file[offset]);
    if (type == 0x0d) break;
    if (type != 0x05) throw std::runtime_error("not a table b-tree page");
    const uint32_t cells = (static_cast<unsigned char>(file[offset + 3]) << 8) |
                           static_cast<unsigned char>(file[offset + 4]);
    if (cells == 0) {
      page = ReadBigEndian32(file, offset + 8);
      continue;
    }
    const size_t pointer = offset + 12 + 2 * (cells / 2);
    const uint32_t cell = (static_cast<unsigned char>(file[pointer]) << 8) |
                          static_cast<unsigned char>(file[pointer + 1]);
    page = ReadBigEndian32(file, offset + cell);
  }
  if (page == pages.root) throw std::runtime_error(table + " fits in one page");
  pages.leaf = page;
  return pages;
}

// Overwrites page `page` (1-based) of `db_path` with random bytes from `seed`.
inline void OverwritePage(const std::string& db_path, int64_t page, int64_t page_size,
                          uint32_t seed = 1) {
  std::string file = ReadBytes(db_path);
  const size_t offset = static_cast<size_t>((page - 1) * page_size);
  if (offset + page_size > file.size()) throw std::runtime_error("page past the end");
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < page_size; ++i) file[offset + i] = static_cast<char>(rng() & 0xff);
  WriteBytes(db_path, file);
}

// The number of whole frames in the write-ahead log `wal_path`.
inline int64_t WalFrames(const std::string& wal_path) {
  const std::string wal = ReadBytes(wal_path);
  const int64_t page_size = ReadBigEndian32(wal, 8);
  return (static_cast<int64_t>(wal.size()) - 32) / (24 + page_size);
}

// Flips bytes in the page of frame `frame` (1-based) of `wal_path`, so that
// the frame fails its checksum.
inline void DamageWalFrame(const std::string& wal_path, int64_t frame) {
  std::string wal = ReadBytes(wal_path);
  const int64_t page_size = ReadBigEndian32(wal, 8);
  const size_t page_at = 32 + static_cast<size_t>((frame - 1) * (24 + page_size)) + 24;
  if (page_at + page_size > wal.size()) throw std::runtime_error("frame past the end");
  for (size_t i = page_at + 100; i < page_at + 116; ++i) wal[i] = static_cast<char>(~wal[i]);
  WriteBytes(wal_path, wal);
}

// Whether frame `frame` of `wal_path` is a commit frame (its second header
// field, the database size after the commit, is not 0).
inline bool IsCommitFrame(const std::string& wal_path, int64_t frame) {
  const std::string wal = ReadBytes(wal_path);
  const int64_t page_size = ReadBigEndian32(wal, 8);
  return ReadBigEndian32(wal, 32 + static_cast<size_t>((frame - 1) * (24 + page_size)) + 4) != 0;
}

}  // namespace galvatron::testing
