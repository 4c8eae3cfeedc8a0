#include "tests/planner/cost/galvatron_fixture.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

#include "common/layer_type.h"
#include "common/model_catalog.h"

namespace galvatron::cost::testing {
namespace {

int64_t Bytes(double mb) { return std::llround(mb * kMiB); }

// Galvatron stores bus bandwidth in MB/ms; we store bytes/s.
double BytesPerSecond(double mb_per_ms) { return mb_per_ms * kMiB * 1000; }

void AddAllReduce(v1::HardwareProfile* hw, int size, v1::GroupLayout layout, double mb_per_ms,
                  const std::vector<double>& sp_time_ms = {}) {
  v1::CollectiveTable* t = hw->add_collectives();
  t->set_collective(v1::COLLECTIVE_ALL_REDUCE);
  t->set_group_size(size);
  t->set_layout(layout);
  t->set_bus_bandwidth_bytes_per_second(BytesPerSecond(mb_per_ms));
  // sp_time rows: allreduce_size_{s}_{m}MB_time for m = 1, 2, 4, ..., 1024.
  double mb = 1;
  for (double ms : sp_time_ms) {
    v1::TimeSample* s = t->add_samples();
    s->set_bytes(Bytes(mb));
    s->set_seconds(ms / 1000);
    mb *= 2;
  }
}

void AddAllToAll(v1::HardwareProfile* hw, int size, const std::vector<double>& sp_time_ms) {
  v1::CollectiveTable* t = hw->add_collectives();
  t->set_collective(v1::COLLECTIVE_ALL_TO_ALL);
  t->set_group_size(size);
  t->set_layout(v1::GROUP_LAYOUT_CONSECUTIVE);
  double mb = 1;
  for (double ms : sp_time_ms) {
    v1::TimeSample* s = t->add_samples();
    s->set_bytes(Bytes(mb));
    s->set_seconds(ms / 1000);
    mb *= 2;
  }
}

void AddP2p(v1::HardwareProfile* hw, int pp, double mb_per_ms) {
  v1::CollectiveTable* t = hw->add_collectives();
  t->set_collective(v1::COLLECTIVE_P2P);
  t->set_group_size(pp);
  t->set_bus_bandwidth_bytes_per_second(BytesPerSecond(mb_per_ms));
}

}  // namespace

v1::ModelSpec Llama7bSpec() {
  v1::ModelSpec spec = *CatalogModel("llama2-7b");
  spec.set_seq_len(2048);
  return spec;
}

v1::HardwareProfile A100x8() {
  v1::HardwareProfile hw;
  hw.set_cluster("a100x8");
  hw.set_num_nodes(1);
  hw.set_devices_per_node(8);
  hw.mutable_device()->set_kind(v1::DEVICE_KIND_CUDA);
  hw.mutable_device()->set_name("NVIDIA A100-SXM4-80GB");
  hw.mutable_device()->set_memory_bytes(int64_t{80} << 30);
  hw.set_overlap_coefficient(1.125552573612729);
  hw.set_runtime_context_bytes(int64_t{1024} << 20);
  hw.set_source(v1::PROFILE_SOURCE_GALVATRON_IMPORT);
  AddAllReduce(
      &hw, 8, v1::GROUP_LAYOUT_CONSECUTIVE, 154.203,
      {0.07895, 0.1094, 0.1333, 0.1827, 0.2941, 0.4157, 0.6519, 1.2826, 2.3584, 4.6768, 8.1409});
  AddAllReduce(
      &hw, 4, v1::GROUP_LAYOUT_CONSECUTIVE, 159.119,
      {0.07981, 0.09109, 0.1091, 0.1581, 0.2183, 0.3205, 0.5848, 1.0725, 2.0709, 3.7352, 7.1874});
  AddAllReduce(&hw, 4, v1::GROUP_LAYOUT_STRIDED, 155.815);
  AddAllReduce(
      &hw, 2, v1::GROUP_LAYOUT_CONSECUTIVE, 138.156,
      {0.0703, 0.07932, 0.09008, 0.1084, 0.1434, 0.2281, 0.3924, 0.7417, 1.3887, 2.6886, 5.1594});
  AddAllReduce(&hw, 2, v1::GROUP_LAYOUT_STRIDED, 151.344);
  AddAllToAll(
      &hw, 8,
      {0.1124, 0.1135, 0.1109, 0.1502, 0.2003, 0.243, 0.3997, 0.7135, 1.2981, 2.4822, 4.8151});
  AddAllToAll(
      &hw, 4,
      {0.05244, 0.07992, 0.1065, 0.1255, 0.1514, 0.2237, 0.3654, 0.6439, 1.1567, 2.1003, 4.0389});
  AddAllToAll(
      &hw, 2,
      {0.0709, 0.09942, 0.1101, 0.1047, 0.1203, 0.1788, 0.2928, 0.4756, 0.8806, 1.7752, 3.4954});
  AddP2p(&hw, 2, 163.671);
  AddP2p(&hw, 4, 138.581);
  AddP2p(&hw, 8, 109.45);
  return hw;
}

std::vector<v1::ComputeProfile> Llama7bProfiles(const v1::ModelSpec& spec) {
  v1::ComputeProfile layer;
  layer.set_layer_type(LayerTypeKey(spec, 0));
  layer.set_cluster("a100x8");
  layer.set_model("llama2-7b");
  layer.set_precision(v1::PRECISION_BF16_MIXED);
  layer.set_source(v1::PROFILE_SOURCE_GALVATRON_IMPORT);
  // Batch mode: t(b)·b = 3.859·b + 0.833 ms → s0 = m/1000, constant = c/1000.
  layer.mutable_forward_fit()->set_per_sample_s0(3.859 / 1000);
  layer.mutable_forward_fit()->set_constant(0.833 / 1000);
  layer.set_parameter_bytes(Bytes(778.2236328125));
  layer.set_parameter_count(Bytes(778.2236328125) / 4);
  const std::map<int, double> act = {
      {1, 514.5634765625}, {2, 273.28173828125}, {4, 136.885498046875}, {8, 68.3204345703125}};
  for (const auto& [tp, mb] : act) {
    v1::ActivationMemory* a = layer.add_activations();
    a->set_tp_degree(tp);
    a->set_sp(v1::SEQUENCE_PARALLEL_MEGATRON);
    a->set_seq_len(2048);
    a->set_bytes_per_sample(Bytes(mb));
    a->set_checkpoint_bytes_per_sample(Bytes(32.0));
  }

  v1::ComputeProfile other;
  other.set_layer_type(EmbeddingTypeKey(spec));
  other.set_cluster("a100x8");
  other.set_model("llama2-7b");
  other.set_precision(v1::PRECISION_BF16_MIXED);
  other.set_source(v1::PROFILE_SOURCE_GALVATRON_IMPORT);
  other.mutable_forward_fit()->set_per_sample_s0(2.680 / 1000);
  other.mutable_forward_fit()->set_constant(2.355 / 1000);
  struct Row {
    v1::PipelinePosition position;
    std::map<int, std::pair<double, double>> by_vtp;  // vtp -> (model states, activation)
  };
  const Row rows[] = {
      {v1::PIPELINE_POSITION_OFF,
       {{1, {4130.34765625, 841.58203125}},
        {2, {2321.640625, 358.83984375}},
        {4, {1289.1015625, 163.58642578125}},
        {8, {771.869140625, 78.13916015625}}}},
      {v1::PIPELINE_POSITION_FIRST,
       {{1, {2021.0048828125, 198.7357177734375}},
        {2, {1266.76806640625, 83.90301513671875}},
        {4, {775.68310546875, 51.85565185546875}},
        {8, {387.841552734375, 25.927825927734375}}}},
      {v1::PIPELINE_POSITION_LAST,
       {{1, {2021.0673828125, 717.560302734375}},
        {2, {1266.83056640625, 343.3006591796875}},
        {4, {775.74560546875, 171.1177978515625}},
        {8, {387.872802734375, 85.55889892578125}}}},
  };
  for (const Row& row : rows) {
    for (const auto& [vtp, v] : row.by_vtp) {
      v1::OtherLayersMemory* m = other.add_other_memory();
      m->set_position(row.position);
      m->set_vocab_tp_degree(vtp);
      m->set_seq_len(2048);
      m->set_model_state_bytes(Bytes(v.first));
      m->set_activation_bytes_per_sample(Bytes(v.second));
    }
  }
  return {layer, other};
}

}  // namespace galvatron::cost::testing
