// Megatron-LM indexed datasets (PREFIX.idx + PREFIX.bin) as a user points a
// job at them. The input is split at "\n@@\n" into the .idx and the .bin,
// written to a private temporary directory, opened, and every sample read.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "agent/runtime/inputs/indexed_dataset.h"

namespace {

const std::string& Prefix() {
  static const std::string* prefix = [] {
    char pattern[] = "/tmp/galvatron-fuzz-XXXXXX";
    const char* dir = mkdtemp(pattern);
    if (dir == nullptr) std::abort();
    return new std::string(std::string(dir) + "/data");
  }();
  return *prefix;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t cut = input.find("\n@@\n");
  Write(Prefix() + ".idx", input.substr(0, cut));
  Write(Prefix() + ".bin", cut == std::string::npos ? std::string() : input.substr(cut + 4));
  auto source = galvatron::runtime::OpenIndexedDataset(Prefix(), 4, 1000);
  if (source.ok()) {
    std::vector<int64_t> tokens(5);
    const int64_t samples = (*source)->num_samples();
    for (int64_t i = 0; i < samples && i < 64; ++i) (void)(*source)->Sample(i, tokens.data());
  }
  return 0;
}
