#include "planner/service/job_manager.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/field_checks.h"
#include "common/hf_exportable.h"
#include "common/message_text.h"
#include "common/model_validation.h"
#include "common/plan_validation.h"
#include "common/rpc_status.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "planner/service/job_steps.h"
#include "planner/service/placement.h"
#include "planner/service/resource_rows.h"
#include "planner/service/task_board.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using field_checks::CheckRange;
using field_checks::Invalid;
using field_checks::Quoted;
using store::Table;

using text::JobStateName;

namespace {

constexpr int kDefaultMetricsPage = 1000;
constexpr int kMaxMetricsPage = 10000;
constexpr int kDefaultLogLines = 100;
constexpr size_t kMaxLogBytes = 64 * 1024;
// How long a failed training task's job waits for a worker killed by a
// signal to be reported after a peer that exited because of it.
constexpr absl::Duration kKilledWorkerGrace = absl::Seconds(2);

// The agent's description of a worker's end (WorkerProcess::DescribeExit):
// "killed by signal 9 (Killed)", "exit code 1".
bool KilledBySignal(const v1::JobFailure& failure) {
  return absl::StartsWith(failure.exit_status(), "killed by signal");
}

// Whether a step's metrics carry its waits for communication: a worker that
// measures them waits for something in every step of a multi-rank run (the
// gradient sync of data parallelism, the collectives of tensor, sequence or
// ZeRO-3 parallelism, a pipeline's messages); one rank, or an older worker,
// reports nothing.
bool ReportsWaits(const v1::StepMetrics& m) {
  return m.communication_waits() > 0 || m.gradient_sync_wait_seconds() > 0;
}

// "job-3/000000000017": metrics rows sort by step within a job.
std::string MetricsKey(const std::string& job_id, int64_t step) {
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%012lld", static_cast<long long>(step));
  return absl::StrCat(job_id, "/", digits);
}

absl::Status StoreJobRow(store::Store* store, const v1::Job& job) {
  store::NewRow row;
  row.key = job.id();
  row.id_prefix = job.id() + "@";
  row.tag = job.cluster();
  row.payload = DeterministicBytes(job);
  return store->Append(Table::kJobs, row).status();
}

// The last `lines` lines of `text`.
std::string LastLines(const std::string& text, int lines) {
  std::vector<absl::string_view> all = absl::StrSplit(text, '\n');
  if (!all.empty() && all.back().empty()) all.pop_back();
  const size_t first = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + static_cast<std::ptrdiff_t>(first), all.end(), "\n");
}

// The job's nodes in rank order, each once.
std::string NodesOf(const v1::Job& job) {
  std::vector<std::string> nodes;
  for (const v1::RankAssignment& rank : job.ranks()) {
    if (nodes.empty() || nodes.back() != rank.node()) nodes.push_back(rank.node());
  }
  return absl::StrJoin(nodes, ", ");
}

// The node of rank 0 ("" before the ranks are placed).
std::string RankZeroNode(const v1::Job& job) {
  for (const v1::RankAssignment& rank : job.ranks()) {
    if (rank.rank() == 0) return rank.node();
  }
  return "";
}

std::string PlanSummaryText(const v1::Plan& plan) {
  std::vector<std::string> tps;
  for (const v1::LayerStrategy& layer : plan.layers()) tps.push_back(absl::StrCat(layer.tp()));
  return absl::StrCat(plan.id(), ": pp ", plan.pp(), ", ", plan.world_size(), " ranks, tp ",
                      absl::StrJoin(tps, "/"), ", global batch ", plan.global_batch(), " in ",
                      plan.micro_batches(), " micro-batches, predicted ",
                      absl::StrFormat("%.4g", plan.prediction().iteration_seconds()),
                      " s per step");
}

}  // namespace

void JobManager::Entry::KeepMeasured(const v1::StepMetrics& m) {
  step_seconds[m.step()] = m.step_seconds();
  stage_seconds[m.step()] = std::vector<double>(m.stage_seconds().begin(), m.stage_seconds().end());
  if (ReportsWaits(m))
    waits[m.step()] = {m.communication_wait_seconds(), m.gradient_sync_wait_seconds()};
}

JobManager::JobManager(store::Store* store, NodeManager* nodes, ModelManager* models,
                       HardwareProfileManager* hardware, PlanManager* plans, TaskManager* tasks,
                       const JobManagerOptions& options, CalibrationManager* calibrations)
    : store_(store),
      nodes_(nodes),
      models_(models),
      hardware_(hardware),
      plans_(plans),
      tasks_(tasks),
      calibrations_(calibrations),
      options_(options) {}

JobManager::~JobManager() { Shutdown(); }

// ---------------------------------------------------------------- storage

std::optional<JobManager::Write> JobManager::Change(int64_t number, bool store,
                                                    const std::function<bool(Entry&)>& change) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(number);
  if (it == entries_.end()) return std::nullopt;
  if (!change(it->second)) return std::nullopt;
  *it->second.job.mutable_updated_at() = NowTimestamp();
  it->second.revision = revisions_.Bump();
  if (!store) return std::nullopt;
  return Write{it->second.job, writes_.Take(it->second.job.id())};
}

absl::Status JobManager::Commit(std::optional<Write> write) {
  if (!write.has_value()) return absl::OkStatus();
  write->ticket.WaitTurn();
  absl::Status status = StoreJobRow(store_, write->job);
  if (!status.ok()) {
    spdlog::error("{}: its row could not be stored: {}", write->job.id(),
                  std::string(status.message()));
  }
  return status;
}

absl::Status JobManager::Transition(int64_t number, v1::JobState state, const std::string& reason,
                                    const std::function<void(Entry&)>& extra) {
  v1::JobState from = v1::JOB_STATE_UNSPECIFIED;
  std::optional<Write> write = Change(number, true, [&](Entry& entry) {
    if (text::JobEnded(entry.job.state())) return false;
    from = entry.job.state();
    if (extra) extra(entry);
    entry.job.set_state(state);
    entry.job.set_message(reason);
    v1::JobTransition* transition = entry.job.add_transitions();
    transition->set_state(state);
    transition->set_reason(reason);
    *transition->mutable_time() = NowTimestamp();
    return true;
  });
  if (!write.has_value()) return absl::OkStatus();
  spdlog::info("{}: {} -> {}: {}", write->job.id(), JobStateName(from), JobStateName(state),
               reason);
  return Commit(std::move(write));
}

std::optional<JobManager::Entry> JobManager::Snapshot(int64_t number) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(number);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<v1::GetJobResponse> JobManager::Current(const std::string& id) {
  const int64_t number = JobNumber(id);
  if (number == 0) return Invalid("id", Quoted(id), "a job id like job-1");
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(number);
    if (it != entries_.end()) {
      v1::GetJobResponse response;
      *response.mutable_job() = it->second.job;
      response.set_revision(text::JobEnded(it->second.job.state()) ? -1 : it->second.revision);
      return response;
    }
  }
  ASSIGN_OR_RETURN(std::optional<store::Row> row, store_->Get(Table::kJobs, id, 0));
  if (!row) return absl::NotFoundError(absl::StrCat("job ", Quoted(id), " not found"));
  v1::GetJobResponse response;
  ASSIGN_OR_RETURN(*response.mutable_job(), DecodeRow<v1::Job>(Table::kJobs, *row));
  response.set_revision(-1);
  return response;
}

// ---------------------------------------------------------------- lifecycle

absl::Status JobManager::Start() {
  store::ListOptions all;
  all.limit = store::kMaxListLimit;
  std::vector<int64_t> resume;
  int64_t max_number = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::Row> rows, store_->List(Table::kJobs, all));
    for (const store::Row& row : rows) {
      const int64_t number = JobNumber(row.key);
      max_number = std::max(max_number, number);
      ASSIGN_OR_RETURN(v1::Job job, DecodeRow<v1::Job>(Table::kJobs, row));
      Entry entry;
      entry.job = std::move(job);
      if (!text::JobEnded(entry.job.state())) {
        entry.nodes_deadline = absl::Now() + options_.reattach_timeout;
        auto model = models_->Get(entry.job.model(), entry.job.model_version());
        if (model.ok()) entry.model = std::move(*model);
        if (!entry.job.plan_id().empty()) {
          auto plan = plans_->Get(entry.job.plan_id());
          if (plan.ok()) {
            entry.plan = *plan;
            // A plan id before PLANNED is the plan the job was given.
            if (entry.job.state() == v1::JOB_STATE_PENDING) entry.given_plan = std::move(*plan);
          }
        }
        if (entry.job.has_checkpoint()) {
          // The latest complete checkpoint is known; shards of later ones
          // are reported again by the agents if they run again.
          for (int rank = 0; rank < entry.job.world_size(); ++rank) {
            entry.shards[entry.job.checkpoint().step()].insert(rank);
          }
        }
        resume.push_back(number);
      }
      absl::MutexLock lock(&mu_);
      entries_[number] = std::move(entry);
    }
    if (static_cast<int>(rows.size()) < all.limit) break;
    all.after_key = rows.back().key;
    all.after_version = rows.back().version;
  }
  {
    absl::MutexLock lock(&mu_);
    next_number_ = max_number + 1;
  }
  for (int64_t number : resume) {
    std::optional<Entry> entry = Snapshot(number);
    if (!entry.has_value()) continue;
    const v1::JobState state = entry->job.state();
    if (state == v1::JOB_STATE_LAUNCHING) {
      RETURN_IF_ERROR(Transition(number, v1::JOB_STATE_PLANNED,
                                 "the planner restarted while the job was launching; launching "
                                 "again"));
    } else if (state == v1::JOB_STATE_RUNNING) {
      v1::GetTaskRequest get;
      get.set_id(entry->job.train_task_id());
      absl::StatusOr<v1::GetTaskResponse> task = tasks_->Get(get);
      if (task.ok() && !entry->job.train_task_id().empty() &&
          task->task().state() == v1::TASK_STATE_RUNNING) {
        // Its agents kept the workers running: wait for them to re-attach.
        RETURN_IF_ERROR(ReloadMetrics(number, entry->job.id()));
        Change(number, false, [&](Entry& e) {
          e.reattach_deadline = absl::Now() + options_.reattach_timeout;
          return true;
        });
        {
          absl::MutexLock lock(&mu_);
          train_tasks_[entry->job.train_task_id()] = number;
        }
        spdlog::info("{}: running on; waiting up to {} for its agents to re-attach",
                     entry->job.id(), absl::FormatDuration(options_.reattach_timeout));
      } else if (entry->job.attempt() < entry->job.training().max_restarts()) {
        RETURN_IF_ERROR(Transition(
            number, v1::JOB_STATE_PLANNED,
            absl::StrCat("the planner restarted while the job was starting its workers; "
                         "relaunching (restart ",
                         entry->job.attempt() + 1, " of ", entry->job.training().max_restarts(),
                         ") from ",
                         entry->job.has_checkpoint()
                             ? absl::StrCat("checkpoint step ", entry->job.checkpoint().step())
                             : std::string("the start")),
            [](Entry& e) { e.job.set_attempt(e.job.attempt() + 1); }));
      } else {
        RETURN_IF_ERROR(Transition(number, v1::JOB_STATE_FAILED,
                                   "the planner restarted and the job's training task could not "
                                   "go on (it had not started on every node); no restart left "
                                   "(--max-restarts)"));
        continue;
      }
    } else {
      spdlog::info("{}: taken up again after a planner restart ({})", entry->job.id(),
                   JobStateName(state));
    }
    StartDriver(number);
  }
  return absl::OkStatus();
}

absl::Status JobManager::ReloadMetrics(int64_t number, const std::string& job_id) {
  std::optional<Entry> entry = Snapshot(number);
  if (!entry.has_value()) return absl::OkStatus();
  const int64_t steps = entry->job.training().steps();
  store::ListOptions options;
  options.tag = job_id;
  options.limit = store::kMaxListLimit;
  std::vector<v1::StepMetrics> metrics;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::Row> rows, store_->List(Table::kJobMetrics, options));
    for (const store::Row& row : rows) {
      ASSIGN_OR_RETURN(v1::StepMetrics m, DecodeRow<v1::StepMetrics>(Table::kJobMetrics, row));
      metrics.push_back(std::move(m));
    }
    if (static_cast<int>(rows.size()) < options.limit) break;
    options.after_key = rows.back().key;
    options.after_version = rows.back().version;
  }
  Change(number, false, [&](Entry& e) {
    for (const v1::StepMetrics& m : metrics) {
      e.stored_through = std::max(e.stored_through, m.step());
      e.job.set_steps_done(std::max(e.job.steps_done(), m.step()));
      if (m.step() > WarmupSteps(steps)) e.KeepMeasured(m);
      if (m.step() >= e.job.last_metrics().step()) *e.job.mutable_last_metrics() = m;
    }
    return true;
  });
  return absl::OkStatus();
}

void JobManager::Shutdown() {
  std::vector<std::thread> drivers;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    drivers.swap(drivers_);
  }
  revisions_.Stop();
  for (std::thread& driver : drivers) {
    if (driver.joinable()) driver.join();
  }
}

void JobManager::StartDriver(int64_t number) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  drivers_.emplace_back([this, number] { Drive(number); });
}

// ---------------------------------------------------------------- API

absl::StatusOr<v1::Job> JobManager::Submit(const v1::SubmitJobRequest& request,
                                           const std::string& owner) {
  v1::TrainingOptions training;
  RETURN_IF_ERROR(ValidateSubmission(request, &training));
  v1::ModelSpec model;
  if (request.has_model_spec()) {
    if (!request.model().empty()) {
      return Invalid("model", Quoted(request.model()), "either a name or model_spec, not both");
    }
    RETURN_IF_ERROR(ValidateModelSpec(request.model_spec()));
    ASSIGN_OR_RETURN(model, models_->Submit(request.model_spec(), owner));
  } else if (!request.model().empty()) {
    ASSIGN_OR_RETURN(model, models_->Get(request.model(), request.model_version()));
  } else {
    return Invalid("model", "\"\"", "a stored or built-in model name, or a model_spec");
  }
  if (training.export_safetensors()) {
    absl::Status exportable = CheckHfExportable(model);
    if (!exportable.ok()) {
      return Invalid("training.export_safetensors", "true",
                     absl::StrCat("a model export can write: ", exportable.message()));
    }
  }
  v1::Plan given;
  if (!request.plan_id().empty()) {
    ASSIGN_OR_RETURN(given, plans_->Get(request.plan_id()));
  } else if (request.has_plan()) {
    given = request.plan();
    if (given.world_size() < 1) {
      return Invalid("plan.world_size", absl::StrCat(given.world_size()), "at least 1");
    }
  }
  if (!request.plan_id().empty() || request.has_plan()) {
    // The world size is checked again once the job's devices are known.
    absl::Status fits = CheckPlanForModel(given, model, given.world_size());
    if (!fits.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("plan: does not fit model ", model.name(), ": ", fits.message()));
    }
  }
  if (request.has_plan()) {
    // Stored under an id of its content (whatever id it came with, it may
    // have been edited), so that the job's record names it.
    given.clear_id();
    given.set_id(absl::StrCat("plan-given-", Fnv1a64Hex(DeterministicBytes(given))));
    if (given.cluster().empty()) given.set_cluster(request.cluster());
    ASSIGN_OR_RETURN(auto stored, plans_->Store(given));
    given = std::move(stored.first);
  }

  v1::Job job;
  job.set_model(model.name());
  job.set_model_version(model.version());
  job.set_cluster(request.cluster());
  job.set_owner(owner);
  job.set_memory_budget_bytes(request.memory_budget_bytes());
  if (request.batch_case() == v1::SubmitJobRequest::kGlobalBatch) {
    job.set_global_batch(request.global_batch());
  } else if (request.batch_case() == v1::SubmitJobRequest::kGlobalBatchRange) {
    *job.mutable_global_batch_range() = request.global_batch_range();
  }
  *job.mutable_training() = training;
  *job.mutable_nodes() = request.nodes();
  job.set_plan_id(given.id());
  job.set_state(v1::JOB_STATE_PENDING);
  *job.mutable_created_at() = NowTimestamp();
  *job.mutable_updated_at() = job.created_at();
  v1::JobTransition* first = job.add_transitions();
  first->set_state(v1::JOB_STATE_PENDING);
  first->set_reason("submitted");
  *first->mutable_time() = job.created_at();
  job.set_message("submitted");

  int64_t number = 0;
  std::optional<Write> write;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the planner is shutting down");
    number = next_number_++;
    job.set_id(absl::StrCat("job-", number));
    Entry entry;
    entry.job = job;
    entry.model = model;
    entry.given_plan = given;
    entry.revision = revisions_.Bump();
    entries_[number] = std::move(entry);
    write.emplace(Write{job, writes_.Take(job.id())});
  }
  absl::Status stored = Commit(std::move(write));
  if (!stored.ok()) {
    absl::MutexLock lock(&mu_);
    entries_.erase(number);
    return stored;
  }
  spdlog::info("{} submitted: {} on {}, {} steps", job.id(), job.model(), job.cluster(),
               training.steps());
  StartDriver(number);
  return job;
}

absl::StatusOr<v1::GetJobResponse> JobManager::Get(const v1::GetJobRequest& request,
                                                   const grpc::ServerContext* context) {
  RETURN_IF_ERROR(
      CheckRange("wait_ms", request.wait_ms(), 0, absl::ToInt64Milliseconds(options_.max_wait)));
  const absl::Time deadline = absl::Now() + absl::Milliseconds(request.wait_ms());
  ASSIGN_OR_RETURN(std::optional<v1::GetJobResponse> changed,
                   LongPoll<v1::GetJobResponse>(
                       revisions_, deadline, context,
                       [&]() -> absl::StatusOr<std::optional<v1::GetJobResponse>> {
                         ASSIGN_OR_RETURN(v1::GetJobResponse now, Current(request.id()));
                         if (now.revision() == request.known_revision() && now.revision() != -1) {
                           return std::nullopt;
                         }
                         return now;
                       }));
  if (changed.has_value()) return std::move(*changed);
  return Current(request.id());
}

absl::StatusOr<v1::ListJobsResponse> JobManager::List(const v1::ListJobsRequest& request) {
  if (!request.cluster().empty()) RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
  ASSIGN_OR_RETURN(const int page_size, ResolvePageSize(request.page_size()));
  int64_t before = 0;
  if (!request.page_token().empty() &&
      (!absl::SimpleAtoi(request.page_token(), &before) || before <= 0)) {
    return Invalid("page_token", Quoted(request.page_token()),
                   "the next_page_token of an earlier answer");
  }
  v1::ListJobsResponse response;
  PageBytes bytes;
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (before > 0 && it->first >= before) continue;
    const v1::Job& job = it->second.job;
    if (!request.cluster().empty() && job.cluster() != request.cluster()) continue;
    if (request.state() != v1::JOB_STATE_UNSPECIFIED && job.state() != request.state()) continue;
    if (response.jobs_size() == page_size || !bytes.Add(job)) {
      response.set_next_page_token(absl::StrCat(it->first + 1));
      break;
    }
    *response.add_jobs() = job;
  }
  return response;
}

absl::StatusOr<v1::Job> JobManager::Cancel(const std::string& id) {
  const int64_t number = JobNumber(id);
  if (number == 0) return Invalid("id", Quoted(id), "a job id like job-1");
  std::vector<std::string> tasks;
  bool known = false;
  Change(number, false, [&](Entry& entry) {
    known = true;
    if (text::JobEnded(entry.job.state())) return false;
    entry.cancel_requested = true;
    if (!entry.job.train_task_id().empty()) tasks.push_back(entry.job.train_task_id());
    if (entry.job.state() == v1::JOB_STATE_PROFILING) {
      for (const std::string& task : entry.job.task_ids()) tasks.push_back(task);
    }
    return true;
  });
  if (!known) {
    ASSIGN_OR_RETURN(v1::GetJobResponse stored, Current(id));
    return std::move(*stored.mutable_job());
  }
  for (const std::string& task : tasks) {
    auto cancelled = tasks_->Cancel(task);
    if (!cancelled.ok()) {
      spdlog::warn("{}: cancelling {}: {}", id, task, std::string(cancelled.status().message()));
    }
  }
  // The driver ends the job; wait for it.
  const absl::Time deadline = absl::Now() + options_.cancel_wait;
  ASSIGN_OR_RETURN(std::optional<v1::Job> ended,
                   LongPoll<v1::Job>(revisions_, deadline, nullptr,
                                     [&]() -> absl::StatusOr<std::optional<v1::Job>> {
                                       ASSIGN_OR_RETURN(v1::GetJobResponse now, Current(id));
                                       if (!text::JobEnded(now.job().state())) return std::nullopt;
                                       return now.job();
                                     }));
  if (ended.has_value()) return std::move(*ended);
  ASSIGN_OR_RETURN(v1::GetJobResponse now, Current(id));
  return std::move(*now.mutable_job());
}

absl::StatusOr<v1::GetJobMetricsResponse> JobManager::Metrics(
    const v1::GetJobMetricsRequest& request, const grpc::ServerContext* context) {
  RETURN_IF_ERROR(
      CheckRange("wait_ms", request.wait_ms(), 0, absl::ToInt64Milliseconds(options_.max_wait)));
  RETURN_IF_ERROR(CheckRange("after_step", request.after_step(), 0, int64_t{1} << 40));
  RETURN_IF_ERROR(CheckRange("page_size", request.page_size(), 0, kMaxMetricsPage));
  const int page = request.page_size() > 0 ? request.page_size() : kDefaultMetricsPage;
  const absl::Time deadline = absl::Now() + absl::Milliseconds(request.wait_ms());
  auto attempt = [&]() -> absl::StatusOr<std::optional<v1::GetJobMetricsResponse>> {
    ASSIGN_OR_RETURN(v1::GetJobResponse job, Current(request.job_id()));
    const bool finished = text::JobEnded(job.job().state());
    store::ListOptions options;
    options.tag = request.job_id();
    options.after_key = MetricsKey(request.job_id(), request.after_step());
    options.after_version = std::numeric_limits<int64_t>::max();
    options.limit = page;
    ASSIGN_OR_RETURN(std::vector<store::Row> rows, store_->List(Table::kJobMetrics, options));
    v1::GetJobMetricsResponse response;
    PageBytes bytes;
    bool cut = false;  // stopped at kMaxPageBytes: more steps follow
    for (const store::Row& row : rows) {
      ASSIGN_OR_RETURN(v1::StepMetrics metrics,
                       DecodeRow<v1::StepMetrics>(Table::kJobMetrics, row));
      if (!bytes.Add(metrics)) {
        cut = true;
        break;
      }
      *response.add_metrics() = std::move(metrics);
    }
    response.set_job_finished(finished && !cut && static_cast<int>(rows.size()) < page);
    if (response.metrics_size() == 0 && !finished) return std::nullopt;
    return response;
  };
  ASSIGN_OR_RETURN(std::optional<v1::GetJobMetricsResponse> answer,
                   LongPoll<v1::GetJobMetricsResponse>(revisions_, deadline, context, attempt));
  if (answer.has_value()) return std::move(*answer);
  return v1::GetJobMetricsResponse();  // nothing new yet
}

absl::StatusOr<v1::GetJobLogsResponse> JobManager::Logs(const v1::GetJobLogsRequest& request) {
  const int64_t number = JobNumber(request.job_id());
  if (number == 0) return Invalid("job_id", Quoted(request.job_id()), "a job id like job-1");
  RETURN_IF_ERROR(CheckRange("max_lines", request.max_lines(), 0, 100000));
  const int lines = request.max_lines() > 0 ? request.max_lines() : kDefaultLogLines;
  v1::GetJobLogsResponse response;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(number);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("job ", Quoted(request.job_id()), " not found"));
  }
  for (const auto& [rank, log] : it->second.logs) {
    if (request.rank() >= 0 && rank != request.rank()) continue;
    v1::RankLog* out = response.add_logs();
    *out = log;
    out->set_text(LastLines(log.text(), lines));
  }
  if (request.rank() >= 0 && response.logs_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no log of rank ", request.rank(), " of ",
                                            request.job_id(), " has reached the planner"));
  }
  return response;
}

// ---------------------------------------------------------------- reports

absl::Status JobManager::OnTrainReport(const v1::Task& task, const v1::ReportTaskRequest& report) {
  int64_t number = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = train_tasks_.find(task.id());
    if (it == train_tasks_.end()) return absl::OkStatus();  // not a job's current task
    number = it->second;
  }
  // Metrics first, in step order, each step once per attempt: the rows are
  // written in the job's write order, outside mu_.
  if (report.metrics_size() > 0) {
    WriteSequencer::Ticket turn = writes_.Enter(task.train().job_id() + "/metrics");
    int64_t stored_through = 0;
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(number);
      if (it == entries_.end() || it->second.job.train_task_id() != task.id()) {
        return absl::OkStatus();
      }
      stored_through = it->second.stored_through;
    }
    std::vector<v1::StepMetrics> fresh;
    for (const v1::StepMetrics& m : report.metrics()) {
      if (m.step() > stored_through) fresh.push_back(m);
    }
    std::sort(fresh.begin(), fresh.end(), [](const v1::StepMetrics& a, const v1::StepMetrics& b) {
      return a.step() < b.step();
    });
    int64_t through = stored_through;
    for (v1::StepMetrics& m : fresh) {
      if (m.step() <= through) continue;  // a duplicate inside the report
      m.set_job_id(task.train().job_id());
      store::NewRow row;
      row.key = MetricsKey(m.job_id(), m.step());
      row.id_prefix = row.key + "@";
      row.tag = m.job_id();
      row.payload = DeterministicBytes(m);
      RETURN_IF_ERROR(store_->Append(Table::kJobMetrics, row).status());
      through = m.step();
    }
    Change(number, false, [&](Entry& entry) {
      if (entry.job.train_task_id() != task.id()) return false;
      entry.stored_through = std::max(entry.stored_through, through);
      const int64_t steps = entry.job.training().steps();
      for (const v1::StepMetrics& m : fresh) {
        if (m.step() > steps) continue;
        entry.job.set_steps_done(std::max(entry.job.steps_done(), m.step()));
        if (m.step() > WarmupSteps(steps)) entry.KeepMeasured(m);
        if (m.step() >= entry.job.last_metrics().step()) *entry.job.mutable_last_metrics() = m;
      }
      std::vector<double> times;
      for (const auto& [step, seconds] : entry.step_seconds) times.push_back(seconds);
      v1::StepTimeComparison* cmp = entry.job.mutable_step_time();
      cmp->set_measured_seconds(Median(times));
      cmp->set_measured_spread(RelativeSpread(times));
      cmp->set_steps_measured(static_cast<int64_t>(times.size()));
      cmp->clear_measured_stage_seconds();
      size_t stages = 0;
      for (const auto& [step, per_stage] : entry.stage_seconds) {
        stages = std::max(stages, per_stage.size());
      }
      for (size_t s = 0; s < stages; ++s) {
        std::vector<double> values;
        for (const auto& [step, per_stage] : entry.stage_seconds) {
          if (s < per_stage.size()) values.push_back(per_stage[s]);
        }
        cmp->add_measured_stage_seconds(Median(values));
      }
      // The waits are medians over the steps that report them; a run whose
      // workers report none (one rank, or an older worker) has no measure.
      std::vector<double> comm, sync;
      for (const auto& [step, w] : entry.waits) {
        comm.push_back(w.first);
        sync.push_back(w.second);
      }
      cmp->set_waits_measured(!entry.waits.empty() && entry.waits.size() == times.size());
      cmp->set_measured_communication_wait_seconds(cmp->waits_measured() ? Median(comm) : 0);
      cmp->set_measured_sync_wait_seconds(cmp->waits_measured() ? Median(sync) : 0);
      const double pace = cmp->measured_seconds() > 0 ? cmp->measured_seconds()
                                                      : entry.job.last_metrics().step_seconds();
      entry.job.set_eta_seconds(pace * static_cast<double>(steps - entry.job.steps_done()));
      return true;
    });
  }

  // Logs, checkpoint shards, a failure.
  std::string replaced;  // the failure a worker killed by a signal replaced
  Change(number, false, [&](Entry& entry) {
    if (entry.job.train_task_id() != task.id()) return false;
    bool changed = entry.reattached.insert(report.node()).second;
    for (const v1::RankLog& log : report.logs()) {
      v1::RankLog& kept = entry.logs[log.rank()];
      kept = log;
      kept.set_node(report.node());
      if (kept.text().size() > kMaxLogBytes) {
        kept.set_text(kept.text().substr(kept.text().size() - kMaxLogBytes));
      }
      changed = true;
    }
    for (const v1::CheckpointShards& shards : report.checkpoints()) {
      for (int rank : shards.ranks()) entry.shards[shards.step()].insert(rank);
      changed = true;
    }
    if (report.state() == v1::TASK_STATE_SUCCEEDED && report.has_exported_model() &&
        report.node() == RankZeroNode(entry.job)) {
      v1::ExportedModel exported = report.exported_model();
      exported.set_node(report.node());
      entry.exported = exported;
      changed = true;
    }
    // The first failure reported, unless a worker killed by a signal comes
    // after one that merely exited: peers that stop because a worker died
    // exit 1, and their node may report before the dead worker's does.
    if (report.has_failure() && (!entry.failure.has_value() || (KilledBySignal(report.failure()) &&
                                                                !KilledBySignal(*entry.failure)))) {
      v1::JobFailure failure = report.failure();
      failure.set_node(report.node());
      if (!entry.failure.has_value()) {
        entry.failure_at = absl::Now();
      } else {
        replaced = absl::StrCat("rank ", entry.failure->rank(), " on ", entry.failure->node(), " ",
                                entry.failure->exit_status());
      }
      entry.failure = failure;
      changed = true;
    }
    return changed;
  });
  if (!replaced.empty()) {
    spdlog::info("{}: rank {} on {} {}, reported after {}: the job names it", task.train().job_id(),
                 report.failure().rank(), report.node(), report.failure().exit_status(), replaced);
  }

  // A checkpoint that became complete is stored with the job (a relaunch
  // after a planner restart resumes from it).
  std::optional<Write> checkpoint = Change(number, true, [&](Entry& entry) {
    if (entry.job.train_task_id() != task.id()) return false;
    int64_t latest = entry.job.checkpoint().step();
    for (const auto& [step, ranks] : entry.shards) {
      if (step > latest && static_cast<int>(ranks.size()) >= entry.job.world_size()) {
        latest = step;
      }
    }
    if (latest <= entry.job.checkpoint().step()) return false;
    v1::CheckpointState* state = entry.job.mutable_checkpoint();
    state->set_step(latest);
    state->set_complete(true);
    state->clear_ranks_written();
    for (int rank : entry.shards[latest]) state->add_ranks_written(rank);
    return true;
  });
  return Commit(std::move(checkpoint));
}

// ---------------------------------------------------------------- driver

void JobManager::Drive(int64_t number) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!Step(number)) return;
  }
}

void JobManager::Nap(int64_t number) {
  const int64_t seen = revisions_.Current();
  std::optional<Entry> entry = Snapshot(number);
  if (!entry.has_value() || entry->cancel_requested) return;
  revisions_.WaitForChange(seen, absl::Now() + options_.tick, nullptr);
}

bool JobManager::Step(int64_t number) {
  std::optional<Entry> entry = Snapshot(number);
  if (!entry.has_value() || text::JobEnded(entry->job.state())) return false;
  absl::Status status;
  if (entry->cancel_requested && entry->job.train_task_id().empty()) {
    status =
        Transition(number, v1::JOB_STATE_CANCELLED,
                   absl::StrCat("cancelled by a client while ", JobStateName(entry->job.state())));
    if (!status.ok()) spdlog::error("{}: {}", entry->job.id(), std::string(status.message()));
    return false;
  }
  switch (entry->job.state()) {
    case v1::JOB_STATE_PENDING:
      status = Pend(number, *entry);
      break;
    case v1::JOB_STATE_PROFILING:
      status = Profile(number, *entry);
      break;
    case v1::JOB_STATE_PLANNED:
      status = Launch(number, *entry);
      break;
    case v1::JOB_STATE_LAUNCHING:
    case v1::JOB_STATE_RUNNING:
      status = Watch(number, *entry);
      break;
    default:
      return false;
  }
  if (!status.ok()) {
    if (revisions_.stopped()) return false;
    spdlog::warn("{}: {}", entry->job.id(), std::string(status.message()));
    // A store write that failed, or a manager's error the step did not
    // turn into a state: the job cannot be trusted to go on.
    Transition(number, v1::JOB_STATE_FAILED, std::string(status.message())).IgnoreError();
    return false;
  }
  return true;
}

absl::StatusOr<std::vector<v1::Node>> JobManager::JobNodes(const v1::Job& job) {
  ASSIGN_OR_RETURN(std::vector<v1::Node> alive, nodes_->AliveNodes(job.cluster()));
  // A relaunch needs the nodes that hold its checkpoint: those of the
  // placement it had. Else the nodes the job names, else every alive node.
  std::vector<std::string> names;
  if (job.ranks_size() > 0) {
    for (const v1::RankAssignment& rank : job.ranks()) {
      if (names.empty() || names.back() != rank.node()) names.push_back(rank.node());
    }
  } else {
    names.assign(job.nodes().begin(), job.nodes().end());
  }
  if (names.empty()) {
    std::sort(alive.begin(), alive.end(),
              [](const v1::Node& a, const v1::Node& b) { return a.name() < b.name(); });
    return alive;
  }
  std::vector<v1::Node> chosen;
  for (const std::string& name : names) {
    auto it = std::find_if(alive.begin(), alive.end(),
                           [&](const v1::Node& n) { return n.name() == name; });
    if (it == alive.end()) return std::vector<v1::Node>();  // not up (yet)
    chosen.push_back(*it);
  }
  return chosen;
}

std::vector<std::string> JobManager::NodesNotBack(const Entry& entry) {
  if (absl::Now() >= entry.nodes_deadline) return {};
  const v1::Job& job = entry.job;
  std::vector<std::string> names;
  for (const v1::RankAssignment& rank : job.ranks()) {
    if (names.empty() || names.back() != rank.node()) names.push_back(rank.node());
  }
  if (names.empty()) names.assign(job.nodes().begin(), job.nodes().end());
  if (names.empty()) {
    v1::ListNodesRequest list;
    list.set_cluster(job.cluster());
    do {
      absl::StatusOr<v1::ListNodesResponse> page = nodes_->List(list);
      if (!page.ok()) break;
      for (const v1::Node& node : page->nodes()) names.push_back(node.name());
      list.set_page_token(page->next_page_token());
    } while (!list.page_token().empty());
  }
  std::vector<std::string> away;
  for (const std::string& name : names) {
    if (!nodes_->IsAlive(job.cluster(), name)) away.push_back(name);
  }
  return away;
}

absl::Status JobManager::WaitForNodes(int64_t number, const std::vector<std::string>& away) {
  const std::string waiting =
      absl::StrCat("the planner restarted; waiting for the agents of node(s) ",
                   absl::StrJoin(away, ", "), " to register again (at most ",
                   absl::FormatDuration(options_.reattach_timeout), " after the restart)");
  Change(number, false, [&](Entry& e) {
    if (e.job.message() == waiting) return false;
    e.job.set_message(waiting);
    return true;
  });
  Nap(number);
  return absl::OkStatus();
}

absl::Status JobManager::Pend(int64_t number, const Entry& entry) {
  if (std::vector<std::string> away = NodesNotBack(entry); !away.empty()) {
    return WaitForNodes(number, away);
  }
  ASSIGN_OR_RETURN(std::vector<v1::Node> nodes, JobNodes(entry.job));
  if (nodes.empty()) {
    const std::string waiting =
        entry.job.nodes_size() > 0
            ? absl::StrCat("waiting for nodes ", absl::StrJoin(entry.job.nodes(), ", "),
                           " of cluster ", entry.job.cluster(), " to be alive")
            : absl::StrCat("waiting for an alive node of cluster ", entry.job.cluster(),
                           " (start galvatron-agent --cluster ", entry.job.cluster(), ")");
    Change(number, false, [&](Entry& e) {
      if (e.job.message() == waiting) return false;
      e.job.set_message(waiting);
      return true;
    });
    Nap(number);
    return absl::OkStatus();
  }
  if (entry.given_plan.layers_size() > 0) {
    return Transition(
        number, v1::JOB_STATE_PLANNED,
        absl::StrCat("the plan given: ",
                     entry.given_plan.id().empty() ? std::string("inline") : entry.given_plan.id()),
        [](Entry& e) {
          e.plan = e.given_plan;
          e.job.mutable_step_time()->set_predicted_seconds(e.plan.prediction().iteration_seconds());
          *e.job.mutable_step_time()->mutable_predicted_breakdown() =
              e.plan.prediction().breakdown();
        });
  }
  return Transition(number, v1::JOB_STATE_PROFILING,
                    absl::StrCat("measuring what a plan for ", entry.job.model(), " on ",
                                 nodes.size(), " node(s) lacks"));
}

absl::Status JobManager::Profile(int64_t number, const Entry& entry) {
  if (std::vector<std::string> away = NodesNotBack(entry); !away.empty()) {
    return WaitForNodes(number, away);
  }
  const std::string reason = absl::StrCat("for ", entry.job.id());
  for (int round = 0; round < options_.max_profiling_rounds; ++round) {
    ASSIGN_OR_RETURN(v1::MeasureMissingResponse missing,
                     tasks_->MeasureMissing(entry.model, entry.job.cluster(), reason));
    if (missing.tasks_size() == 0) {
      if (missing.hardware_missing() || missing.missing_layer_types_size() > 0) {
        // Nothing can measure it now (no alive node): wait as PENDING does.
        return Transition(number, v1::JOB_STATE_PENDING,
                          "the cluster lacks profiles and no node is up to measure them");
      }
      break;
    }
    std::vector<std::string> ids;
    for (const v1::Task& task : missing.tasks()) ids.push_back(task.id());
    // Stored: the job's record names what was measured for it, through a
    // planner restart too.
    RETURN_IF_ERROR(Commit(Change(number, true, [&](Entry& e) {
      for (const std::string& id : ids) {
        if (std::find(e.job.task_ids().begin(), e.job.task_ids().end(), id) ==
            e.job.task_ids().end()) {
          e.job.add_task_ids(id);
        }
      }
      e.job.set_message(absl::StrCat("measuring: ", absl::StrJoin(ids, ", ")));
      return true;
    })));
    for (const std::string& id : ids) {
      int64_t known = 0;
      while (true) {
        std::optional<Entry> now = Snapshot(number);
        if (!now.has_value() || now->cancel_requested) {
          // Cancel() cancelled the tasks the job named then; these may have
          // been created after it looked.
          for (const std::string& created : ids) tasks_->Cancel(created).IgnoreError();
          return Transition(number, v1::JOB_STATE_CANCELLED,
                            "cancelled by a client while profiling");
        }
        if (revisions_.stopped()) return absl::OkStatus();
        ASSIGN_OR_RETURN(v1::GetTaskResponse task, WaitTask(id, known));
        known = task.revision();
        const v1::TaskState state = task.task().state();
        if (state == v1::TASK_STATE_SUCCEEDED) break;
        if (state == v1::TASK_STATE_FAILED || state == v1::TASK_STATE_CANCELLED) {
          // A task cancelled with the job (CancelJob) did not fail: look again.
          std::optional<Entry> cancelled = Snapshot(number);
          if (cancelled.has_value() && cancelled->cancel_requested) continue;
          return Transition(number, v1::JOB_STATE_FAILED,
                            absl::StrCat("measuring failed: ", id, " ", v1::TaskState_Name(state),
                                         ": ", task.task().message()));
        }
      }
    }
  }

  ASSIGN_OR_RETURN(std::vector<v1::Node> nodes, JobNodes(entry.job));
  if (nodes.empty()) {
    return Transition(number, v1::JOB_STATE_PENDING, "the job's nodes are no longer all alive");
  }
  v1::GetHardwareProfileRequest get;
  get.set_cluster(entry.job.cluster());
  absl::StatusOr<v1::HardwareProfile> hardware = hardware_->Get(get);
  if (!hardware.ok()) {
    return Transition(number, v1::JOB_STATE_FAILED,
                      absl::StrCat("no hardware profile: ", hardware.status().message()));
  }
  absl::StatusOr<v1::PlanRequest> request =
      JobPlanRequest(entry.job, entry.model, *hardware, nodes);
  if (!request.ok()) {
    return Transition(number, v1::JOB_STATE_FAILED, std::string(request.status().message()));
  }
  // The job's search waits in the queue like any (never refused), and stops
  // when the job is cancelled or the planner stops.
  SearchCall call;
  call.caller = entry.job.owner().empty() ? "jobs" : entry.job.owner();
  call.still_wanted = [this, number]() -> absl::Status {
    std::optional<Entry> now = Snapshot(number);
    if (!now.has_value() || now->cancel_requested || revisions_.stopped()) {
      return absl::CancelledError("the job was cancelled, or the planner stops");
    }
    return absl::OkStatus();
  };
  absl::StatusOr<v1::Plan> plan = plans_->Request(*request, std::move(call));
  if (absl::IsCancelled(plan.status()) || absl::IsUnavailable(plan.status())) {
    // The next step records the cancellation; a stopping planner takes the
    // job up again when it restarts.
    return absl::OkStatus();
  }
  if (!plan.ok()) {
    return Transition(number, v1::JOB_STATE_FAILED,
                      absl::StrCat("planning failed: ", plan.status().message()));
  }
  const v1::Plan found = std::move(*plan);
  return Transition(number, v1::JOB_STATE_PLANNED, PlanSummaryText(found), [&](Entry& e) {
    e.plan = found;
    e.job.set_plan_id(found.id());
    e.job.mutable_step_time()->set_predicted_seconds(found.prediction().iteration_seconds());
    *e.job.mutable_step_time()->mutable_predicted_breakdown() = found.prediction().breakdown();
  });
}

absl::Status JobManager::Launch(int64_t number, const Entry& entry) {
  ASSIGN_OR_RETURN(std::vector<v1::Node> nodes, JobNodes(entry.job));
  if (nodes.empty()) {
    if (std::vector<std::string> away = NodesNotBack(entry); !away.empty()) {
      return WaitForNodes(number, away);
    }
    return Transition(number, v1::JOB_STATE_FAILED,
                      "the job's nodes are no longer alive; nothing to launch on");
  }
  absl::StatusOr<Placement> placement = PlaceOneRankPerDevice(nodes);
  if (!placement.ok()) {
    return Transition(number, v1::JOB_STATE_FAILED, std::string(placement.status().message()));
  }
  const v1::Plan& plan = entry.plan;
  if (plan.world_size() != placement->world_size) {
    return Transition(
        number, v1::JOB_STATE_FAILED,
        absl::StrCat("plan ", plan.id(), " is for ", plan.world_size(), " ranks, the job has ",
                     placement->world_size, " devices on ", nodes.size(), " node(s)"));
  }
  if (absl::Status fits = CheckPlanForModel(plan, entry.model, placement->world_size); !fits.ok()) {
    return Transition(number, v1::JOB_STATE_FAILED,
                      absl::StrCat("plan does not fit the model: ", fits.message()));
  }
  if (absl::Status inside = CheckGroupsInsideNodes(plan, *placement); !inside.ok()) {
    return Transition(number, v1::JOB_STATE_FAILED, std::string(inside.message()));
  }
  std::optional<Entry> now = Snapshot(number);
  if (!now.has_value()) return absl::OkStatus();

  v1::TrainTaskSpec spec;
  spec.set_job_id(now->job.id());
  spec.set_attempt(now->job.attempt());
  *spec.mutable_plan() = now->plan;
  *spec.mutable_model() = now->model;
  *spec.mutable_training() = now->job.training();
  spec.set_resume_step(now->job.checkpoint().complete() ? now->job.checkpoint().step() : 0);
  for (const v1::RankAssignment& rank : RankAssignments(*placement)) *spec.add_ranks() = rank;
  const std::string reason = absl::StrCat(
      now->job.id(),
      now->job.attempt() > 0 ? absl::StrCat(", attempt ", now->job.attempt() + 1) : std::string());
  absl::StatusOr<v1::Task> task = tasks_->CreateTrain(now->job.cluster(), *placement, spec, reason);
  if (!task.ok()) {
    return Transition(
        number, v1::JOB_STATE_FAILED,
        absl::StrCat("the training task could not be created: ", task.status().message()));
  }
  const std::string task_id = task->id();
  {
    absl::MutexLock lock(&mu_);
    train_tasks_[task_id] = number;
  }
  return Transition(
      number, v1::JOB_STATE_LAUNCHING,
      absl::StrCat(task_id, ": ", placement->world_size, " ranks on ", nodes.size(), " node(s)",
                   spec.resume_step() > 0
                       ? absl::StrCat(", resuming from checkpoint step ", spec.resume_step())
                       : std::string()),
      [&](Entry& e) {
        e.nodes = nodes;
        e.job.set_train_task_id(task_id);
        e.job.set_world_size(placement->world_size);
        e.job.clear_ranks();
        for (const v1::RankAssignment& rank : spec.ranks()) *e.job.add_ranks() = rank;
        e.stored_through = spec.resume_step();
        e.step_seconds.clear();
        e.stage_seconds.clear();
        e.waits.clear();
        e.failure.reset();
        e.job.clear_failure();
      });
}

std::vector<std::string> JobManager::LostNodes(const v1::Job& job, absl::Time since) {
  std::vector<std::string> nodes;
  for (const v1::RankAssignment& rank : job.ranks()) {
    if (nodes.empty() || nodes.back() != rank.node()) nodes.push_back(rank.node());
  }
  const absl::Time deadline = since + nodes_->node_timeout() + absl::Seconds(1);
  while (true) {
    std::vector<std::string> lost;
    bool undecided = false;
    for (const std::string& node : nodes) {
      if (!nodes_->IsAlive(job.cluster(), node)) {
        lost.push_back(node);
        continue;
      }
      std::optional<absl::Time> beat = nodes_->LastHeartbeat(job.cluster(), node);
      if (!beat.has_value() || *beat <= since) undecided = true;
    }
    if (!undecided || absl::Now() >= deadline || revisions_.stopped()) return lost;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::StatusOr<v1::GetTaskResponse> JobManager::WaitTask(const std::string& task_id,
                                                         int64_t known) {
  v1::GetTaskRequest get;
  get.set_id(task_id);
  get.set_known_revision(known);
  get.set_wait_ms(absl::ToInt64Milliseconds(options_.tick));
  return tasks_->Get(get);
}

absl::Status JobManager::Watch(int64_t number, const Entry& entry) {
  const std::string& task_id = entry.job.train_task_id();
  if (task_id.empty()) {
    return Transition(number, v1::JOB_STATE_PLANNED, "no training task; launching again");
  }
  int64_t known = 0;
  while (true) {
    if (revisions_.stopped()) return absl::OkStatus();
    ASSIGN_OR_RETURN(v1::GetTaskResponse task, WaitTask(task_id, known));
    known = task.revision();
    const v1::TaskState state = task.task().state();
    if (state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_FAILED ||
        state == v1::TASK_STATE_CANCELLED) {
      std::optional<Entry> now = Snapshot(number);
      if (!now.has_value()) return absl::OkStatus();
      return TaskEnded(number, *now, task.task());
    }
    std::optional<Entry> now = Snapshot(number);
    if (!now.has_value() || text::JobEnded(now->job.state())) return absl::OkStatus();
    if (absl::Now() > now->reattach_deadline) {
      std::vector<std::string> missing;
      for (const v1::TaskNode& part : task.task().nodes()) {
        if (now->reattached.count(part.node()) == 0) missing.push_back(part.node());
      }
      if (!missing.empty()) {
        auto failed =
            tasks_->Fail(task_id, absl::StrCat("node(s) ", absl::StrJoin(missing, ", "),
                                               " did not re-attach within ",
                                               absl::FormatDuration(options_.reattach_timeout),
                                               " after the planner restarted"));
        if (!failed.ok()) return failed.status();
        continue;
      }
      Change(number, false, [](Entry& e) {
        e.reattach_deadline = absl::InfiniteFuture();
        return true;
      });
    }
    if (now->cancel_requested) {
      // Cancelled while the task was being created: cancel it now.
      auto cancelled = tasks_->Cancel(task_id);
      if (!cancelled.ok()) return cancelled.status();
      continue;
    }
    if (now->job.state() == v1::JOB_STATE_LAUNCHING &&
        std::all_of(task.task().nodes().begin(), task.task().nodes().end(),
                    [](const v1::TaskNode& part) {
                      return part.state() == v1::TASK_STATE_RUNNING ||
                             part.state() == v1::TASK_STATE_SUCCEEDED;
                    })) {
      RETURN_IF_ERROR(Transition(number, v1::JOB_STATE_RUNNING,
                                 absl::StrCat("every node runs its workers (", task_id, ")")));
    }
  }
}

std::optional<JobManager::Entry> JobManager::AwaitKilledWorker(int64_t number, const Entry& entry) {
  if (!entry.failure.has_value() || KilledBySignal(*entry.failure)) return std::nullopt;
  const absl::Time until = entry.failure_at + kKilledWorkerGrace;
  while (absl::Now() < until && !revisions_.stopped()) {
    const int64_t seen = revisions_.Current();
    std::optional<Entry> now = Snapshot(number);
    if (!now.has_value()) return std::nullopt;
    if (now->failure.has_value() && KilledBySignal(*now->failure)) return now;
    revisions_.WaitForChange(seen, until, nullptr);
  }
  return Snapshot(number);
}

absl::Status JobManager::TaskEnded(int64_t number, const Entry& ended, const v1::Task& task) {
  std::optional<Entry> later;
  if (task.state() == v1::TASK_STATE_FAILED) later = AwaitKilledWorker(number, ended);
  const Entry& entry = later.has_value() ? *later : ended;
  {
    absl::MutexLock lock(&mu_);
    train_tasks_.erase(task.id());
  }
  if (task.state() == v1::TASK_STATE_SUCCEEDED) {
    std::string where = entry.job.training().checkpoint_dir().empty()
                            ? std::string("<agent work dir>/checkpoints")
                            : entry.job.training().checkpoint_dir();
    // What the job measured teaches the cluster's calibration, before the
    // job shows SUCCEEDED (a client that saw it end finds the calibration
    // updated); a failure there is the planner's, not the job's.
    if (calibrations_ != nullptr) {
      auto recorded = calibrations_->Record(entry.job, entry.plan);
      if (!recorded.ok()) {
        spdlog::warn("job {}: not recorded for calibration: {}", entry.job.id(),
                     recorded.status().ToString());
      }
    }
    std::string exported;
    if (entry.exported.has_value()) {
      exported = absl::StrCat("; model exported to ", entry.exported->path(), " on ",
                              entry.exported->node());
    } else if (entry.job.training().export_safetensors()) {
      exported = "; no exported model was reported";
    }
    RETURN_IF_ERROR(Transition(
        number, v1::JOB_STATE_SUCCEEDED,
        absl::StrCat("trained ", entry.job.steps_done(), " step(s); final loss ",
                     absl::StrFormat("%.6g", entry.job.last_metrics().loss()), "; checkpoint ",
                     entry.job.checkpoint().complete()
                         ? absl::StrCat("step ", entry.job.checkpoint().step())
                         : std::string("(none reported complete)"),
                     " under ", where, "/", entry.job.id(), " on ", NodesOf(entry.job), exported),
        [](Entry& e) {
          if (e.exported.has_value()) *e.job.mutable_exported_model() = *e.exported;
        }));
    return absl::OkStatus();
  }
  if (task.state() == v1::TASK_STATE_CANCELLED || entry.cancel_requested) {
    return Transition(number, v1::JOB_STATE_CANCELLED,
                      entry.cancel_requested
                          ? "cancelled by a client"
                          : absl::StrCat("its training task ", task.id(), " was cancelled"));
  }
  // FAILED. A worker's failure may be retried; a lost node may not. A node
  // whose agent died often shows first as its peers' failure: look.
  if (entry.failure.has_value()) {
    const std::vector<std::string> lost = LostNodes(entry.job, entry.failure_at);
    if (!lost.empty()) {
      return Transition(
          number, v1::JOB_STATE_FAILED,
          absl::StrCat("node(s) ", absl::StrJoin(lost, ", "),
                       " lost (no heartbeat from the agent) while the job ran; then rank ",
                       entry.failure->rank(), " on node ", entry.failure->node(), " ",
                       entry.failure->exit_status()),
          [&](Entry& e) {
            *e.job.mutable_failure() = *e.failure;
            e.job.mutable_failure()->set_rank(-1);
            e.job.mutable_failure()->set_node(absl::StrJoin(lost, ","));
          });
    }
  }
  const bool worker_failed = entry.failure.has_value();
  if (worker_failed && entry.job.attempt() < entry.job.training().max_restarts()) {
    return Transition(
        number, v1::JOB_STATE_PLANNED,
        absl::StrCat("rank ", entry.failure->rank(), " on ", entry.failure->node(), " ",
                     entry.failure->exit_status(), "; relaunching every rank (restart ",
                     entry.job.attempt() + 1, " of ", entry.job.training().max_restarts(),
                     ") from ",
                     entry.job.checkpoint().complete()
                         ? absl::StrCat("checkpoint step ", entry.job.checkpoint().step())
                         : std::string("the start")),
        [](Entry& e) {
          *e.job.mutable_failure() = *e.failure;
          e.job.set_attempt(e.job.attempt() + 1);
          e.job.clear_train_task_id();
          e.exported.reset();
        });
  }
  return Transition(
      number, v1::JOB_STATE_FAILED,
      worker_failed
          ? absl::StrCat("rank ", entry.failure->rank(), " on node ", entry.failure->node(), " ",
                         entry.failure->exit_status(),
                         entry.job.training().max_restarts() > 0 ? " (no restart left)" : "",
                         entry.failure->log_tail().empty()
                             ? std::string()
                             : absl::StrCat("; its log ends:\n", entry.failure->log_tail()))
          : task.message(),
      [&](Entry& e) {
        if (e.failure.has_value()) {
          *e.job.mutable_failure() = *e.failure;
        } else {
          e.job.mutable_failure()->set_rank(-1);
        }
      });
}

// ---------------------------------------------------------------- gRPC

grpc::Status JobManager::SubmitJob(grpc::ServerContext* context,
                                   const v1::SubmitJobRequest* request, v1::Job* response) {
  return Handle(context, "JobService/SubmitJob", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(who, request->cluster(), "the job"));
    if (request->has_model_spec())
      RETURN_IF_ERROR(models_->MayChange(who, request->model_spec().name()));
    return Fill(Submit(*request, who.name), response);
  });
}

grpc::Status JobManager::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                v1::GetJobResponse* response) {
  return Handle(context, "JobService/GetJob",
                [&](const Principal&) { return Fill(Get(*request, context), response); });
}

grpc::Status JobManager::ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                                  v1::ListJobsResponse* response) {
  return Handle(context, "JobService/ListJobs",
                [&](const Principal&) { return Fill(List(*request), response); });
}

grpc::Status JobManager::CancelJob(grpc::ServerContext* context,
                                   const v1::CancelJobRequest* request, v1::Job* response) {
  return Handle(context, "JobService/CancelJob", [&](const Principal& who) -> absl::Status {
    if (who.role != Role::kAdmin) {
      v1::GetJobRequest get;
      get.set_id(request->id());
      ASSIGN_OR_RETURN(v1::GetJobResponse job, Get(get, context));
      RETURN_IF_ERROR(CheckOwner(who, job.job().owner(), absl::StrCat("job ", request->id())));
    }
    return Fill(Cancel(request->id()), response);
  });
}

grpc::Status JobManager::GetJobMetrics(grpc::ServerContext* context,
                                       const v1::GetJobMetricsRequest* request,
                                       v1::GetJobMetricsResponse* response) {
  return Handle(context, "JobService/GetJobMetrics",
                [&](const Principal&) { return Fill(Metrics(*request, context), response); });
}

grpc::Status JobManager::GetJobLogs(grpc::ServerContext* context,
                                    const v1::GetJobLogsRequest* request,
                                    v1::GetJobLogsResponse* response) {
  return Handle(context, "JobService/GetJobLogs",
                [&](const Principal&) { return Fill(Logs(*request), response); });
}

}  // namespace galvatron::planner
