// galvatron-worker train --data on a Megatron-LM indexed dataset: one rank of
// gpt-tiny trains on it (the loss falls on a repetitive corpus), two runs
// give equal losses, naming the dataset by its .bin reads the same data, and
// the run differs from one on synthetic tokens.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "galvatron/v1/job.pb.h"
#include "tests/agent/runtime/inputs/indexed_dataset_writer.h"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::CommandResult;
using testing::PlanShape;
using testing::ReadMetrics;
using testing::RunCommand;
using testing::Worker;
using testing::WritePlan;

// The losses of 4 float32 steps of gpt-tiny on one rank.
std::vector<double> TrainLosses(const testing::TempDir& dir, const std::string& tag,
                                const std::string& plan, const std::string& data) {
  const std::string metrics = dir.File(tag + ".jsonl");
  CommandResult r =
      RunCommand({Worker(),         "train", "--plan",        plan,    "--model",     "gpt-tiny",
                  "--steps",        "4",     "--threads",     "1",     "--log-level", "warn",
                  "--data",         data,    "--metrics-out", metrics, "--lr",        "0.01",
                  "--warmup-steps", "0"},
                 std::chrono::seconds(120));
  INFO(tag << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<double> losses;
  for (const v1::StepMetrics& m : ReadMetrics(metrics)) losses.push_back(m.loss());
  REQUIRE(losses.size() == 4);
  return losses;
}

}  // namespace

TEST_CASE("train --data reads a Megatron indexed dataset, repeatably", "[runtime][train][data]") {
  testing::TempDir dir;
  const std::string plan = WritePlan(dir, "plan.json", PlanShape{});
  // Documents of varying lengths cycling through 16 of gpt-tiny's 512 token
  // ids: 4 steps of 8 samples of 65 tokens need 2080 tokens; 64 documents
  // of 40..103 tokens hold 4576.
  testing::Documents documents;
  int64_t next = 0;
  for (int d = 0; d < 64; ++d) {
    std::vector<int64_t> sequence;
    for (int t = 0; t < 40 + d; ++t) sequence.push_back(100 + (next++ % 16));
    documents.push_back({sequence});
  }
  const std::string prefix = dir.File("corpus_text_document");
  testing::IndexedDatasetOptions options;
  options.dtype = testing::kMegatronUint16;
  testing::WriteIndexedDataset(prefix, documents, options);

  const std::vector<double> first = TrainLosses(dir, "first", plan, prefix);
  const std::vector<double> second = TrainLosses(dir, "second", plan, prefix + ".bin");
  const std::vector<double> synthetic = TrainLosses(dir, "synthetic", plan, "synthetic");
  INFO("indexed: " << first[0] << " .. " << first[3] << ", synthetic: " << synthetic[0] << " .. "
                   << synthetic[3]);
  CHECK(first == second);
  // Untrained, the loss is near log(vocab); on a 16-token cycle it falls far
  // faster than on uniform synthetic tokens, which stay near log(512).
  CHECK(std::abs(first[0] - std::log(512.0)) < 0.2);
  CHECK(first[3] < first[0] - 0.8);
  CHECK(synthetic[3] > first[3] + 0.5);
}

}  // namespace galvatron
