#include "planner/search/fit_suggestions.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/units.h"

namespace galvatron::search {
namespace {

// The plan for `inputs`, nullopt when nothing fits.
absl::StatusOr<std::optional<v1::Plan>> TryPlan(const PlanInputs& inputs,
                                                const FitSuggestionOptions& options,
                                                const std::string& what) {
  absl::StatusOr<v1::Plan> plan = BuildPlan(inputs, options.build);
  if (options.progress) {
    options.progress(absl::StrCat(what, ": ",
                                  plan.ok()                                  ? "fits"
                                  : absl::IsResourceExhausted(plan.status()) ? "does not fit"
                                                                             : "error"));
  }
  if (plan.ok()) return std::optional<v1::Plan>(std::move(*plan));
  if (absl::IsResourceExhausted(plan.status())) return std::optional<v1::Plan>();
  return plan.status();
}

// Feasibility is monotone in the value searched: between `bad` (does not
// fit) and `good` (fits, `*plan` its plan) — either may be the larger —
// narrows to the value nearest `bad` that fits, to `step` (values are
// multiples of it), and returns it with its plan in `*plan`.
absl::StatusOr<int64_t> Bisect(
    int64_t bad, int64_t good, int64_t step,
    const std::function<absl::StatusOr<std::optional<v1::Plan>>(int64_t)>& attempt,
    std::optional<v1::Plan>* plan) {
  while (std::abs(good - bad) > step) {
    int64_t mid = bad + (good - bad) / 2;
    mid -= mid % step;
    if (mid == bad) mid += good > bad ? step : -step;
    ASSIGN_OR_RETURN(std::optional<v1::Plan> tried, attempt(mid));
    if (tried) {
      good = mid;
      *plan = std::move(tried);
    } else {
      bad = mid;
    }
  }
  return good;
}

PlanInputs WithMemory(const PlanInputs& in, int64_t bytes) {
  PlanInputs out = in;
  out.request.set_memory_budget_bytes(bytes);
  return out;
}

// The least budget that fits, to options.memory_step_bytes: doubling to a
// budget that fits, then bisection (feasibility is monotone in memory).
absl::StatusOr<std::optional<FitSuggestion>> LeastMemory(const PlanInputs& in,
                                                         const FitSuggestionOptions& options) {
  const int64_t budget = in.request.memory_budget_bytes();
  int64_t lo = budget, hi = budget;
  std::optional<v1::Plan> found;
  while (!found) {
    lo = hi;
    hi = std::max(hi * 2, hi + options.memory_step_bytes);
    if (hi > budget * options.max_memory_factor) return std::optional<FitSuggestion>();
    ASSIGN_OR_RETURN(
        found, TryPlan(WithMemory(in, hi), options, absl::StrCat("memory ", FormatBytes(hi))));
  }
  ASSIGN_OR_RETURN(hi, Bisect(
                           lo, hi, options.memory_step_bytes,
                           [&](int64_t bytes) {
                             return TryPlan(WithMemory(in, bytes), options,
                                            absl::StrCat("memory ", FormatBytes(bytes)));
                           },
                           &found));
  FitSuggestion s;
  s.kind = "memory";
  s.extra_memory_bytes = hi - budget;
  s.change = absl::StrCat(FormatBytes(budget), " -> ", FormatBytes(hi), " per device (+",
                          FormatBytes(hi - budget), ")");
  s.plan = std::move(*found);
  return std::optional<FitSuggestion>(std::move(s));
}

// The first multiple of the nodes (×2, ×4, ...) that fits.
absl::StatusOr<std::optional<FitSuggestion>> FewestDevices(const PlanInputs& in,
                                                           const FitSuggestionOptions& options) {
  const int nodes = std::max(in.hardware.num_nodes(), 1);
  const int per_node = std::max(in.hardware.devices_per_node(), 1);
  for (int factor = 2; factor <= options.max_device_factor; factor *= 2) {
    PlanInputs more = in;
    more.hardware.set_num_nodes(nodes * factor);
    // The request's global batch stays: more devices split it further.
    ASSIGN_OR_RETURN(
        std::optional<v1::Plan> plan,
        TryPlan(more, options, absl::StrCat(nodes * factor, " nodes of ", per_node, " devices")));
    if (plan) {
      FitSuggestion s;
      s.kind = "devices";
      s.extra_devices = nodes * per_node * (factor - 1);
      s.change = absl::StrCat(nodes * per_node, " -> ", nodes * factor * per_node, " devices (",
                              nodes * factor, " nodes of ", per_node, ", +", s.extra_devices,
                              "; inter-node links as profiled, or estimated where the profile has "
                              "none)");
      s.plan = std::move(*plan);
      return std::optional<FitSuggestion>(std::move(s));
    }
  }
  return std::optional<FitSuggestion>();
}

// The largest global batch below the request's smallest that fits.
absl::StatusOr<std::optional<FitSuggestion>> LargestBatch(const PlanInputs& in,
                                                          const FitSuggestionOptions& options) {
  const v1::PlanRequest& r = in.request;
  const int smallest = r.has_global_batch_range() ? r.global_batch_range().min() : r.global_batch();
  const auto with_batch = [&](int b) {
    PlanInputs out = in;
    out.request.set_global_batch(b);
    if (out.request.micro_batches() > b) out.request.set_micro_batches(0);
    return out;
  };
  // Halve down to a batch that fits, then bisect between it and the last
  // one that did not.
  int bad = smallest, good = 0;
  std::optional<v1::Plan> found;
  for (int b = smallest / 2; b >= 1 && !found; b /= 2) {
    ASSIGN_OR_RETURN(found, TryPlan(with_batch(b), options, absl::StrCat("global batch ", b)));
    if (found) {
      good = b;
    } else {
      bad = b;
    }
  }
  if (!found) return std::optional<FitSuggestion>();
  ASSIGN_OR_RETURN(const int64_t largest, Bisect(
                                              bad, good, 1,
                                              [&](int64_t b) {
                                                return TryPlan(with_batch(static_cast<int>(b)),
                                                               options,
                                                               absl::StrCat("global batch ", b));
                                              },
                                              &found));
  good = static_cast<int>(largest);
  FitSuggestion s;
  s.kind = "global batch";
  s.change = absl::StrCat("global batch ", smallest, " -> ", good,
                          " (smaller micro-batches than any the request allows)");
  s.plan = std::move(*found);
  return std::optional<FitSuggestion>(std::move(s));
}

// The request's own limits, lifted one at a time.
absl::Status LiftLimits(const PlanInputs& in, const FitSuggestionOptions& options,
                        std::vector<FitSuggestion>* out) {
  const v1::PlanRequest& r = in.request;
  std::vector<std::pair<std::string, PlanInputs>> tries;
  // The pipeline's depth limit: the request's, or Galvatron's max_pp_deg of
  // 8 in its modes; lifting it allows fewer layers per stage.
  const int world =
      std::max(in.hardware.num_nodes(), 1) * std::max(in.hardware.devices_per_node(), 1);
  const int depth_limit = r.max_pp() > 0 ? r.max_pp() : IsGalvatronMode(r.mode()) ? 8 : world;
  if (depth_limit < world) {
    PlanInputs deeper = in;
    deeper.request.set_max_pp(world);
    tries.emplace_back(absl::StrCat("a deeper pipeline (fewer layers per stage): max pp ",
                                    depth_limit, " -> ", world),
                       std::move(deeper));
  }
  if (r.micro_batches() > 0) {
    PlanInputs free = in;
    free.request.set_micro_batches(0);
    tries.emplace_back(absl::StrCat("micro-batches searched instead of fixed at ",
                                    r.micro_batches(), " (smaller micro-batches)"),
                       std::move(free));
  }
  for (int i = 0; i < r.disable_size(); ++i) {
    PlanInputs enabled = in;
    enabled.request.clear_disable();
    for (int j = 0; j < r.disable_size(); ++j) {
      if (j != i) enabled.request.add_disable(r.disable(j));
    }
    tries.emplace_back(absl::StrCat("allow ", r.disable(i), " again"), std::move(enabled));
  }
  for (auto& [change, inputs] : tries) {
    ASSIGN_OR_RETURN(std::optional<v1::Plan> plan, TryPlan(inputs, options, change));
    if (!plan) continue;
    FitSuggestion s;
    s.kind = "limit";
    s.change = change;
    s.plan = std::move(*plan);
    out->push_back(std::move(s));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<FitSuggestion>> SuggestFits(const PlanInputs& inputs,
                                                       const FitSuggestionOptions& options) {
  ASSIGN_OR_RETURN(std::optional<v1::Plan> as_is, TryPlan(inputs, options, "the request"));
  if (as_is) {
    return absl::FailedPreconditionError("the request fits as it is: there is nothing to suggest");
  }
  std::vector<FitSuggestion> out;
  RETURN_IF_ERROR(LiftLimits(inputs, options, &out));
  ASSIGN_OR_RETURN(std::optional<FitSuggestion> memory, LeastMemory(inputs, options));
  if (memory) out.push_back(std::move(*memory));
  ASSIGN_OR_RETURN(std::optional<FitSuggestion> devices, FewestDevices(inputs, options));
  if (devices) out.push_back(std::move(*devices));
  ASSIGN_OR_RETURN(std::optional<FitSuggestion> batch, LargestBatch(inputs, options));
  if (batch) out.push_back(std::move(*batch));
  return out;
}

}  // namespace galvatron::search
