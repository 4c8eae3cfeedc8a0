// The planner's token file and a client's token file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/token_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)galvatron::ParseTokenFile(text);
  (void)galvatron::ParseClientToken(text);
  return 0;
}
