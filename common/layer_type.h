// Canonical layer-type keys. A layer type is everything that changes a
// layer's cost, so layers (of any model) with the same key share compute
// profiles. Thread-safe: pure functions.
#pragma once

#include <string>
#include <vector>

#include "galvatron/v1/model.pb.h"

namespace galvatron {

// Key of one layer group of a (valid) spec, e.g.
//   "llama_decoder:h4096:f11008:a32:kv32:d128:s2048:nobias:bf16".
std::string LayerTypeKey(const v1::ModelSpec& spec, int group_index);

// Key of the model's embedding / final norm / head, e.g.
//   "embedding_head:gpt:v50257:h768:s1024:tied:bf16".
std::string EmbeddingTypeKey(const v1::ModelSpec& spec);

// Every distinct layer-type key of the spec in model order, then the
// embedding key.
std::vector<std::string> ModelLayerTypeKeys(const v1::ModelSpec& spec);

}  // namespace galvatron
