// `galvatron-worker train`: one rank of a training run of a plan (our Plan
// or a Galvatron strategy file) on a model spec.
// The rank builds its pipeline stage: the embedding (first stage) and head
// with its loss (last stage), vocab-parallel over embedding.vocab_tp with
// Megatron-SP or Ulysses as the plan says, and its layers, each with its own
// tensor parallelism (Megatron), sequence parallelism (Megatron-SP or
// Ulysses), data-parallel degree, data-parallel type and checkpointing.
// Between adjacent layers of different layouts the activations are
// redistributed inside the stage; between stages they are sent to the rank
// at the same position of the next stage, under GPipe or 1F1B.
//
// Gradients: DDP all-reduces in buckets overlapped with the last
// micro-batch's backward; ZeRO-1 shards the optimizer states (each tensor
// owned by one rank of its group, which updates and broadcasts it); ZeRO-2
// also reduces gradients only to their owner; ZeRO-3 keeps each layer as a
// flat 1/n slice, gathering the parameters for each forward and backward and
// reduce-scattering the gradients as the layer's backward finishes. Every
// parameter starts as the slice of the single-process model's (seeded by its
// name), so any plan trains exactly as one process would, up to rounding.
//
// Also: micro-batches, AdamW, global-norm clipping, warm-up + cosine LR,
// repeatable synthetic or memory-mapped token data (raw token files or
// Megatron-LM indexed datasets), sharded checkpoints that resume exactly,
// per-step metrics as JSON lines, and the trained model written as Hugging
// Face safetensors (--export-out). Ranks meet through a c10d TCPStore at rank
// 0 and talk over Gloo on the CPU, or over NCCL with each rank on its CUDA
// device (--device; a worker built against a LibTorch with CUDA,
// docs/gpu.md). --dtype bfloat16 is mixed precision (bf16 compute, float32
// masters); float16 too, on CUDA only, with dynamic loss scaling
// (--loss-scaling dynamic, loss_scaler.h), which also runs, exactly, in any
// other dtype.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace galvatron::runtime {

class TcpRendezvous;  // agent/runtime/comm/rendezvous.h

struct TrainOptions {
  std::string plan;   // our Plan JSON or a Galvatron strategy file
  std::string model;  // ModelSpec JSON file or catalog name
  int64_t steps = 10;
  int64_t seed = 1234;
  std::string dtype = "float32";  // float32, float64 (exactness checks), bfloat16 or
                                  // float16 (mixed; float16 on CUDA only)
  // cpu, cuda, cuda:N or auto (device.h: ResolveDevice); `local_rank` picks
  // the device for "cuda"/"auto" (-1: the rank).
  std::string device = "auto";
  int local_rank = -1;
  std::string data = "synthetic";  // "synthetic", a Megatron-LM indexed dataset
                                   // (PREFIX, PREFIX.bin or PREFIX.idx; both files
                                   // must exist) or a raw uint16 token file; see
                                   // agent/runtime/inputs/training_data.h
  std::string metrics_out;         // rank 0: one JSON object per step
  std::string checkpoint_dir;      // sharded checkpoints: step-N/rank-R.pt
  int64_t checkpoint_every = 0;    // 0: only at the end (when a dir is given)
  bool resume = false;             // continue from the latest checkpoint in the dir
  int64_t resume_step = 0;         // with resume: this step's checkpoint (0: the latest)
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
  double peer_timeout_seconds = 15;  // RendezvousOptions::peer_timeout
  // Where the trainer leaves its rendezvous (world > 1) for the caller, who
  // reports the run's outcome through it (TcpRendezvous::Leave) after the
  // trainer's process groups are gone; null: the trainer closes it itself.
  std::shared_ptr<TcpRendezvous>* rendezvous_holder = nullptr;
  // Write each rank's final parameters with their place in the full tensors
  // (tests): this path for a world of one, else PATH.rank-R per rank.
  std::string dump_parameters;
  // Write the trained model here at the end, as safetensors with Hugging
  // Face's names (GPT-2 and LLaMA models): the ranks' slices are gathered to
  // rank 0 over the process group, which writes the file (export_gather.h).
  std::string export_out;
  // Dynamic loss scaling (loss_scaler.h): "dynamic" or "off"; "" = dynamic
  // for float16 (which needs it), off otherwise. In float32 and float64 runs
  // it is exact (power-of-two scales), which is how it is tested.
  std::string loss_scaling;
  double initial_loss_scale = 65536;
  int64_t loss_scale_growth_interval = 2000;
  // Tests: this rank's gradients become non-finite at these 1-based steps
  // (after synchronisation), to check that every rank skips the step.
  std::vector<int64_t> inject_nonfinite_grad_steps;
  int inject_nonfinite_grad_rank = -1;  // only this rank (-1: every rank)
};

// Runs the training. Errors name this rank and, once training has started,
// the step ("rank 2, step 17: ..."), then the option or plan field at fault
// or what failed; exceptions from LibTorch and Gloo come back as statuses
// (UNAVAILABLE when communication with a peer failed), none escapes.
// Thread model: one call per process, on one thread.
absl::Status RunTraining(const TrainOptions& options);

}  // namespace galvatron::runtime
