#include "planner/search/partition.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

namespace galvatron::search {
namespace {

double MaxStage(const std::vector<double>& w, const std::vector<double>& extra,
                const std::vector<int>& division) {
  double worst = 0;
  size_t start = 0;
  for (size_t k = 0; k < division.size(); ++k) {
    double sum = extra[k];
    for (int i = 0; i < division[k]; ++i) sum += w[start + i];
    worst = std::max(worst, sum);
    start += division[k];
  }
  return worst;
}

// Every split of n layers into `parts` non-empty runs.
void AllDivisions(int n, int parts, std::vector<int>* current,
                  const std::function<void(const std::vector<int>&)>& visit) {
  if (parts == 1) {
    current->push_back(n);
    visit(*current);
    current->pop_back();
    return;
  }
  for (int first = 1; first <= n - (parts - 1); ++first) {
    current->push_back(first);
    AllDivisions(n - first, parts - 1, current, visit);
    current->pop_back();
  }
}

}  // namespace

TEST_CASE("even partition follows Galvatron: the rest goes to the last stage") {
  CHECK(EvenPartition(32, 4) == std::vector<int>{8, 8, 8, 8});
  CHECK(EvenPartition(30, 4) == std::vector<int>{7, 7, 7, 9});
  CHECK(EvenPartition(5, 1) == std::vector<int>{5});
}

// Infinite stage times (from a bandwidth of 1e-300 bytes/s) left every
// table entry infinite and the walk back through it read cut[k][-1]: a
// garbage division whose negative layer count aborted the search with
// std::length_error. No finite division: the even one.
TEST_CASE("min-max partition without a finite division is the even one") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(MinMaxPartition({inf, inf, inf, inf, inf}, {0, 0}, 2) == std::vector<int>{2, 3});
  CHECK(MinMaxPartition({1, 1, 1, 1}, {inf, 0}, 2) == std::vector<int>{2, 2});
  CHECK(MinMaxPartition({nan, nan, nan, nan}, {0, 0, 0, 0}, 4) == std::vector<int>{1, 1, 1, 1});
  // One infinite layer makes every division infinite.
  CHECK(MinMaxPartition({1, inf, 1}, {0, 0, 0}, 3) == std::vector<int>{1, 1, 1});
}

TEST_CASE("min-max partition equals brute force") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> weight(0.1, 5.0);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 2 + trial % 9;
    const int parts = 1 + static_cast<int>(rng() % std::min(n, 4));
    std::vector<double> w(n), extra(parts);
    for (auto& x : w) x = weight(rng);
    for (auto& x : extra) x = weight(rng) * (rng() % 2);
    std::vector<int> division = MinMaxPartition(w, extra, parts);
    REQUIRE(static_cast<int>(division.size()) == parts);
    CHECK(std::accumulate(division.begin(), division.end(), 0) == n);
    CHECK(*std::min_element(division.begin(), division.end()) >= 1);
    double best = std::numeric_limits<double>::infinity();
    std::vector<int> current;
    AllDivisions(n, parts, &current,
                 [&](const std::vector<int>& d) { best = std::min(best, MaxStage(w, extra, d)); });
    INFO("trial " << trial << " n=" << n << " parts=" << parts);
    CHECK(MaxStage(w, extra, division) == Approx(best).epsilon(1e-12));
  }
}

TEST_CASE("min-max partition moves layers away from a heavy embedding stage") {
  std::vector<double> w(8, 1.0);
  std::vector<int> d = MinMaxPartition(w, {3.0, 0.0}, 2);
  // 3 + a = 8 - a + 0 is balanced at a = 2.5: the first stage takes 2 or 3.
  CHECK(d[0] <= 3);
  CHECK(MaxStage(w, {3.0, 0.0}, d) == Approx(6.0));
}

}  // namespace galvatron::search
