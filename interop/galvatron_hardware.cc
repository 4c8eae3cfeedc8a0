#include "interop/galvatron_hardware.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/json_file.h"
#include "common/least_squares.h"
#include "common/profile_validation.h"
#include "common/status_macros.h"
#include "interop/galvatron_json.h"

namespace galvatron::interop {
namespace {

namespace fs = std::filesystem;
using internal::Json;
using internal::kBytesPerMb;
using internal::kMsPerSecond;

// Galvatron's profilers measure bandwidth with a 32 MB message
// (bf16 [32, 512, 1024] for all-reduce).
constexpr double kBandwidthMessageMb = 32;
// remap_config / remap_config_for_latency assert at least 8 message sizes per
// group size.
constexpr int kMinSpTimeSizes = 8;

constexpr char kMeasuredBy[] = "Galvatron profile_hardware (imported)";

using TableKey = std::tuple<int, int, int>;  // collective, group size, layout

// The unit conversions of the mapping, written once so that the writer can
// invert exactly what the reader computed (internal::UnitInverse).
double MbPerMsToBytesPerSecond(double mb_per_ms) {
  return mb_per_ms * (kBytesPerMb * kMsPerSecond);
}
double MsToSeconds(double ms) { return ms / kMsPerSecond; }

absl::Status BadKey(const std::string& what, const std::string& key, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": key \"", key, "\" is not ", expected));
}

absl::Status CheckGroupSize(const std::string& what, const std::string& key, int size,
                            int world_size) {
  if (size < 2 || size > world_size) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": key \"", key, "\": group size ", size,
                                                   " must be in [2, ", world_size,
                                                   "] (num_nodes * gpus_per_node)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> PositiveNumber(const Json& value, const std::string& key,
                                      const std::string& what) {
  ASSIGN_OR_RETURN(double v, internal::NumberValue(value, key, what));
  if (v <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": key \"", key, "\" must be > 0, not ", v));
  }
  return v;
}

v1::CollectiveTable& TableFor(std::map<TableKey, v1::CollectiveTable>* tables,
                              v1::Collective collective, int group_size, v1::GroupLayout layout) {
  v1::CollectiveTable& t = (*tables)[TableKey(collective, group_size, layout)];
  t.set_collective(collective);
  t.set_group_size(group_size);
  t.set_layout(layout);
  return t;
}

// allreduce_size_{s}_consec_{0|1}: bus bandwidth in MB/ms.
absl::Status ParseAllreduceBandwidth(const Json& json, const std::string& what, int world_size,
                                     std::map<TableKey, v1::CollectiveTable>* tables) {
  std::set<std::pair<int, int>> seen;  // (size, consec)
  for (const auto& [key, value] : json.items()) {
    const std::vector<std::string> parts = absl::StrSplit(key, '_');
    int size = 0, consec = 0;
    if (parts.size() != 5 || parts[0] != "allreduce" || parts[1] != "size" ||
        parts[3] != "consec" || !internal::ParseDecimal(parts[2], &size) ||
        !internal::ParseDecimal(parts[4], &consec) || consec > 1) {
      return BadKey(what, key, "allreduce_size_{s}_consec_{0|1}");
    }
    RETURN_IF_ERROR(CheckGroupSize(what, key, size, world_size));
    ASSIGN_OR_RETURN(double mb_per_ms, PositiveNumber(value, key, what));
    seen.emplace(size, consec);
    v1::CollectiveTable& t =
        TableFor(tables, v1::COLLECTIVE_ALL_REDUCE, size,
                 consec == 1 ? v1::GROUP_LAYOUT_CONSECUTIVE : v1::GROUP_LAYOUT_STRIDED);
    // MB/ms → bytes/s.
    t.set_bus_bandwidth_bytes_per_second(MbPerMsToBytesPerSecond(mb_per_ms));
  }
  // What read_allreduce_bandwidth_config looks up: consec_1 of the world size,
  // then both layouts of every halving down to 2.
  std::vector<std::pair<int, int>> required;
  if (world_size >= 2) required.emplace_back(world_size, 1);
  for (int s = world_size / 2; s >= 2; s /= 2) {
    required.emplace_back(s, 0);
    required.emplace_back(s, 1);
  }
  for (const auto& [size, consec] : required) {
    if (seen.count({size, consec}) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": missing key \"allreduce_size_", size, "_consec_", consec,
          "\" (Galvatron's read_allreduce_bandwidth_config needs it for ", world_size, " GPUs)"));
    }
  }
  return absl::OkStatus();
}

// pp_size_{pp}: MB/ms.
absl::Status ParseP2pBandwidth(const Json& json, const std::string& what, int world_size,
                               std::map<TableKey, v1::CollectiveTable>* tables) {
  for (const auto& [key, value] : json.items()) {
    int pp = 0;
    absl::string_view rest = key;
    if (!absl::ConsumePrefix(&rest, "pp_size_") || !internal::ParseDecimal(rest, &pp)) {
      return BadKey(what, key, "pp_size_{pp}");
    }
    RETURN_IF_ERROR(CheckGroupSize(what, key, pp, world_size));
    ASSIGN_OR_RETURN(double mb_per_ms, PositiveNumber(value, key, what));
    TableFor(tables, v1::COLLECTIVE_P2P, pp, v1::GROUP_LAYOUT_UNSPECIFIED)
        .set_bus_bandwidth_bytes_per_second(MbPerMsToBytesPerSecond(mb_per_ms));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ParseOverlap(const Json& json, const std::string& what) {
  for (const auto& [key, value] : json.items()) {
    if (key != "overlap_coe") return BadKey(what, key, "overlap_coe");
  }
  ASSIGN_OR_RETURN(double coe, internal::NumberAt(json, "overlap_coe", what));
  // The profiler floors it at 1 (no speed-up from overlapping).
  if (coe < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": key \"overlap_coe\" must be >= 1, not ", coe));
  }
  return coe;
}

// {allreduce|all2all}_size_{s}_{m}MB_time: ms for an m MB message.
absl::Status ParseSpTime(const Json& json, const std::string& what, int world_size,
                         std::map<TableKey, v1::CollectiveTable>* tables) {
  std::map<TableKey, std::map<int64_t, double>> samples;  // bytes → seconds
  for (const auto& [key, value] : json.items()) {
    const std::vector<std::string> parts = absl::StrSplit(key, '_');
    int size = 0, mb = 0;
    absl::string_view mb_text = parts.size() == 5 ? absl::string_view(parts[3]) : "";
    if (parts.size() != 5 || (parts[0] != "allreduce" && parts[0] != "all2all") ||
        parts[1] != "size" || parts[4] != "time" || !internal::ParseDecimal(parts[2], &size) ||
        !absl::ConsumeSuffix(&mb_text, "MB") || !internal::ParseDecimal(mb_text, &mb) || mb < 1) {
      return BadKey(what, key, "{allreduce|all2all}_size_{s}_{m}MB_time");
    }
    RETURN_IF_ERROR(CheckGroupSize(what, key, size, world_size));
    ASSIGN_OR_RETURN(double ms, PositiveNumber(value, key, what));
    const v1::Collective collective =
        parts[0] == "allreduce" ? v1::COLLECTIVE_ALL_REDUCE : v1::COLLECTIVE_ALL_TO_ALL;
    // The SP groups are consecutive ranks (gen_profiling_groups, consec only).
    samples[TableKey(collective, size, v1::GROUP_LAYOUT_CONSECUTIVE)]
           [static_cast<int64_t>(mb) << 20] = MsToSeconds(ms);
  }
  for (const auto& [table_key, by_bytes] : samples) {
    const auto [collective, size, layout] = table_key;
    if (static_cast<int>(by_bytes.size()) < kMinSpTimeSizes) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": ", collective == v1::COLLECTIVE_ALL_REDUCE ? "allreduce" : "all2all", "_size_",
          size, " has ", by_bytes.size(), " message sizes; Galvatron needs at least ",
          kMinSpTimeSizes, " to fit its latency line"));
    }
    v1::CollectiveTable& t = TableFor(tables, static_cast<v1::Collective>(collective), size,
                                      static_cast<v1::GroupLayout>(layout));
    for (const auto& [bytes, seconds] : by_bytes) {
      v1::TimeSample* s = t.add_samples();
      s->set_bytes(bytes);
      s->set_seconds(seconds);
    }
    *t.mutable_fit() = FitTimeSamples(t.samples());
  }
  return absl::OkStatus();
}

// "allreduce_bandwidth_2nodes_8gpus_per_node.json" → {2, 8}.
std::optional<std::pair<int, int>> ParseAllreduceFileName(absl::string_view name) {
  int nodes = 0, gpus = 0;
  if (!absl::ConsumePrefix(&name, "allreduce_bandwidth_") ||
      !absl::ConsumeSuffix(&name, "gpus_per_node.json")) {
    return std::nullopt;
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(name, "nodes_");
  if (parts.size() != 2 || !internal::ParseDecimal(parts[0], &nodes) ||
      !internal::ParseDecimal(parts[1], &gpus) || nodes < 1 || gpus < 1) {
    return std::nullopt;
  }
  return std::make_pair(nodes, gpus);
}

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return !path.empty() && fs::is_directory(path, ec);
}

// An explicit path (a file, or a folder holding `name`), else directory/name.
std::string ResolvePath(const std::string& explicit_path, const std::string& directory,
                        const std::string& name) {
  if (explicit_path.empty()) return (fs::path(directory) / name).string();
  if (IsDirectory(explicit_path)) return (fs::path(explicit_path) / name).string();
  return explicit_path;
}

// Fills num_nodes / gpus_per_node from the allreduce file present.
absl::Status InferShape(const GalvatronHardwareFiles& files, int* num_nodes, int* gpus_per_node) {
  if (*num_nodes > 0 && *gpus_per_node > 0) return absl::OkStatus();
  const bool explicit_file =
      !files.allreduce_bandwidth_path.empty() && !IsDirectory(files.allreduce_bandwidth_path);
  std::vector<std::pair<int, int>> candidates;
  std::string searched;
  if (explicit_file) {
    searched = files.allreduce_bandwidth_path;
    auto shape = ParseAllreduceFileName(fs::path(searched).filename().string());
    if (shape.has_value()) candidates.push_back(*shape);
  } else {
    searched =
        files.allreduce_bandwidth_path.empty() ? files.directory : files.allreduce_bandwidth_path;
    std::error_code ec;
    fs::directory_iterator it(searched.empty() ? "." : searched, ec);
    if (ec) {
      return absl::NotFoundError(absl::StrCat("cannot list the hardware_configs folder \"",
                                              searched, "\": ", ec.message()));
    }
    for (const fs::directory_entry& entry : it) {
      auto shape = ParseAllreduceFileName(entry.path().filename().string());
      if (shape.has_value()) candidates.push_back(*shape);
    }
  }
  std::vector<std::pair<int, int>> matching;
  for (const auto& [n, g] : candidates) {
    if ((*num_nodes == 0 || *num_nodes == n) && (*gpus_per_node == 0 || *gpus_per_node == g)) {
      matching.emplace_back(n, g);
    }
  }
  std::sort(matching.begin(), matching.end());
  if (matching.size() == 1) {
    *num_nodes = matching[0].first;
    *gpus_per_node = matching[0].second;
    return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (const auto& [n, g] : matching) names.push_back(AllreduceBandwidthFileName(n, g));
  if (matching.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no allreduce_bandwidth_{N}nodes_{G}gpus_per_node.json",
                     *num_nodes > 0 ? absl::StrCat(" with N = ", *num_nodes) : "",
                     *gpus_per_node > 0 ? absl::StrCat(" with G = ", *gpus_per_node) : "", " in \"",
                     searched, "\"; set num_nodes and gpus_per_node"));
  }
  return absl::InvalidArgumentError(absl::StrCat("num_nodes and gpus_per_node are ambiguous: \"",
                                                 searched, "\" holds ", absl::StrJoin(names, ", "),
                                                 "; set them to choose one"));
}

// Bandwidth of a table in Galvatron's MB/ms: the stored bus bandwidth, or one
// derived from the table's fit at Galvatron's 32 MB message.
std::optional<double> GalvatronBandwidth(const v1::CollectiveTable& t) {
  const double bus = t.bus_bandwidth_bytes_per_second();
  if (bus > 0) {
    return internal::UnitInverse(bus, bus / (kBytesPerMb * kMsPerSecond), MbPerMsToBytesPerSecond);
  }
  v1::AlphaBetaFit fit = t.fit();
  if (fit.alpha_seconds() == 0 && fit.beta_seconds_per_byte() == 0) {
    if (t.samples().empty()) return std::nullopt;
    fit = FitTimeSamples(t.samples());
  }
  const double ms =
      (fit.alpha_seconds() + fit.beta_seconds_per_byte() * kBandwidthMessageMb * kBytesPerMb) *
      kMsPerSecond;
  if (!(ms > 0)) return std::nullopt;
  double factor = 1;
  if (t.collective() == v1::COLLECTIVE_ALL_REDUCE) {
    factor = 2.0 * (t.group_size() - 1) / t.group_size();
  }
  return factor * kBandwidthMessageMb / ms;
}

}  // namespace

std::string AllreduceBandwidthFileName(int num_nodes, int gpus_per_node) {
  return absl::StrCat("allreduce_bandwidth_", num_nodes, "nodes_", gpus_per_node,
                      "gpus_per_node.json");
}

std::string P2pBandwidthFileName(int num_nodes, int gpus_per_node) {
  return absl::StrCat("p2p_bandwidth_", num_nodes, "nodes_", gpus_per_node, "gpus_per_node.json");
}

std::string SpTimeFileName(int num_nodes, int gpus_per_node) {
  return absl::StrCat("sp_time_", num_nodes, "nodes_", gpus_per_node, "gpus_per_node.json");
}

absl::StatusOr<v1::HardwareProfile> ParseGalvatronHardware(const GalvatronHardwareJson& json,
                                                           int num_nodes, int gpus_per_node,
                                                           const std::string& cluster) {
  if (num_nodes < 1 || gpus_per_node < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_nodes (", num_nodes, ") and gpus_per_node (", gpus_per_node, ") must be >= 1"));
  }
  const int world_size = num_nodes * gpus_per_node;
  std::map<TableKey, v1::CollectiveTable> tables;

  ASSIGN_OR_RETURN(Json allreduce, internal::ParseJsonObject(json.allreduce_bandwidth,
                                                             json.allreduce_bandwidth_name));
  RETURN_IF_ERROR(
      ParseAllreduceBandwidth(allreduce, json.allreduce_bandwidth_name, world_size, &tables));
  ASSIGN_OR_RETURN(Json p2p,
                   internal::ParseJsonObject(json.p2p_bandwidth, json.p2p_bandwidth_name));
  RETURN_IF_ERROR(ParseP2pBandwidth(p2p, json.p2p_bandwidth_name, world_size, &tables));
  ASSIGN_OR_RETURN(Json overlap, internal::ParseJsonObject(json.overlap_coefficient,
                                                           json.overlap_coefficient_name));
  ASSIGN_OR_RETURN(double overlap_coe, ParseOverlap(overlap, json.overlap_coefficient_name));
  if (!json.sp_time.empty()) {
    ASSIGN_OR_RETURN(Json sp_time, internal::ParseJsonObject(json.sp_time, json.sp_time_name));
    RETURN_IF_ERROR(ParseSpTime(sp_time, json.sp_time_name, world_size, &tables));
  }

  v1::HardwareProfile profile;
  profile.set_cluster(cluster);
  profile.set_num_nodes(num_nodes);
  profile.set_devices_per_node(gpus_per_node);
  for (auto& [key, table] : tables) *profile.add_collectives() = std::move(table);
  profile.set_overlap_coefficient(overlap_coe);
  profile.set_runtime_context_bytes(kGalvatronRuntimeContextBytes);
  profile.set_source(v1::PROFILE_SOURCE_GALVATRON_IMPORT);
  profile.set_measured_by(kMeasuredBy);
  RETURN_IF_ERROR(ValidateHardwareProfile(profile));
  return profile;
}

absl::StatusOr<v1::HardwareProfile> ReadGalvatronHardware(const GalvatronHardwareFiles& files) {
  int num_nodes = files.num_nodes, gpus_per_node = files.gpus_per_node;
  if (num_nodes < 0 || gpus_per_node < 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_nodes (", num_nodes,
                                                   ") and gpus_per_node (", gpus_per_node,
                                                   ") must be >= 0 (0: inferred)"));
  }
  RETURN_IF_ERROR(InferShape(files, &num_nodes, &gpus_per_node));

  GalvatronHardwareJson json;
  json.allreduce_bandwidth_name = ResolvePath(files.allreduce_bandwidth_path, files.directory,
                                              AllreduceBandwidthFileName(num_nodes, gpus_per_node));
  json.p2p_bandwidth_name = ResolvePath(files.p2p_bandwidth_path, files.directory,
                                        P2pBandwidthFileName(num_nodes, gpus_per_node));
  json.overlap_coefficient_name =
      ResolvePath(files.overlap_coefficient_path, files.directory, kOverlapCoefficientFileName);
  json.sp_time_name =
      ResolvePath(files.sp_time_path, files.directory, SpTimeFileName(num_nodes, gpus_per_node));
  ASSIGN_OR_RETURN(json.allreduce_bandwidth, ReadTextFile(json.allreduce_bandwidth_name));
  ASSIGN_OR_RETURN(json.p2p_bandwidth, ReadTextFile(json.p2p_bandwidth_name));
  ASSIGN_OR_RETURN(json.overlap_coefficient, ReadTextFile(json.overlap_coefficient_name));
  std::error_code ec;
  const bool sp_time_explicit = !files.sp_time_path.empty() && !IsDirectory(files.sp_time_path);
  if (sp_time_explicit || fs::exists(json.sp_time_name, ec)) {
    ASSIGN_OR_RETURN(json.sp_time, ReadTextFile(json.sp_time_name));
    if (json.sp_time.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(json.sp_time_name, ": empty file"));
    }
  }
  return ParseGalvatronHardware(json, num_nodes, gpus_per_node, files.cluster);
}

absl::StatusOr<GalvatronHardwareJson> FormatGalvatronHardware(const v1::HardwareProfile& profile) {
  const int world_size = profile.num_nodes() * profile.devices_per_node();
  if (profile.num_nodes() < 1 || profile.devices_per_node() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("num_nodes (", profile.num_nodes(),
                                                   ") and devices_per_node (",
                                                   profile.devices_per_node(), ") must be >= 1"));
  }
  std::map<std::pair<int, int>, double> allreduce;  // (size, consec) → MB/ms
  std::map<int, double> p2p;                        // pp → MB/ms
  // op → size → MB → ms, ops in Galvatron's order (allreduce, then all2all).
  std::map<int, std::map<int, std::map<int64_t, double>>> sp_time;
  for (const v1::CollectiveTable& t : profile.collectives()) {
    const bool consecutive = t.layout() == v1::GROUP_LAYOUT_CONSECUTIVE;
    if (t.collective() == v1::COLLECTIVE_ALL_REDUCE &&
        (consecutive || t.layout() == v1::GROUP_LAYOUT_STRIDED)) {
      auto bw = GalvatronBandwidth(t);
      if (bw.has_value()) allreduce[{t.group_size(), consecutive ? 1 : 0}] = *bw;
    } else if (t.collective() == v1::COLLECTIVE_P2P) {
      auto bw = GalvatronBandwidth(t);
      if (bw.has_value()) p2p[t.group_size()] = *bw;
    }
    const bool sp_table = consecutive && (t.collective() == v1::COLLECTIVE_ALL_REDUCE ||
                                          t.collective() == v1::COLLECTIVE_ALL_TO_ALL);
    if (!sp_table) continue;
    // Galvatron keys sp_time by whole MB: samples of whole MB are written as
    // measured; a table without any (a CPU probe of small messages) is
    // written from its alpha-beta fit at 1 MB and at each power of two up to
    // its largest message, so the file still carries what was measured.
    std::map<int64_t, double> times;
    int64_t largest = 0;
    for (const v1::TimeSample& s : t.samples()) {
      largest = std::max(largest, s.bytes());
      if (s.bytes() <= 0 || s.bytes() % (int64_t{1} << 20) != 0) continue;
      times[s.bytes() >> 20] =
          internal::UnitInverse(s.seconds(), s.seconds() * kMsPerSecond, MsToSeconds);
    }
    if (times.empty() && t.samples_size() > 0) {
      // The largest message's time scaled by size when the fit is not
      // usable (noise can make a CPU fit's slope zero or negative).
      double largest_seconds = 0;
      for (const v1::TimeSample& s : t.samples()) {
        if (s.bytes() == largest) largest_seconds = s.seconds();
      }
      if (largest <= 0 || largest_seconds <= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "collective table ", v1::Collective_Name(t.collective()), " group_size ",
            t.group_size(), ": no positive sample, which Galvatron's sp_time keys need"));
      }
      const bool fit_usable = t.fit().beta_seconds_per_byte() > 0 && t.fit().alpha_seconds() >= 0;
      for (int64_t mb = 1; mb == 1 || (mb << 20) <= largest; mb *= 2) {
        const double bytes = static_cast<double>(mb << 20);
        const double seconds =
            fit_usable ? t.fit().alpha_seconds() + t.fit().beta_seconds_per_byte() * bytes
                       : largest_seconds * bytes / static_cast<double>(largest);
        times[mb] = seconds * kMsPerSecond;
      }
    }
    if (!times.empty()) {
      sp_time[t.collective() == v1::COLLECTIVE_ALL_REDUCE ? 0 : 1][t.group_size()] = times;
    }
  }

  GalvatronHardwareJson out;
  out.allreduce_bandwidth_name =
      AllreduceBandwidthFileName(profile.num_nodes(), profile.devices_per_node());
  out.p2p_bandwidth_name = P2pBandwidthFileName(profile.num_nodes(), profile.devices_per_node());
  out.sp_time_name = SpTimeFileName(profile.num_nodes(), profile.devices_per_node());

  // Galvatron's order: sizes from the world size down, consec_1 before consec_0.
  Json allreduce_json = Json::object();
  for (int s = world_size; s >= 2; s /= 2) {
    for (int consec : {1, 0}) {
      auto it = allreduce.find({s, consec});
      const bool required = consec == 1 || s != world_size;
      if (it == allreduce.end()) {
        if (!required) continue;
        return absl::FailedPreconditionError(absl::StrCat(
            "the profile has no bandwidth for ALL_REDUCE group_size ", s, " ",
            consec == 1 ? "CONSECUTIVE" : "STRIDED", ", which ", out.allreduce_bandwidth_name,
            " needs (key allreduce_size_", s, "_consec_", consec, ")"));
      }
      allreduce_json[absl::StrCat("allreduce_size_", s, "_consec_", consec)] = it->second;
      allreduce.erase(it);
    }
  }
  // Tables outside Galvatron's halving ladder (kept, after it).
  for (const auto& [key, bw] : allreduce) {
    allreduce_json[absl::StrCat("allreduce_size_", key.first, "_consec_", key.second)] = bw;
  }
  out.allreduce_bandwidth = internal::DumpLikePython(allreduce_json);

  Json p2p_json = Json::object();
  for (const auto& [pp, bw] : p2p) p2p_json[absl::StrCat("pp_size_", pp)] = bw;
  out.p2p_bandwidth = internal::DumpLikePython(p2p_json);

  if (profile.overlap_coefficient() > 0) {
    Json overlap = Json::object();
    overlap["overlap_coe"] = profile.overlap_coefficient();
    out.overlap_coefficient = internal::DumpLikePython(overlap);
  }

  if (!sp_time.empty()) {
    Json sp = Json::object();
    for (const auto& [op, by_size] : sp_time) {
      // Group sizes from the largest down, message sizes up, as the profiler writes them.
      for (auto size_it = by_size.rbegin(); size_it != by_size.rend(); ++size_it) {
        for (const auto& [mb, ms] : size_it->second) {
          sp[absl::StrCat(op == 0 ? "allreduce" : "all2all", "_size_", size_it->first, "_", mb,
                          "MB_time")] = ms;
        }
      }
    }
    out.sp_time = internal::DumpLikePython(sp);
  }
  return out;
}

absl::Status WriteGalvatronHardware(const v1::HardwareProfile& profile, const std::string& dir) {
  ASSIGN_OR_RETURN(GalvatronHardwareJson json, FormatGalvatronHardware(profile));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create directory ", dir, ": ", ec.message()));
  }
  const fs::path base(dir);
  RETURN_IF_ERROR(internal::WriteFile((base / json.allreduce_bandwidth_name).string(),
                                      json.allreduce_bandwidth));
  RETURN_IF_ERROR(
      internal::WriteFile((base / json.p2p_bandwidth_name).string(), json.p2p_bandwidth));
  if (!json.overlap_coefficient.empty()) {
    RETURN_IF_ERROR(internal::WriteFile((base / json.overlap_coefficient_name).string(),
                                        json.overlap_coefficient));
  }
  if (!json.sp_time.empty()) {
    RETURN_IF_ERROR(internal::WriteFile((base / json.sp_time_name).string(), json.sp_time));
  }
  return absl::OkStatus();
}

}  // namespace galvatron::interop
