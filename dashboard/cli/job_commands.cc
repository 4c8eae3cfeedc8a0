// PlannerClient's `galvatron jobs` commands: submit, list, show, metrics,
// logs, wait, cancel. Following a job costs long polls only: GetJob waits for
// the job to change from the revision last seen and, while it runs and steps
// are shown, GetJobMetrics waits for the next step.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_file.h"
#include "common/message_text.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "dashboard/cli/cli_commands.h"
#include "dashboard/cli/paging.h"

namespace galvatron::cli {

using text::JobDetails;
using text::JobListTable;
using text::JobStateName;
using text::JobTotalSteps;
using text::JobTransitionLine;
using text::StepMetricsLine;

namespace {

// How long each long poll waits (the planner caps GetJob's at 60 s).
constexpr int64_t kJobWaitMs = 20000;
// GetJobMetrics while the job runs; after a wait without a step, the next
// wait is on the job itself, so a state change shows within this long.
constexpr int64_t kMetricsWaitMs = 10000;
// GetJob between GetJobLogs calls when following logs: logs carry no
// revision of their own, so new lines show within this long.
constexpr int64_t kLogsWaitMs = 5000;
constexpr int kMetricsPageSize = 1000;
// Pauses between retries grow to this.
constexpr double kMaxBackoffSeconds = 5;

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The lines of `now` (a later tail of the same log) that `before` did not
// show: after the longest run of `before`'s last lines that `now` starts with.
std::vector<std::string> NewLines(const std::string& before, const std::string& now) {
  const std::vector<std::string> old_lines = Lines(before);
  std::vector<std::string> new_lines = Lines(now);
  size_t overlap = std::min(old_lines.size(), new_lines.size());
  for (; overlap > 0; --overlap) {
    if (std::equal(old_lines.end() - static_cast<std::ptrdiff_t>(overlap), old_lines.end(),
                   new_lines.begin())) {
      break;
    }
  }
  new_lines.erase(new_lines.begin(), new_lines.begin() + static_cast<std::ptrdiff_t>(overlap));
  return new_lines;
}

std::string CompactJson(const google::protobuf::Message& message) {
  JsonPrintOptions options;
  options.pretty = false;
  return MessageToJson(message, options);
}

}  // namespace

absl::Status PlannerClient::Retrying(const std::string& what,
                                     const std::function<grpc::Status()>& call) {
  absl::Time first_failure = absl::InfinitePast();
  double pause = std::max(0.01, options_.reconnect_backoff_seconds);
  while (true) {
    const grpc::Status status = call();
    // CANCELLED too: this client cancels no call, a planner shutting down
    // cancels those in flight.
    const bool unavailable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::CANCELLED;
    const bool retrying = first_failure != absl::InfinitePast();
    // A planner that never answered is more likely a wrong address than a
    // restart: said at once.
    if (!unavailable || !planner_answered_) {
      planner_answered_ = planner_answered_ || status.ok();
      if (retrying && status.ok()) {
        *err_ << "galvatron: the planner answers again; following " << what << std::endl;
      }
      return Check(status);
    }
    const absl::Time now = absl::Now();
    if (!retrying) first_failure = now;
    const double waited = absl::ToDoubleSeconds(now - first_failure);
    if (waited + pause > options_.reconnect_seconds) {
      absl::Status failed = Check(status);
      if (failed.code() == absl::StatusCode::kCancelled) {
        failed = absl::UnavailableError(
            absl::StrCat("the planner at ", options_.planner, " cancelled the call (",
                         status.error_message(), "); is it shutting down?"));
      }
      return absl::Status(failed.code(),
                          absl::StrCat(failed.message(), " (following ", what, ", retried for ",
                                       absl::StrFormat("%.0f", waited), " s)"));
    }
    if (!retrying) {
      *err_ << "galvatron: the planner at " << options_.planner << " is unavailable ("
            << status.error_message() << "); retrying for up to "
            << absl::StrFormat("%.0f", options_.reconnect_seconds) << " s" << std::endl;
    } else {
      *err_ << "galvatron: still unavailable; next try in " << absl::StrFormat("%.1f", pause)
            << " s" << std::endl;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(pause));
    pause = std::min(kMaxBackoffSeconds, pause * 2);
  }
}

absl::StatusOr<v1::Job> PlannerClient::PollJob(const std::string& id, int64_t wait_ms,
                                               int64_t* revision) {
  v1::GetJobRequest request;
  request.set_id(id);
  request.set_wait_ms(wait_ms);
  request.set_known_revision(*revision);
  v1::GetJobResponse response;
  int attempts = 0;
  RETURN_IF_ERROR(Retrying(id, [&] {
    response.Clear();
    if (attempts++ > 0) {
      // After an outage (a restart may reset the planner's revisions, and
      // the job went on meanwhile): the job as it is now, at once.
      request.set_known_revision(0);
      request.set_wait_ms(0);
    }
    // The deadline covers the wait and then the usual time for an answer.
    return jobs_->GetJob(
        Context(static_cast<double>(wait_ms) / 1000.0 + options_.timeout_seconds).get(), request,
        &response);
  }));
  *revision = response.revision();
  return std::move(*response.mutable_job());
}

absl::StatusOr<v1::Job> PlannerClient::FollowJob(const std::string& id, const JobFollowView& view) {
  int64_t revision = 0;
  int shown_transitions = 0;
  int64_t last_step = view.after_step;
  int64_t total_steps = 0;
  v1::Job job;

  auto poll_job = [&](int64_t wait_ms) -> absl::Status {
    ASSIGN_OR_RETURN(job, PollJob(id, wait_ms, &revision));
    total_steps = JobTotalSteps(job);
    for (; shown_transitions < job.transitions_size(); ++shown_transitions) {
      if (!view.transitions) continue;
      const v1::JobTransition& t = job.transitions(shown_transitions);
      *err_ << JobTransitionLine(job.id(), t) << std::endl;
      // Once planned: the plan's shape and per-layer strategy (an extra;
      // following goes on without it if the plan cannot be read).
      if (t.state() == v1::JOB_STATE_PLANNED && !job.plan_id().empty()) {
        v1::GetPlanRequest get;
        get.set_id(job.plan_id());
        v1::Plan plan;
        if (plans_->GetPlan(Context().get(), get, &plan).ok()) {
          *err_ << absl::StrFormat(
                       "  plan %s: pp%d %s, global batch %d in %d micro-batches, predicted %.4g "
                       "s/step",
                       plan.id(), plan.pp(),
                       text::ShortEnumName(v1::PipelineSchedule_Name(plan.schedule()),
                                           "PIPELINE_SCHEDULE_"),
                       plan.global_batch(), plan.micro_batches(),
                       plan.prediction().iteration_seconds())
                << std::endl;
          for (const std::string& line : text::CompressLayerStrategies(plan)) {
            *err_ << "    " << line << std::endl;
          }
        }
      }
    }
    return absl::OkStatus();
  };
  // One GetJobMetrics for the steps after `last_step`, waiting up to
  // `wait_ms` for the first; shows them. The number of steps, and in
  // *finished whether no more will come.
  auto poll_metrics = [&](int64_t wait_ms, bool* finished) -> absl::StatusOr<int> {
    v1::GetJobMetricsRequest request;
    request.set_job_id(id);
    request.set_after_step(last_step);
    request.set_page_size(kMetricsPageSize);
    request.set_wait_ms(wait_ms);
    v1::GetJobMetricsResponse response;
    RETURN_IF_ERROR(Retrying(id, [&] {
      response.Clear();
      return jobs_->GetJobMetrics(
          Context(static_cast<double>(wait_ms) / 1000.0 + options_.timeout_seconds).get(), request,
          &response);
    }));
    for (const v1::StepMetrics& m : response.metrics()) {
      if (m.step() <= last_step) continue;
      last_step = m.step();
      *view.steps << (view.steps_json ? CompactJson(m) : StepMetricsLine(m, total_steps))
                  << std::endl;
    }
    *finished = response.job_finished();
    return response.metrics_size();
  };
  // Every step there is now, page by page.
  auto drain_metrics = [&]() -> absl::Status {
    bool finished = false;
    while (true) {
      ASSIGN_OR_RETURN(int count, poll_metrics(0, &finished));
      if (count < kMetricsPageSize) return absl::OkStatus();
    }
  };

  RETURN_IF_ERROR(poll_job(0));
  if (view.steps != nullptr) RETURN_IF_ERROR(drain_metrics());
  bool wait_on_metrics = false;
  while (!text::JobEnded(job.state())) {
    if (wait_on_metrics) {
      bool finished = false;
      ASSIGN_OR_RETURN(int count, poll_metrics(kMetricsWaitMs, &finished));
      if (count >= kMetricsPageSize) RETURN_IF_ERROR(drain_metrics());
      RETURN_IF_ERROR(poll_job(0));
      // A wait that brought no step (a slow step, a relaunch, a planner that
      // answers at once for a job not running) is followed by one on the job.
      wait_on_metrics = count > 0 && !finished;
    } else {
      RETURN_IF_ERROR(poll_job(kJobWaitMs));
      if (view.steps != nullptr && job.steps_done() > last_step) RETURN_IF_ERROR(drain_metrics());
      wait_on_metrics = view.steps != nullptr;
    }
    wait_on_metrics = wait_on_metrics && job.state() == v1::JOB_STATE_RUNNING;
  }
  if (view.steps != nullptr) RETURN_IF_ERROR(drain_metrics());
  return job;
}

int PlannerClient::ReportOutcome(const v1::Job& job) {
  *out_ << (options_.json ? MessageToJson(job) + "\n" : JobDetails(job));
  const int code = JobExitCode(job.state());
  if (code != kExitOk) {
    *err_ << "galvatron: " << job.id() << " " << JobStateName(job.state()) << ": "
          << (job.message().empty() ? "no reason given" : FirstLine(job.message())) << std::endl;
  }
  return code;
}

absl::StatusOr<int> PlannerClient::JobsSubmit(JobSubmission* submission, bool follow) {
  v1::SubmitJobRequest& request = submission->request;
  if (!submission->galvatron_config.empty()) {
    // A Galvatron 2.x file: as many ranks as the job's nodes have devices.
    v1::ListNodesRequest list;
    list.set_cluster(request.cluster());
    v1::ListNodesResponse all;
    RETURN_IF_ERROR(FetchAllPages(
        list,
        [&](const auto& r, auto* page) {
          return Check(nodes_->ListNodes(Context().get(), r, page));
        },
        &v1::ListNodesResponse::mutable_nodes, &all));
    int devices = 0;
    std::vector<std::string> counted;
    for (const v1::Node& node : all.nodes()) {
      if (node.state() != v1::NODE_STATE_ALIVE) continue;
      if (request.nodes_size() > 0 && std::find(request.nodes().begin(), request.nodes().end(),
                                                node.name()) == request.nodes().end()) {
        continue;
      }
      devices += node.devices_size();
      counted.push_back(node.name());
    }
    if (devices == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--plan: ", submission->plan_file,
          " has no \"world_size\" key (a Galvatron 2.x file) and the job's nodes have no devices "
          "to count (no alive node of cluster ",
          request.cluster(), request.nodes_size() > 0 ? " among --nodes" : "",
          "); add \"world_size\" to the file"));
    }
    *err_ << "galvatron: " << submission->plan_file << " has no world_size; reading it for "
          << devices << " ranks, the devices of " << absl::StrJoin(counted, ", ") << std::endl;
    RETURN_IF_ERROR(CompleteGalvatronPlan(devices, submission));
  }
  for (const std::string& note : submission->notes) {
    *err_ << "galvatron: --plan: " << note << std::endl;
  }
  v1::Job job;
  RETURN_IF_ERROR(Check(jobs_->SubmitJob(Context().get(), request, &job)));
  planner_answered_ = true;
  if (!follow) {
    *out_ << (options_.json ? MessageToJson(job) : job.id()) << "\n";
    return kExitOk;
  }
  // Following: the id at once (on stderr with --json, whose stdout is the
  // final Job), then progress on stderr.
  (options_.json ? *err_ : *out_) << job.id() << std::endl;
  JobFollowView view;
  view.steps = err_;
  ASSIGN_OR_RETURN(v1::Job done, FollowJob(job.id(), view));
  return ReportOutcome(done);
}

absl::Status PlannerClient::JobsList(const std::string& cluster, v1::JobState state) {
  v1::ListJobsRequest request;
  request.set_cluster(cluster);
  request.set_state(state);
  v1::ListJobsResponse all;
  RETURN_IF_ERROR(FetchAllPages(
      request,
      [&](const auto& r, auto* page) { return Check(jobs_->ListJobs(Context().get(), r, page)); },
      &v1::ListJobsResponse::mutable_jobs, &all));
  *out_ << (options_.json ? MessageToJson(all) + "\n"
                          : JobListTable({all.jobs().begin(), all.jobs().end()}));
  return absl::OkStatus();
}

absl::Status PlannerClient::JobsShow(const std::string& id) {
  v1::GetJobRequest request;
  request.set_id(id);
  v1::GetJobResponse response;
  RETURN_IF_ERROR(Check(jobs_->GetJob(Context().get(), request, &response)));
  const v1::Job& job = response.job();
  if (options_.json) {
    *out_ << MessageToJson(job) << "\n";
    return absl::OkStatus();
  }
  v1::Plan plan;
  bool have_plan = false;
  if (!job.plan_id().empty()) {
    v1::GetPlanRequest get;
    get.set_id(job.plan_id());
    // The plan's shape is a extra; the job is shown without it if need be.
    have_plan = plans_->GetPlan(Context().get(), get, &plan).ok();
  }
  *out_ << JobDetails(job, have_plan ? &plan : nullptr);
  return absl::OkStatus();
}

absl::Status PlannerClient::JobsMetrics(const std::string& id, bool follow) {
  JobFollowView view;
  view.transitions = false;
  view.steps = out_;
  view.steps_json = options_.json;
  if (follow) return FollowJob(id, view).status();
  // Once: every step so far, page by page.
  v1::GetJobRequest get;
  get.set_id(id);
  v1::GetJobResponse job;
  RETURN_IF_ERROR(Check(jobs_->GetJob(Context().get(), get, &job)));
  const int64_t total_steps = JobTotalSteps(job.job());
  v1::GetJobMetricsRequest request;
  request.set_job_id(id);
  request.set_page_size(kMetricsPageSize);
  while (true) {
    v1::GetJobMetricsResponse response;
    RETURN_IF_ERROR(Check(jobs_->GetJobMetrics(Context().get(), request, &response)));
    for (const v1::StepMetrics& m : response.metrics()) {
      *out_ << (options_.json ? CompactJson(m) : StepMetricsLine(m, total_steps)) << "\n";
      request.set_after_step(std::max(request.after_step(), m.step()));
    }
    if (response.metrics_size() < kMetricsPageSize) return absl::OkStatus();
  }
}

absl::Status PlannerClient::JobsLogs(const std::string& id, int rank, int max_lines, bool follow) {
  v1::GetJobLogsRequest request;
  request.set_job_id(id);
  request.set_rank(rank);
  request.set_max_lines(max_lines);
  auto fetch = [&](v1::GetJobLogsResponse* response) {
    return Retrying(id, [&] {
      response->Clear();
      return jobs_->GetJobLogs(Context().get(), request, response);
    });
  };
  auto header = [](const v1::RankLog& log) {
    return absl::StrCat("==> rank ", log.rank(), log.node().empty() ? "" : " on " + log.node(),
                        " <==\n");
  };
  if (!follow) {
    v1::GetJobLogsResponse response;
    RETURN_IF_ERROR(Check(jobs_->GetJobLogs(Context().get(), request, &response)));
    if (options_.json) {
      *out_ << MessageToJson(response) << "\n";
      return absl::OkStatus();
    }
    for (const v1::RankLog& log : response.logs()) {
      *out_ << header(log) << log.text();
      if (!log.text().empty() && log.text().back() != '\n') *out_ << "\n";
    }
    if (response.logs_size() == 0) *out_ << "no logs yet\n";
    return absl::OkStatus();
  }
  // Following: the lines each rank's tail adds, tail -f style (a header when
  // the rank changes; --json: a RankLog of the new lines a line).
  std::map<int, std::string> seen;
  int last_rank = -2;
  auto show = [&](const v1::GetJobLogsResponse& response) {
    for (const v1::RankLog& log : response.logs()) {
      std::vector<std::string> lines = NewLines(seen[log.rank()], log.text());
      seen[log.rank()] = log.text();
      if (lines.empty()) continue;
      if (options_.json) {
        v1::RankLog part = log;
        part.set_text(absl::StrCat(absl::StrJoin(lines, "\n"), "\n"));
        *out_ << CompactJson(part) << std::endl;
        continue;
      }
      if (log.rank() != last_rank) *out_ << header(log);
      last_rank = log.rank();
      for (const std::string& line : lines) *out_ << line << "\n";
      *out_ << std::flush;
    }
  };
  int64_t revision = 0;
  while (true) {
    ASSIGN_OR_RETURN(v1::Job job, PollJob(id, revision == 0 ? 0 : kLogsWaitMs, &revision));
    v1::GetJobLogsResponse response;
    RETURN_IF_ERROR(fetch(&response));
    show(response);
    if (text::JobEnded(job.state())) return absl::OkStatus();
  }
}

absl::StatusOr<int> PlannerClient::JobsWait(const std::string& id) {
  ASSIGN_OR_RETURN(v1::Job job, FollowJob(id, JobFollowView{}));
  return ReportOutcome(job);
}

absl::Status PlannerClient::JobsCancel(const std::string& id) {
  v1::CancelJobRequest request;
  request.set_id(id);
  v1::Job job;
  // It answers once the workers are stopped (SIGTERM, SIGKILL after 5 s).
  RETURN_IF_ERROR(Check(
      jobs_->CancelJob(Context(std::max(options_.timeout_seconds, 60.0)).get(), request, &job)));
  if (options_.json) {
    *out_ << MessageToJson(job) << "\n";
  } else {
    *out_ << job.id() << " " << JobStateName(job.state())
          << (job.message().empty() ? "" : ": " + FirstLine(job.message())) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace galvatron::cli
