// common/safetensors: the files follow the safetensors layout, read back
// here with an independent parser (nlohmann's JSON): the 8-byte
// little-endian header length, a JSON header padded with spaces to a multiple
// of 8, every tensor's dtype, shape and byte range (contiguous, in bounds,
// aligned, as long as its shape says) and its little-endian bytes.
#include "common/safetensors.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

uint64_t LittleEndian(const std::string& bytes, size_t at, int width) {
  uint64_t v = 0;
  for (int b = width - 1; b >= 0; --b) {
    v = (v << 8) | static_cast<unsigned char>(bytes[at + static_cast<size_t>(b)]);
  }
  return v;
}

int64_t ElementSize(const std::string& dtype) {
  static const std::map<std::string, int64_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
      {"I32", 4},  {"U32", 4}, {"F32", 4}, {"I64", 8}, {"U64", 8}, {"F64", 8}};
  auto it = kSizes.find(dtype);
  return it == kSizes.end() ? -1 : it->second;
}

struct Entry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

struct Parsed {
  std::map<std::string, std::string> metadata;
  std::map<std::string, Entry> tensors;
  std::vector<std::string> order;  // by begin offset
  std::string data;                // the byte buffer
};

// Checks the layout rules while parsing.
Parsed Parse(const std::string& file) {
  REQUIRE(file.size() >= 8);
  const uint64_t n = LittleEndian(file, 0, 8);
  REQUIRE(n % 8 == 0);
  REQUIRE(8 + n <= file.size());
  const std::string header = file.substr(8, n);
  REQUIRE(header.front() == '{');
  const size_t close = header.find_last_of('}');
  REQUIRE(close != std::string::npos);
  CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);  // padding: spaces only
  const nlohmann::json json = nlohmann::json::parse(header.substr(0, close + 1));
  Parsed parsed;
  parsed.data = file.substr(8 + n);
  // By (begin, end): an empty tensor sits before a tensor starting where it does.
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> by_begin;
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : value.items()) parsed.metadata[k] = v.get<std::string>();
      continue;
    }
    Entry e;
    e.dtype = value.at("dtype").get<std::string>();
    e.shape = value.at("shape").get<std::vector<int64_t>>();
    const auto offsets = value.at("data_offsets").get<std::vector<uint64_t>>();
    REQUIRE(offsets.size() == 2);
    e.begin = offsets[0];
    e.end = offsets[1];
    INFO(name);
    const int64_t size = ElementSize(e.dtype);
    REQUIRE(size > 0);
    int64_t elements = 1;
    for (int64_t d : e.shape) elements *= d;
    CHECK(e.end - e.begin == static_cast<uint64_t>(elements * size));
    CHECK(e.end <= parsed.data.size());
    CHECK((8 + n + e.begin) % static_cast<uint64_t>(size) == 0);  // aligned in the file
    by_begin.emplace_back(e.begin, e.end, name);
    parsed.tensors[name] = e;
  }
  std::sort(by_begin.begin(), by_begin.end());
  uint64_t at = 0;
  for (const auto& [begin, end, name] : by_begin) {
    INFO(name);
    CHECK(begin == at);  // no holes, no overlaps
    at = end;
    parsed.order.push_back(name);
  }
  CHECK(at == parsed.data.size());  // the buffer is entirely indexed
  return parsed;
}

TEST_CASE("safetensors files follow the layout", "[common][safetensors]") {
  testing::TempDir dir;
  const std::vector<double> f64 = {1.5, -2.25, 3.0, 1e-300, -0.0, 42.0};
  const std::vector<float> f32 = {0.5f, -1.0f, 3.25f};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC000, 0x0001, 0x7F80};  // 1, -2, tiny, inf
  const int64_t scalar = -7;
  const std::vector<uint8_t> flags = {1, 0, 1};
  std::vector<SafetensorsTensor> tensors = {
      {"b.f32", TensorDtype::kF32, {3}, f32.data(), 12},
      {"a.bf16", TensorDtype::kBF16, {2, 2}, bf16.data(), 8},
      {"z.f64", TensorDtype::kF64, {2, 3}, f64.data(), 48},
      {"empty", TensorDtype::kF32, {0, 4}, nullptr, 0},
      {"flags", TensorDtype::kBool, {3}, flags.data(), 3},
      {"scalar", TensorDtype::kI64, {}, &scalar, 8},
  };
  const std::string path = dir.File("t.safetensors");
  REQUIRE(WriteSafetensors(path, tensors, {{"format", "pt"}, {"note", "a \"quoted\"\nline"}}).ok());
  const Parsed p = Parse(ReadBytes(path));
  CHECK(p.metadata ==
        std::map<std::string, std::string>{{"format", "pt"}, {"note", "a \"quoted\"\nline"}});
  REQUIRE(p.tensors.size() == 6);
  CHECK(p.tensors.at("z.f64").dtype == "F64");
  CHECK(p.tensors.at("z.f64").shape == std::vector<int64_t>{2, 3});
  CHECK(p.tensors.at("a.bf16").dtype == "BF16");
  CHECK(p.tensors.at("flags").dtype == "BOOL");
  CHECK(p.tensors.at("scalar").shape.empty());
  CHECK(p.tensors.at("empty").shape == std::vector<int64_t>{0, 4});
  // Widest elements first, then by name: every tensor aligned to its width.
  CHECK(p.order ==
        std::vector<std::string>{"scalar", "z.f64", "b.f32", "empty", "a.bf16", "flags"});
  // The values, decoded as little-endian.
  const Entry& z = p.tensors.at("z.f64");
  for (size_t i = 0; i < f64.size(); ++i) {
    const uint64_t bits = LittleEndian(p.data, z.begin + 8 * i, 8);
    double v = 0;
    std::memcpy(&v, &bits, 8);
    CHECK(std::memcmp(&v, &f64[i], 8) == 0);
  }
  const Entry& b = p.tensors.at("b.f32");
  for (size_t i = 0; i < f32.size(); ++i) {
    const uint32_t bits = static_cast<uint32_t>(LittleEndian(p.data, b.begin + 4 * i, 4));
    float v = 0;
    std::memcpy(&v, &bits, 4);
    CHECK(v == f32[i]);
  }
  const Entry& a = p.tensors.at("a.bf16");
  for (size_t i = 0; i < bf16.size(); ++i)
    CHECK(LittleEndian(p.data, a.begin + 2 * i, 2) == bf16[i]);
  CHECK(static_cast<int64_t>(LittleEndian(p.data, p.tensors.at("scalar").begin, 8)) == scalar);
  CHECK(p.data.substr(p.tensors.at("flags").begin, 3) == std::string("\x01\x00\x01", 3));
}

TEST_CASE("The header is compact JSON padded to 8 bytes", "[common][safetensors]") {
  const float one = 1.0f;
  absl::StatusOr<SafetensorsLayout> layout =
      LayOutSafetensors({{"w", TensorDtype::kF32, {1}, &one, 4}});
  REQUIRE(layout.ok());
  const std::string json = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string padded = json;
  padded.resize((json.size() + 7) / 8 * 8, ' ');
  CHECK(layout->header.substr(8) == padded);
  CHECK(LittleEndian(layout->header, 0, 8) == padded.size());
  CHECK(layout->data_bytes == 4);
  // Without metadata there is no __metadata__ key at all.
  CHECK(layout->header.find("__metadata__") == std::string::npos);
}

TEST_CASE("Malformed tensors are refused, naming them", "[common][safetensors]") {
  const std::vector<float> v(6, 0.0f);
  auto refused = [](const std::vector<SafetensorsTensor>& tensors, const std::string& words) {
    absl::StatusOr<SafetensorsLayout> layout = LayOutSafetensors(tensors);
    REQUIRE_FALSE(layout.ok());
    CHECK(layout.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(layout.status().message()), Catch::Contains(words));
  };
  refused({{"x", TensorDtype::kF32, {2, 3}, v.data(), 20}}, "x: 20 bytes");
  refused({{"x", TensorDtype::kF32, {2}, v.data(), 8}, {"x", TensorDtype::kF32, {2}, v.data(), 8}},
          "repeated");
  refused({{"__metadata__", TensorDtype::kF32, {1}, v.data(), 4}}, "reserved");
  refused({{"x", TensorDtype::kF32, {-1}, v.data(), 4}}, "negative");
  refused({{"x", TensorDtype::kF32, {1}, nullptr, 4}}, "none given");
  testing::TempDir dir;
  const absl::Status written = WriteSafetensors(dir.File("missing/t.safetensors"),
                                                {{"x", TensorDtype::kF32, {1}, v.data(), 4}});
  CHECK(written.code() == absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace galvatron
