#include "common/message_text.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/units.h"

namespace galvatron::text {

std::string TextTable::Render() const {
  std::vector<size_t> width(headers_.size(), 0);
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      if (c + 1 == width.size()) {
        out += cell;
      } else {
        out += cell + std::string(width[c] - cell.size() + 2, ' ');
      }
    }
    return out + "\n";
  };
  std::string out = line(headers_);
  for (const auto& row : rows_) out += line(row);
  return out;
}

std::string ShortEnumName(const std::string& full_name, const std::string& prefix) {
  std::string name = full_name;
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  absl::Time t = absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

namespace {

// A calibration's gradient-sync factor; one stored before it existed has
// none and uses the communication factor (planner/cost/calibration.h).
double SyncFactor(const v1::Calibration& c) {
  return c.sync_factor() > 0 ? c.sync_factor() : c.communication_factor();
}

std::string Family(v1::ModelFamily f) {
  return ShortEnumName(v1::ModelFamily_Name(f), "MODEL_FAMILY_");
}
std::string Kind(v1::LayerKind k) { return ShortEnumName(v1::LayerKind_Name(k), "LAYER_KIND_"); }
std::string PrecisionName(v1::Precision p) {
  return ShortEnumName(v1::Precision_Name(p), "PRECISION_");
}
std::string SourceName(v1::ProfileSource s) {
  return ShortEnumName(v1::ProfileSource_Name(s), "PROFILE_SOURCE_");
}
int TotalLayers(const v1::ModelSpec& m) {
  int total = 0;
  for (const auto& g : m.layers()) total += g.count();
  return total;
}

std::string Seconds(double s) {
  if (s <= 0) return "-";
  if (s < 1e-3) return absl::StrFormat("%.1f us", s * 1e6);
  if (s < 1) return absl::StrFormat("%.3f ms", s * 1e3);
  return absl::StrFormat("%.3f s", s);
}

// The "quality:" line of a measured profile (and its note when noisy); ""
// when the profile has no record (imported, written by hand).
std::string QualityLines(bool has_quality, const v1::MeasurementQuality& q) {
  if (!has_quality) return "";
  std::string out = absl::StrFormat(
      "quality:     %s: spread %.3g (threshold %.3g), load %s (threshold %.3g), %d %s\n",
      q.noisy() ? "NOISY" : "quiet", q.spread(), q.spread_threshold(),
      q.load() < 0 ? std::string("unknown") : absl::StrFormat("%.2f", q.load()), q.load_threshold(),
      q.attempts(), q.attempts() == 1 ? "attempt" : "attempts at most");
  if (!q.note().empty()) absl::StrAppend(&out, "             ", q.note(), "\n");
  return out;
}

}  // namespace

std::string ModelListTable(const std::vector<v1::ModelSpec>& models) {
  TextTable table({"NAME", "VERSION", "FAMILY", "LAYERS", "HIDDEN", "HEADS", "VOCAB", "SEQ",
                   "PRECISION", "SOURCE"});
  for (const auto& m : models) {
    const auto* first = m.layers_size() > 0 ? &m.layers(0) : nullptr;
    table.AddRow({m.name(), m.builtin() ? "-" : absl::StrCat(m.version()), Family(m.family()),
                  absl::StrCat(TotalLayers(m)), first ? absl::StrCat(first->hidden()) : "-",
                  first ? absl::StrCat(first->heads()) : "-", absl::StrCat(m.vocab_size()),
                  absl::StrCat(m.seq_len()), PrecisionName(m.precision()),
                  m.builtin() ? "builtin" : "stored"});
  }
  if (table.empty()) return "no models\n";
  return table.Render();
}

std::string ModelDetails(const v1::ModelSpec& m) {
  std::string out;
  absl::StrAppend(&out, "name:        ", m.name(), "\n");
  absl::StrAppend(
      &out, "version:     ", m.builtin() ? "built-in catalog" : absl::StrCat(m.version()), "\n");
  if (!m.description().empty()) absl::StrAppend(&out, "description: ", m.description(), "\n");
  absl::StrAppend(&out, "family:      ", Family(m.family()), "\n");
  absl::StrAppend(&out, "layers:      ", TotalLayers(m), "\n");
  absl::StrAppend(&out, "vocab:       ", m.vocab_size(), m.tie_embeddings() ? " (tied)" : "", "\n");
  absl::StrAppend(&out, "seq_len:     ", m.seq_len(), "\n");
  absl::StrAppend(&out, "precision:   ", PrecisionName(m.precision()), "\n");
  if (m.has_vision()) {
    absl::StrAppend(&out, "vision:      image ", m.vision().image_size(), ", patch ",
                    m.vision().patch_size(), ", classes ", m.vision().num_classes(), "\n");
  }
  if (!m.builtin()) absl::StrAppend(&out, "created:     ", FormatTimestamp(m.created_at()), "\n");
  if (!m.owner().empty()) absl::StrAppend(&out, "owner:       ", m.owner(), "\n");
  TextTable table(
      {"GROUP", "KIND", "COUNT", "HIDDEN", "FFN", "HEADS", "KV_HEADS", "HEAD_DIM", "SEQ", "BIAS"});
  for (int i = 0; i < m.layers_size(); ++i) {
    const auto& g = m.layers(i);
    table.AddRow({absl::StrCat(i), Kind(g.kind()), absl::StrCat(g.count()),
                  absl::StrCat(g.hidden()), absl::StrCat(g.ffn_hidden()), absl::StrCat(g.heads()),
                  g.kv_heads() ? absl::StrCat(g.kv_heads()) : "=heads",
                  g.head_dim() ? absl::StrCat(g.head_dim()) : "auto",
                  g.seq_len() ? absl::StrCat(g.seq_len()) : "model", g.bias() ? "yes" : "no"});
  }
  return out + "\n" + table.Render();
}

std::string HardwareProfileDetails(const v1::HardwareProfile& p) {
  std::string out;
  absl::StrAppend(&out, "id:          ", p.id(), "\n");
  absl::StrAppend(&out, "cluster:     ", p.cluster(), " (version ", p.version(), ")\n");
  absl::StrAppend(&out, "topology:    ", p.num_nodes(), " nodes x ", p.devices_per_node(),
                  " devices\n");
  absl::StrAppend(&out, "device:      ", p.device().name().empty() ? "-" : p.device().name(), ", ",
                  FormatBytes(p.device().memory_bytes()));
  if (p.device().peak_flops() > 0) {
    absl::StrAppend(&out, absl::StrFormat(", %.1f TFLOP/s peak", p.device().peak_flops() / 1e12));
  }
  absl::StrAppend(&out, "\n");
  absl::StrAppend(
      &out, "overlap:     ",
      p.overlap_coefficient() > 0 ? absl::StrFormat("%.4f", p.overlap_coefficient()) : "unknown",
      "\n");
  absl::StrAppend(&out, "source:      ", SourceName(p.source()), "\n");
  absl::StrAppend(&out, "measured:    ", FormatTimestamp(p.measured_at()),
                  p.measured_by().empty() ? "" : " by " + p.measured_by(), "\n");
  absl::StrAppend(&out, QualityLines(p.has_quality(), p.quality()));
  absl::StrAppend(&out, "stored:      ", FormatTimestamp(p.created_at()),
                  p.uploaded_by().empty() ? "" : " by " + p.uploaded_by(),
                  p.restored_from_version() > 0
                      ? absl::StrCat(" (rolled back to version ", p.restored_from_version(), ")")
                      : "",
                  "\n\n");
  TextTable table({"COLLECTIVE", "GROUP", "LAYOUT", "SAMPLES", "BUS_BW", "ALPHA", "BETA"});
  for (const auto& c : p.collectives()) {
    table.AddRow({ShortEnumName(v1::Collective_Name(c.collective()), "COLLECTIVE_"),
                  absl::StrCat(c.group_size()),
                  c.layout() == v1::GROUP_LAYOUT_UNSPECIFIED
                      ? "-"
                      : ShortEnumName(v1::GroupLayout_Name(c.layout()), "GROUP_LAYOUT_"),
                  absl::StrCat(c.samples_size()),
                  c.bus_bandwidth_bytes_per_second() > 0
                      ? absl::StrFormat("%.1f GB/s", c.bus_bandwidth_bytes_per_second() / 1e9)
                      : "-",
                  Seconds(c.fit().alpha_seconds()),
                  c.fit().beta_seconds_per_byte() > 0
                      ? absl::StrFormat("%.1f GB/s", 1e-9 / c.fit().beta_seconds_per_byte())
                      : "-"});
  }
  if (table.empty()) return out + "no collective tables\n";
  return out + table.Render();
}

std::string ComputeProfileDetails(const v1::ComputeProfile& p) {
  std::string out;
  absl::StrAppend(&out, "id:          ", p.id(), "\n");
  absl::StrAppend(&out, "layer type:  ", p.layer_type(), "\n");
  absl::StrAppend(&out, "cluster:     ", p.cluster(), " (version ", p.version(), ")\n");
  if (!p.model().empty()) absl::StrAppend(&out, "model:       ", p.model(), "\n");
  absl::StrAppend(&out, "precision:   ", PrecisionName(p.precision()), "\n");
  absl::StrAppend(&out, "parameters:  ", p.parameter_count(), " (",
                  FormatBytes(p.parameter_bytes()), ")\n");
  const auto& f = p.forward_fit();
  absl::StrAppend(
      &out, absl::StrFormat("forward fit: b*(%.3g*s^2 + %.3g*s + %.3g) + %.3g seconds\n",
                            f.per_sample_s2(), f.per_sample_s1(), f.per_sample_s0(), f.constant()));
  absl::StrAppend(&out, "source:      ", SourceName(p.source()), "\n");
  absl::StrAppend(&out, QualityLines(p.has_quality(), p.quality()));
  absl::StrAppend(&out, "stored:      ", FormatTimestamp(p.created_at()),
                  p.uploaded_by().empty() ? "" : " by " + p.uploaded_by(),
                  p.restored_from_version() > 0
                      ? absl::StrCat(" (rolled back to version ", p.restored_from_version(), ")")
                      : "",
                  "\n\n");
  TextTable times({"MICRO_BATCH", "SEQ", "FORWARD", "BACKWARD"});
  for (const auto& s : p.time_samples()) {
    times.AddRow({absl::StrCat(s.micro_batch()), absl::StrCat(s.seq_len()),
                  Seconds(s.forward_seconds()), Seconds(s.backward_seconds())});
  }
  if (!times.empty()) out += times.Render() + "\n";
  TextTable acts({"TP", "SP", "SEQ", "ACT/SAMPLE", "CKPT ACT/SAMPLE"});
  for (const auto& a : p.activations()) {
    acts.AddRow({absl::StrCat(a.tp_degree()),
                 ShortEnumName(v1::SequenceParallel_Name(a.sp()), "SEQUENCE_PARALLEL_"),
                 absl::StrCat(a.seq_len()), FormatBytes(a.bytes_per_sample()),
                 FormatBytes(a.checkpoint_bytes_per_sample())});
  }
  if (!acts.empty()) out += acts.Render();
  return out;
}

std::vector<std::string> CompressLayerStrategies(const v1::Plan& plan) {
  auto describe = [](const v1::LayerStrategy& s) {
    std::string text = absl::StrCat("tp", s.tp(), " dp", s.dp());
    if (s.sp() != v1::SEQUENCE_PARALLEL_NONE) {
      absl::StrAppend(&text, " sp-",
                      ShortEnumName(v1::SequenceParallel_Name(s.sp()), "SEQUENCE_PARALLEL_"));
    }
    if (s.dp() > 1 && s.dp_type() != v1::DATA_PARALLEL_TYPE_UNSPECIFIED) {
      absl::StrAppend(&text, " ",
                      ShortEnumName(v1::DataParallelType_Name(s.dp_type()), "DATA_PARALLEL_TYPE_"));
    }
    if (s.checkpoint()) absl::StrAppend(&text, " ckpt");
    return text;
  };
  std::vector<std::string> lines;
  int start = 0;
  for (int i = 1; i <= plan.layers_size(); ++i) {
    if (i < plan.layers_size() && describe(plan.layers(i)) == describe(plan.layers(start))) {
      continue;
    }
    std::string range = i - 1 == start ? absl::StrCat(start) : absl::StrCat(start, "-", i - 1);
    lines.push_back(absl::StrFormat("layers %-7s %s", range, describe(plan.layers(start))));
    start = i;
  }
  return lines;
}

std::string PlanListTable(const std::vector<v1::Plan>& plans) {
  TextTable table(
      {"ID", "MODEL", "CLUSTER", "WORLD", "PP", "GLOBAL_BATCH", "SAMPLES/S", "CREATED"});
  for (const auto& p : plans) {
    table.AddRow({p.id(), p.model(), p.cluster(), absl::StrCat(p.world_size()),
                  absl::StrCat(p.pp()), absl::StrCat(p.global_batch()),
                  absl::StrFormat("%.2f", p.prediction().samples_per_second()),
                  FormatTimestamp(p.created_at())});
  }
  if (table.empty()) return "no plans\n";
  return table.Render();
}

std::string PlanDetails(const v1::Plan& p) {
  std::string out;
  absl::StrAppend(&out, "plan:         ", p.id(), "\n");
  absl::StrAppend(&out, "model:        ", p.model(), " (version ", p.model_version(), ")\n");
  absl::StrAppend(&out, "cluster:      ", p.cluster(), ", ", p.world_size(), " devices\n");
  absl::StrAppend(&out, "global batch: ", p.global_batch(), " in ", p.micro_batches(),
                  " micro-batches, seq ", p.seq_len(), "\n");
  absl::StrAppend(&out, "pipeline:     pp", p.pp(), " ",
                  ShortEnumName(v1::PipelineSchedule_Name(p.schedule()), "PIPELINE_SCHEDULE_"),
                  ", layers per stage [", absl::StrJoin(p.pp_division(), ", "), "]\n");
  const auto& e = p.embedding();
  absl::StrAppend(&out, "embedding:    vocab tp", e.vocab_tp(),
                  e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3 ? " zero3" : "", "\n");
  for (const std::string& line : CompressLayerStrategies(p)) out += "  " + line + "\n";
  const auto& pred = p.prediction();
  absl::StrAppend(
      &out,
      absl::StrFormat("prediction:   %.3f s/iteration, %.2f samples/s, %.0f tokens/s%s\n",
                      pred.iteration_seconds(), pred.samples_per_second(), pred.tokens_per_second(),
                      pred.analytic_estimate() ? " (analytic estimate)" : ""));
  auto breakdown = [](const v1::Prediction& x) {
    const auto& b = x.breakdown();
    return absl::StrFormat(
        "compute %.3f s, exposed communication %.3f s (gradient sync %.3f s), bubble %.3f s",
        b.compute_seconds(), b.exposed_communication_seconds(), b.gradient_sync_seconds(),
        b.bubble_seconds());
  };
  absl::StrAppend(&out, "              ", breakdown(pred), "\n");
  if (pred.analytic_estimate() && !pred.note().empty()) {
    absl::StrAppend(&out, "estimates:    ", pred.note(), "\n");
  }
  if (p.has_calibration()) {
    const auto& c = p.calibration();
    const auto& raw = p.raw_prediction();
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "calibrated:   by %s (compute x%.3f, communication x%.3f, gradient sync x%.3f, %d "
            "job(s))\n",
            c.id(), c.compute_factor(), c.communication_factor(), SyncFactor(c), c.samples_used()));
    absl::StrAppend(
        &out, absl::StrFormat("uncalibrated: %.3f s/iteration, %.2f samples/s (%s)\n",
                              raw.iteration_seconds(), raw.samples_per_second(), breakdown(raw)));
  }
  for (const std::string& w : pred.warnings()) absl::StrAppend(&out, "warning:      ", w, "\n");
  for (const auto& m : pred.stage_memory()) {
    double frac = m.budget_bytes() > 0
                      ? static_cast<double>(m.total_bytes()) / static_cast<double>(m.budget_bytes())
                      : 0;
    int bar = static_cast<int>(std::min(1.0, frac) * 30 + 0.5);
    absl::StrAppend(
        &out, absl::StrFormat("  stage %-2d [%s%s] %s / %s\n", m.stage(), std::string(bar, '#'),
                              std::string(30 - bar, '.'), FormatBytes(m.total_bytes()),
                              FormatBytes(m.budget_bytes())));
  }
  // Why deeper pipelines or other micro-batch counts lost: the closest few
  // of the search's tasks in which nothing fitted.
  const auto& infeasible = p.search().infeasible_tasks();
  for (int i = 0; i < infeasible.size() && i < 3; ++i) {
    const v1::InfeasibleTask& t = infeasible[i];
    absl::StrAppend(&out, i == 0 ? "did not fit:  " : "              ", "pp", t.pp(), " ",
                    ShortEnumName(v1::PipelineSchedule_Name(t.schedule()), "PIPELINE_SCHEDULE_"),
                    ", global batch ", t.global_batch(), " in ", t.micro_batches(),
                    " micro-batches: ", t.reason(), "\n");
  }
  if (p.search().infeasible_tasks_total() > 3) {
    absl::StrAppend(&out, "              and ", p.search().infeasible_tasks_total() - 3, " more\n");
  }
  absl::StrAppend(&out, "created:      ", FormatTimestamp(p.created_at()), "\n");
  return out;
}

std::string CalibrationDetails(const v1::Calibration& c) {
  std::string out;
  absl::StrAppend(&out, "calibration:  ", c.id(), " of cluster ", c.cluster(), " (version ",
                  c.version(), ")\n");
  absl::StrAppend(
      &out,
      absl::StrFormat("factors:      compute x%.4f, communication x%.4f, gradient sync x%.4f\n",
                      c.compute_factor(), c.communication_factor(), SyncFactor(c)));
  absl::StrAppend(&out, absl::StrFormat("fit:          %d of %d job(s) used; mean step-time error "
                                        "%.1f%% uncalibrated, %.1f%% by the fit's linear model\n",
                                        c.samples_used(), c.samples_size(), 100 * c.raw_error(),
                                        100 * c.fitted_error()));
  absl::StrAppend(&out, "created:      ", FormatTimestamp(c.created_at()), "\n");
  if (c.samples_size() > 0) {
    absl::StrAppend(
        &out, absl::StrFormat("  %-10s %-10s %-10s %-10s %-10s %-8s %s\n", "job", "compute", "comm",
                              "of it sync", "measured", "spread", "plan"));
  }
  for (const v1::CalibrationSample& s : c.samples()) {
    absl::StrAppend(&out,
                    absl::StrFormat("  %-10s %-10s %-10s %-10s %-10s %-8s %s%s\n", s.job_id(),
                                    absl::StrFormat("%.4f s", s.predicted_compute_seconds()),
                                    absl::StrFormat("%.4f s", s.predicted_communication_seconds()),
                                    absl::StrFormat("%.4f s", s.predicted_sync_seconds()),
                                    absl::StrFormat("%.4f s", s.measured_seconds()),
                                    absl::StrFormat("%.3f", s.measured_spread()), s.plan_id(),
                                    s.used() ? "" : "  (not fitted: " + s.ignored_reason() + ")"));
  }
  return out;
}

std::string DeviceSummary(const v1::Node& node) {
  if (node.devices_size() == 0) return "-";
  const v1::Device& first = node.devices(0);
  for (const v1::Device& d : node.devices()) {
    if (d.kind() != first.kind() || d.name() != first.name()) {
      return absl::StrCat(node.devices_size(), " devices");
    }
  }
  std::string text = absl::StrCat(node.devices_size(), "x ",
                                  ShortEnumName(v1::DeviceKind_Name(first.kind()), "DEVICE_KIND_"));
  if (first.kind() == v1::DEVICE_KIND_CUDA && !first.name().empty()) {
    absl::StrAppend(&text, " ", first.name());
  }
  return text;
}

std::string NodeListTable(const std::vector<v1::Node>& nodes) {
  TextTable table(
      {"NAME", "CLUSTER", "STATE", "HOST", "CORES", "MEMORY", "DEVICES", "LAST_HEARTBEAT"});
  for (const auto& n : nodes) {
    table.AddRow({n.name(), n.cluster(),
                  ShortEnumName(v1::NodeState_Name(n.state()), "NODE_STATE_"), n.host(),
                  absl::StrCat(n.cpu_cores()), FormatBytes(n.memory_bytes()), DeviceSummary(n),
                  FormatTimestamp(n.last_heartbeat())});
  }
  if (table.empty()) return "no nodes\n";
  return table.Render();
}

std::string TaskWhat(const v1::Task& task) {
  if (task.kind() == v1::TASK_KIND_PROFILE) return "profile " + task.profile().model().name();
  return ShortEnumName(v1::TaskKind_Name(task.kind()), "TASK_KIND_");
}

std::string TaskListTable(const std::vector<v1::Task>& tasks) {
  TextTable table({"ID", "CLUSTER", "WHAT", "STATE", "PROGRESS", "NODES", "CREATED", "MESSAGE"});
  for (const auto& t : tasks) {
    std::string message = t.message();
    if (const size_t newline = message.find('\n'); newline != std::string::npos) {
      message = message.substr(0, newline) + " ...";
    }
    table.AddRow({t.id(), t.cluster(), TaskWhat(t),
                  ShortEnumName(v1::TaskState_Name(t.state()), "TASK_STATE_"),
                  absl::StrFormat("%.0f%%", 100 * t.progress()), absl::StrCat(t.nodes_size()),
                  FormatTimestamp(t.created_at()), message});
  }
  if (table.empty()) return "no tasks\n";
  return table.Render();
}

std::string TaskDetails(const v1::Task& t) {
  std::string text =
      absl::StrCat("task ", t.id(), ": ", TaskWhat(t), " on cluster ", t.cluster(), "\n",
                   "  state     ", ShortEnumName(v1::TaskState_Name(t.state()), "TASK_STATE_"),
                   absl::StrFormat(" (%.0f%%)", 100 * t.progress()), "\n", "  reason    ",
                   t.reason(), "\n", "  created   ", FormatTimestamp(t.created_at()), "\n");
  if (t.has_started_at())
    absl::StrAppend(&text, "  started   ", FormatTimestamp(t.started_at()), "\n");
  if (t.has_finished_at()) {
    absl::StrAppend(&text, "  finished  ", FormatTimestamp(t.finished_at()), "\n");
  }
  if (!t.progress_message().empty())
    absl::StrAppend(&text, "  progress  ", t.progress_message(), "\n");
  if (!t.store_address().empty()) absl::StrAppend(&text, "  store     ", t.store_address(), "\n");
  absl::StrAppend(&text, "  ranks     ", t.world_size(), "\n");
  for (const v1::TaskNode& node : t.nodes()) {
    absl::StrAppend(&text, "    ", node.node(), ": ranks ", node.first_rank(), "..",
                    node.first_rank() + node.num_ranks() - 1, ", ",
                    ShortEnumName(v1::TaskState_Name(node.state()), "TASK_STATE_"), "\n");
  }
  for (const std::string& id : t.result_ids()) absl::StrAppend(&text, "  result    ", id, "\n");
  if (!t.message().empty()) absl::StrAppend(&text, "  message   ", t.message(), "\n");
  return text;
}

bool JobEnded(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

std::string JobStateName(v1::JobState state) {
  return ShortEnumName(v1::JobState_Name(state), "JOB_STATE_");
}

std::string FormatDuration(double seconds) {
  if (!(seconds > 0)) return "-";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  if (s < 86400) return absl::StrFormat("%dh %02dm", s / 3600, s % 3600 / 60);
  return absl::StrFormat("%dd %02dh", s / 86400, s % 86400 / 3600);
}

int64_t JobTotalSteps(const v1::Job& job) {
  return job.training().steps() > 0 ? job.training().steps() : 10;
}

namespace {

std::string FirstLine(const std::string& text) {
  const size_t newline = text.find('\n');
  if (newline == std::string::npos) return text;
  return text.substr(0, newline) + " ...";
}

std::string JobBatch(const v1::Job& job) {
  switch (job.batch_case()) {
    case v1::Job::kGlobalBatch:
      return absl::StrCat(job.global_batch());
    case v1::Job::kGlobalBatchRange: {
      const auto& r = job.global_batch_range();
      return absl::StrCat(r.min(), "..", r.max(), r.step() > 1 ? absl::StrCat(":", r.step()) : "",
                          " (searched)");
    }
    default:
      return "the plan's";
  }
}

std::string TrainingSummary(const v1::TrainingOptions& t) {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat(t.steps() > 0 ? t.steps() : 10, " steps"));
  parts.push_back(t.dataset().empty() || t.dataset() == "synthetic"
                      ? std::string("synthetic data")
                      : absl::StrCat("data ", t.dataset()));
  parts.push_back(t.dtype().empty() ? "float32" : t.dtype());
  parts.push_back(absl::StrCat("seed ", t.seed() != 0 ? t.seed() : 1234));
  parts.push_back(t.learning_rate() > 0 ? absl::StrFormat("lr %g", t.learning_rate())
                                        : std::string("the model's lr"));
  return absl::StrJoin(parts, ", ");
}

std::string CheckpointPolicy(const v1::TrainingOptions& t) {
  std::string text = t.checkpoint_every() > 0
                         ? absl::StrCat("every ", t.checkpoint_every(), " steps")
                         : std::string("at the end only");
  absl::StrAppend(&text, ", to ",
                  t.checkpoint_dir().empty() ? std::string("the agents' work dirs")
                                             : t.checkpoint_dir() + "/<job id> on each node");
  absl::StrAppend(&text, "; ",
                  t.max_restarts() > 0 ? absl::StrCat("up to ", t.max_restarts(), " restarts")
                                       : std::string("no restarts"));
  if (t.export_safetensors()) {
    absl::StrAppend(
        &text, "; the model exported at the end to ",
        t.checkpoint_dir().empty() ? std::string("<work dir>/checkpoints") : t.checkpoint_dir(),
        "/<job id>/model.safetensors on rank 0's node");
  }
  return text;
}

// "0-3" / "0, 2, 5-6": sorted ints with consecutive runs merged.
std::string IntRuns(std::vector<int> values) {
  std::sort(values.begin(), values.end());
  std::vector<std::string> runs;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    runs.push_back(j == i ? absl::StrCat(values[i]) : absl::StrCat(values[i], "-", values[j]));
    i = j + 1;
  }
  return absl::StrJoin(runs, ", ");
}

// "4: n1 ranks 0-1, n2 ranks 2-3" in the order the nodes first appear.
std::string RankPlacement(const v1::Job& job) {
  std::vector<std::string> order;
  std::vector<std::vector<int>> ranks;
  for (const v1::RankAssignment& r : job.ranks()) {
    auto it = std::find(order.begin(), order.end(), r.node());
    if (it == order.end()) {
      order.push_back(r.node());
      ranks.emplace_back();
      it = order.end() - 1;
    }
    ranks[static_cast<size_t>(it - order.begin())].push_back(r.rank());
  }
  std::vector<std::string> parts;
  for (size_t i = 0; i < order.size(); ++i) {
    parts.push_back(absl::StrCat(order[i], " ranks ", IntRuns(ranks[i])));
  }
  std::string text = absl::StrCat(job.world_size());
  if (!parts.empty()) absl::StrAppend(&text, ": ", absl::StrJoin(parts, ", "));
  return text;
}

std::string StageTimes(const google::protobuf::RepeatedField<double>& stages) {
  std::vector<std::string> parts;
  int slowest = 0;
  for (int i = 0; i < stages.size(); ++i) {
    if (stages.Get(i) > stages.Get(slowest)) slowest = i;
  }
  for (int i = 0; i < stages.size(); ++i) {
    parts.push_back(absl::StrCat("stage ", i, " ", Seconds(stages.Get(i)),
                                 stages.size() > 1 && i == slowest ? " (slowest)" : ""));
  }
  return absl::StrJoin(parts, ", ");
}

// Continuation lines of a JobDetails field, aligned under its value.
constexpr char kIndent[] = "                ";

}  // namespace

std::string JobListTable(const std::vector<v1::Job>& jobs) {
  TextTable table({"ID", "MODEL", "CLUSTER", "STATE", "PROGRESS", "WORLD", "LOSS", "ETA", "CREATED",
                   "MESSAGE"});
  for (const auto& j : jobs) {
    const bool has_loss = j.has_last_metrics() && j.last_metrics().step() > 0;
    table.AddRow({j.id(), j.model(), j.cluster(), JobStateName(j.state()),
                  absl::StrCat(j.steps_done(), "/", JobTotalSteps(j)),
                  j.world_size() > 0 ? absl::StrCat(j.world_size()) : "-",
                  has_loss ? absl::StrFormat("%.4f", j.last_metrics().loss()) : "-",
                  JobEnded(j.state()) ? "-" : FormatDuration(j.eta_seconds()),
                  FormatTimestamp(j.created_at()), FirstLine(j.message())});
  }
  if (table.empty()) return "no jobs\n";
  return table.Render();
}

std::string JobDetails(const v1::Job& j, const v1::Plan* plan) {
  std::string out;
  auto field = [&out](absl::string_view name, absl::string_view value) {
    absl::StrAppend(&out, "  ", absl::StrFormat("%-12s", name), "  ", value, "\n");
  };
  absl::StrAppend(&out, "job ", j.id(), ": ", j.model(),
                  j.model_version() > 0 ? absl::StrCat(" (version ", j.model_version(), ")") : "",
                  " on cluster ", j.cluster(), "\n");
  if (!j.owner().empty()) field("owner", j.owner());
  field("state",
        absl::StrCat(JobStateName(j.state()),
                     j.attempt() > 0 ? absl::StrCat(" (attempt ", j.attempt() + 1, ")") : ""));
  if (!j.message().empty()) {
    field("reason", absl::StrReplaceAll(j.message(), {{"\n", absl::StrCat("\n", kIndent)}}));
  }
  if (j.plan_id().empty()) {
    field("plan", JobEnded(j.state()) ? "none" : "not yet chosen");
  } else if (plan != nullptr && plan->id() == j.plan_id()) {
    field("plan",
          absl::StrCat(
              j.plan_id(), ": pp", plan->pp(), " ",
              ShortEnumName(v1::PipelineSchedule_Name(plan->schedule()), "PIPELINE_SCHEDULE_"),
              ", global batch ", plan->global_batch(), " in ", plan->micro_batches(),
              " micro-batches, layers per stage [", absl::StrJoin(plan->pp_division(), ", "), "]"));
    for (const std::string& line : CompressLayerStrategies(*plan)) {
      absl::StrAppend(&out, kIndent, line, "\n");
    }
  } else {
    field("plan", j.plan_id());
  }
  if (j.world_size() > 0) field("ranks", RankPlacement(j));
  if (j.nodes_size() > 0) field("nodes", absl::StrJoin(j.nodes(), ", "));
  field("batch", absl::StrCat("global ", JobBatch(j), ", memory ",
                              j.memory_budget_bytes() > 0 ? FormatBytes(j.memory_budget_bytes())
                                                          : std::string("-"),
                              " per device"));
  field("training", TrainingSummary(j.training()));
  field("checkpoints", CheckpointPolicy(j.training()));

  const int64_t total = JobTotalSteps(j);
  field("progress", absl::StrFormat("%d/%d steps (%.0f%%)", j.steps_done(), total,
                                    100.0 * static_cast<double>(j.steps_done()) /
                                        static_cast<double>(std::max<int64_t>(total, 1))));
  if (!JobEnded(j.state())) {
    field("eta", j.eta_seconds() > 0 ? FormatDuration(j.eta_seconds())
                                     : std::string("unknown (no measured pace yet)"));
  }
  if (j.has_last_metrics() && j.last_metrics().step() > 0) {
    const v1::StepMetrics& m = j.last_metrics();
    field("loss", absl::StrFormat("%.4f at step %d (grad norm %.4g, lr %.3g)", m.loss(), m.step(),
                                  m.grad_norm(), m.learning_rate()));
    field("throughput",
          absl::StrFormat("%.0f tokens/s, %.2f samples/s, peak memory %s, model state %s",
                          m.tokens_per_second(), m.samples_per_second(),
                          FormatBytes(m.peak_memory_bytes()), FormatBytes(m.model_state_bytes())));
  }

  const v1::StepTimeComparison& st = j.step_time();
  if (st.predicted_seconds() > 0 || st.measured_seconds() > 0) {
    const v1::TimeBreakdown& b = st.predicted_breakdown();
    field("step time", absl::StrCat("predicted ", Seconds(st.predicted_seconds()), ": compute ",
                                    Seconds(b.compute_seconds()), ", exposed communication ",
                                    Seconds(b.exposed_communication_seconds()), ", bubble ",
                                    Seconds(b.bubble_seconds())));
    if (st.measured_seconds() > 0) {
      std::string measured = absl::StrFormat("measured  %s: median of %d steps, spread %.1f%%",
                                             Seconds(st.measured_seconds()), st.steps_measured(),
                                             100 * st.measured_spread());
      if (st.predicted_seconds() > 0) {
        absl::StrAppend(&measured, absl::StrFormat("; %.2fx the prediction",
                                                   st.measured_seconds() / st.predicted_seconds()));
      }
      absl::StrAppend(&out, kIndent, measured, "\n");
    } else {
      absl::StrAppend(&out, kIndent, "measured  - (no step after the warm-up yet)\n");
    }
    if (st.measured_stage_seconds_size() > 0) {
      absl::StrAppend(&out, kIndent, "per stage ", StageTimes(st.measured_stage_seconds()), "\n");
    }
    if (st.waits_measured()) {
      // Rank 0's waits against the prediction's exposed communication: the
      // part in the passes and the gradient sync after them.
      const double predicted_sync = b.gradient_sync_seconds();
      // Nothing waited for is "0 s" here (Seconds() says "-" for no value).
      const auto time = [](double s) { return s > 0 ? Seconds(s) : std::string("0 s"); };
      absl::StrAppend(
          &out, kIndent,
          absl::StrCat("waited    ", time(st.measured_communication_wait_seconds()),
                       " for communication (predicted ",
                       time(std::max(0.0, b.exposed_communication_seconds() - predicted_sync)),
                       "), ", time(st.measured_sync_wait_seconds()),
                       " for the gradient sync (predicted ", time(predicted_sync),
                       "); rank 0, medians\n"));
    }
  }

  const v1::CheckpointState& c = j.checkpoint();
  if (c.step() > 0) {
    std::vector<int> ranks(c.ranks_written().begin(), c.ranks_written().end());
    field("checkpoint", absl::StrCat("step ", c.step(), c.complete() ? ", complete" : ", partial",
                                     " (ranks ", IntRuns(ranks), ")"));
  } else {
    field("checkpoint", "none yet");
  }
  if (j.has_exported_model()) {
    const v1::ExportedModel& e = j.exported_model();
    field("exported", absl::StrCat(e.path(), " on node ", e.node(), " (",
                                   FormatBytes(e.size_bytes()), ", safetensors)"));
  } else if (j.training().export_safetensors()) {
    const char* status = "not yet (rank 0 writes it at the end)";
    if (j.state() == v1::JOB_STATE_SUCCEEDED) {
      status = "asked for, but no file was reported";
    } else if (JobEnded(j.state())) {
      status = "none (the job did not succeed)";
    }
    field("exported", status);
  }

  if (j.has_failure()) {
    const v1::JobFailure& f = j.failure();
    std::string who = f.rank() >= 0 ? absl::StrCat("rank ", f.rank()) : std::string();
    if (!f.node().empty()) absl::StrAppend(&who, who.empty() ? "node " : " on node ", f.node());
    if (who.empty()) who = "the job";
    field("failure", absl::StrCat(who, ": ", f.exit_status().empty() ? "-" : f.exit_status()));
    if (!f.log_tail().empty()) {
      absl::StrAppend(&out, kIndent, "log tail:\n");
      for (absl::string_view line : absl::StrSplit(f.log_tail(), '\n', absl::SkipEmpty())) {
        absl::StrAppend(&out, kIndent, "| ", line, "\n");
      }
    }
  }
  field("created", FormatTimestamp(j.created_at()));
  field("updated", FormatTimestamp(j.updated_at()));
  if (j.transitions_size() > 0) {
    absl::StrAppend(&out, "  history\n");
    for (const v1::JobTransition& t : j.transitions()) {
      absl::StrAppend(&out, "    ", FormatTimestamp(t.time()), "  ",
                      absl::StrFormat("%-10s", JobStateName(t.state())), "  ",
                      FirstLine(t.reason()), "\n");
    }
  }
  return out;
}

std::string JobTransitionLine(const std::string& job_id, const v1::JobTransition& t) {
  std::string line = absl::StrCat(job_id, " ", JobStateName(t.state()));
  if (!t.reason().empty()) absl::StrAppend(&line, ": ", FirstLine(t.reason()));
  return line;
}

std::string StepMetricsLine(const v1::StepMetrics& m, int64_t total_steps) {
  std::string line = absl::StrCat("step ", m.step());
  if (total_steps > 0) absl::StrAppend(&line, "/", total_steps);
  absl::StrAppend(&line, absl::StrFormat("  loss %.4f  %s/step  %.0f tokens/s  %.2f samples/s",
                                         m.loss(), Seconds(m.step_seconds()), m.tokens_per_second(),
                                         m.samples_per_second()));
  absl::StrAppend(&line,
                  absl::StrFormat("  lr %.3g  grad norm %.4g", m.learning_rate(), m.grad_norm()));
  if (m.peak_memory_bytes() > 0)
    absl::StrAppend(&line, "  peak ", FormatBytes(m.peak_memory_bytes()));
  // Rank 0's waits, each where there was one.
  if (m.communication_waits() > 0) {
    absl::StrAppend(&line, "  comm wait ", Seconds(m.communication_wait_seconds()), " (",
                    m.communication_waits(), ")");
  }
  if (m.gradient_sync_wait_seconds() > 0) {
    absl::StrAppend(&line, "  sync wait ", Seconds(m.gradient_sync_wait_seconds()));
  }
  if (m.stage_seconds_size() > 1) {
    std::vector<std::string> stages;
    for (double s : m.stage_seconds()) stages.push_back(Seconds(s));
    absl::StrAppend(&line, "  stages ", absl::StrJoin(stages, " | "));
  }
  return line;
}

}  // namespace galvatron::text
