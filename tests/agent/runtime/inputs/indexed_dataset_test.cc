// Megatron-LM indexed datasets: files written by the format's description
// read back as windows over the concatenated sequences, for every integer
// dtype; malformed files are refused naming the file, field and value; and
// what --data names is resolved in a documented order.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "agent/runtime/inputs/indexed_dataset.h"
#include "agent/runtime/inputs/training_data.h"
#include "tests/agent/runtime/inputs/indexed_dataset_writer.h"
#include "tests/support/test_support.h"

namespace galvatron::runtime {
namespace {

using testing::Documents;
using testing::IndexedDatasetOptions;
using testing::PatchLe;
using testing::WriteIndexedDataset;

constexpr size_t kHeader = 34;

// Three documents of 1, 3 and 2 sequences (one empty): 6 sequences, 23
// tokens in all.
Documents Sample() {
  Documents d;
  d.push_back({{1, 2, 3, 4, 5}});
  d.push_back({{6, 7}, {}, {8, 9, 10, 11, 12, 13}});
  d.push_back({{14, 15, 16, 17}, {18, 19, 20, 21, 22, 23}});
  return d;
}

std::vector<int64_t> Concatenated(const Documents& documents) {
  std::vector<int64_t> all;
  for (const auto& document : documents) {
    for (const auto& sequence : document) all.insert(all.end(), sequence.begin(), sequence.end());
  }
  return all;
}

// Every sample of `source` is the next seq + 1 tokens of `all`, windows
// seq apart, and there are as many as fit.
void CheckWindows(const TokenSource& source, const std::vector<int64_t>& all, int seq) {
  REQUIRE(source.num_samples() == (static_cast<int64_t>(all.size()) - 1) / seq);
  std::vector<int64_t> window(static_cast<size_t>(seq) + 1);
  for (int64_t i = 0; i < source.num_samples(); ++i) {
    INFO("sample " << i);
    REQUIRE(source.Sample(i, window.data()).ok());
    const auto begin = all.begin() + i * seq;
    CHECK(window == std::vector<int64_t>(begin, begin + seq + 1));
  }
  CHECK(absl::IsOutOfRange(source.Sample(source.num_samples(), window.data())));
  CHECK(absl::IsOutOfRange(source.Sample(-1, window.data())));
}

absl::Status OpenStatus(const std::string& prefix, int seq = 4, int64_t vocab = 1000) {
  return OpenIndexedDataset(prefix, seq, vocab).status();
}

}  // namespace

TEST_CASE("An indexed dataset reads back as windows over its concatenated sequences",
          "[runtime][data]") {
  testing::TempDir dir;
  const std::string prefix = dir.File("corpus_text_document");
  const Documents documents = Sample();
  const std::vector<int64_t> all = Concatenated(documents);
  REQUIRE(all.size() == 23);

  SECTION("every integer dtype Megatron-LM writes") {
    for (uint8_t dtype :
         {testing::kMegatronUint8, testing::kMegatronInt8, testing::kMegatronInt16,
          testing::kMegatronInt32, testing::kMegatronInt64, testing::kMegatronUint16}) {
      INFO("dtype code " << int{dtype});
      IndexedDatasetOptions options;
      options.dtype = dtype;
      WriteIndexedDataset(prefix, documents, options);
      for (int seq : {1, 4, 7, 22}) {
        INFO("seq " << seq);
        auto source = OpenIndexedDataset(prefix, seq, 100);
        REQUIRE(source.ok());
        CHECK((*source)->seq_len() == seq);
        CheckWindows(**source, all, seq);
      }
    }
  }
  SECTION("sequences stored out of order in .bin are read in index order") {
    IndexedDatasetOptions options;
    options.reverse_layout = true;
    WriteIndexedDataset(prefix, documents, options);
    auto source = OpenIndexedDataset(prefix, 4, 100);
    REQUIRE(source.ok());
    CheckWindows(**source, all, 4);
  }
  SECTION("a multimodal index whose sequences are all text (mode 0)") {
    IndexedDatasetOptions options;
    options.modes = true;
    WriteIndexedDataset(prefix, documents, options);
    auto source = OpenIndexedDataset(prefix, 4, 100);
    REQUIRE(source.ok());
    CheckWindows(**source, all, 4);
  }
  SECTION("large token ids of wide dtypes") {
    Documents big = {{{70000, 5, 1LL << 40}, {3}}};
    IndexedDatasetOptions options;
    options.dtype = testing::kMegatronInt64;
    WriteIndexedDataset(prefix, big, options);
    auto source = OpenIndexedDataset(prefix, 3, (1LL << 40) + 1);
    REQUIRE(source.ok());
    CheckWindows(**source, Concatenated(big), 3);
  }
  SECTION("describes itself") {
    WriteIndexedDataset(prefix, documents);
    auto source = OpenIndexedDataset(prefix, 4, 100);
    REQUIRE(source.ok());
    CHECK_THAT((*source)->Describe(), Catch::Contains(prefix) && Catch::Contains("uint16") &&
                                          Catch::Contains("6 sequences in 3 documents") &&
                                          Catch::Contains("23 tokens") &&
                                          Catch::Contains("5 samples"));
  }
}

TEST_CASE("Token ids outside the vocabulary are data loss", "[runtime][data]") {
  testing::TempDir dir;
  const std::string prefix = dir.File("d");
  std::vector<int64_t> window(5);
  SECTION("too large") {
    WriteIndexedDataset(prefix, {{{1, 2, 3}, {4, 5, 6, 7, 8, 9}}});
    auto source = OpenIndexedDataset(prefix, 4, 6);  // ids 6..9 are outside
    REQUIRE(source.ok());
    CHECK((*source)->Sample(0, window.data()).ok());  // tokens 0..4
    const absl::Status bad = (*source)->Sample(1, window.data());
    CHECK(absl::IsDataLoss(bad));
    CHECK_THAT(std::string(bad.message()),
               Catch::Contains(prefix + ".bin") && Catch::Contains("token 5 (sequence 1") &&
                   Catch::Contains("is 6, outside the vocabulary of 6"));
  }
  SECTION("negative, in a signed dtype") {
    IndexedDatasetOptions options;
    options.dtype = testing::kMegatronInt16;
    WriteIndexedDataset(prefix, {{{1, 2, -5, 4, 5}}}, options);
    auto source = OpenIndexedDataset(prefix, 4, 100);
    REQUIRE(source.ok());
    const absl::Status bad = (*source)->Sample(0, window.data());
    CHECK(absl::IsDataLoss(bad));
    CHECK_THAT(std::string(bad.message()), Catch::Contains("is -5, outside the vocabulary"));
  }
}

TEST_CASE("Malformed indexed datasets are refused naming the file, field and value",
          "[runtime][data]") {
  testing::TempDir dir;
  const std::string prefix = dir.File("bad");
  const std::string idx = prefix + ".idx";
  const Documents documents = Sample();  // 6 sequences, 4 document indices
  const size_t n = 6;
  const size_t pointers_at = kHeader + 4 * n;
  const size_t documents_at = kHeader + 12 * n;
  WriteIndexedDataset(prefix, documents);
  REQUIRE(OpenStatus(prefix).ok());
  const std::string good = testing::ReadBytes(idx);
  REQUIRE(good.size() == documents_at + 8 * 4);

  // The status's code and the words its message must hold.
  absl::StatusCode code = absl::StatusCode::kOk;
  std::vector<std::string> words;
  SECTION("bad magic") {
    testing::WriteBytes(idx, "MMIDIDY" + good.substr(7));
    code = absl::StatusCode::kDataLoss;
    words = {idx, "magic is \"MMIDIDY\\000\\000\"", "expected \"MMIDIDX\\000\\000\""};
  }
  SECTION("not an index at all") {
    testing::WriteBytes(idx, "abc");
    code = absl::StatusCode::kDataLoss;
    words = {idx, "magic is \"abc\""};
  }
  SECTION("bad version") {
    PatchLe(idx, 9, 2, 8);
    code = absl::StatusCode::kDataLoss;
    words = {idx, "version is 2, expected 1"};
  }
  SECTION("an unknown dtype code") {
    PatchLe(idx, 17, 9, 1);
    code = absl::StatusCode::kDataLoss;
    words = {idx, "dtype code is 9, expected one of 1 uint8"};
  }
  SECTION("a float dtype") {
    PatchLe(idx, 17, testing::kMegatronFloat32, 1);
    code = absl::StatusCode::kInvalidArgument;
    words = {idx, "dtype code is 7 (float32): token ids must be integers"};
  }
  SECTION("truncated inside the header") {
    testing::WriteBytes(idx, good.substr(0, 20));
    code = absl::StatusCode::kDataLoss;
    words = {idx, "truncated: 20 bytes", "34-byte header"};
  }
  SECTION("truncated inside the document indices") {
    testing::WriteBytes(idx, good.substr(0, good.size() - 3));
    code = absl::StatusCode::kDataLoss;
    words = {idx, "truncated: " + std::to_string(good.size() - 3) + " bytes",
             "expected " + std::to_string(good.size()), "6 sequences and 4 document indices"};
  }
  SECTION("extra bytes after the index") {
    testing::WriteBytes(idx, good + "xy");
    code = absl::StatusCode::kDataLoss;
    words = {idx,
             std::to_string(good.size() + 2) + " bytes, expected " + std::to_string(good.size())};
  }
  SECTION("a sequence count the file cannot hold") {
    PatchLe(idx, 18, 1ULL << 62, 8);
    code = absl::StatusCode::kDataLoss;
    words = {idx, "truncated", std::to_string(1ULL << 62) + " sequences"};
  }
  SECTION("a negative sequence length") {
    PatchLe(idx, kHeader + 4 * 3, static_cast<uint32_t>(-2), 4);
    code = absl::StatusCode::kDataLoss;
    words = {idx, "sequence length 3 is -2, expected >= 0"};
  }
  SECTION("a sequence pointer past the end of .bin") {
    // The .bin holds 23 uint16 tokens = 46 bytes; sequence 2 (empty) at 46
    // is still inside, sequence 3 (6 tokens) at 40 is not.
    PatchLe(idx, pointers_at + 8 * 3, 40, 8);
    code = absl::StatusCode::kDataLoss;
    words = {idx, "sequence pointer 3 is 40 (6 uint16 tokens)",
             "within " + prefix + ".bin's 46 bytes"};
  }
  SECTION("a negative sequence pointer") {
    PatchLe(idx, pointers_at + 8 * 0, static_cast<uint64_t>(-8), 8);
    code = absl::StatusCode::kDataLoss;
    words = {idx, "sequence pointer 0 is -8"};
  }
  SECTION("a .bin shorter than its sequences") {
    testing::WriteBytes(prefix + ".bin", testing::ReadBytes(prefix + ".bin").substr(0, 45));
    code = absl::StatusCode::kDataLoss;
    words = {idx, "sequence pointer 5 is 34 (6 uint16 tokens)", "45 bytes"};
  }
  SECTION("document indices that do not start at 0") {
    PatchLe(idx, documents_at, 1, 8);
    code = absl::StatusCode::kDataLoss;
    words = {idx, "document index 0 is 1, expected 0"};
  }
  SECTION("document indices that decrease") {
    PatchLe(idx, documents_at + 8 * 2, 0, 8);  // 0, 1, 0, 6
    code = absl::StatusCode::kDataLoss;
    words = {idx, "document index 2 is 0", "the previous one (1)"};
  }
  SECTION("document indices that do not end at the sequence count") {
    PatchLe(idx, documents_at + 8 * 3, 5, 8);  // 0, 1, 4, 5
    code = absl::StatusCode::kDataLoss;
    words = {idx, "the last document index (3) is 5, expected the sequence count 6"};
  }
  SECTION("a non-text mode") {
    IndexedDatasetOptions options;
    options.modes = true;
    WriteIndexedDataset(prefix, documents, options);
    PatchLe(idx, documents_at + 8 * 4 + 2, 1, 1);
    code = absl::StatusCode::kInvalidArgument;
    words = {idx, "sequence mode 2 is 1, expected 0"};
  }
  SECTION("fewer tokens than one window") {
    WriteIndexedDataset(prefix, {{{1, 2}, {3}}});
    code = absl::StatusCode::kInvalidArgument;
    words = {prefix, "3 tokens in 2 sequences, expected at least seq_len + 1 = 5"};
  }
  SECTION("a missing .bin") {
    std::remove((prefix + ".bin").c_str());
    code = absl::StatusCode::kNotFound;
    words = {"cannot open " + prefix + ".bin"};
  }

  const absl::Status status = OpenStatus(prefix);
  INFO(status);
  CHECK(status.code() == code);
  for (const std::string& w : words) CHECK_THAT(std::string(status.message()), Catch::Contains(w));
}

TEST_CASE("What --data names: synthetic tokens, an indexed dataset or a token file",
          "[runtime][data]") {
  testing::TempDir dir;
  const std::string prefix = dir.File("corpus");
  WriteIndexedDataset(prefix, Sample());
  const std::string raw = dir.File("train.bin");  // nanoGPT's name, no train.idx beside it
  {
    std::ofstream out(raw, std::ios::binary);
    for (int i = 0; i < 9; ++i) out.put(static_cast<char>(40 + i)).put('\0');
  }

  auto kind_of = [](const std::string& data) {
    absl::StatusOr<DataLocation> where = ResolveTrainingData(data);
    REQUIRE(where.ok());
    return std::make_pair(where->kind, where->path);
  };
  CHECK(kind_of("synthetic") == std::make_pair(DataKind::kSynthetic, std::string()));
  CHECK(kind_of(prefix) == std::make_pair(DataKind::kIndexedDataset, prefix));
  CHECK(kind_of(prefix + ".bin") == std::make_pair(DataKind::kIndexedDataset, prefix));
  CHECK(kind_of(prefix + ".idx") == std::make_pair(DataKind::kIndexedDataset, prefix));
  CHECK(kind_of(raw) == std::make_pair(DataKind::kTokenFile, raw));

  // Opening through any of the names reads the same samples.
  for (const std::string& name : {prefix, prefix + ".bin", prefix + ".idx"}) {
    auto source = OpenTrainingData(name, 4, 100, 0, 1);
    REQUIRE(source.ok());
    CheckWindows(**source, Concatenated(Sample()), 4);
  }
  auto from_raw = OpenTrainingData(raw, 4, 100, 0, 1);
  REQUIRE(from_raw.ok());
  CheckWindows(**from_raw, {40, 41, 42, 43, 44, 45, 46, 47, 48}, 4);
  auto synthetic = OpenTrainingData("synthetic", 4, 100, 17, 1);
  REQUIRE(synthetic.ok());
  CHECK((*synthetic)->num_samples() == 17);
  CHECK_THAT((*synthetic)->Describe(), Catch::Contains("synthetic"));

  // Nothing there: the message says what was tried.
  absl::Status missing = ResolveTrainingData(dir.File("nothing")).status();
  CHECK(absl::IsNotFound(missing));
  CHECK_THAT(std::string(missing.message()),
             Catch::Contains("Megatron dataset with prefix " + dir.File("nothing")) &&
                 Catch::Contains(dir.File("nothing") + ".bin missing") &&
                 Catch::Contains("a token file " + dir.File("nothing") + " (missing)"));
  // An index without its .bin is not a token file.
  std::remove((prefix + ".bin").c_str());
  missing = ResolveTrainingData(prefix + ".idx").status();
  CHECK(absl::IsNotFound(missing));
  CHECK_THAT(std::string(missing.message()),
             Catch::Contains(prefix + ".bin missing, " + prefix + ".idx found") &&
                 Catch::Contains("is a Megatron index"));
  CHECK(absl::IsInvalidArgument(ResolveTrainingData("").status()));
}

}  // namespace galvatron::runtime
