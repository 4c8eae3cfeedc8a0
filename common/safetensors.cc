#include "common/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace galvatron {
namespace {

bool HostIsLittleEndian() {
  const uint16_t probe = 1;
  uint8_t first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// A JSON string literal: quotes, backslashes and control characters escaped;
// other bytes (UTF-8) as they are.
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Writes all of `size` bytes; false on an error (errno set).
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Writes `bytes` of elements `width` bytes wide, little-endian.
bool WriteLittleEndian(int fd, const void* data, size_t bytes, int64_t width) {
  const char* in = static_cast<const char*>(data);
  if (width == 1 || HostIsLittleEndian()) return WriteAll(fd, in, bytes);
  constexpr size_t kChunk = 1 << 20;
  std::string swapped;
  for (size_t done = 0; done < bytes; done += kChunk) {
    const size_t n = std::min(kChunk, bytes - done);
    swapped.assign(in + done, n);
    for (size_t i = 0; i < n; i += static_cast<size_t>(width)) {
      std::reverse(swapped.begin() + static_cast<std::ptrdiff_t>(i),
                   swapped.begin() + static_cast<std::ptrdiff_t>(i + static_cast<size_t>(width)));
    }
    if (!WriteAll(fd, swapped.data(), n)) return false;
  }
  return true;
}

}  // namespace

const char* SafetensorsDtypeName(TensorDtype dtype) {
  switch (dtype) {
    case TensorDtype::kBool:
      return "BOOL";
    case TensorDtype::kU8:
      return "U8";
    case TensorDtype::kI8:
      return "I8";
    case TensorDtype::kI16:
      return "I16";
    case TensorDtype::kU16:
      return "U16";
    case TensorDtype::kF16:
      return "F16";
    case TensorDtype::kBF16:
      return "BF16";
    case TensorDtype::kI32:
      return "I32";
    case TensorDtype::kU32:
      return "U32";
    case TensorDtype::kF32:
      return "F32";
    case TensorDtype::kI64:
      return "I64";
    case TensorDtype::kU64:
      return "U64";
    case TensorDtype::kF64:
      return "F64";
  }
  return "?";
}

int64_t DtypeBytes(TensorDtype dtype) {
  switch (dtype) {
    case TensorDtype::kBool:
    case TensorDtype::kU8:
    case TensorDtype::kI8:
      return 1;
    case TensorDtype::kI16:
    case TensorDtype::kU16:
    case TensorDtype::kF16:
    case TensorDtype::kBF16:
      return 2;
    case TensorDtype::kI32:
    case TensorDtype::kU32:
    case TensorDtype::kF32:
      return 4;
    case TensorDtype::kI64:
    case TensorDtype::kU64:
    case TensorDtype::kF64:
      return 8;
  }
  return 0;
}

absl::StatusOr<SafetensorsLayout> LayOutSafetensors(
    const std::vector<SafetensorsTensor>& tensors,
    const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (const SafetensorsTensor& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor name \"", t.name, "\": empty, reserved or repeated"));
    }
    uint64_t elements = 1;
    for (const int64_t d : t.shape) {
      if (d < 0) {
        return absl::InvalidArgumentError(absl::StrCat(t.name, ": negative dimension ", d));
      }
      elements *= static_cast<uint64_t>(d);
    }
    const uint64_t expected = elements * static_cast<uint64_t>(DtypeBytes(t.dtype));
    if (t.bytes != expected || (expected > 0 && t.data == nullptr)) {
      return absl::InvalidArgumentError(absl::StrCat(t.name, ": ", t.bytes, " bytes of data",
                                                     t.data == nullptr ? " (none given)" : "",
                                                     ", expected ", expected, " (", elements, " ",
                                                     SafetensorsDtypeName(t.dtype), " elements)"));
    }
  }
  SafetensorsLayout layout;
  layout.order.resize(tensors.size());
  std::iota(layout.order.begin(), layout.order.end(), size_t{0});
  std::sort(layout.order.begin(), layout.order.end(), [&](size_t a, size_t b) {
    const int64_t wa = DtypeBytes(tensors[a].dtype), wb = DtypeBytes(tensors[b].dtype);
    return wa != wb ? wa > wb : tensors[a].name < tensors[b].name;
  });
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      absl::StrAppend(&json, first ? "" : ",", JsonString(key), ":", JsonString(value));
      first = false;
    }
    json += "}";
  }
  for (const size_t i : layout.order) {
    const SafetensorsTensor& t = tensors[i];
    if (json.size() > 1) json += ",";
    absl::StrAppend(&json, JsonString(t.name), ":{\"dtype\":\"", SafetensorsDtypeName(t.dtype),
                    "\",\"shape\":[");
    for (size_t d = 0; d < t.shape.size(); ++d) absl::StrAppend(&json, d ? "," : "", t.shape[d]);
    absl::StrAppend(&json, "],\"data_offsets\":[", layout.data_bytes, ",",
                    layout.data_bytes + t.bytes, "]}");
    layout.data_bytes += t.bytes;
  }
  json += "}";
  json.resize((json.size() + 7) / 8 * 8, ' ');
  const uint64_t length = json.size();
  layout.header.resize(8);
  for (int b = 0; b < 8; ++b)
    layout.header[static_cast<size_t>(b)] = static_cast<char>(length >> (8 * b));
  layout.header += json;
  return layout;
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<SafetensorsTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<SafetensorsLayout> layout = LayOutSafetensors(tensors, metadata);
  if (!layout.ok()) return layout.status();
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  }
  bool ok = WriteAll(fd, layout->header.data(), layout->header.size());
  for (size_t k = 0; ok && k < layout->order.size(); ++k) {
    const SafetensorsTensor& t = tensors[layout->order[k]];
    ok = WriteLittleEndian(fd, t.data, t.bytes, DtypeBytes(t.dtype));
  }
  ok = ok && ::fsync(fd) == 0;
  const std::string error = ok ? "" : std::strerror(errno);
  if (::close(fd) != 0 || !ok) {
    ::unlink(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write ", tmp, ": ", ok ? std::strerror(errno) : error));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", err));
  }
  return absl::OkStatus();
}

}  // namespace galvatron
