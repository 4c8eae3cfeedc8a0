// Canonical layer-type keys. A layer type is everything that changes a
// layer's cost, so layers (of any model) with the same key share compute
// profiles. Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron {

// Key of one layer group of a (valid) spec, e.g.
//   "llama_decoder:h4096:f11008:a32:kv32:d128:s2048:nobias:bf16".
std::string LayerTypeKey(const v1::ModelSpec& spec, int group_index);

// Key of the model's embedding / final norm / head, e.g.
//   "embedding_head:gpt:v50257:h768:s1024:tied:bf16".
std::string EmbeddingTypeKey(const v1::ModelSpec& spec);

// What the devices compute in, as keys and Galvatron's file names spell it:
// "bf16", "fp16", "fp32", "fp64". UNSPECIFIED is bf16 mixed (see
// ValidateModelSpec), so it shares bf16's profiles.
std::string PrecisionToken(v1::Precision precision);

// Every distinct layer-type key of the spec in model order, then the
// embedding key.
std::vector<std::string> ModelLayerTypeKeys(const v1::ModelSpec& spec);

inline constexpr size_t kMaxLayerTypeKeyChars = 512;

// Whether `key` has the form of a layer-type key: 1 to kMaxLayerTypeKeyChars
// characters, parts of [a-z0-9_] joined by ':' (no empty part). Every key the
// functions above make has it; a key from outside (a compute profile, a
// request) must have it before it is stored or becomes part of a file name,
// which rules out "/", "." and ".." at once. INVALID_ARGUMENT naming `path`
// and the key otherwise.
absl::Status CheckLayerTypeKey(absl::string_view path, const std::string& key);

}  // namespace galvatron
