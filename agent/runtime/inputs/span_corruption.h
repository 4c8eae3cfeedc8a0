// T5's span-corruption objective (Raffel et al. 2020, Sec. 3.1.4 and 3.3.4)
// on plain token windows: about 15 % of a window's tokens, in spans of mean
// length 3, are removed from the input, each span replaced by one sentinel
// id; the target lists each span after its sentinel. Sentinels are the
// vocabulary's last ids (vocab − 1, vocab − 2, …), as T5's extra ids are; the
// input and the target end with id 1 (T5's end of sequence).
//
// The lengths depend only on the window's length, so every sample of a run
// has the same input and target lengths; which tokens are corrupted depends
// only on (seed, step, position in the global batch).
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <vector>

namespace galvatron::runtime {

inline constexpr int64_t kT5PadId = 0;  // also the decoder's start token
inline constexpr int64_t kT5EndId = 1;

struct SpanLengths {
  int raw = 0;      // tokens of the window
  int noise = 0;    // of them corrupted
  int spans = 0;    // corrupted spans (and sentinels)
  int inputs = 0;   // raw − noise + spans + 1 (end of sequence)
  int targets = 0;  // noise + spans + 1
};

// The lengths for a window of `raw` tokens (raw >= 2): noise = round(0.15 raw)
// within [1, raw − 1], spans = round(noise / 3) within [1, noise].
SpanLengths SpanLengthsFor(int raw);

// The longest window whose input fits `encoder_seq` tokens and whose target
// fits `decoder_seq`; raw 0 when none does (e.g. decoder_seq < 3).
SpanLengths SpanLengthsFitting(int encoder_seq, int decoder_seq);

// Corrupts `lengths.raw` tokens of `window` into `inputs` (encoder_seq ids,
// padded with kT5PadId) and `targets` (decoder_seq ids, padded likewise);
// `sentinels` must be below vocab_size. Returns the target's length without
// padding (lengths.targets).
int CorruptSpans(uint64_t seed, int64_t step, int64_t position, const SpanLengths& lengths,
                 int64_t vocab_size, const int64_t* window, int encoder_seq, int decoder_seq,
                 int64_t* inputs, int64_t* targets);

}  // namespace galvatron::runtime
