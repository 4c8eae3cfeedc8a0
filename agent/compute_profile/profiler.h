// Compute profiling (`galvatron-worker profile`): for every layer type of a
// model and its embedding/head, the forward and backward time over
// micro-batch sizes and sequence lengths (median of repeats after warm-up,
// fitted as t(b, s) = b·(s2·s² + s1·s + s0) + c; a noisy measurement taken
// again and what stays noisy flagged in the profile's quality record, see
// common/measurement_quality.h and docs/measurement.md), the parameter count, and
// the activation memory per sample for each tensor-parallel degree, with and
// without checkpointing, measured on the same block code the training
// runtime uses (agent/runtime/blocks) built with the sharded shapes.
//
// Memory is what stays allocated after a forward pass (what autograd saved
// for backward, plus the output the next layer keeps), taken as the
// difference between two micro-batch sizes so that constant overheads
// cancel. On CPU a counting allocator wrapped around LibTorch's default CPU
// allocator keeps the live bytes; on CUDA the caching allocator's statistics.
// Thread-compatible: one profile at a time per process.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/measurement_quality.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::profiler {

struct ProfilerOptions {
  std::vector<int> micro_batches = {1, 2, 4};
  std::vector<int> seq_lens;                // empty: the model's
  std::vector<int> tp_degrees = {1, 2, 4};  // those that divide a layer's heads are measured
  int warmup = 2;
  int repeats = 5;
  double time_budget_seconds = 120;
  int threads = 0;              // torch intra-op threads; 0 = all cores
  std::string device = "auto";  // cpu, cuda or auto
  std::string cluster = "local";
  // When the repetitions of a timing spread too far or the machine is busy:
  // time it again (within the time budget), keep the least noisy attempt,
  // flag what stays noisy.
  NoiseOptions noise;
  // The machine's load while timing; null: /proc/stat (MakeProcLoadSource).
  std::shared_ptr<LoadSource> load_source;
  // Called after each measured item with the fraction done and what it was.
  std::function<void(double, const std::string&)> progress;
};

// INVALID_ARGUMENT naming the option and its value.
absl::Status ValidateProfilerOptions(const ProfilerOptions& options);

// One profile per distinct layer type of `model` (common/layer_type.h keys),
// then the embedding/head's. DEADLINE_EXCEEDED when the time budget runs out,
// naming what was being measured; UNIMPLEMENTED for layer kinds without a
// block (T5, ViT, Swin); UNAVAILABLE for device cuda without a CUDA device.
absl::StatusOr<v1::ComputeProfileList> ProfileModel(const v1::ModelSpec& model,
                                                    const ProfilerOptions& options);

}  // namespace galvatron::profiler
