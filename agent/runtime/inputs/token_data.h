// Training data as token windows: sample i is seq_len + 1 consecutive tokens
// (inputs = the first seq_len, labels = the last seq_len). Sources here: a
// memory-mapped file of little-endian token ids (uint16, as nanoGPT's
// train.bin, or uint32), cut into non-overlapping windows, and synthetic
// tokens derived from a seed; Megatron-LM's indexed datasets are in
// indexed_dataset.h, and training_data.h resolves what --data names. The
// order of samples in an epoch is a permutation from the seed, computed with
// our own Fisher-Yates over std::mt19937_64 (whose output the standard
// fixes), so every rank and every run sees the same order on any platform —
// what makes runs repeatable and checkpoints resumable. No LibTorch here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galvatron::runtime {

// splitmix64: a well-mixed 64-bit hash of a counter (the synthetic data
// of every kind is drawn from it).
uint64_t Mix(uint64_t x);

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual int64_t num_samples() const = 0;
  virtual int seq_len() const = 0;
  // Writes the seq_len + 1 tokens of sample `index` (0 <= index <
  // num_samples) to `out`. DATA_LOSS for a token id outside the vocabulary.
  virtual absl::Status Sample(int64_t index, int64_t* out) const = 0;
  // One line for the log: what the source is and how many samples it has.
  virtual std::string Describe() const = 0;
};

enum class TokenType { kUint16, kUint32 };

// OPEN: `path` mapped read-only. INVALID_ARGUMENT when it holds fewer than
// seq_len + 1 tokens or its size is not a whole number of tokens.
absl::StatusOr<std::unique_ptr<TokenSource>> OpenTokenFile(const std::string& path, TokenType type,
                                                           int seq_len, int64_t vocab_size);

// `num_samples` windows of tokens in [0, vocab_size) from `seed`.
std::unique_ptr<TokenSource> SyntheticTokens(int64_t num_samples, int seq_len, int64_t vocab_size,
                                             uint64_t seed);

// The order of the samples in epoch `epoch`: a permutation of
// [0, num_samples), the same for the same (num_samples, seed, epoch).
std::vector<int64_t> EpochOrder(int64_t num_samples, uint64_t seed, int64_t epoch);

// Which sample the `position`-th sample of global batch `step` (0-based)
// is, going through epochs in order: epoch e covers global positions
// [e·num_samples, (e+1)·num_samples).
class SampleOrder {
 public:
  SampleOrder(int64_t num_samples, uint64_t seed) : num_samples_(num_samples), seed_(seed) {}
  int64_t At(int64_t step, int64_t global_batch, int64_t position);

 private:
  int64_t num_samples_;
  uint64_t seed_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> order_;
};

// BERT's masked-language-model corruption of one sample (Devlin et al. 2019,
// §3.1): each position is chosen with probability 15 %; a chosen position's
// input becomes the mask id (vocab_size − 1, our convention: synthetic and
// raw token files have no special tokens) 80 % of the time, a random token
// 10 %, and stays 10 %. The draws come from a hash of (seed, step, the
// sample's position in the global batch, the token's position), so every
// rank computes the same masks for any sample without communicating.
// `tokens` (seq_len) is changed in place; `chosen` (seq_len) gets 1 where the
// loss counts. Returns how many positions were chosen.
int64_t MaskForMlm(uint64_t seed, int64_t step, int64_t position, int64_t vocab_size, int seq_len,
                   int64_t* tokens, uint8_t* chosen);

}  // namespace galvatron::runtime
