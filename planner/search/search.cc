#include "planner/search/search.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/rank_layout.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "planner/search/candidates.h"
#include "planner/search/partition.h"
#include "planner/search/stage_dp.h"
#include "planner/search/thread_pool.h"

namespace galvatron::search {

using cost::CostModel;
using cost::EmbeddingStrategy;
using cost::LayerStrategy;
using cost::Schedule;

const std::set<std::string>& DisableNames() {
  static const std::set<std::string> names = {"tp",   "sp",           "megatron_sp", "pp",
                                              "dp",   "sdp",          "zero1",       "zero2",
                                              "ckpt", "embedding_tp", "embedding_sp"};
  return names;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Galvatron's tp/sp modes of a task: which tensor/sequence parallelism the
// task's layers may use.
enum class TpSpMode { kTpOnly, kSpOnly, kTpWithSp };

const char* ModeName(TpSpMode m) {
  switch (m) {
    case TpSpMode::kTpOnly:
      return "tp_only";
    case TpSpMode::kSpOnly:
      return "sp_only";
    case TpSpMode::kTpWithSp:
      return "tp_with_sp";
  }
  return "";
}

struct Task {
  int global_batch = 0;
  int chunks = 0;
  int pp = 0;
  TpSpMode mode = TpSpMode::kTpOnly;
  int buffer_tp = 1;  // the largest tp/sp degree of the task (global buffer)
  Schedule schedule = Schedule::k1F1B;
  int space = 0;  // index into SearchContext::spaces
  // Galvatron-extended: the plan-wide data-parallel type of the space.
  bool extended = false;
  cost::DpType default_dp_type = cost::DpType::kDdp;
};

struct TaskResult {
  bool feasible = false;
  double seconds = kInf;
  std::vector<LayerStrategy> layers;
  EmbeddingStrategy embedding;
  std::vector<int> division;
  v1::PartitionMethod partition = v1::PARTITION_METHOD_EVEN;
  std::vector<double> stage_memory_mb;  // layers + embedding + buffer
  std::vector<double> stage_other_mb;   // embedding + buffer
  std::vector<double> stage_states_mb;  // the layers' model states
  std::vector<double> stage_no_sync;    // C_i
  std::vector<double> stage_compute;    // compute alone per micro-batch
  int64_t states = 0;
  // For the infeasibility report: the least memory per device a stage of this
  // task needs beyond what fitted (MB), +inf if unknown.
  double least_needed_mb = kInf;
  // A stage failed although its least memory fitted: some layer had no
  // strategy its heads (or MLP) split over (Splits()).
  bool unsplittable = false;
  absl::Status error;  // an internal error of the cost model or the DP
  double samples_per_second() const { return feasible ? task_batch / seconds : 0; }
  int task_batch = 0;
};

bool Disabled(const SearchOptions& o, const char* name) { return o.disabled.count(name) > 0; }

bool IsPowerOfTwo(int n) { return n > 0 && (n & (n - 1)) == 0; }

std::vector<int> GlobalBatches(const SearchOptions& o) {
  std::vector<int> out;
  if (o.global_batch_min == o.global_batch_max) return {o.global_batch_min};
  // Galvatron: range(max(min_bsz, bsz_scale), max_bsz + 1, bsz_scale).
  for (int b = std::max(o.global_batch_min, o.global_batch_step); b <= o.global_batch_max;
       b += o.global_batch_step) {
    out.push_back(b);
  }
  return out;
}

// What a data-parallel degree must divide.
enum class BatchRule {
  kNone,         // Galvatron's search: nothing (its runtime splits unevenly)
  kMicroBatch,   // our runtime: whole micro-batches on every data-parallel rank
  kGlobalBatch,  // Galvatron's runtime: the global batch (it asserts so)
};

template <typename Strategy>
bool FitsTask(const Strategy& s, const Task& t, int max_dp, BatchRule rule) {
  if (s.pp != t.pp || s.tp_sp() > t.buffer_tp || s.dp > max_dp) return false;
  if (t.mode == TpSpMode::kTpOnly && s.sp != 1) return false;
  if (t.mode == TpSpMode::kSpOnly && s.tp != 1) return false;
  if (rule == BatchRule::kMicroBatch && (t.global_batch / t.chunks) % s.dp != 0) return false;
  if (rule == BatchRule::kGlobalBatch && t.global_batch % s.dp != 0) return false;
  return true;
}

// The candidate strategies of one space: one per search, except in the
// extended space, which has one per plan-wide data-parallel type.
struct CandidateSpace {
  cost::DpType default_dp_type = cost::DpType::kDdp;
  std::vector<LayerStrategy> layer_candidates;
  std::vector<EmbeddingStrategy> embedding_candidates;
  // The candidates with no dimension disabled: the balanced partitions are
  // computed from these, so that disabling a dimension only removes plans
  // from the space and never moves a partition.
  std::vector<LayerStrategy> reference_layers;
  std::vector<EmbeddingStrategy> reference_embeddings;
};

// Everything one task needs from the search's shared state.
struct SearchContext {
  const CostModel* model = nullptr;
  const SearchOptions* options = nullptr;
  std::vector<CandidateSpace> spaces;
  double usable_mb = 0;
  bool galvatron = false;               // Galvatron's formulas (galvatron and extended modes)
  bool extended = false;                // the galvatron-extended space
  StageDpCache* stage_cache = nullptr;  // shared by the tasks; may be null
  // Galvatron's own space: its candidates, tasks and even partitions only.
  bool galvatron_space() const { return galvatron && !extended; }
  BatchRule batch_rule() const {
    return extended    ? BatchRule::kGlobalBatch
           : galvatron ? BatchRule::kNone
                       : BatchRule::kMicroBatch;
  }
};

// Per stage of one partition: the DP problem without its budget, the
// per-layer costs for the pipeline formula, and the solutions found so far.
struct StageTables {
  StageDpProblem problem;
  std::vector<cost::LayerCost> costs;  // [l * S + s]
  // Default mode: Switch() of one micro-batch into layer l, [(l * S + from)
  // * S + to] (empty when no layout changes anywhere); the pipeline formula
  // adds it to the stage's time. Galvatron's formulas leave it out.
  std::vector<double> switch_seconds;
  std::map<int64_t, StageDpSolution> solutions;  // by budget
};

bool Cancelled(const SearchOptions& options) { return options.cancelled && options.cancelled(); }

// Whether a layer of this type can run strategy `s`: its tp (Megatron) or
// Ulysses degree divides its heads, and tp its MLP width (a runtime shards
// both that way; e.g. Swin-T's 3-head first stage takes tp 1 or 3 only).
bool Splits(const cost::LayerTypeInfo& info, const LayerStrategy& s) {
  if (info.heads > 0 && info.heads % s.tp_sp() != 0) return false;
  return info.ffn_hidden <= 0 || info.ffn_hidden % s.tp == 0;
}

// The tables of one stage (layers [start, start + n) on pipeline stage
// `stage`). The DP's time of a layer: Galvatron's, the layer's time with
// gradient sync, switches as Switch() prices one; default mode: what the
// layer adds to the iteration of a one-stage pipeline, (chunks − 1) micro-
// batches without sync, one with it, and a switch every micro-batch — the
// iteration time itself for pp = 1 (PipelineSeconds), and for pp > 1 a
// stage's own part of it. Layer() and Switch() are pure: each layer type's costs are
// computed once per stage (a stage of a uniform model repeats one layer),
// and its S x S switch costs once per task (`switch_of_type`, kept by the
// caller across stages and partitions). Stops early (leaving the tables
// incomplete) when the search is cancelled.
void BuildStageTable(const CostModel& model, const SearchOptions& options, const Task& task,
                     const std::vector<LayerStrategy>& layers, int stage, int start, int n,
                     std::map<int, std::vector<double>>* switch_of_type, StageTables* out) {
  const int S = static_cast<int>(layers.size());
  const auto& type_of = model.layer_type_of();
  StageTables& t = *out;
  t.problem.num_layers = n;
  t.problem.num_strategies = S;
  t.problem.time.resize(static_cast<size_t>(n) * S);
  t.problem.memory.resize(static_cast<size_t>(n) * S);
  t.costs.resize(static_cast<size_t>(n) * S);
  const bool galvatron = model.options().mode == cost::Mode::kGalvatron;
  const int chunks = std::max(task.chunks, 1);
  bool any_switch = false;
  std::vector<double> inter(static_cast<size_t>(n) * S * S, 0.0);
  std::map<int, int> first_layer_of_type;  // in this stage
  for (int l = 0; l < n; ++l) {
    if (Cancelled(options)) return;
    const int type = type_of[start + l];
    const auto [first, inserted] = first_layer_of_type.emplace(type, l);
    const cost::LayerTypeInfo& info = model.layer_types()[static_cast<size_t>(type)];
    for (int s = 0; s < S; ++s) {
      cost::LayerCost c = inserted
                              ? model.Layer(type, layers[s], task.global_batch, task.chunks, stage)
                              : t.costs[first->second * S + s];
      t.costs[l * S + s] = c;
      t.problem.time[l * S + s] =
          galvatron ? c.seconds : (chunks - 1) * c.seconds_no_sync + c.seconds;
      t.problem.memory[l * S + s] = static_cast<int64_t>(std::ceil(c.memory_mb - 1e-9));
      if (!Splits(info, layers[s])) t.problem.time[l * S + s] = kInf;  // unusable (stage_dp.h)
    }
    if (l == 0) continue;  // the first layer of a stage switches from nothing
    auto [sw, fresh] = switch_of_type->try_emplace(type);
    if (fresh) {
      sw->second.assign(static_cast<size_t>(S) * S, 0.0);
      for (int a = 0; a < S; ++a) {
        for (int b = 0; b < S; ++b) {
          if (a == b) continue;
          sw->second[static_cast<size_t>(a) * S + b] =
              model.Switch(type, layers[a], layers[b], task.global_batch, task.chunks);
        }
      }
    }
    std::copy(sw->second.begin(), sw->second.end(),
              inter.begin() + static_cast<std::ptrdiff_t>(l) * S * S);
    for (const double x : sw->second) any_switch = any_switch || x != 0;
  }
  if (!any_switch) return;
  if (!galvatron) {
    t.switch_seconds = inter;
    for (double& x : inter) x *= chunks;
  }
  t.problem.switch_cost = std::move(inter);
}

// The stage tables of one task's candidate list by (stage, first layer,
// layers): the partitions a task tries share the stages they have in common,
// and each stage its DP solutions by budget. Not thread-safe (one per task).
class StageCache {
 public:
  StageCache(const CostModel& model, const SearchOptions& options, const Task& task,
             const std::vector<LayerStrategy>& layers)
      : model_(model), options_(options), task_(task), layers_(layers) {}

  const std::vector<LayerStrategy>& layers() const { return layers_; }

  // The tables of every stage of `division`.
  std::vector<StageTables*> For(const std::vector<int>& division) {
    std::vector<StageTables*> out;
    int start = 0;
    for (int stage = 0; stage < static_cast<int>(division.size()); ++stage) {
      const auto key = std::make_tuple(stage, start, division[stage]);
      auto it = tables_.find(key);
      if (it == tables_.end()) {
        it = tables_.emplace(key, std::make_unique<StageTables>()).first;
        BuildStageTable(model_, options_, task_, layers_, stage, start, division[stage],
                        &switch_of_type_, it->second.get());
      }
      out.push_back(it->second.get());
      start += division[stage];
    }
    return out;
  }

 private:
  const CostModel& model_;
  const SearchOptions& options_;
  const Task& task_;
  const std::vector<LayerStrategy>& layers_;
  std::map<std::tuple<int, int, int>, std::unique_ptr<StageTables>> tables_;
  std::map<int, std::vector<double>> switch_of_type_;  // by layer type
};

// One embedding strategy's pipeline: each stage's chosen strategies (indices
// into the task's layer candidates) and its figures.
struct StagePlans {
  std::vector<std::vector<int>> choice;
  std::vector<double> no_sync, with_sync, memory_mb, other_mb, compute;
  std::vector<double> states_mb;  // the layers' model states, part of memory_mb
};

// Solves (or reuses) every stage's DP for the budget the embedding leaves.
// False when a stage does not fit (best->least_needed_mb then says by how
// much) or its DP failed (best->error).
bool SolveStages(const SearchContext& ctx, const cost::EmbeddingCost& ec, double global_buffer_mb,
                 const std::vector<StageTables*>& stages, TaskResult* best, StagePlans* out) {
  const int pp = static_cast<int>(stages.size());
  *out = StagePlans{std::vector<std::vector<int>>(pp),
                    std::vector<double>(pp),
                    std::vector<double>(pp),
                    std::vector<double>(pp),
                    std::vector<double>(pp),
                    std::vector<double>(pp),
                    std::vector<double>(pp)};
  for (int stage = 0; stage < pp; ++stage) {
    StageTables& tables = *stages[stage];
    const StageDpProblem& problem = tables.problem;
    const int S = problem.num_strategies;
    const double other = std::ceil(ec.memory_mb[stage] - 1e-9) + std::floor(global_buffer_mb);
    const int64_t budget = static_cast<int64_t>(std::floor(ctx.usable_mb - other));
    if (budget < 0) {
      best->least_needed_mb = std::min(best->least_needed_mb, other - ctx.usable_mb);
      return false;
    }
    // Embedding strategies that leave a stage the same budget share its
    // solution (every middle stage holds only the runtime context).
    auto cached = tables.solutions.find(budget);
    std::string key;
    if (cached == tables.solutions.end() && ctx.stage_cache != nullptr) {
      // Another task may have solved the same problem.
      tables.problem.budget = budget;
      key = StageDpCache::Key(tables.problem);
      if (std::optional<StageDpSolution> shared = ctx.stage_cache->Find(key)) {
        cached = tables.solutions.emplace(budget, std::move(*shared)).first;
      }
    }
    if (cached == tables.solutions.end()) {
      tables.problem.budget = budget;
      StageDpOptions dp_options;
      dp_options.cancelled = ctx.options->cancelled;
      absl::StatusOr<StageDpSolution> solved = SolveStageDp(tables.problem, dp_options);
      if (!solved.ok()) {
        // The tables come from the cost model; a NaN there is a bug, not a
        // plan (or the search was cancelled).
        best->error = solved.status();
        return false;
      }
      best->states += solved->states_explored;
      if (ctx.stage_cache != nullptr) ctx.stage_cache->Insert(std::move(key), *solved);
      cached = tables.solutions.emplace(budget, std::move(*solved)).first;
    }
    const StageDpSolution& sol = cached->second;
    if (!sol.feasible) {
      const double beyond = static_cast<double>(sol.min_memory) + other - ctx.usable_mb;
      if (beyond > 0) {
        best->least_needed_mb = std::min(best->least_needed_mb, beyond);
      } else {
        best->unsplittable = true;
      }
      return false;
    }
    out->choice[stage] = sol.strategy;
    // Default mode counts the embedding's gradient sync (its fix 8);
    // Galvatron's pipeline_costmodel leaves it out.
    double c = ec.seconds_no_sync[stage], r = ctx.galvatron ? 0 : ec.seconds[stage];
    // The embedding/head computes too (default mode; Galvatron's formula
    // leaves its time out of the steady state, and its bound with it).
    double compute = ctx.galvatron ? 0 : ec.compute_seconds[stage], states = 0, mem = other;
    for (int l = 0; l < problem.num_layers; ++l) {
      const cost::LayerCost& lc = tables.costs[l * S + sol.strategy[l]];
      c += lc.seconds_no_sync;
      r += lc.seconds;
      if (l > 0 && !tables.switch_seconds.empty()) {
        const double sw =
            tables.switch_seconds[(static_cast<size_t>(l) * S + sol.strategy[l - 1]) * S +
                                  sol.strategy[l]];
        c += sw;
        r += sw;
      }
      compute += lc.compute_seconds;
      states += lc.states_mb;
      mem += static_cast<double>(problem.memory[l * S + sol.strategy[l]]);
    }
    out->no_sync[stage] = c;
    out->with_sync[stage] = r;
    out->memory_mb[stage] = mem;
    out->other_mb[stage] = other;
    out->compute[stage] = compute;
    out->states_mb[stage] = states;
  }
  return true;
}

// Default mode: the runtime redistributes the activation between the
// embedding and the first layer and between the last layer and the head when
// their layouts differ (what Switch() prices between layers), once per
// micro-batch on the first and the last stage. Galvatron charges nothing.
void AddEmbeddingSwitches(const CostModel& model, const Task& task, const EmbeddingStrategy& e,
                          const LayerStrategy& first, const LayerStrategy& last,
                          std::vector<double>* no_sync, std::vector<double>* with_sync) {
  const LayerStrategy as_layer = cost::AsLayer(e);
  const auto& type_of = model.layer_type_of();
  const double in = model.Switch(type_of.front(), as_layer, first, task.global_batch, task.chunks);
  const double out = model.Switch(type_of.back(), last, as_layer, task.global_batch, task.chunks);
  (*no_sync)[0] += in;
  (*with_sync)[0] += in;
  no_sync->back() += out;
  with_sync->back() += out;
}

// Runs the stage DPs of one partition for every embedding strategy and keeps
// the fastest pipeline (in `best`, when faster than what it holds).
void SolvePartition(const SearchContext& ctx, const Task& task,
                    const std::vector<EmbeddingStrategy>& embeddings,
                    const std::vector<int>& division, v1::PartitionMethod method,
                    double global_buffer_mb, StageCache* cache, TaskResult* best) {
  const CostModel& model = *ctx.model;
  const std::vector<StageTables*> stages = cache->For(division);
  if (Cancelled(*ctx.options)) {
    best->error = absl::CancelledError("the search was cancelled");
    return;
  }
  // Galvatron's pipeline formula charges the steady state at the last
  // stage's time, so it can score an uneven split faster than its slowest
  // stage computes its micro-batches. The extended space takes an uneven
  // split only where its score respects that bound (Galvatron's own even
  // splits are scored as Galvatron scores them).
  const bool check_bound =
      ctx.extended &&
      division != EvenPartition(model.num_layers(), static_cast<int>(division.size()));
  StagePlans plans;
  for (const EmbeddingStrategy& e : embeddings) {
    const cost::EmbeddingCost ec = model.Embedding(e, task.global_batch, task.chunks);
    if (!SolveStages(ctx, ec, global_buffer_mb, stages, best, &plans)) {
      if (!best->error.ok()) return;  // a DP failed or was cancelled
      continue;
    }
    if (!ctx.galvatron) {
      AddEmbeddingSwitches(model, task, e, cache->layers()[plans.choice.front().front()],
                           cache->layers()[plans.choice.back().back()], &plans.no_sync,
                           &plans.with_sync);
    }
    const double seconds = model.PipelineSeconds(plans.no_sync, plans.with_sync, task.chunks);
    if (check_bound) {
      const double slowest = *std::max_element(plans.compute.begin(), plans.compute.end());
      if (seconds < slowest * task.chunks * (1 - 1e-12)) continue;
    }
    if (seconds < best->seconds) {
      best->feasible = true;
      best->seconds = seconds;
      best->embedding = e;
      best->division = division;
      best->partition = method;
      best->layers.clear();
      for (const std::vector<int>& stage_choice : plans.choice) {
        for (int idx : stage_choice) best->layers.push_back(cache->layers()[idx]);
      }
      best->stage_memory_mb = plans.memory_mb;
      best->stage_other_mb = plans.other_mb;
      best->stage_states_mb = plans.states_mb;
      best->stage_no_sync = plans.no_sync;
      best->stage_compute = plans.compute;
    }
  }
}

// From the best partition found so far, moves one layer across one stage
// boundary at a time while that makes the pipeline faster (steepest descent
// over single moves; every partition is solved exactly by the stage DPs).
void SearchPartitionsAround(const SearchContext& ctx, const Task& task,
                            const std::vector<EmbeddingStrategy>& embeddings, double buffer_mb,
                            StageCache* cache, TaskResult* result) {
  const int max_steps = 2 * ctx.model->num_layers();
  std::set<std::vector<int>> tried = {result->division};
  for (int step = 0; step < max_steps && result->feasible && result->error.ok(); ++step) {
    const std::vector<int> from = result->division;
    for (size_t b = 0; b + 1 < from.size(); ++b) {
      for (int move : {-1, 1}) {  // one layer to the next stage, or from it
        std::vector<int> d = from;
        d[b] += move;
        d[b + 1] -= move;
        if (d[b] < 1 || d[b + 1] < 1 || !tried.insert(d).second) continue;
        SolvePartition(ctx, task, embeddings, d, v1::PARTITION_METHOD_SEARCHED, buffer_mb, cache,
                       result);
        if (!result->error.ok()) return;
      }
    }
    if (result->division == from) return;  // no single move is faster
  }
}

TaskResult RunTask(const SearchContext& ctx, const Task& task) {
  TaskResult result;
  result.task_batch = task.global_batch;
  const CostModel& model = *ctx.model;
  const CandidateSpace& space = ctx.spaces[task.space];
  const BatchRule rule = ctx.batch_rule();
  const int W = model.world_size();
  const int max_dp = std::max(std::min(task.global_batch / task.chunks, W / task.pp), 1);
  std::vector<LayerStrategy> layers;
  for (LayerStrategy s : space.layer_candidates) {
    if (!FitsTask(s, task, max_dp, rule)) continue;
    layers.push_back(s);
  }
  std::vector<EmbeddingStrategy> embeddings;
  for (const EmbeddingStrategy& e : space.embedding_candidates) {
    if (FitsTask(e, task, max_dp, rule)) embeddings.push_back(e);
  }
  if (layers.empty() || embeddings.empty()) return result;
  const double buffer_mb =
      task.mode == TpSpMode::kSpOnly
          ? 0
          : model.GlobalBufferMb(task.global_batch, task.chunks, task.pp, task.buffer_tp);

  // A single stage has one partition, whatever the method.
  const auto allowed = [&](v1::PartitionMethod m) {
    const auto& only = ctx.options->partition_methods;
    return task.pp == 1 || only.empty() || only.count(m) > 0;
  };
  std::vector<std::pair<std::vector<int>, v1::PartitionMethod>> partitions;
  if (allowed(v1::PARTITION_METHOD_EVEN)) {
    partitions.emplace_back(EvenPartition(model.num_layers(), task.pp), v1::PARTITION_METHOD_EVEN);
  }
  std::vector<LayerStrategy> reference_layers;
  for (const LayerStrategy& s : space.reference_layers) {
    if (FitsTask(s, task, max_dp, rule)) reference_layers.push_back(s);
  }
  const EmbeddingStrategy* reference_embedding = nullptr;
  for (const EmbeddingStrategy& e : space.reference_embeddings) {
    if (FitsTask(e, task, max_dp, rule)) {
      reference_embedding = &e;
      break;
    }
  }
  if (!ctx.galvatron_space() && task.pp > 1 && !reference_layers.empty() && reference_embedding) {
    auto add = [&](std::vector<int> d, v1::PartitionMethod m) {
      if (!allowed(m)) return;
      for (const auto& p : partitions) {
        if (p.first == d) return;
      }
      partitions.emplace_back(std::move(d), m);
    };
    add(MemoryBalancedPartition(model, reference_layers, *reference_embedding, task.global_batch,
                                task.chunks, task.pp),
        v1::PARTITION_METHOD_MEMORY_BALANCED);
    add(TimeBalancedPartition(model, reference_layers, *reference_embedding, task.global_batch,
                              task.chunks, task.pp),
        v1::PARTITION_METHOD_TIME_BALANCED);
  }
  if (ctx.options->coarse) {
    // Galvatron's coarse mode: every layer runs one strategy, the embedding
    // the same without checkpointing, and the global buffer is rounded up
    // (Galvatron's ceil there, where its per-layer DP floors).
    for (const LayerStrategy& s : layers) {
      const EmbeddingStrategy e = cost::AsEmbedding(s);
      const std::vector<LayerStrategy> one = {s};
      StageCache cache(model, *ctx.options, task, one);
      for (const auto& [division, method] : partitions) {
        if (!result.error.ok()) return result;
        SolvePartition(ctx, task, {e}, division, method, std::ceil(buffer_mb), &cache, &result);
      }
    }
    return result;
  }
  StageCache cache(model, *ctx.options, task, layers);
  for (const auto& [division, method] : partitions) {
    if (!result.error.ok()) break;
    SolvePartition(ctx, task, embeddings, division, method, buffer_mb, &cache, &result);
  }
  if (ctx.extended && task.pp > 1 && result.error.ok() && allowed(v1::PARTITION_METHOD_SEARCHED)) {
    SearchPartitionsAround(ctx, task, embeddings, buffer_mb, &cache, &result);
  }
  return result;
}

std::string DescribeTask(const Task& t) {
  std::string out = absl::StrFormat("gbsz %d, %d micro-batches, pp%d, %s, buffer tp%d",
                                    t.global_batch, t.chunks, t.pp, ModeName(t.mode), t.buffer_tp);
  if (t.extended) {
    absl::StrAppend(&out, ", default ",
                    t.default_dp_type == cost::DpType::kZero2 ? "zero2" : "ddp");
  }
  return out;
}

// "pp2 | layers 0-15 tp2 dp4 zero3 | ..." for runners-up.
std::string DescribeLayers(const std::vector<LayerStrategy>& layers) {
  std::vector<std::string> runs;
  size_t start = 0;
  for (size_t i = 1; i <= layers.size(); ++i) {
    if (i < layers.size() && layers[i] == layers[start]) continue;
    runs.push_back(absl::StrCat("layers ", start, i - 1 > start ? absl::StrCat("-", i - 1) : "",
                                " ", layers[start].ShortName()));
    start = i;
  }
  return absl::StrJoin(runs, " | ");
}

v1::Prediction MakePrediction(const CostModel& model, const Task& task, const TaskResult& r,
                              double budget_mb) {
  v1::Prediction p;
  p.set_iteration_seconds(r.seconds);
  p.set_samples_per_second(task.global_batch / r.seconds);
  p.set_tokens_per_second(task.global_batch / r.seconds * model.seq_len());
  p.set_analytic_estimate(model.analytic());
  constexpr double kMiB = 1024.0 * 1024.0;
  for (int stage = 0; stage < task.pp; ++stage) {
    auto* m = p.add_stage_memory();
    m->set_stage(stage);
    m->set_other_bytes(static_cast<int64_t>(r.stage_other_mb[stage] * kMiB));
    // The layers' part split into their model states and the rest, their
    // activations (with the per-layer rounding of the memory the DP counts).
    if (stage < static_cast<int>(r.stage_states_mb.size())) {
      const double layers_mb = r.stage_memory_mb[stage] - r.stage_other_mb[stage];
      const double states_mb = std::min(r.stage_states_mb[stage], std::max(0.0, layers_mb));
      m->set_model_state_bytes(static_cast<int64_t>(states_mb * kMiB));
      m->set_activation_bytes(static_cast<int64_t>(std::max(0.0, layers_mb - states_mb) * kMiB));
    }
    m->set_total_bytes(static_cast<int64_t>(r.stage_memory_mb[stage] * kMiB));
    m->set_budget_bytes(static_cast<int64_t>(budget_mb * kMiB));
  }
  // The slowest stage bounds the pipeline: it computes `chunks` micro-batches,
  // and the others' warm-up/drain is the bubble (pp-1 micro-batch slots).
  double slowest = 0, slowest_compute = 0;
  for (int stage = 0; stage < task.pp; ++stage) {
    if (r.stage_no_sync[stage] > slowest) {
      slowest = r.stage_no_sync[stage];
      slowest_compute = r.stage_compute[stage];
    }
  }
  auto* b = p.mutable_breakdown();
  b->set_compute_seconds(std::min(r.seconds, slowest_compute * task.chunks));
  b->set_bubble_seconds(std::min(r.seconds - b->compute_seconds(), slowest * (task.pp - 1)));
  b->set_exposed_communication_seconds(
      std::max(0.0, r.seconds - b->compute_seconds() - b->bubble_seconds()));
  // The gradient sync no computation hides: what the iteration would save
  // if every micro-batch skipped it.
  const double without_sync = model.PipelineSeconds(r.stage_no_sync, r.stage_no_sync, task.chunks);
  b->set_gradient_sync_seconds(
      std::clamp(r.seconds - without_sync, 0.0, b->exposed_communication_seconds()));
  if (model.analytic()) {
    p.set_note(model.analytic_note().empty()
                   ? "no measured compute profile for some layer types: times are FLOP estimates"
                   : model.analytic_note());
  }
  // A physical bound from the cost model's own figures: every stage computes
  // all `chunks` micro-batches, so no iteration is shorter than the largest
  // chunks × (compute of one micro-batch on a stage). Default mode's pipeline
  // formula never breaks it; Galvatron's can (galvatron mode keeps it).
  int bound_stage = 0;
  for (int stage = 1; stage < task.pp; ++stage) {
    if (r.stage_compute[stage] > r.stage_compute[bound_stage]) bound_stage = stage;
  }
  const double bound = r.stage_compute[bound_stage] * task.chunks;
  if (r.seconds < bound * (1 - 1e-12)) {
    p.add_warnings(absl::StrFormat(
        "predicted %.4g s per iteration, below the %.4g s that the layers of stage %d need to "
        "compute %d micro-batches by this cost model's own layer times: at most %.4g "
        "samples/s is reachable (%s)",
        r.seconds, bound, bound_stage, task.chunks, task.global_batch / bound,
        model.options().mode == cost::Mode::kGalvatron
            ? "Galvatron's pipeline formula charges the steady state at the last stage's time"
            : "the pipeline formula undercounts a stage"));
  }
  return p;
}

using ScheduleModels = std::map<int, const CostModel*>;  // by Schedule

const CostModel& ModelFor(const ScheduleModels& models, Schedule schedule) {
  return *models.at(static_cast<int>(schedule));
}

absl::Status ValidateOptions(const CostModel& model, const SearchOptions& options) {
  if (!(options.memory_budget_mb > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory: ", options.memory_budget_mb, " MB, must be > 0"));
  }
  if (options.global_batch_min < 1 || options.global_batch_max < options.global_batch_min ||
      (options.global_batch_max > options.global_batch_min && options.global_batch_step < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("global_batch: ", options.global_batch_min, "..", options.global_batch_max,
                     ":", options.global_batch_step, ", expected 1 <= min <= max and step >= 1"));
  }
  if (options.global_batch_max > 1 << 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("global_batch: ", options.global_batch_max, ", must be <= ", 1 << 20));
  }
  for (const std::string& name : options.disabled) {
    if (DisableNames().count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("disable: \"", name, "\", expected any of ",
                                                     absl::StrJoin(DisableNames(), ", ")));
    }
  }
  if (options.extended_space && model.options().mode != cost::Mode::kGalvatron) {
    return absl::InvalidArgumentError(
        "extended_space: the galvatron-extended space needs a galvatron-mode cost model");
  }
  if (!IsPowerOfTwo(model.world_size())) {
    return absl::InvalidArgumentError(absl::StrCat("world size: ", model.world_size(),
                                                   " devices, the search needs a power of two"));
  }
  return absl::OkStatus();
}

CandidateOptions MakeCandidateOptions(const CostModel& model, const SearchOptions& options,
                                      bool galvatron) {
  CandidateOptions copts;
  copts.world_size = model.world_size();
  copts.num_layers = model.num_layers();
  copts.devices_per_node = model.devices_per_node();
  // Galvatron's max degrees default to 8; ours to the world, with tensor and
  // sequence parallelism kept inside a node.
  const int default_max = galvatron ? 8 : 0;
  copts.max_tp = options.max_tp > 0 ? options.max_tp : default_max;
  copts.max_sp = copts.max_tp;
  copts.max_pp = options.max_pp > 0 ? options.max_pp : default_max;
  copts.galvatron_compatible = galvatron;
  copts.default_dp_type = model.options().default_dp_type;
  copts.megatron_sp =
      Disabled(options, "megatron_sp") ? MegatronSpChoice::kWithout : MegatronSpChoice::kBoth;
  copts.offer_zero1 = !Disabled(options, "zero1");
  copts.offer_zero2 = !Disabled(options, "zero2");
  copts.disable_pp = Disabled(options, "pp");
  copts.disable_tp = Disabled(options, "tp");
  copts.disable_sp = Disabled(options, "sp");
  copts.disable_dp = Disabled(options, "dp");
  copts.disable_ckpt = Disabled(options, "ckpt");
  copts.disable_fsdp = Disabled(options, "sdp");
  copts.disable_embedding_lmhead_tp = Disabled(options, "embedding_tp");
  copts.disable_embedding_lmhead_sp = Disabled(options, "embedding_sp");
  return copts;
}

SearchContext MakeContext(const CostModel& model, const SearchOptions& options,
                          const CandidateOptions& copts) {
  SearchContext ctx;
  ctx.model = &model;
  ctx.options = &options;
  ctx.galvatron = copts.galvatron_compatible;
  ctx.extended = ctx.galvatron && options.extended_space;
  ctx.usable_mb = model.UsableMemoryMb(options.memory_budget_mb);
  // The extended space holds a Galvatron candidate list per plan-wide
  // data-parallel type (a strategy file has one default type; ZeRO-1 is not
  // one of Galvatron's). Where disabled dimensions make two lists equal,
  // one is searched.
  std::vector<cost::DpType> types = {copts.default_dp_type};
  if (ctx.extended) {
    types = {cost::DpType::kDdp};
    if (!Disabled(options, "zero2")) types.push_back(cost::DpType::kZero2);
  }
  for (cost::DpType type : types) {
    CandidateOptions space_options = copts;
    space_options.default_dp_type = type;
    CandidateSpace space;
    space.default_dp_type = type;
    space.layer_candidates = GenerateLayerStrategies(space_options);
    space.embedding_candidates = GenerateEmbeddingStrategies(space_options);
    bool duplicate = false;
    for (const CandidateSpace& other : ctx.spaces) {
      duplicate = duplicate || (other.layer_candidates == space.layer_candidates &&
                                other.embedding_candidates == space.embedding_candidates);
    }
    if (duplicate) continue;
    CandidateOptions reference = space_options;
    reference.disable_pp = reference.disable_tp = reference.disable_sp = false;
    reference.disable_dp = reference.disable_ckpt = reference.disable_fsdp = false;
    reference.disable_embedding_lmhead_tp = reference.disable_embedding_lmhead_sp = false;
    reference.offer_zero1 = reference.offer_zero2 = true;
    reference.megatron_sp = MegatronSpChoice::kBoth;
    space.reference_layers = GenerateLayerStrategies(reference);
    space.reference_embeddings = GenerateEmbeddingStrategies(reference);
    ctx.spaces.push_back(std::move(space));
  }
  return ctx;
}

// Galvatron's task list, for each schedule: every global batch, every
// micro-batch count that divides it, every pipeline degree of the
// candidates, the three tp/sp modes and, for each, the global-buffer tp
// degrees from the least the task can use (W / pp / max_dp) to the largest.
std::vector<Task> EnumerateTasks(const SearchContext& ctx, const CandidateOptions& copts,
                                 const ScheduleModels& schedule_models) {
  const SearchOptions& options = *ctx.options;
  const int W = ctx.model->world_size(), num_layers = ctx.model->num_layers();
  // Every space has the same degrees (they differ in data-parallel types).
  std::set<int> pp_range;
  for (const auto& e : ctx.spaces.front().embedding_candidates) pp_range.insert(e.pp);
  std::map<int, int> max_candidate_tp;  // by pp
  for (const auto& s : ctx.spaces.front().layer_candidates) {
    max_candidate_tp[s.pp] = std::max(max_candidate_tp[s.pp], s.tp_sp());
  }
  const int pp1_schedule = schedule_models.count(static_cast<int>(Schedule::k1F1B)) > 0
                               ? static_cast<int>(Schedule::k1F1B)
                               : schedule_models.begin()->first;
  std::vector<Task> tasks;
  for (const auto& [schedule_index, unused] : schedule_models) {
    const Schedule schedule = static_cast<Schedule>(schedule_index);
    for (int gbsz : GlobalBatches(options)) {
      if (Cancelled(options)) return tasks;  // RunTasks skips them all
      for (int chunks = 1; chunks <= gbsz; ++chunks) {
        if (gbsz % chunks != 0) continue;
        if (options.fixed_chunks > 0 && chunks != options.fixed_chunks) continue;
        for (int pp : pp_range) {
          if (pp > chunks || pp > num_layers) continue;
          // Without a pipeline the schedule changes nothing: the extended
          // space runs those tasks once, under 1F1B when it has it
          // (Galvatron's shipped pipeline_type).
          if (ctx.extended && pp == 1 && schedule_index != pp1_schedule) continue;
          if (!options.pipeline_degrees.empty() && options.pipeline_degrees.count(pp) == 0) {
            continue;
          }
          int max_tp = std::max(W / pp, 1);
          if (copts.max_tp > 0) max_tp = std::min(max_tp, copts.max_tp);
          // A buffer larger than any candidate's degree only adds buffer
          // memory to the same candidates (e.g. tp kept inside a node).
          max_tp = std::min(max_tp, std::max(1, max_candidate_tp[pp]));
          const int max_dp = std::max(std::min(gbsz / chunks, W / pp), 1);
          const int min_tp = std::max(W / pp / max_dp, 1);
          for (TpSpMode mode : {TpSpMode::kTpOnly, TpSpMode::kSpOnly, TpSpMode::kTpWithSp}) {
            // A tp_only task has a subset of the candidates of the tp_with_sp
            // task with the same buffer and the same buffer memory, so it can
            // never win; Galvatron runs it anyway (kept in galvatron mode).
            if (mode == TpSpMode::kTpOnly && !ctx.galvatron_space() && !copts.disable_sp) continue;
            std::vector<int> buffers;
            if (mode == TpSpMode::kSpOnly) {
              buffers.push_back(max_tp);
            } else {
              for (int t = min_tp; t <= max_tp; ++t) {
                if (IsPowerOfTwo(t) && t * pp <= W) buffers.push_back(t);
              }
            }
            for (int b : buffers) {
              for (size_t space = 0; space < ctx.spaces.size(); ++space) {
                Task task{gbsz, chunks, pp, mode, b, schedule};
                task.space = static_cast<int>(space);
                task.extended = ctx.extended;
                task.default_dp_type = ctx.spaces[space].default_dp_type;
                tasks.push_back(task);
              }
            }
          }
        }
      }
    }
  }
  return tasks;
}

// Counts finished tasks and keeps the best so far for the progress callback.
// Thread-safe: worker threads call TaskDone(); the callback runs under the
// lock, so its calls are serialised.
class ProgressTracker {
 public:
  ProgressTracker(int64_t tasks_total, std::function<void(const SearchProgress&)> callback)
      : callback_(std::move(callback)) {
    progress_.tasks_total = tasks_total;
  }

  void TaskDone(const Task& task, const TaskResult& result) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++progress_.tasks_done;
    if (result.feasible && result.samples_per_second() > progress_.best_samples_per_second) {
      progress_.best_samples_per_second = result.samples_per_second();
      progress_.best_description = DescribeTask(task);
    }
    Report();
  }

  int64_t tasks_done() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return progress_.tasks_done;
  }

 private:
  void Report() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (callback_) callback_(progress_);
  }

  mutable absl::Mutex mu_;
  SearchProgress progress_ ABSL_GUARDED_BY(mu_);
  const std::function<void(const SearchProgress&)> callback_;
};

// What the thread pool leaves: one result per task, in task order.
struct TaskRuns {
  std::vector<TaskResult> results;
  int64_t tasks_done = 0;
  bool time_limit_hit = false;
  bool cancelled = false;
  int threads = 1;
};

// Runs every task on a pool; tasks that start after the time limit are
// skipped (their results stay infeasible), and once options.cancelled says
// so every task still to start.
TaskRuns RunTasks(const SearchContext& ctx, const ScheduleModels& schedule_models,
                  const std::vector<Task>& tasks, std::chrono::steady_clock::time_point started) {
  const SearchOptions& options = *ctx.options;
  TaskRuns out;
  if (Cancelled(options)) {  // perhaps while the tasks were listed
    out.cancelled = true;
    return out;
  }
  out.results.resize(tasks.size());
  std::atomic<bool> time_limit_hit{false};
  std::atomic<bool> cancelled{false};
  ProgressTracker progress(static_cast<int64_t>(tasks.size()), options.progress);
  const auto deadline =
      options.time_limit_seconds > 0
          ? started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          std::chrono::duration<double>(options.time_limit_seconds))
          : std::chrono::steady_clock::time_point::max();
  out.threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  {
    // The calling thread works too: out.threads in all. Tasks are handed out
    // one at a time, so once cancelled the rest are skipped at once.
    StageDpCache stage_cache;  // outlives the pool
    std::unique_ptr<ThreadPool> pool;
    if (out.threads > 1) pool = std::make_unique<ThreadPool>(out.threads - 1);
    ParallelFor(pool.get(), static_cast<int64_t>(tasks.size()), [&](int64_t i) {
      if (cancelled || Cancelled(options)) {
        cancelled = true;
        return;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        time_limit_hit = true;
        return;
      }
      SearchContext task_ctx = ctx;
      task_ctx.model = &ModelFor(schedule_models, tasks[i].schedule);
      task_ctx.stage_cache = &stage_cache;
      out.results[i] = RunTask(task_ctx, tasks[i]);
      if (absl::IsCancelled(out.results[i].error)) {
        cancelled = true;
        return;
      }
      progress.TaskDone(tasks[i], out.results[i]);
    });
  }
  out.tasks_done = progress.tasks_done();
  out.time_limit_hit = time_limit_hit;
  out.cancelled = cancelled;
  return out;
}

v1::PipelineSchedule ScheduleProto(Schedule s) {
  return s == Schedule::kGpipe ? v1::PIPELINE_SCHEDULE_GPIPE : v1::PIPELINE_SCHEDULE_1F1B;
}

std::string InfeasibleReason(const SearchContext& ctx, size_t num_tasks, double least_needed_mb,
                             bool time_limit_hit) {
  std::string reason;
  if (std::isfinite(least_needed_mb)) {
    reason = absl::StrCat(
        "no plan fits ", FormatBytes(static_cast<int64_t>(ctx.options->memory_budget_mb * 1048576)),
        " per device (", absl::StrFormat("%.0f", ctx.usable_mb),
        " MB usable): the closest plan needs ",
        FormatBytes(static_cast<int64_t>(least_needed_mb * 1048576)),
        " more on one of its pipeline stages");
  } else if (num_tasks == 0) {
    reason = "no candidate strategies: the disabled dimensions and limits leave nothing to search";
  } else {
    reason = "no plan fits the memory budget";
  }
  if (time_limit_hit) absl::StrAppend(&reason, " (the time limit stopped the search early)");
  return reason;
}

// The winning task's plan: its pipeline, strategies, rank layout and
// prediction.
void FillWinner(const CostModel& model, const Task& task, const TaskResult& r, double budget_mb,
                v1::Plan* plan) {
  plan->set_pp(task.pp);
  plan->set_schedule(ScheduleProto(task.schedule));
  plan->set_partition_method(r.partition);
  for (int d : r.division) plan->add_pp_division(d);
  plan->set_micro_batches(task.chunks);
  plan->set_global_batch(task.global_batch);
  for (const LayerStrategy& s : r.layers) *plan->add_layers() = cost::ToProto(s);
  *plan->mutable_embedding() = cost::ToProto(r.embedding);
  // The ranks of each stage, by the layout the runtime builds its groups from.
  if (auto stages = StageLayouts(model.world_size(), task.pp); stages.ok()) {
    for (v1::StageLayout& layout : *stages) *plan->add_stages() = std::move(layout);
  }
  *plan->mutable_prediction() = MakePrediction(model, task, r, budget_mb);
}

// Runners-up: the next best distinct plans after order[0] (tasks that differ
// only in their tp/sp mode or buffer often find the same plan).
void AddRunnersUp(const ScheduleModels& schedule_models, const std::vector<Task>& tasks,
                  const std::vector<TaskResult>& results, const std::vector<size_t>& order,
                  const SearchOptions& options, v1::Plan* plan) {
  auto plan_key = [&](size_t i) {
    const TaskResult& x = results[i];
    return absl::StrCat(tasks[i].global_batch, "/", tasks[i].chunks, "/",
                        static_cast<int>(tasks[i].schedule), "/", absl::StrJoin(x.division, ","),
                        "/", x.embedding.ShortName(), x.embedding.megatron_sp, "/",
                        DescribeLayers(x.layers));
  };
  std::set<std::string> listed = {plan_key(order[0])};
  for (size_t k = 1; k < order.size() && plan->runners_up_size() < options.top_k; ++k) {
    if (!listed.insert(plan_key(order[k])).second) continue;
    const Task& t = tasks[order[k]];
    const TaskResult& rr = results[order[k]];
    auto* summary = plan->add_runners_up();
    summary->set_pp(t.pp);
    summary->set_micro_batches(t.chunks);
    summary->set_global_batch(t.global_batch);
    summary->set_schedule(ScheduleProto(t.schedule));
    summary->set_description(
        absl::StrCat("pp", t.pp, " ", DescribeTask(t), " | ", DescribeLayers(rr.layers)));
    *summary->mutable_prediction() =
        MakePrediction(ModelFor(schedule_models, t.schedule), t, rr, options.memory_budget_mb);
  }
}

// The tasks in which nothing fitted, the tp/sp variants of one (global
// batch, micro-batches, pp, schedule) taken together, the closest to fitting
// first, for the plan's reader: why a deeper pipeline or more micro-batches
// did not win.
void AddInfeasibleTasks(const std::vector<Task>& tasks, const TaskRuns& runs,
                        v1::SearchStatistics* stats) {
  constexpr int kMaxInfeasibleTasks = 32;
  struct Group {
    const Task* task = nullptr;
    bool feasible = false;
    bool ran = false;
    bool unsplittable = false;
    double least_needed_mb = kInf;
    int least_degree = 0;  // the smallest tp/sp degree its tasks allow
  };
  std::map<std::tuple<int, int, int, int>, Group> groups;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Task& t = tasks[i];
    Group& g = groups[{t.global_batch, t.chunks, t.pp, static_cast<int>(t.schedule)}];
    if (g.task == nullptr) g.task = &t;
    const TaskResult& r = runs.results[i];
    g.feasible = g.feasible || r.feasible;
    g.ran =
        g.ran || r.states > 0 || r.feasible || std::isfinite(r.least_needed_mb) || r.unsplittable;
    g.least_needed_mb = std::min(g.least_needed_mb, r.least_needed_mb);
    g.unsplittable = g.unsplittable || r.unsplittable;
    g.least_degree = g.least_degree == 0 ? t.buffer_tp : std::min(g.least_degree, t.buffer_tp);
  }
  std::vector<const Group*> infeasible;
  for (const auto& [key, g] : groups) {
    if (!g.feasible && g.ran) infeasible.push_back(&g);
  }
  std::stable_sort(infeasible.begin(), infeasible.end(), [](const Group* a, const Group* b) {
    return a->least_needed_mb < b->least_needed_mb;
  });
  stats->set_infeasible_tasks_total(static_cast<int64_t>(infeasible.size()));
  for (size_t k = 0; k < infeasible.size() && k < kMaxInfeasibleTasks; ++k) {
    const Group& g = *infeasible[k];
    v1::InfeasibleTask* out = stats->add_infeasible_tasks();
    out->set_pp(g.task->pp);
    out->set_micro_batches(g.task->chunks);
    out->set_global_batch(g.task->global_batch);
    out->set_schedule(ScheduleProto(g.task->schedule));
    if (std::isfinite(g.least_needed_mb)) {
      const auto bytes = static_cast<int64_t>(std::ceil(g.least_needed_mb * 1048576));
      out->set_extra_bytes_needed(bytes);
      out->set_reason(absl::StrCat("its closest plan needs ", FormatBytes(bytes),
                                   " more than the budget on one pipeline stage"));
    } else if (g.unsplittable && g.least_degree > 1) {
      // Data parallelism cannot split a micro-batch finer than one sample.
      const int samples = g.task->global_batch / g.task->chunks;
      out->set_reason(absl::StrCat(
          "with ", samples, samples == 1 ? " sample" : " samples",
          " per micro-batch a stage's layers need a tensor- or sequence-parallel degree of at "
          "least ",
          g.least_degree, ", and no such degree divides a layer's heads (and MLP width)"));
    } else if (g.unsplittable) {
      out->set_reason(
          "a layer has no candidate strategy whose tensor- or sequence-parallel degree divides "
          "its heads (and MLP width)");
    } else {
      out->set_reason("no strategy of its candidates fits the memory budget");
    }
  }
}

// Ranks the results (ties go to the earliest task, so the result is
// deterministic) and assembles the plan, or says why there is none.
absl::StatusOr<SearchResult> AssembleResult(const SearchContext& ctx,
                                            const ScheduleModels& schedule_models,
                                            const std::vector<Task>& tasks, const TaskRuns& runs,
                                            std::chrono::steady_clock::time_point started) {
  const std::vector<TaskResult>& results = runs.results;
  std::vector<size_t> order;
  int64_t states = 0;
  double least_needed = kInf;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (!results[i].error.ok()) return results[i].error;
    states += results[i].states;
    least_needed = std::min(least_needed, results[i].least_needed_mb);
    if (results[i].feasible) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return results[a].samples_per_second() > results[b].samples_per_second();
  });

  SearchResult out;
  v1::Plan& plan = out.plan;
  auto* stats = plan.mutable_search();
  stats->set_tasks_total(static_cast<int64_t>(tasks.size()));
  stats->set_tasks_done(runs.tasks_done);
  stats->set_states_explored(states);
  stats->set_time_limit_hit(runs.time_limit_hit);
  stats->set_threads(runs.threads);
  plan.set_world_size(ctx.model->world_size());
  plan.set_seq_len(ctx.model->seq_len());
  plan.set_mode(ctx.extended    ? v1::COST_MODEL_MODE_GALVATRON_EXTENDED
                : ctx.galvatron ? v1::COST_MODEL_MODE_GALVATRON
                                : v1::COST_MODEL_MODE_DEFAULT);
  AddInfeasibleTasks(tasks, runs, stats);
  if (order.empty()) {
    out.infeasible_reason = InfeasibleReason(ctx, tasks.size(), least_needed, runs.time_limit_hit);
  } else {
    const Task& task = tasks[order[0]];
    out.found = true;
    FillWinner(ModelFor(schedule_models, task.schedule), task, results[order[0]],
               ctx.options->memory_budget_mb, &plan);
    AddRunnersUp(schedule_models, tasks, results, order, *ctx.options, &plan);
  }
  stats->set_wall_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return out;
}

}  // namespace

absl::StatusOr<v1::Prediction> PredictPlan(const CostModel& model, const v1::Plan& plan) {
  const int W = model.world_size();
  const int pp = std::max(plan.pp(), 1);
  if (plan.world_size() != W) {
    return absl::InvalidArgumentError(absl::StrCat("plan ", plan.id(), ": world_size ",
                                                   plan.world_size(), ", the cost model has ", W));
  }
  if (plan.layers_size() != model.num_layers()) {
    return absl::InvalidArgumentError(absl::StrCat("plan ", plan.id(), ": ", plan.layers_size(),
                                                   " layer strategies for a model of ",
                                                   model.num_layers(), " layers"));
  }
  if (W % pp != 0 || plan.micro_batches() < 1 || plan.global_batch() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plan ", plan.id(), ": pp ", pp, ", micro_batches ", plan.micro_batches(),
        ", global_batch ", plan.global_batch(), " do not describe a pipeline of ", W, " devices"));
  }
  std::vector<int> division(plan.pp_division().begin(), plan.pp_division().end());
  if (division.empty()) division = EvenPartition(model.num_layers(), pp);
  int total = 0;
  for (int d : division) total += d;
  if (static_cast<int>(division.size()) != pp || total != model.num_layers()) {
    return absl::InvalidArgumentError(absl::StrCat("plan ", plan.id(), ": pp_division [",
                                                   absl::StrJoin(division, ", "), "] for pp ", pp,
                                                   " and ", model.num_layers(), " layers"));
  }
  Task task;
  task.global_batch = plan.global_batch();
  task.chunks = plan.micro_batches();
  task.pp = pp;
  task.schedule = model.options().schedule;
  const v1::EmbeddingStrategy& pe = plan.embedding();
  EmbeddingStrategy e;
  e.pp = pp;
  const int vocab = std::max(pe.vocab_tp(), 1);
  if (pe.sp() == v1::SEQUENCE_PARALLEL_ULYSSES) {
    e.sp = vocab;
  } else {
    e.tp = vocab;
    e.megatron_sp = pe.sp() == v1::SEQUENCE_PARALLEL_MEGATRON;
  }
  if ((W / pp) % vocab != 0) {
    return absl::InvalidArgumentError(absl::StrCat("plan ", plan.id(), ": embedding.vocab_tp ",
                                                   vocab, ", expected a divisor of the ", W / pp,
                                                   " devices of a stage"));
  }
  e.dp = W / pp / vocab;
  e.dp_type = cost::FromProto(pe.dp_type());
  const cost::EmbeddingCost ec = model.Embedding(e, task.global_batch, task.chunks);

  TaskResult r;
  r.feasible = true;
  r.stage_no_sync.assign(pp, 0);
  r.stage_compute.assign(pp, 0);
  r.stage_memory_mb.assign(pp, 0);
  r.stage_other_mb.assign(pp, 0);
  std::vector<double> with_sync(pp, 0);
  const bool galvatron = model.options().mode == cost::Mode::kGalvatron;
  const auto& type_of = model.layer_type_of();
  int layer = 0;
  for (int stage = 0; stage < pp; ++stage) {
    r.stage_no_sync[stage] = ec.seconds_no_sync[stage];
    with_sync[stage] = galvatron ? 0 : ec.seconds[stage];
    r.stage_compute[stage] = galvatron ? 0 : ec.compute_seconds[stage];
    for (int l = 0; l < division[stage]; ++l, ++layer) {
      const LayerStrategy s = cost::FromProto(plan.layers(layer), pp);
      if (s.devices_per_stage() * pp != W) {
        return absl::InvalidArgumentError(absl::StrCat("plan ", plan.id(), ": layer ", layer, " (",
                                                       s.ShortName(), ") does not use the ", W / pp,
                                                       " devices of its stage"));
      }
      const cost::LayerCost c =
          model.Layer(type_of[layer], s, task.global_batch, task.chunks, stage);
      r.stage_no_sync[stage] += c.seconds_no_sync;
      with_sync[stage] += c.seconds;
      if (!galvatron && l > 0) {
        // Default mode: the redistribution between layouts within a stage
        // (the search's StageTables::switch_seconds).
        const double sw = model.Switch(type_of[layer], cost::FromProto(plan.layers(layer - 1), pp),
                                       s, task.global_batch, task.chunks);
        r.stage_no_sync[stage] += sw;
        with_sync[stage] += sw;
      }
      r.stage_compute[stage] += c.compute_seconds;
    }
  }
  if (!galvatron) {
    AddEmbeddingSwitches(model, task, e, cost::FromProto(plan.layers(0), pp),
                         cost::FromProto(plan.layers(plan.layers_size() - 1), pp), &r.stage_no_sync,
                         &with_sync);
  }
  r.seconds = model.PipelineSeconds(r.stage_no_sync, with_sync, task.chunks);
  v1::Prediction p = MakePrediction(model, task, r, 0);
  p.clear_stage_memory();
  *p.mutable_stage_memory() = plan.prediction().stage_memory();
  return p;
}

absl::StatusOr<SearchResult> Search(const std::vector<const CostModel*>& models,
                                    const SearchOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (models.empty() || models.front() == nullptr) {
    return absl::InvalidArgumentError("models: empty, expected a cost model per schedule");
  }
  const CostModel& model = *models.front();
  RETURN_IF_ERROR(ValidateOptions(model, options));
  ScheduleModels schedule_models;
  for (const CostModel* m : models) {
    schedule_models[static_cast<int>(m->options().schedule)] = m;
  }
  const bool galvatron = model.options().mode == cost::Mode::kGalvatron;
  const CandidateOptions copts = MakeCandidateOptions(model, options, galvatron);
  const SearchContext ctx = MakeContext(model, options, copts);
  const std::vector<Task> tasks = EnumerateTasks(ctx, copts, schedule_models);
  const TaskRuns runs = RunTasks(ctx, schedule_models, tasks, started);
  if (runs.cancelled) {
    return absl::CancelledError(absl::StrCat("the search was cancelled after ", runs.tasks_done,
                                             " of ", tasks.size(), " tasks"));
  }
  return AssembleResult(ctx, schedule_models, tasks, runs, started);
}

}  // namespace galvatron::search
