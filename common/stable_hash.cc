#include "common/stable_hash.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace galvatron {

uint64_t Fnv1a64(absl::string_view bytes, uint64_t state) {
  for (unsigned char c : bytes) {
    state ^= c;
    state *= kFnv1a64Prime;
  }
  return state;
}

std::string Fnv1a64Hex(absl::string_view text, int hex_chars) {
  const std::string hex = absl::StrFormat("%016x", Fnv1a64(text));
  return hex.substr(0, static_cast<size_t>(std::clamp(hex_chars, 1, 16)));
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    // The streams hand their unused buffer back when destroyed, so `out` is
    // complete only after this scope.
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace galvatron
