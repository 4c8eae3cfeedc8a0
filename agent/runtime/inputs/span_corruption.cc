#include "agent/runtime/inputs/span_corruption.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "agent/runtime/inputs/token_data.h"

namespace galvatron::runtime {
namespace {

constexpr double kNoiseDensity = 0.15;
constexpr double kMeanSpan = 3.0;

// Splits `total` items into `parts` non-empty runs, at random: parts − 1
// distinct cut points among the total − 1 gaps, drawn by a partial
// Fisher-Yates shuffle from `state`.
std::vector<int> RandomSegments(int total, int parts, uint64_t state) {
  std::vector<int> gaps(static_cast<size_t>(total - 1));
  std::iota(gaps.begin(), gaps.end(), 1);
  for (int i = 0; i < parts - 1; ++i) {
    state = Mix(state);
    const int j = i + static_cast<int>(state % static_cast<uint64_t>(total - 1 - i));
    std::swap(gaps[static_cast<size_t>(i)], gaps[static_cast<size_t>(j)]);
  }
  std::vector<int> cuts(gaps.begin(), gaps.begin() + (parts - 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<int> lengths;
  int previous = 0;
  for (int cut : cuts) {
    lengths.push_back(cut - previous);
    previous = cut;
  }
  lengths.push_back(total - previous);
  return lengths;
}

}  // namespace

SpanLengths SpanLengthsFor(int raw) {
  SpanLengths l;
  l.raw = raw;
  l.noise = std::clamp(static_cast<int>(std::lround(raw * kNoiseDensity)), 1, raw - 1);
  l.spans = std::clamp(static_cast<int>(std::lround(l.noise / kMeanSpan)), 1, l.noise);
  // As many kept runs as spans (the window starts with kept tokens): at
  // least one kept token per run.
  l.spans = std::min(l.spans, raw - l.noise);
  l.inputs = raw - l.noise + l.spans + 1;
  l.targets = l.noise + l.spans + 1;
  return l;
}

SpanLengths SpanLengthsFitting(int encoder_seq, int decoder_seq) {
  SpanLengths best;
  // inputs grows with raw (by 0 or 1 per token), so scan up from 2.
  for (int raw = 2; raw <= 2 * encoder_seq + 2; ++raw) {
    const SpanLengths l = SpanLengthsFor(raw);
    if (l.inputs > encoder_seq) break;
    if (l.targets <= decoder_seq) best = l;
  }
  return best;
}

int CorruptSpans(uint64_t seed, int64_t step, int64_t position, const SpanLengths& lengths,
                 int64_t vocab_size, const int64_t* window, int encoder_seq, int decoder_seq,
                 int64_t* inputs, int64_t* targets) {
  const uint64_t base =
      Mix(Mix(Mix(seed ^ 0x7535) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(position));
  const std::vector<int> noise = RandomSegments(lengths.noise, lengths.spans, Mix(base ^ 1));
  const std::vector<int> kept =
      RandomSegments(lengths.raw - lengths.noise, lengths.spans, Mix(base ^ 2));
  std::fill(inputs, inputs + encoder_seq, kT5PadId);
  std::fill(targets, targets + decoder_seq, kT5PadId);
  int in = 0, out = 0, t = 0;
  for (size_t span = 0; span < noise.size(); ++span) {
    for (int i = 0; i < kept[span]; ++i) inputs[in++] = window[t++];
    const int64_t sentinel = vocab_size - 1 - static_cast<int64_t>(span);
    inputs[in++] = sentinel;
    targets[out++] = sentinel;
    for (int i = 0; i < noise[span]; ++i) targets[out++] = window[t++];
  }
  inputs[in] = kT5EndId;
  targets[out++] = kT5EndId;
  return out;
}

}  // namespace galvatron::runtime
