#include "common/message_text.h"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"

namespace galvatron::text {
namespace {

TEST_CASE("Plan details show the prediction and its warnings") {
  v1::Plan plan;
  plan.set_id("plan-1");
  plan.set_pp(2);
  plan.add_pp_division(3);
  plan.add_pp_division(1);
  plan.mutable_prediction()->set_samples_per_second(12.5);
  const std::string plain = PlanDetails(plan);
  CHECK_THAT(plain, Catch::Contains("plan:         plan-1") &&
                        Catch::Contains("layers per stage [3, 1]") &&
                        Catch::Contains("12.50 samples/s"));
  CHECK_THAT(plain, !Catch::Contains("warning:"));

  plan.mutable_prediction()->add_warnings("stage 1 is faster than its layers' compute");
  CHECK_THAT(PlanDetails(plan),
             Catch::Contains("warning:      stage 1 is faster than its layers' compute\n"));
}

// A job with every field `galvatron jobs show` reads, by hand.
v1::Job FullJob() {
  v1::Job job;
  job.set_id("job-12");
  job.set_model("gpt-tiny");
  job.set_model_version(3);
  job.set_cluster("lab");
  job.set_plan_id("plan-9f3a");
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_message("relaunched from checkpoint step 40\nafter rank 2 failed");
  job.set_attempt(1);
  job.set_world_size(4);
  for (int rank = 0; rank < 4; ++rank) {
    v1::RankAssignment* r = job.add_ranks();
    r->set_rank(rank);
    r->set_node(rank < 2 ? "n1" : "n2");
    r->set_device_index(rank % 2);
  }
  job.set_memory_budget_bytes(int64_t{4} << 30);
  job.mutable_global_batch_range()->set_min(8);
  job.mutable_global_batch_range()->set_max(32);
  job.mutable_global_batch_range()->set_step(8);
  v1::TrainingOptions* t = job.mutable_training();
  t->set_steps(100);
  t->set_seed(7);
  t->set_dtype("bfloat16");
  t->set_learning_rate(3e-4);
  t->set_checkpoint_every(20);
  t->set_checkpoint_dir("/ckpt");
  t->set_max_restarts(2);
  job.set_steps_done(45);
  job.set_eta_seconds(3725);
  v1::StepMetrics* m = job.mutable_last_metrics();
  m->set_step(45);
  m->set_loss(2.34567);
  m->set_grad_norm(0.8125);
  m->set_learning_rate(2.5e-4);
  m->set_tokens_per_second(1536);
  m->set_samples_per_second(24);
  m->set_peak_memory_bytes(int64_t{3} << 29);
  m->set_model_state_bytes(int64_t{300} << 20);
  v1::StepTimeComparison* st = job.mutable_step_time();
  st->set_predicted_seconds(0.2);
  st->mutable_predicted_breakdown()->set_compute_seconds(0.15);
  st->mutable_predicted_breakdown()->set_exposed_communication_seconds(0.03);
  st->mutable_predicted_breakdown()->set_bubble_seconds(0.02);
  st->set_measured_seconds(0.25);
  st->add_measured_stage_seconds(0.21);
  st->add_measured_stage_seconds(0.24);
  st->mutable_predicted_breakdown()->set_gradient_sync_seconds(0.01);
  st->set_waits_measured(true);
  st->set_measured_communication_wait_seconds(0.04);
  st->set_measured_sync_wait_seconds(0.012);
  st->set_steps_measured(35);
  st->set_measured_spread(0.042);
  job.mutable_checkpoint()->set_step(40);
  for (int rank : {0, 1, 2, 3}) job.mutable_checkpoint()->add_ranks_written(rank);
  job.mutable_checkpoint()->set_complete(true);
  v1::JobFailure* f = job.mutable_failure();
  f->set_rank(2);
  f->set_node("n2");
  f->set_exit_status("killed by signal 9 (SIGKILL)");
  f->set_log_tail("step 44 loss 2.4\nKilled\n");
  for (auto [state, reason] : {std::pair{v1::JOB_STATE_PENDING, "submitted"},
                               std::pair{v1::JOB_STATE_RUNNING, "launched 4 ranks"}}) {
    v1::JobTransition* tr = job.add_transitions();
    tr->set_state(state);
    tr->set_reason(reason);
    tr->mutable_time()->set_seconds(1767225600);  // 2026-01-01 00:00:00 UTC
  }
  return job;
}

TEST_CASE("Job details show every field `jobs show` promises") {
  const std::string text = JobDetails(FullJob());
  INFO(text);
  CHECK_THAT(text, Catch::Contains("job job-12: gpt-tiny (version 3) on cluster lab\n"));
  CHECK_THAT(text, Catch::Contains("  state         running (attempt 2)\n"));
  // The reason in full, its lines aligned.
  CHECK_THAT(text, Catch::Contains("  reason        relaunched from checkpoint step 40\n"
                                   "                after rank 2 failed\n"));
  CHECK_THAT(text, Catch::Contains("  plan          plan-9f3a\n"));
  CHECK_THAT(text, Catch::Contains("  ranks         4: n1 ranks 0-1, n2 ranks 2-3\n"));
  CHECK_THAT(text, Catch::Contains("global 8..32:8 (searched), memory 4.00 GiB per device"));
  CHECK_THAT(text, Catch::Contains("100 steps, synthetic data, bfloat16, seed 7, lr 0.0003"));
  CHECK_THAT(text, Catch::Contains("every 20 steps, to /ckpt/<job id> on each node; up to 2 "
                                   "restarts"));
  CHECK_THAT(text, Catch::Contains("  progress      45/100 steps (45%)\n"));
  CHECK_THAT(text, Catch::Contains("  eta           1h 02m\n"));
  CHECK_THAT(text, Catch::Contains("  loss          2.3457 at step 45 (grad norm 0.8125, lr "
                                   "0.00025)\n"));
  CHECK_THAT(text, Catch::Contains("1536 tokens/s, 24.00 samples/s, peak memory 1.50 GiB, model "
                                   "state 300.00 MiB"));
  CHECK_THAT(text, Catch::Contains("  step time     predicted 200.000 ms: compute 150.000 ms, "
                                   "exposed communication 30.000 ms, bubble 20.000 ms\n"));
  CHECK_THAT(text, Catch::Contains("measured  250.000 ms: median of 35 steps, spread 4.2%; 1.25x "
                                   "the prediction\n"));
  CHECK_THAT(text, Catch::Contains("per stage stage 0 210.000 ms, stage 1 240.000 ms (slowest)\n"));
  CHECK_THAT(text, Catch::Contains("waited    40.000 ms for communication (predicted 20.000 ms), "
                                   "12.000 ms for the gradient sync (predicted 10.000 ms); rank 0, "
                                   "medians\n"));
  CHECK_THAT(text, Catch::Contains("  checkpoint    step 40, complete (ranks 0-3)\n"));
  CHECK_THAT(text, Catch::Contains("  failure       rank 2 on node n2: killed by signal 9 "
                                   "(SIGKILL)\n"));
  CHECK_THAT(text, Catch::Contains("log tail:\n                | step 44 loss 2.4\n"
                                   "                | Killed\n"));
  CHECK_THAT(text, Catch::Contains("2026-01-01 00:00:00 UTC  running     launched 4 ranks\n"));

  // With the plan: its shape beside its id.
  v1::Plan plan;
  plan.set_id("plan-9f3a");
  plan.set_pp(2);
  plan.set_schedule(v1::PIPELINE_SCHEDULE_GPIPE);
  plan.set_global_batch(16);
  plan.set_micro_batches(4);
  plan.add_pp_division(1);
  plan.add_pp_division(1);
  plan.add_layers()->set_tp(2);
  plan.add_layers()->set_tp(2);
  CHECK_THAT(JobDetails(FullJob(), &plan),
             Catch::Contains("  plan          plan-9f3a: pp2 gpipe, global batch 16 in 4 "
                             "micro-batches, layers per stage [1, 1]\n"
                             "                layers 0-1     tp2 dp0\n"));
  // Another plan than the job's is not shown as its.
  plan.set_id("plan-other");
  CHECK_THAT(JobDetails(FullJob(), &plan), !Catch::Contains("pp2 gpipe"));
}

TEST_CASE("Job details of a job that has not started, or ended") {
  v1::Job job;
  job.set_id("job-1");
  job.set_state(v1::JOB_STATE_PENDING);
  job.set_global_batch(8);
  std::string text = JobDetails(job);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("  state         pending\n"));
  CHECK_THAT(text, Catch::Contains("  plan          not yet chosen\n"));
  CHECK_THAT(text, Catch::Contains("  progress      0/10 steps (0%)\n"));  // the default 10
  CHECK_THAT(text, Catch::Contains("  eta           unknown (no measured pace yet)\n"));
  CHECK_THAT(text, Catch::Contains("  checkpoint    none yet\n"));
  CHECK_THAT(text, Catch::Contains("10 steps, synthetic data, float32, seed 1234, the model's lr"));
  CHECK_THAT(text, Catch::Contains("at the end only, to the agents' work dirs; no restarts"));
  CHECK_THAT(text, !Catch::Contains("loss") && !Catch::Contains("step time") &&
                       !Catch::Contains("failure"));

  // Predicted but nothing measured yet.
  job.mutable_step_time()->set_predicted_seconds(1.5);
  CHECK_THAT(JobDetails(job), Catch::Contains("predicted 1.500 s") &&
                                  Catch::Contains("measured  - (no step after the warm-up yet)"));

  // Failed, not one rank (planning failed): no ETA, the failure without rank.
  job.set_state(v1::JOB_STATE_FAILED);
  job.mutable_failure()->set_rank(-1);
  job.mutable_failure()->set_exit_status("no plan fits 4.00 GiB");
  text = JobDetails(job);
  CHECK_THAT(text, Catch::Contains("  failure       the job: no plan fits 4.00 GiB\n"));
  CHECK_THAT(text, Catch::Contains("  plan          none\n"));
  CHECK_THAT(text, !Catch::Contains("eta"));
  job.mutable_failure()->set_node("n3");
  CHECK_THAT(JobDetails(job), Catch::Contains("  failure       node n3: no plan fits"));
}

TEST_CASE("Job list rows, transition lines and step lines") {
  v1::Job running = FullJob();
  v1::Job done;
  done.set_id("job-3");
  done.set_model("llama-tiny");
  done.set_cluster("lab");
  done.set_state(v1::JOB_STATE_SUCCEEDED);
  done.set_steps_done(10);
  done.set_message("10 steps done");
  done.set_eta_seconds(99);  // finished: not shown
  const std::string table = JobListTable({running, done});
  INFO(table);
  const std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0], Catch::StartsWith("ID      MODEL       CLUSTER  STATE      PROGRESS  "
                                         "WORLD  LOSS    ETA     CREATED"));
  CHECK_THAT(lines[1], Catch::StartsWith("job-12  gpt-tiny    lab      running    45/100    4   "
                                         "   2.3457  1h 02m  -"));
  // The first line of the reason, marked as cut.
  CHECK_THAT(lines[1], Catch::EndsWith("relaunched from checkpoint step 40 ..."));
  CHECK_THAT(lines[2], Catch::StartsWith("job-3   llama-tiny  lab      succeeded  10/10     -  "
                                         "    -       -       -"));
  CHECK(JobListTable({}) == "no jobs\n");

  CHECK(JobTransitionLine("job-12", running.transitions(1)) == "job-12 running: launched 4 ranks");
  v1::JobTransition bare;
  bare.set_state(v1::JOB_STATE_CANCELLED);
  CHECK(JobTransitionLine("job-1", bare) == "job-1 cancelled");

  v1::StepMetrics m = running.last_metrics();
  m.set_step_seconds(0.25);
  CHECK(StepMetricsLine(m, 100) ==
        "step 45/100  loss 2.3457  250.000 ms/step  1536 tokens/s  24.00 samples/s  lr 0.00025  "
        "grad norm 0.8125  peak 1.50 GiB");
  v1::StepMetrics waited = m;
  waited.set_communication_wait_seconds(0.05);
  waited.set_communication_waits(42);
  waited.set_gradient_sync_wait_seconds(0.01);
  CHECK_THAT(StepMetricsLine(waited),
             Catch::EndsWith("  comm wait 50.000 ms (42)  sync wait 10.000 ms"));
  waited.set_communication_waits(0);
  waited.set_communication_wait_seconds(0);
  CHECK_THAT(StepMetricsLine(waited), Catch::EndsWith("peak 1.50 GiB  sync wait 10.000 ms"));
  m.add_stage_seconds(0.2);
  m.add_stage_seconds(0.24);
  CHECK_THAT(StepMetricsLine(m), Catch::StartsWith("step 45  loss") &&
                                     Catch::EndsWith("  stages 200.000 ms | 240.000 ms"));
}

TEST_CASE("Durations as people read them") {
  CHECK(FormatDuration(0) == "-");
  CHECK(FormatDuration(-3) == "-");
  CHECK(FormatDuration(42.4) == "42s");
  CHECK(FormatDuration(185) == "3m 05s");
  CHECK(FormatDuration(3725) == "1h 02m");
  CHECK(FormatDuration(93600) == "1d 02h");
}

TEST_CASE("Profile details show the measurement quality when there is a record") {
  v1::ComputeProfile compute;
  compute.set_id("cp-lab-1");
  compute.set_layer_type("llama_decoder");
  CHECK_THAT(ComputeProfileDetails(compute), !Catch::Contains("quality:"));
  v1::MeasurementQuality* q = compute.mutable_quality();
  q->set_spread(0.031);
  q->set_load(0.02);
  q->set_attempts(1);
  q->set_spread_threshold(0.25);
  q->set_load_threshold(0.25);
  CHECK_THAT(ComputeProfileDetails(compute),
             Catch::Contains("quality:     quiet: spread 0.031 (threshold 0.25), load 0.02 "
                             "(threshold 0.25), 1 attempt\n"));
  q->set_noisy(true);
  q->set_spread(0.41);
  q->set_load(-1);
  q->set_attempts(4);
  q->set_note("1 measurement stayed noisy: llama_decoder: forward/backward s=64");
  CHECK_THAT(ComputeProfileDetails(compute),
             Catch::Contains("quality:     NOISY: spread 0.41 (threshold 0.25), load unknown "
                             "(threshold 0.25), 4 attempts at most\n"
                             "             1 measurement stayed noisy: llama_decoder"));

  v1::HardwareProfile hardware;
  CHECK_THAT(HardwareProfileDetails(hardware), !Catch::Contains("quality:"));
  *hardware.mutable_quality() = compute.quality();
  CHECK_THAT(HardwareProfileDetails(hardware), Catch::Contains("quality:     NOISY: spread 0.41"));
}

TEST_CASE("Job states by their short names") {
  CHECK(JobStateName(v1::JOB_STATE_RUNNING) == "running");
  CHECK(JobStateName(v1::JOB_STATE_SUCCEEDED) == "succeeded");
}

}  // namespace
}  // namespace galvatron::text
