// The layering of the source tree, checked on the tree itself and, so that the
// checks are known to bite, on small trees that break each rule.
#include "tests/architecture/layering.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/support/test_support.h"

namespace galvatron::architecture {
namespace {

namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST_CASE("No file includes a layer above its own, or LibTorch outside the workers") {
  const std::vector<Violation> violations = CheckIncludes(testing::SourceDir());
  INFO(Describe(violations));
  CHECK(violations.empty());
}

TEST_CASE("No target links a layer above its own, or LibTorch outside the workers") {
  const std::vector<Violation> violations = CheckLinks(GALVATRON_LINK_GRAPH);
  INFO(Describe(violations));
  CHECK(violations.empty());
}

TEST_CASE("The include check finds each kind of upward include") {
  testing::TempDir root;
  Write(root.File("common/a.h"), "#include \"planner/b.h\"\n#include \"common/ok.h\"\n");
  Write(root.File("common/b.cc"), "#include \"interop/galvatron_config.h\"\n");
  Write(root.File("interop/c.cc"), "#include \"agent/x.h\"\n#include \"galvatron/v1/plan.pb.h\"\n");
  Write(root.File("planner/d.cc"), "#include <torch/torch.h>\n#include \"interop/y.h\"\n");
  Write(root.File("planner/e.h"), "  #include \"dashboard/cli/cli_commands.h\"\n");
  Write(root.File("agent/daemon/f.cc"), "#include <ATen/ATen.h>\n#include \"common/z.h\"\n");
  Write(root.File("agent/runtime/g.cc"), "#include <torch/torch.h>\n#include \"planner/q.h\"\n");
  Write(root.File("dashboard/cli/h.cc"), "#include \"planner/search/search.h\"\n");
  Write(root.File("dashboard/web/i.cc"), "#include <c10/core/Device.h>\n");

  const std::vector<Violation> violations = CheckIncludes(root.path());
  std::set<std::string> where;
  for (const Violation& v : violations) where.insert(v.where);
  INFO(Describe(violations));
  CHECK(where == std::set<std::string>{"common/a.h:1", "common/b.cc:1", "interop/c.cc:1",
                                       "planner/d.cc:1", "planner/e.h:1", "agent/daemon/f.cc:1",
                                       "agent/runtime/g.cc:2", "dashboard/cli/h.cc:1",
                                       "dashboard/web/i.cc:1"});
}

TEST_CASE("The link check follows links to LibTorch and across layers") {
  testing::TempDir root;
  Write(root.File("graph.txt"),
        "proto_lib\tproto\tprotobuf::libprotobuf\n"
        "common_lib\tcommon\tproto_lib\n"
        "runtime_lib\tagent/runtime/comm\tcommon_lib;torch;/usr/lib/libc10.so\n"
        "daemon_lib\tagent/daemon\tcommon_lib;runtime_lib\n"
        "planner_lib\tplanner/search\tcommon_lib\n"
        "planner_bad\tplanner/service\tplanner_lib;daemon_lib\n"
        "cli\tdashboard/cli\tcommon_lib;/usr/lib/x86_64-linux-gnu/libtorch_cpu.so\n"
        "a_test\ttests/agent\truntime_lib;planner_lib\n");
  const std::vector<Violation> violations = CheckLinks(root.File("graph.txt"));
  INFO(Describe(violations));
  std::multiset<std::string> targets;
  for (const Violation& v : violations) targets.insert(v.where);
  // daemon_lib reaches torch through runtime_lib; planner_bad links the agent
  // and through it torch; the CLI links LibTorch directly. Tests may link
  // anything; the runtime may link LibTorch.
  CHECK(targets.count("daemon_lib") == 2);   // torch and libc10, both via runtime_lib
  CHECK(targets.count("planner_bad") == 4);  // agent/ twice (daemon, runtime) and LibTorch twice
  CHECK(targets.count("cli") == 1);
  CHECK(targets.count("runtime_lib") == 0);
  CHECK(targets.count("a_test") == 0);
  CHECK(CheckLinks(root.File("missing.txt")).size() == 1);
}

}  // namespace
}  // namespace galvatron::architecture
