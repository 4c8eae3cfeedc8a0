#include "common/plan_request_flags.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/units.h"

namespace galvatron {

absl::Status ParseGlobalBatchFlag(const std::string& text, v1::PlanRequest* request) {
  auto bad = [&text] {
    return absl::InvalidArgumentError(absl::StrCat(
        "--global-batch: \"", text, "\", expected N or MIN..MAX[:STEP], e.g. 16..64:16"));
  };
  const size_t dots = text.find("..");
  if (dots == std::string::npos) {
    int n = 0;
    if (!absl::SimpleAtoi(text, &n) || n < 1) return bad();
    request->set_global_batch(n);
    return absl::OkStatus();
  }
  std::string rest = text.substr(dots + 2);
  int step = 1;
  const size_t colon = rest.find(':');
  if (colon != std::string::npos) {
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &step) || step < 1) return bad();
    rest = rest.substr(0, colon);
  }
  int lo = 0, hi = 0;
  if (!absl::SimpleAtoi(text.substr(0, dots), &lo) || !absl::SimpleAtoi(rest, &hi) || lo < 1 ||
      hi < lo) {
    return bad();
  }
  auto* range = request->mutable_global_batch_range();
  range->set_min(lo);
  range->set_max(hi);
  range->set_step(step);
  return absl::OkStatus();
}

absl::Status ParsePipelineFlag(const std::string& text, v1::PlanRequest* request) {
  request->clear_schedules();
  if (text.empty()) return absl::OkStatus();
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    if (part == "gpipe") {
      request->add_schedules(v1::PIPELINE_SCHEDULE_GPIPE);
    } else if (part == "1f1b" || part == "pipedream_flush") {
      request->add_schedules(v1::PIPELINE_SCHEDULE_1F1B);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--pipeline: \"", part, "\", expected gpipe, 1f1b or both comma-separated"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseDisableFlag(const std::string& text, v1::PlanRequest* request) {
  request->clear_disable();
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    request->add_disable(std::string(absl::StripAsciiWhitespace(part)));
  }
  return absl::OkStatus();
}

absl::Status ParseModeFlag(const std::string& text, v1::PlanRequest* request) {
  if (text == "default") {
    request->set_mode(v1::COST_MODEL_MODE_DEFAULT);
  } else if (text == "galvatron") {
    request->set_mode(v1::COST_MODEL_MODE_GALVATRON);
  } else if (text == "galvatron-extended") {
    request->set_mode(v1::COST_MODEL_MODE_GALVATRON_EXTENDED);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--mode: \"", text, "\", expected default, galvatron or galvatron-extended"));
  }
  return absl::OkStatus();
}

absl::Status ParseMemoryFlag(const std::string& text, v1::PlanRequest* request) {
  auto bytes = ParseBytes(text);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--memory: ", bytes.status().message()));
  }
  if (*bytes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--memory: \"", text, "\", must be > 0"));
  }
  request->set_memory_budget_bytes(*bytes);
  return absl::OkStatus();
}

}  // namespace galvatron
