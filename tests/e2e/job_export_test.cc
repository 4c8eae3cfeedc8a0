// A job that exports its model (TrainingOptions.export_safetensors, `jobs
// submit --export`) end to end on loopback: a planner, two galvatron-agent
// processes of two CPU devices each ("nodes" n1 and n2) and their
// galvatron-worker train processes. The 4-rank float64 job (pp 2 × tp 2, so
// rank 0 lacks half of every layer and the second stage) reaches SUCCEEDED;
// rank 0's node holds <checkpoint dir>/<job id>/model.safetensors, the job
// record and `jobs show` say where, and the file — a safetensors file by its
// layout, read here — holds exactly the tensors `galvatron-worker export`
// writes from the job's final checkpoint (its shards copied from both
// nodes into one directory). A model export cannot write is refused at
// submission.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "nlohmann/json.hpp"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/agents.h"
#include "tests/support/job_client.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

namespace fs = std::filesystem;
using testing::JobClient;
using testing::Slurp;
using testing::StartAgent;

// One tensor of a safetensors file: its dtype, shape and raw bytes.
struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

struct Safetensors {
  nlohmann::json metadata;
  std::map<std::string, RawTensor> tensors;
};

// Reads a safetensors file by its layout: an 8-byte little-endian header
// length, that many bytes of JSON, then the data each tensor's
// data_offsets point into.
Safetensors ReadSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(file.size() >= 8);
  uint64_t n = 0;
  for (int b = 7; b >= 0; --b) n = (n << 8) | static_cast<unsigned char>(file[b]);
  REQUIRE(8 + n <= file.size());
  const nlohmann::json header = nlohmann::json::parse(file.substr(8, n));
  REQUIRE(header.is_object());
  const std::string data = file.substr(8 + n);
  Safetensors out;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      out.metadata = value;
      continue;
    }
    INFO(name);
    RawTensor t;
    t.dtype = value.at("dtype").get<std::string>();
    t.shape = value.at("shape").get<std::vector<int64_t>>();
    const auto offsets = value.at("data_offsets").get<std::vector<uint64_t>>();
    REQUIRE(offsets.size() == 2);
    REQUIRE(offsets[0] <= offsets[1]);
    REQUIRE(offsets[1] <= data.size());
    t.bytes = data.substr(offsets[0], offsets[1] - offsets[0]);
    out.tensors[name] = std::move(t);
  }
  return out;
}

// pp 2 × tp 2 over 4 ranks: each stage's tensor-parallel pair on one node.
v1::Plan Pp2Tp2(const testing::TempDir& dir) {
  testing::PlanShape shape;
  shape.world = 4;
  shape.pp = 2;
  for (testing::Layer& layer : shape.layers) layer.tp = 2;
  shape.embedding.tp = 2;
  v1::Plan plan;
  REQUIRE(ReadJsonFile(testing::WritePlan(dir, "pp2-tp2.json", shape), &plan).ok());
  return plan;
}

std::string AgentLogs(const testing::TempDir& dir) {
  return "n1:\n" + Slurp(dir.File("agent-n1.log")) + "\nn2:\n" + Slurp(dir.File("agent-n2.log"));
}

}  // namespace

TEST_CASE("A job with export writes its trained model on rank 0's node as the checkpoint holds it",
          "[e2e][jobs]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  JobClient client(planner.address());
  auto n1 = StartAgent(dir, planner.address(), "n1", 2);
  auto n2 = StartAgent(dir, planner.address(), "n2", 2);
  REQUIRE(testing::WaitFor([&] { return client.AliveNodes() == 2; }, std::chrono::seconds(30)));

  constexpr int kSteps = 3;
  v1::SubmitJobRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("test");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  *request.mutable_plan() = Pp2Tp2(dir);
  request.mutable_training()->set_steps(kSteps);
  request.mutable_training()->set_dtype("float64");
  request.mutable_training()->set_seed(7);
  request.mutable_training()->set_export_safetensors(true);
  v1::Job submitted;
  grpc::Status status = client.TrySubmit(request, &submitted);
  INFO(status.error_message());
  REQUIRE(status.ok());
  CHECK(submitted.training().export_safetensors());

  const v1::Job job = client.WaitEnd(submitted.id(), std::chrono::seconds(240));
  INFO(job.DebugString());
  INFO(AgentLogs(dir));
  INFO(planner.Log());
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  REQUIRE(job.checkpoint().complete());
  REQUIRE(job.checkpoint().step() == kSteps);

  // The record says where the file is: rank 0's node, under the job's
  // checkpoint directory there; the other node has none.
  const std::string file = dir.File("work-n1/checkpoints/" + job.id() + "/model.safetensors");
  REQUIRE(job.has_exported_model());
  CHECK(job.exported_model().node() == "n1");
  CHECK(job.exported_model().path() == file);
  REQUIRE(fs::exists(file));
  CHECK(job.exported_model().size_bytes() == static_cast<int64_t>(fs::file_size(file)));
  CHECK_FALSE(fs::exists(dir.File("work-n2/checkpoints/" + job.id() + "/model.safetensors")));
  CHECK_THAT(job.message(), Catch::Contains("model exported to " + file + " on n1"));

  testing::CommandResult shown = testing::RunCommand(
      {testing::BinDir() + "/galvatron", "--planner", planner.address(), "jobs", "show", job.id()});
  INFO(shown.err);
  CHECK(shown.exit_code == 0);
  CHECK_THAT(shown.out, Catch::Contains("exported      " + file + " on node n1"));

  // The job's final checkpoint, its shards gathered from both nodes, through
  // `galvatron-worker export`: the same tensors, bit for bit.
  const std::string step = "step-" + std::to_string(kSteps);
  fs::create_directories(dir.File("merged/" + step));
  for (const std::string node : {"n1", "n2"}) {
    const fs::path shards = dir.File("work-" + node + "/checkpoints/" + job.id() + "/" + step);
    for (const auto& entry : fs::directory_iterator(shards)) {
      fs::copy_file(entry.path(), fs::path(dir.File("merged/" + step)) / entry.path().filename());
    }
  }
  testing::CommandResult exported = testing::RunCommand(
      {testing::Worker(), "export", "--checkpoint", dir.File("merged"), "--plan",
       dir.File("pp2-tp2.json"), "--model", "gpt-tiny", "--step", std::to_string(kSteps), "--out",
       dir.File("from-checkpoint.safetensors")},
      std::chrono::seconds(120));
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);

  const Safetensors trained = ReadSafetensors(file);
  const Safetensors reference = ReadSafetensors(dir.File("from-checkpoint.safetensors"));
  CHECK(trained.metadata.value("format", "") == "pt");
  CHECK(trained.tensors.count("transformer.wte.weight") == 1);
  CHECK(trained.tensors.count("transformer.h.3.mlp.c_proj.weight") == 1);
  REQUIRE(trained.tensors.size() == reference.tensors.size());
  for (const auto& [name, tensor] : reference.tensors) {
    INFO(name);
    REQUIRE(trained.tensors.count(name) == 1);
    const RawTensor& t = trained.tensors.at(name);
    CHECK(t.dtype == "F64");
    CHECK(t.dtype == tensor.dtype);
    CHECK(t.shape == tensor.shape);
    CHECK(t.bytes == tensor.bytes);
  }

  n1->Signal(SIGTERM);
  n2->Signal(SIGTERM);
  CHECK(n1->Wait(std::chrono::seconds(20)) == 0);
  CHECK(n2->Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("A job asking to export a model export cannot write is refused at submission",
          "[e2e][jobs]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  JobClient client(planner.address());
  v1::SubmitJobRequest request;
  request.set_model("bert-base");
  request.set_cluster("test");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  request.mutable_training()->set_export_safetensors(true);
  v1::Job job;
  const grpc::Status status = client.TrySubmit(request, &job);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("training.export_safetensors") &&
                                         Catch::Contains("MODEL_FAMILY_BERT"));
}

}  // namespace galvatron
