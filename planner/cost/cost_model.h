// The time, memory and communication model of one (model, cluster) pair,
// after Galvatron's (per-layer time with overlapped communication, per-stage
// memory, a pipeline formula over stage times). Built once from the API's
// messages; answers per-layer, embedding, layer-switch and pipeline questions
// for the search. Two sets of formulas:
//   - kGalvatron reproduces Galvatron 3.0's cost model, quirks included, so a
//     user migrating with Galvatron's profiles gets the same numbers;
//   - kDefault keeps that structure with Galvatron's known errors fixed
//     (each fix is listed and explained in default_cost_model.cc).
// Thread-safe after Create(): every query is const and allocation-light; the
// search calls it from many threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "planner/cost/strategy.h"

namespace galvatron::cost {

enum class Mode { kDefault, kGalvatron };

struct CostOptions {
  Mode mode = Mode::kDefault;
  Schedule schedule = Schedule::k1F1B;
  int seq_len = 0;  // 0 = the model's
  // Galvatron's search options (its search_dist.yaml), with its defaults.
  bool async_grad_reduce = true;
  bool sequence_parallel = true;  // Megatron TP runs with Megatron-SP
  bool global_memory_buffer = true;
  double costmodel_coe = 1.0;
  double bct_fct_coe = 2.0;               // backward = 2 x forward unless profiled
  DpType default_dp_type = DpType::kDdp;  // kDdp or kZero2 for dp > 1 layers
  double pytorch_context_mb = 1024;       // fallback when the hardware profile has none
  // Analytic times (no compute profile): the fraction of peak FLOP/s they
  // assume. 0 (the default): by layer size, from published measurements
  // (planner/cost/analytic_efficiency.h); > 0: this fraction for every layer.
  double analytic_efficiency = 0;
  // Default mode: the gradient synchronisation's collectives (data-parallel
  // all-reduce, ZeRO reduce-scatter, the tied embeddings' all-reduce) take
  // this many times what the collective tables say; the rest of the
  // communication takes the tables' times. A calibration sets it
  // (planner/cost/calibration.h); Galvatron's formulas ignore it.
  double gradient_sync_factor = 1;
};

// One layer of one micro-batch on one device.
struct LayerCost {
  double seconds = 0;          // forward + backward, gradient sync included
  double seconds_no_sync = 0;  // the same without gradient sync
  double compute_seconds = 0;  // forward + backward (+ recompute) alone
  double memory_mb = 0;        // model states + activations on stage `stage`
  double states_mb = 0;        // of which model states (parameters, gradients, optimizer)
};

// Embedding + LM head for every pipeline stage (index = stage).
struct EmbeddingCost {
  std::vector<double> seconds;
  std::vector<double> seconds_no_sync;
  // Forward + backward alone, without communication (kDefault; 0 in
  // kGalvatron, whose pipeline formula leaves the embedding's time out of
  // the steady state).
  std::vector<double> compute_seconds;
  std::vector<double> memory_mb;  // includes the runtime context (every stage)
};

// Sizes of the model as the cost model sees them, per layer type.
struct LayerTypeInfo {
  std::string key;  // common/layer_type.h
  int hidden = 0;
  int seq_len = 0;
  // The length of the activation a layer passes on (to the next stage, or
  // redistributed): seq_len, except T5's, which carries the encoder's and the
  // decoder's sequences together (agent/runtime/blocks/blocks.h).
  int message_seq = 0;
  int heads = 0;            // query heads: a tp or Ulysses degree must divide them
  int ffn_hidden = 0;       // MLP width: a tp degree must divide it
  double parameter_mb = 0;  // fp32 MB of one layer's parameters
  bool measured = false;    // false: analytic estimate
  // The fraction of peak its analytic time assumes; 0 when its time was
  // measured (planner/cost/analytic_efficiency.h).
  double analytic_efficiency = 0;
  // Default mode: the gradient synchronisation's collectives (data-parallel
  // all-reduce, ZeRO reduce-scatter, the tied embeddings' all-reduce) take
  // this many times what the collective tables say; the rest of the
  // communication takes the tables' times. A calibration sets it
  // (planner/cost/calibration.h); Galvatron's formulas ignore it.
  double gradient_sync_factor = 1;
};

class CostModel {
 public:
  // `compute` holds the profiles of the model's layer types and embedding on
  // this cluster (extra ones are ignored), matched by LayerTypeKey /
  // EmbeddingTypeKey, or by the key without its sequence-length tokens when
  // measured at another length. A layer type without a profile is estimated
  // analytically (and analytic() says so); that needs
  // hardware.device.peak_flops, else INVALID_ARGUMENT. Missing pieces fall
  // back rather than fail: an unmeasured tp degree scales the nearest one by
  // d0/d, a missing collective table uses the nearest group size or the bus
  // bandwidth (planner/cost/hardware_tables.h). INVALID_ARGUMENT also for an
  // empty model, num_nodes or devices_per_node < 1, and a multi-device
  // cluster without any ALL_REDUCE table.
  //
  // Units: seconds and MB (2^20 bytes). Layer() is one layer for one
  // micro-batch and includes its share of the pipeline p2p (as Galvatron's
  // TimeCostModelBase); memory_mb is not rounded (Galvatron's DP takes
  // ceil() of each layer's memory). Embedding() includes the vocab-tp
  // communication and the runtime context on every stage.
  static absl::StatusOr<std::unique_ptr<CostModel>> Create(
      const v1::ModelSpec& model, const v1::HardwareProfile& hardware,
      const std::vector<v1::ComputeProfile>& compute, const CostOptions& options);
  virtual ~CostModel() = default;

  virtual const CostOptions& options() const = 0;
  virtual int world_size() const = 0;
  virtual int devices_per_node() const = 0;
  virtual int num_layers() const = 0;
  // Index into layer_types() of each layer, in model order.
  virtual const std::vector<int>& layer_type_of() const = 0;
  virtual const std::vector<LayerTypeInfo>& layer_types() const = 0;
  virtual bool analytic() const = 0;
  // What analytic() estimated and on what grounds; empty when nothing.
  virtual const std::string& analytic_note() const = 0;
  virtual int seq_len() const = 0;
  // The model as this cost model sees it: the options' seq_len applied.
  virtual const v1::ModelSpec& model() const = 0;

  // Device memory in MB usable by the search for a budget of `budget_mb`
  // (Galvatron reserves 20% of budgets above 20 GB).
  virtual double UsableMemoryMb(double budget_mb) const = 0;

  // One layer of type `layer_type` with strategy `s` (s.pp = pipeline degree)
  // on pipeline stage `stage`, global batch split into `chunks` micro-batches.
  virtual LayerCost Layer(int layer_type, const LayerStrategy& s, int global_batch, int chunks,
                          int stage) const = 0;

  // Cost of switching between consecutive layers' strategies (activation
  // redistribution), seconds; `layer_type` is the type of the layer switched
  // to. kGalvatron: its inter-layer cost, 1e-7 factor and tie-break biases
  // (1e-10 .. 3e-9) included; kDefault: the runtime's redistribution (an
  // all-reduce of the stage's micro-batch, forward and backward), 0 for equal
  // layouts (tp/sp degree and sequence split). The first layer of the model
  // (Galvatron: of every stage DP) pays none; in kDefault the search charges
  // the same between the embedding/head's layout and the layers next to it.
  virtual double Switch(int layer_type, const LayerStrategy& from, const LayerStrategy& to,
                        int global_batch, int chunks) const = 0;

  // Embedding and LM head under strategy `e` with pp = e.pp stages.
  virtual EmbeddingCost Embedding(const EmbeddingStrategy& e, int global_batch,
                                  int chunks) const = 0;

  // Memory every device of every stage needs beside its layers and the
  // embedding (Galvatron's global memory buffer), MB; 0 without
  // sequence_parallel or global_memory_buffer. Galvatron adds none for its
  // sp_only tasks: the caller skips the call there. Galvatron's DP adds
  // int() of it to ceil() of the embedding memory.
  virtual double GlobalBufferMb(int global_batch, int chunks, int pp,
                                int global_buffer_tp) const = 0;

  // Iteration time from per-stage times of one micro-batch without gradient
  // sync (`stage_no_sync`) and with it (`stage_with_sync`):
  // stage_no_sync[i] = Σ layer seconds_no_sync + embedding seconds_no_sync[i];
  // stage_with_sync[i] = Σ layer seconds, plus embedding seconds[i] in
  // kDefault (Galvatron's pipeline_costmodel leaves the embedding out).
  // kGalvatron: Galvatron's formula, which charges the steady state at the
  // last stage's time; kDefault: Σ c_i + (chunks − 1)·max_i c_i, never less
  // than `chunks` micro-batches of any stage. Both add the gradient sync not
  // hidden behind the cool-down.
  virtual double PipelineSeconds(const std::vector<double>& stage_no_sync,
                                 const std::vector<double>& stage_with_sync, int chunks) const = 0;

  // The model-side inputs this cost model computes from, as compute profiles:
  // one per layer type (in layer_types() order), then one for the
  // embedding/head, holding what was measured and the analytic estimates
  // where nothing was (source PROFILE_SOURCE_ANALYTIC for a profile with any
  // estimated part), so that another engine can plan from exactly these
  // numbers (interop::FormatGalvatronModelProfiles). Times: forward samples at
  // micro-batches 1..batch_sizes on each type's time line (and the measured
  // backward, where there is one); activation memory and checkpoint at every
  // power-of-two degree up to world_size(), without Megatron-SP and, when
  // options().sequence_parallel, with it; the embedding/head's model states
  // and activation at every pipeline position and vocab-tp degree. `cluster`
  // names the profiles' cluster.
  virtual std::vector<v1::ComputeProfile> InputProfiles(const std::string& cluster,
                                                        int batch_sizes) const = 0;
};

}  // namespace galvatron::cost
