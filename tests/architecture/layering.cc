#include "tests/architecture/layering.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace galvatron::architecture {
namespace {

namespace fs = std::filesystem;

enum class Area { kNone, kProto, kCommon, kInterop, kPlanner, kAgent, kClients };

const char* Name(Area a) {
  switch (a) {
    case Area::kProto:
      return "proto";
    case Area::kCommon:
      return "common/";
    case Area::kInterop:
      return "interop/";
    case Area::kPlanner:
      return "planner/";
    case Area::kAgent:
      return "agent/";
    case Area::kClients:
      return "dashboard/ (the clients)";
    case Area::kNone:
      break;
  }
  return "outside the layers";
}

// The area of a path relative to the source root, or of an include path
// (the generated protos are included as "galvatron/v1/...").
Area AreaOf(absl::string_view path) {
  const std::string first(path.substr(0, path.find('/')));
  if (first == "proto" || first == "galvatron") return Area::kProto;
  if (first == "common") return Area::kCommon;
  if (first == "interop") return Area::kInterop;
  if (first == "planner") return Area::kPlanner;
  if (first == "agent") return Area::kAgent;
  if (first == "dashboard") return Area::kClients;
  return Area::kNone;
}

// Whether code in `from` may include or link code in `to`.
bool MayUse(Area from, Area to) {
  if (from == to || to == Area::kNone) return true;
  switch (to) {
    case Area::kProto:
      return true;
    case Area::kCommon:
      return from != Area::kProto;
    case Area::kInterop:
      return from == Area::kPlanner || from == Area::kAgent || from == Area::kClients;
    default:
      return false;  // planner, agent and clients: only from themselves
  }
}

// Only the agent's workers (everything under agent/ but the daemon) may use
// LibTorch.
bool MayUseTorch(absl::string_view relative_path) {
  return absl::StartsWith(relative_path, "agent/") &&
         !absl::StartsWith(relative_path, "agent/daemon");
}

bool IsTorchHeader(absl::string_view include) {
  for (absl::string_view prefix : {"torch/", "ATen/", "c10/", "caffe2/"}) {
    if (absl::StartsWith(include, prefix)) return true;
  }
  return false;
}

bool IsTorchLibrary(absl::string_view lib) {
  static const std::set<std::string> kNames = {"torch",         "torch_cpu", "torch_cuda",
                                               "torch_library", "c10",       "c10_cuda"};
  if (kNames.count(std::string(lib)) > 0) return true;
  const std::string base = fs::path(std::string(lib)).filename().string();
  return absl::StartsWith(base, "libtorch") || absl::StartsWith(base, "libc10") ||
         absl::StartsWith(lib, "Torch::") || absl::StartsWith(lib, "caffe2::");
}

}  // namespace

std::vector<Violation> CheckIncludes(const std::string& source_root) {
  std::vector<Violation> found;
  for (const char* top : {"common", "interop", "planner", "agent", "dashboard"}) {
    const fs::path dir = fs::path(source_root) / top;
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      const std::string relative = fs::relative(entry.path(), source_root).string();
      const Area area = AreaOf(relative);
      std::ifstream in(entry.path());
      std::string line;
      for (int number = 1; std::getline(in, line); ++number) {
        absl::string_view text = absl::StripLeadingAsciiWhitespace(line);
        if (!absl::ConsumePrefix(&text, "#include")) continue;
        text = absl::StripLeadingAsciiWhitespace(text);
        if (text.size() < 2 || (text[0] != '"' && text[0] != '<')) continue;
        const char close = text[0] == '"' ? '"' : '>';
        const absl::string_view include = text.substr(1, text.find(close, 1) - 1);
        const std::string where = absl::StrCat(relative, ":", number);
        if (IsTorchHeader(include) && !MayUseTorch(relative)) {
          found.push_back({where, absl::StrCat("includes LibTorch (", include,
                                               "); only the agent's workers may")});
        } else if (close == '"' && !MayUse(area, AreaOf(include))) {
          found.push_back({where, absl::StrCat(Name(area), " includes ", include, " of ",
                                               Name(AreaOf(include)))});
        }
      }
    }
  }
  return found;
}

std::vector<Violation> CheckLinks(const std::string& link_graph_file) {
  struct Target {
    std::string dir;
    std::vector<std::string> libs;
  };
  std::map<std::string, Target> targets;
  std::ifstream in(link_graph_file);
  if (!in) return {{link_graph_file, "cannot be read"}};
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 3) continue;
    Target& t = targets[fields[0]];
    t.dir = fields[1];
    for (absl::string_view lib : absl::StrSplit(fields[2], ';', absl::SkipEmpty())) {
      t.libs.emplace_back(absl::StripAsciiWhitespace(lib));
    }
  }
  if (targets.empty()) return {{link_graph_file, "holds no targets"}};

  std::vector<Violation> found;
  for (const auto& [name, target] : targets) {
    const Area area = AreaOf(target.dir);
    if (area == Area::kNone) continue;  // tests, interface-only helpers
    // Depth-first over the project's targets, remembering the path for the
    // message; each violation is reported once per root target.
    std::set<std::string> seen;
    std::function<void(const std::string&, const std::string&)> visit =
        [&](const std::string& lib, const std::string& path) {
          if (!seen.insert(lib).second) return;
          const std::string via = absl::StrCat(path, " -> ", lib);
          auto it = targets.find(lib);
          if (it == targets.end()) {
            if (IsTorchLibrary(lib) && !MayUseTorch(target.dir)) {
              found.push_back({name, absl::StrCat("links LibTorch: ", via)});
            }
            return;
          }
          const Area to = AreaOf(it->second.dir);
          if (!MayUse(area, to)) {
            found.push_back({name, absl::StrCat(Name(area), " links ", Name(to), ": ", via)});
          }
          for (const std::string& next : it->second.libs) visit(next, via);
        };
    for (const std::string& lib : target.libs) visit(lib, name);
  }
  return found;
}

std::string Describe(const std::vector<Violation>& violations) {
  std::ostringstream out;
  for (const Violation& v : violations) out << v.where << ": " << v.what << "\n";
  return out.str();
}

}  // namespace galvatron::architecture
