// SuggestFits against brute force on small cases: the least memory that
// fits (every budget below it, scanned in 1 MiB steps, does not), the fewest
// devices, the largest global batch, and a lifted limit.
#include "planner/search/fit_suggestions.h"

#include <catch2/catch.hpp>

#include <string>

#include "common/model_catalog.h"
#include "tests/support/synthetic_cluster.h"

namespace galvatron::search {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

PlanInputs Tiny(int64_t memory_bytes, int nodes = 1, int per_node = 4) {
  PlanInputs in;
  in.model = *CatalogModel("gpt2-small");
  in.hardware = testing::SyntheticCluster("tiny", nodes, per_node);
  in.request.set_memory_budget_bytes(memory_bytes);
  in.request.set_global_batch(16);
  return in;
}

bool Fits(const PlanInputs& in) {
  PlanBuildOptions build;
  build.threads = 1;
  absl::StatusOr<v1::Plan> plan = BuildPlan(in, build);
  if (!plan.ok()) REQUIRE(absl::IsResourceExhausted(plan.status()));
  return plan.ok();
}

const FitSuggestion* Find(const std::vector<FitSuggestion>& all, const std::string& kind) {
  for (const FitSuggestion& s : all) {
    if (s.kind == kind) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the least memory that fits, checked by brute force", "[search]") {
  // Scan down from a budget that fits to the first that does not: the
  // boundary brute force knows.
  int64_t fits = 4096 * kMiB;
  REQUIRE(Fits(Tiny(fits)));
  int64_t lo = 0;
  for (int64_t b = fits / 2; b > 0; b /= 2) {
    if (!Fits(Tiny(b))) {
      lo = b;
      break;
    }
    fits = b;
  }
  REQUIRE(lo > 0);
  // Brute force in 1 MiB steps between lo (does not fit) and fits.
  int64_t least = fits;
  for (int64_t b = lo + kMiB; b <= fits; b += kMiB) {
    if (Fits(Tiny(b))) {
      least = b;
      break;
    }
  }
  const int64_t start = std::max(kMiB, least - 64 * kMiB);
  REQUIRE_FALSE(Fits(Tiny(start)));
  FitSuggestionOptions options;
  options.build.threads = 1;
  auto suggestions = SuggestFits(Tiny(start), options);
  REQUIRE(suggestions.ok());
  const FitSuggestion* memory = Find(*suggestions, "memory");
  REQUIRE(memory != nullptr);
  INFO("brute force " << least << ", suggested " << start + memory->extra_memory_bytes);
  CHECK(start + memory->extra_memory_bytes == least);
  CHECK(memory->plan.prediction().samples_per_second() > 0);
  CHECK(memory->plan.request().memory_budget_bytes() == least);
}

TEST_CASE("the fewest devices and the largest global batch that fit", "[search]") {
  // The largest budget (in 10 % steps) one node of 2 devices cannot meet
  // at global batch 16: more devices (a deeper pipeline, more sharding) can.
  int64_t budget = 64 * int64_t{1024} * kMiB;
  while (Fits(Tiny(budget, 1, 2)) && budget > kMiB) budget = budget * 9 / 10;
  INFO("budget " << budget);
  REQUIRE(Fits(Tiny(budget, 4, 2)));
  PlanInputs in = Tiny(budget, 1, 2);
  FitSuggestionOptions options;
  options.build.threads = 1;
  options.max_memory_factor = 4;  // keep the memory answer out of this test
  auto suggestions = SuggestFits(in, options);
  REQUIRE(suggestions.ok());
  const FitSuggestion* devices = Find(*suggestions, "devices");
  if (devices != nullptr) {
    // Brute force: no smaller multiple of the node fits.
    const int nodes = devices->plan.world_size() / 2;
    for (int n = 1; n < nodes; n *= 2) CHECK_FALSE(Fits(Tiny(budget, n, 2)));
    CHECK(Fits(Tiny(budget, nodes, 2)));
    CHECK(devices->extra_devices == devices->plan.world_size() - 2);
  }
  const FitSuggestion* batch = Find(*suggestions, "global batch");
  if (batch != nullptr) {
    const int b = batch->plan.global_batch();
    CHECK(b < 16);
    for (int larger = b + 1; larger < 16; ++larger) {
      PlanInputs bigger = in;
      bigger.request.set_global_batch(larger);
      CHECK_FALSE(Fits(bigger));
    }
  }
  CHECK(devices != nullptr);
}

TEST_CASE("a limit the request set is lifted when that alone makes it fit", "[search]") {
  // Without pipelines, a budget only a pipeline meets.
  PlanInputs in = Tiny(4096 * kMiB);
  in.request.add_disable("pp");
  in.request.add_disable("ckpt");
  int64_t budget = 4096 * kMiB;
  while (Fits(Tiny(budget)) && budget > kMiB) {
    PlanInputs probe = in;
    probe.request.set_memory_budget_bytes(budget / 2);
    if (!Fits(probe)) break;
    budget /= 2;
  }
  // Find a budget where disabling pp and ckpt matters.
  bool found = false;
  for (int64_t b = budget; b > kMiB && !found; b -= std::max(kMiB, b / 16)) {
    PlanInputs restricted = in;
    restricted.request.set_memory_budget_bytes(b);
    if (!Fits(restricted) && Fits(Tiny(b))) {
      in = restricted;
      found = true;
    }
  }
  REQUIRE(found);
  FitSuggestionOptions options;
  options.build.threads = 1;
  options.max_memory_factor = 2;
  options.max_device_factor = 2;
  auto suggestions = SuggestFits(in, options);
  REQUIRE(suggestions.ok());
  bool lifted = false;
  for (const FitSuggestion& s : *suggestions) {
    if (s.kind == "limit") {
      lifted = true;
      CHECK(s.plan.prediction().samples_per_second() > 0);
    }
  }
  CHECK(lifted);
}

TEST_CASE("a request that fits needs no suggestion", "[search]") {
  auto suggestions = SuggestFits(Tiny(int64_t{64} << 30), {});
  CHECK(suggestions.status().code() == absl::StatusCode::kFailedPrecondition);
}

}  // namespace galvatron::search
