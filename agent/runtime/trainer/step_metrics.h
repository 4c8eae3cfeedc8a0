// Per-step metrics of a training run: the step's loss (the sum over every
// rank's counted tokens, scaled to the global batch's mean), time and
// throughput, each pipeline stage's busy time, rank 0's time blocked waiting
// for communication (in the passes, and for the gradient sync), peak
// memory, the model-state bytes this rank holds, the learning rate and the
// gradient norm. Rank 0
// writes them as one JSON object per line (v1::StepMetrics) to --metrics-out
// and logs them.
//
// Thread model: the training thread; Record is a collective over the world
// (every rank calls it once per step).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/runtime/comm/wait_clock.h"
#include "agent/runtime/device/device.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer.h"
#include "agent/runtime/trainer/trainer_comm.h"

namespace galvatron::runtime {

// Bytes of parameters, gradients and optimizer states this rank holds.
int64_t ModelStateBytes(const Stage& stage, torch::optim::AdamW& optimizer);

// This process's peak resident memory.
int64_t PeakMemoryBytes();

// The peak memory a step reports: the caching allocator's peak of tensors
// on a CUDA device; the process's peak resident memory on the CPU.
int64_t PeakMemoryBytes(const torch::Device& device);

// What one step produced, for its metrics.
struct StepRecord {
  int64_t step = 0;  // 1-based
  std::chrono::steady_clock::time_point start;
  // Spent waiting for the pipeline neighbours' messages (not busy).
  std::chrono::steady_clock::duration waited{};
  double loss_sum = 0;    // this rank's share of the summed token losses
  double loss_scale = 1;  // 1 / the global batch's counted tokens
  double learning_rate = 0;
  double grad_norm = 0;
  int64_t model_state_bytes = 0;
};

class StepMetricsWriter {
 public:
  // Rank 0 opens --metrics-out (appending when resuming); UNAVAILABLE when
  // it cannot.
  static absl::StatusOr<std::unique_ptr<StepMetricsWriter>> Open(const TrainOptions& o,
                                                                 TrainerComm& comm,
                                                                 int global_batch, int seq);

  // At the start of a step: starts timing the device's work and the waits
  // for communication.
  void StartStep() {
    timer_.Start();
    waits_at_start_ = ReadWaitTotals();
  }

  // Sums the loss and takes the slowest rank's busy time of each stage over
  // the world (timed on the device: CUDA events); rank 0 writes and logs
  // the step. INTERNAL when the loss is not finite.
  absl::Status Record(const StepRecord& r);

 private:
  StepMetricsWriter(TrainerComm& comm, int global_batch, int seq)
      : comm_(comm), global_batch_(global_batch), seq_(seq), timer_(comm.device()) {}

  TrainerComm& comm_;
  int global_batch_;
  int seq_;
  DeviceTimer timer_;
  WaitTotals waits_at_start_;
  std::ofstream out_;
};

}  // namespace galvatron::runtime
