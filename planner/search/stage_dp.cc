#include "planner/search/stage_dp.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace galvatron::search {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Σ memory of the chosen strategies.
int64_t PlanMemory(const StageDpProblem& p, const std::vector<int>& strategy) {
  int64_t total = 0;
  for (int l = 0; l < p.num_layers; ++l) total += p.MemoryAt(l, strategy[l]);
  return total;
}

// The plan's time in the solvers' summation order ((t + switch) + time).
double PlanTime(const StageDpProblem& p, const std::vector<int>& strategy) {
  double t = 0.0;
  for (int l = 0; l < p.num_layers; ++l) {
    const double sc = l == 0 ? 0.0 : p.SwitchAt(l, strategy[l - 1], strategy[l]);
    t = (t + sc) + p.TimeAt(l, strategy[l]);
  }
  return t;
}

// Σ_l min_s memory[l][s] over finite-time strategies; also says whether every
// layer has at least one finite-time strategy.
int64_t MinMemory(const StageDpProblem& p, bool* every_layer_usable) {
  int64_t total = 0;
  *every_layer_usable = true;
  for (int l = 0; l < p.num_layers; ++l) {
    int64_t best = -1;
    for (int s = 0; s < p.num_strategies; ++s) {
      if (p.TimeAt(l, s) == kInf) continue;
      if (best < 0 || p.MemoryAt(l, s) < best) best = p.MemoryAt(l, s);
    }
    if (best < 0) {
      *every_layer_usable = false;
      continue;
    }
    total += best;
  }
  return total;
}

// ---------------------------------------------------------------------------
// Pareto solver.

// A partial plan: its memory, its time, the index of the plan it extends in
// the neighbouring layer's arena (−1 at the end of the chain) and the
// strategy of the layer it was built for.
struct PartialPlan {
  int64_t memory;
  double time;
  int32_t parent;
  int32_t strategy;
};

// A Pareto frontier is a run of PartialPlans sorted by memory ascending with
// time strictly descending: no plan has both ≥ memory and ≥ time of another.
// A layer's frontiers live in one arena. Without switch costs there is one
// frontier; with them one per strategy of the layer (the plan's last strategy
// matters for the next switch), segment k = [begin[k], begin[k+1]).
struct LayerFrontiers {
  std::vector<PartialPlan> plans;
  std::vector<int32_t> begin{0};  // size = segments + 1
  int segments() const { return static_cast<int>(begin.size()) - 1; }
  void CloseSegment() { begin.push_back(static_cast<int32_t>(plans.size())); }
};

// Least time of the remaining layers given their memory allowance: a lower
// bound from the switch-free relaxation, used to drop partial plans whose
// every completion is slower than a known plan (branch and bound).
struct CompletionBound {
  const LayerFrontiers* rest = nullptr;  // frontier of layers l+1..L−1; null: none
  double switch_floor = 0;               // Σ of negative switch costs still possible
  double limit = kInf;                   // a known plan's time + rounding slack
  int64_t budget = 0;

  bool Prunes(int64_t memory, double time) const {
    if (!(limit < kInf)) return false;
    double rest_time = 0;
    if (rest != nullptr) {
      const int64_t allowance = budget - memory;
      // The last plan with memory <= allowance has the least time.
      const auto it =
          std::upper_bound(rest->plans.begin(), rest->plans.end(), allowance,
                           [](int64_t m, const PartialPlan& x) { return m < x.memory; });
      if (it == rest->plans.begin()) return true;  // nothing fits
      rest_time = std::prev(it)->time;
    }
    return time + rest_time + switch_floor > limit;
  }
};

// One source of candidates for MergeCandidates: the frontier
// src[first, last) extended by strategy s of the current layer.
struct Extension {
  const PartialPlan* src;
  int32_t first;
  int32_t last;
  int64_t memory;                // memory[l][s]
  double switch_cost;            // switch[l][s'][s] (0 without switch costs)
  double time;                   // time[l][s]
  int32_t strategy;              // s
  int64_t memory_cap;            // a candidate must have memory <= cap
  const CompletionBound* bound;  // may be null
};

// out = Pareto frontier of acc ∪ {extensions of ext}. acc is a frontier whose
// plans came from lower strategies than ext's source, so on an exact (memory,
// time) tie acc's plan is kept. Counts the candidates generated.
void MergeCandidates(const std::vector<PartialPlan>& acc, const Extension& ext,
                     std::vector<PartialPlan>* out, int64_t* explored) {
  out->clear();
  size_t i = 0;
  int32_t j = ext.first;
  double best = kInf;  // time of the last plan kept
  PartialPlan cand{};
  bool have_cand = false;
  auto next_candidate = [&]() {
    have_cand = false;
    while (j < ext.last) {
      const PartialPlan& p = ext.src[j];
      const int64_t mem = p.memory + ext.memory;
      if (mem > ext.memory_cap) {
        j = ext.last;  // sorted by memory: nothing further fits
        return;
      }
      ++*explored;
      // Same summation order as the dense kernel: (f + switch) + time.
      cand = PartialPlan{mem, (p.time + ext.switch_cost) + ext.time, j, ext.strategy};
      ++j;
      if (!(cand.time < kInf)) continue;
      if (ext.bound != nullptr && ext.bound->Prunes(cand.memory, cand.time)) continue;
      have_cand = true;
      return;
    }
  };
  next_candidate();
  while (i < acc.size() || have_cand) {
    const bool take_acc =
        i < acc.size() && (!have_cand || acc[i].memory < cand.memory ||
                           (acc[i].memory == cand.memory && acc[i].time <= cand.time));
    const PartialPlan& x = take_acc ? acc[i] : cand;
    if (x.time < best) {
      out->push_back(x);
      best = x.time;
    }
    if (take_acc) {
      ++i;
    } else {
      next_candidate();
    }
  }
}

// True when strategy a of layer l can replace b in every plan without raising
// its memory or time (with switch costs: also every switch into layer l and
// out of it). Exact equals: only the lower index replaces.
bool Dominates(const StageDpProblem& p, int l, int a, int b, bool with_switch) {
  bool strict = false;
  auto weakly_better = [&strict](auto x, auto y) {
    if (x > y) return false;
    if (x < y) strict = true;
    return true;
  };
  if (!weakly_better(p.MemoryAt(l, a), p.MemoryAt(l, b))) return false;
  if (!weakly_better(p.TimeAt(l, a), p.TimeAt(l, b))) return false;
  if (with_switch) {
    const int n = p.num_strategies;
    if (l >= 1) {
      for (int from = 0; from < n; ++from) {
        if (!weakly_better(p.SwitchAt(l, from, a), p.SwitchAt(l, from, b))) return false;
      }
    }
    if (l + 1 < p.num_layers) {
      for (int to = 0; to < n; ++to) {
        if (!weakly_better(p.SwitchAt(l + 1, a, to), p.SwitchAt(l + 1, b, to))) return false;
      }
    }
  }
  return strict || a < b;
}

// The strategies of layer l worth trying, in increasing index order.
std::vector<int> ActiveStrategies(const StageDpProblem& p, int l, bool prune, bool with_switch) {
  std::vector<int> finite;
  for (int s = 0; s < p.num_strategies; ++s) {
    if (p.TimeAt(l, s) < kInf) finite.push_back(s);
  }
  if (!prune) return finite;
  std::vector<int> active;
  for (const int b : finite) {
    bool dominated = false;
    for (const int a : finite) {
      if (a != b && Dominates(p, l, a, b, with_switch)) {
        dominated = true;
        break;
      }
    }
    if (!dominated) active.push_back(b);
  }
  return active;
}

absl::Status Cancelled() { return absl::CancelledError("stage DP: cancelled"); }

absl::Status TooManyStates(int64_t max_states) {
  return absl::ResourceExhaustedError(
      absl::StrCat("stage DP: more than max_states = ", max_states,
                   " Pareto-optimal partial plans; use a coarser memory unit"));
}

// The switch-free problem over layers in `order` (one frontier per step).
// frontiers[i] holds plans of order[0..i]; parents index frontiers[i−1].
// caps[i] bounds their memory. Returns false when some step is empty.
absl::StatusOr<bool> SingleFrontierPass(const StageDpProblem& p, const std::vector<int>& order,
                                        const std::vector<int64_t>& caps,
                                        const StageDpOptions& options,
                                        std::vector<LayerFrontiers>* frontiers, int64_t* explored) {
  const bool prune = options.prune_dominated_strategies;
  const int64_t max_states = options.max_states;
  int64_t kept = 0;
  const PartialPlan root{0, 0.0, -1, -1};  // the empty plan
  std::vector<PartialPlan> acc;
  std::vector<PartialPlan> merged;
  frontiers->assign(order.size(), LayerFrontiers{});
  for (size_t i = 0; i < order.size(); ++i) {
    if (options.cancelled && options.cancelled()) return Cancelled();
    const int l = order[i];
    const PartialPlan* src = i == 0 ? &root : (*frontiers)[i - 1].plans.data();
    const int32_t src_size = i == 0 ? 1 : static_cast<int32_t>((*frontiers)[i - 1].plans.size());
    acc.clear();
    for (const int s : ActiveStrategies(p, l, prune, /*with_switch=*/false)) {
      const Extension ext{src, 0,       src_size, p.MemoryAt(l, s), 0.0, p.TimeAt(l, s),
                          s,   caps[i], nullptr};
      MergeCandidates(acc, ext, &merged, explored);
      acc.swap(merged);
      if (kept + static_cast<int64_t>(acc.size()) > max_states) return TooManyStates(max_states);
    }
    LayerFrontiers& cur = (*frontiers)[i];
    cur.plans = acc;
    cur.CloseSegment();
    if (cur.plans.empty()) return false;
    kept += static_cast<int64_t>(cur.plans.size());
  }
  return true;
}

// Σ_l max |finite cost| — a scale for the rounding slack of the bound.
double CostScale(const StageDpProblem& p) {
  double scale = 0;
  for (int l = 0; l < p.num_layers; ++l) {
    double worst = 0;
    for (int s = 0; s < p.num_strategies; ++s) {
      if (p.TimeAt(l, s) < kInf) worst = std::max(worst, std::fabs(p.TimeAt(l, s)));
    }
    double worst_switch = 0;
    for (int a = 0; l > 0 && p.has_switch_cost() && a < p.num_strategies; ++a) {
      for (int b = 0; b < p.num_strategies; ++b) {
        if (p.SwitchAt(l, a, b) < kInf)
          worst_switch = std::max(worst_switch, std::fabs(p.SwitchAt(l, a, b)));
      }
    }
    scale += worst + worst_switch;
  }
  return scale;
}

}  // namespace

void StageDpProblem::Resize(int layers, int strategies, bool with_switch_cost) {
  num_layers = layers;
  num_strategies = strategies;
  const size_t cells = static_cast<size_t>(layers) * static_cast<size_t>(strategies);
  time.assign(cells, 0.0);
  memory.assign(cells, 0);
  switch_cost.assign(with_switch_cost ? cells * static_cast<size_t>(strategies) : 0, 0.0);
}

absl::Status ValidateStageDpProblem(const StageDpProblem& p) {
  if (p.num_layers < 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_layers: must be >= 0, got ", p.num_layers));
  }
  if (p.num_strategies < 1 && p.num_layers > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_strategies: must be >= 1, got ", p.num_strategies));
  }
  const size_t cells = static_cast<size_t>(p.num_layers) * static_cast<size_t>(p.num_strategies);
  if (p.time.size() != cells) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time: expected ", cells, " entries (layers x strategies), got ", p.time.size()));
  }
  if (p.memory.size() != cells) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory: expected ", cells, " entries (layers x strategies), got ", p.memory.size()));
  }
  if (!p.switch_cost.empty() &&
      p.switch_cost.size() != cells * static_cast<size_t>(p.num_strategies)) {
    return absl::InvalidArgumentError(
        absl::StrCat("switch_cost: expected 0 or ", cells * static_cast<size_t>(p.num_strategies),
                     " entries (layers x strategies x strategies), got ", p.switch_cost.size()));
  }
  // Bound every memory so that no sum over the layers can overflow.
  const int64_t max_memory = std::numeric_limits<int64_t>::max() / (p.num_layers + 2);
  for (size_t i = 0; i < cells; ++i) {
    if (p.memory[i] < 0 || p.memory[i] > max_memory) {
      return absl::InvalidArgumentError(
          absl::StrCat("memory[", i, "]: must be in [0, ", max_memory, "], got ", p.memory[i]));
    }
    if (std::isnan(p.time[i]) || p.time[i] == -kInf) {
      return absl::InvalidArgumentError(
          absl::StrCat("time[", i, "]: must be a number or +inf, got ", p.time[i]));
    }
  }
  for (size_t i = 0; i < p.switch_cost.size(); ++i) {
    if (std::isnan(p.switch_cost[i]) || p.switch_cost[i] == -kInf) {
      return absl::InvalidArgumentError(
          absl::StrCat("switch_cost[", i, "]: must be a number or +inf, got ", p.switch_cost[i]));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StageDpSolution> SolveStageDp(const StageDpProblem& problem,
                                             const StageDpOptions& options) {
  if (absl::Status st = ValidateStageDpProblem(problem); !st.ok()) return st;
  const StageDpProblem& p = problem;
  const int num_layers = p.num_layers;
  const bool prune = options.prune_dominated_strategies;
  StageDpSolution solution;
  bool every_layer_usable = true;
  solution.min_memory = MinMemory(p, &every_layer_usable);
  if (num_layers == 0) {
    solution.feasible = p.budget >= 0;
    solution.time = solution.feasible ? 0.0 : kInf;
    return solution;
  }
  if (!every_layer_usable || solution.min_memory > p.budget) return solution;

  // least[l] = least memory of layer l. A plan of layers 0..l survives only
  // if its memory + Σ_{k>l} least[k] <= budget (and symmetrically backwards).
  std::vector<int64_t> least(num_layers, -1);
  for (int l = 0; l < num_layers; ++l) {
    for (int s = 0; s < p.num_strategies; ++s) {
      if (p.TimeAt(l, s) < kInf && (least[l] < 0 || p.MemoryAt(l, s) < least[l])) {
        least[l] = p.MemoryAt(l, s);
      }
    }
  }
  std::vector<int64_t> suffix_least(num_layers + 1, 0);
  for (int l = num_layers - 1; l >= 0; --l) suffix_least[l] = suffix_least[l + 1] + least[l];
  std::vector<int> order(num_layers);
  std::vector<int64_t> caps(num_layers);
  for (int l = 0; l < num_layers; ++l) {
    order[l] = l;
    caps[l] = p.budget - suffix_least[l + 1];
  }

  std::vector<LayerFrontiers> layers;
  if (!p.has_switch_cost()) {
    // Only (memory, time) of a prefix matters: one frontier per layer.
    absl::StatusOr<bool> ok =
        SingleFrontierPass(p, order, caps, options, &layers, &solution.states_explored);
    if (!ok.ok()) return ok.status();
    for (const LayerFrontiers& f : layers)
      solution.states_kept += static_cast<int64_t>(f.plans.size());
    if (!*ok) return solution;
  } else {
    // Branch and bound from the switch-free relaxation, solved backwards:
    // rest[i] = frontier of layers L−1−i..L−1, i.e. the least time of a
    // suffix for each memory allowance.
    std::vector<LayerFrontiers> rest;
    CompletionBound bound_template;
    bound_template.budget = p.budget;
    std::vector<double> switch_floor(num_layers + 1, 0.0);
    if (options.bound_with_relaxation) {
      std::vector<int> backwards(num_layers);
      std::vector<int64_t> back_caps(num_layers);
      int64_t prefix_least = suffix_least[0];
      for (int i = 0; i < num_layers; ++i) {
        const int l = num_layers - 1 - i;
        backwards[i] = l;
        prefix_least -= least[l];
        back_caps[i] = p.budget - prefix_least;
      }
      absl::StatusOr<bool> ok =
          SingleFrontierPass(p, backwards, back_caps, options, &rest, &solution.states_explored);
      if (!ok.ok()) return ok.status();
      if (!*ok) return solution;  // nothing fits even without switch costs
      // The relaxation's best plan is a real plan: its true time bounds the
      // optimum from above.
      std::vector<int> plan(num_layers);
      int32_t idx = static_cast<int32_t>(rest[num_layers - 1].plans.size()) - 1;
      for (int i = num_layers - 1; i >= 0; --i) {
        const PartialPlan& x = rest[i].plans[idx];
        plan[num_layers - 1 - i] = x.strategy;
        idx = x.parent;
      }
      const double upper = PlanTime(p, plan);
      // Rounding slack: every sum here has error << 1e-9 of the cost scale.
      bound_template.limit = upper + 1e-9 * CostScale(p);
      for (int l = num_layers - 1; l >= 1; --l) {
        double lowest = 0;
        for (int a = 0; a < p.num_strategies; ++a) {
          for (int b = 0; b < p.num_strategies; ++b) lowest = std::min(lowest, p.SwitchAt(l, a, b));
        }
        switch_floor[l] = switch_floor[l + 1] + lowest;
      }
    }

    std::vector<PartialPlan> acc;
    std::vector<PartialPlan> merged;
    const PartialPlan root{0, 0.0, -1, -1};
    layers.resize(num_layers);
    for (int l = 0; l < num_layers; ++l) {
      if (options.cancelled && options.cancelled()) return Cancelled();
      CompletionBound bound = bound_template;
      bound.rest = l + 1 < num_layers && !rest.empty() ? &rest[num_layers - 2 - l] : nullptr;
      bound.switch_floor = switch_floor[l + 1];
      LayerFrontiers& cur = layers[l];
      for (const int s : ActiveStrategies(p, l, prune, /*with_switch=*/true)) {
        acc.clear();
        // Extends the source frontier [first, last) of the previous layer.
        auto extend = [&](const PartialPlan* src, int32_t first, int32_t last, double sc) {
          const Extension ext{src, first,   last,  p.MemoryAt(l, s), sc, p.TimeAt(l, s),
                              s,   caps[l], &bound};
          MergeCandidates(acc, ext, &merged, &solution.states_explored);
          acc.swap(merged);
        };
        if (l == 0) {
          extend(&root, 0, 1, 0.0);
        } else {
          const LayerFrontiers& prev = layers[l - 1];
          for (int k = 0; k < prev.segments(); ++k) {
            if (prev.begin[k] == prev.begin[k + 1]) continue;
            const double sc = p.SwitchAt(l, prev.plans[prev.begin[k]].strategy, s);
            if (sc < kInf) extend(prev.plans.data(), prev.begin[k], prev.begin[k + 1], sc);
          }
        }
        cur.plans.insert(cur.plans.end(), acc.begin(), acc.end());
        cur.CloseSegment();
        if (solution.states_kept + static_cast<int64_t>(cur.plans.size()) > options.max_states) {
          return TooManyStates(options.max_states);
        }
      }
      solution.states_kept += static_cast<int64_t>(cur.plans.size());
      if (cur.plans.empty()) return solution;  // nothing fits
    }
  }

  // The best complete plan: the last (least-time) plan of each frontier; ties
  // → less memory → lower segment (= lower last strategy).
  const LayerFrontiers& last = layers[num_layers - 1];
  int32_t best = -1;
  for (int k = 0; k < last.segments(); ++k) {
    if (last.begin[k] == last.begin[k + 1]) continue;
    const int32_t idx = last.begin[k + 1] - 1;
    const PartialPlan& x = last.plans[idx];
    if (best < 0 || x.time < last.plans[best].time ||
        (x.time == last.plans[best].time && x.memory < last.plans[best].memory)) {
      best = idx;
    }
  }
  if (best < 0) return solution;
  solution.feasible = true;
  solution.time = last.plans[best].time;
  solution.memory = last.plans[best].memory;
  solution.strategy.assign(num_layers, -1);
  int32_t idx = best;
  for (int l = num_layers - 1; l >= 0; --l) {
    const PartialPlan& x = layers[l].plans[idx];
    solution.strategy[l] = x.strategy;
    idx = x.parent;
  }
  return solution;
}

// ---------------------------------------------------------------------------
// Dense reference (csrc/dp_core.cpp::dynamic_programming_core).

absl::StatusOr<StageDpSolution> SolveStageDpDense(const StageDpProblem& problem,
                                                  const DenseStageDpOptions& options) {
  if (absl::Status st = ValidateStageDpProblem(problem); !st.ok()) return st;
  const StageDpProblem& p = problem;
  const int num_layers = p.num_layers;
  const int n = p.num_strategies;
  constexpr uint16_t kNoMark = 0xFFFF;
  if (n >= kNoMark) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_strategies: the dense solver takes fewer than ", kNoMark, ", got ", n));
  }
  StageDpSolution solution;
  bool every_layer_usable = true;
  solution.min_memory = MinMemory(p, &every_layer_usable);
  if (p.budget < 0) return solution;  // Galvatron: remaining −1, cost inf
  if (num_layers == 0) {
    solution.feasible = true;
    solution.time = 0.0;
    return solution;
  }
  const int64_t rows = p.budget + 1;  // v ∈ [0, B]
  if (static_cast<double>(num_layers) * static_cast<double>(rows) * n >
      static_cast<double>(options.max_table_cells)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("dense stage DP: ", num_layers, " layers x ", rows, " memory values x ", n,
                     " strategies exceed max_table_cells = ", options.max_table_cells));
  }
  const size_t row_len = static_cast<size_t>(n);
  // f[v][s], initialised to 0: "the empty plan fits in any v".
  std::vector<double> f(static_cast<size_t>(rows) * row_len, 0.0);
  // mark[l−1][v][s] = argmin previous strategy, for layers 1..L−1.
  std::vector<uint16_t> mark(static_cast<size_t>(num_layers - 1) * static_cast<size_t>(rows) *
                             row_len);
  std::vector<double> switch_t(row_len * row_len, 0.0);  // switch_t[s][s'] for layer l
  std::vector<double> row(row_len);

  for (int l = 0; l < num_layers; ++l) {
    const bool with_switch = p.has_switch_cost() && l >= 1;
    if (with_switch) {
      for (int from = 0; from < n; ++from) {
        for (int to = 0; to < n; ++to) switch_t[to * row_len + from] = p.SwitchAt(l, from, to);
      }
    }
    uint16_t* mark_l = l == 0 ? nullptr : mark.data() + static_cast<size_t>(l - 1) * rows * row_len;
    for (int64_t v = rows - 1; v >= 0; --v) {
      // Galvatron writes straight into f's row v (the quirk); we write a copy.
      double* out = options.galvatron_zero_memory_quirk ? &f[v * row_len] : row.data();
      for (int s = 0; s < n; ++s) {
        const int64_t m = p.MemoryAt(l, s);
        if (v < m) {
          out[s] = kInf;
          if (mark_l != nullptr) mark_l[v * row_len + s] = kNoMark;
          continue;
        }
        const double* src = &f[(v - m) * row_len];
        const double t = p.TimeAt(l, s);
        double best;
        int arg = 0;
        if (with_switch) {
          const double* sw = &switch_t[s * row_len];
          best = (src[0] + sw[0]) + t;
          for (int from = 1; from < n; ++from) {
            const double c = (src[from] + sw[from]) + t;
            if (c < best) {
              best = c;
              arg = from;
            }
          }
        } else {
          best = src[0] + t;
          for (int from = 1; from < n; ++from) {
            const double c = src[from] + t;
            if (c < best) {
              best = c;
              arg = from;
            }
          }
        }
        out[s] = best;
        if (mark_l != nullptr) mark_l[v * row_len + s] = static_cast<uint16_t>(arg);
      }
      if (!options.galvatron_zero_memory_quirk) {
        std::copy(row.begin(), row.end(), f.begin() + v * row_len);
      }
    }
  }
  solution.states_explored = static_cast<int64_t>(num_layers) * rows * n;

  const double* final_row = &f[(rows - 1) * row_len];
  const int last = static_cast<int>(std::min_element(final_row, final_row + n) - final_row);
  if (!(final_row[last] < kInf)) return solution;
  solution.strategy.assign(num_layers, -1);
  solution.strategy[num_layers - 1] = last;
  int64_t v = rows - 1;
  int next = last;
  for (int l = num_layers - 1; l > 0; --l) {
    const int cur = next;
    next = mark[(static_cast<size_t>(l - 1) * rows + v) * row_len + cur];
    v -= p.MemoryAt(l, cur);
    if (next == kNoMark || v < 0) {
      // Only reachable with galvatron_zero_memory_quirk, where Galvatron itself
      // would read out of bounds.
      return absl::InternalError(absl::StrCat(
          "dense stage DP: inconsistent argmin table at layer ", l,
          (options.galvatron_zero_memory_quirk ? " (Galvatron's zero-memory in-place quirk)"
                                               : "")));
    }
    solution.strategy[l - 1] = next;
  }
  solution.feasible = true;
  solution.time = final_row[last];
  solution.memory = PlanMemory(p, solution.strategy);
  return solution;
}

}  // namespace galvatron::search
