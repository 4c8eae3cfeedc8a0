// Built-in catalog of well-known models with their published hyper-parameters.
// Thread-safe: pure functions over constant data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "galvatron/v1/model.pb.h"

namespace galvatron {

// Names of every catalog model, sorted.
std::vector<std::string> CatalogModelNames();

// The catalog spec named `name` (exact, lower-case), with `builtin` set and
// `version` 0; nullopt if there is none.
std::optional<v1::ModelSpec> CatalogModel(const std::string& name);

}  // namespace galvatron
