// A writer of Megatron-LM indexed datasets for tests, written from the
// format's description (PREFIX.idx: magic, version 1, dtype code, sequence
// and document counts, int32 lengths, int64 byte pointers into PREFIX.bin,
// int64 document indices starting at 0, optional int8 modes; all
// little-endian), plus byte patches to break a written file on purpose.
// Not thread-safe (test code).
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace galvatron::testing {

// Megatron-LM's dtype codes and their widths in bytes.
enum MegatronDtype : uint8_t {
  kMegatronUint8 = 1,
  kMegatronInt8 = 2,
  kMegatronInt16 = 3,
  kMegatronInt32 = 4,
  kMegatronInt64 = 5,
  kMegatronFloat64 = 6,
  kMegatronFloat32 = 7,
  kMegatronUint16 = 8,
};

inline int MegatronWidth(uint8_t code) {
  switch (code) {
    case kMegatronUint8:
    case kMegatronInt8:
      return 1;
    case kMegatronInt16:
    case kMegatronUint16:
      return 2;
    case kMegatronInt32:
    case kMegatronFloat32:
      return 4;
    default:
      return 8;
  }
}

// Documents, each a list of sequences, each a list of token ids.
using Documents = std::vector<std::vector<std::vector<int64_t>>>;

struct IndexedDatasetOptions {
  uint8_t dtype = kMegatronUint16;
  bool modes = false;           // append one int8 mode (0) per sequence, as multimodal datasets do
  bool reverse_layout = false;  // store the sequences in .bin last first (pointers follow)
};

inline void AppendLe(std::string* out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Writes prefix.bin and prefix.idx.
inline void WriteIndexedDataset(const std::string& prefix, const Documents& documents,
                                const IndexedDatasetOptions& options = {}) {
  const int width = MegatronWidth(options.dtype);
  std::vector<const std::vector<int64_t>*> sequences;
  std::vector<int64_t> document_indices = {0};
  for (const auto& document : documents) {
    for (const auto& sequence : document) sequences.push_back(&sequence);
    document_indices.push_back(static_cast<int64_t>(sequences.size()));
  }
  // .bin: the sequences back to back, in order or last first.
  std::string bin;
  std::vector<int64_t> pointers(sequences.size());
  for (size_t k = 0; k < sequences.size(); ++k) {
    const size_t i = options.reverse_layout ? sequences.size() - 1 - k : k;
    pointers[i] = static_cast<int64_t>(bin.size());
    for (int64_t token : *sequences[i]) AppendLe(&bin, static_cast<uint64_t>(token), width);
  }
  std::string idx("MMIDIDX\0\0", 9);
  AppendLe(&idx, 1, 8);
  AppendLe(&idx, options.dtype, 1);
  AppendLe(&idx, sequences.size(), 8);
  AppendLe(&idx, document_indices.size(), 8);
  for (const auto* s : sequences) AppendLe(&idx, s->size(), 4);
  for (int64_t p : pointers) AppendLe(&idx, static_cast<uint64_t>(p), 8);
  for (int64_t d : document_indices) AppendLe(&idx, static_cast<uint64_t>(d), 8);
  if (options.modes) idx.append(sequences.size(), '\0');
  std::ofstream(prefix + ".bin", std::ios::binary) << bin;
  std::ofstream(prefix + ".idx", std::ios::binary) << idx;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Overwrites `width` bytes of `path` at `offset` with `value`, little-endian.
inline void PatchLe(const std::string& path, size_t offset, uint64_t value, int width) {
  std::string bytes = ReadBytes(path);
  std::string le;
  AppendLe(&le, value, width);
  bytes.replace(offset, le.size(), le);
  WriteBytes(path, bytes);
}

}  // namespace galvatron::testing
