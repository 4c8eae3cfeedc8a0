// Helpers shared by the store tests: whole-file reads and writes, and
// unwrapping a StatusOr inside a Catch2 test. Temporary directories come from
// tests/support/test_support.h.
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace galvatron::store::store_test {

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// The value of `result`; fails the test (printing the status) if it is an
// error.
template <typename T>
T ValueOrFail(absl::StatusOr<T> result) {
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return std::move(result).value();
}

}  // namespace galvatron::store::store_test
