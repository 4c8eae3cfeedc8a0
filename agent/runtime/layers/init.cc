#include "agent/runtime/layers/init.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace galvatron::runtime {
namespace {

// Biases draw from a stream of their own, unrelated to any weight's even
// when layers use consecutive seeds.
constexpr uint64_t kBiasStream = 0x9E3779B97F4A7C15ULL;

}  // namespace

at::Tensor SeededNormal(at::IntArrayRef shape, uint64_t seed, double std, at::ScalarType dtype) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor values = at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  values.normal_(0.0, std, generator);
  return values.to(dtype);
}

FullLinear InitFullLinear(int64_t in, int64_t out, bool bias, const ParameterInit& init) {
  FullLinear full;
  full.weight = SeededNormal({out, in}, init.seed, init.weight_std, init.dtype);
  if (bias) {
    full.bias = init.bias_std > 0
                    ? SeededNormal({out}, init.seed ^ kBiasStream, init.bias_std, init.dtype)
                    : at::zeros({out}, at::TensorOptions().dtype(init.dtype));
  }
  return full;
}

at::Tensor InitFullEmbedding(int64_t vocab, int64_t hidden, const ParameterInit& init) {
  return SeededNormal({vocab, hidden}, init.seed, init.weight_std, init.dtype);
}

}  // namespace galvatron::runtime
