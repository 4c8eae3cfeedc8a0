// The rules of the source tree's layering, checked over the tree itself:
//
//   floor 4  dashboard/ (the clients)
//   floor 3  planner/        agent/          (beside each other)
//   floor 2  interop/ (Galvatron's files)
//   floor 1  common/, proto/ (the generated galvatron/v1/*.pb.h)
//
// A file includes only its own folder's floor or floors below it, and never the
// other folder of its floor. LibTorch (torch/, ATen/, c10/) is included and
// linked only by the agent's workers: nothing under common/, interop/,
// planner/, agent/daemon/ or dashboard/ may include or link it.
// Thread-compatible: pure functions over files.
#pragma once

#include <string>
#include <vector>

namespace galvatron::architecture {

struct Violation {
  std::string where;  // "planner/x.cc:12" or a CMake target
  std::string what;   // the rule it breaks
};

// Scans every .h/.cc under the layered folders of `source_root` (tests/ and
// build folders are not layered) and reports includes that break the rules.
std::vector<Violation> CheckIncludes(const std::string& source_root);

// Reads the link graph CMake wrote (one target per line:
// `name<TAB>source dir relative to the source root<TAB>lib;lib;...`) and reports
// targets whose transitive links break the rules: a target of one folder
// linking a project target from a folder it may not include, or a target that
// may not link LibTorch reaching it through any path.
std::vector<Violation> CheckLinks(const std::string& link_graph_file);

std::string Describe(const std::vector<Violation>& violations);

}  // namespace galvatron::architecture
