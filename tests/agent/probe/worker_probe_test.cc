// `galvatron-worker probe` end to end: four ranks on loopback over Gloo write
// a HardwareProfile; a missing peer fails within the timeout; a rank killed
// mid-probe stops the others, naming it; --help.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/json_file.h"
#include "common/profile_validation.h"
#include "galvatron/v1/hardware.pb.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;
using testing::WaitForPort;

std::string Worker() { return testing::BinDir() + "/galvatron-worker"; }

// A loopback port nothing listens on (bound, then released).
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST_CASE("four gloo ranks on loopback measure every table") {
  TempDir dir;
  const std::vector<std::string> common = {
      "probe", "--world-size",  "4",       "--backend", "gloo",     "--min-bytes",
      "4096",  "--max-bytes",   "8388608", "--warmup",  "2",        "--repeats",
      "5",     "--threads",     "1",       "--cluster", "cpu-test", "--timeout-seconds",
      "30",    "--accept-noisy"};
  auto args = [&](int rank, const std::string& store) {
    std::vector<std::string> argv = {Worker()};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), {"--rank", std::to_string(rank), "--store", store});
    return argv;
  };
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  std::vector<std::string> logs;
  std::vector<std::string> rank0 = args(0, "127.0.0.1:0");
  rank0.insert(rank0.end(), {"--port-file", dir.File("port"), "--out", dir.File("hw.json")});
  logs.push_back(dir.File("rank0.log"));
  ranks.push_back(std::make_unique<ChildProcess>(rank0, logs.back()));
  const int port = WaitForPort(dir.File("port"));
  REQUIRE(port > 0);
  for (int r = 1; r < 4; ++r) {
    logs.push_back(dir.File(absl::StrCat("rank", r, ".log")));
    ranks.push_back(
        std::make_unique<ChildProcess>(args(r, absl::StrCat("127.0.0.1:", port)), logs.back()));
  }
  for (int r = 0; r < 4; ++r) {
    const int code = ranks[r]->Wait(std::chrono::seconds(60));
    INFO("rank " << r << " log:\n" << Slurp(logs[r]));
    REQUIRE(code == 0);
  }
  INFO("rank 0 log:\n" << Slurp(logs[0]));

  v1::HardwareProfile profile;
  REQUIRE(ReadJsonFile(dir.File("hw.json"), &profile).ok());
  const absl::Status valid = ValidateHardwareProfile(profile);
  INFO(valid.message());
  REQUIRE(valid.ok());
  CHECK(profile.cluster() == "cpu-test");
  CHECK(profile.num_nodes() == 1);
  CHECK(profile.devices_per_node() == 4);
  CHECK(profile.device().kind() == v1::DEVICE_KIND_CPU);
  CHECK(!profile.device().name().empty());
  CHECK(profile.device().memory_bytes() > 0);
  CHECK(profile.source() == v1::PROFILE_SOURCE_MEASURED);
  CHECK(!profile.measured_by().empty());
  CHECK(profile.measured_at().seconds() > 0);
  CHECK(profile.overlap_coefficient() >= 1.0);
  // Four ranks share two cores here: --accept-noisy measured every table
  // once, and the record says how noisy that was (whatever it was).
  REQUIRE(profile.has_quality());
  const v1::MeasurementQuality& quality = profile.quality();
  CHECK(quality.attempts() == 1);
  CHECK(quality.spread_threshold() == 0.25);
  CHECK(quality.load_threshold() == 0.25);
  CHECK(quality.spread() >= 0);
  CHECK(quality.noisy() == (quality.noisy_measurements_size() > 0));
  CHECK(quality.noisy() == !quality.note().empty());
  for (const std::string& line : quality.noisy_measurements()) {
    CHECK_THAT(line, Catch::Contains(" on group s") && Catch::Contains("after 1 attempt"));
  }

  std::set<std::tuple<int, int, int>> tables;
  for (const v1::CollectiveTable& t : profile.collectives()) {
    const std::string name = absl::StrCat(v1::Collective_Name(t.collective()), " size ",
                                          t.group_size(), " ", v1::GroupLayout_Name(t.layout()));
    INFO(name);
    tables.insert({t.collective(), t.group_size(), t.layout()});
    REQUIRE(t.samples_size() == 12);  // 4 KiB .. 8 MiB
    CHECK(t.samples(0).bytes() == 4096);
    CHECK(t.samples(11).bytes() == 8388608);
    for (const v1::TimeSample& s : t.samples()) CHECK(s.seconds() > 0);
    // Timing noise allowed in between (4 ranks share 2 cores here); 2048×
    // the bytes must take longer.
    CHECK(t.samples(11).seconds() > t.samples(0).seconds());
    CHECK(t.bus_bandwidth_bytes_per_second() > 0);
    CHECK(t.fit().beta_seconds_per_byte() > 0);
  }
  using C = v1::Collective;
  for (C c : {v1::COLLECTIVE_ALL_REDUCE, v1::COLLECTIVE_ALL_GATHER, v1::COLLECTIVE_REDUCE_SCATTER,
              v1::COLLECTIVE_ALL_TO_ALL}) {
    INFO(v1::Collective_Name(c));
    CHECK(tables.count({c, 2, v1::GROUP_LAYOUT_CONSECUTIVE}) == 1);
    CHECK(tables.count({c, 2, v1::GROUP_LAYOUT_STRIDED}) == 1);
    CHECK(tables.count({c, 4, v1::GROUP_LAYOUT_CONSECUTIVE}) == 1);
  }
  CHECK(tables.count({v1::COLLECTIVE_P2P, 2, v1::GROUP_LAYOUT_UNSPECIFIED}) == 1);
  CHECK(tables.count({v1::COLLECTIVE_P2P, 4, v1::GROUP_LAYOUT_UNSPECIFIED}) == 1);
  CHECK(profile.collectives_size() == 14);
}

TEST_CASE("a rank killed mid-probe stops the others, each naming it") {
  TempDir dir;
  // Many repeats of large messages: the probe is still measuring when rank 2
  // dies, and some ranks are then in groups without it.
  const std::vector<std::string> common = {"probe",   "--world-size",
                                           "4",       "--backend",
                                           "gloo",    "--min-bytes",
                                           "4096",    "--max-bytes",
                                           "4194304", "--repeats",
                                           "200",     "--threads",
                                           "1",       "--peer-timeout-seconds",
                                           "5",       "--accept-noisy"};
  auto args = [&](int rank, const std::string& store) {
    std::vector<std::string> argv = {Worker()};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), {"--rank", std::to_string(rank), "--store", store});
    return argv;
  };
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  std::vector<std::string> rank0 = args(0, "127.0.0.1:0");
  rank0.insert(rank0.end(),
               {"--port-file", dir.File("port"), "--progress-file", dir.File("progress.json")});
  ranks.push_back(std::make_unique<ChildProcess>(rank0, dir.File("rank0.log")));
  const int port = WaitForPort(dir.File("port"));
  REQUIRE(port > 0);
  for (int r = 1; r < 4; ++r) {
    ranks.push_back(std::make_unique<ChildProcess>(args(r, absl::StrCat("127.0.0.1:", port)),
                                                   dir.File(absl::StrCat("rank", r, ".log"))));
  }
  // Rank 0 has finished a table: every group is open and measuring.
  REQUIRE(WaitFor(
      [&] { return Slurp(dir.File("progress.json")).find("group_size") != std::string::npos; },
      std::chrono::seconds(60)));
  ranks[2]->Signal(SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  for (int r : {0, 1, 3}) {
    const int code = ranks[static_cast<size_t>(r)]->Wait(std::chrono::seconds(60));
    const std::string log = Slurp(dir.File(absl::StrCat("rank", r, ".log")));
    INFO("rank " << r << " exit " << code << " log:\n" << log);
    CHECK(code == 1);  // -1: still running; 128 + n: ended by signal n
    CHECK(log.find("rank 2 failed") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(60));
}

TEST_CASE("rank 0 fails within the timeout when a peer never shows up") {
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  CommandResult r =
      RunCommand({Worker(), "probe", "--rank", "0", "--world-size", "2", "--store", "127.0.0.1:0",
                  "--backend", "gloo", "--timeout-seconds", "2", "--out", dir.File("hw.json")},
                 std::chrono::seconds(30));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);
  CHECK(seconds < 15);
  CHECK(r.err.find("timed out after 2 s waiting for peers: 1 of 2 ranks joined") !=
        std::string::npos);
  CHECK(Slurp(dir.File("hw.json")).empty());
}

TEST_CASE("a rank fails within the timeout when the store is not there") {
  CommandResult r = RunCommand(
      {Worker(), "probe", "--rank", "1", "--world-size", "2", "--store",
       absl::StrCat("127.0.0.1:", UnusedPort()), "--backend", "gloo", "--timeout-seconds", "2"},
      std::chrono::seconds(30));
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);
  CHECK(r.err.find("rank 1 could not reach the store") != std::string::npos);
}

TEST_CASE("nccl without a CUDA device is refused or waits for its peer") {
  CommandResult r = RunCommand({Worker(), "probe", "--rank", "0", "--world-size", "2", "--store",
                                "127.0.0.1:0", "--backend", "nccl", "--timeout-seconds", "2"},
                               std::chrono::seconds(30));
  INFO(r.err);
  CHECK(r.exit_code != 0);
  // Without a GPU (this CI): "no CUDA device: ..."; with one, no peer comes.
  CHECK((r.err.find("no CUDA device") != std::string::npos ||
         r.err.find("timed out") != std::string::npos));
}

TEST_CASE("bad flags are refused with the option named") {
  CommandResult r = RunCommand({Worker(), "probe", "--rank", "0", "--world-size", "4", "--store",
                                "127.0.0.1:0", "--devices-per-node", "3"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("devices_per_node: 3") != std::string::npos);
  r = RunCommand({Worker(), "probe", "--rank", "0", "--world-size", "2", "--store", "nohost"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("expected HOST:PORT") != std::string::npos);
  r = RunCommand({Worker(), "probe", "--rank", "0", "--world-size", "2", "--store", "127.0.0.1:0",
                  "--noise-threshold", "0"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("--noise-threshold: 0") != std::string::npos);
  r = RunCommand({Worker(), "probe", "--rank", "0", "--world-size", "2", "--store", "127.0.0.1:0",
                  "--max-remeasure=-2"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("--max-remeasure: -2") != std::string::npos);
}

TEST_CASE("--help exits 0") {
  CommandResult r = RunCommand({Worker(), "--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("probe") != std::string::npos);
  r = RunCommand({Worker(), "probe", "--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("--world-size") != std::string::npos);
  CHECK(r.out.find("--timeout-seconds") != std::string::npos);
  for (const char* flag :
       {"--noise-threshold", "--load-threshold", "--max-remeasure", "--accept-noisy"}) {
    INFO(flag);
    CHECK(r.out.find(flag) != std::string::npos);
  }
}

}  // namespace
}  // namespace galvatron
