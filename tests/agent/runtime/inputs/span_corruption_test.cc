#include "agent/runtime/inputs/span_corruption.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

namespace galvatron::runtime {
namespace {

TEST_CASE("Span-corruption lengths are T5's", "[runtime][inputs][t5]") {
  // T5's pre-training: 568 tokens → 512 inputs and 114 targets.
  const SpanLengths t5 = SpanLengthsFor(568);
  CHECK(t5.noise == 85);
  CHECK(t5.spans == 28);
  CHECK(t5.inputs == 512);
  CHECK(t5.targets == 114);
  const SpanLengths fit = SpanLengthsFitting(512, 114);
  CHECK(fit.raw == 568);
  // t5-test: 34 tokens → 32 inputs and 8 targets.
  const SpanLengths tiny = SpanLengthsFitting(32, 8);
  CHECK(tiny.raw == 34);
  CHECK(tiny.inputs == 32);
  CHECK(tiny.targets == 8);
  // A decoder too short for any target (sentinel, a token, end).
  CHECK(SpanLengthsFitting(32, 2).raw == 0);
  // A short decoder bounds the window: the target fits, the input is padded.
  const SpanLengths short_target = SpanLengthsFitting(512, 20);
  CHECK(short_target.targets <= 20);
  CHECK(short_target.inputs < 512);
}

TEST_CASE("Span corruption keeps every token once, in order, around sentinels",
          "[runtime][inputs][t5]") {
  const int64_t vocab = 1000;
  const SpanLengths l = SpanLengthsFor(568);
  std::vector<int64_t> window(568);
  std::iota(window.begin(), window.end(), 100);  // distinct ids 100..667, below the sentinels
  std::vector<int64_t> inputs(512), targets(120);
  for (int64_t position = 0; position < 20; ++position) {
    const int length = CorruptSpans(7, 3, position, l, vocab, window.data(), 512, 120,
                                    inputs.data(), targets.data());
    REQUIRE(length == l.targets);
    CHECK(inputs.back() == kT5EndId);
    CHECK(targets[static_cast<size_t>(length) - 1] == kT5EndId);
    CHECK(std::all_of(targets.begin() + length, targets.end(),
                      [](int64_t t) { return t == kT5PadId; }));
    // Interleave: input tokens up to each sentinel, then that sentinel's
    // target tokens, rebuild the window.
    std::vector<int64_t> rebuilt;
    size_t t = 0;
    int sentinels = 0;
    for (size_t i = 0; i + 1 < inputs.size(); ++i) {
      if (inputs[i] < vocab - l.spans) {
        rebuilt.push_back(inputs[i]);
        continue;
      }
      CHECK(inputs[i] == vocab - 1 - sentinels);
      REQUIRE(targets[t] == inputs[i]);
      ++sentinels;
      int span = 0;
      for (++t; targets[t] < vocab - l.spans && targets[t] != kT5EndId; ++t, ++span) {
        rebuilt.push_back(targets[t]);
      }
      CHECK(span >= 1);
    }
    CHECK(sentinels == l.spans);
    CHECK(rebuilt == window);
  }
  // The draw depends on (seed, step, position) only.
  std::vector<int64_t> a(512), b(512), ta(120), tb(120);
  CorruptSpans(7, 3, 5, l, vocab, window.data(), 512, 120, a.data(), ta.data());
  CorruptSpans(7, 3, 5, l, vocab, window.data(), 512, 120, b.data(), tb.data());
  CHECK(a == b);
  CorruptSpans(7, 4, 5, l, vocab, window.data(), 512, 120, b.data(), tb.data());
  CHECK(a != b);
}

}  // namespace
}  // namespace galvatron::runtime
