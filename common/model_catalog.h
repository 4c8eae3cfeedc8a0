// Built-in catalog of well-known models with their published hyper-parameters.
// Thread-safe: pure functions over constant data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron {

// Names of every catalog model, sorted.
std::vector<std::string> CatalogModelNames();

// The catalog spec named `name` (exact, lower-case), with `builtin` set and
// `version` 0; nullopt if there is none.
std::optional<v1::ModelSpec> CatalogModel(const std::string& name);

// What every command that takes "a catalog name or a model file" accepts: a
// path to an existing file is read as a ModelSpec JSON file (a file the user
// points at wins over a catalog model of the same name); otherwise a catalog
// name. The spec is validated. Errors name `flag` and the value:
// INVALID_ARGUMENT for an empty value or a file that does not parse or
// validate, NOT_FOUND (listing the catalog) for neither a file nor a name.
absl::StatusOr<v1::ModelSpec> LoadModelArgument(const std::string& name_or_file,
                                                absl::string_view flag = "--model");

}  // namespace galvatron
