// Status propagation helpers. Abseil 20220623 ships no RETURN_IF_ERROR /
// ASSIGN_OR_RETURN, so they are defined once here.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GALVATRON_CONCAT_INNER_(a, b) a##b
#define GALVATRON_CONCAT_(a, b) GALVATRON_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` yields a non-OK absl::Status.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status galvatron_status_ = (expr);             \
    if (!galvatron_status_.ok()) return galvatron_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F())` declares x from an absl::StatusOr, or
// returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  GALVATRON_ASSIGN_OR_RETURN_IMPL_(GALVATRON_CONCAT_(galvatron_statusor_, __LINE__), lhs, expr)

#define GALVATRON_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                     \
  if (!var.ok()) return std::move(var).status();         \
  lhs = std::move(var).value()
