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
  // Timed apart and not reported: collectives no cost model prices whose
  // wait is mostly the slowest rank finishing its step (the gradient norm's
  // all-reduce); counting them as communication would charge that rank's
  // lateness to the network.
  kOther,
};

struct WaitTotals {
  int64_t model_waits = 0;
  double model_seconds = 0;
  int64_t sync_waits = 0;
  double sync_seconds = 0;
};

// Blocks until `work` is done and adds the time to `kind`'s totals (or to
// the kind of an enclosing WaitKindScope on this thread); rethrows what
// work->wait() throws (the time still counts).
void WaitFor(const c10::intrusive_ptr<c10d::Work>& work, WaitKind kind);

// While it lives, every wait of this thread counts as `kind`, whatever its
// call site says (e.g. the gradient norm's all-reduce, made through the
// collectives that count as kModel elsewhere). Scopes nest.
class WaitKindScope {
 public:
  explicit WaitKindScope(WaitKind kind);
  ~WaitKindScope();
  WaitKindScope(const WaitKindScope&) = delete;
  WaitKindScope& operator=(const WaitKindScope&) = delete;

 private:
  const WaitKind* previous_;
  const WaitKind kind_;
};

// The totals since the process started.
WaitTotals ReadWaitTotals();

// b - a, field by field.
WaitTotals operator-(const WaitTotals& b, const WaitTotals& a);

}  // namespace galvatron::runtime
