#include "common/json_file.h"

#include <stdlib.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "common/model_catalog.h"
#include "galvatron/v1/hardware.pb.h"
#include "google/protobuf/util/message_differencer.h"

namespace galvatron {
namespace {

using google::protobuf::util::MessageDifferencer;

// A fresh directory under the system temp directory, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "galvatron-json-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

v1::HardwareProfile SampleHardware() {
  v1::HardwareProfile p;
  p.set_cluster("lab");
  p.set_num_nodes(2);
  p.set_devices_per_node(8);
  p.mutable_device()->set_memory_bytes(int64_t{80} << 30);
  p.set_overlap_coefficient(1.3);
  v1::CollectiveTable* t = p.add_collectives();
  t->set_collective(v1::COLLECTIVE_ALL_REDUCE);
  t->set_group_size(8);
  t->set_layout(v1::GROUP_LAYOUT_CONSECUTIVE);
  v1::TimeSample* s = t->add_samples();
  s->set_bytes(int64_t{1} << 33);  // int64 is a JSON string; must survive
  s->set_seconds(1.0 / 3.0);
  p.mutable_measured_at()->set_seconds(1700000000);
  return p;
}

TEST_CASE("MessageToJson then JsonToMessage gives an equal message") {
  for (bool pretty : {true, false}) {
    for (bool defaults : {true, false}) {
      INFO("pretty " << pretty << " defaults " << defaults);
      JsonPrintOptions options;
      options.pretty = pretty;
      options.always_print_defaults = defaults;

      v1::ModelSpec model = *CatalogModel("t5-3b");
      v1::ModelSpec model_back;
      REQUIRE(JsonToMessage(MessageToJson(model, options), "t5", &model_back).ok());
      CHECK(MessageDifferencer::Equals(model, model_back));

      v1::HardwareProfile hw = SampleHardware();
      v1::HardwareProfile hw_back;
      REQUIRE(JsonToMessage(MessageToJson(hw, options), "hw", &hw_back).ok());
      CHECK(MessageDifferencer::Equals(hw, hw_back));
    }
  }
}

TEST_CASE("MessageToJson uses lowerCamelCase names and prints defaults on request") {
  v1::ModelSpec vit = *CatalogModel("vit-base");
  const std::string json = MessageToJson(vit);
  CHECK(json.find("\"seqLen\"") != std::string::npos);
  CHECK(json.find("\"seq_len\"") == std::string::npos);
  CHECK(json.find("\"vocabSize\"") == std::string::npos);  // 0 is the default
  JsonPrintOptions options;
  options.always_print_defaults = true;
  CHECK(MessageToJson(vit, options).find("\"vocabSize\"") != std::string::npos);
  options.pretty = false;
  CHECK(MessageToJson(vit, options).find('\n') == std::string::npos);
}

TEST_CASE("JsonToMessage accepts snake_case names") {
  v1::ModelSpec spec;
  REQUIRE(JsonToMessage(R"({"name": "m", "vocab_size": 5, "seqLen": 7,
                            "family": "MODEL_FAMILY_GPT"})",
                        "inline", &spec)
              .ok());
  CHECK(spec.vocab_size() == 5);
  CHECK(spec.seq_len() == 7);
  CHECK(spec.family() == v1::MODEL_FAMILY_GPT);
}

TEST_CASE("JsonToMessage: unknown fields and bad JSON are errors naming the input") {
  v1::ModelSpec spec;
  absl::Status unknown = JsonToMessage(R"({"name": "m", "layerz": []})", "models/m.json", &spec);
  REQUIRE(!unknown.ok());
  CHECK(unknown.code() == absl::StatusCode::kInvalidArgument);
  const std::string message(unknown.message());
  CHECK(message.rfind("models/m.json: ", 0) == 0);
  CHECK(message.find("ModelSpec") != std::string::npos);

  absl::Status broken = JsonToMessage("{\"name\": ", "broken.json", &spec);
  REQUIRE(!broken.ok());
  CHECK(std::string(broken.message()).rfind("broken.json: ", 0) == 0);

  absl::Status wrong_type = JsonToMessage(R"({"seqLen": "long"})", "typed.json", &spec);
  CHECK(!wrong_type.ok());
}

TEST_CASE("JsonToMessage: a syntax error names its line and column") {
  v1::ModelSpec spec;
  // The missing comma is noticed at the end of the second key: line 3,
  // column 10.
  absl::Status status = JsonToMessage("{\n  \"name\": \"m\"\n  \"seqLen\": 8\n}", "m.json", &spec);
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  const std::string message(status.message());
  INFO(message);
  CHECK_THAT(message, Catch::StartsWith("m.json: not valid JSON (a ModelSpec was expected): "
                                        "line 3, column 10: "));

  status = JsonToMessage("{\"name\": ", "cut.json", &spec);
  INFO(status.message());
  CHECK_THAT(std::string(status.message()),
             Catch::Contains("cut.json: not valid JSON") && Catch::Contains("line 1, column 10"));
}

TEST_CASE("JsonToMessage: a field error names the line of its key") {
  v1::ModelSpec spec;
  absl::Status status =
      JsonToMessage("{\n  \"name\": \"m\",\n\n    \"layerz\": []\n}", "m.json", &spec);
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  INFO(status.message());
  CHECK_THAT(std::string(status.message()),
             Catch::StartsWith("m.json: not a valid ModelSpec in JSON (at line 4, column 5): "));

  // A value of the wrong type: protobuf names the field in .proto spelling.
  v1::HardwareProfile hardware;
  status = JsonToMessage("{\n  \"cluster\": \"a\",\n  \"devicesPerNode\": \"x\"\n}", "hw.json",
                         &hardware);
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  INFO(status.message());
  CHECK_THAT(
      std::string(status.message()),
      Catch::StartsWith("hw.json: not a valid HardwareProfile in JSON (at line 3, column 3): "));
}

TEST_CASE("JsonToMessage: a UTF-8 byte order mark is skipped") {
  v1::ModelSpec spec;
  const absl::Status status = JsonToMessage("\xEF\xBB\xBF{\"name\": \"m\"}", "bom.json", &spec);
  INFO(status.message());
  REQUIRE(status.ok());
  CHECK(spec.name() == "m");
}

TEST_CASE("files: write, read back, no temporary left behind") {
  TempDir dir;
  const std::string path = dir.File("hw.json");
  const v1::HardwareProfile hw = SampleHardware();
  REQUIRE(WriteTextFile(path, MessageToJson(hw)).ok());

  v1::HardwareProfile back;
  REQUIRE(ReadJsonFile(path, &back).ok());
  CHECK(MessageDifferencer::Equals(hw, back));

  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);

  // Overwriting replaces the whole file.
  REQUIRE(WriteTextFile(path, "{}").ok());
  auto text = ReadTextFile(path);
  REQUIRE(text.ok());
  CHECK(*text == "{}");
}

TEST_CASE("files: errors") {
  TempDir dir;
  auto missing = ReadTextFile(dir.File("missing.json"));
  REQUIRE(!missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(std::string(missing.status().message()).find("missing.json") != std::string::npos);

  const std::string bad = dir.File("bad.json");
  REQUIRE(WriteTextFile(bad, R"({"cluster": "lab", "nodes": 3})").ok());
  v1::HardwareProfile hw;
  absl::Status status = ReadJsonFile(bad, &hw);
  REQUIRE(!status.ok());
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(status.message()).rfind(bad + ": ", 0) == 0);

  CHECK(!WriteTextFile(dir.File("no-such-dir/x.json"), "{}").ok());
}

}  // namespace
}  // namespace galvatron
