// How long this process has been blocked waiting for communication: every
// wait on a collective or a point-to-point message of the training runtime
// goes through WaitFor, which adds the time and the count to process-wide
// totals of its kind. A step's metrics take the difference of two readings,
// so that a run says how much of its step time was spent waiting for the
// network and the peers (transfer time and the peers' lateness together),
// next to what the cost model predicted for its communication.
//
// Thread-safe: the totals are atomics; any thread may wait and read.
#pragma once

#include <cstdint>
#include <torch/csrc/distributed/c10d/Work.hpp>

namespace galvatron::runtime {

enum class WaitKind {
  // What the forward and backward passes wait for: tensor/sequence-parallel
  // collectives, ZeRO-3 gathers, redistributions, pipeline messages.
  kModel,
  // The gradient synchronisation after the last backward pass (the part of
  // the data-parallel reduction not already done) and the ZeRO-1/2
  // parameter broadcast after the optimizer step.
  kGradientSync,
};

struct WaitTotals {
  int64_t model_waits = 0;
  double model_seconds = 0;
  int64_t sync_waits = 0;
  double sync_seconds = 0;
};

// Blocks until `work` is done and adds the time to `kind`'s totals;
// rethrows what work->wait() throws (the time still counts).
void WaitFor(const c10::intrusive_ptr<c10d::Work>& work, WaitKind kind);

// The totals since the process started.
WaitTotals ReadWaitTotals();

// b - a, field by field.
WaitTotals operator-(const WaitTotals& b, const WaitTotals& a);

}  // namespace galvatron::runtime
