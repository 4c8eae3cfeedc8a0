// What the training tests share: the worker binary, plans described by their
// shape, and rank 0's metrics file. Not thread-safe (test code).
#pragma once

#include <string>
#include <vector>

#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "tests/support/test_support.h"

namespace galvatron::testing {

// The galvatron-worker binary of this build.
std::string Worker();

inline constexpr v1::SequenceParallel kNone = v1::SEQUENCE_PARALLEL_NONE;
inline constexpr v1::SequenceParallel kMegatron = v1::SEQUENCE_PARALLEL_MEGATRON;
inline constexpr v1::SequenceParallel kUlysses = v1::SEQUENCE_PARALLEL_ULYSSES;
inline constexpr v1::DataParallelType kDdp = v1::DATA_PARALLEL_TYPE_DDP;
inline constexpr v1::DataParallelType kZero1 = v1::DATA_PARALLEL_TYPE_ZERO1;
inline constexpr v1::DataParallelType kZero2 = v1::DATA_PARALLEL_TYPE_ZERO2;
inline constexpr v1::DataParallelType kZero3 = v1::DATA_PARALLEL_TYPE_ZERO3;

struct Layer {
  int tp = 1;
  v1::SequenceParallel sp = kNone;
  v1::DataParallelType dp_type = kDdp;
  bool checkpoint = false;
};

// A plan by its shape: each layer's dp is what its tp leaves of a stage.
struct PlanShape {
  int world = 1;
  int pp = 1;
  v1::PipelineSchedule schedule = v1::PIPELINE_SCHEDULE_1F1B;
  std::vector<Layer> layers = std::vector<Layer>(4);
  Layer embedding;  // tp: vocab_tp
};

// Writes the plan (8 samples in 2 micro-batches) as dir/name; returns the path.
std::string WritePlan(const TempDir& dir, const std::string& name, const PlanShape& shape);

// Rank 0's --metrics-out: one StepMetrics per line, in step order.
std::vector<v1::StepMetrics> ReadMetrics(const std::string& path);

}  // namespace galvatron::testing
