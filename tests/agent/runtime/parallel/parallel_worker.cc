// One rank of the runtime_parallel test: builds a ParallelContext over Gloo
// and runs each case twice — sharded over the group, and as the full model in
// this one process (no communication) from the same seeds — then compares
// losses, outputs and gradients gathered to full shape (float64 by default).
//
//   runtime_parallel_worker --rank R --world W --store HOST:PORT
//       [--port-file F] [--report F] [--timeout-seconds S] [--dtype float64|float32]
//
// Rank 0 may pass port 0 with --port-file (the store's port is written
// there). Rank 0 writes the report: one line "<case> <quantity> <relative
// error>" per comparison, and "process_groups <n>". Exit 0 when every
// comparison is within 1e-9 (float32: kFloat32Tolerance) and the groups follow
// common/rank_layout, else 1 with the reasons on stderr.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/comm/c10d_store.h"
#include "agent/runtime/comm/collectives.h"
#include "agent/runtime/comm/mappings.h"
#include "agent/runtime/comm/rendezvous.h"
#include "agent/runtime/layers/cross_entropy.h"
#include "agent/runtime/layers/init.h"
#include "agent/runtime/layers/tensor_parallel.h"
#include "agent/runtime/parallel/parallel_context.h"
#include "common/rank_layout.h"

namespace galvatron::runtime {
namespace {

// The precision of a run (--dtype), set once before any case: float64 must
// match to 1e-9 relative; float32 only checks that the collectives handle
// the type (its rounding differs with the order of the sums).
at::ScalarType g_dtype = at::kDouble;
double g_tolerance = 1e-9;

// The float32 bound, relative to the largest reference value. Sharded and
// full computations add the same products in different orders (and OpenBLAS
// picks different kernels on different CPUs), so they agree only up to
// rounding. Recursive summation of n terms errs by at most (n-1)·u·Σ|terms|,
// u = 2^-24 ≈ 6e-8; the longest chain here (dot products of 8 and 16, a sum
// over 32 sequence×hidden products, the batch and the dp ranks) gives about
// 60·u ≈ 4e-6 of Σ|terms|. A scalar loss of random-signed terms cancels to
// about 1/sqrt(64) = 1/8 of Σ|terms|, so its relative error can reach ~3e-5:
// seen 1.7e-5 for the dp loss on an AMD EPYC without AVX-512, against ~5e-6
// elsewhere. 1e-4 holds on every kernel with room, and is still 1,000 times
// tighter than a wrong shard or a missing reduction would give.
constexpr double kFloat32Tolerance = 1e-4;

// Tiny shapes: every dimension that is split divides by 4.
constexpr int64_t kBatch = 2, kSeq = 4, kHidden = 8, kFfn = 16, kVocab = 32, kHeads = 4;

// Layers of the test model, one per strategy under test.
enum Layer { kTensorParallel = 0, kMegatronSp, kUlysses, kDataParallel, kHybrid };

struct Flags {
  int rank = 0;
  int world = 1;
  std::string store_host = "127.0.0.1";
  int store_port = 0;
  std::string port_file;
  std::string report;
  double timeout_seconds = 60;
  std::string dtype = "float64";
};

// Collects the comparisons of every case; rank 0 reports them.
class Results {
 public:
  void Compare(const std::string& name, const std::string& quantity, const at::Tensor& got,
               const at::Tensor& want) {
    double error = std::numeric_limits<double>::infinity();
    if (got.sizes() == want.sizes()) {
      const double scale = std::max(want.abs().max().item<double>(), 1e-300);
      error = (got - want).abs().max().item<double>() / scale;
    } else {
      Fail(absl::StrCat(name, " ", quantity, ": shape ", c10::str(got.sizes()), ", expected ",
                        c10::str(want.sizes())));
    }
    lines_.push_back(absl::StrCat(name, " ", quantity, " ", error));
    if (!(error <= g_tolerance)) {
      Fail(absl::StrCat(name, " ", quantity, ": relative error ", error, " > ", g_tolerance));
    }
  }
  void Expect(bool condition, const std::string& what) {
    if (!condition) Fail(what);
  }
  void Fact(const std::string& line) { lines_.push_back(line); }
  void Fail(const std::string& why) {
    std::cerr << "FAILED: " << why << "\n";
    ok_ = false;
  }
  bool ok() const { return ok_; }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
  bool ok_ = true;
};

at::Tensor Normal(at::IntArrayRef shape, uint64_t seed) {
  return SeededNormal(shape, seed, 1.0, g_dtype);
}

at::Tensor Tokens(uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(kVocab, {kBatch, kSeq}, generator, at::TensorOptions().dtype(at::kLong));
}

ParameterInit Init(uint64_t seed) {
  ParameterInit init;
  init.seed = seed;
  init.weight_std = 0.3;  // large enough that every layer shapes the result
  init.bias_std = 0.1;    // random biases, so that wrong bias shards show
  init.dtype = g_dtype;
  return init;
}

// A full-size parameter of the single-process reference.
at::Tensor Leaf(const at::Tensor& t) { return t.detach().clone().requires_grad_(true); }

// This rank's part of `full` along `dim` (the sharded input of a rank).
at::Tensor Part(const at::Tensor& full, const CommGroup& group, int64_t dim) {
  return Leaf(SplitForRank(full, group, dim));
}

template <typename T>
T Unwrap(absl::StatusOr<T> value) {
  if (!value.ok()) throw std::runtime_error(std::string(value.status().message()));
  return *std::move(value);
}

// --- the sharded MLP and its reference: Y = GELU(X W1ᵀ + b1) W2ᵀ + b2 ----------

struct ShardedMlp {
  ColumnParallelLinear up{nullptr};
  RowParallelLinear down{nullptr};
  at::Tensor operator()(const at::Tensor& x) { return down(at::gelu(up(x))); }
};

ShardedMlp MakeMlp(const CommGroup& group, uint64_t seed, bool sequence_parallel,
                   bool gather_output = false) {
  ColumnParallelLinearOptions up;
  up.in = kHidden;
  up.out = kFfn;
  up.gather_output = gather_output;
  up.sequence_parallel = sequence_parallel;
  up.init = Init(seed);
  RowParallelLinearOptions down;
  down.in = kFfn;
  down.out = kHidden;
  down.input_is_parallel = !gather_output;
  down.sequence_parallel = sequence_parallel;
  down.init = Init(seed + 1);
  return {Unwrap(MakeColumnParallelLinear(up, group)), Unwrap(MakeRowParallelLinear(down, group))};
}

struct FullMlp {
  FullLinear up, down;
  at::Tensor operator()(const at::Tensor& x) {
    return at::linear(at::gelu(at::linear(x, up.weight, up.bias)), down.weight, down.bias);
  }
};

FullMlp MakeFullMlp(uint64_t seed) {
  FullMlp mlp{InitFullLinear(kHidden, kFfn, true, Init(seed)),
              InitFullLinear(kFfn, kHidden, true, Init(seed + 1))};
  for (at::Tensor* t : {&mlp.up.weight, &mlp.up.bias, &mlp.down.weight, &mlp.down.bias}) {
    *t = Leaf(*t);
  }
  return mlp;
}

// The sharded MLP's gradients gathered to full shape against the reference's.
// `replicated_sum`: the row bias's gradient is partial (Megatron-SP) and
// summed over the group first.
void CompareMlpGrads(Results& results, const std::string& name, ShardedMlp& mlp, FullMlp& full,
                     const CommGroup& group, bool replicated_sum) {
  results.Compare(name, "grad_up_weight", AllGather(mlp.up->weight().grad(), group, 0),
                  full.up.weight.grad());
  results.Compare(name, "grad_up_bias", AllGather(mlp.up->bias().grad(), group, 0),
                  full.up.bias.grad());
  results.Compare(name, "grad_down_weight", AllGather(mlp.down->weight().grad(), group, 1),
                  full.down.weight.grad());
  at::Tensor down_bias = mlp.down->bias().grad();
  if (replicated_sum) down_bias = AllReduce(down_bias, group);
  results.Compare(name, "grad_down_bias", down_bias, full.down.bias.grad());
}

// --- the cases ---------------------------------------------------------------

// Megatron TP: Column → GELU → Row, X whole on every rank.
void TensorParallelMlp(const CommGroup& tp, bool gather_output, Results& results) {
  const std::string name = gather_output ? "tp_mlp_gathered" : "tp_mlp";
  ShardedMlp mlp = MakeMlp(tp, 11, /*sequence_parallel=*/false, gather_output);
  FullMlp full = MakeFullMlp(11);
  const at::Tensor probe = Normal({kBatch, kSeq, kHidden}, 13);
  at::Tensor x = Leaf(Normal({kBatch, kSeq, kHidden}, 14));
  at::Tensor x_full = Leaf(x);
  at::Tensor y = mlp(x), y_full = full(x_full);
  at::Tensor loss = (y * probe).sum(), loss_full = (y_full * probe).sum();
  loss.backward();
  loss_full.backward();
  results.Compare(name, "loss", loss, loss_full);
  results.Compare(name, "output", y, y_full);
  results.Compare(name, "grad_input", x.grad(), x_full.grad());
  CompareMlpGrads(results, name, mlp, full, tp, false);
}

// VocabParallelEmbedding → residual MLP → column-parallel LM head →
// vocab-parallel cross-entropy, against an embedding, MLP, head and
// cross-entropy over the whole vocabulary.
void VocabParallelModel(const CommGroup& tp, Results& results) {
  const std::string name = "tp_vocab_model";
  VocabParallelEmbeddingOptions embedding_options;
  embedding_options.vocab = kVocab;
  embedding_options.hidden = kHidden;
  embedding_options.init = Init(21);
  embedding_options.init.weight_std = 1.0;
  VocabParallelEmbedding embedding = Unwrap(MakeVocabParallelEmbedding(embedding_options, tp));
  ShardedMlp mlp = MakeMlp(tp, 22, false);
  ColumnParallelLinearOptions head_options;
  head_options.in = kHidden;
  head_options.out = kVocab;
  head_options.bias = false;
  head_options.init = Init(24);
  ColumnParallelLinear head = Unwrap(MakeColumnParallelLinear(head_options, tp));
  const at::Tensor tokens = Tokens(25), targets = Tokens(26);

  at::Tensor hidden = embedding(tokens);
  hidden = hidden + mlp(hidden);
  at::Tensor loss = VocabParallelCrossEntropy(head(hidden), targets, tp).mean();
  loss.backward();

  at::Tensor table = Leaf(InitFullEmbedding(kVocab, kHidden, embedding_options.init));
  FullMlp full = MakeFullMlp(22);
  at::Tensor head_weight = Leaf(InitFullLinear(kHidden, kVocab, false, head_options.init).weight);
  at::Tensor hidden_full = at::embedding(table, tokens);
  hidden_full = hidden_full + full(hidden_full);
  at::Tensor logits_full = at::linear(hidden_full, head_weight);
  at::Tensor loss_full =
      at::cross_entropy_loss(logits_full.reshape({-1, kVocab}), targets.reshape({-1}));
  loss_full.backward();

  results.Compare(name, "loss", loss, loss_full);
  results.Compare(name, "grad_embedding", AllGather(embedding->weight().grad(), tp, 0),
                  table.grad());
  results.Compare(name, "grad_head", AllGather(head->weight().grad(), tp, 0), head_weight.grad());
  CompareMlpGrads(results, name, mlp, full, tp, false);
}

// Megatron-SP: the embedding reduce-scatters into the sequence-parallel
// region; the MLP all-gathers before its column linear and reduce-scatters
// after its row linear. Each rank holds [b, s/n, h].
void MegatronSequenceParallel(const CommGroup& tp, Results& results) {
  const std::string name = "megatron_sp";
  VocabParallelEmbeddingOptions embedding_options;
  embedding_options.vocab = kVocab;
  embedding_options.hidden = kHidden;
  embedding_options.sequence_parallel = true;
  embedding_options.init = Init(31);
  embedding_options.init.weight_std = 1.0;
  VocabParallelEmbedding embedding = Unwrap(MakeVocabParallelEmbedding(embedding_options, tp));
  ShardedMlp mlp = MakeMlp(tp, 32, /*sequence_parallel=*/true);
  const at::Tensor tokens = Tokens(34);
  const at::Tensor probe = Normal({kBatch, kSeq, kHidden}, 35);

  at::Tensor x = embedding(tokens);
  at::Tensor y = x + mlp(x);
  at::Tensor local_loss = (y * SplitForRank(probe, tp, kSequenceDim)).sum();
  local_loss.backward();
  const at::Tensor loss = AllReduce(local_loss.detach(), tp);

  at::Tensor table = Leaf(InitFullEmbedding(kVocab, kHidden, embedding_options.init));
  FullMlp full = MakeFullMlp(32);
  at::Tensor x_full = at::embedding(table, tokens);
  at::Tensor y_full = x_full + full(x_full);
  at::Tensor loss_full = (y_full * probe).sum();
  loss_full.backward();

  results.Compare(name, "loss", loss, loss_full);
  results.Compare(name, "output", AllGather(y, tp, kSequenceDim), y_full);
  results.Compare(name, "grad_embedding", AllGather(embedding->weight().grad(), tp, 0),
                  table.grad());
  results.Expect(mlp.down->sequence_parallel_parameters().size() == (tp.size() > 1 ? 1u : 0u),
                 "megatron_sp: the row bias is the one sequence-parallel parameter");
  CompareMlpGrads(results, name, mlp, full, tp, /*replicated_sum=*/true);
}

// Self-attention with replicated weights; `group` set: Ulysses, each rank
// holding [b, s/n, h] and exchanging heads for sequence around the
// attention itself.
at::Tensor Attention(const at::Tensor& x, const at::Tensor& qkv_weight,
                     const at::Tensor& out_weight, const CommGroup* group) {
  const int64_t b = x.size(0), s_local = x.size(1), d = kHidden / kHeads;
  std::vector<at::Tensor> qkv = at::linear(x, qkv_weight).chunk(3, -1);
  for (at::Tensor& t : qkv) {
    t = t.reshape({b, s_local, kHeads, d});
    if (group) t = SequenceToHeads(t, *group);  // [b, s, heads/n, d]
    t = t.transpose(1, 2);
  }
  const int64_t s = qkv[0].size(2);
  at::Tensor scores = at::matmul(qkv[0], qkv[1].transpose(-2, -1)) / std::sqrt(double(d));
  const at::Tensor future = at::ones({s, s}, at::TensorOptions().dtype(at::kBool)).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
  at::Tensor context = at::matmul(at::softmax(scores, -1), qkv[2]).transpose(1, 2);
  if (group) context = HeadsToSequence(context, *group);  // [b, s/n, heads, d]
  return at::linear(context.reshape({b, s_local, kHidden}), out_weight);
}

void UlyssesSequenceParallel(const LayerGroups& layer, Results& results) {
  const std::string name = "ulysses";
  const CommGroup& sp = *layer.tp;
  const at::Tensor qkv_init = InitFullLinear(kHidden, 3 * kHidden, false, Init(41)).weight;
  const at::Tensor out_init = InitFullLinear(kHidden, kHidden, false, Init(42)).weight;
  const at::Tensor x_whole = Normal({kBatch, kSeq, kHidden}, 43);
  const at::Tensor probe = Normal({kBatch, kSeq, kHidden}, 44);

  at::Tensor qkv = Leaf(qkv_init), out = Leaf(out_init);
  at::Tensor x = Part(x_whole, sp, kSequenceDim);
  at::Tensor y = Attention(x, qkv, out, &sp);
  at::Tensor local_loss = (y * SplitForRank(probe, sp, kSequenceDim)).sum();
  local_loss.backward();

  at::Tensor qkv_full = Leaf(qkv_init), out_full = Leaf(out_init), x_full = Leaf(x_whole);
  at::Tensor y_full = Attention(x_full, qkv_full, out_full, nullptr);
  at::Tensor loss_full = (y_full * probe).sum();
  loss_full.backward();

  results.Expect(layer.grad_sync->size() == layer.dp->size() * sp.size(),
                 "ulysses: gradients sync over dp × sp");
  results.Compare(name, "loss", AllReduce(local_loss.detach(), sp), loss_full);
  results.Compare(name, "output", AllGather(y, sp, kSequenceDim), y_full);
  results.Compare(name, "grad_input", AllGather(x.grad(), sp, kSequenceDim), x_full.grad());
  // Replicated weights saw 1/n of the sequence each: their gradients add up.
  results.Compare(name, "grad_qkv", AllReduce(qkv.grad(), *layer.grad_sync), qkv_full.grad());
  results.Compare(name, "grad_out", AllReduce(out.grad(), *layer.grad_sync), out_full.grad());
}

// Data parallelism (optionally with tensor parallelism inside each replica):
// each data-parallel rank takes its slice of the batch; the mean loss's
// gradients are all-reduced and divided by dp (Megatron/DDP averaging).
void DataParallelMlp(const std::string& name, const LayerGroups& layer, Results& results) {
  const CommGroup& tp = *layer.tp;
  const CommGroup& dp = *layer.dp;
  const int64_t batch = 2 * dp.size();
  ShardedMlp mlp = MakeMlp(tp, 51, false);
  FullMlp full = MakeFullMlp(51);
  const at::Tensor x_whole = Normal({batch, kSeq, kHidden}, 53);
  const at::Tensor probe = Normal({batch, kSeq, kHidden}, 54);
  auto per_sample_mean = [](const at::Tensor& y, const at::Tensor& p) {
    return (y * p).sum({1, 2}).mean();
  };

  at::Tensor x = Part(x_whole, dp, 0);
  at::Tensor loss = per_sample_mean(mlp(x), SplitForRank(probe, dp, 0));
  loss.backward();
  for (const at::Tensor& p :
       {mlp.up->weight(), mlp.up->bias(), mlp.down->weight(), mlp.down->bias()}) {
    at::Tensor grad = p.grad();
    grad.copy_(AllReduce(grad, *layer.grad_sync) / layer.grad_sync->size());
  }
  at::Tensor x_full = Leaf(x_whole);
  at::Tensor loss_full = per_sample_mean(full(x_full), probe);
  loss_full.backward();

  results.Compare(name, "loss", AllReduce(loss.detach(), dp) / dp.size(), loss_full);
  CompareMlpGrads(results, name, mlp, full, tp, false);
}

// The context's groups are those of common/rank_layout.
void CheckLayout(const ParallelContext& context, int layer_index, const LayoutDegrees& degrees,
                 Results& results) {
  const LayerGroups& layer = *Unwrap(context.Layer(layer_index));
  const RankGroups want = Unwrap(GroupsOfRank(degrees, context.rank()));
  results.Expect(layer.tp->ranks == want.tp_group && layer.tp->rank == want.tp_rank,
                 absl::StrCat("layer ", layer_index, ": tp group ", layer.tp->Describe()));
  results.Expect(layer.dp->ranks == want.dp_group && layer.dp->rank == want.dp_rank,
                 absl::StrCat("layer ", layer_index, ": dp group ", layer.dp->Describe()));
}

// --- the worker ----------------------------------------------------------------

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    bool ok = true;
    if (name == "--rank") {
      ok = absl::SimpleAtoi(value, &flags.rank);
    } else if (name == "--world") {
      ok = absl::SimpleAtoi(value, &flags.world);
    } else if (name == "--store") {
      const size_t colon = value.rfind(':');
      ok = colon != std::string::npos &&
           absl::SimpleAtoi(value.substr(colon + 1), &flags.store_port);
      flags.store_host = value.substr(0, colon);
    } else if (name == "--port-file") {
      flags.port_file = value;
    } else if (name == "--report") {
      flags.report = value;
    } else if (name == "--dtype" && (value == "float64" || value == "float32")) {
      flags.dtype = value;
    } else if (name == "--timeout-seconds") {
      ok = absl::SimpleAtod(value, &flags.timeout_seconds);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat(name, ": \"", value, "\""));
  }
  return flags;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path + ".tmp");
  out << text;
  out.close();
  if (!out || std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

ParallelLayout TestLayout(const Flags& flags) {
  ParallelLayout layout;
  layout.world = flags.world;
  layout.rank = flags.rank;
  const int w = flags.world;
  layout.layers = {{w, v1::SEQUENCE_PARALLEL_NONE, 1},
                   {w, v1::SEQUENCE_PARALLEL_MEGATRON, 1},
                   {w, v1::SEQUENCE_PARALLEL_ULYSSES, 1},
                   {1, v1::SEQUENCE_PARALLEL_NONE, w}};
  if (w >= 4) layout.layers.push_back({2, v1::SEQUENCE_PARALLEL_NONE, w / 2});
  layout.embedding = {w, v1::SEQUENCE_PARALLEL_NONE, 1};
  return layout;
}

void RunCases(const ParallelContext& context, Results& results) {
  auto layer = [&](int index) -> const LayerGroups& { return *Unwrap(context.Layer(index)); };
  const int w = context.world();
  CheckLayout(context, kTensorParallel, {w, 1, w, 1}, results);
  CheckLayout(context, kDataParallel, {w, 1, 1, w}, results);
  TensorParallelMlp(*layer(kTensorParallel).tp, /*gather_output=*/false, results);
  TensorParallelMlp(*layer(kTensorParallel).tp, /*gather_output=*/true, results);
  VocabParallelModel(*Unwrap(context.Embedding())->tp, results);
  MegatronSequenceParallel(*layer(kMegatronSp).tp, results);
  UlyssesSequenceParallel(layer(kUlysses), results);
  DataParallelMlp("dp", layer(kDataParallel), results);
  if (w >= 4) {
    CheckLayout(context, kHybrid, {w, 1, 2, w / 2}, results);
    DataParallelMlp("tp2_dp", layer(kHybrid), results);
  }
  results.Fact(absl::StrCat("process_groups ", context.process_group_count()));
}

int Run(int argc, char** argv) {
  absl::StatusOr<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << flags.status().message() << "\n";
    return 2;
  }
  at::set_num_threads(1);
  if (flags->dtype == "float32") {
    g_dtype = at::kFloat;
    g_tolerance = kFloat32Tolerance;
  }
  runtime::RendezvousOptions rendezvous;
  rendezvous.host = flags->store_host;
  rendezvous.port = flags->store_port;
  rendezvous.rank = flags->rank;
  rendezvous.world_size = flags->world;
  rendezvous.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(flags->timeout_seconds * 1000));
  if (!flags->port_file.empty()) {
    const std::string port_file = flags->port_file;
    rendezvous.on_serving = [port_file](int port) {
      return WriteFile(port_file, absl::StrCat(port, "\n"));
    };
  }
  auto store = runtime::TcpRendezvous::Connect(rendezvous);
  if (!store.ok()) {
    std::cerr << store.status().message() << "\n";
    return 1;
  }
  ParallelContextOptions options;
  options.timeout = rendezvous.timeout;
  auto context = ParallelContext::Create(TestLayout(*flags), (*store)->c10d().store, options);
  if (!context.ok()) {
    std::cerr << context.status().message() << "\n";
    return 1;
  }
  Results results;
  RunCases(**context, results);
  if (flags->rank == 0 && !flags->report.empty()) {
    std::string text;
    for (const std::string& line : results.lines()) absl::StrAppend(&text, line, "\n");
    const absl::Status written = WriteFile(flags->report, text);
    if (!written.ok()) results.Fail(std::string(written.message()));
  }
  // Nobody leaves while a peer may still need it for a collective.
  AllReduce(at::ones({1}), (*context)->world_group());
  return results.ok() ? 0 : 1;
}

}  // namespace
}  // namespace galvatron::runtime

int main(int argc, char** argv) {
  try {
    return galvatron::runtime::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "FAILED: " << e.what() << "\n";
    return 1;
  }
}
