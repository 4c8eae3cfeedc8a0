#include "common/progress_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace galvatron {

absl::Status WriteProgressFile(const std::string& path, const Progress& progress) {
  if (path.empty()) return absl::OkStatus();
  google::protobuf::Struct object;
  (*object.mutable_fields())["fraction"].set_number_value(std::clamp(progress.fraction, 0.0, 1.0));
  (*object.mutable_fields())["message"].set_string_value(progress.message);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(object, &json).ok()) {
    return absl::InternalError("cannot encode progress");
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json << "\n";
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp, " to ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Progress> ReadProgressFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no progress file ", path));
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(text.str(), &object).ok()) {
    return absl::DataLossError(absl::StrCat("progress file ", path, " is not JSON"));
  }
  Progress progress;
  const auto& fields = object.fields();
  if (auto it = fields.find("fraction"); it != fields.end()) {
    progress.fraction = std::clamp(it->second.number_value(), 0.0, 1.0);
  }
  if (auto it = fields.find("message"); it != fields.end()) {
    progress.message = it->second.string_value();
  }
  return progress;
}

}  // namespace galvatron
