// A store must not serve a damaged file as if it were whole: SqliteStore::Open
// refuses a damaged page, a file cut short, an empty file and a write-ahead log
// whose damage would drop committed transactions (sqlite_integrity.h); severe
// errors are logged; backup works while the store is written; recovery
// salvages the readable rows of a damaged file.
#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "planner/store/sqlite_integrity.h"
#include "planner/store/sqlite_store.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/planner/store/store_test_util.h"
#include "tests/support/sqlite_damage.h"
#include "tests/support/test_support.h"

namespace galvatron::store {
namespace {

using ::galvatron::testing::TempDir;
using store_test::ReadFileBytes;
using store_test::ValueOrFail;
using store_test::WriteFileBytes;

constexpr int kModels = 200;

std::string ModelKey(int i) { return absl::StrFormat("model-%03d", i); }
// ~600 bytes, so that the models table spans many pages.
std::string ModelPayload(int i) { return std::string(600, static_cast<char>('a' + i % 26)); }

std::unique_ptr<SqliteStore> OpenStore(const std::string& path,
                                       IntegrityCheck check = IntegrityCheck::kQuick) {
  SqliteStoreOptions options;
  options.path = path;
  options.integrity_check = check;
  return ValueOrFail(SqliteStore::Open(options));
}

absl::Status OpenStatus(const std::string& path, IntegrityCheck check = IntegrityCheck::kQuick) {
  SqliteStoreOptions options;
  options.path = path;
  options.integrity_check = check;
  return SqliteStore::Open(options).status();
}

NewRow Model(int i) {
  NewRow row;
  row.key = ModelKey(i);
  row.id_prefix = ModelKey(i) + "-";
  row.payload = ModelPayload(i);
  return row;
}

// A closed store at `path` holding kModels models (the log checkpointed into
// the file and removed, as after a clean stop).
void WriteModels(const std::string& path) {
  {
    std::unique_ptr<SqliteStore> store = OpenStore(path);
    for (int i = 0; i < kModels; ++i) ValueOrFail(store->Append(Table::kModels, Model(i)));
  }
  REQUIRE_FALSE(std::filesystem::exists(path + "-wal"));
}

// Every row of `table`, oldest key first.
std::vector<Row> AllRows(SqliteStore& store, Table table) {
  ListOptions options;
  options.limit = kMaxListLimit;
  return ValueOrFail(store.List(table, options));
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// Captures what spdlog's default logger writes while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string Text() const { return stream_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

TEST_CASE("Open refuses a store with a damaged table page", "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  WriteModels(path);
  const testing::TablePages pages = testing::FindTableLeafPage(path, "models");
  testing::OverwritePage(path, pages.leaf, pages.page_size);
  const std::string damaged = ReadFileBytes(path);

  for (IntegrityCheck check : {IntegrityCheck::kQuick, IntegrityCheck::kFull}) {
    CAPTURE(IntegrityCheckName(check));
    CapturedLog log;
    absl::Status status = OpenStatus(path, check);
    CHECK(absl::IsDataLoss(status));
    CHECK_THAT(Message(status), Catch::Contains(path + " is damaged") &&
                                    Catch::Contains("recover NEW.db") && Catch::Contains("backup"));
    CHECK_THAT(log.Text(), Catch::Contains("[error]") && Catch::Contains("is damaged"));
  }
  // The refusal left the file as it was.
  CHECK(ReadFileBytes(path) == damaged);
  CHECK_FALSE(ValueOrFail(RunIntegrityCheck(path, IntegrityCheck::kFull)).empty());
}

TEST_CASE("A store opened without a check logs the DATA_LOSS its reads meet",
          "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  WriteModels(path);
  const testing::TablePages pages = testing::FindTableLeafPage(path, "models");
  testing::OverwritePage(path, pages.leaf, pages.page_size);

  std::unique_ptr<SqliteStore> store = OpenStore(path, IntegrityCheck::kNone);
  CapturedLog log;
  ListOptions options;
  options.limit = kMaxListLimit;
  absl::Status status = store->List(Table::kModels, options).status();
  CHECK(absl::IsDataLoss(status));
  CHECK_THAT(log.Text(),
             Catch::Contains("[error]") && Catch::Contains("models list") && Catch::Contains(path));
}

TEST_CASE("Open refuses a store file cut short", "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  WriteModels(path);
  const std::string whole = ReadFileBytes(path);
  WriteFileBytes(path, whole.substr(0, whole.size() / 2));
  absl::Status status = OpenStatus(path);
  CHECK(absl::IsDataLoss(status));
  CHECK_THAT(Message(status), Catch::Contains("is damaged") && Catch::Contains("recover"));
  CHECK(ReadFileBytes(path).size() == whole.size() / 2);
}

TEST_CASE("An empty store file with a non-empty log beside it is refused even with init",
          "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  WriteFileBytes(path, "");
  WriteFileBytes(path + "-wal", std::string(4096, 'x'));
  SqliteStoreOptions options;
  options.path = path;
  options.init_empty_file = true;
  absl::Status status = SqliteStore::Open(options).status();
  CHECK(absl::IsFailedPrecondition(status));
  CHECK_THAT(Message(status), Catch::Contains("lost its contents"));
  CHECK(ReadFileBytes(path).empty());
}

// Forks a process that writes `rows` plans into a new store at `path`, one
// transaction each, and is then killed with SIGKILL so that its log stays
// behind, unmerged. While it is still alive, *in_use_report gets what
// CheckWalFile says about the file it holds open.
void WriteAndKill(const std::string& path, int rows, WalReport* in_use_report) {
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child: write, report, then wait to be killed. No Catch2 here.
    close(ready[0]);
    SqliteStoreOptions options;
    options.path = path;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    char result = store.ok() ? 'K' : 'E';
    for (int i = 0; store.ok() && i < rows; ++i) {
      NewRow row;
      row.key = absl::StrFormat("plan-%03d", i);
      row.id_prefix = row.key + "-";
      row.payload = std::string(300, 'p');
      if (!(*store)->Append(Table::kPlans, row).ok()) result = 'E';
    }
    if (write(ready[1], &result, 1) != 1) _exit(2);
    while (true) pause();
  }
  close(ready[1]);
  char result = 0;
  const ssize_t n = read(ready[0], &result, 1);
  close(ready[0]);
  if (n == 1 && result == 'K') *in_use_report = ValueOrFail(CheckWalFile(path));
  kill(child, SIGKILL);
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  REQUIRE(n == 1);
  REQUIRE(result == 'K');
  REQUIRE(std::filesystem::exists(path + "-wal"));
}

TEST_CASE("Open refuses a store whose log would drop committed transactions",
          "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  constexpr int kRows = 20;
  WalReport while_open;
  WriteAndKill(path, kRows, &while_open);
  // The writer held the file open: the log was live, and left alone.
  CHECK(while_open.present);
  CHECK(while_open.in_use);

  // The intact log: each Append is one committed transaction in it.
  const WalReport intact = ValueOrFail(CheckWalFile(path));
  CHECK_FALSE(intact.in_use);
  CHECK(intact.header_ok);
  CHECK(intact.replayed_commits == kRows);
  CHECK(intact.replayed_frames == intact.frames);
  CHECK(intact.first_bad_frame == 0);
  CHECK_FALSE(intact.LosesCommits());

  const std::string db_bytes = ReadFileBytes(path);
  const std::string wal_bytes = ReadFileBytes(path + "-wal");
  const int64_t frames = testing::WalFrames(path + "-wal");
  REQUIRE(frames == intact.frames);

  SECTION("a damaged frame in the middle is refused, naming what would be lost") {
    const int64_t bad = frames / 2;
    testing::DamageWalFrame(path + "-wal", bad);
    const std::string damaged_wal = ReadFileBytes(path + "-wal");
    const WalReport report = ValueOrFail(CheckWalFile(path));
    CHECK(report.first_bad_frame == bad);
    CHECK(report.replayed_frames < bad);
    CHECK(report.replayed_commits > 0);
    CHECK(report.dropped_frames == frames - report.replayed_frames);
    CHECK(report.replayed_commits + report.dropped_commits >= kRows - 1);
    CHECK(report.LosesCommits());

    CapturedLog log;
    absl::Status status = OpenStatus(path);
    CHECK(absl::IsDataLoss(status));
    CHECK_THAT(
        Message(status),
        Catch::Contains("-wal is damaged") &&
            Catch::Contains(absl::StrFormat("frame %d fails its checksum", bad)) &&
            Catch::Contains(absl::StrFormat("%d frames would be dropped", report.dropped_frames)) &&
            Catch::Contains(absl::StrFormat("%d committed transactions", report.dropped_commits)) &&
            Catch::Contains("recover"));
    CHECK_THAT(log.Text(), Catch::Contains("[error]"));
    // Refused before SQLite read the log: both files are as they were.
    CHECK(ReadFileBytes(path + "-wal") == damaged_wal);
    CHECK(ReadFileBytes(path) == db_bytes);
  }

  SECTION("a damaged last frame is an unfinished transaction and opens, as SQLite does") {
    REQUIRE(testing::IsCommitFrame(path + "-wal", frames));
    testing::DamageWalFrame(path + "-wal", frames);
    const WalReport report = ValueOrFail(CheckWalFile(path));
    CHECK(report.first_bad_frame == frames);
    CHECK(report.replayed_commits == kRows - 1);
    CHECK(report.dropped_commits == 0);
    std::unique_ptr<SqliteStore> store = OpenStore(path);
    CHECK(AllRows(*store, Table::kPlans).size() == kRows - 1);
  }

  SECTION("the intact log opens with every row") {
    CHECK(ReadFileBytes(path + "-wal") == wal_bytes);
    std::unique_ptr<SqliteStore> store = OpenStore(path);
    CHECK(AllRows(*store, Table::kPlans).size() == kRows);
  }
}

TEST_CASE("Backup copies a store while it is being written", "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  const std::string backup = dir.File("backup.db");
  std::unique_ptr<SqliteStore> store = OpenStore(path);
  std::atomic<int> written{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::string writer_error;  // read after join
  std::thread writer([&] {
    for (int i = 0; i < 100000 && !stop.load(); ++i) {
      absl::StatusOr<Row> row = store->Append(Table::kModels, Model(i));
      if (!row.ok()) {
        writer_error = row.status().ToString();
        failed.store(true);
        return;
      }
      written.store(i + 1);
    }
  });
  REQUIRE(testing::WaitFor([&] { return written.load() >= 50 || failed.load(); },
                           std::chrono::seconds(30)));
  const int before = written.load();
  absl::StatusOr<BackupReport> report = BackupDatabase(path, backup);
  // The writer kept writing during the backup.
  REQUIRE(testing::WaitFor([&] { return written.load() > before + 10 || failed.load(); },
                           std::chrono::seconds(30)));
  stop.store(true);
  writer.join();
  CHECK(writer_error.empty());
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK(report->pages > 0);
  CHECK(report->bytes == static_cast<int64_t>(ReadFileBytes(backup).size()));
  CHECK(ValueOrFail(RunIntegrityCheck(backup, IntegrityCheck::kFull)).empty());

  std::unique_ptr<SqliteStore> copy = OpenStore(backup);
  const std::vector<Row> rows = AllRows(*copy, Table::kModels);
  CHECK(static_cast<int>(rows.size()) >= before);
  CHECK(static_cast<int>(rows.size()) <= written.load());
  // A snapshot: the first rows.size() models, each whole.
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].key == ModelKey(static_cast<int>(i)));
    CHECK(rows[i].payload == ModelPayload(static_cast<int>(i)));
  }
  // An existing destination is never overwritten.
  CHECK(absl::IsAlreadyExists(BackupDatabase(path, backup).status()));
}

TEST_CASE("Backup refuses a damaged store", "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  WriteModels(path);
  const testing::TablePages pages = testing::FindTableLeafPage(path, "models");
  testing::OverwritePage(path, pages.leaf, pages.page_size);
  absl::Status status = BackupDatabase(path, dir.File("backup.db")).status();
  CHECK(absl::IsDataLoss(status));
  CHECK_THAT(Message(status), Catch::Contains("recover"));
  CHECK_FALSE(std::filesystem::exists(dir.File("backup.db")));
  CHECK_FALSE(std::filesystem::exists(dir.File("backup.db.tmp")));
}

TEST_CASE("Recover salvages the readable rows of a store with a damaged page",
          "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  const std::string recovered = dir.File("recovered.db");
  WriteModels(path);
  {
    std::unique_ptr<SqliteStore> store = OpenStore(path);
    NewRow plan;
    plan.key = "plan-a";
    plan.id_prefix = "plan-a-";
    plan.payload = "a plan";
    ValueOrFail(store->Append(Table::kPlans, plan));
  }
  const testing::TablePages pages = testing::FindTableLeafPage(path, "models");
  testing::OverwritePage(path, pages.leaf, pages.page_size);
  REQUIRE(absl::IsDataLoss(OpenStatus(path)));

  const RecoveryReport report = ValueOrFail(RecoverDatabase(path, recovered));
  INFO(report.Summary());
  CHECK(report.schema_version == SqliteStore::LatestSchemaVersion());
  std::map<std::string, TableSalvage> by_table;
  for (const TableSalvage& t : report.tables) by_table[t.table] = t;
  REQUIRE(by_table.count("models") == 1);
  const TableSalvage& models = by_table["models"];
  CHECK(models.error.empty());
  CHECK(models.skipped_ranges >= 1);
  // The index still counts every row; the damaged page's rows are lost, and
  // only they: the rows before and after it are all there.
  CHECK(models.expected == kModels);
  CHECK(models.copied < kModels);
  CHECK(models.copied > kModels / 2);
  CHECK(by_table["plans"].copied == 1);
  CHECK(report.destination_problems.empty());

  std::unique_ptr<SqliteStore> store = OpenStore(recovered, IntegrityCheck::kFull);
  const std::vector<Row> rows = AllRows(*store, Table::kModels);
  CHECK(static_cast<int64_t>(rows.size()) == models.copied);
  int first_missing = -1;
  int last_missing = -1;
  size_t next = 0;
  for (int i = 0; i < kModels; ++i) {
    if (next < rows.size() && rows[next].key == ModelKey(i)) {
      CHECK(rows[next].payload == ModelPayload(i));
      CHECK(rows[next].id == ModelKey(i) + "-1");
      ++next;
      continue;
    }
    if (first_missing < 0) first_missing = i;
    last_missing = i;
  }
  CHECK(next == rows.size());
  // One stretch of consecutive rows is missing: the damaged page's.
  CHECK(first_missing > 0);
  CHECK(last_missing < kModels - 1);
  CHECK(last_missing - first_missing + 1 == kModels - models.copied);
  const std::optional<Row> plan = ValueOrFail(store->Get(Table::kPlans, "plan-a", 0));
  REQUIRE(plan.has_value());
  CHECK(plan->payload == "a plan");
  // The recovered store takes new rows.
  CHECK(ValueOrFail(store->Append(Table::kModels, Model(0))).version == 2);

  // The destination must be new.
  CHECK(absl::IsAlreadyExists(RecoverDatabase(path, recovered).status()));
}

TEST_CASE("Recover refuses a file that is not a store", "[store][integrity]") {
  TempDir dir;
  const std::string path = dir.File("other.db");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  absl::Status status = RecoverDatabase(path, dir.File("new.db")).status();
  CHECK(absl::IsFailedPrecondition(status));
  CHECK_THAT(Message(status), Catch::Contains("not a galvatron-planner store"));
  CHECK_FALSE(std::filesystem::exists(dir.File("new.db")));
}

TEST_CASE("ParseIntegrityCheck takes none quick and full", "[store][integrity]") {
  CHECK(ValueOrFail(ParseIntegrityCheck("none")) == IntegrityCheck::kNone);
  CHECK(ValueOrFail(ParseIntegrityCheck("quick")) == IntegrityCheck::kQuick);
  CHECK(ValueOrFail(ParseIntegrityCheck("full")) == IntegrityCheck::kFull);
  CHECK(absl::IsInvalidArgument(ParseIntegrityCheck("fast").status()));
}

}  // namespace
}  // namespace galvatron::store
