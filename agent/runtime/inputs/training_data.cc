#include "agent/runtime/inputs/training_data.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/inputs/indexed_dataset.h"

namespace galvatron::runtime {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsIndexedDataset(const std::string& prefix) {
  return IsFile(prefix + ".bin") && IsFile(prefix + ".idx");
}

std::string Found(const std::string& path) { return IsFile(path) ? "found" : "missing"; }

}  // namespace

absl::StatusOr<DataLocation> ResolveTrainingData(const std::string& data) {
  if (data == "synthetic") return DataLocation{DataKind::kSynthetic, ""};
  if (data.empty()) {
    return absl::InvalidArgumentError(
        "--data is empty: expected synthetic, a Megatron dataset prefix or a token file");
  }
  std::string tried;
  if (absl::EndsWith(data, ".bin") || absl::EndsWith(data, ".idx")) {
    const std::string prefix = data.substr(0, data.size() - 4);
    if (IsIndexedDataset(prefix)) return DataLocation{DataKind::kIndexedDataset, prefix};
    absl::StrAppend(&tried, "a Megatron dataset with prefix ", prefix, " (", prefix, ".bin ",
                    Found(prefix + ".bin"), ", ", prefix, ".idx ", Found(prefix + ".idx"), "); ");
  }
  if (IsIndexedDataset(data)) return DataLocation{DataKind::kIndexedDataset, data};
  absl::StrAppend(&tried, "a Megatron dataset with prefix ", data, " (", data, ".bin ",
                  Found(data + ".bin"), ", ", data, ".idx ", Found(data + ".idx"), "); ");
  if (absl::EndsWith(data, ".idx")) {
    // An index without its data is no token file.
    absl::StrAppend(&tried, "not a token file (", data, " is a Megatron index)");
  } else {
    if (IsFile(data)) return DataLocation{DataKind::kTokenFile, data};
    absl::StrAppend(&tried, "a token file ", data, " (", Found(data), ")");
  }
  return absl::NotFoundError(
      absl::StrCat("--data ", data, ": not \"synthetic\", and nothing to read; tried ", tried));
}

absl::StatusOr<std::unique_ptr<TokenSource>> OpenTrainingData(const std::string& data, int seq_len,
                                                              int64_t vocab_size,
                                                              int64_t synthetic_samples,
                                                              uint64_t seed) {
  absl::StatusOr<DataLocation> where = ResolveTrainingData(data);
  if (!where.ok()) return where.status();
  switch (where->kind) {
    case DataKind::kSynthetic:
      return SyntheticTokens(synthetic_samples, seq_len, vocab_size, seed);
    case DataKind::kIndexedDataset:
      return OpenIndexedDataset(where->path, seq_len, vocab_size);
    case DataKind::kTokenFile:
      return OpenTokenFile(where->path, TokenType::kUint16, seq_len, vocab_size);
  }
  return absl::InternalError("unknown data kind");
}

}  // namespace galvatron::runtime
