// The per-stage dynamic programme (Galvatron's per-stage DP over layers and
// memory): choose one strategy per layer of a pipeline stage so that
//
//   Σ_l time[l][s_l] + Σ_{l≥1} switch[l][s_{l−1}][s_l]   is minimal
//   subject to Σ_l mem[l][s_l] ≤ budget.
//
// Two exact solvers:
//  * SolveStageDpDense — Galvatron's table algorithm (csrc/dp_core.cpp):
//    f[v][s] for every memory value v ∈ [0, budget], O(L·B·S²) time and an
//    L·(B+1)·S argmin table. Kept as the reference.
//  * SolveStageDp — the fast solver: for every layer (and, with switch costs,
//    every last strategy) only the Pareto frontier of partial plans in
//    (memory, time) is kept, cut by the budget still needed by the remaining
//    layers, with dominated strategies dropped up front; with switch costs
//    also a branch and bound against the switch-free relaxation. Its work
//    grows with the number of Pareto-optimal partial plans, not with the
//    budget.
//
// Time accumulates in the same order in every solver, ((t + switch) + time),
// so equal plans give bit-identical totals.
//
// Pure functions; thread-safe (no shared state), one call per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace galvatron::search {

// One stage's instance. Row-major, flat:
//   time[l*S + s]                 seconds (any unit; finite or +inf = unusable)
//   memory[l*S + s]               integer memory units (Galvatron: MB), >= 0
//   switch_cost[(l*S + from)*S + to]  optional (empty = none); entries of layer 0
//                                 are ignored (Galvatron's are zero).
// Not thread-safe to mutate while a solver reads it.
struct StageDpProblem {
  int num_layers = 0;
  int num_strategies = 0;
  std::vector<double> time;
  std::vector<int64_t> memory;
  std::vector<double> switch_cost;
  int64_t budget = 0;

  // Sizes the arrays for L layers and S strategies (zeros).
  void Resize(int layers, int strategies, bool with_switch_cost);
  bool has_switch_cost() const { return !switch_cost.empty(); }

  double& TimeAt(int l, int s) { return time[Index(l, s)]; }
  double TimeAt(int l, int s) const { return time[Index(l, s)]; }
  int64_t& MemoryAt(int l, int s) { return memory[Index(l, s)]; }
  int64_t MemoryAt(int l, int s) const { return memory[Index(l, s)]; }
  double& SwitchAt(int l, int from, int to) { return switch_cost[SwitchIndex(l, from, to)]; }
  double SwitchAt(int l, int from, int to) const {
    return switch_cost.empty() ? 0.0 : switch_cost[SwitchIndex(l, from, to)];
  }

 private:
  size_t Index(int l, int s) const {
    return static_cast<size_t>(l) * static_cast<size_t>(num_strategies) + static_cast<size_t>(s);
  }
  size_t SwitchIndex(int l, int from, int to) const {
    return Index(l, from) * static_cast<size_t>(num_strategies) + static_cast<size_t>(to);
  }
};

struct StageDpSolution {
  // False when no choice fits the budget (or every fitting one has infinite
  // time); then time is +inf and strategy is empty.
  bool feasible = false;
  double time = std::numeric_limits<double>::infinity();
  int64_t memory = 0;         // Σ memory of the chosen strategies
  std::vector<int> strategy;  // per layer, an index in [0, num_strategies)
  // Σ_l min_s memory[l][s] over strategies of finite time: the least any plan
  // needs, for "infeasible" reasons. 0 for an empty stage.
  int64_t min_memory = 0;
  // Work done: dense = table cells (layer, v, s) filled; Pareto = candidate
  // partial plans generated within the memory cap (before the bound and the
  // dominance sweep), the relaxation's included.
  int64_t states_explored = 0;
  // Pareto only: partial plans kept on the frontiers, summed over layers.
  int64_t states_kept = 0;
};

// INVALID_ARGUMENT (naming the field) when sizes do not match, a memory is
// negative or a time/switch cost is NaN or −inf.
absl::Status ValidateStageDpProblem(const StageDpProblem& problem);

struct StageDpOptions {
  // Drop strategy s of layer l when another strategy is at least as good in
  // memory and time — and, with switch costs, in every incoming switch cost of
  // layer l and every outgoing one into layer l+1 (so replacing s by it can
  // never make a plan worse). Never changes the optimum.
  bool prune_dominated_strategies = true;
  // With switch costs: solve the switch-free relaxation first (backwards, one
  // frontier per layer), take as an upper bound U the better of its best plan
  // priced with its switches and the plan a beam search guided by it finds,
  // and drop partial plans whose time plus the relaxation's least time for
  // the remaining layers (within the memory left) exceeds U (plus a bound on
  // the rounding error). Every optimal plan survives, so neither the optimum nor
  // the tie-breaking changes. Without switch costs there is nothing to bound.
  bool bound_with_relaxation = true;
  // RESOURCE_EXHAUSTED when the frontiers of one pass hold more partial plans
  // than this (24 bytes each). Frontier points have distinct memories, so a
  // layer never holds more than S·(budget+1).
  int64_t max_states = int64_t{1} << 26;
  // Asked before each layer (each pass); true stops the solver with
  // CANCELLED. Empty: never.
  std::function<bool()> cancelled;
};

// The fast exact solver.
//
// Tie-breaking (deterministic): among plans of minimal time it returns one of
// minimal memory; remaining ties go to the lowest strategy index of the last
// layer, then of the layer before, and so on (the frontier keeps, of equal
// (memory, time) partial plans, the one reached from the lower strategy).
// Dominated-strategy pruning keeps the lower index between exact equals; it can
// change which of several equal plans is returned only where the dominating
// strategy is better in a switch cost the plan does not use or by less than
// rounding — the optimal time never changes.
absl::StatusOr<StageDpSolution> SolveStageDp(const StageDpProblem& problem,
                                             const StageDpOptions& options = {});

struct DenseStageDpOptions {
  // Galvatron's kernel updates f in place for v from B down to 0, which is
  // right only when every memory is >= 1: a strategy of memory 0 then reads
  // f[v][s'] of lower s' already overwritten by the current layer (so a layer
  // can be counted twice). By default we update one v-row at a time from a
  // copy, which is correct for memory 0; true reproduces Galvatron's results
  // bit for bit, quirk included (the returned plan may then not cost the
  // returned time, and where Galvatron's backtrack would follow a −1 mark we
  // return INTERNAL).
  bool galvatron_zero_memory_quirk = false;
  // Refuse (RESOURCE_EXHAUSTED) when L·(B+1)·S table cells (2 bytes each)
  // exceed this.
  int64_t max_table_cells = int64_t{1} << 30;
};

// The dense reference (dp_core.cpp semantics): f[v][s] = best time of the
// layers so far using at most v memory and ending in s.
//
// Tie-breaking (Galvatron's): the lowest previous strategy wins each argmin,
// the lowest last strategy wins at v = budget; memory is not minimised among
// equal times. Requires num_strategies < 65535 (argmin marks are 16-bit).
absl::StatusOr<StageDpSolution> SolveStageDpDense(const StageDpProblem& problem,
                                                  const DenseStageDpOptions& options = {});

// Solutions of stage DPs shared across a search's tasks, by the problem's
// contents: a hit returns exactly what SolveStageDp(problem) with default
// options would. Tasks that differ only in their tp/sp mode or
// global-buffer degree, or in global batch and micro-batches of the same
// size, often pose the same stage problems. A problem is keyed by its
// contents with runs of identical layers stored once (a stage of a uniform
// model costs one layer's rows and switch costs); once the keys hold
// max_key_bytes, later solutions are not stored. Thread-safe: any number of
// threads may call Find and Insert.
class StageDpCache {
 public:
  explicit StageDpCache(size_t max_key_bytes = size_t{128} << 20) : max_key_bytes_(max_key_bytes) {}

  // The key of a problem: every input, bit for bit, runs of identical
  // layers stored once. Computed outside the lock.
  static std::string Key(const StageDpProblem& problem);

  // The solution stored under Key(problem), if any.
  std::optional<StageDpSolution> Find(const std::string& key) const ABSL_LOCKS_EXCLUDED(mu_);
  void Insert(std::string key, const StageDpSolution& solution) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const size_t max_key_bytes_;
  mutable absl::Mutex mu_;
  std::map<std::string, StageDpSolution> solutions_ ABSL_GUARDED_BY(mu_);
  size_t key_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace galvatron::search
