// The c10d store behind TcpRendezvous, for code that builds c10d process
// groups on it. Includes LibTorch: keep it out of headers that do not need it.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "agent/runtime/comm/rendezvous.h"

namespace galvatron::runtime {

struct TcpRendezvous::C10dHandle {
  c10::intrusive_ptr<c10d::Store> store;
};

}  // namespace galvatron::runtime
