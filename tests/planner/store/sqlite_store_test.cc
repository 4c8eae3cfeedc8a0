// SqliteStore beyond the Store contract: the file format, migrations, refusing
// foreign or newer files, concurrency of readers and writers, durability.
#include "planner/store/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "planner/store/migrations.h"
#include "tests/planner/store/store_test_util.h"
#include "tests/support/test_support.h"

#ifndef GALVATRON_TEST_DATA_DIR
#error "GALVATRON_TEST_DATA_DIR must be defined by the build"
#endif

namespace galvatron::store {
namespace {

using ::galvatron::testing::TempDir;
using store_test::ReadFileBytes;
using store_test::ValueOrFail;
using store_test::WriteFileBytes;

// A plain sqlite3 connection for inspecting and preparing files behind the
// store's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    INFO(path << ": " << sqlite3_errstr(rc));
    REQUIRE(rc == SQLITE_OK);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() { sqlite3_close_v2(db_); }

  // The result code of running `sql`.
  int TryExec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  void Exec(const std::string& sql) {
    int rc = TryExec(sql);
    INFO(sql << ": " << sqlite3_errmsg(db_));
    REQUIRE(rc == SQLITE_OK);
  }
  // The first column of every row of `sql`, as text.
  std::vector<std::string> Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    INFO(sql << ": " << sqlite3_errmsg(db_));
    REQUIRE(rc == SQLITE_OK);
    std::vector<std::string> values;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      values.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
    }
    sqlite3_finalize(stmt);
    REQUIRE(rc == SQLITE_DONE);
    return values;
  }
  int64_t QueryInt(const std::string& sql) {
    std::vector<std::string> values = Query(sql);
    REQUIRE(values.size() == 1);
    return std::stoll(values[0]);
  }

 private:
  sqlite3* db_ = nullptr;
};

std::unique_ptr<SqliteStore> OpenStore(const std::string& path, int busy_timeout_ms = 5000) {
  SqliteStoreOptions options;
  options.path = path;
  options.busy_timeout_ms = busy_timeout_ms;
  return ValueOrFail(SqliteStore::Open(options));
}

absl::Status OpenStatus(const std::string& path) {
  SqliteStoreOptions options;
  options.path = path;
  return SqliteStore::Open(options).status();
}

NewRow MakeRow(std::string key, std::string id_prefix, std::string payload = "payload",
               std::string tag = "") {
  NewRow row;
  row.key = std::move(key);
  row.id_prefix = std::move(id_prefix);
  row.tag = std::move(tag);
  row.payload = std::move(payload);
  return row;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_CASE("LatestSchemaVersion counts the migrations", "[store][sqlite]") {
  CHECK(SqliteStore::LatestSchemaVersion() == static_cast<int>(Migrations().size()));
  CHECK(SqliteStore::LatestSchemaVersion() >= 1);
  CHECK(SqliteStore::kApplicationId == 0x47414c56);
}

TEST_CASE("Open creates, migrates and stamps a new file", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("new.db");
  REQUIRE_FALSE(std::filesystem::exists(path));
  std::unique_ptr<SqliteStore> store = OpenStore(path);
  CHECK(store->path() == path);
  CHECK(std::filesystem::exists(path));

  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA application_id") == SqliteStore::kApplicationId);
  CHECK(raw.QueryInt("PRAGMA user_version") == SqliteStore::LatestSchemaVersion());
  CHECK(raw.Query("PRAGMA journal_mode") == std::vector<std::string>{"wal"});
  CHECK(raw.Query("SELECT name FROM sqlite_master WHERE type = 'table' "
                  "ORDER BY name") ==
        std::vector<std::string>{"calibrations", "compute_profiles", "hardware_profiles",
                                 "job_metrics", "jobs", "models", "nodes", "plans", "tasks"});
  for (Table table :
       {Table::kModels, Table::kHardwareProfiles, Table::kComputeProfiles, Table::kPlans,
        Table::kNodes, Table::kTasks, Table::kJobs, Table::kJobMetrics, Table::kCalibrations}) {
    const std::string name = TableName(table);
    CAPTURE(name);
    CHECK(raw.Query("SELECT name FROM pragma_table_info('" + name + "') ORDER BY cid") ==
          std::vector<std::string>{"key", "version", "id", "tag", "created_us", "payload"});
    CHECK(raw.Query("SELECT name FROM pragma_table_info('" + name +
                    "') WHERE pk > 0 ORDER BY pk") == std::vector<std::string>{"key", "version"});
    // The tag index, and the UNIQUE index on id.
    CHECK(raw.QueryInt("SELECT count(*) FROM pragma_index_list('" + name +
                       "') AS l WHERE (SELECT group_concat(name) FROM "
                       "pragma_index_info(l.name)) = 'tag'") == 1);
    CHECK(raw.QueryInt("SELECT count(*) FROM pragma_index_list('" + name +
                       "') AS l WHERE l.\"unique\" AND (SELECT "
                       "group_concat(name) FROM pragma_index_info(l.name)) = "
                       "'id'") == 1);
  }
}

TEST_CASE("Open makes an empty file a new store only when told to", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("empty.db");
  WriteFileBytes(path, "");
  // A store that lost its contents looks like this: refused, and untouched.
  absl::Status refused = OpenStatus(path);
  CHECK(absl::IsFailedPrecondition(refused));
  CHECK_THAT(Message(refused), Catch::Contains("empty (0 bytes)") && Catch::Contains("--init"));
  CHECK(ReadFileBytes(path).empty());

  SqliteStoreOptions options;
  options.path = path;
  options.init_empty_file = true;
  std::unique_ptr<SqliteStore> store = ValueOrFail(SqliteStore::Open(options));
  CHECK(ValueOrFail(store->Append(Table::kModels, MakeRow("gpt", "m-"))).version == 1);
  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA application_id") == SqliteStore::kApplicationId);
}

TEST_CASE("Open still creates a missing file", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("new.db");
  std::unique_ptr<SqliteStore> store = OpenStore(path);
  CHECK(ValueOrFail(store->Append(Table::kModels, MakeRow("gpt", "m-"))).version == 1);
}

TEST_CASE("Open checks its options", "[store][sqlite]") {
  CHECK(absl::IsInvalidArgument(OpenStatus("")));
  TempDir dir;
  SqliteStoreOptions options;
  options.path = dir.File("x.db");
  options.busy_timeout_ms = -1;
  CHECK(absl::IsInvalidArgument(SqliteStore::Open(options).status()));

  // A directory that does not exist: an error naming the path, no crash.
  const std::string missing = dir.File("no/such/dir/x.db");
  absl::Status status = OpenStatus(missing);
  CHECK(absl::IsFailedPrecondition(status));
  CHECK_THAT(Message(status), Catch::Contains(missing));
}

TEST_CASE("Reopening keeps the data", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  Row first;
  Row plan;
  {
    std::unique_ptr<SqliteStore> store = OpenStore(path);
    first = ValueOrFail(store->Append(Table::kHardwareProfiles, MakeRow("a100", "hw-a100-", "v1")));
    ValueOrFail(store->Append(Table::kHardwareProfiles, MakeRow("a100", "hw-a100-", "v2")));
    plan = ValueOrFail(store->InsertIfAbsent(Table::kPlans, MakeRow("hash", "plan-", "p"))).first;
  }
  std::unique_ptr<SqliteStore> store = OpenStore(path);
  std::optional<Row> again = ValueOrFail(store->Get(Table::kHardwareProfiles, "a100", 1));
  REQUIRE(again.has_value());
  CHECK(again->id == first.id);
  CHECK(again->payload == "v1");
  CHECK(again->created_unix_micros == first.created_unix_micros);
  std::optional<Row> latest = ValueOrFail(store->Get(Table::kHardwareProfiles, "a100", 0));
  REQUIRE(latest.has_value());
  CHECK(latest->payload == "v2");
  auto [existing, inserted] =
      ValueOrFail(store->InsertIfAbsent(Table::kPlans, MakeRow("hash", "plan-", "other")));
  CHECK_FALSE(inserted);
  CHECK(existing.payload == "p");
  CHECK(existing.id == plan.id);
  // Versions continue where they were.
  CHECK(ValueOrFail(store->Append(Table::kHardwareProfiles, MakeRow("a100", "hw-a100-", "v3")))
            .version == 3);

  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA user_version") == SqliteStore::LatestSchemaVersion());
}

TEST_CASE("Open refuses a file that is not SQLite", "[store][sqlite]") {
  TempDir dir;
  for (const std::string& text : {std::string("name: my notes\nnot a database at all\n"),
                                  std::string("x"), std::string(5000, 'z'),
                                  // The SQLite magic followed by garbage: SQLite itself refuses it.
                                  std::string("SQLite format 3\0", 16) + std::string(5000, 'z')}) {
    const std::string path = dir.File("notes.txt");
    WriteFileBytes(path, text);
    absl::Status status = OpenStatus(path);
    CAPTURE(status.ToString());
    CHECK(absl::IsFailedPrecondition(status));
    CHECK_THAT(Message(status), Catch::Contains(path));
    CHECK_THAT(Message(status), Catch::Contains("not a galvatron-planner store"));
    CHECK(ReadFileBytes(path) == text);  // untouched
    CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  }
}

TEST_CASE("Open refuses an SQLite file of another program", "[store][sqlite]") {
  TempDir dir;

  SECTION("another application_id") {
    const std::string path = dir.File("other.sqlite");
    {
      RawDb raw(path);
      raw.Exec("PRAGMA application_id = 305419896");  // 0x12345678
      raw.Exec("CREATE TABLE models (name TEXT)");
    }
    const std::string before = ReadFileBytes(path);
    absl::Status status = OpenStatus(path);
    CAPTURE(status.ToString());
    CHECK(absl::IsFailedPrecondition(status));
    CHECK_THAT(Message(status), Catch::Contains(path));
    CHECK_THAT(Message(status), Catch::Contains("0x12345678"));
    CHECK(ReadFileBytes(path) == before);
  }

  SECTION("another application_id and no tables") {
    const std::string path = dir.File("other-empty.sqlite");
    {
      RawDb raw(path);
      raw.Exec("PRAGMA application_id = -559038737");  // 0xDEADBEEF
    }
    absl::Status status = OpenStatus(path);
    CHECK(absl::IsFailedPrecondition(status));
    CHECK_THAT(Message(status), Catch::Contains("0xdeadbeef"));
  }

  SECTION("no application_id but tables of its own") {
    const std::string path = dir.File("unrelated.sqlite");
    {
      RawDb raw(path);
      raw.Exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
      raw.Exec("INSERT INTO customers (name) VALUES ('ada')");
    }
    const std::string before = ReadFileBytes(path);
    absl::Status status = OpenStatus(path);
    CAPTURE(status.ToString());
    CHECK(absl::IsFailedPrecondition(status));
    CHECK_THAT(Message(status), Catch::Contains(path));
    CHECK_THAT(Message(status), Catch::Contains("another program"));
    CHECK(ReadFileBytes(path) == before);
    RawDb raw(path, SQLITE_OPEN_READONLY);
    CHECK(raw.Query("SELECT name FROM sqlite_master WHERE type = 'table'") ==
          std::vector<std::string>{"customers"});
  }

  SECTION("no application_id but a user_version") {
    const std::string path = dir.File("versioned.sqlite");
    {
      RawDb raw(path);
      raw.Exec("PRAGMA user_version = 1");
    }
    CHECK(absl::IsFailedPrecondition(OpenStatus(path)));
  }
}

TEST_CASE("Open refuses a file written by a newer build", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  {
    std::unique_ptr<SqliteStore> store = OpenStore(path);
    ValueOrFail(store->Append(Table::kModels, MakeRow("gpt", "m-")));
  }
  const int newer = SqliteStore::LatestSchemaVersion() + 1;
  {
    RawDb raw(path);
    raw.Exec("PRAGMA user_version = " + std::to_string(newer));
  }
  absl::Status status = OpenStatus(path);
  CAPTURE(status.ToString());
  CHECK(absl::IsFailedPrecondition(status));
  CHECK_THAT(Message(status), Catch::Contains(path));
  CHECK_THAT(Message(status), Catch::Contains("was written by a newer galvatron-planner (schema " +
                                              std::to_string(newer) + ", this build knows " +
                                              std::to_string(newer - 1) + ")"));
  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA user_version") == newer);
  CHECK(raw.QueryInt("SELECT count(*) FROM models") == 1);
}

TEST_CASE("A failing migration leaves the file as it was", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("half.db");
  {
    // Stamped as ours at schema 0, but a table in the way of migration 1:
    // its first statements succeed, a later one fails.
    RawDb raw(path);
    raw.Exec("PRAGMA application_id = " + std::to_string(SqliteStore::kApplicationId));
    raw.Exec("CREATE TABLE plans (x INTEGER)");
  }
  absl::Status status = OpenStatus(path);
  CAPTURE(status.ToString());
  CHECK_FALSE(status.ok());
  CHECK_THAT(Message(status), Catch::Contains("migration to schema 1"));
  CHECK_THAT(Message(status), Catch::Contains("plans"));

  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA user_version") == 0);
  CHECK(raw.Query("SELECT name FROM sqlite_master WHERE type = 'table'") ==
        std::vector<std::string>{"plans"});
}

// tests/data/store/schema_v1.sqlite was written by SqliteStore at schema 1
// (see tests/data/store/README.md). Later builds must keep opening it.
TEST_CASE("The schema 1 golden file opens and reads", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("schema_v1.sqlite");
  std::filesystem::copy_file(std::string(GALVATRON_TEST_DATA_DIR) + "/store/schema_v1.sqlite",
                             path);
  std::unique_ptr<SqliteStore> store = OpenStore(path);

  std::optional<Row> model = ValueOrFail(store->Get(Table::kModels, "gpt2", 0));
  REQUIRE(model.has_value());
  CHECK(model->version == 2);
  CHECK(model->id == "model-gpt2-2");
  CHECK(model->payload == "gpt2 v2");
  CHECK(model->created_unix_micros == 1700000000000002);
  std::optional<Row> hardware = ValueOrFail(store->GetById(Table::kHardwareProfiles, "hw-a100-1"));
  REQUIRE(hardware.has_value());
  CHECK(hardware->key == "a100");
  CHECK(hardware->payload == std::string("\0\x01\x02\xff", 4));
  ListOptions cluster;
  cluster.tag = "a100";
  std::vector<Row> compute = ValueOrFail(store->List(Table::kComputeProfiles, cluster));
  REQUIRE(compute.size() == 2);
  CHECK(compute[0].key == "a100/attention");
  CHECK(compute[1].key == "a100/mlp");
  std::optional<Row> plan = ValueOrFail(store->Get(Table::kPlans, "c0ffee", 1));
  REQUIRE(plan.has_value());
  CHECK(plan->tag == "gpt2");
  CHECK(ValueOrFail(store->Append(Table::kModels, MakeRow("gpt2", "model-gpt2-"))).version == 3);
  // Migration 2 added the nodes table, empty and usable.
  ListOptions all;
  CHECK(ValueOrFail(store->List(Table::kNodes, all)).empty());
  Row node = ValueOrFail(
      store->Append(Table::kNodes, MakeRow("test/n1", "node-test-n1-", "payload", "test")));
  CHECK(node.version == 1);
  CHECK(ValueOrFail(store->Get(Table::kNodes, "test/n1", 0)).has_value());

  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA user_version") == SqliteStore::LatestSchemaVersion());
  CHECK(raw.QueryInt("PRAGMA user_version") == 5);
  CHECK(raw.QueryInt("PRAGMA application_id") == SqliteStore::kApplicationId);
}

// tests/data/store/schema_v2.sqlite was written by galvatron-planner at schema
// 2 (see tests/data/store/README.md): a model and a registered node.
TEST_CASE("The schema 2 golden file opens and reads", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("schema_v2.sqlite");
  std::filesystem::copy_file(std::string(GALVATRON_TEST_DATA_DIR) + "/store/schema_v2.sqlite",
                             path);
  std::unique_ptr<SqliteStore> store = OpenStore(path);

  std::optional<Row> model = ValueOrFail(store->Get(Table::kModels, "golden-v2", 0));
  REQUIRE(model.has_value());
  CHECK(model->id == "golden-v2@1");
  CHECK(model->created_unix_micros == 1700000000000001);
  std::optional<Row> node = ValueOrFail(store->GetById(Table::kNodes, "node-gold-n1-1"));
  REQUIRE(node.has_value());
  CHECK(node->key == "gold/n1");
  CHECK(node->tag == "gold");
  CHECK(!node->payload.empty());
  // Migration 3 added the tasks table, empty and usable.
  ListOptions all;
  CHECK(ValueOrFail(store->List(Table::kTasks, all)).empty());
  Row task =
      ValueOrFail(store->Append(Table::kTasks, MakeRow("task-1", "task-1@", "payload", "gold")));
  CHECK(task.id == "task-1@1");

  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA user_version") == SqliteStore::LatestSchemaVersion());
  CHECK(raw.QueryInt("PRAGMA user_version") == 5);
}

// tests/data/store/schema_v3.sqlite was written by galvatron-planner at schema
// 3 (see tests/data/store/README.md): a model, a node and a failed task.
TEST_CASE("The schema 3 golden file opens and reads", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("schema_v3.sqlite");
  std::filesystem::copy_file(std::string(GALVATRON_TEST_DATA_DIR) + "/store/schema_v3.sqlite",
                             path);
  std::unique_ptr<SqliteStore> store = OpenStore(path);

  std::optional<Row> model = ValueOrFail(store->Get(Table::kModels, "golden-v3", 0));
  REQUIRE(model.has_value());
  CHECK(model->id == "golden-v3@1");
  ListOptions versions;
  versions.latest_only = false;
  versions.key = "task-1";
  const std::vector<Row> task = ValueOrFail(store->List(Table::kTasks, versions));
  REQUIRE(task.size() == 3);
  CHECK(task[2].id == "task-1@3");
  CHECK(task[2].tag == "gold");
  CHECK(task[0].created_unix_micros == 1700000000000501);
  // Migration 4 added the jobs and job_metrics tables, empty and usable.
  ListOptions all;
  CHECK(ValueOrFail(store->List(Table::kJobs, all)).empty());
  CHECK(
      ValueOrFail(store->Append(Table::kJobs, MakeRow("job-1", "job-1@", "payload", "gold"))).id ==
      "job-1@1");
  CHECK(ValueOrFail(store->Append(Table::kJobMetrics, MakeRow("job-1/000000000001",
                                                              "job-1/000000000001@", "m", "job-1")))
            .version == 1);

  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA user_version") == SqliteStore::LatestSchemaVersion());
  CHECK(raw.QueryInt("PRAGMA user_version") == 5);
}

// tests/data/store/schema_v4.sqlite was written by galvatron-planner at schema
// 4 (see tests/data/store/README.md): a model, a node, a job whose measuring
// failed, and its tasks.
TEST_CASE("The schema 4 golden file opens and reads", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("schema_v4.sqlite");
  std::filesystem::copy_file(std::string(GALVATRON_TEST_DATA_DIR) + "/store/schema_v4.sqlite",
                             path);
  std::unique_ptr<SqliteStore> store = OpenStore(path);

  std::optional<Row> model = ValueOrFail(store->Get(Table::kModels, "golden-v4", 0));
  REQUIRE(model.has_value());
  CHECK(model->id == "golden-v4@1");
  ListOptions versions;
  versions.latest_only = false;
  versions.key = "job-1";
  const std::vector<Row> job = ValueOrFail(store->List(Table::kJobs, versions));
  REQUIRE(job.size() == 3);
  CHECK(job[2].id == "job-1@3");
  CHECK(job[2].tag == "gold");
  CHECK(job[0].created_unix_micros == 1700000000000601);
  CHECK(!job[2].payload.empty());
  // Migration 5 added the calibrations table, empty and usable.
  ListOptions all;
  CHECK(ValueOrFail(store->List(Table::kCalibrations, all)).empty());
  CHECK(ValueOrFail(store->Append(Table::kCalibrations, MakeRow("gold", "cal-gold-", "payload")))
            .id == "cal-gold-1");

  RawDb raw(path, SQLITE_OPEN_READONLY);
  CHECK(raw.QueryInt("PRAGMA user_version") == SqliteStore::LatestSchemaVersion());
  CHECK(raw.QueryInt("PRAGMA user_version") == 5);
}

TEST_CASE("Reads see committed data while another connection writes", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  std::unique_ptr<SqliteStore> store = OpenStore(path, /*busy_timeout_ms=*/50);
  ValueOrFail(store->Append(Table::kModels, MakeRow("gpt", "m-gpt-", "v1")));

  // Another connection holds an open write transaction with an uncommitted
  // row, as a long write would.
  RawDb other(path);
  other.Exec("BEGIN IMMEDIATE");
  other.Exec(
      "INSERT INTO models (key, version, id, tag, created_us, payload) "
      "VALUES ('pending', 1, 'm-pending-1', '', 1, x'00')");
  other.Exec(
      "INSERT INTO models (key, version, id, tag, created_us, payload) "
      "VALUES ('gpt', 2, 'm-gpt-2', '', 1, x'00')");

  // Readers are not blocked and see the committed state only.
  std::optional<Row> gpt = ValueOrFail(store->Get(Table::kModels, "gpt", 0));
  REQUIRE(gpt.has_value());
  CHECK(gpt->version == 1);
  CHECK(gpt->payload == "v1");
  CHECK_FALSE(ValueOrFail(store->Get(Table::kModels, "pending", 0)).has_value());
  CHECK_FALSE(ValueOrFail(store->GetById(Table::kModels, "m-pending-1")).has_value());
  ListOptions all;
  all.latest_only = false;
  CHECK(ValueOrFail(store->List(Table::kModels, all)).size() == 1);

  // Reads from other threads too (each borrows its own read connection).
  std::vector<std::thread> readers;
  std::atomic<int> good_reads{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      absl::StatusOr<std::optional<Row>> row = store->Get(Table::kModels, "gpt", 0);
      if (row.ok() && row->has_value() && (*row)->version == 1) ++good_reads;
    });
  }
  for (std::thread& reader : readers) reader.join();
  CHECK(good_reads == 4);

  // A write waits busy_timeout_ms and then fails cleanly.
  absl::StatusOr<Row> blocked = store->Append(Table::kModels, MakeRow("gpt", "m-gpt-", "v2"));
  CAPTURE(blocked.status().ToString());
  CHECK(absl::IsUnavailable(blocked.status()));
  CHECK_THAT(Message(blocked.status()), Catch::Contains(path));

  other.Exec("COMMIT");
  gpt = ValueOrFail(store->Get(Table::kModels, "gpt", 0));
  REQUIRE(gpt.has_value());
  CHECK(gpt->version == 2);
  CHECK(ValueOrFail(store->Get(Table::kModels, "pending", 0)).has_value());
  // The store's writer works again, after its failed transaction.
  CHECK(ValueOrFail(store->Append(Table::kModels, MakeRow("gpt", "m-gpt-"))).version == 3);
}

TEST_CASE("Concurrent writers and readers stay consistent", "[store][sqlite]") {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenStore(dir.File("store.db"));
  constexpr int kWriters = 3;
  constexpr int kReaders = 3;
  constexpr int kAppendsPerWriter = 40;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto key_of = [](int writer) { return "key-" + std::to_string(writer); };

  std::atomic<int> writers_running{kWriters};
  std::vector<std::string> writer_errors(kWriters);
  std::vector<std::string> reader_errors(kReaders);
  std::vector<int> reader_checks(kReaders, 0);
  std::vector<std::thread> threads;

  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 1; i <= kAppendsPerWriter && std::chrono::steady_clock::now() < deadline; ++i) {
        absl::StatusOr<Row> row = store->Append(
            Table::kComputeProfiles, MakeRow(key_of(w), key_of(w) + "-", std::to_string(i), "tag"));
        if (!row.ok() || row->version != i) {
          writer_errors[w] =
              row.ok() ? "version " + std::to_string(row->version) : row.status().ToString();
          break;
        }
      }
      --writers_running;
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      std::vector<int64_t> last_seen(kWriters, 0);
      auto fail = [&](const std::string& error) { reader_errors[r] = error; };
      // Until the writers are done, and once more after that.
      bool last_round = false;
      while (reader_errors[r].empty() && std::chrono::steady_clock::now() < deadline) {
        last_round = writers_running == 0;
        for (int w = 0; w < kWriters && reader_errors[r].empty(); ++w) {
          absl::StatusOr<std::optional<Row>> latest =
              store->Get(Table::kComputeProfiles, key_of(w), 0);
          if (!latest.ok()) return fail(latest.status().ToString());
          const int64_t version = latest->has_value() ? (*latest)->version : 0;
          // Committed versions never go back, and payload matches version.
          if (version < last_seen[w]) return fail("latest went back");
          if (version > 0 && (*latest)->payload != std::to_string(version)) {
            return fail("payload does not match version");
          }
          last_seen[w] = version;
          // Every version of the key is there, consecutive from 1.
          ListOptions all;
          all.key = key_of(w);
          all.latest_only = false;
          all.limit = kMaxListLimit;
          absl::StatusOr<std::vector<Row>> rows = store->List(Table::kComputeProfiles, all);
          if (!rows.ok()) return fail(rows.status().ToString());
          if (static_cast<int64_t>(rows->size()) < version) {
            return fail("List has fewer rows than the latest version");
          }
          for (size_t i = 0; i < rows->size(); ++i) {
            if ((*rows)[i].version != static_cast<int64_t>(i + 1)) {
              return fail("versions are not consecutive");
            }
          }
          ++reader_checks[r];
        }
        if (last_round) break;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int w = 0; w < kWriters; ++w) {
    CAPTURE(w);
    CHECK(writer_errors[w].empty());
    std::optional<Row> latest = ValueOrFail(store->Get(Table::kComputeProfiles, key_of(w), 0));
    REQUIRE(latest.has_value());
    CHECK(latest->version == kAppendsPerWriter);
  }
  for (int r = 0; r < kReaders; ++r) {
    CAPTURE(r, reader_errors[r]);
    CHECK(reader_errors[r].empty());
    CHECK(reader_checks[r] > 0);
  }
}

TEST_CASE("A write that returned OK survives a killed process", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
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
    char result = 'E';
    if (store.ok()) {
      absl::StatusOr<Row> row =
          (*store)->Append(Table::kPlans, MakeRow("durable", "plan-", "committed"));
      if (row.ok() && row->version == 1) result = 'K';
    }
    if (write(ready[1], &result, 1) != 1) _exit(2);
    while (true) pause();
  }
  close(ready[1]);
  char result = 0;
  const ssize_t n = read(ready[0], &result, 1);
  close(ready[0]);
  kill(child, SIGKILL);
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  REQUIRE(n == 1);
  REQUIRE(result == 'K');
  CHECK(WIFSIGNALED(wait_status));
  // Killed with its connections open: the committed row is still in the WAL.
  CHECK(std::filesystem::exists(path + "-wal"));

  std::unique_ptr<SqliteStore> store = OpenStore(path);
  std::optional<Row> row = ValueOrFail(store->Get(Table::kPlans, "durable", 0));
  REQUIRE(row.has_value());
  CHECK(row->payload == "committed");
}

}  // namespace
}  // namespace galvatron::store
