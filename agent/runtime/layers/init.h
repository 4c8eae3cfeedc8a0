// Deterministic initialisation of full-size parameters. A sharded layer
// creates the whole weight a single process would create from the same seed
// and keeps its slice (Megatron's use_cpu_initialization), so that a run on
// any number of ranks starts from exactly the single-process parameters:
// that is what lets the runtime be tested for exactness against
// single-process training. The price is one full-size tensor per layer,
// transiently, at start-up.
//
// Thread-safe: each call draws from its own generator.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace galvatron::runtime {

struct ParameterInit {
  uint64_t seed = 1234;      // weights draw from this seed; biases from a mix of it
  double weight_std = 0.02;  // normal(0, std): Megatron's init_method_std
  double bias_std = 0;       // 0: zeros as Megatron; > 0: normal (tests, to check bias shards)
  at::ScalarType dtype = at::kFloat;
};

// normal(0, std) of `shape` from a generator seeded with `seed`. Drawn in
// float64 and then cast, so that float32 and float64 runs start from the
// same values (up to rounding).
at::Tensor SeededNormal(at::IntArrayRef shape, uint64_t seed, double std, at::ScalarType dtype);

// The full [out, in] weight (torch::nn::Linear's layout) and [out] bias
// (undefined without bias) of a linear layer.
struct FullLinear {
  at::Tensor weight;
  at::Tensor bias;
};
FullLinear InitFullLinear(int64_t in, int64_t out, bool bias, const ParameterInit& init);

// The full [vocab, hidden] embedding table.
at::Tensor InitFullEmbedding(int64_t vocab, int64_t hidden, const ParameterInit& init);

}  // namespace galvatron::runtime
