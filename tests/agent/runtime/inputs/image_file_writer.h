// Bytes of labelled-image files in the runtime's format (image_data.h:
// magic, u32 count, channels, height, width; then per image a u32 label and
// its u8 pixels; all little-endian), for tests.
// Not thread-safe (test code).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/runtime/inputs/image_data.h"

namespace galvatron::testing {

inline void AppendU32(std::string& bytes, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The header of a file of `count` images of channels × height × width.
inline std::string ImageFileHeader(uint32_t count, uint32_t channels, uint32_t height,
                                   uint32_t width) {
  std::string bytes(runtime::kImageFileMagic, 8);
  for (uint32_t v : {count, channels, height, width}) AppendU32(bytes, v);
  return bytes;
}

// One image's record: its label, then its pixels.
inline std::string ImageRecord(uint32_t label, const std::vector<uint8_t>& pixels) {
  std::string bytes;
  AppendU32(bytes, label);
  bytes.append(pixels.begin(), pixels.end());
  return bytes;
}

}  // namespace galvatron::testing
