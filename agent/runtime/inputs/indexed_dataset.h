// Megatron-LM's indexed dataset ("MMIDIDX") as a TokenSource: PREFIX.idx
// describes the sequences of PREFIX.bin, a flat array of token ids. Our own
// reader of the layout Megatron-LM's IndexedDatasetBuilder writes, all
// little-endian:
//
//   .idx  offset  size  field
//         0       9     magic "MMIDIDX\0\0"
//         9       8     version, uint64 = 1
//         17      1     dtype code, uint8: 1 uint8, 2 int8, 3 int16, 4 int32,
//                       5 int64, 6 float64, 7 float32, 8 uint16
//         18      8     sequence count N, uint64
//         26      8     document count D, uint64
//         34      4·N   sequence lengths in tokens, int32
//         ..      8·N   sequence pointers: byte offsets into .bin, int64
//         ..      8·D   document indices, int64: 0, then the index of the
//                       sequence after each document's last (the last is N)
//         ..      N     (multimodal datasets only) one mode per sequence, int8
//   .bin  the tokens of sequence i: lengths[i] ids of the dtype from
//         pointers[i].
//
// Samples are windows of seq_len + 1 tokens over all sequences concatenated
// in order (documents run into each other, as in a raw token file),
// non-overlapping: sample i starts at token i·seq_len. Both files are
// memory-mapped and every field is checked when opening.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/runtime/inputs/token_data.h"

namespace galvatron::runtime {

// Opens PREFIX.bin and PREFIX.idx. Errors name the file, the field, the
// value found and what was expected:
//   NOT_FOUND         a file is missing or cannot be opened;
//   DATA_LOSS         the files are not a valid indexed dataset: bad magic,
//                     version or dtype code, an .idx whose size does not
//                     match its counts (e.g. truncated), a negative length, a
//                     sequence pointer or extent outside the .bin, document
//                     indices that do not start at 0, decrease or do not end
//                     at the sequence count;
//   INVALID_ARGUMENT  a valid dataset this trainer cannot use: float tokens,
//                     sequences with a non-zero (non-text) mode, fewer than
//                     seq_len + 1 tokens in all.
// Sample() returns DATA_LOSS for a token id outside [0, vocab_size).
absl::StatusOr<std::unique_ptr<TokenSource>> OpenIndexedDataset(const std::string& prefix,
                                                                int seq_len, int64_t vocab_size);

}  // namespace galvatron::runtime
