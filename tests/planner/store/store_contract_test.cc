// The Store contract (store.h), checked against every implementation: each
// TEMPLATE_TEST_CASE runs once on a SqliteStore in a temporary file and once
// on a MemoryStore.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "planner/store/memory_store.h"
#include "planner/store/sqlite_store.h"
#include "planner/store/store.h"
#include "tests/planner/store/store_test_util.h"
#include "tests/support/test_support.h"

namespace galvatron::store {
namespace {

using ::galvatron::testing::TempDir;
using store_test::ValueOrFail;

class SqliteStoreUnderTest {
 public:
  SqliteStoreUnderTest() {
    SqliteStoreOptions options;
    options.path = dir_.File("store.db");
    store_ = ValueOrFail(SqliteStore::Open(options));
  }
  Store& store() { return *store_; }

 private:
  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

class MemoryStoreUnderTest {
 public:
  Store& store() { return store_; }

 private:
  MemoryStore store_;
};

#define STORE_CONTRACT_TEST(name) \
  TEMPLATE_TEST_CASE(name, "[store][contract]", SqliteStoreUnderTest, MemoryStoreUnderTest)

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

NewRow MakeRow(std::string key, std::string id_prefix, std::string tag = "",
               std::string payload = "payload") {
  NewRow row;
  row.key = std::move(key);
  row.id_prefix = std::move(id_prefix);
  row.tag = std::move(tag);
  row.payload = std::move(payload);
  return row;
}

// (key, version) of each row, for compact comparisons.
using PositionList = std::vector<std::pair<std::string, int64_t>>;
PositionList Positions(const std::vector<Row>& rows) {
  PositionList positions;
  for (const Row& row : rows) positions.emplace_back(row.key, row.version);
  return positions;
}

void RequireSameRow(const Row& a, const Row& b) {
  CHECK(a.key == b.key);
  CHECK(a.version == b.version);
  CHECK(a.id == b.id);
  CHECK(a.tag == b.tag);
  CHECK(a.created_unix_micros == b.created_unix_micros);
  CHECK(a.payload == b.payload);
}

STORE_CONTRACT_TEST("Append assigns versions, ids and the creation time") {
  TestType under_test;
  Store& store = under_test.store();

  const int64_t before = NowUnixMicros();
  Row v1 = ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "model-gpt-", "llm", "a")));
  Row v2 = ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "model-gpt-", "llm", "b")));
  Row v3 = ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "model-gpt-", "", "c")));
  Row other = ValueOrFail(store.Append(Table::kModels, MakeRow("bert", "model-bert-", "", "d")));
  const int64_t after = NowUnixMicros();

  CHECK(v1.version == 1);
  CHECK(v2.version == 2);
  CHECK(v3.version == 3);
  CHECK(other.version == 1);
  CHECK(v1.id == "model-gpt-1");
  CHECK(v3.id == "model-gpt-3");
  CHECK(other.id == "model-bert-1");
  CHECK(v1.key == "gpt");
  CHECK(v2.tag == "llm");
  CHECK(v3.tag.empty());
  CHECK(v2.payload == "b");
  for (const Row& row : {v1, v2, v3, other}) {
    CHECK(row.created_unix_micros >= before);
    CHECK(row.created_unix_micros <= after);
  }
  CHECK(v1.created_unix_micros <= v3.created_unix_micros);

  // What Append returned is what is stored.
  std::optional<Row> stored = ValueOrFail(store.Get(Table::kModels, "gpt", 2));
  REQUIRE(stored.has_value());
  RequireSameRow(*stored, v2);
}

STORE_CONTRACT_TEST("Payloads and keys are stored byte for byte") {
  TestType under_test;
  Store& store = under_test.store();

  const std::string binary("\0\x01\xff\xfe payload \0 end", 18);
  std::string large(3 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7);
  const std::string unicode_key = "clüster/аттн/注意";

  ValueOrFail(store.Append(Table::kPlans, MakeRow("binary", "p-", "", binary)));
  ValueOrFail(store.Append(Table::kPlans, MakeRow("large", "l-", "", large)));
  ValueOrFail(store.Append(Table::kPlans, MakeRow("empty", "e-", "", "")));
  ValueOrFail(store.Append(Table::kPlans, MakeRow(unicode_key, "u-", "тег", "x")));

  auto payload_of = [&](const std::string& key) {
    std::optional<Row> row = ValueOrFail(store.Get(Table::kPlans, key, 0));
    REQUIRE(row.has_value());
    return row->payload;
  };
  CHECK(payload_of("binary") == binary);
  CHECK(payload_of("binary").size() == 18);
  CHECK(payload_of("large") == large);
  CHECK(payload_of("empty").empty());
  std::optional<Row> unicode = ValueOrFail(store.Get(Table::kPlans, unicode_key, 0));
  REQUIRE(unicode.has_value());
  CHECK(unicode->key == unicode_key);
  CHECK(unicode->tag == "тег");
}

STORE_CONTRACT_TEST("Append and InsertIfAbsent reject a bad row") {
  TestType under_test;
  Store& store = under_test.store();

  absl::StatusOr<Row> no_key = store.Append(Table::kModels, MakeRow("", "m-"));
  CHECK(absl::IsInvalidArgument(no_key.status()));
  CHECK_THAT(std::string(no_key.status().message()), Catch::Contains("key must not be empty"));
  absl::StatusOr<Row> no_prefix = store.Append(Table::kModels, MakeRow("gpt", ""));
  CHECK(absl::IsInvalidArgument(no_prefix.status()));
  CHECK_THAT(std::string(no_prefix.status().message()), Catch::Contains("id_prefix"));
  CHECK(absl::IsInvalidArgument(store.InsertIfAbsent(Table::kModels, MakeRow("", "m-")).status()));
  CHECK(
      absl::IsInvalidArgument(store.Append(static_cast<Table>(42), MakeRow("gpt", "m-")).status()));
  CHECK(absl::IsInvalidArgument(store.Get(static_cast<Table>(42), "gpt", 0).status()));

  ListOptions all;
  all.latest_only = false;
  CHECK(ValueOrFail(store.List(Table::kModels, all)).empty());
}

STORE_CONTRACT_TEST("Append refuses an id that another key already has") {
  TestType under_test;
  Store& store = under_test.store();

  Row first =
      ValueOrFail(store.Append(Table::kHardwareProfiles, MakeRow("a100", "hw-", "", "first")));
  REQUIRE(first.id == "hw-1");
  absl::StatusOr<Row> clash =
      store.Append(Table::kHardwareProfiles, MakeRow("h100", "hw-", "", "x"));
  CHECK(absl::IsAlreadyExists(clash.status()));
  CHECK_THAT(std::string(clash.status().message()), Catch::Contains("hw-1"));

  // Nothing of the refused row was stored, and the first row is intact.
  CHECK_FALSE(ValueOrFail(store.Get(Table::kHardwareProfiles, "h100", 0)).has_value());
  std::optional<Row> by_id = ValueOrFail(store.GetById(Table::kHardwareProfiles, "hw-1"));
  REQUIRE(by_id.has_value());
  CHECK(by_id->key == "a100");
  CHECK(by_id->payload == "first");
  // The store is still usable after the failed transaction.
  CHECK(ValueOrFail(store.Append(Table::kHardwareProfiles, MakeRow("a100", "hw-", "", "second")))
            .version == 2);
}

STORE_CONTRACT_TEST("InsertIfAbsent inserts version 1 once") {
  TestType under_test;
  Store& store = under_test.store();

  auto [inserted, was_inserted] =
      ValueOrFail(store.InsertIfAbsent(Table::kPlans, MakeRow("hash1", "plan-", "t", "p1")));
  CHECK(was_inserted);
  CHECK(inserted.version == 1);
  CHECK(inserted.id == "plan-1");
  CHECK(inserted.payload == "p1");

  auto [existing, inserted_again] = ValueOrFail(
      store.InsertIfAbsent(Table::kPlans, MakeRow("hash1", "plan-", "t", "other payload")));
  CHECK_FALSE(inserted_again);
  RequireSameRow(existing, inserted);

  // With several versions, the existing row returned is the newest.
  Row v2 = ValueOrFail(store.Append(Table::kPlans, MakeRow("hash1", "plan-", "t", "p2")));
  auto [newest, inserted_third] =
      ValueOrFail(store.InsertIfAbsent(Table::kPlans, MakeRow("hash1", "plan-", "t", "x")));
  CHECK_FALSE(inserted_third);
  RequireSameRow(newest, v2);

  ListOptions all;
  all.latest_only = false;
  CHECK(ValueOrFail(store.List(Table::kPlans, all)).size() == 2);
}

STORE_CONTRACT_TEST("Get reads the latest or a given version") {
  TestType under_test;
  Store& store = under_test.store();

  CHECK_FALSE(ValueOrFail(store.Get(Table::kModels, "gpt", 0)).has_value());
  ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "m-", "", "one")));
  ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "m-", "", "two")));

  std::optional<Row> latest = ValueOrFail(store.Get(Table::kModels, "gpt", 0));
  REQUIRE(latest.has_value());
  CHECK(latest->version == 2);
  CHECK(latest->payload == "two");
  std::optional<Row> first = ValueOrFail(store.Get(Table::kModels, "gpt", 1));
  REQUIRE(first.has_value());
  CHECK(first->payload == "one");
  CHECK_FALSE(ValueOrFail(store.Get(Table::kModels, "gpt", 3)).has_value());
  CHECK_FALSE(ValueOrFail(store.Get(Table::kModels, "gp", 0)).has_value());
  CHECK_FALSE(ValueOrFail(store.Get(Table::kPlans, "gpt", 0)).has_value());

  absl::StatusOr<std::optional<Row>> negative = store.Get(Table::kModels, "gpt", -1);
  CHECK(absl::IsInvalidArgument(negative.status()));
  CHECK_THAT(std::string(negative.status().message()), Catch::Contains("version"));
}

STORE_CONTRACT_TEST("Every table stores and lists its own rows") {
  TestType under_test;
  Store& store = under_test.store();
  for (Table table :
       {Table::kModels, Table::kHardwareProfiles, Table::kComputeProfiles, Table::kPlans,
        Table::kNodes, Table::kTasks, Table::kJobs, Table::kJobMetrics, Table::kCalibrations}) {
    INFO(TableName(table));
    Row row = ValueOrFail(store.Append(table, MakeRow("c1/n1", "t-", "c1")));
    CHECK(row.version == 1);
    ListOptions by_tag;
    by_tag.tag = "c1";
    CHECK(ValueOrFail(store.List(table, by_tag)).size() == 1);
  }
}

STORE_CONTRACT_TEST("GetById finds a row by its id in its table only") {
  TestType under_test;
  Store& store = under_test.store();

  ValueOrFail(store.Append(Table::kComputeProfiles, MakeRow("c1/attn", "cp-c1-attn-", "c1", "v1")));
  ValueOrFail(store.Append(Table::kComputeProfiles, MakeRow("c1/attn", "cp-c1-attn-", "c1", "v2")));

  std::optional<Row> row = ValueOrFail(store.GetById(Table::kComputeProfiles, "cp-c1-attn-1"));
  REQUIRE(row.has_value());
  CHECK(row->key == "c1/attn");
  CHECK(row->version == 1);
  CHECK(row->payload == "v1");
  CHECK_FALSE(ValueOrFail(store.GetById(Table::kComputeProfiles, "cp-c1-attn-3")).has_value());
  CHECK_FALSE(ValueOrFail(store.GetById(Table::kPlans, "cp-c1-attn-1")).has_value());
}

STORE_CONTRACT_TEST("Tables are independent") {
  TestType under_test;
  Store& store = under_test.store();

  for (Table table :
       {Table::kModels, Table::kHardwareProfiles, Table::kComputeProfiles, Table::kPlans}) {
    Row row = ValueOrFail(store.Append(table, MakeRow("same", "id-", "", TableName(table))));
    CHECK(row.version == 1);
    CHECK(row.id == "id-1");
  }
  CHECK(ValueOrFail(store.Delete(Table::kPlans, "same")) == 1);
  CHECK_FALSE(ValueOrFail(store.Get(Table::kPlans, "same", 0)).has_value());
  std::optional<Row> model = ValueOrFail(store.Get(Table::kModels, "same", 0));
  REQUIRE(model.has_value());
  CHECK(model->payload == "models");
}

// Rows of several keys, versions and tags in kComputeProfiles:
//   c1/attn v1 v2 (tag c1), c1/mlp v1 (c1), c2/attn v1 v2 v3 (c2),
//   c3/x v1 (tag c3), v2 (tag other).
void AddListFixture(Store& store) {
  auto add = [&](const std::string& key, const std::string& tag) {
    ValueOrFail(store.Append(Table::kComputeProfiles, MakeRow(key, "cp-" + key + "-", tag, key)));
  };
  add("c2/attn", "c2");
  add("c1/attn", "c1");
  add("c3/x", "c3");
  add("c2/attn", "c2");
  add("c1/mlp", "c1");
  add("c1/attn", "c1");
  add("c2/attn", "c2");
  add("c3/x", "other");
  ValueOrFail(store.Append(Table::kPlans, MakeRow("c1/attn", "plan-")));
}

STORE_CONTRACT_TEST("List filters by key and tag, newest or every version") {
  TestType under_test;
  Store& store = under_test.store();
  AddListFixture(store);
  auto list = [&](ListOptions options) {
    return Positions(ValueOrFail(store.List(Table::kComputeProfiles, options)));
  };

  ListOptions latest;  // the defaults: latest_only, no filter
  CHECK(list(latest) == PositionList{{"c1/attn", 2}, {"c1/mlp", 1}, {"c2/attn", 3}, {"c3/x", 2}});
  ListOptions all;
  all.latest_only = false;
  CHECK(list(all) == PositionList{{"c1/attn", 1},
                                  {"c1/attn", 2},
                                  {"c1/mlp", 1},
                                  {"c2/attn", 1},
                                  {"c2/attn", 2},
                                  {"c2/attn", 3},
                                  {"c3/x", 1},
                                  {"c3/x", 2}});

  ListOptions key = all;
  key.key = "c2/attn";
  CHECK(list(key) == PositionList{{"c2/attn", 1}, {"c2/attn", 2}, {"c2/attn", 3}});
  key.latest_only = true;
  CHECK(list(key) == PositionList{{"c2/attn", 3}});
  key.key = "c2";  // a prefix is not a key
  CHECK(list(key).empty());

  ListOptions tag = all;
  tag.tag = "c1";
  CHECK(list(tag) == PositionList{{"c1/attn", 1}, {"c1/attn", 2}, {"c1/mlp", 1}});
  tag.latest_only = true;
  CHECK(list(tag) == PositionList{{"c1/attn", 2}, {"c1/mlp", 1}});
  // latest_only applies before the tag filter: c3/x's newest version has
  // another tag.
  tag.tag = "c3";
  CHECK(list(tag).empty());
  tag.latest_only = false;
  CHECK(list(tag) == PositionList{{"c3/x", 1}});
  tag.tag = "other";
  tag.latest_only = true;
  CHECK(list(tag) == PositionList{{"c3/x", 2}});

  ListOptions both = all;
  both.key = "c1/attn";
  both.tag = "c2";
  CHECK(list(both).empty());
  both.tag = "c1";
  CHECK(list(both) == PositionList{{"c1/attn", 1}, {"c1/attn", 2}});

  // Rows carry every field.
  std::vector<Row> rows = ValueOrFail(store.List(Table::kComputeProfiles, latest));
  REQUIRE(rows.size() == 4);
  CHECK(rows[2].id == "cp-c2/attn-3");
  CHECK(rows[2].tag == "c2");
  CHECK(rows[2].payload == "c2/attn");
  CHECK(rows[2].created_unix_micros > 0);
}

STORE_CONTRACT_TEST("List pages strictly after (after_key, after_version)") {
  TestType under_test;
  Store& store = under_test.store();
  AddListFixture(store);

  for (bool latest_only : {false, true}) {
    CAPTURE(latest_only);
    ListOptions everything;
    everything.latest_only = latest_only;
    everything.limit = kMaxListLimit;
    std::vector<Row> expected = ValueOrFail(store.List(Table::kComputeProfiles, everything));

    for (int limit : {1, 2, 3}) {
      CAPTURE(limit);
      std::vector<Row> paged;
      ListOptions page = everything;
      page.limit = limit;
      for (int pages = 0; pages <= 10; ++pages) {
        std::vector<Row> rows = ValueOrFail(store.List(Table::kComputeProfiles, page));
        CHECK(rows.size() <= static_cast<size_t>(limit));
        if (rows.empty()) break;
        paged.insert(paged.end(), rows.begin(), rows.end());
        page.after_key = rows.back().key;
        page.after_version = rows.back().version;
      }
      CHECK(Positions(paged) == Positions(expected));
    }
  }

  ListOptions middle;
  middle.latest_only = false;
  middle.after_key = "c2/attn";
  middle.after_version = 1;
  middle.limit = 2;
  CHECK(Positions(ValueOrFail(store.List(Table::kComputeProfiles, middle))) ==
        PositionList{{"c2/attn", 2}, {"c2/attn", 3}});
  // A position that is not a row works too: after ("c1/b", 0).
  middle.after_key = "c1/b";
  middle.after_version = 0;
  middle.limit = 1;
  CHECK(Positions(ValueOrFail(store.List(Table::kComputeProfiles, middle))) ==
        PositionList{{"c1/mlp", 1}});
  middle.after_key = "c3/x";
  middle.after_version = 2;
  CHECK(ValueOrFail(store.List(Table::kComputeProfiles, middle)).empty());
}

STORE_CONTRACT_TEST("List checks the limit") {
  TestType under_test;
  Store& store = under_test.store();
  ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "m-")));

  for (int bad : {0, -1, kMaxListLimit + 1}) {
    CAPTURE(bad);
    ListOptions options;
    options.limit = bad;
    absl::StatusOr<std::vector<Row>> rows = store.List(Table::kModels, options);
    CHECK(absl::IsInvalidArgument(rows.status()));
    CHECK_THAT(std::string(rows.status().message()), Catch::Contains("limit"));
  }
  for (int good : {1, kMaxListLimit}) {
    ListOptions options;
    options.limit = good;
    CHECK(ValueOrFail(store.List(Table::kModels, options)).size() == 1);
  }
}

STORE_CONTRACT_TEST("Delete removes every version of a key") {
  TestType under_test;
  Store& store = under_test.store();
  for (int i = 0; i < 3; ++i) {
    ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "m-gpt-")));
  }
  ValueOrFail(store.Append(Table::kModels, MakeRow("bert", "m-bert-")));

  CHECK(ValueOrFail(store.Delete(Table::kModels, "gpt")) == 3);
  CHECK_FALSE(ValueOrFail(store.Get(Table::kModels, "gpt", 0)).has_value());
  CHECK_FALSE(ValueOrFail(store.Get(Table::kModels, "gpt", 2)).has_value());
  CHECK_FALSE(ValueOrFail(store.GetById(Table::kModels, "m-gpt-1")).has_value());
  CHECK(ValueOrFail(store.Delete(Table::kModels, "gpt")) == 0);
  CHECK(ValueOrFail(store.Delete(Table::kModels, "never-there")) == 0);
  CHECK(ValueOrFail(store.Get(Table::kModels, "bert", 0)).has_value());

  // The key starts again at version 1; its old ids are free again.
  Row again = ValueOrFail(store.Append(Table::kModels, MakeRow("gpt", "m-gpt-")));
  CHECK(again.version == 1);
  CHECK(again.id == "m-gpt-1");
}

STORE_CONTRACT_TEST("Concurrent Appends get unique consecutive versions") {
  TestType under_test;
  Store& store = under_test.store();
  constexpr int kThreads = 6;
  constexpr int kAppendsPerThread = 20;

  std::vector<std::vector<int64_t>> versions(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        absl::StatusOr<Row> row = store.Append(
            Table::kPlans,
            MakeRow("shared", "plan-shared-", "", std::to_string(t) + "/" + std::to_string(i)));
        // Each thread also writes a key of its own.
        absl::StatusOr<Row> own = store.Append(
            Table::kPlans, MakeRow("own-" + std::to_string(t), "own-" + std::to_string(t) + "-"));
        if (!row.ok() || !own.ok()) {
          errors[t] = (row.ok() ? own.status() : row.status()).ToString();
          return;
        }
        versions[t].push_back(row->version);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK(errors[t].empty());
    // A thread's own appends are ordered.
    CHECK(std::is_sorted(versions[t].begin(), versions[t].end()));
    all.insert(all.end(), versions[t].begin(), versions[t].end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(kThreads * kAppendsPerThread);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  CHECK(all == expected);

  ListOptions shared;
  shared.key = "shared";
  shared.latest_only = false;
  shared.limit = kMaxListLimit;
  std::vector<Row> rows = ValueOrFail(store.List(Table::kPlans, shared));
  REQUIRE(rows.size() == expected.size());
  std::set<std::string> ids;
  std::set<std::string> payloads;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].version == static_cast<int64_t>(i + 1));
    ids.insert(rows[i].id);
    payloads.insert(rows[i].payload);
  }
  CHECK(ids.size() == rows.size());
  CHECK(payloads.size() == rows.size());
  for (int t = 0; t < kThreads; ++t) {
    std::optional<Row> own = ValueOrFail(store.Get(Table::kPlans, "own-" + std::to_string(t), 0));
    REQUIRE(own.has_value());
    CHECK(own->version == kAppendsPerThread);
  }
}

}  // namespace
}  // namespace galvatron::store
