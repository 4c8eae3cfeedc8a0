// `galvatron-worker train`: one rank of a training run of a plan. What runs
// so far: data parallelism over every layer with each layer's (and the
// embedding's) data-parallel type — DDP (gradients all-reduced in buckets, overlapped
// with the last micro-batch's backward),
// ZeRO-1 (optimizer states sharded: each parameter is owned by one rank that
// updates it and broadcasts it) and ZeRO-2 (gradients also reduced only to
// their owner) — with activation checkpointing per layer, micro-batches
// (gradient accumulation), AdamW, gradient clipping, warm-up + cosine LR,
// repeatable synthetic or memory-mapped token data, sharded checkpoints that
// resume exactly, and per-step metrics as JSON lines. Plans with tensor,
// sequence or pipeline parallelism or ZeRO-3 are refused with UNIMPLEMENTED
// naming the layer and the dimension. Ranks meet through a c10d TCPStore at
// rank 0 and talk over Gloo (CPU).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace galvatron::runtime {

struct TrainOptions {
  std::string plan;   // our Plan JSON or a Galvatron strategy file
  std::string model;  // ModelSpec JSON file or catalog name
  int64_t steps = 10;
  int64_t seed = 1234;
  std::string dtype = "float32";  // float32 or float64 (exactness checks)
  std::string data = "synthetic";  // "synthetic" or a token file (uint16 ids)
  std::string metrics_out;         // rank 0: one JSON object per step
  std::string checkpoint_dir;      // sharded checkpoints: step-N/rank-R.pt
  int64_t checkpoint_every = 0;    // 0: only at the end (when a dir is given)
  bool resume = false;             // continue from the latest checkpoint in the dir
  int64_t stop_after = 0;          // > 0: checkpoint and stop after this step (the LR
                                   // schedule still spans `steps`); resume later
  double learning_rate = 0;        // 0: the spec's optimizer, else 1e-3
  int64_t warmup_steps = -1;       // -1: the spec's
  double grad_clip = -1;           // -1: the spec's (0 = none)
  int threads = 0;                 // torch intra-op threads; 0 = cores / local ranks
  // Rank and rendezvous.
  int rank = 0;
  int world_size = 1;
  std::string store_host = "127.0.0.1";
  int store_port = 29500;  // rank 0 may use 0 with port_file
  std::string port_file;
  double timeout_seconds = 300;
  std::string dump_parameters;  // rank 0: write the final full parameters here (tests)
};

// Runs the training; errors name the option or the plan field at fault.
absl::Status RunTraining(const TrainOptions& options);

}  // namespace galvatron::runtime
