#include "interop/plan_file.h"

#include <utility>

#include "common/json_file.h"
#include "common/status_macros.h"
#include "interop/galvatron_config.h"

namespace galvatron::interop {

absl::StatusOr<LoadedPlan> LoadPlanFile(const std::string& path, int world_size, bool megatron_sp) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  LoadedPlan loaded;
  if (SniffGalvatronConfig(text).is_config) {
    GalvatronConfigReadOptions options;
    options.world_size = world_size;
    options.megatron_sp = megatron_sp;
    ASSIGN_OR_RETURN(GalvatronConfigImport imported, ImportGalvatronConfig(text, path, options));
    loaded.plan = std::move(imported.plan);
    loaded.notes = std::move(imported.notes);
    loaded.format = "galvatron";
  } else {
    RETURN_IF_ERROR(JsonToMessage(text, path, &loaded.plan));
    loaded.format = "plan";
  }
  return loaded;
}

}  // namespace galvatron::interop
