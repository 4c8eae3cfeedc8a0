// What `train --data` names, and opening it. Three sources:
//   "synthetic"             tokens derived from the seed (SyntheticTokens);
//   a Megatron-LM prefix    PREFIX.bin and PREFIX.idx (OpenIndexedDataset);
//                           PREFIX.bin or PREFIX.idx name it too;
//   any other file          little-endian uint16 token ids (OpenTokenFile).
// A path is a Megatron dataset when both of its files exist, so a raw
// train.bin with no train.idx beside it stays a raw token file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/runtime/inputs/token_data.h"

namespace galvatron::runtime {

enum class DataKind { kSynthetic, kIndexedDataset, kTokenFile };

struct DataLocation {
  DataKind kind = DataKind::kSynthetic;
  std::string path;  // the prefix of an indexed dataset, the token file; "" for synthetic
};

// Which source `data` names, trying in order: "synthetic"; a path ending in
// .bin or .idx whose two files (with the suffix cut) exist; `data`.bin and
// `data`.idx; `data` itself as a token file (not an .idx). NOT_FOUND, saying
// what was tried, when nothing matches.
absl::StatusOr<DataLocation> ResolveTrainingData(const std::string& data);

// Opens what `data` names (ResolveTrainingData) as windows of seq_len + 1
// tokens below vocab_size; a synthetic source has `synthetic_samples`
// samples from `seed`.
absl::StatusOr<std::unique_ptr<TokenSource>> OpenTrainingData(const std::string& data, int seq_len,
                                                              int64_t vocab_size,
                                                              int64_t synthetic_samples,
                                                              uint64_t seed);

}  // namespace galvatron::runtime
