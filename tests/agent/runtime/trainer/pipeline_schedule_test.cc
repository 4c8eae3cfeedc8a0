// The pipeline schedules' order of forward and backward passes per stage.
#include "agent/runtime/trainer/pipeline_schedule.h"

#include <catch2/catch.hpp>

namespace galvatron::runtime {
namespace {

std::string Render(const std::vector<PipelineAction>& actions) {
  std::string out;
  for (const PipelineAction& a : actions) {
    out += (a.forward ? "F" : "B") + std::to_string(a.micro_batch) + " ";
  }
  return out;
}

TEST_CASE("GPipe runs every forward, then every backward", "[runtime][pipeline]") {
  const auto actions = StageSchedule(v1::PIPELINE_SCHEDULE_GPIPE, 2, 0, 3);
  CHECK(Render(actions) == "F0 F1 F2 B0 B1 B2 ");
  CHECK(PeakInFlight(actions) == 3);
}

TEST_CASE("1F1B fills the pipeline, then alternates", "[runtime][pipeline]") {
  // 4 stages, 6 micro-batches: stage k warms up with 3 - k forwards.
  CHECK(Render(StageSchedule(v1::PIPELINE_SCHEDULE_1F1B, 4, 0, 6)) ==
        "F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5 ");
  CHECK(Render(StageSchedule(v1::PIPELINE_SCHEDULE_1F1B, 4, 3, 6)) ==
        "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 ");
  for (int stage = 0; stage < 4; ++stage) {
    const auto actions = StageSchedule(v1::PIPELINE_SCHEDULE_1F1B, 4, stage, 6);
    INFO("stage " << stage);
    CHECK(actions.size() == 12);
    CHECK(PeakInFlight(actions) == 4 - stage);
    CHECK(actions.back() == PipelineAction{false, 5});  // gradient buckets start in it
  }
  // Fewer micro-batches than stages: the warm-up is cut short.
  CHECK(Render(StageSchedule(v1::PIPELINE_SCHEDULE_1F1B, 4, 0, 2)) == "F0 F1 B0 B1 ");
  // UNSPECIFIED is 1F1B, and one stage needs no pipeline.
  CHECK(Render(StageSchedule(v1::PIPELINE_SCHEDULE_UNSPECIFIED, 2, 0, 3)) == "F0 F1 B0 F2 B1 B2 ");
  CHECK(Render(StageSchedule(v1::PIPELINE_SCHEDULE_1F1B, 1, 0, 2)) == "F0 F1 B0 B1 ");
}

}  // namespace
}  // namespace galvatron::runtime
