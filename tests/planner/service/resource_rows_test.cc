#include "planner/service/resource_rows.h"

#include <catch2/catch.hpp>

#include <set>

#include "planner/store/memory_store.h"

namespace galvatron::planner {

TEST_CASE("page tokens round-trip and reject garbage") {
  std::string key;
  int64_t version = 7;
  REQUIRE(DecodePageToken("", &key, &version).ok());
  CHECK(key.empty());
  CHECK(version == 0);
  REQUIRE(DecodePageToken(EncodePageToken("a/b:c\nd", 42), &key, &version).ok());
  CHECK(key == "a/b:c\nd");
  CHECK(version == 42);
  auto bad = DecodePageToken("not*base64", &key, &version);
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK(DecodePageToken(EncodePageToken("k", 1).substr(1), &key, &version).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("page size defaults and limits") {
  CHECK(*ResolvePageSize(0) == kDefaultPageSize);
  CHECK(*ResolvePageSize(1) == 1);
  CHECK(*ResolvePageSize(kMaxPageSize) == kMaxPageSize);
  CHECK(ResolvePageSize(-1).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ResolvePageSize(kMaxPageSize + 1).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("deterministic payloads decode with the row's fields") {
  v1::HardwareProfile p;
  p.set_cluster("c1");
  p.set_num_nodes(2);
  CHECK(DeterministicBytes(p) == DeterministicBytes(p));
  store::Row row;
  row.key = "c1";
  row.version = 3;
  row.id = "hw-c1-3";
  row.created_unix_micros = 1700000000123456;
  row.payload = DeterministicBytes(p);
  auto decoded = DecodeRow<v1::HardwareProfile>(store::Table::kHardwareProfiles, row);
  REQUIRE(decoded.ok());
  CHECK(decoded->id() == "hw-c1-3");
  CHECK(decoded->version() == 3);
  CHECK(decoded->created_at().seconds() == 1700000000);
  CHECK(decoded->num_nodes() == 2);
  row.payload = "\xff\xff\xff";
  CHECK(DecodeRow<v1::HardwareProfile>(store::Table::kHardwareProfiles, row).status().code() ==
        absl::StatusCode::kDataLoss);
}

TEST_CASE("ListPage pages through filtered rows exactly once") {
  store::MemoryStore store;
  for (int i = 0; i < 25; ++i) {
    v1::HardwareProfile p;
    p.set_cluster("c" + std::to_string(100 + i));
    p.set_num_nodes(i);
    store::NewRow row;
    row.key = p.cluster();
    row.id_prefix = "hw-" + p.cluster() + "-";
    row.payload = DeterministicBytes(p);
    REQUIRE(store.Append(store::Table::kHardwareProfiles, row).ok());
  }
  auto even = [](const v1::HardwareProfile& p) { return p.num_nodes() % 2 == 0; };
  std::string token;
  std::set<int> seen;
  int pages = 0;
  do {
    std::string next;
    auto page = ListPage<v1::HardwareProfile>(&store, store::Table::kHardwareProfiles, {}, token, 4,
                                              even, &next);
    REQUIRE(page.ok());
    REQUIRE(page->size() <= 4);
    for (const auto& p : *page) {
      CHECK(p.num_nodes() % 2 == 0);
      CHECK(seen.insert(p.num_nodes()).second);
    }
    token = next;
    ++pages;
    REQUIRE(pages < 20);
  } while (!token.empty());
  CHECK(seen.size() == 13);  // 0, 2, ..., 24
  CHECK(pages == 4);         // 4 + 4 + 4 + 1, and no empty last page
}

}  // namespace galvatron::planner
