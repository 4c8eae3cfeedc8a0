#include "agent/runtime/inputs/indexed_dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

constexpr char kMagic[] = "MMIDIDX\0\0";  // 9 bytes (the literal's own NUL is not part of it)
constexpr size_t kMagicSize = 9;
constexpr uint64_t kVersion = 1;
// magic, version (8), dtype code (1), sequence count (8), document count (8).
constexpr size_t kHeaderSize = kMagicSize + 8 + 1 + 8 + 8;
constexpr size_t kVersionAt = kMagicSize;
constexpr size_t kCodeAt = kVersionAt + 8;
constexpr size_t kSequencesAt = kCodeAt + 1;
constexpr size_t kDocumentsAt = kSequencesAt + 8;

struct Dtype {
  int code;
  const char* name;
  int width;  // bytes; 0 for the float types we refuse
  bool is_signed;
};

// Megatron-LM's dtype codes.
constexpr Dtype kDtypes[] = {
    {1, "uint8", 1, false},   {2, "int8", 1, true},    {3, "int16", 2, true},
    {4, "int32", 4, true},    {5, "int64", 8, true},   {6, "float64", 0, false},
    {7, "float32", 0, false}, {8, "uint16", 2, false},
};

constexpr char kDtypeTable[] =
    "1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 8 uint16 (6 float64 and 7 float32 are not token "
    "ids)";

// A little-endian unsigned integer of `width` bytes at `p`.
uint64_t LoadLe(const char* p, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

// A little-endian two's-complement integer of `width` bytes at `p`.
int64_t LoadLeSigned(const char* p, int width) {
  const uint64_t v = LoadLe(p, width);
  if (width == 8) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (8 * width - 1);
  return static_cast<int64_t>((v ^ sign)) - static_cast<int64_t>(sign);
}

// A whole file mapped read-only (nothing mapped for an empty file).
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      const int error = errno;
      close(fd);
      return absl::UnavailableError(absl::StrCat("cannot stat ", path, ": ", std::strerror(error)));
    }
    std::unique_ptr<MappedFile> f(new MappedFile());
    f->size_ = static_cast<size_t>(st.st_size);
    if (f->size_ > 0) {
      void* data = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      const int error = errno;
      close(fd);  // the mapping keeps the file
      if (data == MAP_FAILED) {
        return absl::UnavailableError(
            absl::StrCat("cannot map ", path, ": ", std::strerror(error)));
      }
      f->data_ = static_cast<const char*>(data);
    } else {
      close(fd);
    }
    return f;
  }
  ~MappedFile() {
    if (data_ != nullptr) munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

class IndexedTokens final : public TokenSource {
 public:
  // Reads and checks the index; see OpenIndexedDataset.
  static absl::StatusOr<std::unique_ptr<IndexedTokens>> Open(const std::string& prefix, int seq_len,
                                                             int64_t vocab_size);

  int64_t num_samples() const override { return (tokens_ - 1) / seq_len_; }
  int seq_len() const override { return seq_len_; }
  std::string Describe() const override {
    return absl::StrCat("Megatron indexed dataset ", prefix_, " (.bin/.idx): ", dtype_.name, ", ",
                        sequences_, " sequences in ", documents_, " documents, ", tokens_,
                        " tokens, ", num_samples(), " samples of ", seq_len_, " + 1 tokens");
  }

  absl::Status Sample(int64_t index, int64_t* out) const override {
    if (index < 0 || index >= num_samples()) {
      return absl::OutOfRangeError(
          absl::StrCat("sample ", index, " of ", prefix_, ": it has ", num_samples()));
    }
    const int64_t first = index * seq_len_;
    // The last sequence that starts at or before `first` (it is not empty:
    // the one after it starts later, or it is the last and the data go on).
    int64_t lo = 0, hi = sequences_;
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (Start(mid) <= first) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    int64_t sequence = lo;
    int64_t at = first - Start(sequence);
    for (int64_t i = 0; i <= seq_len_; ++i) {
      while (at >= Length(sequence)) {  // windows run on into the next sequence
        ++sequence;
        at = 0;
      }
      const char* p = bin_->data() + Pointer(sequence) + at * dtype_.width;
      const int64_t token = dtype_.is_signed ? LoadLeSigned(p, dtype_.width)
                                             : static_cast<int64_t>(LoadLe(p, dtype_.width));
      if (token < 0 || token >= vocab_) {
        return absl::DataLossError(absl::StrCat(bin_path_, ": token ", first + i, " (sequence ",
                                                sequence, ", position ", at, ") is ", token,
                                                ", outside the vocabulary of ", vocab_));
      }
      out[i] = token;
      ++at;
    }
    return absl::OkStatus();
  }

 private:
  IndexedTokens() = default;

  int64_t Length(int64_t i) const { return LoadLeSigned(idx_->data() + kHeaderSize + 4 * i, 4); }
  int64_t Pointer(int64_t i) const {
    return LoadLeSigned(idx_->data() + kHeaderSize + 4 * sequences_ + 8 * i, 8);
  }
  int64_t Document(int64_t k) const {
    return LoadLeSigned(idx_->data() + kHeaderSize + 12 * sequences_ + 8 * k, 8);
  }
  // The position of sequence i's first token in the concatenation.
  int64_t Start(int64_t i) const {
    return starts_.empty() ? (Pointer(i) - Pointer(0)) / dtype_.width
                           : starts_[static_cast<size_t>(i)];
  }

  std::string prefix_, idx_path_, bin_path_;
  std::unique_ptr<MappedFile> idx_, bin_;
  Dtype dtype_{};
  int seq_len_ = 0;
  int64_t vocab_ = 0;
  int64_t sequences_ = 0;
  int64_t documents_ = 0;  // the document indices' count less the leading 0
  int64_t tokens_ = 0;
  // Each sequence's start in the concatenation when the sequences do not lie
  // back to back in .bin; empty when they do (as Megatron-LM writes them),
  // and Start() reads it off the pointers.
  std::vector<int64_t> starts_;
};

absl::StatusOr<std::unique_ptr<IndexedTokens>> IndexedTokens::Open(const std::string& prefix,
                                                                   int seq_len,
                                                                   int64_t vocab_size) {
  if (seq_len < 1 || vocab_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("seq_len ", seq_len, ", vocab_size ", vocab_size, ": expected both >= 1"));
  }
  std::unique_ptr<IndexedTokens> t(new IndexedTokens());
  t->prefix_ = prefix;
  t->idx_path_ = prefix + ".idx";
  t->bin_path_ = prefix + ".bin";
  t->seq_len_ = seq_len;
  t->vocab_ = vocab_size;
  ASSIGN_OR_RETURN(t->idx_, MappedFile::Open(t->idx_path_));
  ASSIGN_OR_RETURN(t->bin_, MappedFile::Open(t->bin_path_));
  const std::string& idx = t->idx_path_;
  const char* data = t->idx_->data();
  const size_t size = t->idx_->size();

  // Header.
  if (size < kMagicSize || std::memcmp(data, kMagic, kMagicSize) != 0) {
    return absl::DataLossError(absl::StrCat(
        idx, ": magic is \"", absl::CEscape(absl::string_view(data, std::min(size, kMagicSize))),
        "\", expected \"", absl::CEscape(absl::string_view(kMagic, kMagicSize)),
        "\" (not a Megatron indexed dataset's index)"));
  }
  if (size < kHeaderSize) {
    return absl::DataLossError(absl::StrCat(
        idx, ": truncated: ", size, " bytes, expected at least the ", kHeaderSize, "-byte header"));
  }
  const uint64_t version = LoadLe(data + kVersionAt, 8);
  if (version != kVersion) {
    return absl::DataLossError(
        absl::StrCat(idx, ": version is ", version, ", expected ", kVersion));
  }
  const int code = static_cast<unsigned char>(data[kCodeAt]);
  const Dtype* dtype = nullptr;
  for (const Dtype& d : kDtypes) {
    if (d.code == code) dtype = &d;
  }
  if (dtype == nullptr) {
    return absl::DataLossError(
        absl::StrCat(idx, ": dtype code is ", code, ", expected one of ", kDtypeTable));
  }
  if (dtype->width == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(idx, ": dtype code is ", code, " (", dtype->name,
                     "): token ids must be integers, expected one of ", kDtypeTable));
  }
  t->dtype_ = *dtype;

  // Counts against the file's size: 4 + 8 bytes per sequence, 8 per document
  // index, and one mode byte per sequence when the dataset is multimodal.
  const uint64_t sequences = LoadLe(data + kSequencesAt, 8);
  const uint64_t documents = LoadLe(data + kDocumentsAt, 8);
  const uint64_t room = size - kHeaderSize;
  if (sequences > room / 12 || documents > room / 8) {
    return absl::DataLossError(absl::StrCat(idx, ": truncated: ", size, " bytes cannot hold the ",
                                            sequences, " sequences and ", documents,
                                            " document indices of its header (", kHeaderSize,
                                            " + 12 bytes per sequence + 8 per document index)"));
  }
  const uint64_t expected = kHeaderSize + 12 * sequences + 8 * documents;
  bool has_modes = false;
  if (size == expected + sequences && sequences > 0) {
    has_modes = true;
  } else if (size != expected) {
    return absl::DataLossError(absl::StrCat(
        idx, ": ", size < expected ? "truncated: " : "", size, " bytes, expected ", expected,
        " for ", sequences, " sequences and ", documents, " document indices (", kHeaderSize,
        " + 12 bytes per sequence + 8 per document index; ", expected + sequences,
        " with per-sequence modes)"));
  }
  t->sequences_ = static_cast<int64_t>(sequences);

  // Sequences: lengths, and pointers that keep every sequence inside .bin.
  const int64_t width = dtype->width;
  const int64_t bin_size = static_cast<int64_t>(t->bin_->size());
  bool back_to_back = true;
  int64_t tokens = 0;
  for (int64_t i = 0; i < t->sequences_; ++i) {
    const int64_t length = t->Length(i);
    const int64_t pointer = t->Pointer(i);
    if (length < 0) {
      return absl::DataLossError(
          absl::StrCat(idx, ": sequence length ", i, " is ", length, ", expected >= 0"));
    }
    // length * width < 2^34: no overflow.
    if (pointer < 0 || pointer > bin_size || length * width > bin_size - pointer) {
      return absl::DataLossError(absl::StrCat(
          idx, ": sequence pointer ", i, " is ", pointer, " (", length, " ", dtype->name,
          " tokens), expected the sequence within ", t->bin_path_, "'s ", bin_size, " bytes"));
    }
    if (pointer != t->Pointer(0) + tokens * width) back_to_back = false;
    tokens += length;
  }
  t->tokens_ = tokens;
  if (!back_to_back) {
    t->starts_.resize(static_cast<size_t>(t->sequences_));
    int64_t start = 0;
    for (int64_t i = 0; i < t->sequences_; ++i) {
      t->starts_[static_cast<size_t>(i)] = start;
      start += t->Length(i);
    }
  }

  // Document indices: 0, then non-decreasing, ending at the sequence count.
  if (documents == 0) {
    return absl::DataLossError(absl::StrCat(
        idx, ": document count is 0, expected at least 1 (the document indices start with 0)"));
  }
  t->documents_ = static_cast<int64_t>(documents) - 1;
  int64_t previous = 0;
  for (int64_t k = 0; k < static_cast<int64_t>(documents); ++k) {
    const int64_t index = t->Document(k);
    if (k == 0 && index != 0) {
      return absl::DataLossError(
          absl::StrCat(idx, ": document index 0 is ", index, ", expected 0"));
    }
    if (index < previous || index > t->sequences_) {
      return absl::DataLossError(absl::StrCat(idx, ": document index ", k, " is ", index,
                                              ", expected between the previous one (", previous,
                                              ") and the sequence count (", t->sequences_, ")"));
    }
    previous = index;
  }
  if (previous != t->sequences_) {
    return absl::DataLossError(absl::StrCat(idx, ": the last document index (", documents - 1,
                                            ") is ", previous, ", expected the sequence count ",
                                            t->sequences_));
  }

  // Modes: only text (mode 0, the builder's default) is tokens to train on.
  if (has_modes) {
    const char* modes = data + expected;
    for (int64_t i = 0; i < t->sequences_; ++i) {
      const int mode = static_cast<signed char>(modes[i]);
      if (mode != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            idx, ": sequence mode ", i, " is ", mode,
            ", expected 0 (a multimodal dataset: only text sequences, mode 0, can be trained on)"));
      }
    }
  }

  if (t->tokens_ < static_cast<int64_t>(seq_len) + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ": ", t->tokens_, " tokens in ", t->sequences_,
                     " sequences, expected at least seq_len + 1 = ", seq_len + 1));
  }
  madvise(const_cast<char*>(t->bin_->data()), t->bin_->size(), MADV_RANDOM);
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenSource>> OpenIndexedDataset(const std::string& prefix,
                                                                int seq_len, int64_t vocab_size) {
  ASSIGN_OR_RETURN(std::unique_ptr<IndexedTokens> t,
                   IndexedTokens::Open(prefix, seq_len, vocab_size));
  return std::unique_ptr<TokenSource>(std::move(t));
}

}  // namespace galvatron::runtime
