#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <vector>

#include "agent/runtime/train/token_data.h"
#include "tests/support/test_support.h"

namespace galvatron::runtime {
namespace {

void WriteTokens(const std::string& path, const std::vector<uint16_t>& tokens) {
  std::ofstream out(path, std::ios::binary);
  for (uint16_t t : tokens) {
    const char bytes[2] = {static_cast<char>(t & 0xff), static_cast<char>(t >> 8)};
    out.write(bytes, 2);
  }
}

}  // namespace

TEST_CASE("A token file is cut into windows of seq_len + 1 tokens", "[runtime]") {
  testing::TempDir dir;
  std::vector<uint16_t> tokens;
  for (uint16_t i = 0; i < 21; ++i) tokens.push_back(static_cast<uint16_t>(300 + i));
  WriteTokens(dir.File("train.bin"), tokens);
  auto source = OpenTokenFile(dir.File("train.bin"), TokenType::kUint16, 4, 1000);
  REQUIRE(source.ok());
  CHECK((*source)->num_samples() == 5);  // (21 - 1) / 4
  std::vector<int64_t> window(5);
  REQUIRE((*source)->Sample(2, window.data()).ok());
  CHECK(window == std::vector<int64_t>{308, 309, 310, 311, 312});
  CHECK(absl::IsOutOfRange((*source)->Sample(5, window.data())));

  auto small_vocab = OpenTokenFile(dir.File("train.bin"), TokenType::kUint16, 4, 310);
  REQUIRE(small_vocab.ok());
  absl::Status bad = (*small_vocab)->Sample(2, window.data());
  CHECK(absl::IsDataLoss(bad));
  CHECK_THAT(std::string(bad.message()), Catch::Contains("token 10 is 310"));

  std::ofstream(dir.File("odd.bin"), std::ios::binary) << "abc";
  CHECK(absl::IsInvalidArgument(
      OpenTokenFile(dir.File("odd.bin"), TokenType::kUint16, 1, 10).status()));
  CHECK(absl::IsNotFound(
      OpenTokenFile(dir.File("missing.bin"), TokenType::kUint16, 4, 10).status()));
}

TEST_CASE("Synthetic tokens and epoch orders are repeatable", "[runtime]") {
  auto a = SyntheticTokens(100, 8, 50, 7);
  auto b = SyntheticTokens(100, 8, 50, 7);
  auto c = SyntheticTokens(100, 8, 50, 8);
  std::vector<int64_t> x(9), y(9), z(9);
  REQUIRE(a->Sample(42, x.data()).ok());
  REQUIRE(b->Sample(42, y.data()).ok());
  REQUIRE(c->Sample(42, z.data()).ok());
  CHECK(x == y);
  CHECK(x != z);
  CHECK(std::all_of(x.begin(), x.end(), [](int64_t t) { return t >= 0 && t < 50; }));

  const std::vector<int64_t> order = EpochOrder(1000, 1, 0);
  CHECK(order == EpochOrder(1000, 1, 0));
  CHECK(order != EpochOrder(1000, 1, 1));
  CHECK(order != EpochOrder(1000, 2, 0));
  CHECK(std::set<int64_t>(order.begin(), order.end()).size() == 1000);
  // A pinned value: the order must not change between builds or platforms
  // (checkpoints resume in the middle of an epoch).
  CHECK(EpochOrder(10, 123, 0) == std::vector<int64_t>{9, 0, 7, 6, 5, 3, 1, 8, 4, 2});

  SampleOrder sampler(10, 123);
  const std::vector<int64_t> first = EpochOrder(10, 123, 0);
  const std::vector<int64_t> second = EpochOrder(10, 123, 1);
  CHECK(sampler.At(0, 4, 0) == first[0]);
  CHECK(sampler.At(2, 4, 1) == first[9]);
  CHECK(sampler.At(2, 4, 2) == second[0]);  // step 2 crosses into epoch 1
}

}  // namespace galvatron::runtime
