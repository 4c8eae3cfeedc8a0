#include "agent/runtime/inputs/token_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"

namespace galvatron::runtime {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

namespace {

class MappedTokens final : public TokenSource {
 public:
  MappedTokens(std::string path, const void* data, size_t bytes, TokenType type, int seq_len,
               int64_t vocab)
      : path_(std::move(path)),
        data_(data),
        bytes_(bytes),
        type_(type),
        seq_len_(seq_len),
        vocab_(vocab) {
    tokens_ = static_cast<int64_t>(bytes / (type == TokenType::kUint16 ? 2 : 4));
  }
  ~MappedTokens() override { munmap(const_cast<void*>(data_), bytes_); }

  int64_t num_samples() const override { return (tokens_ - 1) / seq_len_; }
  int seq_len() const override { return seq_len_; }
  std::string Describe() const override {
    return absl::StrCat("token file ", path_, ": ", tokens_, " ",
                        type_ == TokenType::kUint16 ? "uint16" : "uint32", " tokens, ",
                        num_samples(), " samples of ", seq_len_, " + 1 tokens");
  }

  absl::Status Sample(int64_t index, int64_t* out) const override {
    if (index < 0 || index >= num_samples()) {
      return absl::OutOfRangeError(
          absl::StrCat("sample ", index, " of ", path_, ": it has ", num_samples()));
    }
    const int64_t first = index * seq_len_;
    for (int64_t i = 0; i <= seq_len_; ++i) {
      const int64_t at = first + i;
      int64_t token = 0;
      if (type_ == TokenType::kUint16) {
        uint16_t v;
        std::memcpy(&v, static_cast<const char*>(data_) + 2 * at, 2);
        token = le16toh(v);
      } else {
        uint32_t v;
        std::memcpy(&v, static_cast<const char*>(data_) + 4 * at, 4);
        token = le32toh(v);
      }
      if (token >= vocab_) {
        return absl::DataLossError(absl::StrCat(path_, ": token ", at, " is ", token,
                                                ", outside the vocabulary of ", vocab_));
      }
      out[i] = token;
    }
    return absl::OkStatus();
  }

 private:
  std::string path_;
  const void* data_;
  size_t bytes_;
  TokenType type_;
  int seq_len_;
  int64_t vocab_;
  int64_t tokens_ = 0;
};

class Synthetic final : public TokenSource {
 public:
  Synthetic(int64_t samples, int seq_len, int64_t vocab, uint64_t seed)
      : samples_(samples), seq_len_(seq_len), vocab_(vocab), seed_(seed) {}
  int64_t num_samples() const override { return samples_; }
  int seq_len() const override { return seq_len_; }
  std::string Describe() const override {
    return absl::StrCat("synthetic tokens: ", samples_, " samples of ", seq_len_,
                        " + 1 tokens below ", vocab_);
  }
  absl::Status Sample(int64_t index, int64_t* out) const override {
    if (index < 0 || index >= samples_) {
      return absl::OutOfRangeError(absl::StrCat("synthetic sample ", index, " of ", samples_));
    }
    for (int64_t i = 0; i <= seq_len_; ++i) {
      const uint64_t key =
          Mix(seed_ ^ Mix(static_cast<uint64_t>(index) * 1000003ULL + static_cast<uint64_t>(i)));
      out[i] = static_cast<int64_t>(key % static_cast<uint64_t>(vocab_));
    }
    return absl::OkStatus();
  }

 private:
  int64_t samples_;
  int seq_len_;
  int64_t vocab_;
  uint64_t seed_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TokenSource>> OpenTokenFile(const std::string& path, TokenType type,
                                                           int seq_len, int64_t vocab_size) {
  if (seq_len < 1 || vocab_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("seq_len ", seq_len, ", vocab_size ", vocab_size, ": expected both >= 1"));
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  const size_t width = type == TokenType::kUint16 ? 2 : 4;
  const size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes % width != 0 || bytes / width < static_cast<size_t>(seq_len) + 1) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", bytes, " bytes; expected a whole number of ", width,
                     "-byte tokens, at least seq_len + 1 = ", seq_len + 1));
  }
  void* data = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);  // the mapping keeps the file
  if (data == MAP_FAILED) {
    return absl::UnavailableError(absl::StrCat("cannot map ", path, ": ", std::strerror(errno)));
  }
  madvise(data, bytes, MADV_RANDOM);
  return std::unique_ptr<TokenSource>(
      new MappedTokens(path, data, bytes, type, seq_len, vocab_size));
}

std::unique_ptr<TokenSource> SyntheticTokens(int64_t num_samples, int seq_len, int64_t vocab_size,
                                             uint64_t seed) {
  return std::make_unique<Synthetic>(num_samples, seq_len, vocab_size, seed);
}

std::vector<int64_t> EpochOrder(int64_t num_samples, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(0, num_samples)));
  for (int64_t i = 0; i < num_samples; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 engine(Mix(seed) ^ Mix(static_cast<uint64_t>(epoch) + 0x5eed));
  for (int64_t i = num_samples - 1; i > 0; --i) {
    // Uniform in [0, i] by rejection (no modulo bias, no library distribution).
    const uint64_t range = static_cast<uint64_t>(i) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t draw;
    do {
      draw = engine();
    } while (draw >= limit);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(draw % range)]);
  }
  return order;
}

int64_t SampleOrder::At(int64_t step, int64_t global_batch, int64_t position) {
  const int64_t global = step * global_batch + position;
  const int64_t epoch = global / num_samples_;
  if (epoch != cached_epoch_) {
    order_ = EpochOrder(num_samples_, seed_, epoch);
    cached_epoch_ = epoch;
  }
  return order_[static_cast<size_t>(global % num_samples_)];
}

int64_t MaskForMlm(uint64_t seed, int64_t step, int64_t position, int64_t vocab_size, int seq_len,
                   int64_t* tokens, uint8_t* chosen) {
  const uint64_t base =
      Mix(Mix(Mix(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(position));
  int64_t count = 0;
  for (int i = 0; i < seq_len; ++i) {
    const uint64_t r = Mix(base ^ static_cast<uint64_t>(i));
    // Three independent draws from one 64-bit value: choose, how, which token.
    const double u = static_cast<double>(r & 0xFFFFF) / 0x100000;
    const double v = static_cast<double>((r >> 20) & 0xFFFFF) / 0x100000;
    chosen[i] = u < 0.15 ? 1 : 0;
    if (!chosen[i]) continue;
    ++count;
    if (v < 0.8) {
      tokens[i] = vocab_size - 1;
    } else if (v < 0.9) {
      tokens[i] = static_cast<int64_t>((r >> 40) % static_cast<uint64_t>(vocab_size));
    }
  }
  return count;
}

}  // namespace galvatron::runtime
