// Our JSON messages as they arrive from outside (model specs, profiles, plan
// and job requests, plans): parse, then validate. The first byte picks the
// message; the rest is the JSON text. No input may crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/json_file.h"
#include "common/model_validation.h"
#include "common/plan_validation.h"
#include "common/profile_validation.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron {
namespace {

template <typename Message, typename Check>
void ParseAndCheck(const std::string& text, Check check) {
  Message message;
  if (JsonToMessage(text, "fuzz", &message).ok()) {
    (void)check(message);
    (void)MessageToJson(message);
  }
}

}  // namespace
}  // namespace galvatron

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace galvatron;
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      ParseAndCheck<v1::ModelSpec>(text,
                                   [](const v1::ModelSpec& m) { return ValidateModelSpec(m); });
      break;
    case 1:
      ParseAndCheck<v1::HardwareProfile>(
          text, [](const v1::HardwareProfile& p) { return ValidateHardwareProfile(p); });
      break;
    case 2:
      ParseAndCheck<v1::ComputeProfile>(
          text, [](const v1::ComputeProfile& p) { return ValidateComputeProfile(p); });
      break;
    case 3:
      ParseAndCheck<v1::SubmitJobRequest>(text, [](const v1::SubmitJobRequest&) { return 0; });
      break;
    default:
      ParseAndCheck<v1::Plan>(text, [](const v1::Plan& p) {
        auto model = v1::ModelSpec();
        return CheckPlanForModel(p, model, p.world_size());
      });
      break;
  }
  return 0;
}
