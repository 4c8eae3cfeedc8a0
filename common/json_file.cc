#include "common/json_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace galvatron {
namespace {

constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";

// "line L, column C" of the byte at `offset` (0-based), columns counted in
// bytes from 1.
std::string Position(absl::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::StrCat("line ", line, ", column ", offset - line_start + 1);
}

// A syntax error of `text` as "line L, column C: what", or "" when it is
// well-formed JSON. protobuf's parser reports where it failed poorly, so the
// text is scanned again by a parser that does.
std::string SyntaxError(absl::string_view text) {
  try {
    (void)nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte: 1-based index of the last byte read, where the error is.
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: x"
    // → "x": the position is given our way.
    const size_t colon = what.find(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    return absl::StrCat(Position(text, e.byte > 0 ? e.byte - 1 : 0), ": ", what);
  } catch (const nlohmann::json::exception& e) {
    return e.what();
  }
  return "";
}

// Where `key` first appears as an object key in `text`; npos if nowhere.
size_t FindKey(absl::string_view text, const std::string& key) {
  const std::string quoted = absl::StrCat("\"", key, "\"");
  for (size_t at = text.find(quoted); at != absl::string_view::npos;
       at = text.find(quoted, at + 1)) {
    size_t next = at + quoted.size();
    while (next < text.size() &&
           (text[next] == ' ' || text[next] == '\t' || text[next] == '\n' || text[next] == '\r')) {
      ++next;
    }
    if (next < text.size() && text[next] == ':') return at;
  }
  return absl::string_view::npos;
}

// "devices_per_node" -> "devicesPerNode", protobuf's JSON name.
std::string LowerCamel(absl::string_view snake) {
  std::string out;
  bool upper = false;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return out;
}

// " (at line L, column C)" of the key protobuf's error `message` is about,
// or "" when it cannot be told. protobuf 3.x names the field as a path in
// parentheses ("(device.memory_bytes): invalid value ..."), before a colon
// ("layerz: Cannot find field.") or in quotes; the text may spell it in
// lowerCamelCase or as in the .proto.
std::string KeyPosition(absl::string_view text, absl::string_view message) {
  std::vector<std::string> names;
  // The last field of a path: "a.b[2].c" -> "c".
  const auto last_field = [](absl::string_view path) {
    const size_t dot = path.rfind('.');
    if (dot != absl::string_view::npos) path = path.substr(dot + 1);
    return std::string(path.substr(0, path.find('[')));
  };
  if (absl::ConsumePrefix(&message, "(")) {
    names.push_back(last_field(message.substr(0, message.find(')'))));
  } else if (const size_t colon = message.find(": ");
             colon != absl::string_view::npos &&
             message.substr(0, colon).find(' ') == absl::string_view::npos) {
    names.push_back(last_field(message.substr(0, colon)));  // "layerz: Cannot find field."
  }
  for (size_t quote = message.find('"'); quote != absl::string_view::npos;) {
    const size_t end = message.find('"', quote + 1);
    if (end == absl::string_view::npos) break;
    names.emplace_back(message.substr(quote + 1, end - quote - 1));
    quote = message.find('"', end + 1);
  }
  for (const std::string& name : names) {
    if (name.empty()) continue;
    for (const std::string& key : {name, LowerCamel(name)}) {
      const size_t at = FindKey(text, key);
      if (at != absl::string_view::npos) return absl::StrCat(" (at ", Position(text, at), ")");
    }
  }
  return "";
}

}  // namespace

std::string MessageToJson(const google::protobuf::Message& message,
                          const JsonPrintOptions& options) {
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = options.pretty;
  print.always_print_primitive_fields = options.always_print_defaults;
  print.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, print);
  if (!status.ok()) {
    // Only happens for messages with unresolvable Any fields, which the API
    // does not use.
    return absl::StrCat("{\"error\": \"", std::string(status.message()), "\"}");
  }
  return out;
}

absl::Status JsonToMessage(const std::string& json, const std::string& what,
                           google::protobuf::Message* message) {
  absl::string_view text = json;
  // Editors on Windows start UTF-8 files with a byte order mark; JSON
  // parsers may ignore it (RFC 8259, section 8.1), and we do.
  absl::ConsumePrefix(&text, kUtf8Bom);
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), message, parse);
  if (status.ok()) return absl::OkStatus();
  const std::string type = message->GetDescriptor()->name();
  if (std::string syntax = SyntaxError(text); !syntax.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not valid JSON (a ", type, " was expected): ", syntax));
  }
  const std::string detail(status.message());
  return absl::InvalidArgumentError(absl::StrCat(what, ": not a valid ", type, " in JSON",
                                                 KeyPosition(text, detail), ": ", detail));
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return buffer.str();
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::DataLossError(absl::StrCat("cannot write ", tmp, ": ", err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat("cannot flush ", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", err));
  }
  return absl::OkStatus();
}

absl::Status ReadJsonFile(const std::string& path, google::protobuf::Message* message) {
  auto text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return JsonToMessage(*text, path, message);
}

}  // namespace galvatron
