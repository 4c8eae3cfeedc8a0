#include "planner/search/stage_dp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

// The least time of the remaining layers within a memory allowance, from
// the switch-free relaxation's frontier of those layers. The allowances
// from the frontier's least memory lo up are cut into buckets of 2^shift,
// and bucket_start[b] is the last plan of memory <= lo + b·2^shift: with
// about as many buckets as plans a lookup is O(1) on average, whatever the
// budget (a binary search per candidate was most of the solver's time).
class RestIndex {
 public:
  RestIndex() = default;
  // `rest` (null: no layers remain) must outlive the index.
  explicit RestIndex(const LayerFrontiers* rest) : rest_(rest) {
    if (rest == nullptr || rest->plans.empty()) return;
    const std::vector<PartialPlan>& f = rest->plans;
    const int64_t n = static_cast<int64_t>(f.size());
    lo_ = f.front().memory;
    const int64_t range = f.back().memory - lo_;
    while ((range >> shift_) > 2 * n) ++shift_;
    bucket_start_.resize(static_cast<size_t>((range >> shift_) + 1));
    int32_t i = 0;
    for (size_t b = 0; b < bucket_start_.size(); ++b) {
      const int64_t start = lo_ + (static_cast<int64_t>(b) << shift_);
      while (i + 1 < n && f[i + 1].memory <= start) ++i;
      bucket_start_[b] = i;
    }
  }

  // +inf when nothing fits; 0 when no layers remain.
  double Least(int64_t allowance) const {
    if (rest_ == nullptr) return 0;
    const std::vector<PartialPlan>& f = rest_->plans;
    if (f.empty() || allowance < lo_) return kInf;
    if (allowance >= f.back().memory) return f.back().time;
    const int32_t n = static_cast<int32_t>(f.size());
    int32_t i = bucket_start_[static_cast<size_t>((allowance - lo_) >> shift_)];
    while (i + 1 < n && f[i + 1].memory <= allowance) ++i;
    return f[i].time;
  }

 private:
  const LayerFrontiers* rest_ = nullptr;
  std::vector<int32_t> bucket_start_;
  int64_t lo_ = 0;
  int shift_ = 0;
};

// Drops partial plans whose every completion is slower than a known plan
// (branch and bound), by the relaxation's least completion time.
struct CompletionBound {
  const RestIndex* rest = nullptr;  // the layers after this one; null: none
  double switch_floor = 0;          // Σ of negative switch costs still possible
  double limit = kInf;              // a known plan's time + rounding slack
  int64_t budget = 0;

  bool Prunes(int64_t memory, double time) const {
    if (!(limit < kInf)) return false;
    const double rest_time = rest == nullptr ? 0.0 : rest->Least(budget - memory);
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
// time) tie acc's plan is kept. Counts the candidates generated. `cands` is
// scratch space. Returns false, leaving out alone, when the frontier is acc.
bool MergeCandidates(const std::vector<PartialPlan>& acc, const Extension& ext,
                     std::vector<PartialPlan>* cands, std::vector<PartialPlan>* out,
                     int64_t* explored) {
  // The candidates that fit the cap, take finite time and survive the bound,
  // in memory order (the source is sorted by memory).
  const size_t na = acc.size();
  if (na > 0 && ext.first < ext.last) {
    // Every candidate has memory >= m0 and time >= t0 (the source's times
    // fall with memory); when acc holds a plan of memory <= m0 and time <=
    // t0, it dominates every candidate (acc wins ties), so none is made.
    const int64_t m0 = ext.src[ext.first].memory + ext.memory;
    const double t0 = (ext.src[ext.last - 1].time + ext.switch_cost) + ext.time;
    const auto it = std::upper_bound(acc.begin(), acc.end(), m0,
                                     [](int64_t m, const PartialPlan& x) { return m < x.memory; });
    if (it != acc.begin() && std::prev(it)->time <= t0) return false;
  }
  if (cands->size() < static_cast<size_t>(ext.last - ext.first)) {
    cands->resize(static_cast<size_t>(ext.last - ext.first));
  }
  PartialPlan* c = cands->data();
  size_t nc = 0;
  const PartialPlan* src = ext.src;
  int32_t j = ext.first;
  for (; j < ext.last; ++j) {
    const int64_t mem = src[j].memory + ext.memory;
    if (mem > ext.memory_cap) break;  // nothing further fits
    // Same summation order as the dense kernel: (f + switch) + time.
    const double t = (src[j].time + ext.switch_cost) + ext.time;
    if (!(t < kInf)) continue;
    if (ext.bound != nullptr && ext.bound->Prunes(mem, t)) continue;
    // Field by field: a whole-struct store here stalled on store forwarding.
    c[nc].memory = mem;
    c[nc].time = t;
    c[nc].parent = j;
    c[nc].strategy = ext.strategy;
    ++nc;
  }
  *explored += j - ext.first;
  if (nc == 0) return false;
  if (na > 0) {
    // The acc plan of least time among those of memory <= the least
    // candidate memory: when it is no slower than the fastest candidate, it
    // dominates (or, acc winning ties, replaces) every candidate.
    const auto it = std::upper_bound(acc.begin(), acc.end(), c[0].memory,
                                     [](int64_t m, const PartialPlan& x) { return m < x.memory; });
    double fastest = c[0].time;
    for (size_t k = 1; k < nc; ++k) fastest = std::min(fastest, c[k].time);
    if (it != acc.begin() && std::prev(it)->time <= fastest) return false;
  }
  out->clear();
  out->reserve(na + nc);
  size_t i = 0, k = 0;
  double best = kInf;  // time of the last plan kept
  while (i < na && k < nc) {
    const PartialPlan& a = acc[i];
    const PartialPlan& b = c[k];
    if (a.memory < b.memory || (a.memory == b.memory && a.time <= b.time)) {
      if (a.time < best) {
        out->push_back(a);
        best = a.time;
      }
      ++i;
    } else {
      if (b.time < best) {
        out->push_back(b);
        best = b.time;
      }
      ++k;
    }
  }
  // acc's times fall strictly: past the first plan faster than `best`, all are.
  while (i < na && !(acc[i].time < best)) ++i;
  out->insert(out->end(), acc.begin() + static_cast<std::ptrdiff_t>(i), acc.end());
  for (; k < nc; ++k) {
    if (c[k].time < best) {
      out->push_back(c[k]);
      best = c[k].time;
    }
  }
  return true;
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

// Whether layers a and b have equal times, memories and incoming switch
// costs (bit for bit; b's block is compared only where both have one).
bool SameLayer(const StageDpProblem& p, int a, int b) {
  const size_t n = static_cast<size_t>(p.num_strategies);
  const auto row = [n](int l) { return static_cast<size_t>(l) * n; };
  if (std::memcmp(&p.time[row(a)], &p.time[row(b)], n * sizeof(double)) != 0) return false;
  if (!std::equal(p.memory.begin() + row(a), p.memory.begin() + row(a) + n,
                  p.memory.begin() + row(b)))
    return false;
  if (!p.has_switch_cost() || a == 0 || b == 0) return true;
  return std::memcmp(&p.switch_cost[row(a) * n], &p.switch_cost[row(b) * n],
                     n * n * sizeof(double)) == 0;
}

// same[l] = SameLayer(p, l − 1, l) (same[0] = false).
std::vector<char> SameAsPrevious(const StageDpProblem& p) {
  std::vector<char> same(p.num_layers, 0);
  for (int l = 1; l < p.num_layers; ++l) same[l] = SameLayer(p, l - 1, l) ? 1 : 0;
  return same;
}

// ActiveStrategies of every layer. A layer whose inputs (its costs, its
// incoming and outgoing switch costs) equal the previous layer's has the
// same active set: the S³ dominance test runs once per run of identical
// layers.
std::vector<std::vector<int>> ActivePerLayer(const StageDpProblem& p, bool prune, bool with_switch,
                                             const std::vector<char>& same) {
  const int num_layers = p.num_layers;
  std::vector<std::vector<int>> active(num_layers);
  for (int l = 0; l < num_layers; ++l) {
    const bool same_as_previous =
        l >= 1 && same[l] &&
        (!with_switch || !p.has_switch_cost() || (l >= 2 && l + 1 < num_layers && same[l + 1]));
    active[l] = same_as_previous ? active[l - 1] : ActiveStrategies(p, l, prune, with_switch);
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
                                        const std::vector<char>& same,
                                        std::vector<LayerFrontiers>* frontiers, int64_t* explored) {
  const int64_t max_states = options.max_states;
  const std::vector<std::vector<int>> active =
      ActivePerLayer(p, options.prune_dominated_strategies, /*with_switch=*/false, same);
  int64_t kept = 0;
  const PartialPlan root{0, 0.0, -1, -1};  // the empty plan
  std::vector<PartialPlan> acc;
  std::vector<PartialPlan> merged;
  std::vector<PartialPlan> scratch;
  frontiers->assign(order.size(), LayerFrontiers{});
  for (size_t i = 0; i < order.size(); ++i) {
    if (options.cancelled && options.cancelled()) return Cancelled();
    const int l = order[i];
    const PartialPlan* src = i == 0 ? &root : (*frontiers)[i - 1].plans.data();
    const int32_t src_size = i == 0 ? 1 : static_cast<int32_t>((*frontiers)[i - 1].plans.size());
    acc.clear();
    for (const int s : active[l]) {
      const Extension ext{src, 0,       src_size, p.MemoryAt(l, s), 0.0, p.TimeAt(l, s),
                          s,   caps[i], nullptr};
      if (MergeCandidates(acc, ext, &scratch, &merged, explored)) acc.swap(merged);
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

// Per layer: the largest finite |time| and |switch cost| (their sum over
// the layers is a scale for the rounding slack of the bound) and the least
// switch cost into the layer (0 at most). Layers equal to the previous one
// (`same`) copy its figures.
struct LayerScale {
  double worst_time = 0;
  double worst_switch = 0;
  double lowest_switch = 0;
};

std::vector<LayerScale> LayerScales(const StageDpProblem& p, const std::vector<char>& same) {
  const int n = p.num_strategies;
  std::vector<LayerScale> out(p.num_layers);
  for (int l = 0; l < p.num_layers; ++l) {
    if (l >= 2 && same[l]) {
      out[l] = out[l - 1];
      continue;
    }
    LayerScale& x = out[l];
    for (int s = 0; s < n; ++s) {
      if (p.TimeAt(l, s) < kInf) x.worst_time = std::max(x.worst_time, std::fabs(p.TimeAt(l, s)));
    }
    if (l == 0 || !p.has_switch_cost()) continue;
    const double* block = &p.switch_cost[static_cast<size_t>(l) * n * n];
    for (int i = 0; i < n * n; ++i) {
      const double c = block[i];
      x.lowest_switch = std::min(x.lowest_switch, c);
      if (c < kInf) x.worst_switch = std::max(x.worst_switch, std::fabs(c));
    }
  }
  return out;
}

// A good real plan, fast, to bound the optimum from above: a beam search
// over the layers keeping, per last strategy, the `width` partial plans of
// least time + the relaxation's least completion time (rest[l]: of the
// layers after l). Returns the plan's time (PlanTime), +inf when
// the beam ends with no plan.
double BeamUpperBound(const StageDpProblem& p, const std::vector<RestIndex>& rest,
                      const std::vector<std::vector<int>>& active, const std::vector<int64_t>& caps,
                      int width) {
  const int num_layers = p.num_layers;
  struct Node {
    int64_t memory;
    double time;
    double score;
    int32_t parent;
    int32_t strategy;
  };
  std::vector<std::vector<Node>> beams(num_layers);
  std::vector<Node> cands;
  for (int l = 0; l < num_layers; ++l) {
    for (const int s : active[l]) {
      cands.clear();
      auto add = [&](int32_t parent, int64_t memory, double time, double sc) {
        const int64_t mem = memory + p.MemoryAt(l, s);
        if (mem > caps[l]) return;
        const double t = (time + sc) + p.TimeAt(l, s);
        const double score = t + rest[l].Least(p.budget - mem);
        if (score < kInf) cands.push_back(Node{mem, t, score, parent, s});
      };
      if (l == 0) {
        add(-1, 0, 0.0, 0.0);
      } else {
        const std::vector<Node>& prev = beams[l - 1];
        for (size_t i = 0; i < prev.size(); ++i) {
          add(static_cast<int32_t>(i), prev[i].memory, prev[i].time,
              p.SwitchAt(l, prev[i].strategy, s));
        }
      }
      const size_t keep = std::min(cands.size(), static_cast<size_t>(width));
      std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep),
                        cands.end(), [](const Node& a, const Node& b) {
                          return a.score < b.score || (a.score == b.score && a.time < b.time);
                        });
      beams[l].insert(beams[l].end(), cands.begin(),
                      cands.begin() + static_cast<std::ptrdiff_t>(keep));
    }
    if (beams[l].empty()) return kInf;
  }
  const std::vector<Node>& last = beams[num_layers - 1];
  size_t best = 0;
  for (size_t i = 1; i < last.size(); ++i) {
    if (last[i].time < last[best].time) best = i;
  }
  std::vector<int> plan(num_layers);
  int32_t idx = static_cast<int32_t>(best);
  for (int l = num_layers - 1; l >= 0; --l) {
    plan[l] = beams[l][idx].strategy;
    idx = beams[l][idx].parent;
  }
  if (PlanMemory(p, plan) > p.budget) return kInf;
  return PlanTime(p, plan);
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
  // One branch-free pass first (L·S² entries); the loop below names the
  // culprit.
  bool bad = false;
  for (const double c : p.switch_cost) bad |= !(c > -kInf);  // NaN or −inf
  for (size_t i = 0; bad && i < p.switch_cost.size(); ++i) {
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

  const std::vector<char> same = SameAsPrevious(p);
  std::vector<LayerFrontiers> layers;
  if (!p.has_switch_cost()) {
    // Only (memory, time) of a prefix matters: one frontier per layer.
    absl::StatusOr<bool> ok =
        SingleFrontierPass(p, order, caps, options, same, &layers, &solution.states_explored);
    if (!ok.ok()) return ok.status();
    for (const LayerFrontiers& f : layers)
      solution.states_kept += static_cast<int64_t>(f.plans.size());
    if (!*ok) return solution;
  } else {
    // Branch and bound from the switch-free relaxation, solved backwards:
    // rest[i] = frontier of layers L−1−i..L−1, i.e. the least time of a
    // suffix for each memory allowance.
    std::vector<LayerFrontiers> rest;
    std::vector<RestIndex> rest_index(num_layers);  // of the layers after l
    CompletionBound bound_template;
    bound_template.budget = p.budget;
    std::vector<double> switch_floor(num_layers + 1, 0.0);
    const std::vector<std::vector<int>> active =
        ActivePerLayer(p, prune, /*with_switch=*/true, same);
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
      absl::StatusOr<bool> ok = SingleFrontierPass(p, backwards, back_caps, options, same, &rest,
                                                   &solution.states_explored);
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
      // The relaxation's plan may switch often; a beam search guided by the
      // relaxation usually finds a much better one (on Galvatron's LLaMA-2-7B
      // profiles the relaxation's plan was up to 27 % slower than the
      // optimum, the beam's within 1 %, and the DP then kept 7x fewer
      // partial plans). Wider beams found slightly better plans but cost
      // more than they saved. When the relaxation's plan pays no switch cost
      // it is optimal already.
      double upper = PlanTime(p, plan);
      for (int l = 0; l < num_layers; ++l) {
        rest_index[l] = RestIndex(l + 1 < num_layers ? &rest[num_layers - 2 - l] : nullptr);
      }
      if (upper > rest[num_layers - 1].plans.back().time) {
        upper = std::min(upper, BeamUpperBound(p, rest_index, active, caps, /*width=*/1));
      }
      // Rounding slack. The test compares computed sums, each off its exact
      // value by at most n·u·scale (n additions, unit roundoff u = 2^−53,
      // every partial sum within scale = Σ_l max |cost|; Higham, "Accuracy
      // and Stability of Numerical Algorithms", §4.2): a prefix (2 per
      // layer), the relaxation's completion (1 per layer), the switch floor
      // (1 per layer), their sum (2) and the upper bound (2 per layer) —
      // under 6L + 4 in all. Twice that keeps every prefix of every plan of
      // computed time <= upper (the optimum included). A looser slack only
      // keeps more partial plans; 1e-9·scale, the slack before, kept every
      // plan within Galvatron's 1e-10..3e-9 s tie-break biases of the bound.
      const std::vector<LayerScale> scales = LayerScales(p, same);
      double scale = 0;
      for (const LayerScale& x : scales) scale += x.worst_time + x.worst_switch;
      const double unit_roundoff = std::ldexp(1.0, -53);
      bound_template.limit = upper + 2.0 * (6.0 * num_layers + 4.0) * unit_roundoff * scale;
      for (int l = num_layers - 1; l >= 1; --l) {
        switch_floor[l] = switch_floor[l + 1] + scales[l].lowest_switch;
      }
    }

    std::vector<PartialPlan> acc;
    std::vector<PartialPlan> merged;
    std::vector<PartialPlan> scratch;
    const PartialPlan root{0, 0.0, -1, -1};
    layers.resize(num_layers);
    for (int l = 0; l < num_layers; ++l) {
      if (options.cancelled && options.cancelled()) return Cancelled();
      CompletionBound bound = bound_template;
      bound.rest = &rest_index[l];
      bound.switch_floor = switch_floor[l + 1];
      LayerFrontiers& cur = layers[l];
      for (const int s : active[l]) {
        acc.clear();
        // Extends the source frontier [first, last) of the previous layer.
        auto extend = [&](const PartialPlan* src, int32_t first, int32_t last, double sc) {
          const Extension ext{src, first,   last,  p.MemoryAt(l, s), sc, p.TimeAt(l, s),
                              s,   caps[l], &bound};
          if (MergeCandidates(acc, ext, &scratch, &merged, &solution.states_explored)) {
            acc.swap(merged);
          }
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

// ---------------------------------------------------------------------------
// Cache.

std::string StageDpCache::Key(const StageDpProblem& p) {
  std::string key;
  auto append = [&key](const void* data, size_t bytes) {
    key.append(static_cast<const char*>(data), bytes);
  };
  const int64_t header[] = {p.num_layers, p.num_strategies, p.budget, p.has_switch_cost() ? 1 : 0};
  append(header, sizeof header);
  const size_t n = static_cast<size_t>(p.num_strategies);
  int l = 0;
  while (l < p.num_layers) {
    // The run of layers equal to l (layer 0's switch costs are unused, so
    // with switch costs it stands alone).
    int end = l + 1;
    const bool own_switch = p.has_switch_cost() && l > 0;
    while (end < p.num_layers && (own_switch || !p.has_switch_cost()) && SameLayer(p, l, end)) {
      ++end;
    }
    const int64_t run = end - l;
    append(&run, sizeof run);
    append(&p.time[static_cast<size_t>(l) * n], n * sizeof(double));
    append(&p.memory[static_cast<size_t>(l) * n], n * sizeof(int64_t));
    if (own_switch) append(&p.switch_cost[static_cast<size_t>(l) * n * n], n * n * sizeof(double));
    l = end;
  }
  return key;
}

std::optional<StageDpSolution> StageDpCache::Find(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  const auto it = solutions_.find(key);
  if (it == solutions_.end()) return std::nullopt;
  return it->second;
}

void StageDpCache::Insert(std::string key, const StageDpSolution& solution) {
  absl::MutexLock lock(&mu_);
  if (key_bytes_ + key.size() > max_key_bytes_) return;
  key_bytes_ += key.size();
  solutions_.emplace(std::move(key), solution);
}

size_t StageDpCache::size() const {
  absl::MutexLock lock(&mu_);
  return solutions_.size();
}

}  // namespace galvatron::search
