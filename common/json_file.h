// Protobuf messages as JSON text and files (protobuf's JSON mapping), the file
// form of every message in the system.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace galvatron {

struct JsonPrintOptions {
  bool pretty = true;
  // Print fields that hold their default value (0, "", false) too.
  bool always_print_defaults = false;
};

// The message in protobuf's JSON mapping (lowerCamelCase field names).
std::string MessageToJson(const google::protobuf::Message& message,
                          const JsonPrintOptions& options = {});

// Parses `json` into `message`. Accepts lowerCamelCase and the original
// snake_case names; unknown fields are an error. `what` names the input in the
// error message (e.g. a file path).
absl::Status JsonToMessage(const std::string& json, const std::string& what,
                           google::protobuf::Message* message);

absl::StatusOr<std::string> ReadTextFile(const std::string& path);
// Writes atomically: a temporary file beside `path`, fsync, rename.
absl::Status WriteTextFile(const std::string& path, const std::string& text);

absl::Status ReadJsonFile(const std::string& path, google::protobuf::Message* message);

}  // namespace galvatron
