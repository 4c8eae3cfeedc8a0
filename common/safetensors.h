// Writes safetensors files (Hugging Face's tensor file format) without any
// tensor library: the caller hands over each tensor's bytes. The layout:
//
//   8 bytes   N, the header's length, an unsigned little-endian 64-bit integer
//   N bytes   a UTF-8 JSON object: {"__metadata__": {"key": "value", ...},
//             "NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...}
//             padded with spaces (0x20) so that N is a multiple of 8
//   the rest  the tensors' bytes, row-major and little-endian, back to back
//             (no holes), each at [BEGIN, END) counted from the start of this part
//
// Tensors are laid out by element size, largest first, then by name (as
// Hugging Face's own writer does), so that every tensor starts at a multiple
// of its element size in the file.
//
// Thread-compatible: pure functions, and WriteSafetensors writes one file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace galvatron {

// safetensors' element types (those of LibTorch's dtypes).
enum class TensorDtype {
  kBool,
  kU8,
  kI8,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kI64,
  kU64,
  kF64
};

// safetensors' name of the type: "BOOL", "U8", ..., "BF16", "F32", "F64".
const char* SafetensorsDtypeName(TensorDtype dtype);
// Bytes per element.
int64_t DtypeBytes(TensorDtype dtype);

// One tensor to write. `data` (not owned; it must outlive the call) holds
// its elements in row-major order and in this host's byte order.
struct SafetensorsTensor {
  std::string name;
  TensorDtype dtype = TensorDtype::kF32;
  std::vector<int64_t> shape;  // [] for a scalar
  const void* data = nullptr;
  size_t bytes = 0;  // elements × DtypeBytes(dtype)
};

// Where each tensor goes.
struct SafetensorsLayout {
  std::string header;         // the 8-byte length and the padded JSON: the file's first bytes
  std::vector<size_t> order;  // indices into the tensors, in the order their bytes follow
  uint64_t data_bytes = 0;    // the byte buffer's length
};

// INVALID_ARGUMENT naming the tensor when a name is empty, repeated or
// "__metadata__", a dimension is negative, or `bytes` is not the shape's
// element count times the element size (or the data is missing).
absl::StatusOr<SafetensorsLayout> LayOutSafetensors(
    const std::vector<SafetensorsTensor>& tensors,
    const std::map<std::string, std::string>& metadata = {});

// Writes the file: a temporary file beside `path`, renamed over it once
// complete. INVALID_ARGUMENT as LayOutSafetensors; UNAVAILABLE when the file
// cannot be written.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<SafetensorsTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace galvatron
