// Why the search's best plan won: its nearest runners-up, each compared with
// it per sample (the plans may run different global batches) by component —
// compute, pipeline bubble, exposed communication — and by the memory of its
// fullest pipeline stage. Used by `galvatron-planner search --explain`,
// `galvatron plan --explain` and `galvatron plans show --explain`.
// Thread-safe: pure functions.
#pragma once

#include <string>

#include "galvatron/v1/plan.pb.h"

namespace galvatron::text {

// Up to `count` runners-up, nearest first. "" when the plan has none.
std::string ExplainRunnersUp(const v1::Plan& plan, int count = 3);

}  // namespace galvatron::text
