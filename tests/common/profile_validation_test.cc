#include "common/profile_validation.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "common/layer_type.h"
#include "common/model_catalog.h"

namespace galvatron {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string ErrorOf(const absl::Status& status) {
  if (status.ok()) return "OK";
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

v1::CollectiveTable Table(v1::Collective collective, int group_size, v1::GroupLayout layout) {
  v1::CollectiveTable t;
  t.set_collective(collective);
  t.set_group_size(group_size);
  t.set_layout(layout);
  return t;
}

void AddSample(v1::CollectiveTable* t, int64_t bytes, double seconds) {
  v1::TimeSample* s = t->add_samples();
  s->set_bytes(bytes);
  s->set_seconds(seconds);
}

// Two nodes of eight GPUs with one table of each kind of source: samples,
// a fit only, a bus bandwidth only, and a P2P table without a layout.
v1::HardwareProfile Hardware() {
  v1::HardwareProfile p;
  p.set_cluster("lab-a100");
  p.set_num_nodes(2);
  p.set_devices_per_node(8);
  p.mutable_device()->set_kind(v1::DEVICE_KIND_CUDA);
  p.mutable_device()->set_name("NVIDIA A100-SXM4-80GB");
  p.mutable_device()->set_memory_bytes(int64_t{80} << 30);
  p.mutable_device()->set_peak_flops(312e12);
  p.set_overlap_coefficient(1.3);
  p.set_runtime_context_bytes(int64_t{1} << 30);
  p.set_source(v1::PROFILE_SOURCE_MEASURED);

  v1::CollectiveTable ar = Table(v1::COLLECTIVE_ALL_REDUCE, 8, v1::GROUP_LAYOUT_CONSECUTIVE);
  AddSample(&ar, 1 << 20, 1e-4);
  AddSample(&ar, 1 << 26, 2e-3);
  *p.add_collectives() = ar;

  v1::CollectiveTable ag = Table(v1::COLLECTIVE_ALL_GATHER, 16, v1::GROUP_LAYOUT_STRIDED);
  ag.mutable_fit()->set_alpha_seconds(-1e-6);  // least squares may undershoot
  ag.mutable_fit()->set_beta_seconds_per_byte(1e-11);
  *p.add_collectives() = ag;

  v1::CollectiveTable ar2 = Table(v1::COLLECTIVE_ALL_REDUCE, 6, v1::GROUP_LAYOUT_STRIDED);
  ar2.set_bus_bandwidth_bytes_per_second(100e9);  // group sizes need not be powers of 2
  *p.add_collectives() = ar2;

  v1::CollectiveTable p2p = Table(v1::COLLECTIVE_P2P, 2, v1::GROUP_LAYOUT_UNSPECIFIED);
  AddSample(&p2p, 1 << 20, 5e-5);
  *p.add_collectives() = p2p;
  return p;
}

TEST_CASE("a valid hardware profile passes") {
  CHECK(ErrorOf(ValidateHardwareProfile(Hardware())) == "OK");
}

TEST_CASE("hardware: output-only fields are ignored") {
  v1::HardwareProfile p = Hardware();
  p.set_id("anything at all");
  p.set_version(-1);
  CHECK(ErrorOf(ValidateHardwareProfile(p)) == "OK");
}

TEST_CASE("hardware: cluster and shape") {
  v1::HardwareProfile p = Hardware();
  SECTION("cluster name") {
    p.set_cluster("Lab A100");
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "cluster: \"Lab A100\", must be 1-64 characters of [a-z0-9._-] starting with a "
          "letter or digit");
  }
  SECTION("num_nodes") {
    p.set_num_nodes(0);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "num_nodes: 0, must be >= 1");
    p.set_num_nodes(65537);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "num_nodes: 65537, must be <= 65536");
  }
  SECTION("devices_per_node") {
    p.set_devices_per_node(0);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "devices_per_node: 0, must be >= 1");
    p.set_devices_per_node(1025);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "devices_per_node: 1025, must be <= 1024");
  }
  SECTION("device") {
    p.mutable_device()->set_memory_bytes(-1);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "device.memory_bytes: -1, must be >= 0");
    p.mutable_device()->set_memory_bytes(0);  // unknown: not in a measured profile
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "device.memory_bytes: 0, must be between 1.67772e+07 and 1.1259e+15 bytes");
    p.set_source(v1::PROFILE_SOURCE_MANUAL);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "OK");
    p.mutable_device()->set_peak_flops(-5);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "device.peak_flops: -5, must be >= 0");
  }
  SECTION("overlap_coefficient is 0 (unknown) or >= 1") {
    p.set_overlap_coefficient(0);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "OK");
    p.set_overlap_coefficient(1);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "OK");
    p.set_overlap_coefficient(0.5);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "overlap_coefficient: 0.5, must be 0 (unknown) or between 1 and 4");
    p.set_overlap_coefficient(kNaN);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "overlap_coefficient: nan, must be 0 (unknown) or between 1 and 4");
    p.set_overlap_coefficient(kInf);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "overlap_coefficient: inf, must be 0 (unknown) or between 1 and 4");
  }
  SECTION("runtime_context_bytes") {
    p.set_runtime_context_bytes(-1);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "runtime_context_bytes: -1, must be >= 0");
  }
}

TEST_CASE("hardware: collective tables") {
  v1::HardwareProfile p = Hardware();
  SECTION("sample seconds") {
    p.mutable_collectives(3)->mutable_samples(0)->set_seconds(-1);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[3].samples[0].seconds: -1, must be > 0");
    p.mutable_collectives(3)->mutable_samples(0)->set_seconds(0);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[3].samples[0].seconds: 0, must be > 0");
    p.mutable_collectives(3)->mutable_samples(0)->set_seconds(kNaN);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[3].samples[0].seconds: nan, must be > 0");
    p.mutable_collectives(3)->mutable_samples(0)->set_seconds(kInf);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[3].samples[0].seconds: inf, must be finite");
  }
  SECTION("sample bytes") {
    p.mutable_collectives(0)->mutable_samples(1)->set_bytes(0);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[0].samples[1].bytes: 0, must be >= 1");
  }
  SECTION("collective must be set") {
    p.mutable_collectives(1)->set_collective(v1::COLLECTIVE_UNSPECIFIED);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[1].collective: COLLECTIVE_UNSPECIFIED, must be set");
  }
  SECTION("group_size") {
    p.mutable_collectives(0)->set_group_size(1);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "collectives[0].group_size: 1, must be >= 2");
    p.mutable_collectives(0)->set_group_size(32);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[0].group_size: 32, must be <= num_nodes * devices_per_node (16)");
  }
  SECTION("P2P needs a pipeline of at least two stages") {
    p.mutable_collectives(3)->set_group_size(1);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "collectives[3].group_size: 1, must be >= 2");
  }
  SECTION("layout must be set except for P2P") {
    p.mutable_collectives(2)->set_layout(v1::GROUP_LAYOUT_UNSPECIFIED);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[2].layout: GROUP_LAYOUT_UNSPECIFIED, must be set for "
          "COLLECTIVE_ALL_REDUCE");
    p.mutable_collectives(2)->set_layout(static_cast<v1::GroupLayout>(5));
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[2].layout: 5, must be one of GROUP_LAYOUT_UNSPECIFIED, "
          "GROUP_LAYOUT_CONSECUTIVE, GROUP_LAYOUT_STRIDED");
  }
  SECTION("a table needs samples, a fit or a bandwidth") {
    p.mutable_collectives(2)->set_bus_bandwidth_bytes_per_second(0);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[2].samples: empty, must be given when neither fit nor "
          "bus_bandwidth_bytes_per_second is");
  }
  SECTION("fit and bandwidth must be finite") {
    p.mutable_collectives(1)->mutable_fit()->set_beta_seconds_per_byte(kInf);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[1].fit.beta_seconds_per_byte: inf, must be finite");
    p.mutable_collectives(1)->mutable_fit()->set_beta_seconds_per_byte(0);
    p.mutable_collectives(2)->set_bus_bandwidth_bytes_per_second(-1);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[2].bus_bandwidth_bytes_per_second: -1, must be >= 0");
  }
  SECTION("no duplicate (collective, group_size, layout)") {
    v1::CollectiveTable dup = p.collectives(0);
    *p.add_collectives() = dup;
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[4]: COLLECTIVE_ALL_REDUCE group_size 8 GROUP_LAYOUT_CONSECUTIVE, must "
          "not repeat collectives[0] (one table per collective, group_size and layout)");
    // The same size with the other layout is another table.
    p.mutable_collectives(4)->set_layout(v1::GROUP_LAYOUT_STRIDED);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "OK");
  }
  SECTION("table count limit") {
    p.clear_collectives();
    for (int i = 0; i < 4097; ++i) p.add_collectives();
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "collectives: 4097 tables, must be <= 4096");
  }
  SECTION("sample count limit") {
    v1::CollectiveTable* t = p.mutable_collectives(0);
    t->clear_samples();
    for (int i = 0; i < 4097; ++i) AddSample(t, i + 1, 1e-3);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[0].samples: 4097 samples, must be <= 4096");
  }
}

v1::ComputeProfile Compute() {
  v1::ComputeProfile p;
  p.set_layer_type(LayerTypeKey(*CatalogModel("llama2-7b"), 0));
  p.set_cluster("lab-a100");
  p.set_model("llama2-7b");
  p.set_precision(v1::PRECISION_BF16_MIXED);
  for (int b : {1, 2, 4}) {
    v1::LayerTimeSample* s = p.add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(4096);
    s->set_forward_seconds(0.01 * b);
    s->set_backward_seconds(0.02 * b);
  }
  p.mutable_forward_fit()->set_per_sample_s0(0.01);
  p.set_parameter_count(202383360);
  p.set_parameter_bytes(404766720);
  for (int tp : {1, 2, 4, 8}) {
    v1::ActivationMemory* a = p.add_activations();
    a->set_tp_degree(tp);
    a->set_seq_len(4096);
    a->set_bytes_per_sample(int64_t{1} << 30);
    a->set_checkpoint_bytes_per_sample(int64_t{32} << 20);
  }
  v1::OtherLayersMemory* m = p.add_other_memory();
  m->set_position(v1::PIPELINE_POSITION_FIRST);
  m->set_vocab_tp_degree(1);
  m->set_seq_len(4096);
  m->set_model_state_bytes(int64_t{2} << 30);
  m->set_activation_bytes_per_sample(int64_t{64} << 20);
  p.set_source(v1::PROFILE_SOURCE_MEASURED);
  return p;
}

TEST_CASE("a valid compute profile passes") {
  CHECK(ErrorOf(ValidateComputeProfile(Compute())) == "OK");
  v1::ComputeProfile p = Compute();
  p.clear_model();  // information only
  p.set_id("x");
  p.set_version(-4);
  CHECK(ErrorOf(ValidateComputeProfile(p)) == "OK");
}

TEST_CASE("compute: identity fields") {
  v1::ComputeProfile p = Compute();
  SECTION("layer_type") {
    p.set_layer_type("");
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "layer_type: empty, must be a layer-type key (common/layer_type.h)");
    p.set_layer_type(std::string(512, 'k'));
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "OK");
    p.set_layer_type(std::string(513, 'k'));
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "layer_type: 513 characters, must be <= 512");
    p.set_layer_type("gpt decoder");
    CHECK_THAT(ErrorOf(ValidateComputeProfile(p)),
               Catch::StartsWith("layer_type: \"gpt decoder\", must be a layer-type key"));
    p.set_layer_type("../../etc/passwd");
    CHECK_THAT(ErrorOf(ValidateComputeProfile(p)),
               Catch::StartsWith("layer_type: \"../../etc/passwd\", must be a layer-type key"));
  }
  SECTION("cluster") {
    p.set_cluster("");
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "cluster: \"\", must be 1-64 characters of [a-z0-9._-] starting with a letter or "
          "digit");
  }
  SECTION("model, when given") {
    p.set_model("Llama");
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "model: \"Llama\", must be 1-64 characters of [a-z0-9._-] starting with a letter or "
          "digit");
  }
  SECTION("precision") {
    p.set_precision(static_cast<v1::Precision>(12));
    CHECK(ErrorOf(ValidateComputeProfile(p)).rfind("precision: 12, must be one of ", 0) == 0);
  }
}

TEST_CASE("compute: time samples and fits") {
  v1::ComputeProfile p = Compute();
  v1::LayerTimeSample* s = p.mutable_time_samples(1);
  SECTION("micro_batch") {
    s->set_micro_batch(0);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "time_samples[1].micro_batch: 0, must be >= 1");
  }
  SECTION("seq_len") {
    s->set_seq_len(0);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "time_samples[1].seq_len: 0, must be >= 1");
  }
  SECTION("forward_seconds") {
    s->set_forward_seconds(0);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "time_samples[1].forward_seconds: 0, must be > 0");
    s->set_forward_seconds(kInf);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "time_samples[1].forward_seconds: inf, must be finite");
  }
  SECTION("backward_seconds: 0 means not measured") {
    s->set_backward_seconds(0);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "OK");
    s->set_backward_seconds(-0.25);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "time_samples[1].backward_seconds: -0.25, must be >= 0");
  }
  SECTION("fits must be finite") {
    p.mutable_backward_fit()->set_per_sample_s2(kNaN);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "backward_fit.per_sample_s2: nan, must be finite");
  }
  SECTION("sample count limit") {
    p.clear_time_samples();
    for (int i = 0; i < 65537; ++i) p.add_time_samples();
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "time_samples: 65537 samples, must be <= 65536");
  }
}

TEST_CASE("compute: memory") {
  v1::ComputeProfile p = Compute();
  SECTION("parameters") {
    p.set_parameter_count(-1);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "parameter_count: -1, must be >= 0");
    p.set_parameter_count(0);
    p.set_parameter_bytes(-2);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "parameter_bytes: -2, must be >= 0");
  }
  SECTION("activations") {
    p.mutable_activations(2)->set_tp_degree(0);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "activations[2].tp_degree: 0, must be >= 1");
    p.mutable_activations(2)->set_tp_degree(4);
    p.mutable_activations(3)->set_bytes_per_sample(-1);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "activations[3].bytes_per_sample: -1, must be >= 0");
    p.mutable_activations(3)->set_bytes_per_sample(1);
    p.mutable_activations(3)->set_checkpoint_bytes_per_sample(-1);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "activations[3].checkpoint_bytes_per_sample: -1, must be >= 0");
  }
  SECTION("other_memory") {
    p.mutable_other_memory(0)->set_position(v1::PIPELINE_POSITION_UNSPECIFIED);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "other_memory[0].position: PIPELINE_POSITION_UNSPECIFIED, must be set");
    p.mutable_other_memory(0)->set_position(v1::PIPELINE_POSITION_LAST);
    p.mutable_other_memory(0)->set_vocab_tp_degree(0);
    CHECK(ErrorOf(ValidateComputeProfile(p)) == "other_memory[0].vocab_tp_degree: 0, must be >= 1");
    p.mutable_other_memory(0)->set_vocab_tp_degree(2);
    p.mutable_other_memory(0)->set_model_state_bytes(-9);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "other_memory[0].model_state_bytes: -9, must be >= 0");
  }
}

TEST_CASE("the measurement-quality record is checked when there is one") {
  v1::MeasurementQuality q;
  q.set_noisy(true);
  q.set_spread(0.41);
  q.set_load(-1);  // unknown
  q.set_attempts(4);
  q.set_spread_threshold(0.25);
  q.set_load_threshold(0.25);
  q.add_noisy_measurements("x: spread 0.41");
  v1::HardwareProfile hw = Hardware();
  *hw.mutable_quality() = q;
  CHECK(ErrorOf(ValidateHardwareProfile(hw)) == "OK");
  v1::ComputeProfile cp = Compute();
  *cp.mutable_quality() = q;
  CHECK(ErrorOf(ValidateComputeProfile(cp)) == "OK");

  cp.mutable_quality()->set_spread(kNaN);
  CHECK(ErrorOf(ValidateComputeProfile(cp)) == "quality.spread: nan, must be >= 0");
  cp.mutable_quality()->set_spread(0.41);
  cp.mutable_quality()->set_load(-0.5);
  CHECK(ErrorOf(ValidateComputeProfile(cp)) == "quality.load: -0.5, must be >= 0, or -1 (unknown)");
  cp.mutable_quality()->set_load(kInf);
  CHECK(ErrorOf(ValidateComputeProfile(cp)) == "quality.load: inf, must be finite");
  cp.mutable_quality()->set_load(0.9);
  cp.mutable_quality()->set_attempts(-1);
  CHECK(ErrorOf(ValidateComputeProfile(cp)) == "quality.attempts: -1, must be >= 0");
  hw.mutable_quality()->set_load_threshold(-2);
  CHECK(ErrorOf(ValidateHardwareProfile(hw)) == "quality.load_threshold: -2, must be >= 0");
}

// Values no hardware has, each of which gave a wrong answer (or an abort)
// downstream before the bounds of common/physical_bounds.h were checked.
TEST_CASE("hardware: measured quantities must be physical") {
  v1::HardwareProfile p = Hardware();
  SECTION("a bus bandwidth of 1e-300 bytes/s") {
    p.mutable_collectives(2)->set_bus_bandwidth_bytes_per_second(1e-300);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[2].bus_bandwidth_bytes_per_second: 1e-300, must be 0 (unknown) or "
          "between 1000 and 1e+14 bytes/s");
  }
  SECTION("a bus bandwidth of 1e300 bytes/s") {
    p.mutable_collectives(2)->set_bus_bandwidth_bytes_per_second(1e300);
    CHECK_THAT(ErrorOf(ValidateHardwareProfile(p)),
               Catch::StartsWith("collectives[2].bus_bandwidth_bytes_per_second: 1e+300, must be"));
  }
  SECTION("a sample faster than any link") {
    p.mutable_collectives(0)->mutable_samples(1)->set_seconds(1e-8);
    CHECK_THAT(ErrorOf(ValidateHardwareProfile(p)),
               Catch::StartsWith("collectives[0].samples[1].seconds: 1e-08, implies"));
  }
  SECTION("a sample slower than a day") {
    p.mutable_collectives(0)->mutable_samples(1)->set_seconds(1e6);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "collectives[0].samples[1].seconds: 1e+06, must be between 1e-09 and 86400 s");
  }
  SECTION("a fit slope of 1 s per byte") {
    p.mutable_collectives(1)->mutable_fit()->set_beta_seconds_per_byte(1);
    CHECK_THAT(ErrorOf(ValidateHardwareProfile(p)),
               Catch::StartsWith("collectives[1].fit.beta_seconds_per_byte: 1, must be between"));
  }
  SECTION("overlap coefficients of 1e12 and 1e308") {
    p.set_overlap_coefficient(1e12);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "overlap_coefficient: 1e+12, must be 0 (unknown) or between 1 and 4");
    p.set_overlap_coefficient(1e308);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "overlap_coefficient: 1e+308, must be 0 (unknown) or between 1 and 4");
  }
  SECTION("device memory 0 in a measured profile; unknown elsewhere") {
    p.mutable_device()->set_memory_bytes(0);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "device.memory_bytes: 0, must be between 1.67772e+07 and 1.1259e+15 bytes");
    p.set_source(v1::PROFILE_SOURCE_GALVATRON_IMPORT);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "OK");
    p.mutable_device()->set_memory_bytes(1024);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "device.memory_bytes: 1024, must be 0 (unknown) or between 1.67772e+07 and "
          "1.1259e+15 bytes");
  }
  SECTION("peak FLOP/s") {
    p.mutable_device()->set_peak_flops(1e30);
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "device.peak_flops: 1e+30, must be 0 (unknown) or between 1e+06 and 1e+18 FLOP/s");
  }
  SECTION("a device name of 1 MB") {
    p.mutable_device()->set_name(std::string(1 << 20, 'x'));
    CHECK(ErrorOf(ValidateHardwareProfile(p)) ==
          "device.name: 1048576 bytes, must be <= 256 bytes");
  }
  SECTION("free text") {
    p.set_measured_by(std::string(5000, 'm'));
    CHECK(ErrorOf(ValidateHardwareProfile(p)) == "measured_by: 5000 bytes, must be <= 4096 bytes");
  }
}

TEST_CASE("compute: measured quantities must be physical") {
  v1::ComputeProfile p = Compute();
  SECTION("a forward time of a week") {
    p.mutable_time_samples(0)->set_forward_seconds(604800);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "time_samples[0].forward_seconds: 604800, must be between 1e-09 and 86400 s");
  }
  SECTION("a backward time of 1e-300 s") {
    p.mutable_time_samples(1)->set_backward_seconds(1e-300);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "time_samples[1].backward_seconds: 1e-300, must be 0 (unknown) or between 1e-09 and "
          "86400 s");
  }
  SECTION("a fit term of 1e300") {
    p.mutable_forward_fit()->set_per_sample_s0(-1e300);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "forward_fit.per_sample_s0: -1e+300, must be between -86400 and 86400");
  }
  SECTION("activation bytes beyond any memory") {
    p.mutable_activations(0)->set_bytes_per_sample(int64_t{1} << 62);
    CHECK(ErrorOf(ValidateComputeProfile(p)) ==
          "activations[0].bytes_per_sample: 4611686018427387904, must be <= 1.1259e+15 bytes");
  }
}

}  // namespace
}  // namespace galvatron
