// Which models have a Hugging Face form the export writes (agent/runtime/
// export): checked by the export itself and by the planner when a job asks
// for one (TrainingOptions.export_safetensors), so that a job that could not
// export is refused when it is submitted rather than after it trained.
// Thread-safe: a pure function.
#pragma once

#include "absl/status/status.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron {

// OK when `model` is a GPT-2 (GPT decoder layers, as many KV heads as heads,
// heads × head_dim = hidden) or a LLaMA model, every layer group of the same
// sizes. UNIMPLEMENTED naming what is not (another family, mixed layers).
absl::Status CheckHfExportable(const v1::ModelSpec& model);

}  // namespace galvatron
