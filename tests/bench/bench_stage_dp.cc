// Micro-benchmark of the per-stage DP: Galvatron's dense table against the
// Pareto-frontier solver on a 32-layer stage with ~50 strategies and a
// 29,000 MB budget (Galvatron's 36 GiB minus its 20 % reserve and the
// embedding's share, roughly).
//
// Scenarios:
//   toy-model      the 48 candidates of a stage of 8 devices (32 GPUs, pp 4)
//                  priced by a toy cost model (per-layer memory 100..3000 MB,
//                  time 1..50 ms), all layers alike — a stage of one layer type;
//   toy+switch     the same with Galvatron's switch costs (tie-break biases of
//                  1e-10..3e-9 s and a Ulysses/TP re-layout cost when tp_sp
//                  changes), which forces one frontier per strategy;
//   random         independent per-layer memories/times with a noisy
//                  memory/time trade-off (larger frontiers, fewer dominated
//                  strategies);
//   random+switch  the same with random switch costs.
//
// Usage: bench_stage_dp [--no-dense] [--repeat N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "planner/search/candidates.h"
#include "planner/search/stage_dp.h"

namespace galvatron::search {
namespace {

constexpr int kLayers = 32;
constexpr int64_t kBudgetMb = 29000;

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The candidates of one pipeline stage: 32 GPUs, pp = 4, so 8 devices per
// stage; the extended space without ZeRO-1 (DDP, ZeRO-2, ZeRO-3; Megatron TP
// with and without Megatron-SP; Ulysses) — 48 strategies.
std::vector<cost::LayerStrategy> StageStrategies() {
  CandidateOptions o;
  o.world_size = 32;
  o.num_layers = 4 * kLayers;
  o.offer_zero1 = false;
  std::vector<cost::LayerStrategy> all = GenerateLayerStrategies(o);
  std::vector<cost::LayerStrategy> stage;
  for (const cost::LayerStrategy& s : all) {
    if (s.pp == 4) stage.push_back(s);
  }
  return stage;
}

// A toy price for one ~200M-parameter layer (seq 4096, hidden 4096, bf16,
// micro-batch of 8 samples) under s: model states 16 B/param sharded by tp_sp
// and ZeRO, activations ~570 MB/sample sharded by tp_sp (32 MB/sample when
// checkpointed), ~24 ms of compute per sample, TP/Ulysses traffic and a
// partly overlapped gradient all-reduce. Clamped to 100..3000 MB, 1..50 ms.
void ToyPrice(const cost::LayerStrategy& s, int64_t* memory_mb, double* time_s) {
  const double tp_sp = s.tp_sp();
  const double dp = s.dp;
  const double local_batch = 8.0 / dp;
  double ratio = 1.0;  // DDP
  if (s.dp_type == cost::DpType::kZero2) ratio = 7.0 / 8.0 / dp + 1.0 / 8.0;
  if (s.dp_type == cost::DpType::kZero3) ratio = 1.0 / dp;
  const double states = 3200.0 / tp_sp * ratio;
  // Plain Megatron TP leaves ~30 % of the activations (norms, dropout) whole.
  const double act_share = s.tp > 1 && !s.megatron_sp ? 0.3 + 0.7 / tp_sp : 1.0 / tp_sp;
  const double per_sample =
      s.checkpoint ? 32.0 * (s.tp > 1 && !s.megatron_sp ? 1.0 : 1.0 / tp_sp) : 570.0 * act_share;
  *memory_mb = std::clamp<int64_t>(std::llround(states + per_sample * local_batch), 100, 3000);
  double ms = 24.0 * local_batch / tp_sp * (s.checkpoint ? 4.0 / 3.0 : 1.0);
  if (s.tp > 1) ms += 1.3 * local_batch * (tp_sp - 1) / tp_sp;
  if (s.sp > 1) ms += 0.5 * local_batch * (tp_sp - 1) / tp_sp;
  if (dp > 1) {
    ms += 0.3 * 16.0 * (dp - 1) / dp / tp_sp * (s.dp_type == cost::DpType::kZero3 ? 1.5 : 1.0);
  }
  *time_s = std::clamp(ms, 1.0, 50.0) * 1e-3;
}

// Galvatron's inter-layer cost: tie-break biases, and an all-to-all-sized
// re-layout when the tp_sp degree changes (its inter-layer cost).
double GalvatronSwitch(const cost::LayerStrategy& from, const cost::LayerStrategy& to) {
  if (from == to) return 0.0;
  double c = 0.0;
  if (from.tp_sp() != to.tp_sp()) {
    const double g = std::max(from.tp_sp(), to.tp_sp());
    c += (g - 1) / g * 0.4e-3;  // ~0.2–0.35 ms
  }
  if (from.sp == 1 && to.sp > 1) c += 1e-10;
  if (from.dp_type != cost::DpType::kZero3 && to.dp_type == cost::DpType::kZero3) c += 1e-9;
  if (!from.checkpoint && to.checkpoint) c += 2e-9;
  return c;
}

StageDpProblem ToyModel(bool with_switch) {
  const std::vector<cost::LayerStrategy> strategies = StageStrategies();
  const int n = static_cast<int>(strategies.size());
  StageDpProblem p;
  p.Resize(kLayers, n, with_switch);
  p.budget = kBudgetMb;
  for (int l = 0; l < kLayers; ++l) {
    for (int s = 0; s < n; ++s) ToyPrice(strategies[s], &p.MemoryAt(l, s), &p.TimeAt(l, s));
    if (!with_switch || l == 0) continue;
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b)
        p.SwitchAt(l, a, b) = GalvatronSwitch(strategies[a], strategies[b]);
    }
  }
  return p;
}

StageDpProblem Random(bool with_switch, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int n = 50;
  StageDpProblem p;
  p.Resize(kLayers, n, with_switch);
  p.budget = kBudgetMb;
  for (int l = 0; l < kLayers; ++l) {
    for (int s = 0; s < n; ++s) {
      const double x = unit(rng);  // 0 = least memory
      p.MemoryAt(l, s) = 100 + std::llround(2900 * x);
      // Less memory costs more time, with ±30 % noise.
      const double ms = 1.0 + 49.0 * (1 - x) * (1 - x) * (0.7 + 0.6 * unit(rng));
      p.TimeAt(l, s) = std::clamp(ms, 1.0, 50.0) * 1e-3;
      if (!with_switch || l == 0) continue;
      for (int a = 0; a < n; ++a) {
        if (a != s) p.SwitchAt(l, a, s) = unit(rng) < 0.5 ? 0.0 : unit(rng) * 0.5e-3;
      }
    }
  }
  return p;
}

void Run(const char* name, const StageDpProblem& p, bool dense, int repeat) {
  double best_fast = 1e30;
  StageDpSolution fast;
  for (int r = 0; r < repeat; ++r) {
    const Clock::time_point start = Clock::now();
    absl::StatusOr<StageDpSolution> got = SolveStageDp(p);
    best_fast = std::min(best_fast, Seconds(start));
    if (!got.ok()) {
      std::printf("%s: %s\n", name, got.status().ToString().c_str());
      return;
    }
    fast = *got;
  }
  StageDpOptions no_prune;
  no_prune.prune_dominated_strategies = false;
  Clock::time_point start = Clock::now();
  const absl::StatusOr<StageDpSolution> unpruned = SolveStageDp(p, no_prune);
  const double unpruned_s = Seconds(start);
  StageDpOptions no_bound;
  no_bound.bound_with_relaxation = false;
  start = Clock::now();
  const absl::StatusOr<StageDpSolution> unbounded = SolveStageDp(p, no_bound);
  const double unbounded_s = Seconds(start);
  std::printf("%-14s L=%d S=%d B=%lld MB  optimum %.6f ms, memory %lld MB\n", name, p.num_layers,
              p.num_strategies, static_cast<long long>(p.budget), fast.time * 1e3,
              static_cast<long long>(fast.memory));
  std::printf("  pareto                                 %9.3f ms  explored %11lld  kept %9lld\n",
              best_fast * 1e3, static_cast<long long>(fast.states_explored),
              static_cast<long long>(fast.states_kept));
  std::printf("  pareto (no dominated-strategy pruning) %9.3f ms  explored %11lld  kept %9lld\n",
              unpruned_s * 1e3, static_cast<long long>(unpruned->states_explored),
              static_cast<long long>(unpruned->states_kept));
  if (p.has_switch_cost()) {
    std::printf("  pareto (no relaxation bound)           %9.3f ms  explored %11lld  kept %9lld\n",
                unbounded_s * 1e3, static_cast<long long>(unbounded->states_explored),
                static_cast<long long>(unbounded->states_kept));
  }
  if (unpruned->time != fast.time || unbounded->time != fast.time) {
    std::printf("  MISMATCH between the Pareto variants!\n");
  }
  if (!dense) return;
  start = Clock::now();
  const absl::StatusOr<StageDpSolution> table = SolveStageDpDense(p);
  const double dense_s = Seconds(start);
  if (!table.ok()) {
    std::printf("  dense: %s\n", table.status().ToString().c_str());
    return;
  }
  std::printf(
      "  dense (Galvatron's table)              %9.3f ms  cells    %11lld  speed-up x%.0f, "
      "same optimum: %s\n",
      dense_s * 1e3, static_cast<long long>(table->states_explored), dense_s / best_fast,
      table->time == fast.time ? "yes" : "NO");
}

}  // namespace
}  // namespace galvatron::search

int main(int argc, char** argv) {
  bool dense = true;
  int repeat = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-dense") == 0) {
      dense = false;
    } else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--no-dense] [--repeat N]\n", argv[0]);
      return 2;
    }
  }
  using galvatron::search::Random;
  using galvatron::search::Run;
  using galvatron::search::ToyModel;
  Run("toy-model", ToyModel(false), dense, repeat);
  Run("toy+switch", ToyModel(true), dense, repeat);
  Run("random", Random(false, 1), dense, repeat);
  Run("random+switch", Random(true, 2), dense, repeat);
  return 0;
}
