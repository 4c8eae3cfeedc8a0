#include "common/units.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

namespace galvatron {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

int64_t Bytes(const std::string& text) {
  auto bytes = ParseBytes(text);
  INFO(text << ": " << bytes.status().ToString());
  REQUIRE(bytes.ok());
  return *bytes;
}

TEST_CASE("ParseBytes: binary units") {
  CHECK(Bytes("36GiB") == 36 * kGiB);
  CHECK(Bytes("1.5 GiB") == kGiB * 3 / 2);
  CHECK(Bytes("512MiB") == int64_t{512} << 20);
  CHECK(Bytes("4 KiB") == 4096);
  CHECK(Bytes("2TiB") == int64_t{2} << 40);
  CHECK(Bytes("36gib") == 36 * kGiB);  // case insensitive
  CHECK(Bytes("36G") == 36 * kGiB);    // a bare letter is binary
}

TEST_CASE("ParseBytes: decimal units, plain numbers, whitespace") {
  CHECK(Bytes("512MB") == 512000000);
  CHECK(Bytes("80GB") == int64_t{80000000000});
  CHECK(Bytes("3kb") == 3000);
  CHECK(Bytes("1024") == 1024);
  CHECK(Bytes("17 B") == 17);
  CHECK(Bytes("  8 GiB  ") == 8 * kGiB);
  CHECK(Bytes("0") == 0);
}

TEST_CASE("ParseBytes: errors name the input") {
  for (const char* bad : {"abc", "12XB", "", "GiB", "-5GiB", "1.2.3GiB", "1e30TB"}) {
    INFO(bad);
    auto bytes = ParseBytes(bad);
    REQUIRE(!bytes.ok());
    CHECK(bytes.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(bytes.status().message()).find(std::string("'") + bad + "'") !=
          std::string::npos);
  }
  CHECK(std::string(ParseBytes("12XB").status().message()).find("unknown unit 'xb'") !=
        std::string::npos);
}

TEST_CASE("FormatBytes") {
  CHECK(FormatBytes(17) == "17 B");
  CHECK(FormatBytes(0) == "0 B");
  CHECK(FormatBytes(kGiB * 3 / 2) == "1.50 GiB");
  CHECK(FormatBytes(int64_t{512} << 20) == "512.00 MiB");
  CHECK(FormatBytes(2048) == "2.00 KiB");
}

TEST_CASE("FormatBytes output parses back") {
  for (int64_t bytes : {int64_t{17}, int64_t{1} << 20, 36 * kGiB, int64_t{3} << 40}) {
    INFO(bytes);
    CHECK(Bytes(FormatBytes(bytes)) == bytes);
  }
}

}  // namespace
}  // namespace galvatron
