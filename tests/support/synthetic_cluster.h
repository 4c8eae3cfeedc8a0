// A synthetic, self-consistent HardwareProfile for tests: `nodes` x `per_node`
// devices with A100-like figures (fast intra-node links, slower inter-node),
// every collective table the cost model reads, with samples and fits.
#pragma once

#include <string>

#include "galvatron/v1/hardware.pb.h"

namespace galvatron::testing {

inline v1::TimeSample* AddSample(v1::CollectiveTable* t, int64_t bytes, double seconds) {
  auto* s = t->add_samples();
  s->set_bytes(bytes);
  s->set_seconds(seconds);
  return s;
}

// Bus bandwidth `gbps` GB/s and latency 20 us: 8 samples 1..128 MiB on the line.
inline void FillTable(v1::CollectiveTable* t, double gbps) {
  const double alpha = 20e-6, beta = 1.0 / (gbps * 1e9);
  for (int i = 0; i < 8; ++i) {
    const int64_t bytes = (int64_t{1} << 20) << i;
    AddSample(t, bytes, alpha + beta * static_cast<double>(bytes));
  }
  t->mutable_fit()->set_alpha_seconds(alpha);
  t->mutable_fit()->set_beta_seconds_per_byte(beta);
  t->set_bus_bandwidth_bytes_per_second(gbps * 1e9);
}

inline v1::HardwareProfile SyntheticCluster(const std::string& name, int nodes, int per_node,
                                            int64_t device_memory = int64_t{80} << 30) {
  v1::HardwareProfile p;
  p.set_cluster(name);
  p.set_num_nodes(nodes);
  p.set_devices_per_node(per_node);
  p.mutable_device()->set_kind(v1::DEVICE_KIND_CUDA);
  p.mutable_device()->set_name("synthetic-a100");
  p.mutable_device()->set_memory_bytes(device_memory);
  p.mutable_device()->set_peak_flops(312e12);
  p.set_overlap_coefficient(1.1);
  p.set_runtime_context_bytes(int64_t{1} << 30);
  p.set_source(v1::PROFILE_SOURCE_MANUAL);
  const int world = nodes * per_node;
  for (int s = 2; s <= world; s *= 2) {
    const bool inside = s <= per_node;
    for (auto layout : {v1::GROUP_LAYOUT_CONSECUTIVE, v1::GROUP_LAYOUT_STRIDED}) {
      // Strided groups of a multi-node world cross nodes sooner.
      const bool fast = inside && (layout == v1::GROUP_LAYOUT_CONSECUTIVE || nodes == 1);
      for (auto c : {v1::COLLECTIVE_ALL_REDUCE, v1::COLLECTIVE_ALL_TO_ALL,
                     v1::COLLECTIVE_ALL_GATHER, v1::COLLECTIVE_REDUCE_SCATTER}) {
        auto* t = p.add_collectives();
        t->set_collective(c);
        t->set_group_size(s);
        t->set_layout(layout);
        FillTable(t, fast ? 150.0 : 20.0);
      }
    }
    auto* p2p = p.add_collectives();
    p2p->set_collective(v1::COLLECTIVE_P2P);
    p2p->set_group_size(s);
    FillTable(p2p, nodes > 1 ? 20.0 : 150.0);
  }
  return p;
}

}  // namespace galvatron::testing
