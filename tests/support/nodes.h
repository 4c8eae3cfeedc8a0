// Nodes as agents register them, for tests of the node and task services.
// Header-only, so that galvatron_test_support needs no protobuf; include it
// from tests that link the generated messages (galvatron_rpc).
#pragma once

#include <cstdint>
#include <string>

#include "galvatron/v1/hardware.pb.h"

namespace galvatron::testing {

// A node "name" of `cluster` on host "host-<name>" with 8 cores, 16 GiB and
// `devices` CPU devices of 8 GiB each (indices 0..devices-1).
inline v1::Node MakeNode(const std::string& name, const std::string& cluster = "test",
                         int devices = 2) {
  v1::Node node;
  node.set_name(name);
  node.set_cluster(cluster);
  node.set_host("host-" + name);
  node.set_cpu_cores(8);
  node.set_memory_bytes(int64_t{16} << 30);
  node.set_agent_version("0.1.0");
  for (int i = 0; i < devices; ++i) {
    v1::Device* device = node.add_devices();
    device->set_kind(v1::DEVICE_KIND_CPU);
    device->set_index(i);
    device->set_name("cpu");
    device->set_memory_bytes(int64_t{8} << 30);
  }
  return node;
}

}  // namespace galvatron::testing
