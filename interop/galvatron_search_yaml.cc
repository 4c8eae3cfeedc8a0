#include "interop/galvatron_search_yaml.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace galvatron::interop {
namespace {

// One scalar of the file, its ${NAME} resolved, with what names it in errors.
struct Scalar {
  std::string path;
  std::string text;
};

absl::Status Bad(const std::string& what, const std::string& path, const std::string& value,
                 const std::string& expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": ", path, ": \"", value, "\", expected ", expected));
}

absl::StatusOr<int> AsInt(const std::string& what, const Scalar& s) {
  int v = 0;
  double d = 0;
  if (absl::SimpleAtoi(s.text, &v)) return v;
  // YAML writes some integers as 1.0; take them when whole.
  if (absl::SimpleAtod(s.text, &d) && std::isfinite(d) && d == std::floor(d) &&
      std::fabs(d) < 1e9) {
    return static_cast<int>(d);
  }
  return Bad(what, s.path, s.text, "an integer");
}

absl::StatusOr<double> AsDouble(const std::string& what, const Scalar& s) {
  double d = 0;
  if (absl::SimpleAtod(s.text, &d) && std::isfinite(d)) return d;
  return Bad(what, s.path, s.text, "a number");
}

// Galvatron's flags are ints (0/1) or YAML booleans.
absl::StatusOr<bool> AsBool(const std::string& what, const Scalar& s) {
  const std::string t = absl::AsciiStrToLower(s.text);
  if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "off") return false;
  return Bad(what, s.path, s.text, "true/false or 1/0");
}

absl::StatusOr<std::string> AsChoice(const std::string& what, const Scalar& s,
                                     const std::set<std::string>& choices) {
  if (choices.count(s.text) > 0) return s.text;
  return Bad(what, s.path, s.text, absl::StrCat("one of ", absl::StrJoin(choices, ", ")));
}

bool IsNull(const Scalar& s) { return s.text.empty() || s.text == "null" || s.text == "~"; }

class Reader {
 public:
  Reader(std::string what, GalvatronSearchYaml* out) : what_(std::move(what)), out_(out) {}

  absl::Status Read(const YAML::Node& root) {
    if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(what_, ": not a mapping"));
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (kv.second.IsScalar()) top_[key] = kv.second.as<std::string>();
    }
    bool found = false;
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key == "search_engine") {
        found = true;
        if (!kv.second.IsMap()) return NotMap(key);
        for (const auto& section : kv.second) {
          const std::string name = section.first.as<std::string>();
          const std::string path = absl::StrCat(key, ".", name);
          if (!section.second.IsMap()) {
            if (section.second.IsNull()) continue;
            return NotMap(path);
          }
          RETURN_IF_ERROR(Section(path, name, section.second));
        }
      } else if (!kv.second.IsScalar()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what_, ": ", key, ": unknown section, expected search_engine"));
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          what_, ": no search_engine section (is this Galvatron's search_dist.yaml?)"));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status NotMap(const std::string& path) {
    return absl::InvalidArgumentError(absl::StrCat(what_, ": ", path, ": expected a mapping"));
  }

  absl::StatusOr<Scalar> Resolve(const std::string& path, const YAML::Node& node) {
    if (!node.IsScalar() && !node.IsNull()) {
      return absl::InvalidArgumentError(absl::StrCat(what_, ": ", path, ": expected a value"));
    }
    Scalar s{path, node.IsNull() ? std::string() : node.as<std::string>()};
    if (absl::StartsWith(s.text, "${") && absl::EndsWith(s.text, "}")) {
      const std::string name = s.text.substr(2, s.text.size() - 3);
      auto it = top_.find(name);
      if (it == top_.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what_, ": ", path, ": \"", s.text, "\" names ", name, ", which the file does not set"));
      }
      s.text = it->second;
    }
    return s;
  }

  using Handler = std::function<absl::Status(const Scalar&)>;

  template <typename T>
  Handler Set(std::optional<T>* field,
              absl::StatusOr<T> (*convert)(const std::string&, const Scalar&)) {
    return [this, field, convert](const Scalar& s) -> absl::Status {
      if (IsNull(s)) return absl::OkStatus();
      absl::StatusOr<T> v = convert(what_, s);
      if (!v.ok()) return v.status();
      *field = *v;
      return absl::OkStatus();
    };
  }

  Handler Choice(std::optional<std::string>* field, std::set<std::string> choices) {
    return [this, field, choices](const Scalar& s) -> absl::Status {
      if (IsNull(s)) return absl::OkStatus();
      absl::StatusOr<std::string> v = AsChoice(what_, s, choices);
      if (!v.ok()) return v.status();
      *field = *v;
      return absl::OkStatus();
    };
  }

  Handler Disable(const std::string& ours) {
    return [this, ours](const Scalar& s) -> absl::Status {
      absl::StatusOr<bool> v = AsBool(what_, s);
      if (!v.ok()) return v.status();
      if (*v) out_->disabled.push_back(ours);
      return absl::OkStatus();
    };
  }

  Handler Ignore(std::string why) {
    return [this, why](const Scalar& s) -> absl::Status {
      if (!IsNull(s)) out_->ignored.push_back(absl::StrCat(s.path, ": ", s.text, " (", why, ")"));
      return absl::OkStatus();
    };
  }

  absl::Status Section(const std::string& path, const std::string& name, const YAML::Node& node) {
    std::map<std::string, Handler> known;
    // Sections that are Galvatron's runtime schemas (many training keys the
    // search never reads) take unknown keys as ignored; the search's own
    // sections refuse them, so that a misspelt setting is not lost.
    bool strict = true;
    const char* kEngine = "how Galvatron's own engine runs, not the plan";
    if (name == "profiling_info") {
      known["time_profile_mode"] =
          Choice(&out_->time_profile_mode, {"static", "batch", "sequence", "hybrid"});
      known["memory_profile_mode"] =
          Choice(&out_->memory_profile_mode, {"static", "batch", "sequence", "hybrid"});
      for (const char* k :
           {"memory_profiling_path", "time_profiling_path", "allreduce_bandwidth_config_path",
            "p2p_bandwidth_config_path", "overlap_coe_path", "sp_time_path"}) {
        known[k] = Ignore("profiles come from --hardware and --compute");
      }
    } else if (name == "model_info") {
      strict = false;
      known["model_size"] = [this](const Scalar& s) -> absl::Status {
        if (!IsNull(s)) out_->model_size = s.text;
        return absl::OkStatus();
      };
      known["set_seqlen_manually"] = [this](const Scalar& s) -> absl::Status {
        absl::StatusOr<bool> v = AsBool(what_, s);
        if (!v.ok()) return v.status();
        seqlen_manually_ = *v;
        return absl::OkStatus();
      };
      known["is_moe_model"] = [this](const Scalar& s) -> absl::Status {
        absl::StatusOr<bool> v = AsBool(what_, s);
        if (!v.ok()) return v.status();
        if (*v)
          return Bad(what_, s.path, s.text, "false (mixture-of-experts models are not searched)");
        return absl::OkStatus();
      };
      for (const char* k : {"model_config_path", "set_model_config_manually",
                            "set_layernum_manually", "hf_model_name_or_path"}) {
        known[k] = Ignore("the model comes from --model or model_size");
      }
    } else if (name == "common_train_info") {
      strict = false;
      known["seq_length"] = Set<int>(&seq_length_, AsInt);
      known["sequence_parallel"] = Set<bool>(&out_->sequence_parallel, AsBool);
      known["global_memory_buffer"] = Set<bool>(&out_->global_memory_buffer, AsBool);
    } else if (name == "parallelism_info") {
      strict = false;
      known["default_dp_type"] = Choice(&out_->default_dp_type, {"ddp", "zero2", "zero3"});
      known["pipeline_type"] = Choice(&out_->pipeline_type, {"gpipe", "pipedream_flush"});
      known["async_grad_reduce"] = Set<bool>(&out_->async_grad_reduce, AsBool);
      known["mixed_precision"] = Choice(&out_->mixed_precision, {"bf16", "fp16", "fp32"});
    } else if (name == "hardware_info") {
      known["num_nodes"] = Set<int>(&out_->num_nodes, AsInt);
      known["num_gpus_per_node"] = Set<int>(&out_->gpus_per_node, AsInt);
      known["memory_constraint"] = Set<double>(&out_->memory_constraint_gb, AsDouble);
    } else if (name == "batch_size_info") {
      known["min_bsz"] = Set<int>(&out_->min_bsz, AsInt);
      known["max_bsz"] = Set<int>(&out_->max_bsz, AsInt);
      known["bsz_scale"] = Set<int>(&out_->bsz_scale, AsInt);
      known["settle_bsz"] = Set<int>(&out_->settle_bsz, AsInt);
      known["settle_chunk"] = Set<int>(&out_->settle_chunk, AsInt);
      known["recommend_min_bsz"] = [this](const Scalar& s) -> absl::Status {
        absl::StatusOr<bool> v = AsBool(what_, s);
        if (!v.ok()) return v.status();
        if (*v) {
          out_->ignored.push_back(absl::StrCat(
              s.path, ": ", s.text,
              " (a shortcut of Galvatron's engine; every batch size of the range is searched)"));
        }
        return absl::OkStatus();
      };
    } else if (name == "search_space_info") {
      known["disable_dp"] = Disable("dp");
      known["disable_tp"] = Disable("tp");
      known["disable_sp"] = Disable("sp");
      known["disable_pp"] = Disable("pp");
      known["disable_ckpt"] = Disable("ckpt");
      known["disable_fsdp"] = Disable("sdp");
      known["disable_embedding_lmhead_tp"] = Disable("embedding_tp");
      known["disable_embedding_lmhead_sp"] = Disable("embedding_sp");
      known["disable_cp"] = [this](const Scalar& s) -> absl::Status {
        absl::StatusOr<bool> v = AsBool(what_, s);
        if (!v.ok()) return v.status();
        if (!*v) return Bad(what_, s.path, s.text, "1 (context parallelism is not searched)");
        return absl::OkStatus();
      };
      known["max_tp_deg"] = Set<int>(&out_->max_tp_deg, AsInt);
      known["max_pp_deg"] = Set<int>(&out_->max_pp_deg, AsInt);
      known["max_sp_deg"] = Set<int>(&out_->max_sp_deg, AsInt);
      known["max_cp_deg"] = Ignore("context parallelism is not searched");
    } else if (name == "options_info") {
      known["fine_grained_mode"] = Set<bool>(&out_->fine_grained, AsBool);
      for (const char* k : {"parallel_search", "worker", "log_dir", "output_config_path"}) {
        known[k] = Ignore(kEngine);
      }
    } else if (name == "debug_info") {
      known["debug_costmodel_coe"] = Set<double>(&out_->costmodel_coe, AsDouble);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(what_, ": ", path, ": unknown section"));
    }
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      const std::string key_path = absl::StrCat(path, ".", key);
      auto it = known.find(key);
      if (it == known.end()) {
        if (strict) {
          std::vector<std::string> names;
          for (const auto& [k, unused] : known) names.push_back(k);
          return absl::InvalidArgumentError(absl::StrCat(what_, ": ", key_path,
                                                         ": unknown setting, expected one of ",
                                                         absl::StrJoin(names, ", ")));
        }
        if (kv.second.IsScalar()) {
          out_->ignored.push_back(
              absl::StrCat(key_path, ": ", kv.second.as<std::string>(),
                           " (a training setting; the search does not read it)"));
        }
        continue;
      }
      absl::StatusOr<Scalar> s = Resolve(key_path, kv.second);
      if (!s.ok()) return s.status();
      RETURN_IF_ERROR(it->second(*s));
    }
    if (name == "common_train_info" || name == "model_info") ApplySeqLength();
    return absl::OkStatus();
  }

  // Galvatron takes seq_length from the file only with set_seqlen_manually
  // (else from the model's configuration).
  void ApplySeqLength() {
    if (seq_length_.has_value() && seqlen_manually_) {
      out_->seq_length = seq_length_;
    } else {
      out_->seq_length.reset();
    }
  }

  const std::string what_;
  GalvatronSearchYaml* out_;
  std::map<std::string, std::string> top_;
  std::optional<int> seq_length_;
  bool seqlen_manually_ = false;
};

}  // namespace

absl::StatusOr<GalvatronSearchYaml> ParseGalvatronSearchYaml(const std::string& text,
                                                             const std::string& what) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not YAML: ", e.what()));
  }
  GalvatronSearchYaml out;
  try {
    Reader reader(what, &out);
    absl::Status read = reader.Read(root);
    if (!read.ok()) return read;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what()));
  }
  const auto positive = [&](const std::optional<int>& v, const char* path) -> absl::Status {
    if (v.has_value() && *v < 1) {
      return Bad(what, path, std::to_string(*v), "an integer >= 1");
    }
    return absl::OkStatus();
  };
  for (const auto& [v, path] : std::vector<std::pair<std::optional<int>, const char*>>{
           {out.num_nodes, "search_engine.hardware_info.num_nodes"},
           {out.gpus_per_node, "search_engine.hardware_info.num_gpus_per_node"},
           {out.min_bsz, "search_engine.batch_size_info.min_bsz"},
           {out.max_bsz, "search_engine.batch_size_info.max_bsz"},
           {out.bsz_scale, "search_engine.batch_size_info.bsz_scale"},
           {out.max_tp_deg, "search_engine.search_space_info.max_tp_deg"},
           {out.max_pp_deg, "search_engine.search_space_info.max_pp_deg"},
           {out.max_sp_deg, "search_engine.search_space_info.max_sp_deg"},
           {out.seq_length, "search_engine.common_train_info.seq_length"}}) {
    absl::Status s = positive(v, path);
    if (!s.ok()) return s;
  }
  if (out.memory_constraint_gb.has_value() && !(*out.memory_constraint_gb > 0)) {
    return Bad(what, "search_engine.hardware_info.memory_constraint",
               std::to_string(*out.memory_constraint_gb), "a number of GB > 0");
  }
  if (out.min_bsz && out.max_bsz && *out.max_bsz < *out.min_bsz) {
    return Bad(what, "search_engine.batch_size_info.max_bsz", std::to_string(*out.max_bsz),
               absl::StrCat(">= min_bsz (", *out.min_bsz, ")"));
  }
  if (out.costmodel_coe.has_value() && !(*out.costmodel_coe > 0)) {
    return Bad(what, "search_engine.debug_info.debug_costmodel_coe",
               std::to_string(*out.costmodel_coe), "a number > 0");
  }
  return out;
}

absl::StatusOr<GalvatronSearchYaml> ReadGalvatronSearchYaml(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseGalvatronSearchYaml(buffer.str(), path);
}

}  // namespace galvatron::interop
