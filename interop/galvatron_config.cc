#include "interop/galvatron_config.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "interop/galvatron_json.h"

namespace galvatron::interop {
namespace {

using internal::Json;

bool IsUlysses(const v1::LayerStrategy& l) {
  return l.sp() == v1::SEQUENCE_PARALLEL_ULYSSES && l.tp() > 1;
}

// Galvatron's pp_division_even: ⌊L/pp⌋ layers per stage, the remainder on
// the last stage (also the runtime's fallback when pp_division is absent).
std::vector<int> EvenDivision(int layers, int pp) {
  std::vector<int> division(pp, layers / pp);
  division.back() = layers - (layers / pp) * (pp - 1);
  return division;
}

std::string Csv(const std::vector<int>& values) { return absl::StrJoin(values, ","); }

const char* DpTypeName(v1::DataParallelType t) {
  return t == v1::DATA_PARALLEL_TYPE_ZERO2 ? "zero2" : "ddp";
}

// ------------------------------------------------------------- writing ----

// Galvatron's default_dp_type for a plan (see GalvatronConfigOptions).
absl::StatusOr<std::string> DefaultDpType(const v1::Plan& plan, int world_size,
                                          const GalvatronConfigOptions& options) {
  // The non-ZeRO-3 types that default_dp_type has to express: those of groups
  // with more than one gradient replica (sdp > 1).
  std::map<v1::DataParallelType, std::string> used;  // type → first user
  auto note = [&](v1::DataParallelType t, const std::string& who) -> absl::Status {
    if (t == v1::DATA_PARALLEL_TYPE_ZERO1) {
      return absl::InvalidArgumentError(
          absl::StrCat(who,
                       ": ZeRO-1 cannot be written in a Galvatron config (ddp, zero2 or "
                       "zero3 only)"));
    }
    // UNSPECIFIED takes whatever the default is.
    if (t == v1::DATA_PARALLEL_TYPE_DDP || t == v1::DATA_PARALLEL_TYPE_ZERO2) {
      used.emplace(t, who);
    }
    return absl::OkStatus();
  };
  for (int i = 0; i < plan.layers_size(); ++i) {
    const v1::LayerStrategy& l = plan.layers(i);
    const int sdp = l.dp() * (IsUlysses(l) ? l.tp() : 1);
    if (sdp > 1 || l.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO1) {
      RETURN_IF_ERROR(note(l.dp_type(), absl::StrCat("layers[", i, "].dp_type")));
    }
  }
  if (plan.has_embedding()) {
    const v1::EmbeddingStrategy& e = plan.embedding();
    const int vtp = std::max(1, e.vocab_tp());
    const int edp = world_size / plan.pp() / vtp;
    const int sdp = edp * (e.sp() == v1::SEQUENCE_PARALLEL_ULYSSES ? vtp : 1);
    if (sdp > 1 || e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO1) {
      RETURN_IF_ERROR(note(e.dp_type(), "embedding.dp_type"));
    }
  }
  if (!options.default_dp_type.empty()) {
    if (options.default_dp_type != "ddp" && options.default_dp_type != "zero2") {
      return absl::InvalidArgumentError(
          absl::StrCat("default_dp_type: \"", options.default_dp_type, "\", must be ddp or zero2"));
    }
    for (const auto& [type, who] : used) {
      if (DpTypeName(type) != options.default_dp_type) {
        return absl::InvalidArgumentError(absl::StrCat(
            who, " is ", DpTypeName(type), " but default_dp_type is ", options.default_dp_type,
            ": a Galvatron config has one non-ZeRO-3 data-parallel type"));
      }
    }
    return options.default_dp_type;
  }
  if (used.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(used.begin()->second, " is ddp but ", used.rbegin()->second,
                     " is zero2: a Galvatron config has one non-ZeRO-3 data-parallel type"));
  }
  if (used.count(v1::DATA_PARALLEL_TYPE_ZERO2) > 0) return std::string("zero2");
  return std::string("ddp");
}

// ------------------------------------------------------------- reading ----

absl::Status Bad(const std::string& what, const std::string& key, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": key \"", key, "\" ", problem));
}

// An integer value (JSON integer, integral float, or bool as Python writes
// True/False), or `fallback` when absent and optional.
absl::StatusOr<int> IntAt(const Json& obj, const std::string& key, const std::string& what,
                          std::optional<int> fallback = std::nullopt) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (fallback.has_value()) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing key \"", key, "\""));
  }
  if (it->is_boolean()) return it->get<bool>() ? 1 : 0;
  if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();
    if (v < -(int64_t{1} << 30) || v > (int64_t{1} << 30)) {
      return Bad(what, key, absl::StrCat("is out of range: ", v));
    }
    return static_cast<int>(v);
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= (1 << 30)) {
      return static_cast<int>(v);
    }
  }
  return Bad(what, key, absl::StrCat("must be an integer, not ", it->dump()));
}

// A comma-separated list of integers ("1,2,4"); nullopt when absent.
absl::StatusOr<std::optional<std::vector<int>>> ListAt(const Json& obj, const std::string& key,
                                                       const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::optional<std::vector<int>>();
  if (!it->is_string()) {
    return Bad(what, key,
               absl::StrCat("must be a string of comma-separated integers, not ", it->dump()));
  }
  std::vector<int> values;
  if (!internal::ParseIntList(it->get<std::string>(), &values)) {
    return Bad(what, key, absl::StrCat("must be comma-separated integers, not ", it->dump()));
  }
  return std::optional<std::vector<int>>(std::move(values));
}

absl::StatusOr<std::string> StringAt(const Json& obj, const std::string& key,
                                     const std::string& what, const std::string& fallback,
                                     const std::set<std::string>& allowed) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_string() || allowed.count(it->get<std::string>()) == 0) {
    return Bad(what, key,
               absl::StrCat("must be one of ", absl::StrJoin(allowed, ", "), ", not ", it->dump()));
  }
  return it->get<std::string>();
}

absl::Status CheckFlags(const std::vector<int>& values, const std::string& key,
                        const std::string& what) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] != 0 && values[i] != 1) {
      return Bad(what, key, absl::StrCat("must hold 0 or 1, not ", values[i], " (layer ", i, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAllOnes(const Json& obj, const std::string& key, const std::string& what,
                          const std::string& feature) {
  ASSIGN_OR_RETURN(auto values, ListAt(obj, key, what));
  if (!values.has_value()) return absl::OkStatus();
  for (int v : *values) {
    if (v != 1) {
      return Bad(what, key,
                 absl::StrCat("holds ", v, ": ", feature, " cannot be expressed in a Plan"));
    }
  }
  return absl::OkStatus();
}

v1::DataParallelType DpTypeFromName(const std::string& name) {
  if (name == "zero2") return v1::DATA_PARALLEL_TYPE_ZERO2;
  if (name == "zero3") return v1::DATA_PARALLEL_TYPE_ZERO3;
  return v1::DATA_PARALLEL_TYPE_DDP;
}

}  // namespace

absl::StatusOr<std::string> WriteGalvatronConfig(const v1::Plan& plan,
                                                 const GalvatronConfigOptions& options) {
  const int pp = plan.pp();
  const int num_layers = plan.layers_size();
  if (pp < 1) return absl::InvalidArgumentError(absl::StrCat("pp: ", pp, ", must be >= 1"));
  if (num_layers == 0) return absl::InvalidArgumentError("layers: empty, must hold every layer");
  if (plan.global_batch() < 1 || plan.micro_batches() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("global_batch (", plan.global_batch(),
                                                   ") and micro_batches (", plan.micro_batches(),
                                                   ") must be >= 1"));
  }
  int world_size = plan.world_size();
  if (world_size == 0) world_size = pp * plan.layers(0).tp() * plan.layers(0).dp();

  std::vector<int> tp_sizes, consecutive, dp_types, use_sp, checkpoint;
  std::set<bool> megatron_sp;  // per TP layer
  for (int i = 0; i < num_layers; ++i) {
    const v1::LayerStrategy& l = plan.layers(i);
    if (l.tp() < 1 || l.dp() < 1 || pp * l.tp() * l.dp() != world_size) {
      return absl::InvalidArgumentError(absl::StrCat("layers[", i, "]: tp ", l.tp(), " dp ", l.dp(),
                                                     " with pp ", pp, " do not make world_size ",
                                                     world_size));
    }
    tp_sizes.push_back(l.tp());
    consecutive.push_back(1);  // 3.0 always places TP ranks consecutively
    dp_types.push_back(l.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3 ? 1 : 0);
    use_sp.push_back(IsUlysses(l) ? 1 : 0);
    checkpoint.push_back(l.checkpoint() ? 1 : 0);
    if (l.tp() > 1 && !IsUlysses(l)) {
      megatron_sp.insert(l.sp() == v1::SEQUENCE_PARALLEL_MEGATRON);
    }
  }
  if (megatron_sp.size() > 1) {
    return absl::InvalidArgumentError(
        "layers: Megatron-SP on some TP layers only; Galvatron's sequence_parallel is one "
        "flag for all of them");
  }
  std::vector<int> division(plan.pp_division().begin(), plan.pp_division().end());
  if (division.empty()) division = EvenDivision(num_layers, pp);
  int total = 0;
  for (int d : division) {
    if (d < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("pp_division: ", Csv(division), ", every stage needs a layer"));
    }
    total += d;
  }
  if (static_cast<int>(division.size()) != pp || total != num_layers) {
    return absl::InvalidArgumentError(absl::StrCat("pp_division: ", Csv(division), ", must be ", pp,
                                                   " stages summing to ", num_layers, " layers"));
  }
  ASSIGN_OR_RETURN(std::string default_dp_type, DefaultDpType(plan, world_size, options));

  int vtp = 1, vsp = 0, embed_sdp = 0;
  if (plan.has_embedding()) {
    const v1::EmbeddingStrategy& e = plan.embedding();
    vtp = std::max(1, e.vocab_tp());
    if (world_size % (pp * vtp) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "embedding.vocab_tp: ", vtp, ", must divide world_size / pp (", world_size / pp, ")"));
    }
    vsp = e.sp() == v1::SEQUENCE_PARALLEL_ULYSSES && vtp > 1 ? 1 : 0;
    embed_sdp = e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3 ? 1 : 0;
  }

  Json config = Json::object();
  config["pp_deg"] = pp;
  config["tp_sizes_enc"] = Csv(tp_sizes);
  config["tp_consecutive_flags"] = Csv(consecutive);
  config["dp_types_enc"] = Csv(dp_types);
  config["use_sp"] = Csv(use_sp);
  config["checkpoint"] = Csv(checkpoint);
  if (options.write_world_size) config["world_size"] = world_size;
  config["global_bsz"] = plan.global_batch();
  config["chunks"] = plan.micro_batches();
  config["pp_division"] = Csv(division);
  config["pipeline_type"] =
      plan.schedule() == v1::PIPELINE_SCHEDULE_1F1B ? "pipedream_flush" : "gpipe";
  config["default_dp_type"] = default_dp_type;
  config["vtp"] = vtp;
  config["vsp"] = vsp;
  config["embed_sdp"] = embed_sdp;
  // The runtime's vocab_sdp defaults to 0, so only a ZeRO-3 embedding needs it.
  if (options.write_vocab_sdp && embed_sdp == 1) config["vocab_sdp"] = 1;
  return internal::DumpLikePython(config);
}

std::string GalvatronConfigFileName(const GalvatronConfigName& name) {
  std::string file =
      absl::StrCat("galvatron_config_", name.model, "_", name.num_nodes, "nodes_",
                   name.gpus_per_node, "gpus_per_node_", name.memory_gb, "GB_", name.precision);
  if (name.settle_bsz > 0) absl::StrAppend(&file, "_bsz", name.settle_bsz);
  std::vector<std::string> off;
  for (const char* dim : {"dp", "tp", "pp", "fsdp", "ckpt"}) {
    for (const std::string& d : name.disabled) {
      if (d == dim) {
        off.push_back(dim);
        break;
      }
    }
  }
  if (!off.empty()) absl::StrAppend(&file, "_[", absl::StrJoin(off, "_"), "_off]");
  return file + ".json";
}

GalvatronConfigName GalvatronConfigNameForPlan(const v1::Plan& plan) {
  GalvatronConfigName name;
  const v1::PlanRequest& request = plan.request();
  name.model = plan.model().empty() ? request.model_spec().name() : plan.model();
  if (request.hardware().num_nodes() > 0 && request.hardware().devices_per_node() > 0) {
    name.num_nodes = request.hardware().num_nodes();
    name.gpus_per_node = request.hardware().devices_per_node();
  } else {
    name.num_nodes = 1;
    name.gpus_per_node = plan.world_size();
  }
  name.memory_gb = static_cast<int>(request.memory_budget_bytes() >> 30);
  switch (request.precision() != v1::PRECISION_UNSPECIFIED ? request.precision()
                                                           : request.model_spec().precision()) {
    case v1::PRECISION_FP32:
      name.precision = "fp32";
      break;
    case v1::PRECISION_FP16_MIXED:
      name.precision = "fp16";
      break;
    default:
      name.precision = "bf16";
      break;
  }
  if (request.batch_case() == v1::PlanRequest::kGlobalBatch) {
    name.settle_bsz = request.global_batch();
  }
  for (const std::string& d : request.disable()) {
    if (d == "dp" || d == "tp" || d == "pp" || d == "ckpt") name.disabled.push_back(d);
    if (d == "sdp" || d == "fsdp") name.disabled.push_back("fsdp");
  }
  return name;
}

GalvatronConfigSniff SniffGalvatronConfig(const std::string& json) {
  GalvatronConfigSniff sniff;
  const Json parsed = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return sniff;
  sniff.is_config = parsed.contains("pp_deg");
  sniff.has_world_size = sniff.is_config && parsed.contains("world_size");
  return sniff;
}

absl::StatusOr<GalvatronConfigImport> ImportGalvatronConfig(
    const std::string& json, const std::string& what, const GalvatronConfigReadOptions& options) {
  ASSIGN_OR_RETURN(Json config, internal::ParseJsonObject(json, what));
  GalvatronConfigImport out;
  v1::Plan& plan = out.plan;

  ASSIGN_OR_RETURN(int pp, IntAt(config, "pp_deg", what));
  if (pp < 1) return Bad(what, "pp_deg", absl::StrCat("must be >= 1, not ", pp));
  ASSIGN_OR_RETURN(auto tp_sizes, ListAt(config, "tp_sizes_enc", what));
  if (!tp_sizes.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing key \"tp_sizes_enc\""));
  }
  const size_t n = tp_sizes->size();
  ASSIGN_OR_RETURN(auto dp_types, ListAt(config, "dp_types_enc", what));
  if (!dp_types.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing key \"dp_types_enc\""));
  }
  ASSIGN_OR_RETURN(auto consecutive, ListAt(config, "tp_consecutive_flags", what));
  ASSIGN_OR_RETURN(auto use_sp, ListAt(config, "use_sp", what));
  ASSIGN_OR_RETURN(auto checkpoint, ListAt(config, "checkpoint", what));
  // Absent per-layer flags default as Galvatron's runtime defaults them.
  if (!consecutive.has_value()) consecutive = std::vector<int>(n, 1);
  if (!use_sp.has_value()) use_sp = std::vector<int>(n, 0);
  if (!checkpoint.has_value()) checkpoint = std::vector<int>(n, 0);
  const std::pair<const char*, const std::vector<int>*> lists[] = {
      {"dp_types_enc", &*dp_types},
      {"tp_consecutive_flags", &*consecutive},
      {"use_sp", &*use_sp},
      {"checkpoint", &*checkpoint}};
  for (const auto& [key, values] : lists) {
    if (values->size() != n) {
      return Bad(what, key,
                 absl::StrCat("has ", values->size(), " layers but tp_sizes_enc has ", n));
    }
    RETURN_IF_ERROR(CheckFlags(*values, key, what));
  }
  RETURN_IF_ERROR(CheckAllOnes(config, "cp_sizes_enc", what, "context parallelism"));
  RETURN_IF_ERROR(CheckAllOnes(config, "ep_sizes_enc", what, "expert parallelism"));
  ASSIGN_OR_RETURN(int vcp, IntAt(config, "vcp", what, 1));
  if (vcp != 1) {
    return Bad(what, "vcp",
               absl::StrCat("is ", vcp,
                            ": context parallelism cannot be expressed "
                            "in a Plan"));
  }

  ASSIGN_OR_RETURN(int file_world_size, IntAt(config, "world_size", what, 0));
  int world_size = file_world_size;
  if (world_size == 0) world_size = options.world_size;
  if (world_size == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what,
                     ": no key \"world_size\" (Galvatron 2.x and early 3.0 configs lack it); give "
                     "the world size (num_nodes * gpus_per_node)"));
  }
  if (world_size < 1 ||
      (file_world_size != 0 && options.world_size != 0 && file_world_size != options.world_size)) {
    return Bad(
        what, "world_size",
        absl::StrCat("is ", file_world_size, " but the given world size is ", options.world_size));
  }
  if (world_size % pp != 0) {
    return Bad(what, "pp_deg", absl::StrCat(pp, " does not divide world_size ", world_size));
  }

  ASSIGN_OR_RETURN(int global_bsz, IntAt(config, "global_bsz", what));
  ASSIGN_OR_RETURN(int chunks, IntAt(config, "chunks", what));
  if (global_bsz < 1)
    return Bad(what, "global_bsz", absl::StrCat("must be >= 1, not ", global_bsz));
  if (chunks < 1) return Bad(what, "chunks", absl::StrCat("must be >= 1, not ", chunks));
  ASSIGN_OR_RETURN(std::string pipeline_type,
                   StringAt(config, "pipeline_type", what, "gpipe", {"gpipe", "pipedream_flush"}));
  ASSIGN_OR_RETURN(std::string default_dp_type,
                   StringAt(config, "default_dp_type", what, "ddp", {"ddp", "zero2", "zero3"}));
  const v1::DataParallelType default_type = DpTypeFromName(default_dp_type);

  ASSIGN_OR_RETURN(auto division, ListAt(config, "pp_division", what));
  const std::vector<int> even = EvenDivision(static_cast<int>(n), pp);
  if (division.has_value()) {
    int total = 0;
    for (int d : *division) total += d;
    for (int d : *division) {
      if (d < 1) return Bad(what, "pp_division", "has a stage without layers");
    }
    if (static_cast<int>(division->size()) != pp || total != static_cast<int>(n)) {
      return Bad(what, "pp_division",
                 absl::StrCat("must be ", pp, " stages (pp_deg) summing to ", n, " layers, not ",
                              Csv(*division)));
    }
  } else {
    if (static_cast<int>(n) < pp) {
      return Bad(what, "tp_sizes_enc", absl::StrCat("has ", n, " layers, fewer than pp_deg ", pp));
    }
    division = even;
  }

  plan.set_world_size(world_size);
  plan.set_pp(pp);
  plan.set_schedule(pipeline_type == "pipedream_flush" ? v1::PIPELINE_SCHEDULE_1F1B
                                                       : v1::PIPELINE_SCHEDULE_GPIPE);
  for (int d : *division) plan.add_pp_division(d);
  if (*division == even) plan.set_partition_method(v1::PARTITION_METHOD_EVEN);
  plan.set_micro_batches(chunks);
  plan.set_global_batch(global_bsz);

  std::vector<std::string> strided;
  for (size_t i = 0; i < n; ++i) {
    const int tp = (*tp_sizes)[i];
    if (tp < 1 || world_size % (pp * tp) != 0) {
      return Bad(what, "tp_sizes_enc",
                 absl::StrCat("layer ", i, ": ", tp, " does not divide world_size / pp_deg (",
                              world_size / pp, ")"));
    }
    v1::LayerStrategy* l = plan.add_layers();
    l->set_tp(tp);
    l->set_dp(world_size / pp / tp);
    const bool ulysses = (*use_sp)[i] == 1 && tp > 1;
    if (ulysses) {
      l->set_sp(v1::SEQUENCE_PARALLEL_ULYSSES);
    } else if (tp > 1 && options.megatron_sp) {
      l->set_sp(v1::SEQUENCE_PARALLEL_MEGATRON);
    }
    const int sdp = l->dp() * (ulysses ? tp : 1);
    if ((*dp_types)[i] == 1) {
      l->set_dp_type(v1::DATA_PARALLEL_TYPE_ZERO3);
    } else {
      l->set_dp_type(sdp > 1 ? default_type : v1::DATA_PARALLEL_TYPE_DDP);
    }
    l->set_checkpoint((*checkpoint)[i] == 1);
    if ((*consecutive)[i] == 0 && tp > 1 && l->dp() > 1) strided.push_back(absl::StrCat(i));
  }
  if (!strided.empty()) {
    out.notes.push_back(absl::StrCat(
        "layers ", absl::StrJoin(strided, ", "),
        ": tp_consecutive_flags 0 (strided TP groups of Galvatron 2.x) read as consecutive"));
  }

  ASSIGN_OR_RETURN(int vtp, IntAt(config, "vtp", what, 1));
  ASSIGN_OR_RETURN(int vsp, IntAt(config, "vsp", what, 0));
  if (vtp < 1 || world_size % (pp * vtp) != 0) {
    return Bad(what, "vtp",
               absl::StrCat(vtp, " does not divide world_size / pp_deg (", world_size / pp, ")"));
  }
  if (vsp != 0 && vsp != 1) return Bad(what, "vsp", absl::StrCat("must be 0 or 1, not ", vsp));
  // The runtime reads vocab_sdp; the search writes embed_sdp.
  ASSIGN_OR_RETURN(int embed_sdp, IntAt(config, "embed_sdp", what, 0));
  ASSIGN_OR_RETURN(int vocab_sdp, IntAt(config, "vocab_sdp", what, embed_sdp));
  if (vocab_sdp != embed_sdp && config.contains("embed_sdp")) {
    out.notes.push_back(absl::StrCat("embed_sdp ", embed_sdp, " and vocab_sdp ", vocab_sdp,
                                     " differ; vocab_sdp (what the runtime reads) is used"));
  }
  v1::EmbeddingStrategy* e = plan.mutable_embedding();
  e->set_vocab_tp(vtp);
  const bool embed_ulysses = vsp == 1 && vtp > 1;
  if (embed_ulysses) {
    e->set_sp(v1::SEQUENCE_PARALLEL_ULYSSES);
  } else if (vtp > 1 && options.megatron_sp) {
    e->set_sp(v1::SEQUENCE_PARALLEL_MEGATRON);
  }
  const int embed_sdp_degree = world_size / pp / vtp * (embed_ulysses ? vtp : 1);
  if (vocab_sdp == 1) {
    e->set_dp_type(v1::DATA_PARALLEL_TYPE_ZERO3);
  } else {
    e->set_dp_type(embed_sdp_degree > 1 ? default_type : v1::DATA_PARALLEL_TYPE_DDP);
  }
  return out;
}

absl::StatusOr<v1::Plan> ReadGalvatronConfig(const std::string& json, const std::string& what,
                                             const GalvatronConfigReadOptions& options) {
  ASSIGN_OR_RETURN(GalvatronConfigImport imported, ImportGalvatronConfig(json, what, options));
  return std::move(imported.plan);
}

}  // namespace galvatron::interop
