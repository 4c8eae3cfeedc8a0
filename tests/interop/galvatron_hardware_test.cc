#include "interop/galvatron_hardware.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <iterator>
#include <string>

#include "common/json_file.h"
#include "common/profile_validation.h"
#include "google/protobuf/util/message_differencer.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_support.h"

namespace galvatron::interop {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::MessageDifferencer;

constexpr double kMbPerMsInBytesPerSecond = 1048576.0 * 1000.0;

std::string DataDir() { return testing::SourceDir() + "/tests/data/galvatron"; }

std::string Data(const std::string& name) { return DataDir() + "/" + name; }

const v1::CollectiveTable* FindTable(const v1::HardwareProfile& p, v1::Collective c, int size,
                                     v1::GroupLayout layout) {
  for (const v1::CollectiveTable& t : p.collectives()) {
    if (t.collective() == c && t.group_size() == size && t.layout() == layout) return &t;
  }
  return nullptr;
}

void Copy(const std::string& name, const testing::TempDir& dir) {
  fs::copy_file(Data(name), dir.File(name));
}

void WriteText(const std::string& path, const std::string& text) {
  REQUIRE(WriteTextFile(path, text).ok());
}

// The 8-GPU files (with sp_time) in a folder of their own.
void Copy8Gpu(const testing::TempDir& dir) {
  Copy("allreduce_bandwidth_1nodes_8gpus_per_node.json", dir);
  Copy("p2p_bandwidth_1nodes_8gpus_per_node.json", dir);
  Copy("overlap_coefficient.json", dir);
  Copy("sp_time_1nodes_8gpus_per_node.json", dir);
}

TEST_CASE("ReadGalvatronHardware reads the 8-GPU A100 files", "[interop]") {
  GalvatronHardwareFiles files;
  files.directory = DataDir();
  files.num_nodes = 1;
  files.gpus_per_node = 8;
  files.cluster = "a100-8";
  auto read = ReadGalvatronHardware(files);
  REQUIRE(read.ok());
  const v1::HardwareProfile& p = *read;
  CHECK(ValidateHardwareProfile(p).ok());
  CHECK(p.cluster() == "a100-8");
  CHECK(p.num_nodes() == 1);
  CHECK(p.devices_per_node() == 8);
  CHECK(p.source() == v1::PROFILE_SOURCE_GALVATRON_IMPORT);
  CHECK(p.runtime_context_bytes() == 1024 * 1048576LL);
  CHECK(p.overlap_coefficient() == 1.125552573612729);
  // All-reduce: 8c, 4c, 4s, 2c, 2s; P2P 2, 4, 8; all-to-all 8, 4, 2.
  CHECK(p.collectives_size() == 11);

  using v1::COLLECTIVE_ALL_REDUCE;
  using v1::GROUP_LAYOUT_CONSECUTIVE;
  using v1::GROUP_LAYOUT_STRIDED;
  const std::tuple<int, v1::GroupLayout, double> bandwidths[] = {
      {8, GROUP_LAYOUT_CONSECUTIVE, 154.203},
      {4, GROUP_LAYOUT_CONSECUTIVE, 159.119},
      {4, GROUP_LAYOUT_STRIDED, 155.815},
      {2, GROUP_LAYOUT_CONSECUTIVE, 138.156},
      {2, GROUP_LAYOUT_STRIDED, 151.344}};
  for (const auto& [size, layout, mb_per_ms] : bandwidths) {
    const v1::CollectiveTable* t = FindTable(p, COLLECTIVE_ALL_REDUCE, size, layout);
    REQUIRE(t != nullptr);
    CHECK(t->bus_bandwidth_bytes_per_second() == mb_per_ms * kMbPerMsInBytesPerSecond);
  }
  CHECK(FindTable(p, COLLECTIVE_ALL_REDUCE, 8, GROUP_LAYOUT_STRIDED) == nullptr);

  const std::pair<int, double> p2p[] = {{2, 163.671}, {4, 138.581}, {8, 109.45}};
  for (const auto& [pp, mb_per_ms] : p2p) {
    const v1::CollectiveTable* t =
        FindTable(p, v1::COLLECTIVE_P2P, pp, v1::GROUP_LAYOUT_UNSPECIFIED);
    REQUIRE(t != nullptr);
    CHECK(t->bus_bandwidth_bytes_per_second() == mb_per_ms * kMbPerMsInBytesPerSecond);
    CHECK(t->samples().empty());
  }

  // sp_time: the all-reduce rows join the consecutive tables that hold the
  // bus bandwidth; 11 message sizes of 1..1024 MB each.
  const v1::CollectiveTable* ar8 = FindTable(p, COLLECTIVE_ALL_REDUCE, 8, GROUP_LAYOUT_CONSECUTIVE);
  REQUIRE(ar8->samples_size() == 11);
  CHECK(ar8->samples(0).bytes() == 1048576);
  CHECK(ar8->samples(0).seconds() == 0.07895 / 1000);
  CHECK(ar8->samples(10).bytes() == 1024LL * 1048576);
  CHECK(ar8->samples(10).seconds() == 8.1409 / 1000);
  // Least squares of t = m·MB + c over the 11 rows (ms): m = 0.0080130714,
  // c = 0.1747266191 (as numpy.polyfit / scipy curve_fit give).
  CHECK(ar8->fit().alpha_seconds() == Approx(0.17472661909989062e-3).epsilon(1e-9));
  CHECK(ar8->fit().beta_seconds_per_byte() ==
        Approx(0.008013071416659114e-3 / 1048576).epsilon(1e-9));
  CHECK(FindTable(p, COLLECTIVE_ALL_REDUCE, 4, GROUP_LAYOUT_STRIDED)->samples().empty());

  for (int size : {8, 4, 2}) {
    const v1::CollectiveTable* a2a =
        FindTable(p, v1::COLLECTIVE_ALL_TO_ALL, size, GROUP_LAYOUT_CONSECUTIVE);
    REQUIRE(a2a != nullptr);
    CHECK(a2a->samples_size() == 11);
    CHECK(a2a->fit().beta_seconds_per_byte() > 0);
    CHECK(a2a->bus_bandwidth_bytes_per_second() == 0);
  }
  const v1::CollectiveTable* a2a2 =
      FindTable(p, v1::COLLECTIVE_ALL_TO_ALL, 2, GROUP_LAYOUT_CONSECUTIVE);
  CHECK(a2a2->fit().alpha_seconds() == Approx(0.07152823271130637e-3).epsilon(1e-9));
  CHECK(a2a2->fit().beta_seconds_per_byte() ==
        Approx(0.0033302439864072446e-3 / 1048576).epsilon(1e-9));
}

TEST_CASE("ReadGalvatronHardware infers the cluster shape from the file names", "[interop]") {
  GalvatronHardwareFiles files;
  files.directory = DataDir();
  files.cluster = "a100";

  SECTION("ambiguous: the folder holds three clusters' files") {
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string message(read.status().message());
    CHECK_THAT(message, Catch::Contains("allreduce_bandwidth_1nodes_4gpus_per_node.json"));
    CHECK_THAT(message, Catch::Contains("allreduce_bandwidth_1nodes_8gpus_per_node.json"));
    CHECK_THAT(message, Catch::Contains("allreduce_bandwidth_2nodes_8gpus_per_node.json"));
  }
  SECTION("gpus_per_node 4 narrows it to one") {
    files.gpus_per_node = 4;
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.ok());
    CHECK(read->num_nodes() == 1);
    CHECK(read->devices_per_node() == 4);
    CHECK(read->collectives_size() == 3 + 2);  // 4c, 2c, 2s; P2P 2, 4
  }
  SECTION("num_nodes 2 narrows it to one; no sp_time file") {
    files.num_nodes = 2;
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.ok());
    CHECK(read->devices_per_node() == 8);
    const v1::CollectiveTable* ar16 =
        FindTable(*read, v1::COLLECTIVE_ALL_REDUCE, 16, v1::GROUP_LAYOUT_CONSECUTIVE);
    REQUIRE(ar16 != nullptr);
    CHECK(ar16->bus_bandwidth_bytes_per_second() == 44.682 * kMbPerMsInBytesPerSecond);
    CHECK(FindTable(*read, v1::COLLECTIVE_ALL_REDUCE, 2, v1::GROUP_LAYOUT_STRIDED)
              ->bus_bandwidth_bytes_per_second() == 8.13007 * kMbPerMsInBytesPerSecond);
    CHECK(FindTable(*read, v1::COLLECTIVE_P2P, 16, v1::GROUP_LAYOUT_UNSPECIFIED) != nullptr);
    for (const v1::CollectiveTable& t : read->collectives()) CHECK(t.samples().empty());
  }
  SECTION("none matching") {
    files.gpus_per_node = 2;
    CHECK(ReadGalvatronHardware(files).status().code() == absl::StatusCode::kNotFound);
  }
}

TEST_CASE("ReadGalvatronHardware takes explicit file and folder paths", "[interop]") {
  testing::TempDir dir;
  // Files under names of the user's choosing; the shape comes from the one
  // whose name Galvatron derives.
  fs::copy_file(Data("p2p_bandwidth_1nodes_8gpus_per_node.json"), dir.File("p2p.json"));
  fs::copy_file(Data("overlap_coefficient.json"), dir.File("overlap.json"));
  fs::copy_file(Data("sp_time_1nodes_8gpus_per_node.json"), dir.File("sp.json"));
  GalvatronHardwareFiles files;
  files.cluster = "a100-8";
  files.allreduce_bandwidth_path = Data("allreduce_bandwidth_1nodes_8gpus_per_node.json");
  files.p2p_bandwidth_path = dir.File("p2p.json");
  files.overlap_coefficient_path = dir.File("overlap.json");
  files.sp_time_path = dir.File("sp.json");
  auto read = ReadGalvatronHardware(files);
  REQUIRE(read.ok());
  CHECK(read->devices_per_node() == 8);
  CHECK(read->collectives_size() == 11);

  // A folder is searched for Galvatron's file name.
  files.p2p_bandwidth_path = DataDir();
  files.sp_time_path = DataDir();
  auto from_folders = ReadGalvatronHardware(files);
  REQUIRE(from_folders.ok());
  CHECK(MessageDifferencer::Equals(*read, *from_folders));

  // An explicit sp_time file must exist.
  files.sp_time_path = dir.File("missing.json");
  CHECK(ReadGalvatronHardware(files).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("Galvatron hardware files round-trip through our profile", "[interop]") {
  testing::TempDir in, out;
  Copy8Gpu(in);
  GalvatronHardwareFiles files;
  files.directory = in.path();
  files.cluster = "a100-8";
  auto first = ReadGalvatronHardware(files);
  REQUIRE(first.ok());
  REQUIRE(WriteGalvatronHardware(*first, out.path()).ok());
  files.directory = out.path();
  auto second = ReadGalvatronHardware(files);
  REQUIRE(second.ok());
  CHECK(MessageDifferencer::Equals(*first, *second));

  // The files themselves come back number for number, keys in Galvatron's order.
  for (const char* name : {"allreduce_bandwidth_1nodes_8gpus_per_node.json",
                           "p2p_bandwidth_1nodes_8gpus_per_node.json", "overlap_coefficient.json",
                           "sp_time_1nodes_8gpus_per_node.json"}) {
    INFO(name);
    const auto original = nlohmann::ordered_json::parse(*ReadTextFile(in.File(name)));
    const auto written = nlohmann::ordered_json::parse(*ReadTextFile(out.File(name)));
    CHECK(written == original);
  }
  // Written as json.dump(indent=4) writes it.
  CHECK(*ReadTextFile(out.File("overlap_coefficient.json")) ==
        "{\n    \"overlap_coe\": 1.125552573612729\n}");
}

TEST_CASE("a noisy profile writes the same Galvatron files as a clean one", "[interop]") {
  // The measurement-quality record is ours: Galvatron's files keep their shape.
  testing::TempDir in, clean_dir, noisy_dir;
  Copy8Gpu(in);
  GalvatronHardwareFiles files;
  files.directory = in.path();
  files.cluster = "a100-8";
  auto clean = ReadGalvatronHardware(files);
  REQUIRE(clean.ok());
  CHECK_FALSE(clean->has_quality());  // Galvatron's files say nothing of it
  v1::HardwareProfile noisy = *clean;
  v1::MeasurementQuality* q = noisy.mutable_quality();
  q->set_noisy(true);
  q->set_spread(0.6);
  q->set_load(0.9);
  q->set_attempts(4);
  q->set_note("1 measurement stayed noisy: COLLECTIVE_ALL_REDUCE on group s8-consecutive-0");
  q->add_noisy_measurements("COLLECTIVE_ALL_REDUCE on group s8-consecutive-0: spread 0.6");
  CHECK(ValidateHardwareProfile(noisy).ok());
  REQUIRE(WriteGalvatronHardware(*clean, clean_dir.path()).ok());
  REQUIRE(WriteGalvatronHardware(noisy, noisy_dir.path()).ok());
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(clean_dir.path())) {
    const std::string name = entry.path().filename().string();
    INFO(name);
    CHECK(*ReadTextFile(noisy_dir.File(name)) == *ReadTextFile(clean_dir.File(name)));
    ++compared;
  }
  CHECK(compared == 4);
  CHECK(std::distance(fs::directory_iterator(noisy_dir.path()), fs::directory_iterator()) == 4);
}

TEST_CASE("the 2-node files round-trip, including 7.65998 MB/ms", "[interop]") {
  testing::TempDir in, out;
  Copy("allreduce_bandwidth_2nodes_8gpus_per_node.json", in);
  Copy("p2p_bandwidth_2nodes_8gpus_per_node.json", in);
  Copy("overlap_coefficient.json", in);
  GalvatronHardwareFiles files;
  files.directory = in.path();
  files.cluster = "a100-16";
  auto first = ReadGalvatronHardware(files);
  REQUIRE(first.ok());
  REQUIRE(WriteGalvatronHardware(*first, out.path()).ok());
  CHECK_FALSE(fs::exists(out.File("sp_time_2nodes_8gpus_per_node.json")));
  const std::string p2p = "p2p_bandwidth_2nodes_8gpus_per_node.json";
  CHECK(nlohmann::ordered_json::parse(*ReadTextFile(out.File(p2p))) ==
        nlohmann::ordered_json::parse(*ReadTextFile(in.File(p2p))));
  files.directory = out.path();
  auto second = ReadGalvatronHardware(files);
  REQUIRE(second.ok());
  CHECK(MessageDifferencer::Equals(*first, *second));
}

TEST_CASE("FormatGalvatronHardware derives bandwidths from measured tables", "[interop]") {
  v1::HardwareProfile p;
  p.set_cluster("lab");
  p.set_num_nodes(1);
  p.set_devices_per_node(2);
  p.set_overlap_coefficient(1.2);
  // All-reduce of 2 ranks: 32 MB in 1 ms → bus bandwidth 2·1/2·32/1 = 32 MB/ms.
  v1::CollectiveTable* ar = p.add_collectives();
  ar->set_collective(v1::COLLECTIVE_ALL_REDUCE);
  ar->set_group_size(2);
  ar->set_layout(v1::GROUP_LAYOUT_CONSECUTIVE);
  ar->mutable_fit()->set_beta_seconds_per_byte(1e-3 / (32 * 1048576.0));
  // Strided: from samples (the same line).
  v1::CollectiveTable* strided = p.add_collectives();
  *strided = *ar;
  strided->set_layout(v1::GROUP_LAYOUT_STRIDED);
  strided->clear_fit();
  for (int mb : {16, 64}) {
    v1::TimeSample* s = strided->add_samples();
    s->set_bytes(int64_t{mb} << 20);
    s->set_seconds(1e-3 * mb / 32);
  }
  // P2P: 32 MB in 2 ms → 16 MB/ms.
  v1::CollectiveTable* p2p = p.add_collectives();
  p2p->set_collective(v1::COLLECTIVE_P2P);
  p2p->set_group_size(2);
  p2p->mutable_fit()->set_beta_seconds_per_byte(2e-3 / (32 * 1048576.0));

  auto json = FormatGalvatronHardware(p);
  REQUIRE(json.ok());
  const auto allreduce = nlohmann::json::parse(json->allreduce_bandwidth);
  CHECK(allreduce["allreduce_size_2_consec_1"].get<double>() == Approx(32).epsilon(1e-12));
  CHECK(allreduce["allreduce_size_2_consec_0"].get<double>() == Approx(32).epsilon(1e-12));
  CHECK(nlohmann::json::parse(json->p2p_bandwidth)["pp_size_2"].get<double>() ==
        Approx(16).epsilon(1e-12));
  // The strided samples are not SP tables (Galvatron's are consecutive only).
  CHECK(json->sp_time.empty());
  CHECK(json->allreduce_bandwidth_name == "allreduce_bandwidth_1nodes_2gpus_per_node.json");

  SECTION("a table Galvatron needs is missing") {
    p.mutable_collectives()->DeleteSubrange(0, 1);  // allreduce_size_2_consec_1
    CHECK(FormatGalvatronHardware(p).status().code() == absl::StatusCode::kFailedPrecondition);
  }
}

TEST_CASE("ReadGalvatronHardware names the file and key of bad input", "[interop]") {
  testing::TempDir dir;
  Copy8Gpu(dir);
  GalvatronHardwareFiles files;
  files.directory = dir.path();
  files.cluster = "a100-8";
  const std::string allreduce = dir.File("allreduce_bandwidth_1nodes_8gpus_per_node.json");

  SECTION("missing file") {
    fs::remove(dir.File("overlap_coefficient.json"));
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("overlap_coefficient.json"));
  }
  SECTION("bad key") {
    WriteText(allreduce, R"({"allreduce_size_8_consec_1": 154.2, "allreduce_size_x_consec_1": 1})");
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string message(read.status().message());
    CHECK_THAT(message, Catch::Contains(allreduce));
    CHECK_THAT(message, Catch::Contains("allreduce_size_x_consec_1"));
  }
  SECTION("a key Galvatron needs is missing") {
    WriteText(allreduce, R"({"allreduce_size_8_consec_1": 154.2, "allreduce_size_4_consec_1": 1,
                             "allreduce_size_4_consec_0": 1, "allreduce_size_2_consec_1": 1})");
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("allreduce_size_2_consec_0"));
  }
  SECTION("group larger than the cluster") {
    WriteText(dir.File("p2p_bandwidth_1nodes_8gpus_per_node.json"), R"({"pp_size_16": 1.0})");
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("pp_size_16"));
  }
  SECTION("not a number") {
    WriteText(dir.File("overlap_coefficient.json"), R"({"overlap_coe": "fast"})");
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("overlap_coe"));
  }
  SECTION("not JSON") {
    WriteText(dir.File("overlap_coefficient.json"), "{\"overlap_coe\": ");
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("overlap_coefficient.json"));
  }
  SECTION("too few SP message sizes") {
    WriteText(dir.File("sp_time_1nodes_8gpus_per_node.json"),
              R"({"all2all_size_2_1MB_time": 0.07, "all2all_size_2_2MB_time": 0.1})");
    auto read = ReadGalvatronHardware(files);
    REQUIRE(read.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("all2all_size_2"));
  }
  SECTION("no cluster name") {
    files.cluster.clear();
    CHECK(ReadGalvatronHardware(files).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace

TEST_CASE("A CPU probe of messages under 1 MB still yields Galvatron's sp_time keys", "[interop]") {
  v1::HardwareProfile p;
  p.set_cluster("cpu");
  p.set_num_nodes(1);
  p.set_devices_per_node(2);
  p.set_overlap_coefficient(1.1);
  v1::CollectiveTable* ar = p.add_collectives();
  ar->set_collective(v1::COLLECTIVE_ALL_REDUCE);
  ar->set_group_size(2);
  ar->set_layout(v1::GROUP_LAYOUT_CONSECUTIVE);
  for (int64_t bytes : {4096, 65536}) {
    v1::TimeSample* s = ar->add_samples();
    s->set_bytes(bytes);
    s->set_seconds(1e-4 * static_cast<double>(bytes) / 65536);
  }
  // A noisy fit (negative slope) is not used: the largest sample is scaled.
  ar->mutable_fit()->set_alpha_seconds(2e-4);
  ar->mutable_fit()->set_beta_seconds_per_byte(-1e-12);
  ar->set_bus_bandwidth_bytes_per_second(1e9);
  auto json = FormatGalvatronHardware(p);
  INFO(json.status().message());
  REQUIRE(json.ok());
  const auto sp_time = nlohmann::json::parse(json->sp_time);
  // 1 MB = 16 × 64 KiB → 16 × 0.1 ms.
  CHECK(sp_time["allreduce_size_2_1MB_time"].get<double>() == Approx(1.6).epsilon(1e-9));
}

}  // namespace galvatron::interop
