// The outer search, after Galvatron's search engine: over global batch,
// micro-batch count, pipeline degree, tp/sp mode and global-buffer tp
// (Galvatron's tasks), pipeline partition and embedding strategy, it runs
// the per-stage DP (stage_dp.h) on the cost model and keeps the plan with the
// highest predicted throughput.
// Thread-safe: Search() may run concurrently; it uses its own thread pool.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/plan.pb.h"
#include "planner/cost/cost_model.h"

namespace galvatron::search {

struct SearchProgress {
  int64_t tasks_done = 0;
  int64_t tasks_total = 0;
  double best_samples_per_second = 0;  // 0 while nothing fits
  std::string best_description;
};

struct SearchOptions {
  // Global batch sizes: min..max step `step` (Galvatron's min_bsz/max_bsz/
  // bsz_scale); min == max for one.
  int global_batch_min = 8;
  int global_batch_max = 8;
  int global_batch_step = 1;
  int fixed_chunks = 0;         // > 0: only this micro-batch count (settle_chunk)
  double memory_budget_mb = 0;  // per device, before any reserve
  // Dimensions switched off: tp, sp (Ulysses), megatron_sp, pp, dp, sdp
  // (= zero3, Galvatron's fsdp), zero1, zero2, ckpt, embedding_tp, embedding_sp.
  std::set<std::string> disabled;
  int max_tp = 0;  // 0 = no limit beyond the world
  int max_pp = 0;
  // Restrictions of the space (empty = no restriction): only these pipeline
  // degrees, and for pp > 1 only these partition methods (of those the mode
  // offers: galvatron mode splits evenly only).
  std::set<int> pipeline_degrees;
  std::set<v1::PartitionMethod> partition_methods;
  // Galvatron-extended: with a galvatron-mode cost model, search beyond
  // Galvatron's own space while every plan stays a Galvatron strategy file:
  // uneven pipeline partitions (memory- and time-balanced, and a local
  // search around the best), both default data-parallel types (DDP and
  // ZeRO-2, one per plan), and the schedules of `models`. An uneven
  // partition is kept only where Galvatron's pipeline formula does not
  // predict it faster than its slowest stage can compute.
  bool extended_space = false;
  // Galvatron's fine_grained_mode 0: one strategy for every layer (and the
  // embedding the same strategy without checkpointing) instead of one per
  // layer.
  bool coarse = false;
  int threads = 0;                // 0 = hardware concurrency
  double time_limit_seconds = 0;  // 0 = none
  int top_k = 5;                  // runners-up kept
  // Called from worker threads (serialised) as tasks finish.
  std::function<void(const SearchProgress&)> progress;
  // Asked from worker threads before each task and before each layer of
  // every stage DP, so that a search stops within milliseconds of it turning
  // true (the time limit, by contrast, lets running tasks finish): Search()
  // then returns CANCELLED. Must be thread-safe and cheap. Empty: never.
  std::function<bool()> cancelled;
};

// The names `disabled` accepts.
const std::set<std::string>& DisableNames();

struct SearchResult {
  v1::Plan plan;  // id, model, cluster, request are left to the caller
  bool found = false;
  // Without a plan: why (e.g. the least memory any plan needs per device).
  std::string infeasible_reason;
};

// Searches the plan space of one model on one cluster. `models` holds one
// cost model per pipeline schedule to try (built from the same inputs, their
// options differing only in the schedule); the first is the reference for
// world size, layers and mode. Returns INVALID_ARGUMENT for bad options,
// CANCELLED when options.cancelled stopped it; a SearchResult with
// found=false when nothing fits.
absl::StatusOr<SearchResult> Search(const std::vector<const cost::CostModel*>& models,
                                    const SearchOptions& options);

// The time `model` predicts for an existing plan's layers, embedding,
// pipeline and micro-batches, by the formulas the search ranks plans with:
// for a plan the search found on the same model it equals the plan's own
// prediction (iteration time, throughput, breakdown, warnings of the
// physical bound). The stage memory is copied from the plan, not recomputed.
// `model` must be built for the plan's schedule. INVALID_ARGUMENT when the
// plan does not fit the model (world size, layer count, division).
absl::StatusOr<v1::Prediction> PredictPlan(const cost::CostModel& model, const v1::Plan& plan);

}  // namespace galvatron::search
