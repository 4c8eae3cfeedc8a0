// The few places where LibTorch's C++ API differs between 1.13 (Debian's)
// and 2.x (PyTorch's wheels and archives), behind one name each.
//
// PyTorch 2.0 split c10d's process groups in two: the backends (Gloo, NCCL,
// ...) derive from c10d::Backend, and c10d::ProcessGroup became a wrapper
// that dispatches to a backend per device type. In 1.13 the backends derive
// from c10d::ProcessGroup itself. Our collectives call only what both
// declare on the backend class (allreduce, reduce, broadcast, allgather,
// reduce_scatter, alltoall_base, send, recv, barrier, getBackendName), so
// the runtime holds backends directly and never builds the 2.x wrapper.
#pragma once

#include <torch/csrc/autograd/variable.h>
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include <utility>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#endif

namespace galvatron::runtime::torch_compat {

#if TORCH_VERSION_MAJOR >= 2
// What ProcessGroupGloo and ProcessGroupNCCL derive from.
using Backend = c10d::Backend;
#else
using Backend = c10d::ProcessGroup;
#endif

// A parameter's gradient accumulator, as grad_accumulator() returns it: a
// std::shared_ptr<Node> in 1.13 and 2.x up to at least 2.6, a
// c10::intrusive_ptr<Node> in later releases (2.14 has it).
using AccumulatorPtr = decltype(torch::autograd::impl::grad_accumulator(
    std::declval<const torch::autograd::Variable&>()));

// "1.13" / "2.5": the LibTorch the worker was compiled against.
inline constexpr int kTorchMajor = TORCH_VERSION_MAJOR;
inline constexpr int kTorchMinor = TORCH_VERSION_MINOR;

}  // namespace galvatron::runtime::torch_compat
