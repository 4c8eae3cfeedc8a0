#include "agent/daemon/task_executor.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/daemon/work_paths.h"
#include "agent/daemon/worker_process.h"
#include "common/json_file.h"
#include "common/progress_file.h"
#include "common/status_macros.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/job.pb.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

namespace galvatron::agent {
namespace {

constexpr int kLogTailLines = 20;
constexpr absl::Duration kTick = absl::Milliseconds(100);

std::string Join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

std::string IntList(const google::protobuf::RepeatedField<int32_t>& values) {
  return absl::StrJoin(values, ",");
}

constexpr int kTrainLogTailLines = 50;

// The worker's noise flags from a task spec (0 / false: the worker's defaults).
template <typename Spec>
void AddNoiseArgs(const Spec& spec, std::vector<std::string>* args) {
  if (spec.noise_threshold() > 0) {
    args->insert(args->end(), {"--noise-threshold", absl::StrCat(spec.noise_threshold())});
  }
  if (spec.load_threshold() > 0) {
    args->insert(args->end(), {"--load-threshold", absl::StrCat(spec.load_threshold())});
  }
  if (spec.max_remeasure() > 0) {
    args->insert(args->end(), {"--max-remeasure", absl::StrCat(spec.max_remeasure())});
  }
  if (spec.accept_noisy()) args->push_back("--accept-noisy");
}

bool RetryableReportError(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsInternal(status) || absl::IsUnknown(status) ||
         absl::IsAborted(status);  // the planner restarted: register again, retry
}

// One run of a node's part: its workers and the last progress reported.
class PartRun {
 public:
  PartRun(const ExecutorConfig& config, const v1::Task& task, const v1::TaskNode& part,
          std::string dir, const ReportFn& report, const std::function<bool()>& stopping)
      : config_(config),
        task_(task),
        part_(part),
        dir_(std::move(dir)),
        report_(report),
        stopping_(stopping) {}

  void Add(int rank, WorkerProcess process) {
    ranks_.push_back(rank);
    workers_.push_back(std::move(process));
  }

  // Training: where rank 0's metrics go, and the checkpoint root of the job.
  void SetTrainFiles(std::string metrics_file, std::string checkpoint_root) {
    metrics_file_ = std::move(metrics_file);
    checkpoint_root_ = std::move(checkpoint_root);
  }
  bool empty() const { return workers_.empty(); }

  std::string ProgressFile(int rank) const {
    return Join(dir_, absl::StrCat("progress-", rank, ".json"));
  }

  void StopAll() {
    for (WorkerProcess& worker : workers_) worker.Stop(config_.stop_grace);
  }

  // The first worker that exited with an error, described; "" if none.
  std::string FirstFailure() {
    for (size_t i = 0; i < workers_.size(); ++i) {
      std::optional<int> exit = workers_[i].Poll();
      if (exit && *exit != 0) {
        std::string tail = workers_[i].LogTail(kLogTailLines);
        if (!failure_.has_value()) {
          v1::JobFailure failure;
          failure.set_rank(ranks_[i]);
          failure.set_exit_status(WorkerProcess::DescribeExit(*exit));
          failure.set_log_tail(tail);
          failure_ = failure;
        }
        return absl::StrCat("rank ", ranks_[i], " (pid ", workers_[i].pid(), ") ",
                            WorkerProcess::DescribeExit(*exit),
                            tail.empty() ? "" : absl::StrCat("; its log ends:\n", tail));
      }
    }
    return "";
  }

  // Training: what a report carries beside the progress: rank 0's step
  // metrics not yet taken, the log tails that changed (all with `all_logs`),
  // the checkpoint shards written here, the failure. Returns what to commit
  // once the planner took the report.
  std::function<void()> AddTrainExtras(v1::ReportTaskRequest* request, bool all_logs) {
    if (task_.kind() != v1::TASK_KIND_TRAIN) return [] {};
    int64_t read_to = metrics_offset_;
    if (!metrics_file_.empty()) {
      std::ifstream in(metrics_file_, std::ios::binary);
      if (in) {
        in.seekg(metrics_offset_);
        std::string line;
        int64_t position = metrics_offset_;
        while (std::getline(in, line)) {
          if (in.eof()) break;  // a line still being written
          position += static_cast<int64_t>(line.size()) + 1;
          if (absl::StripAsciiWhitespace(line).empty()) continue;
          v1::StepMetrics metrics;
          if (absl::Status parsed = JsonToMessage(line, metrics_file_, &metrics); !parsed.ok()) {
            spdlog::warn("{}: a metrics line is unreadable: {}", task_.id(),
                         std::string(parsed.message()));
            continue;
          }
          last_step_ = std::max(last_step_, metrics.step());
          *request->add_metrics() = std::move(metrics);
        }
        read_to = position;
      }
    }
    std::map<int, size_t> hashes;
    for (size_t i = 0; i < workers_.size(); ++i) {
      std::string tail = workers_[i].LogTail(kTrainLogTailLines);
      const size_t hash = std::hash<std::string>()(tail);
      auto seen = log_hashes_.find(ranks_[i]);
      if (!all_logs && seen != log_hashes_.end() && seen->second == hash) continue;
      hashes[ranks_[i]] = hash;
      v1::RankLog* log = request->add_logs();
      log->set_rank(ranks_[i]);
      log->set_text(std::move(tail));
      *log->mutable_updated_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
    }
    if (!checkpoint_root_.empty()) {
      std::error_code error;
      std::map<int64_t, std::vector<int>> written;
      for (const auto& step_dir : std::filesystem::directory_iterator(checkpoint_root_, error)) {
        const std::string name = step_dir.path().filename().string();
        int64_t step = 0;
        if (!absl::StartsWith(name, "step-") || !absl::SimpleAtoi(name.substr(5), &step)) continue;
        for (int rank : ranks_) {
          if (std::filesystem::exists(step_dir.path() / absl::StrCat("rank-", rank, ".done"),
                                      error)) {
            written[step].push_back(rank);
          }
        }
      }
      for (auto& [step, ranks] : written) {
        if (reported_shards_.count(step) > 0 && reported_shards_[step] == ranks) continue;
        v1::CheckpointShards* shards = request->add_checkpoints();
        shards->set_step(step);
        for (int rank : ranks) shards->add_ranks(rank);
        shards->set_dir(checkpoint_root_);
      }
      pending_shards_ = std::move(written);
    }
    if (failure_.has_value() && request->state() == v1::TASK_STATE_FAILED) {
      *request->mutable_failure() = *failure_;
    }
    if (task_.train().training().steps() > 0 && part_.first_rank() == 0) {
      request->set_progress(std::min(
          1.0,
          static_cast<double>(last_step_) / static_cast<double>(task_.train().training().steps())));
      request->set_progress_message(
          absl::StrCat("step ", last_step_, " of ", task_.train().training().steps()));
    }
    return [this, read_to, hashes] {
      metrics_offset_ = read_to;
      for (const auto& [rank, hash] : hashes) log_hashes_[rank] = hash;
      reported_shards_ = pending_shards_;
    };
  }

  bool AllExitedCleanly() {
    return std::all_of(workers_.begin(), workers_.end(), [](WorkerProcess& worker) {
      std::optional<int> exit = worker.Poll();
      return exit && *exit == 0;
    });
  }

  // Sends RUNNING with the progress of the local ranks. False when the
  // planner wants the workers stopped (cancelled, failed elsewhere, session
  // gone).
  bool ReportProgress(const std::string& store_address = "") {
    double least = 1;
    std::string message;
    for (int rank : ranks_) {
      absl::StatusOr<Progress> progress = ReadProgressFile(ProgressFile(rank));
      least = std::min(least, progress.ok() ? progress->fraction : 0.0);
      if (message.empty() && progress.ok()) message = progress->message;
    }
    if (ranks_.empty()) least = 0;
    v1::ReportTaskRequest request;
    request.set_task_id(task_.id());
    request.set_state(v1::TASK_STATE_RUNNING);
    request.set_progress(least);
    request.set_progress_message(message);
    request.set_store_address(store_address);
    std::function<void()> taken = AddTrainExtras(&request, /*all_logs=*/false);
    absl::StatusOr<v1::ReportTaskResponse> response = report_(request);
    if (response.ok()) {
      taken();
      last_taken_ = absl::Now();
    }
    if (!response.ok()) {
      if (absl::IsNotFound(response.status()) || absl::IsFailedPrecondition(response.status())) {
        spdlog::warn("{}: the planner no longer runs this task ({}); stopping its workers",
                     task_.id(), std::string(response.status().message()));
        return false;
      }
      // Unreachable, or restarted and not knowing this agent's session yet
      // (ABORTED): the workers go on for the grace period.
      if (absl::Now() - last_taken_ > config_.planner_grace) {
        spdlog::error("{}: the planner has not taken a report for {}; stopping the workers ({})",
                      task_.id(), absl::FormatDuration(config_.planner_grace),
                      std::string(response.status().message()));
        return false;
      }
      spdlog::debug("{}: progress not reported: {}", task_.id(),
                    std::string(response.status().message()));
      return true;
    }
    if (response->cancel()) {
      spdlog::info("{}: cancelled by the planner; stopping its workers", task_.id());
      return false;
    }
    return true;
  }

  // The last report, retried while the planner is unreachable (for up to a
  // minute, less when the agent is stopping).
  void ReportEnd(v1::ReportTaskRequest request) {
    request.set_task_id(task_.id());
    AddTrainExtras(&request, /*all_logs=*/request.state() == v1::TASK_STATE_FAILED);
    const absl::Time deadline = absl::Now() + (stopping_() ? absl::Seconds(3) : absl::Minutes(1));
    absl::Duration delay = absl::Milliseconds(100);
    while (true) {
      absl::StatusOr<v1::ReportTaskResponse> response = report_(request);
      if (response.ok()) return;
      if (!RetryableReportError(response.status()) || absl::Now() + delay > deadline) {
        spdlog::error("{}: the planner did not take the final report ({}): {}", task_.id(),
                      v1::TaskState_Name(request.state()),
                      std::string(response.status().message()));
        return;
      }
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(delay));
      delay = std::min(delay * 2, absl::Seconds(5));
    }
  }

  void Fail(const std::string& message) {
    StopAll();
    spdlog::error("{} failed on this node: {}", task_.id(), message);
    v1::ReportTaskRequest request;
    request.set_state(v1::TASK_STATE_FAILED);
    request.set_message(message);
    ReportEnd(std::move(request));
  }

  // Waits until every worker has exited, reporting progress. False (workers
  // stopped, failure reported where needed) when the part must end early.
  bool Supervise() {
    absl::Time next_report = absl::Now();
    while (true) {
      if (stopping_()) {
        Fail("the agent was stopped (SIGTERM) while the task ran");
        return false;
      }
      if (std::string failure = FirstFailure(); !failure.empty()) {
        Fail(failure);
        return false;
      }
      if (AllExitedCleanly()) return true;
      if (absl::Now() >= next_report) {
        if (!ReportProgress()) {
          // Told to stop (the task ended elsewhere): a worker that died
          // meanwhile is still reported, so that the planner can name it
          // rather than a peer that stopped because of it.
          if (std::string failure = FirstFailure(); !failure.empty()) {
            Fail(failure);
          } else {
            StopAll();
          }
          return false;
        }
        next_report = absl::Now() + config_.progress_interval;
      }
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(kTick));
    }
  }

  // Waits for rank 0 to write its store port; the port, or the failure.
  absl::StatusOr<int> WaitForPort(const std::string& port_file, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (stopping_()) return absl::CancelledError("the agent was stopped (SIGTERM)");
      if (std::string failure = FirstFailure(); !failure.empty()) {
        return absl::AbortedError(failure);
      }
      absl::StatusOr<std::string> text = ReadTextFile(port_file);
      int port = 0;
      if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
        return port;
      }
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(kTick));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("rank 0 did not start its store within ", absl::FormatDuration(timeout)));
  }

 private:
  const ExecutorConfig& config_;
  const v1::Task& task_;
  const v1::TaskNode& part_;
  const std::string dir_;
  const ReportFn& report_;
  const std::function<bool()>& stopping_;
  std::vector<int> ranks_;
  std::vector<WorkerProcess> workers_;
  // Training reports.
  std::string metrics_file_;
  std::string checkpoint_root_;
  int64_t metrics_offset_ = 0;
  int64_t last_step_ = 0;
  std::map<int, size_t> log_hashes_;
  std::map<int64_t, std::vector<int>> reported_shards_;
  std::map<int64_t, std::vector<int>> pending_shards_;
  std::optional<v1::JobFailure> failure_;
  absl::Time last_taken_ = absl::Now();  // the last report the planner took
};

}  // namespace

TaskExecutor::TaskExecutor(ExecutorConfig config, v1::Node node)
    : config_(std::move(config)), node_(std::move(node)) {}

absl::StatusOr<std::vector<std::string>> TaskExecutor::WorkerArgs(const v1::Task& task, int rank,
                                                                  int local_rank, int ranks_here,
                                                                  const std::string& dir) const {
  // Options of the worker itself come before the subcommand.
  std::vector<std::string> args = {config_.worker_path, "--log-level", config_.worker_log_level};
  const std::string progress = Join(dir, absl::StrCat("progress-", rank, ".json"));
  if (task.kind() == v1::TASK_KIND_PROBE) {
    const v1::ProbeTaskSpec& probe = task.probe();
    args.insert(
        args.end(),
        {"probe", "--rank", absl::StrCat(rank), "--world-size", absl::StrCat(task.world_size()),
         "--local-rank", absl::StrCat(local_rank), "--devices-per-node", absl::StrCat(ranks_here),
         "--cluster", task.cluster(), "--progress-file", progress});
    if (probe.min_bytes() > 0)
      args.insert(args.end(), {"--min-bytes", absl::StrCat(probe.min_bytes())});
    if (probe.max_bytes() > 0)
      args.insert(args.end(), {"--max-bytes", absl::StrCat(probe.max_bytes())});
    if (probe.warmup() > 0) args.insert(args.end(), {"--warmup", absl::StrCat(probe.warmup())});
    if (probe.repeats() > 0) args.insert(args.end(), {"--repeats", absl::StrCat(probe.repeats())});
    if (!probe.backend().empty()) args.insert(args.end(), {"--backend", probe.backend()});
    if (probe.timeout_seconds() > 0) {
      args.insert(args.end(), {"--timeout-seconds", absl::StrCat(probe.timeout_seconds())});
    }
    AddNoiseArgs(probe, &args);
    if (rank == 0) args.insert(args.end(), {"--out", Join(dir, "hardware.json")});
    return args;
  }
  if (task.kind() == v1::TASK_KIND_PROFILE) {
    const v1::ProfileTaskSpec& profile = task.profile();
    const bool cuda = node_.devices_size() > 0 && node_.devices(0).kind() == v1::DEVICE_KIND_CUDA;
    args.insert(args.end(), {"profile", "--model", Join(dir, "model.json"), "--cluster",
                             task.cluster(), "--out", Join(dir, "compute.json"), "--progress-file",
                             progress, "--device", cuda ? "cuda" : "cpu"});
    if (profile.micro_batches_size() > 0) {
      args.insert(args.end(), {"--micro-batches", IntList(profile.micro_batches())});
    }
    if (profile.seq_lens_size() > 0) {
      args.insert(args.end(), {"--seq-lens", IntList(profile.seq_lens())});
    }
    if (profile.time_budget_seconds() > 0) {
      args.insert(args.end(),
                  {"--time-budget-seconds", absl::StrCat(profile.time_budget_seconds())});
    }
    AddNoiseArgs(profile, &args);
    return args;
  }
  if (task.kind() == v1::TASK_KIND_TRAIN) {
    const v1::TrainTaskSpec& train = task.train();
    const v1::TrainingOptions& o = train.training();
    ASSIGN_OR_RETURN(const std::string checkpoint_root, CheckpointRoot(task));
    args.insert(args.end(),
                {"train",
                 "--plan",
                 Join(dir, "plan.json"),
                 "--model",
                 Join(dir, "model.json"),
                 "--rank",
                 absl::StrCat(rank),
                 "--world-size",
                 absl::StrCat(task.world_size()),
                 "--steps",
                 absl::StrCat(o.steps()),
                 "--seed",
                 absl::StrCat(o.seed()),
                 "--dtype",
                 o.dtype().empty() ? "float32" : o.dtype(),
                 "--data",
                 o.dataset().empty() ? "synthetic" : o.dataset(),
                 "--checkpoint-dir",
                 checkpoint_root,
                 "--checkpoint-every",
                 absl::StrCat(o.checkpoint_every()),
                 "--threads",
                 absl::StrCat(std::max(1, node_.cpu_cores() / std::max(1, ranks_here)))});
    // A CUDA node's worker sees only its assigned device (CUDA_VISIBLE_DEVICES,
    // set with the environment below), as device 0.
    const bool cuda = node_.devices_size() > 0 && node_.devices(0).kind() == v1::DEVICE_KIND_CUDA;
    args.insert(args.end(), {"--device", cuda ? "cuda:0" : "cpu"});
    if (o.learning_rate() > 0) args.insert(args.end(), {"--lr", absl::StrCat(o.learning_rate())});
    if (train.resume_step() > 0) {
      args.insert(args.end(), {"--resume", "--resume-step", absl::StrCat(train.resume_step())});
    }
    if (rank == 0) args.insert(args.end(), {"--metrics-out", Join(dir, "metrics.jsonl")});
    // Every rank takes part in the export (the slices are gathered to rank
    // 0 over the process group); only rank 0 writes the path.
    if (o.export_safetensors()) {
      args.insert(args.end(), {"--export-out", Join(checkpoint_root, "model.safetensors")});
    }
    return args;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("kind: ", v1::TaskKind_Name(task.kind()), " is not a task this agent can run"));
}

absl::StatusOr<std::string> TaskExecutor::CheckpointRoot(const v1::Task& task) const {
  RETURN_IF_ERROR(CheckJobId("train.job_id", task.train().job_id()));
  const std::string& asked = task.train().training().checkpoint_dir();
  if (asked.empty()) {
    ASSIGN_OR_RETURN(std::string base, PathUnder(config_.work_dir, "checkpoints"));
    return PathUnder(base, task.train().job_id());
  }
  // A folder the user chose for the job (a shared file system, say) may be
  // anywhere, but must say so plainly: absolute, without "." or "..".
  const std::filesystem::path path(asked);
  if (!path.is_absolute() || path.lexically_normal() != path) {
    return absl::InvalidArgumentError(
        absl::StrCat("train.training.checkpoint_dir: \"", asked,
                     "\", expected an absolute path without \".\" or \"..\" parts"));
  }
  return PathUnder(asked, task.train().job_id());
}

void TaskExecutor::Run(const v1::Task& task, int node_index, const ReportFn& report,
                       const std::function<bool()>& stopping) {
  // Nothing is written, or removed, before the task's folder is known to be
  // inside the work dir.
  const absl::Status id_checked = CheckTaskId("task.id", task.id());
  const absl::StatusOr<std::string> task_dir =
      id_checked.ok() ? PathUnder(config_.work_dir, task.id()) : id_checked;
  if (!task_dir.ok()) {
    PartRun(config_, task, v1::TaskNode(), "", report, stopping)
        .Fail(absl::StrCat("refused: ", task_dir.status().message()));
    return;
  }
  const std::string dir = *task_dir;
  if (node_index < 0 || node_index >= task.nodes_size()) {
    PartRun(config_, task, v1::TaskNode(), dir, report, stopping)
        .Fail(absl::StrCat("node_index ", node_index, " is outside the task's ", task.nodes_size(),
                           " node(s)"));
    return;
  }
  const v1::TaskNode& part = task.nodes(node_index);
  PartRun run(config_, task, part, dir, report, stopping);
  spdlog::info("{}: {} on {}, ranks {}..{} of {} here", task.id(), v1::TaskKind_Name(task.kind()),
               task.cluster(), part.first_rank(), part.first_rank() + part.num_ranks() - 1,
               task.world_size());

  std::error_code error;
  std::filesystem::remove_all(dir, error);  // a stale run of the same id
  std::filesystem::create_directories(dir, error);
  if (error) return run.Fail(absl::StrCat("cannot create ", dir, ": ", error.message()));
  if (part.num_ranks() < 1 || part.num_ranks() > std::max(1, node_.devices_size())) {
    return run.Fail(absl::StrCat("num_ranks ", part.num_ranks(), " does not fit the node's ",
                                 node_.devices_size(), " device(s)"));
  }
  if (task.kind() == v1::TASK_KIND_PROFILE) {
    if (absl::Status written =
            WriteTextFile(Join(dir, "model.json"), MessageToJson(task.profile().model()));
        !written.ok()) {
      return run.Fail(std::string(written.message()));
    }
  }
  if (task.kind() == v1::TASK_KIND_TRAIN) {
    absl::StatusOr<std::string> checkpoint_root = CheckpointRoot(task);
    if (!checkpoint_root.ok()) {
      return run.Fail(absl::StrCat("refused: ", checkpoint_root.status().message()));
    }
    for (const auto& [name, json] :
         {std::make_pair("plan.json", MessageToJson(task.train().plan())),
          std::make_pair("model.json", MessageToJson(task.train().model()))}) {
      if (absl::Status written = WriteTextFile(Join(dir, name), json); !written.ok()) {
        return run.Fail(std::string(written.message()));
      }
    }
    std::filesystem::create_directories(*checkpoint_root, error);
    if (error) {
      return run.Fail(absl::StrCat("cannot create ", *checkpoint_root, ": ", error.message()));
    }
    run.SetTrainFiles(part.first_rank() == 0 ? Join(dir, "metrics.jsonl") : "", *checkpoint_root);
    if (part.first_rank() == 0 && task.train().training().export_safetensors()) {
      // A file left by an earlier attempt must not pass for this one's.
      std::filesystem::remove(Join(*checkpoint_root, "model.safetensors"), error);
    }
  }
  const bool cpu = node_.devices_size() == 0 || node_.devices(0).kind() != v1::DEVICE_KIND_CUDA;
  auto start = [&](int local_rank, const std::string& store,
                   const std::string& port_file) -> absl::Status {
    const int rank = part.first_rank() + local_rank;
    auto args = WorkerArgs(task, rank, local_rank, part.num_ranks(), dir);
    if (!args.ok()) return args.status();
    if (!store.empty()) args->insert(args->end(), {"--store", store});
    if (!port_file.empty()) args->insert(args->end(), {"--port-file", port_file});
    std::map<std::string, std::string> env;
    if (cpu) {
      // Each CPU worker gets its share of the cores.
      env["OMP_NUM_THREADS"] =
          absl::StrCat(std::max(1, node_.cpu_cores() / std::max(1, part.num_ranks())));
    } else if (task.kind() == v1::TASK_KIND_PROFILE && node_.devices_size() > 0) {
      env["CUDA_VISIBLE_DEVICES"] = absl::StrCat(node_.devices(0).index());
    } else if (task.kind() == v1::TASK_KIND_TRAIN) {
      for (const v1::RankAssignment& assigned : task.train().ranks()) {
        if (assigned.rank() == rank) {
          env["CUDA_VISIBLE_DEVICES"] = absl::StrCat(assigned.device_index());
        }
      }
    }
    auto process = WorkerProcess::Start(*args, env, Join(dir, absl::StrCat("rank-", rank, ".log")));
    if (!process.ok()) return process.status();
    spdlog::debug("{}: rank {} started (pid {})", task.id(), rank, process->pid());
    run.Add(rank, std::move(*process));
    return absl::OkStatus();
  };

  if (task.kind() == v1::TASK_KIND_PROFILE) {
    if (absl::Status status = start(0, "", ""); !status.ok()) {
      return run.Fail(std::string(status.message()));
    }
  } else if (part.first_rank() == 0) {
    // Rank 0 hosts the store on a free port; the others (here and on other
    // nodes) join it once its address is known.
    const std::string port_file = Join(dir, "store.port");
    if (absl::Status status = start(0, "127.0.0.1:0", port_file); !status.ok()) {
      return run.Fail(std::string(status.message()));
    }
    const double timeout =
        task.probe().timeout_seconds() > 0 ? task.probe().timeout_seconds() : 300;
    absl::StatusOr<int> port = run.WaitForPort(port_file, absl::Seconds(timeout));
    if (!port.ok()) return run.Fail(std::string(port.status().message()));
    if (!run.ReportProgress(absl::StrCat(config_.advertise_host, ":", *port))) {
      return run.StopAll();
    }
    for (int local = 1; local < part.num_ranks(); ++local) {
      if (absl::Status status = start(local, absl::StrCat("127.0.0.1:", *port), ""); !status.ok()) {
        return run.Fail(std::string(status.message()));
      }
    }
  } else {
    if (task.store_address().empty()) {
      return run.Fail("the task reached this node before rank 0's store address");
    }
    for (int local = 0; local < part.num_ranks(); ++local) {
      if (absl::Status status = start(local, task.store_address(), ""); !status.ok()) {
        return run.Fail(std::string(status.message()));
      }
    }
  }

  if (!run.Supervise()) return;

  v1::ReportTaskRequest done;
  done.set_state(v1::TASK_STATE_SUCCEEDED);
  done.set_progress(1);
  if (task.kind() == v1::TASK_KIND_TRAIN) {
    done.set_message(absl::StrCat("trained ranks ", part.first_rank(), "..",
                                  part.first_rank() + part.num_ranks() - 1));
    if (part.first_rank() == 0 && task.train().training().export_safetensors()) {
      const std::string path = Join(*CheckpointRoot(task), "model.safetensors");
      std::error_code error;
      const std::uintmax_t size = std::filesystem::file_size(path, error);
      if (error) {
        return run.Fail(absl::StrCat("the workers finished but rank 0's exported model ", path,
                                     " is missing: ", error.message()));
      }
      done.mutable_exported_model()->set_node(node_.name());
      done.mutable_exported_model()->set_path(path);
      done.mutable_exported_model()->set_size_bytes(static_cast<int64_t>(size));
      absl::StrAppend(done.mutable_message(), "; exported the model to ", path);
    }
  } else if (part.first_rank() == 0) {
    if (task.kind() == v1::TASK_KIND_PROBE) {
      const std::string path = Join(dir, "hardware.json");
      if (absl::Status read = ReadJsonFile(path, done.mutable_hardware()); !read.ok()) {
        return run.Fail(
            absl::StrCat("the workers finished but the result is unreadable: ", read.message()));
      }
      done.set_message(absl::StrCat("measured ", done.hardware().collectives_size(),
                                    " collective tables over ", task.world_size(), " rank(s)"));
      if (done.hardware().quality().noisy()) {
        absl::StrAppend(done.mutable_message(),
                        "; flagged noisy: ", done.hardware().quality().note());
      }
    } else {
      v1::ComputeProfileList list;
      const std::string path = Join(dir, "compute.json");
      if (absl::Status read = ReadJsonFile(path, &list); !read.ok()) {
        return run.Fail(
            absl::StrCat("the worker finished but the result is unreadable: ", read.message()));
      }
      *done.mutable_compute() = list.profiles();
      done.set_message(absl::StrCat("measured ", list.profiles_size(), " layer type(s) of ",
                                    task.profile().model().name()));
      std::vector<std::string> noisy;
      for (const v1::ComputeProfile& p : list.profiles()) {
        if (p.quality().noisy()) noisy.push_back(p.layer_type());
      }
      if (!noisy.empty()) {
        absl::StrAppend(done.mutable_message(), "; flagged noisy: ", absl::StrJoin(noisy, ", "),
                        " (see each profile's quality)");
      }
    }
  }
  spdlog::info("{}: this node's part succeeded{}", task.id(),
               done.message().empty() ? "" : ": " + done.message());
  run.ReportEnd(std::move(done));
}

}  // namespace galvatron::agent
