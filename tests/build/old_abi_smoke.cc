// The worker's libraries built from source and this project's protos and
// common code, linked and run with the pre-C++11 std::string ABI, as a worker
// for an old-ABI LibTorch links them. scripts/check-worker-sources.sh builds
// and runs it (it needs no LibTorch).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "galvatron/v1/plan.pb.h"
#include "spdlog/spdlog.h"

int main() {
  static_assert(_GLIBCXX_USE_CXX11_ABI == 0, "built with the old ABI");
  galvatron::v1::Plan plan;
  absl::Status status = galvatron::JsonToMessage(
      R"({"worldSize": 4, "pp": 2, "layers": [{"tp": 2, "dp": 1}]})", "smoke", &plan);
  if (!status.ok()) {
    std::printf("parse: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::string text = absl::StrCat("world ", plan.world_size(), ": ",
                                  galvatron::MessageToJson(plan, {false, false}));
  spdlog::info("{}", text);
  absl::Status bad = galvatron::JsonToMessage(R"({"worldSize": "x"})", "bad", &plan);
  spdlog::info("refused: {}", bad.ToString());
  return plan.world_size() == 4 && !bad.ok() ? 0 : 1;
}
