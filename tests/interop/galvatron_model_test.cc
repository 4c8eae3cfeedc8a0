#include "interop/galvatron_model.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "common/profile_validation.h"
#include "tests/support/test_support.h"

namespace galvatron::interop {
namespace {

constexpr double kMb = 1048576.0;

std::string Data(const std::string& name) {
  return testing::SourceDir() + "/tests/data/galvatron/" + name;
}

// LLaMA-2-7B as Galvatron profiled it: bf16, seq 2048.
v1::ModelSpec Llama2_7b() {
  v1::ModelSpec spec = *CatalogModel("llama2-7b");
  spec.set_seq_len(2048);
  spec.set_precision(v1::PRECISION_BF16_MIXED);
  return spec;
}

GalvatronModelFiles LlamaFiles() {
  GalvatronModelFiles files;
  files.computation_profile_path = Data("computation_profiling_bf16_llama2-7b_all.json");
  files.memory_profile_path = Data("memory_profiling_bf16_llama2-7b_all.json");
  files.spec = Llama2_7b();
  files.cluster = "a100-8";
  return files;
}

int64_t Bytes(double mb) { return std::llround(mb * kMb); }

const v1::OtherLayersMemory* FindOther(const v1::ComputeProfile& p, v1::PipelinePosition pos,
                                       int vtp) {
  for (const v1::OtherLayersMemory& m : p.other_memory()) {
    if (m.position() == pos && m.vocab_tp_degree() == vtp) return &m;
  }
  return nullptr;
}

TEST_CASE("LLaMA-2-7B profiles in batch mode", "[interop]") {
  GalvatronModelFiles files = LlamaFiles();
  files.time_profile_mode = GalvatronTimeProfileMode::kBatch;
  auto read = ReadGalvatronModelProfiles(files);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 2);
  const v1::ComputeProfile& layer = (*read)[0];
  const v1::ComputeProfile& head = (*read)[1];
  CHECK(layer.layer_type() == LayerTypeKey(files.spec, 0));
  CHECK(layer.layer_type() == "llama_decoder:h4096:f11008:a32:kv32:d128:s2048:nobias:bf16");
  CHECK(head.layer_type() == EmbeddingTypeKey(files.spec));
  for (const v1::ComputeProfile& p : *read) {
    CHECK(ValidateComputeProfile(p).ok());
    CHECK(p.cluster() == "a100-8");
    CHECK(p.model() == "llama2-7b");
    CHECK(p.precision() == v1::PRECISION_BF16_MIXED);
    CHECK(p.source() == v1::PROFILE_SOURCE_GALVATRON_IMPORT);
  }

  // Time samples: 12 batch sizes at seq 2048, forward time of b samples.
  REQUIRE(layer.time_samples_size() == 12);
  CHECK(layer.time_samples(7).micro_batch() == 8);
  CHECK(layer.time_samples(7).seq_len() == 2048);
  CHECK(layer.time_samples(7).forward_seconds() == Approx(3.9369729995727534 * 8 / 1000));
  CHECK(layer.time_samples(7).forward_seconds() / 8 * 1000 == Approx(3.937).epsilon(1e-4));
  REQUIRE(head.time_samples_size() == 12);
  CHECK(head.time_samples(0).forward_seconds() == Approx(6.286115455627439 / 1000));

  // Batch fits (time = per-sample slope · b + constant, as Galvatron fits its
  // batch-mode profiles; see docs/galvatron-mapping.md): layer 3.859·b + 0.833 ms, other
  // 2.680·b + 2.355 ms.
  CHECK(layer.forward_fit().per_sample_s0() * 1000 == Approx(3.859).margin(1e-3));
  CHECK(layer.forward_fit().constant() * 1000 == Approx(0.833).margin(1e-3));
  CHECK(head.forward_fit().per_sample_s0() * 1000 == Approx(2.680).margin(1e-3));
  CHECK(head.forward_fit().constant() * 1000 == Approx(2.355).margin(1e-3));
  // ... to the digits of numpy.polyfit on the same points.
  CHECK(layer.forward_fit().per_sample_s0() * 1000 == Approx(3.8590168994623464).epsilon(1e-10));
  CHECK(layer.forward_fit().constant() * 1000 == Approx(0.8329851396156087).epsilon(1e-9));
  CHECK(head.forward_fit().per_sample_s0() * 1000 == Approx(2.6803283231241726).epsilon(1e-10));
  CHECK(head.forward_fit().constant() * 1000 == Approx(2.354899244597462).epsilon(1e-9));
  CHECK(layer.forward_fit().per_sample_s2() == 0);
  CHECK(layer.forward_fit().per_sample_s1() == 0);

  // Memory from the _sp tables.
  CHECK(layer.parameter_bytes() == Bytes(778.2236328125));
  CHECK(layer.parameter_bytes() == 816026624);
  CHECK(layer.parameter_count() == 816026624 / 4);
  REQUIRE(layer.activations_size() == 4);
  const std::pair<int, double> acts[] = {
      {1, 514.5634765625}, {2, 273.28173828125}, {4, 136.885498046875}, {8, 68.3204345703125}};
  for (int i = 0; i < 4; ++i) {
    const v1::ActivationMemory& a = layer.activations(i);
    CHECK(a.tp_degree() == acts[i].first);
    CHECK(a.bytes_per_sample() == Bytes(acts[i].second));
    CHECK(a.checkpoint_bytes_per_sample() == 32 * 1048576);
    CHECK(a.sp() == v1::SEQUENCE_PARALLEL_MEGATRON);
    CHECK(a.seq_len() == 2048);
  }
  CHECK(layer.other_memory().empty());
  CHECK(head.activations().empty());
  CHECK(head.parameter_bytes() == 0);

  REQUIRE(head.other_memory_size() == 12);
  const v1::OtherLayersMemory* off1 = FindOther(head, v1::PIPELINE_POSITION_OFF, 1);
  REQUIRE(off1 != nullptr);
  CHECK(off1->model_state_bytes() == Bytes(4130.34765625));
  CHECK(off1->activation_bytes_per_sample() == Bytes(841.58203125));
  CHECK(off1->seq_len() == 2048);
  const v1::OtherLayersMemory* first2 = FindOther(head, v1::PIPELINE_POSITION_FIRST, 2);
  REQUIRE(first2 != nullptr);
  CHECK(first2->model_state_bytes() == Bytes(1266.76806640625));
  CHECK(first2->activation_bytes_per_sample() == Bytes(83.90301513671875));
  const v1::OtherLayersMemory* last8 = FindOther(head, v1::PIPELINE_POSITION_LAST, 8);
  REQUIRE(last8 != nullptr);
  CHECK(last8->model_state_bytes() == Bytes(387.872802734375));
  CHECK(last8->activation_bytes_per_sample() == Bytes(85.55889892578125));
}

TEST_CASE("LLaMA-2-7B profiles in static mode take the first value", "[interop]") {
  GalvatronModelFiles files = LlamaFiles();  // static: Galvatron's default
  auto read = ReadGalvatronModelProfiles(files);
  REQUIRE(read.ok());
  // The first layertype_0_* key of the file is bsz1 (4.396 ms); Galvatron's
  // static mode takes the first value too.
  CHECK((*read)[0].forward_fit().per_sample_s0() == Approx(4.396252679824831 / 1000));
  CHECK((*read)[0].forward_fit().constant() == 0);
  CHECK((*read)[1].forward_fit().per_sample_s0() == Approx(6.286115455627439 / 1000));
  CHECK((*read)[1].forward_fit().constant() == 0);
}

TEST_CASE("seq_len selects the profiled sequence length", "[interop]") {
  GalvatronModelFiles files = LlamaFiles();
  files.spec = *CatalogModel("llama2-7b");  // seq 4096
  SECTION("seq_len 2048 overrides the spec's 4096") {
    files.seq_len = 2048;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.ok());
    CHECK((*read)[0].layer_type() == LayerTypeKey(Llama2_7b(), 0));
  }
  SECTION("nothing profiled at 4096") {
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kFailedPrecondition);
    const std::string message(read.status().message());
    CHECK_THAT(message, Catch::Contains("seq4096"));
    CHECK_THAT(message, Catch::Contains("2048"));
  }
}

TEST_CASE("sequence_parallel picks the plain or _sp memory tables", "[interop]") {
  GalvatronModelFiles files = LlamaFiles();
  files.sequence_parallel = false;
  auto read = ReadGalvatronModelProfiles(files);
  REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(read.status().message()), Catch::Contains("\"layertype_0\""));
  CHECK_THAT(std::string(read.status().message()),
             Catch::Contains("memory_profiling_bf16_llama2-7b_all.json"));

  // A plain table: activations without SP.
  testing::TempDir dir;
  const std::string memory = dir.File("memory.json");
  REQUIRE(WriteTextFile(memory, R"({
    "layertype_0": {"2048": {"parameter_size": 778.0,
                             "tp_activation_per_bsz_dict": {"1": 600.0, "2": 320.0, "checkpoint": 32.0}}},
    "other_memory_pp_off": {"2048": {"model_states": {"1": 4000.0}, "activation": {"1": 800.0}}},
    "other_memory_pp_on_first": {"2048": {"model_states": {"1": 2000.0}, "activation": {"1": 200.0}}},
    "other_memory_pp_on_last": {"2048": {"model_states": {"1": 2000.0}, "activation": {"1": 700.0}}}
  })")
              .ok());
  files.memory_profile_path = memory;
  files.sequence_parallel.reset();  // absent _sp tables: the plain ones
  auto plain = ReadGalvatronModelProfiles(files);
  REQUIRE(plain.ok());
  REQUIRE((*plain)[0].activations_size() == 2);
  CHECK((*plain)[0].activations(1).sp() == v1::SEQUENCE_PARALLEL_NONE);
  CHECK((*plain)[0].activations(1).bytes_per_sample() == Bytes(320));
  CHECK((*plain)[1].other_memory_size() == 3);
}

TEST_CASE("sequence memory mode scales activations to the target length", "[interop]") {
  testing::TempDir dir;
  GalvatronModelFiles files = LlamaFiles();
  files.computation_profile_path = dir.File("computation.json");
  REQUIRE(WriteTextFile(files.computation_profile_path,
                        R"({"layertype_0_bsz1_seq1024": 2.0, "layertype_other_bsz1_seq1024": 1.0})")
              .ok());
  files.seq_len = 1024;
  files.memory_profile_mode = GalvatronMemoryProfileMode::kSequence;
  auto read = ReadGalvatronModelProfiles(files);
  REQUIRE(read.ok());
  const v1::ComputeProfile& layer = (*read)[0];
  CHECK(layer.layer_type() == "llama_decoder:h4096:f11008:a32:kv32:d128:s1024:nobias:bf16");
  CHECK(layer.parameter_bytes() == Bytes(778.2236328125));  // parameters are not scaled
  CHECK(layer.activations(0).bytes_per_sample() == Bytes(514.5634765625 / 2));
  CHECK(layer.activations(0).checkpoint_bytes_per_sample() == 16 * 1048576);
  CHECK(layer.activations(0).seq_len() == 1024);
  const v1::OtherLayersMemory* off1 = FindOther((*read)[1], v1::PIPELINE_POSITION_OFF, 1);
  REQUIRE(off1 != nullptr);
  CHECK(off1->model_state_bytes() == Bytes(4130.34765625));
  CHECK(off1->activation_bytes_per_sample() == Bytes(841.58203125 / 2));
  CHECK(off1->seq_len() == 1024);
  CHECK(layer.forward_fit().per_sample_s0() == 2.0 / 1000);

  SECTION("needs the _sp tables") {
    files.sequence_parallel = false;
    CHECK(ReadGalvatronModelProfiles(files).status().code() ==
          absl::StatusCode::kFailedPrecondition);
  }
}

TEST_CASE("sequence time mode fits over sequence lengths", "[interop]") {
  testing::TempDir dir;
  GalvatronModelFiles files = LlamaFiles();
  files.computation_profile_path = dir.File("computation.json");
  std::string json = "{";
  for (int s : {1024, 2048, 4096, 8192}) {
    const double layer = 1e-7 * s * s + 1e-3 * s + 0.25;
    const double other = 5e-4 * s + 1.5;
    absl::StrAppend(&json, absl::StrFormat("\"layertype_0_bsz1_seq%d\": %.17g, ", s, layer),
                    absl::StrFormat("\"layertype_other_bsz1_seq%d\": %.17g, ", s, other));
  }
  json += "\"layertype_0_bsz2_seq2048\": 4.0}";
  REQUIRE(WriteTextFile(files.computation_profile_path, json).ok());
  files.time_profile_mode = GalvatronTimeProfileMode::kSequence;
  auto read = ReadGalvatronModelProfiles(files);
  REQUIRE(read.ok());
  const v1::LayerTimeFit& layer = (*read)[0].forward_fit();
  CHECK(layer.per_sample_s2() * 1000 == Approx(1e-7).epsilon(1e-6));
  CHECK(layer.per_sample_s1() * 1000 == Approx(1e-3).epsilon(1e-6));
  CHECK(layer.per_sample_s0() * 1000 == Approx(0.25).epsilon(1e-5));
  CHECK(layer.constant() == 0);
  const v1::LayerTimeFit& other = (*read)[1].forward_fit();
  CHECK(other.per_sample_s2() == 0);
  CHECK(other.per_sample_s1() * 1000 == Approx(5e-4).epsilon(1e-9));
  CHECK(other.per_sample_s0() * 1000 == Approx(1.5).epsilon(1e-9));
  // Every positive value is a sample, sorted by (seq, batch).
  CHECK((*read)[0].time_samples_size() == 5);
  CHECK((*read)[0].time_samples(2).micro_batch() == 2);
  CHECK((*read)[0].time_samples(2).forward_seconds() == Approx(8.0 / 1000));

  SECTION("the fixture has one sequence length only") {
    GalvatronModelFiles fixture = LlamaFiles();
    fixture.time_profile_mode = GalvatronTimeProfileMode::kSequence;
    auto bad = ReadGalvatronModelProfiles(fixture);
    REQUIRE(bad.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(bad.status().message()), Catch::Contains("sequence lengths"));
  }
}

TEST_CASE("two layer types map to layertype_0 and layertype_1", "[interop]") {
  // T5: an encoder and a decoder type, both at seq 512, so the "other" keys
  // carry both lengths ("seq512_512", Galvatron's num2str).
  testing::TempDir dir;
  GalvatronModelFiles files;
  files.spec = *CatalogModel("t5-base");
  files.spec.mutable_layers(1)->set_seq_len(0);  // the decoder at the encoder's 512 too
  files.cluster = "a100-8";
  files.computation_profile_path = dir.File("computation.json");
  files.memory_profile_path = dir.File("memory.json");
  REQUIRE(WriteTextFile(files.computation_profile_path, R"({
    "layernum1_1_bsz4_seq512_512": 30.0,
    "layertype_0_bsz4_seq512": 1.0,
    "layertype_1_bsz4_seq512": 1.5,
    "layertype_other_bsz4_seq512_512": 0.0
  })")
              .ok());
  auto layer_mem = [](double param, double act) {
    return absl::StrCat(R"({"512": {"parameter_size": )", param,
                        R"(, "tp_activation_per_bsz_dict": {"1": )", act,
                        R"(, "checkpoint": 1.0}}})");
  };
  const std::string other =
      R"({"512_512": {"model_states": {"1": 900.0}, "activation": {"1": 50.0}}})";
  REQUIRE(WriteTextFile(
              files.memory_profile_path,
              absl::StrCat(R"({"layertype_0_sp": )", layer_mem(27, 20), R"(, "layertype_1_sp": )",
                           layer_mem(36, 30), R"(, "other_memory_pp_off_sp": )", other,
                           R"(, "other_memory_pp_on_first_sp": )", other,
                           R"(, "other_memory_pp_on_last_sp": )", other, "}"))
              .ok());
  auto read = ReadGalvatronModelProfiles(files);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 3);
  const std::vector<std::string> keys = ModelLayerTypeKeys(files.spec);
  for (size_t i = 0; i < 3; ++i) CHECK((*read)[i].layer_type() == keys[i]);
  CHECK((*read)[0].forward_fit().per_sample_s0() == 1.0 / 1000);
  CHECK((*read)[1].forward_fit().per_sample_s0() == 1.5 / 1000);
  CHECK((*read)[1].parameter_bytes() == Bytes(36));
  // A zero "other" time (Galvatron's max(0, ·)) is fitted but is no sample.
  CHECK((*read)[2].time_samples().empty());
  CHECK((*read)[2].forward_fit().per_sample_s0() == 0);
  CHECK((*read)[2].other_memory_size() == 3);
  for (const v1::ComputeProfile& p : *read) CHECK(ValidateComputeProfile(p).ok());
}

TEST_CASE("ReadGalvatronModelProfiles names the file and key of bad input", "[interop]") {
  testing::TempDir dir;
  GalvatronModelFiles files = LlamaFiles();
  const std::string computation = dir.File("computation.json");

  SECTION("missing file") {
    files.computation_profile_path = dir.File("absent.json");
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("absent.json"));
  }
  SECTION("bad key") {
    REQUIRE(WriteTextFile(computation, R"({"layertype_0_bszX_seq2048": 1.0})").ok());
    files.computation_profile_path = computation;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string message(read.status().message());
    CHECK_THAT(message, Catch::Contains(computation));
    CHECK_THAT(message, Catch::Contains("layertype_0_bszX_seq2048"));
  }
  SECTION("a Galvatron 2.x key") {
    REQUIRE(WriteTextFile(computation, R"({"layernum[6]_bsz2": 69.0, "layertype_0": 4.55})").ok());
    files.computation_profile_path = computation;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("2.x"));
  }
  SECTION("a layer type the model does not have") {
    REQUIRE(WriteTextFile(computation, R"({"layertype_0_bsz1_seq2048": 4.0,
                                           "layertype_1_bsz1_seq2048": 4.0,
                                           "layertype_other_bsz1_seq2048": 2.0})")
                .ok());
    files.computation_profile_path = computation;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()), Catch::Contains("layertype_1"));
  }
  SECTION("a layer whose times are all negative") {
    REQUIRE(WriteTextFile(computation, R"({"layertype_0_bsz1_seq2048": -4.0,
                                           "layertype_0_bsz2_seq2048": -4.1,
                                           "layertype_other_bsz1_seq2048": 2.0})")
                .ok());
    files.computation_profile_path = computation;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string message(read.status().message());
    CHECK_THAT(message, Catch::Contains(computation) &&
                            Catch::Contains("every layertype_0_bsz{b}_seq{s} time is <= 0") &&
                            Catch::Contains("\"layertype_0_bsz1_seq2048\": -4 ms"));
  }
  SECTION("a negative embedding/head time") {
    REQUIRE(WriteTextFile(computation, R"({"layertype_0_bsz1_seq2048": 4.0,
                                           "layertype_other_bsz1_seq2048": -2.0})")
                .ok());
    files.computation_profile_path = computation;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()),
               Catch::Contains("key \"layertype_other_bsz1_seq2048\": -2 ms, must be >= 0"));
  }
  SECTION("too few batch sizes for batch mode") {
    REQUIRE(WriteTextFile(computation, R"({"layertype_0_bsz1_seq2048": 4.4,
                                           "layertype_0_bsz2_seq2048": 4.3,
                                           "layertype_0_bsz4_seq2048": 4.1,
                                           "layertype_other_bsz1_seq2048": 6.3,
                                           "layertype_other_bsz2_seq2048": 3.9,
                                           "layertype_other_bsz4_seq2048": 3.1})")
                .ok());
    files.computation_profile_path = computation;
    files.time_profile_mode = GalvatronTimeProfileMode::kBatch;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kFailedPrecondition);
    const std::string message(read.status().message());
    CHECK_THAT(message, Catch::Contains("at least 8 batch sizes"));
    CHECK_THAT(message, Catch::Contains("found 3"));
    CHECK_THAT(message, Catch::Contains(computation));
  }
  SECTION("negative memory") {
    const std::string memory = dir.File("memory.json");
    REQUIRE(WriteTextFile(memory, R"({"layertype_0_sp": {"2048": {"parameter_size": -1,
        "tp_activation_per_bsz_dict": {"1": 1.0, "checkpoint": 1.0}}}})")
                .ok());
    files.memory_profile_path = memory;
    auto read = ReadGalvatronModelProfiles(files);
    REQUIRE(read.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(read.status().message()),
               Catch::Contains("layertype_0_sp.2048.parameter_size"));
  }
  SECTION("modes by name") {
    CHECK(*ParseGalvatronTimeProfileMode("batch") == GalvatronTimeProfileMode::kBatch);
    CHECK(*ParseGalvatronMemoryProfileMode("sequence") == GalvatronMemoryProfileMode::kSequence);
    CHECK(ParseGalvatronTimeProfileMode("hybrid").status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(GalvatronComputationProfileFileName("bf16", "llama2-7b") ==
          "computation_profiling_bf16_llama2-7b_all.json");
  }
}

}  // namespace
}  // namespace galvatron::interop

namespace galvatron::interop {
namespace {

// `again` (read back from written files) says what `first` says at the
// profiled length: the fit, the samples there, and all memory.
void CheckSameProfile(const v1::ComputeProfile& first, const v1::ComputeProfile& again, int seq) {
  INFO(first.layer_type());
  CHECK(again.layer_type() == first.layer_type());
  CHECK(again.forward_fit().per_sample_s0() == Approx(first.forward_fit().per_sample_s0()));
  CHECK(again.forward_fit().constant() == Approx(first.forward_fit().constant()).margin(1e-12));
  int at_seq = 0;
  for (const v1::LayerTimeSample& s : first.time_samples()) at_seq += s.seq_len() == seq;
  CHECK(again.time_samples_size() == at_seq);
  // (Galvatron's files give the embedding/head no parameter size.)
  if (first.other_memory_size() == 0) CHECK(again.parameter_bytes() == first.parameter_bytes());
  REQUIRE(again.activations_size() == first.activations_size());
  for (int i = 0; i < first.activations_size(); ++i) {
    CHECK(again.activations(i).bytes_per_sample() == first.activations(i).bytes_per_sample());
    CHECK(again.activations(i).sp() == first.activations(i).sp());
  }
  REQUIRE(again.other_memory_size() == first.other_memory_size());
  for (int i = 0; i < first.other_memory_size(); ++i) {
    CHECK(again.other_memory(i).model_state_bytes() == first.other_memory(i).model_state_bytes());
    CHECK(again.other_memory(i).activation_bytes_per_sample() ==
          first.other_memory(i).activation_bytes_per_sample());
  }
}

}  // namespace

TEST_CASE("Profiles written as Galvatron's files read back the same", "[interop]") {
  testing::TempDir dir;
  SECTION("LLaMA-2-7B, batch mode, with the sequence-parallel tables") {
    GalvatronModelFiles files = LlamaFiles();
    files.time_profile_mode = GalvatronTimeProfileMode::kBatch;
    auto first = ReadGalvatronModelProfiles(files);
    REQUIRE(first.ok());
    auto written = FormatGalvatronModelProfiles(files.spec, *first);
    INFO(written.status().message());
    REQUIRE(written.ok());
    CHECK_THAT(written->memory, Catch::Contains("\"layertype_0_sp\""));
    files.computation_profile_path = dir.File("computation.json");
    files.memory_profile_path = dir.File("memory.json");
    REQUIRE(WriteTextFile(files.computation_profile_path, written->computation).ok());
    REQUIRE(WriteTextFile(files.memory_profile_path, written->memory).ok());
    auto again = ReadGalvatronModelProfiles(files);
    INFO(again.status().message());
    REQUIRE(again.ok());
    REQUIRE(again->size() == 2);
    for (size_t i = 0; i < 2; ++i) CheckSameProfile((*first)[i], (*again)[i], 2048);
  }
  SECTION("T5: layertype_0 and layertype_1, the head keyed by both lengths") {
    // Profiles of t5-test's two block types and head, as our profiler
    // writes them (values chosen here).
    const v1::ModelSpec t5 = *CatalogModel("t5-test");
    std::vector<v1::ComputeProfile> profiles;
    for (const std::string& key : ModelLayerTypeKeys(t5)) {
      v1::ComputeProfile p;
      p.set_layer_type(key);
      const bool head = key == EmbeddingTypeKey(t5);
      const int seq = profiles.size() == 1 ? 8 : 32;
      for (int b : {1, 2, 4}) {
        v1::LayerTimeSample* s = p.add_time_samples();
        s->set_micro_batch(b);
        s->set_seq_len(seq);
        s->set_forward_seconds(b * 1e-3 * (profiles.size() + 1));
        s->set_backward_seconds(2 * s->forward_seconds());
      }
      p.mutable_forward_fit()->set_per_sample_s0(1e-3 * (profiles.size() + 1));
      p.set_parameter_bytes(int64_t{4} << 20);
      if (!head) {
        for (int tp : {1, 2, 4}) {
          v1::ActivationMemory* a = p.add_activations();
          a->set_tp_degree(tp);
          a->set_seq_len(seq);
          a->set_bytes_per_sample((int64_t{8} << 20) / tp);
          a->set_checkpoint_bytes_per_sample(int64_t{1} << 20);
        }
      } else {
        for (auto position :
             {v1::PIPELINE_POSITION_OFF, v1::PIPELINE_POSITION_FIRST, v1::PIPELINE_POSITION_LAST}) {
          v1::OtherLayersMemory* m = p.add_other_memory();
          m->set_position(position);
          m->set_vocab_tp_degree(1);
          m->set_model_state_bytes(int64_t{16} << 20);
          m->set_activation_bytes_per_sample(int64_t{2} << 20);
        }
      }
      profiles.push_back(p);
    }
    auto written = FormatGalvatronModelProfiles(t5, profiles);
    INFO(written.status().message());
    REQUIRE(written.ok());
    CHECK_THAT(written->computation, Catch::Contains("\"layertype_0_bsz4_seq32\"") &&
                                         Catch::Contains("\"layertype_1_bsz4_seq8\"") &&
                                         Catch::Contains("\"layertype_other_bsz4_seq32_8\""));
    CHECK_THAT(written->memory, !Catch::Contains("_sp\""));  // T5 splits no sequence
    GalvatronModelFiles files;
    files.spec = t5;
    files.cluster = "cpu";
    files.computation_profile_path = dir.File("t5-computation.json");
    files.memory_profile_path = dir.File("t5-memory.json");
    REQUIRE(WriteTextFile(files.computation_profile_path, written->computation).ok());
    REQUIRE(WriteTextFile(files.memory_profile_path, written->memory).ok());
    auto again = ReadGalvatronModelProfiles(files);
    INFO(again.status().message());
    REQUIRE(again.ok());
    REQUIRE(again->size() == 3);
    CheckSameProfile(profiles[0], (*again)[0], 32);
    CheckSameProfile(profiles[1], (*again)[1], 8);
    CheckSameProfile(profiles[2], (*again)[2], 32);
    // Written into a folder under Galvatron's names for the model's precision.
    auto paths = WriteGalvatronModelProfiles(t5, profiles, dir.File("galvatron/configs"));
    INFO(paths.status().message());
    REQUIRE(paths.ok());
    CHECK(paths->first == dir.File("galvatron/configs/computation_profiling_" +
                                   PrecisionToken(t5.precision()) + "_t5-test_all.json"));
    CHECK(paths->second == dir.File("galvatron/configs/memory_profiling_" +
                                    PrecisionToken(t5.precision()) + "_t5-test_all.json"));
    CHECK(ReadTextFile(paths->first).value() == written->computation);
    CHECK(ReadTextFile(paths->second).value() == written->memory);
    // A profile missing is named.
    profiles.erase(profiles.begin() + 1);
    auto missing = FormatGalvatronModelProfiles(t5, profiles);
    REQUIRE(missing.status().code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(missing.status().message()), Catch::Contains("t5_decoder"));
  }
}

}  // namespace galvatron::interop
