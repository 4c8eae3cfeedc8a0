#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <vector>

#include "agent/runtime/inputs/token_data.h"
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
  CHECK(
      absl::IsNotFound(OpenTokenFile(dir.File("missing.bin"), TokenType::kUint16, 4, 10).status()));
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

namespace galvatron::runtime {
namespace {

TEST_CASE("MLM masks are BERT's 15 % / 80-10-10 and repeatable", "[runtime]") {
  constexpr int kSeq = 512;
  constexpr int64_t kVocab = 1000;
  int64_t chosen_total = 0, masked = 0, kept = 0, randomised = 0;
  for (int64_t sample = 0; sample < 200; ++sample) {
    std::vector<int64_t> tokens(kSeq), original(kSeq);
    for (int i = 0; i < kSeq; ++i) tokens[i] = original[i] = (sample * 7 + i) % (kVocab - 1);
    std::vector<uint8_t> chosen(kSeq);
    const int64_t count = MaskForMlm(42, 3, sample, kVocab, kSeq, tokens.data(), chosen.data());
    int64_t counted = 0;
    for (int i = 0; i < kSeq; ++i) {
      if (!chosen[i]) {
        CHECK(tokens[i] == original[i]);  // unchosen inputs are untouched
        continue;
      }
      ++counted;
      if (tokens[i] == kVocab - 1) {
        ++masked;
      } else if (tokens[i] == original[i]) {
        ++kept;
      } else {
        ++randomised;
      }
    }
    CHECK(count == counted);
    chosen_total += count;
    // The same (seed, step, position) gives the same masks.
    std::vector<int64_t> again(original);
    std::vector<uint8_t> chosen_again(kSeq);
    MaskForMlm(42, 3, sample, kVocab, kSeq, again.data(), chosen_again.data());
    CHECK(again == tokens);
    CHECK(chosen_again == chosen);
  }
  const double n = 200.0 * kSeq;
  CHECK(chosen_total / n == Approx(0.15).margin(0.01));
  CHECK(static_cast<double>(masked) / chosen_total == Approx(0.8).margin(0.02));
  CHECK(static_cast<double>(kept + randomised) / chosen_total == Approx(0.2).margin(0.02));
  // Another step masks other positions.
  std::vector<int64_t> a(kSeq, 5), b(kSeq, 5);
  std::vector<uint8_t> ca(kSeq), cb(kSeq);
  MaskForMlm(42, 3, 0, kVocab, kSeq, a.data(), ca.data());
  MaskForMlm(42, 4, 0, kVocab, kSeq, b.data(), cb.data());
  CHECK(ca != cb);
}

}  // namespace
}  // namespace galvatron::runtime
