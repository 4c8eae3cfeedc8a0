// Command-line spellings of PlanRequest fields, shared by `galvatron plan`
// and `galvatron-planner search`. Errors are INVALID_ARGUMENT naming the flag.
// Thread-safe: pure functions.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron {

// "16" → global_batch 16; "16..64:16" → range 16..64 step 16 ("16..64" = step 1).
absl::Status ParseGlobalBatchFlag(const std::string& text, v1::PlanRequest* request);
// "gpipe", "1f1b", "gpipe,1f1b" → schedules; "" → none (the mode's default).
absl::Status ParsePipelineFlag(const std::string& text, v1::PlanRequest* request);
// "tp,pp,ckpt" → disable entries (validated by the search).
absl::Status ParseDisableFlag(const std::string& text, v1::PlanRequest* request);
// "default" | "galvatron".
absl::Status ParseModeFlag(const std::string& text, v1::PlanRequest* request);
// "36GiB" → memory_budget_bytes.
absl::Status ParseMemoryFlag(const std::string& text, v1::PlanRequest* request);

}  // namespace galvatron
