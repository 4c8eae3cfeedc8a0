// For a request nothing fits: the smallest changes that would make it fit,
// each with the plan the search then finds — the least extra memory per
// device, the fewest extra devices (whole multiples of the nodes), the
// largest smaller global batch, and the search limits the request set
// (a deeper pipeline than --max-pp allows, the micro-batch count it fixed,
// the dimensions it disabled) lifted one at a time. Every suggestion is a
// real search of the changed request; feasibility only grows with memory,
// devices and a smaller batch, so the memory and batch answers are exact (to
// `memory_step_bytes`) and the device answer is the first multiple that fits.
// Thread-safe: a pure function of its inputs (each search runs its own pool).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/plan.pb.h"
#include "planner/search/plan_builder.h"

namespace galvatron::search {

struct FitSuggestion {
  std::string kind;    // "memory", "devices", "global batch", "limit"
  std::string change;  // e.g. "36 GiB -> 37.2 GiB per device (+1.2 GiB)"
  int64_t extra_memory_bytes = 0;
  int extra_devices = 0;
  v1::Plan plan;  // what the search finds with the change
};

struct FitSuggestionOptions {
  PlanBuildOptions build;
  // The memory answer's resolution (the cost model counts whole MB).
  int64_t memory_step_bytes = int64_t{1} << 20;
  // Give up on memory beyond this multiple of the budget, on devices beyond
  // this multiple of the nodes.
  int max_memory_factor = 64;
  int max_device_factor = 64;
  // One line per search started (e.g. "memory 37.5 GiB: fits").
  std::function<void(const std::string&)> progress;
};

// `inputs` must be a request BuildPlan answers RESOURCE_EXHAUSTED for
// (FAILED_PRECONDITION otherwise). Errors other than "nothing fits" from
// any search are returned.
absl::StatusOr<std::vector<FitSuggestion>> SuggestFits(const PlanInputs& inputs,
                                                       const FitSuggestionOptions& options);

}  // namespace galvatron::search
