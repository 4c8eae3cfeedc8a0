// The per-stage DP: the Pareto solver and the dense reference against brute
// force on many small random instances, plus properties and edge cases.
#include "planner/search/stage_dp.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace galvatron::search {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Describe(const StageDpProblem& p) {
  std::ostringstream os;
  os.precision(17);
  os << "L=" << p.num_layers << " S=" << p.num_strategies << " budget=" << p.budget << "\n";
  for (int l = 0; l < p.num_layers; ++l) {
    os << " layer " << l << ":";
    for (int s = 0; s < p.num_strategies; ++s) {
      os << " (m=" << p.MemoryAt(l, s) << " t=" << p.TimeAt(l, s) << ")";
    }
    os << "\n";
    if (p.has_switch_cost() && l > 0) {
      for (int a = 0; a < p.num_strategies; ++a) {
        os << "  switch from " << a << ":";
        for (int b = 0; b < p.num_strategies; ++b) os << " " << p.SwitchAt(l, a, b);
        os << "\n";
      }
    }
  }
  return os.str();
}

// The plan's time in the solvers' summation order: ((t + switch) + time).
double PlanTime(const StageDpProblem& p, const std::vector<int>& plan) {
  double t = 0.0;
  for (int l = 0; l < p.num_layers; ++l) {
    const double sw = l == 0 ? 0.0 : p.SwitchAt(l, plan[l - 1], plan[l]);
    t = (t + sw) + p.TimeAt(l, plan[l]);
  }
  return t;
}

int64_t PlanMemory(const StageDpProblem& p, const std::vector<int>& plan) {
  int64_t m = 0;
  for (int l = 0; l < p.num_layers; ++l) m += p.MemoryAt(l, plan[l]);
  return m;
}

struct BruteForce {
  bool feasible = false;
  double time = kInf;
  int64_t memory = 0;     // least memory among plans of time `time`
  std::vector<int> plan;  // of those, the lowest by (s_{L-1}, s_{L-2}, ...)
};

// Every one of S^L plans.
BruteForce Enumerate(const StageDpProblem& p) {
  BruteForce best;
  const int n = p.num_strategies;
  std::vector<int> plan(p.num_layers, 0);
  auto reversed_less = [](const std::vector<int>& a, const std::vector<int>& b) {
    return std::lexicographical_compare(a.rbegin(), a.rend(), b.rbegin(), b.rend());
  };
  while (true) {
    const int64_t m = PlanMemory(p, plan);
    const double t = PlanTime(p, plan);
    if (m <= p.budget && t < kInf) {
      if (!best.feasible || t < best.time || (t == best.time && m < best.memory) ||
          (t == best.time && m == best.memory && reversed_less(plan, best.plan))) {
        best.feasible = true;
        best.time = t;
        best.memory = m;
        best.plan = plan;
      }
    }
    int l = 0;
    while (l < p.num_layers && ++plan[l] == n) plan[l++] = 0;
    if (l == p.num_layers) break;
  }
  return best;
}

struct InstanceShape {
  int max_layers = 6;
  int max_strategies = 5;
  int max_memory = 6;
  bool dyadic_times = false;  // multiples of 1/4: sums are exact in binary
};

// A small random instance: zero memories, ties, +inf times and switch costs
// appear often; budgets range from infeasible to loose.
StageDpProblem RandomInstance(uint32_t seed, const InstanceShape& shape = {}) {
  std::mt19937 rng(seed);
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&rng](double p) { return std::bernoulli_distribution(p)(rng); };
  StageDpProblem p;
  const bool with_switch = chance(0.5);
  // Now and then switch costs that are credits (< 0): allowed, if unusual.
  const bool negative_switch = with_switch && !shape.dyadic_times && chance(0.1);
  p.Resize(uniform(1, shape.max_layers), uniform(1, shape.max_strategies), with_switch);
  auto random_time = [&]() -> double {
    if (shape.dyadic_times) return uniform(0, 40) / 4.0;
    return chance(0.3) ? uniform(0, 5) : std::uniform_real_distribution<double>(0.001, 0.05)(rng);
  };
  int64_t max_total = 0;
  for (int l = 0; l < p.num_layers; ++l) {
    int64_t max_here = 0;
    for (int s = 0; s < p.num_strategies; ++s) {
      p.MemoryAt(l, s) = chance(0.25) ? 0 : uniform(0, shape.max_memory);
      p.TimeAt(l, s) = chance(0.05) ? kInf : random_time();
      max_here = std::max(max_here, p.MemoryAt(l, s));
    }
    max_total += max_here;
    if (with_switch && l > 0) {
      for (int a = 0; a < p.num_strategies; ++a) {
        for (int b = 0; b < p.num_strategies; ++b) {
          if (a == b || chance(0.3)) continue;  // often free, like Galvatron's
          p.SwitchAt(l, a, b) = chance(0.03) ? kInf : random_time() / 2;
          if (negative_switch && chance(0.5)) p.SwitchAt(l, a, b) = -random_time() / 4;
        }
      }
    }
  }
  p.budget = uniform(-1, static_cast<int>(max_total) + 1);
  return p;
}

StageDpOptions Options(bool prune, bool bound) {
  StageDpOptions o;
  o.prune_dominated_strategies = prune;
  o.bound_with_relaxation = bound;
  return o;
}

StageDpSolution Solve(const StageDpProblem& p, const StageDpOptions& o = {}) {
  absl::StatusOr<StageDpSolution> s = SolveStageDp(p, o);
  REQUIRE(s.ok());
  return *s;
}

StageDpSolution SolveDense(const StageDpProblem& p, const DenseStageDpOptions& o = {}) {
  absl::StatusOr<StageDpSolution> s = SolveStageDpDense(p, o);
  REQUIRE(s.ok());
  return *s;
}

bool CloseTo(double a, double b) {
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-12 * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

// The solution is a plan that fits and costs what it says.
void CheckSelfConsistent(const StageDpProblem& p, const StageDpSolution& s) {
  if (!s.feasible) {
    CHECK(s.strategy.empty());
    return;
  }
  REQUIRE(s.strategy.size() == static_cast<size_t>(p.num_layers));
  for (const int x : s.strategy) REQUIRE((x >= 0 && x < p.num_strategies));
  CHECK(PlanMemory(p, s.strategy) == s.memory);
  CHECK(s.memory <= p.budget);
  CHECK(PlanTime(p, s.strategy) == s.time);
}

TEST_CASE("Pareto and dense DP equal brute force on random instances") {
  constexpr int kInstances = 1500;
  int feasible = 0;
  int infeasible = 0;
  int with_switch = 0;
  int bound_helped = 0;
  for (int i = 0; i < kInstances; ++i) {
    const uint32_t seed = 1000 + i;
    const StageDpProblem p = RandomInstance(seed);
    INFO("seed " << seed << "\n" << Describe(p));
    const BruteForce want = Enumerate(p);
    const StageDpSolution fast = Solve(p);
    const StageDpSolution dense = SolveDense(p);
    REQUIRE(fast.feasible == want.feasible);
    REQUIRE(dense.feasible == want.feasible);
    CheckSelfConsistent(p, fast);
    CheckSelfConsistent(p, dense);
    if (want.feasible) {
      ++feasible;
      CHECK(CloseTo(fast.time, want.time));
      CHECK(CloseTo(dense.time, want.time));
      // Same summation order everywhere: the optimum is bit-identical.
      CHECK(fast.time == want.time);
      CHECK(dense.time == want.time);
      // Pareto tie-breaking: least memory among the fastest plans.
      CHECK(fast.memory == want.memory);
    }
    if (p.has_switch_cost() &&
        Solve(p, Options(true, true)).states_kept < Solve(p, Options(true, false)).states_kept) {
      ++bound_helped;
    }
    // Every pruning on or off: the same optimum.
    for (const bool prune : {false, true}) {
      for (const bool bound : {false, true}) {
        INFO("prune " << prune << " bound " << bound);
        const StageDpSolution other = Solve(p, Options(prune, bound));
        REQUIRE(other.feasible == want.feasible);
        CheckSelfConsistent(p, other);
        if (!want.feasible) continue;
        CHECK(other.time == want.time);
        CHECK(other.memory == want.memory);
        if (prune) CHECK(other.strategy == fast.strategy);
      }
    }
    if (!want.feasible) {
      ++infeasible;
      CHECK(fast.time == kInf);
    }
    CHECK(fast.min_memory == dense.min_memory);
    if (p.has_switch_cost()) ++with_switch;
  }
  // The generator covers both outcomes and both kinds of instance.
  CHECK(feasible > 300);
  CHECK(infeasible > 100);
  CHECK(with_switch > 300);
  CHECK(bound_helped > 50);  // the branch and bound is exercised
}

TEST_CASE("medium instances: Pareto equals dense") {
  // Too big for brute force: 6..14 layers, 4..12 strategies, memories up to
  // 400, real-valued times, mostly with switch costs.
  int feasible = 0;
  for (int i = 0; i < 60; ++i) {
    const uint32_t seed = 30000 + i;
    std::mt19937 rng(seed);
    auto uniform = [&rng](int lo, int hi) {
      return std::uniform_int_distribution<int>(lo, hi)(rng);
    };
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    StageDpProblem p;
    p.Resize(uniform(6, 14), uniform(4, 12), i % 4 != 0);
    int64_t total = 0;
    for (int l = 0; l < p.num_layers; ++l) {
      for (int s = 0; s < p.num_strategies; ++s) {
        const double x = unit(rng);
        p.MemoryAt(l, s) = uniform(0, 10) == 0 ? 0 : static_cast<int64_t>(1 + 399 * x);
        p.TimeAt(l, s) = 0.001 + 0.05 * (1 - x) * (0.5 + unit(rng));
        total += p.MemoryAt(l, s);
        if (!p.has_switch_cost() || l == 0) continue;
        for (int a = 0; a < p.num_strategies; ++a) {
          if (a != s && unit(rng) < 0.6) p.SwitchAt(l, a, s) = unit(rng) * 0.004;
        }
      }
    }
    p.budget = total / p.num_strategies * uniform(5, 15) / 10;
    INFO("seed " << seed << "\n" << Describe(p));
    const StageDpSolution dense = SolveDense(p);
    feasible += dense.feasible ? 1 : 0;
    for (const bool prune : {false, true}) {
      for (const bool bound : {false, true}) {
        const StageDpSolution fast = Solve(p, Options(prune, bound));
        REQUIRE(fast.feasible == dense.feasible);
        CheckSelfConsistent(p, fast);
        if (dense.feasible) CHECK(fast.time == dense.time);
      }
    }
  }
  CHECK(feasible > 40);
}

TEST_CASE("Pareto tie-breaking picks the documented plan") {
  // Dyadic times make every sum exact, so ties are real ties.
  InstanceShape shape;
  shape.dyadic_times = true;
  for (int i = 0; i < 400; ++i) {
    const uint32_t seed = 50000 + i;
    const StageDpProblem p = RandomInstance(seed, shape);
    INFO("seed " << seed << "\n" << Describe(p));
    const BruteForce want = Enumerate(p);
    for (const bool bound : {false, true}) {
      INFO("bound " << bound);
      const StageDpSolution got = Solve(p, Options(false, bound));
      REQUIRE(got.feasible == want.feasible);
      if (!want.feasible) continue;
      CHECK(got.time == want.time);
      CHECK(got.memory == want.memory);
      CHECK(got.strategy == want.plan);
    }
    if (!want.feasible) continue;
    // Pruning may pick another plan, never a worse one.
    const StageDpSolution pruned = Solve(p);
    CHECK(pruned.time == want.time);
    CHECK(pruned.memory == want.memory);
    // Deterministic.
    CHECK(Solve(p).strategy == pruned.strategy);
  }
}

TEST_CASE("a cancelled stage DP stops with CANCELLED") {
  for (const bool with_switch : {false, true}) {
    StageDpProblem p;
    p.Resize(8, 3, with_switch);
    for (int l = 0; l < 8; ++l) {
      for (int s = 0; s < 3; ++s) {
        p.MemoryAt(l, s) = s + 1;
        p.TimeAt(l, s) = 1.0 / (s + 1);
      }
    }
    p.budget = 16;
    StageDpOptions options;
    int asked = 0;
    options.cancelled = [&asked] { return ++asked > 3; };
    absl::StatusOr<StageDpSolution> solved = SolveStageDp(p, options);
    INFO("with switch costs: " << with_switch);
    CHECK(solved.status().code() == absl::StatusCode::kCancelled);
    options.cancelled = [] { return false; };
    solved = SolveStageDp(p, options);
    REQUIRE(solved.ok());
    CHECK(solved->feasible);
  }
}

TEST_CASE("more budget never raises the optimum") {
  for (int i = 0; i < 300; ++i) {
    const uint32_t seed = 70000 + i;
    StageDpProblem p = RandomInstance(seed);
    INFO("seed " << seed << "\n" << Describe(p));
    const StageDpSolution base = Solve(p);
    for (const int64_t extra : {1, 2, 5, 100}) {
      p.budget += extra;
      const StageDpSolution more = Solve(p);
      if (base.feasible) {
        REQUIRE(more.feasible);
        CHECK(more.time <= base.time);
      }
      p.budget -= extra;
    }
  }
}

TEST_CASE("removing a strategy never lowers the optimum") {
  for (int i = 0; i < 300; ++i) {
    const uint32_t seed = 80000 + i;
    const StageDpProblem p = RandomInstance(seed);
    if (p.num_strategies < 2) continue;
    INFO("seed " << seed << "\n" << Describe(p));
    const StageDpSolution base = Solve(p);
    for (int removed = 0; removed < p.num_strategies; ++removed) {
      StageDpProblem q;
      const int n = p.num_strategies - 1;
      q.Resize(p.num_layers, n, p.has_switch_cost());
      q.budget = p.budget;
      auto old_index = [removed](int s) { return s < removed ? s : s + 1; };
      for (int l = 0; l < p.num_layers; ++l) {
        for (int s = 0; s < n; ++s) {
          q.TimeAt(l, s) = p.TimeAt(l, old_index(s));
          q.MemoryAt(l, s) = p.MemoryAt(l, old_index(s));
          if (!q.has_switch_cost()) continue;
          for (int t = 0; t < n; ++t)
            q.SwitchAt(l, s, t) = p.SwitchAt(l, old_index(s), old_index(t));
        }
      }
      const StageDpSolution fewer = Solve(q);
      if (fewer.feasible) {
        REQUIRE(base.feasible);
        CHECK(fewer.time >= base.time);
      }
    }
  }
}

TEST_CASE("Galvatron's in-place dense update is exact only without zero memory") {
  int differs = 0;
  for (int i = 0; i < 600; ++i) {
    const uint32_t seed = 90000 + i;
    StageDpProblem p = RandomInstance(seed);
    INFO("seed " << seed << "\n" << Describe(p));
    DenseStageDpOptions quirk;
    quirk.galvatron_zero_memory_quirk = true;
    const absl::StatusOr<StageDpSolution> galvatron = SolveStageDpDense(p, quirk);
    const StageDpSolution ours = SolveDense(p);
    if (!galvatron.ok()) {
      // The in-place table can even break its own backtrack (Galvatron would
      // index with a −1 mark); we say so instead.
      CHECK(absl::IsInternal(galvatron.status()));
      ++differs;
    } else if (galvatron->feasible != ours.feasible || galvatron->time != ours.time ||
               galvatron->strategy != ours.strategy) {
      ++differs;
    }
    // With every memory >= 1 the two kernels are the same computation.
    for (int64_t& m : p.memory) m += 1;
    p.budget += p.num_layers;
    const StageDpSolution galvatron1 = SolveDense(p, quirk);
    const StageDpSolution ours1 = SolveDense(p);
    CHECK(galvatron1.feasible == ours1.feasible);
    CHECK(galvatron1.time == ours1.time);
    CHECK(galvatron1.strategy == ours1.strategy);
  }
  CHECK(differs > 0);  // the quirk is real, and the option reproduces it
}

TEST_CASE("a hand-made instance where the quirk undercounts") {
  // Layer 1 has two zero-memory strategies. In place, f[v][1] of layer 1 reads
  // f[v][0] of layer 1 itself: the path 1 →(layer 1: 0)→ 1 passes layer 1
  // twice and dodges the expensive 1→1 switch, which layer 2 then exploits.
  StageDpProblem p;
  p.Resize(3, 2, true);
  p.budget = 2;
  for (int s = 0; s < 2; ++s) {
    p.MemoryAt(0, s) = 1;
    p.MemoryAt(1, s) = 0;
    p.MemoryAt(2, s) = 1;
  }
  p.TimeAt(0, 0) = 100;
  p.TimeAt(0, 1) = 1;
  p.TimeAt(1, 0) = 0;
  p.TimeAt(1, 1) = 0;
  p.TimeAt(2, 0) = 10;
  p.TimeAt(2, 1) = 1;
  p.SwitchAt(1, 1, 0) = 3;
  p.SwitchAt(1, 1, 1) = 5;
  p.SwitchAt(2, 0, 1) = 10;
  INFO(Describe(p));
  const BruteForce want = Enumerate(p);
  REQUIRE(want.feasible);
  CHECK(want.time == 7);  // 1 + 5 + 0 + 0 + 1 with plan 1,1,1
  CHECK(want.plan == std::vector<int>{1, 1, 1});
  const StageDpSolution ours = SolveDense(p);
  CHECK(ours.time == 7);
  CHECK(ours.strategy == want.plan);
  CHECK(Solve(p).time == 7);
  CHECK(Solve(p).strategy == want.plan);

  DenseStageDpOptions quirk;
  quirk.galvatron_zero_memory_quirk = true;
  const StageDpSolution galvatron = SolveDense(p, quirk);
  REQUIRE(galvatron.feasible);
  CHECK(galvatron.time == 5);  // 1 + 3 + 0 + (0 + 0) + 0 + 1: not a real plan
  CHECK(galvatron.strategy == std::vector<int>{0, 1, 1});
  CHECK(PlanTime(p, galvatron.strategy) == 101);  // what that plan really costs
}

TEST_CASE("edge cases") {
  SECTION("empty stage") {
    StageDpProblem p;
    p.Resize(0, 3, false);
    p.budget = 0;
    for (const StageDpSolution& s : {Solve(p), SolveDense(p)}) {
      CHECK(s.feasible);
      CHECK(s.time == 0);
      CHECK(s.strategy.empty());
    }
    p.budget = -1;
    CHECK(!Solve(p).feasible);
    CHECK(!SolveDense(p).feasible);
  }
  SECTION("negative budget, and min_memory for the reason") {
    StageDpProblem p;
    p.Resize(2, 2, false);
    p.MemoryAt(0, 0) = 3;
    p.MemoryAt(0, 1) = 5;
    p.MemoryAt(1, 0) = 4;
    p.MemoryAt(1, 1) = 2;
    p.budget = -5;
    const StageDpSolution s = Solve(p);
    CHECK(!s.feasible);
    CHECK(s.min_memory == 5);
    CHECK(!SolveDense(p).feasible);
    p.budget = 4;
    CHECK(!Solve(p).feasible);
    p.budget = 5;
    CHECK(Solve(p).strategy == std::vector<int>{0, 1});
  }
  SECTION("all-zero memory with budget 0") {
    StageDpProblem p;
    p.Resize(3, 2, true);
    p.budget = 0;
    p.TimeAt(0, 0) = 1;
    p.TimeAt(0, 1) = 2;
    p.TimeAt(1, 0) = 3;
    p.TimeAt(1, 1) = 1;
    p.TimeAt(2, 0) = 1;
    p.TimeAt(2, 1) = 1;
    p.SwitchAt(1, 0, 1) = 0.5;
    p.SwitchAt(2, 1, 0) = 0.25;
    const BruteForce want = Enumerate(p);
    CHECK(Solve(p).time == want.time);
    CHECK(SolveDense(p).time == want.time);
    CHECK(Solve(p).strategy == want.plan);
  }
  SECTION("infinite times mark unusable strategies") {
    StageDpProblem p;
    p.Resize(2, 2, false);
    p.budget = 100;
    p.TimeAt(0, 0) = kInf;
    p.TimeAt(0, 1) = 5;
    p.TimeAt(1, 0) = 1;
    p.TimeAt(1, 1) = kInf;
    CHECK(Solve(p).strategy == std::vector<int>{1, 0});
    CHECK(SolveDense(p).strategy == std::vector<int>{1, 0});
    p.TimeAt(0, 1) = kInf;  // layer 0 has nothing usable
    CHECK(!Solve(p).feasible);
    CHECK(!SolveDense(p).feasible);
  }
  SECTION("dominated strategies are pruned but switch costs can keep them") {
    // Strategy 1 is worse than 0 in memory and time on every layer, but the
    // switch into layer 1's strategy 1 is cheap only from strategy 1.
    StageDpProblem p;
    p.Resize(2, 2, true);
    p.budget = 100;
    p.TimeAt(0, 0) = 1;
    p.TimeAt(0, 1) = 2;
    p.MemoryAt(0, 0) = 1;
    p.MemoryAt(0, 1) = 2;
    p.TimeAt(1, 0) = 10;
    p.TimeAt(1, 1) = 1;
    p.SwitchAt(1, 0, 1) = 50;
    p.SwitchAt(1, 1, 1) = 0;
    const StageDpSolution s = Solve(p);
    CHECK(s.strategy == std::vector<int>{1, 1});
    CHECK(s.time == 3);
  }
}

TEST_CASE("invalid problems are refused") {
  StageDpProblem p;
  p.Resize(2, 2, true);
  SECTION("size mismatch") {
    p.time.pop_back();
    CHECK(absl::IsInvalidArgument(SolveStageDp(p).status()));
    CHECK(absl::IsInvalidArgument(SolveStageDpDense(p).status()));
  }
  SECTION("switch cost size") {
    p.switch_cost.resize(3);
    CHECK(absl::IsInvalidArgument(SolveStageDp(p).status()));
  }
  SECTION("negative memory") {
    p.MemoryAt(1, 1) = -1;
    const absl::Status st = SolveStageDp(p).status();
    CHECK(absl::IsInvalidArgument(st));
    CHECK(st.message().find("memory[3]") != std::string::npos);
  }
  SECTION("NaN time") {
    p.TimeAt(0, 1) = std::nan("");
    CHECK(absl::IsInvalidArgument(SolveStageDp(p).status()));
  }
  SECTION("-inf switch cost") {
    p.SwitchAt(1, 0, 1) = -kInf;
    CHECK(absl::IsInvalidArgument(SolveStageDp(p).status()));
  }
  SECTION("too many Pareto states") {
    StageDpOptions o;
    o.max_states = 1;
    p.budget = 10;
    CHECK(absl::IsResourceExhausted(SolveStageDp(p, o).status()));
    p.switch_cost.clear();
    CHECK(absl::IsResourceExhausted(SolveStageDp(p, o).status()));
  }
  SECTION("dense table too large") {
    p.budget = int64_t{1} << 40;
    CHECK(absl::IsResourceExhausted(SolveStageDpDense(p).status()));
    CHECK(SolveStageDp(p).ok());  // the Pareto solver does not care
  }
}

TEST_CASE("a realistic stage: Pareto and dense agree") {
  // 8 layers x 12 strategies, MB memories, ms times, Galvatron-like tie-break
  // switch costs; small enough for the dense table.
  std::mt19937 rng(7);
  StageDpProblem p;
  p.Resize(8, 12, true);
  for (int l = 0; l < 8; ++l) {
    for (int s = 0; s < 12; ++s) {
      p.MemoryAt(l, s) = std::uniform_int_distribution<int>(100, 3000)(rng);
      p.TimeAt(l, s) = std::uniform_real_distribution<double>(0.001, 0.05)(rng);
      if (l == 0) continue;
      for (int t = 0; t < 12; ++t) p.SwitchAt(l, s, t) = s == t ? 0 : 1e-9 * ((s + t) % 3);
    }
  }
  for (const int64_t budget : {500, 3000, 8000, 12000, 30000}) {
    p.budget = budget;
    INFO("budget " << budget);
    const StageDpSolution fast = Solve(p);
    const StageDpSolution dense = SolveDense(p);
    REQUIRE(fast.feasible == dense.feasible);
    if (!fast.feasible) continue;
    CHECK(fast.time == dense.time);
    CheckSelfConsistent(p, fast);
    CHECK(fast.states_explored < dense.states_explored);
  }
}

// A stage of identical layers with Galvatron-like switch costs: strategies
// fall into tp_sp classes, switching inside a class costs a tie-break bias
// (1e-10..3e-9 s), across classes a real re-layout time — so the switch-free
// relaxation's plan mixes classes and pays for it, and the beam search's
// upper bound matters.
StageDpProblem IdenticalLayersWithClasses(uint32_t seed, int layers, int strategies) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  StageDpProblem p;
  p.Resize(layers, strategies, true);
  std::vector<int> cls(strategies);
  std::vector<double> t(strategies);
  std::vector<int64_t> m(strategies);
  for (int s = 0; s < strategies; ++s) {
    cls[s] = static_cast<int>(unit(rng) * 4);
    const double x = unit(rng);
    m[s] = 50 + static_cast<int64_t>(950 * x);
    t[s] = 0.002 + 0.03 * (1 - x) * (0.6 + 0.8 * unit(rng));
  }
  for (int l = 0; l < layers; ++l) {
    for (int s = 0; s < strategies; ++s) {
      p.MemoryAt(l, s) = m[s];
      p.TimeAt(l, s) = t[s];
      if (l == 0) continue;
      for (int a = 0; a < strategies; ++a) {
        p.SwitchAt(l, a, s) = a == s             ? 0.0
                              : cls[a] == cls[s] ? 1e-10 * ((a + s) % 4)
                                                 : 0.002 * (1 + std::max(cls[a], cls[s]));
      }
    }
  }
  int64_t total = 0;
  for (int s = 0; s < strategies; ++s) total += m[s];
  p.budget = total / strategies * layers * static_cast<int64_t>(3 + seed % 8) / 10;
  return p;
}

TEST_CASE("identical layers with class switch costs: Pareto equals dense, bound or not") {
  int feasible = 0;
  int mixed_plans = 0;
  for (int i = 0; i < 40; ++i) {
    const uint32_t seed = 70000 + i;
    const StageDpProblem p = IdenticalLayersWithClasses(seed, 6 + i % 10, 6 + i % 9);
    INFO("seed " << seed << "\n" << Describe(p));
    const StageDpSolution dense = SolveDense(p);
    const StageDpSolution bounded = Solve(p);
    const StageDpSolution unbounded = Solve(p, Options(true, false));
    REQUIRE(bounded.feasible == dense.feasible);
    REQUIRE(unbounded.feasible == dense.feasible);
    if (!dense.feasible) continue;
    ++feasible;
    CheckSelfConsistent(p, bounded);
    CHECK(bounded.time == dense.time);
    // The bound never changes the plan, only the work.
    CHECK(bounded.strategy == unbounded.strategy);
    CHECK(bounded.memory == unbounded.memory);
    CHECK(bounded.states_kept <= unbounded.states_kept);
    // Count the optima that use more than one strategy (switch costs, and
    // the biases' tie-breaking, then matter).
    if (std::count(bounded.strategy.begin(), bounded.strategy.end(), bounded.strategy[0]) !=
        static_cast<long>(bounded.strategy.size())) {
      ++mixed_plans;
    }
  }
  CHECK(feasible > 25);
  CHECK(mixed_plans > 5);
}

TEST_CASE("memories scaled by a large factor give the same plan") {
  // Large memory values spread the relaxation's frontier over a wide range:
  // the completion bound's bucket index then holds several memory units per
  // bucket (and scans inside one).
  for (int i = 0; i < 200; ++i) {
    const uint32_t seed = 90000 + i;
    StageDpProblem p = RandomInstance(seed);
    INFO("seed " << seed << "\n" << Describe(p));
    const StageDpSolution small = Solve(p);
    for (int64_t& m : p.memory) m *= 1000003;
    p.budget = p.budget < 0 ? p.budget : p.budget * 1000003 + 1000002;
    const StageDpSolution large = Solve(p);
    REQUIRE(large.feasible == small.feasible);
    if (!small.feasible) continue;
    CHECK(large.time == small.time);
    CHECK(large.strategy == small.strategy);
    CHECK(large.memory == small.memory * 1000003);
  }
}

TEST_CASE("StageDpCache: keys are the problem's contents, hits return the stored solution") {
  StageDpProblem p = IdenticalLayersWithClasses(5, 12, 8);
  const std::string key = StageDpCache::Key(p);
  SECTION("equal problems, equal keys; any change, another key") {
    StageDpProblem q = p;
    CHECK(StageDpCache::Key(q) == key);
    q.budget += 1;
    CHECK(StageDpCache::Key(q) != key);
    q = p;
    q.SwitchAt(7, 2, 3) += 1e-12;
    CHECK(StageDpCache::Key(q) != key);
    q = p;
    q.TimeAt(11, 0) = std::nextafter(q.TimeAt(11, 0), 1.0);
    CHECK(StageDpCache::Key(q) != key);
    q = p;
    q.MemoryAt(3, 4) += 1;
    CHECK(StageDpCache::Key(q) != key);
    // Layer 0's switch costs are never used: they do not count.
    q = p;
    q.SwitchAt(0, 1, 2) = 5;
    CHECK(StageDpCache::Key(q) == key);
  }
  SECTION("runs of identical layers are stored once") {
    StageDpProblem longer = IdenticalLayersWithClasses(5, 48, 8);
    longer.budget = p.budget;
    CHECK(StageDpCache::Key(longer).size() == key.size());
    longer.TimeAt(20, 1) += 1e-6;  // splits the run in three
    CHECK(StageDpCache::Key(longer).size() > key.size());
  }
  SECTION("find, insert, the byte limit") {
    StageDpCache cache(/*max_key_bytes=*/key.size() + 1);
    CHECK_FALSE(cache.Find(key).has_value());
    const StageDpSolution solved = Solve(p);
    cache.Insert(key, solved);
    const std::optional<StageDpSolution> hit = cache.Find(key);
    REQUIRE(hit.has_value());
    CHECK(hit->time == solved.time);
    CHECK(hit->strategy == solved.strategy);
    StageDpProblem q = p;
    q.budget -= 1;
    cache.Insert(StageDpCache::Key(q), Solve(q));  // over the limit: not kept
    CHECK(cache.size() == 1);
    CHECK_FALSE(cache.Find(StageDpCache::Key(q)).has_value());
  }
  SECTION("threads share it") {
    StageDpCache cache;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&cache, t, &p] {
        for (int b = 0; b < 20; ++b) {
          StageDpProblem q = p;
          q.budget = p.budget + b;
          const std::string k = StageDpCache::Key(q);
          if (!cache.Find(k)) {
            absl::StatusOr<StageDpSolution> s = SolveStageDp(q);
            if (s.ok()) cache.Insert(k, *s);
          }
          (void)t;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    CHECK(cache.size() == 20);
  }
}

}  // namespace
}  // namespace galvatron::search
