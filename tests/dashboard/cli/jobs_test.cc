// `galvatron jobs ...` run in-process (RunCli) and PlannerClient driven
// directly, against a stand-in for the planner's JobService
// (fake_job_planner.h): the requests the flags make, flag errors, output,
// exit codes, long polls and their deadlines, and following through a planner
// that is unavailable for a while.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_file.h"
#include "common/message_text.h"
#include "common/model_catalog.h"
#include "dashboard/cli/cli_app.h"
#include "dashboard/cli/cli_commands.h"
#include "dashboard/cli/job_flags.h"
#include "tests/dashboard/cli/fake_job_planner.h"
#include "tests/support/nodes.h"
#include "tests/support/test_support.h"

namespace galvatron::cli {
namespace {

using testing::FakeJobPlanner;

// Nothing listens here: calls fail at once with UNAVAILABLE.
constexpr char kNoPlanner[] = "127.0.0.1:1";

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run Cli(std::vector<std::string> args) {
  args.insert(args.begin(), "galvatron");
  std::ostringstream out, err;
  Run run;
  run.code = RunCli(args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

std::future<Run> CliAsync(std::vector<std::string> args) {
  return std::async(std::launch::async, [args] { return Cli(args); });
}

Run Finish(std::future<Run>& run) {
  REQUIRE(run.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  return run.get();
}

int CountCalls(const FakeJobPlanner& fake, const std::string& method) {
  int n = 0;
  for (const auto& call : fake.calls()) n += call.method == method ? 1 : 0;
  return n;
}

// Waits until a `method` call made after the first `calls_before` calls is
// parked in its long poll (a later call of a method means the client has had
// the answer to the earlier one).
void WaitForPark(const FakeJobPlanner& fake, const std::string& method, size_t calls_before) {
  const bool parked = testing::WaitFor(
      [&] {
        const auto calls = fake.calls();
        bool arrived = false;
        for (size_t i = calls_before; i < calls.size(); ++i) {
          arrived = arrived || calls[i].method == method;
        }
        return arrived && fake.waiting(method) > 0;
      },
      std::chrono::seconds(20));
  INFO("waiting for a parked " << method);
  REQUIRE(parked);
}

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

v1::Job JobIn(const std::string& id, v1::JobState state, const std::string& cluster = "lab") {
  v1::Job job;
  job.set_id(id);
  job.set_model("gpt-tiny");
  job.set_cluster(cluster);
  job.set_state(state);
  job.mutable_training()->set_steps(5);
  auto* transition = job.add_transitions();
  transition->set_state(state);
  transition->set_reason("as the test put it");
  return job;
}

// Every long poll asked to wait, and its deadline left room for the wait.
void CheckLongPolls(const FakeJobPlanner& fake) {
  int long_polls = 0;
  for (const auto& call : fake.calls()) {
    if (call.wait_ms <= 0) continue;
    ++long_polls;
    INFO(call.method << " wait_ms " << call.wait_ms << ", deadline in " << call.deadline_seconds
                     << " s");
    CHECK(call.wait_ms >= 1000);
    CHECK(call.deadline_seconds > static_cast<double>(call.wait_ms) / 1000.0 + 5);
  }
  CHECK(long_polls > 0);
}

const char kGalvatronConfig[] = R"({
    "pp_deg": 2, "tp_sizes_enc": "2,2,2,2", "tp_consecutive_flags": "1,1,1,1",
    "dp_types_enc": "0,0,0,0", "use_sp": "0,0,0,0", "checkpoint": "0,1,0,1",
    "global_bsz": 8, "chunks": 2, "pp_division": "2,2", "pipeline_type": "pipedream_flush",
    "default_dp_type": "ddp", "vtp": 2, "vsp": 0, "embed_sdp": 0)";

void Write(const std::string& path, const std::string& text) {
  REQUIRE(WriteTextFile(path, text).ok());
}

TEST_CASE("jobs submit: the flags become the SubmitJobRequest") {
  testing::TempDir dir;
  FakeJobPlanner fake;
  v1::ModelSpec spec = *CatalogModel("gpt-tiny");
  spec.set_name("my-tiny");
  spec.set_builtin(false);
  Write(dir.File("my-tiny.json"), MessageToJson(spec));

  Run r = Cli({"jobs",
               "submit",
               "--model",
               dir.File("my-tiny.json"),
               "--cluster",
               "lab",
               "--memory",
               "4GiB",
               "--global-batch",
               "8..32:8",
               "--steps",
               "100",
               "--data",
               "/data/tokens.bin",
               "--dtype",
               "bfloat16",
               "--lr",
               "3e-4",
               "--seed",
               "7",
               "--checkpoint-every",
               "10",
               "--checkpoint-dir",
               "/ckpt",
               "--max-restarts",
               "2",
               "--export",
               "--nodes",
               "n1, n2",
               "--plan",
               "plan-abc",
               "--planner",
               fake.address()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "job-1\n");
  REQUIRE(fake.submitted().size() == 1);
  const v1::SubmitJobRequest request = fake.submitted()[0];
  CHECK(request.model().empty());
  CHECK(request.model_spec().name() == "my-tiny");  // the file, inline
  CHECK(request.cluster() == "lab");
  CHECK(request.memory_budget_bytes() == int64_t{4} << 30);
  REQUIRE(request.has_global_batch_range());
  CHECK(request.global_batch_range().min() == 8);
  CHECK(request.global_batch_range().max() == 32);
  CHECK(request.global_batch_range().step() == 8);
  const v1::TrainingOptions& t = request.training();
  CHECK(t.steps() == 100);
  CHECK(t.dataset() == "/data/tokens.bin");
  CHECK(t.dtype() == "bfloat16");
  CHECK(t.learning_rate() == Approx(3e-4));
  CHECK(t.seed() == 7);
  CHECK(t.checkpoint_every() == 10);
  CHECK(t.checkpoint_dir() == "/ckpt");
  CHECK(t.max_restarts() == 2);
  CHECK(t.export_safetensors());
  REQUIRE(request.nodes_size() == 2);
  CHECK(request.nodes(0) == "n1");
  CHECK(request.nodes(1) == "n2");
  CHECK(request.plan_id() == "plan-abc");
  CHECK_FALSE(request.has_plan());

  // A catalog name goes by name; the batch defaults to 8; --json anywhere
  // prints the Job.
  for (bool json_first : {true, false}) {
    std::vector<std::string> args = {"jobs", "submit",   "--model", "gpt-tiny",  "--cluster",
                                     "lab",  "--memory", "512MiB",  "--planner", fake.address()};
    if (json_first) {
      args.insert(args.begin(), "--json");
    } else {
      args.push_back("--json");
    }
    r = Cli(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    v1::Job job;
    REQUIRE(JsonToMessage(r.out, "stdout", &job).ok());
    CHECK(absl::StartsWith(job.id(), "job-"));
    CHECK(job.state() == v1::JOB_STATE_PENDING);
    const v1::SubmitJobRequest last = fake.submitted().back();
    CHECK(last.model() == "gpt-tiny");
    CHECK_FALSE(last.has_model_spec());
    CHECK(last.global_batch() == 8);
    CHECK(last.memory_budget_bytes() == int64_t{512} << 20);
    CHECK(last.training().steps() == 0);  // the planner's default
    CHECK_FALSE(last.training().export_safetensors());
  }
}

TEST_CASE("jobs submit --plan: our Plan JSON, Galvatron's strategy files, a plan id") {
  testing::TempDir dir;
  FakeJobPlanner fake;
  const std::vector<std::string> base = {"jobs",      "submit",      "--model",  "gpt-tiny",
                                         "--cluster", "lab",         "--memory", "1GiB",
                                         "--planner", fake.address()};
  auto submit = [&](const std::vector<std::string>& more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    return Cli(args);
  };

  v1::Plan plan;
  plan.set_id("plan-ours");
  plan.set_pp(1);
  plan.set_global_batch(16);
  plan.set_micro_batches(2);
  for (int i = 0; i < 4; ++i) {
    auto* layer = plan.add_layers();
    layer->set_tp(1);
    layer->set_dp(2);
  }
  Write(dir.File("plan.json"), MessageToJson(plan));
  Run r = submit({"--plan", dir.File("plan.json")});
  INFO(r.err);
  REQUIRE(r.code == 0);
  v1::SubmitJobRequest request = fake.submitted().back();
  CHECK(request.plan().id() == "plan-ours");
  CHECK(request.plan().layers_size() == 4);
  CHECK(request.plan_id().empty());
  CHECK(request.batch_case() == v1::SubmitJobRequest::BATCH_NOT_SET);  // the plan's

  // Galvatron 3.0 (with world_size): converted here.
  std::string with_world = kGalvatronConfig;
  with_world += R"(, "world_size": 4})";
  Write(dir.File("galvatron_config_3.json"), with_world);
  r = submit({"--plan", dir.File("galvatron_config_3.json")});
  INFO(r.err);
  REQUIRE(r.code == 0);
  request = fake.submitted().back();
  CHECK(request.plan().world_size() == 4);
  CHECK(request.plan().pp() == 2);
  CHECK(request.plan().schedule() == v1::PIPELINE_SCHEDULE_1F1B);
  CHECK(request.plan().layers(1).checkpoint());

  // Galvatron 2.x (no world_size): as many ranks as the job's alive nodes
  // have devices.
  v1::Node lost = testing::MakeNode("n3", "lab", 2);
  lost.set_state(v1::NODE_STATE_LOST);
  std::vector<v1::Node> nodes = {testing::MakeNode("n1", "lab", 2),
                                 testing::MakeNode("n2", "lab", 2), lost,
                                 testing::MakeNode("m1", "elsewhere", 8)};
  for (auto& node : nodes) {
    if (node.state() == v1::NODE_STATE_UNSPECIFIED) node.set_state(v1::NODE_STATE_ALIVE);
  }
  fake.SetNodes(nodes);
  Write(dir.File("galvatron_config_2.json"), std::string(kGalvatronConfig) + "}");
  r = submit({"--plan", dir.File("galvatron_config_2.json")});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("4 ranks, the devices of n1, n2"));
  request = fake.submitted().back();
  CHECK(request.plan().world_size() == 4);
  CHECK(request.plan().layers(0).dp() == 1);

  // Only n1: 2 ranks, too few for pp 2 x tp 2. The converter's error, naming
  // the flag; nothing submitted.
  const size_t submitted = fake.submitted().size();
  r = submit({"--plan", dir.File("galvatron_config_2.json"), "--nodes", "n1"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("INVALID_ARGUMENT: --plan: ") &&
                        Catch::Contains("galvatron_config_2.json"));
  // No alive node to count: said plainly.
  r = submit({"--plan", dir.File("galvatron_config_2.json"), "--nodes", "n3"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("has no \"world_size\" key") &&
                        Catch::Contains("add \"world_size\" to the file"));
  CHECK(fake.submitted().size() == submitted);
}

TEST_CASE("jobs flags: errors exit 2 naming the flag, the value and what was expected") {
  testing::TempDir dir;
  FakeJobPlanner fake;
  Write(dir.File("model.json"), MessageToJson(*CatalogModel("gpt-tiny")));
  Write(dir.File("empty.json"), "{}");
  Write(dir.File("bad_pp.json"), std::string(kGalvatronConfig) + R"(, "world_size": 6})");
  struct Case {
    std::vector<std::string> flags;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {{"--memory", "4XB"}, {"--memory: '4XB'", "unknown unit", "expected B, KiB"}},
      {{"--memory", "0"}, {"--memory: \"0\", must be > 0"}},
      {{"--global-batch", "32..8"}, {"--global-batch: \"32..8\", expected N or MIN..MAX[:STEP]"}},
      {{"--global-batch", "many"}, {"--global-batch: \"many\", expected N or MIN..MAX[:STEP]"}},
      {{"--steps", "0"}, {"--steps: \"0\", expected a positive number of steps"}},
      {{"--steps", "ten"}, {"--steps: \"ten\", expected a positive number of steps"}},
      {{"--dtype", "float16"}, {"--dtype: \"float16\", expected float32, float64 or bfloat16"}},
      {{"--lr", "-1"}, {"--lr: \"-1\", expected a positive learning rate"}},
      {{"--seed", "x"}, {"--seed: \"x\", expected a positive integer"}},
      {{"--checkpoint-every", "-5"}, {"--checkpoint-every: \"-5\", expected a number of steps"}},
      {{"--max-restarts", "-1"}, {"--max-restarts: \"-1\", expected an integer >= 0"}},
      {{"--nodes", "n1,n1"}, {"--nodes: \"n1,n1\"", "n1 is given twice"}},
      {{"--plan", dir.File("model.json")},
       {"--plan: \"" + dir.File("model.json") + "\" is neither our Plan JSON", "pp_deg",
        "model.json"}},
      {{"--plan", dir.File("empty.json")}, {"is neither our Plan JSON", "it has no layers"}},
      {{"--plan", dir.File("missing.json")},
       {"--plan: \"" + dir.File("missing.json") + "\", expected a plan file (there is no such"}},
      {{"--plan", dir.File("bad_pp.json")}, {"--plan: ", "bad_pp.json", "world_size"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"jobs",      "submit", "--model",   "gpt-tiny",
                                     "--cluster", "lab",    "--planner", fake.address()};
    if (c.flags[0] != "--memory") args.insert(args.end(), {"--memory", "1GiB"});
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    Run r = Cli(args);
    INFO(absl::StrJoin(c.flags, " ") << " -> " << r.code << ": " << r.err);
    CHECK(r.code == kExitUsage);
    for (const std::string& part : c.expected) CHECK_THAT(r.err, Catch::Contains(part));
  }
  Run r = Cli({"jobs", "submit", "--model", dir.File("nope.json"), "--cluster", "lab", "--memory",
               "1GiB", "--planner", fake.address()});
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Catch::Contains("--model: \"" + dir.File("nope.json") + "\", expected"));
  r = Cli({"jobs", "list", "--state", "runing", "--planner", fake.address()});
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Catch::Contains("--state: \"runing\", expected one of pending, profiling, "
                                    "planned, launching, running, succeeded, failed, cancelled"));
  r = Cli({"jobs", "submit", "--cluster", "lab", "--memory", "1GiB"});
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Catch::Contains("--model is required"));
  // None of them called the planner.
  CHECK(fake.calls().empty());

  CHECK(*ParseJobStateFlag("RUNNING") == v1::JOB_STATE_RUNNING);
  CHECK(*ParseJobStateFlag("") == v1::JOB_STATE_UNSPECIFIED);
}

TEST_CASE("global flags work before and after the subcommand, for every command") {
  FakeJobPlanner fake;
  fake.PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
  v1::Node node = testing::MakeNode("n1", "lab", 2);
  node.set_state(v1::NODE_STATE_ALIVE);
  fake.SetNodes({node});
  const std::vector<std::vector<std::string>> spellings = {
      {"--json", "--planner", fake.address(), "jobs", "list"},
      {"jobs", "--json", "list", "--planner", fake.address()},
      {"jobs", "list", "--json", "--planner", fake.address(), "--timeout", "5"},
  };
  for (const auto& args : spellings) {
    Run r = Cli(args);
    INFO(absl::StrJoin(args, " ") << ": " << r.err);
    REQUIRE(r.code == 0);
    v1::ListJobsResponse list;
    REQUIRE(JsonToMessage(r.out, "stdout", &list).ok());
    CHECK(list.jobs_size() == 1);
  }
  Run r = Cli({"jobs", "show", "job-1", "--planner", fake.address(), "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  v1::Job job;
  REQUIRE(JsonToMessage(r.out, "stdout", &job).ok());
  CHECK(job.id() == "job-1");
  r = Cli({"nodes", "list", "--cluster", "lab", "--json", "--planner", fake.address()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  v1::ListNodesResponse nodes;
  REQUIRE(JsonToMessage(r.out, "stdout", &nodes).ok());
  CHECK(nodes.nodes_size() == 1);

  // Every other command takes --planner and --timeout after its arguments:
  // each reaches for the given address.
  const std::vector<std::vector<std::string>> commands = {
      {"models", "list"},
      {"models", "show", "gpt-tiny"},
      {"profiles", "list"},
      {"profiles", "show", "hw-x-1"},
      {"tasks", "list"},
      {"tasks", "show", "task-1"},
      {"plans", "list"},
      {"plans", "show", "plan-1"},
      {"nodes", "list"},
      {"plan", "--model", "gpt-tiny", "--cluster", "lab", "--memory", "1GiB"},
      {"jobs", "list"},
      {"jobs", "show", "job-1"},
      {"jobs", "metrics", "job-1"},
      {"jobs", "logs", "job-1"},
      {"jobs", "cancel", "job-1"},
  };
  for (const auto& command : commands) {
    std::vector<std::string> args = command;
    args.insert(args.end(), {"--planner", kNoPlanner, "--timeout", "5", "--json"});
    r = Cli(args);
    INFO(absl::StrJoin(args, " ") << ": " << r.err);
    CHECK(r.code == kExitCallFailed);
    CHECK_THAT(r.err, Catch::Contains(absl::StrCat("cannot reach the planner at ", kNoPlanner)));
  }
}

v1::Job FullJob() {
  v1::Job job = JobIn("job-7", v1::JOB_STATE_RUNNING);
  job.set_plan_id("plan-42");
  job.set_world_size(4);
  job.set_steps_done(3);
  job.set_eta_seconds(125);
  job.mutable_last_metrics()->set_step(3);
  job.mutable_last_metrics()->set_loss(2.5);
  job.mutable_step_time()->set_predicted_seconds(0.2);
  job.mutable_step_time()->set_measured_seconds(0.3);
  return job;
}

TEST_CASE("jobs show: the job in full, with its plan's shape") {
  FakeJobPlanner fake;
  fake.PutJob(FullJob());
  v1::Plan plan;
  plan.set_id("plan-42");
  plan.set_pp(2);
  plan.set_schedule(v1::PIPELINE_SCHEDULE_1F1B);
  plan.set_global_batch(8);
  plan.set_micro_batches(4);
  plan.add_pp_division(2);
  plan.add_pp_division(2);
  for (int i = 0; i < 4; ++i) {
    auto* layer = plan.add_layers();
    layer->set_tp(2);
    layer->set_dp(1);
  }
  fake.PutPlan(plan);
  Run r = Cli({"jobs", "show", "job-7", "--planner", fake.address()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("job job-7: gpt-tiny on cluster lab"));
  CHECK_THAT(r.out, Catch::Contains("plan-42: pp2 1f1b, global batch 8 in 4 micro-batches"));
  CHECK_THAT(r.out, Catch::Contains("layers 0-3     tp2 dp1"));
  CHECK_THAT(r.out, Catch::Contains("3/5 steps (60%)"));
  CHECK_THAT(r.out, Catch::Contains("2m 05s"));
  CHECK_THAT(r.out, Catch::Contains("1.50x the prediction"));
  CHECK_THAT(r.out, !Catch::Contains("exported"));

  // A job that exports: where the file will be, then where it is.
  fake.UpdateJob("job-7", [](v1::Job* job) {
    job->mutable_training()->set_export_safetensors(true);
    job->mutable_training()->set_checkpoint_dir("/ckpt");
  });
  r = Cli({"jobs", "show", "job-7", "--planner", fake.address()});
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("exported at the end to /ckpt/<job id>/model.safetensors"));
  CHECK_THAT(r.out, Catch::Contains("exported      not yet (rank 0 writes it at the end)"));
  fake.UpdateJob("job-7", [](v1::Job* job) {
    job->set_state(v1::JOB_STATE_SUCCEEDED);
    job->mutable_exported_model()->set_node("n1");
    job->mutable_exported_model()->set_path("/ckpt/job-7/model.safetensors");
    job->mutable_exported_model()->set_size_bytes(3 << 20);
  });
  r = Cli({"jobs", "show", "job-7", "--planner", fake.address()});
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out,
             Catch::Contains("exported      /ckpt/job-7/model.safetensors on node n1 (3.00 MiB"));

  // A plan the planner does not have: the job all the same.
  fake.UpdateJob("job-7", [](v1::Job* job) { job->set_plan_id("plan-gone"); });
  r = Cli({"jobs", "show", "job-7", "--planner", fake.address()});
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("plan          plan-gone\n"));

  r = Cli({"jobs", "show", "job-404", "--planner", fake.address()});
  CHECK(r.code == kExitCallFailed);
  CHECK_THAT(r.err, Catch::Contains("NOT_FOUND: job job-404 not found"));
}

TEST_CASE("jobs list: filters, every page, a row a job") {
  FakeJobPlanner fake;
  for (int i = 1; i <= 1005; ++i) {
    fake.PutJob(JobIn(absl::StrCat("job-", i), i % 2 ? v1::JOB_STATE_RUNNING : v1::JOB_STATE_FAILED,
                      i <= 1003 ? "lab" : "other"));
  }
  Run r = Cli({"jobs", "list", "--planner", fake.address()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 1006);  // a header and 1005 jobs over two pages
  CHECK(absl::StartsWith(lines[0], "ID"));
  CHECK(absl::StartsWith(lines[1], "job-1005 "));  // newest first
  CHECK(fake.list_requests().size() == 2);

  r = Cli(
      {"jobs", "list", "--cluster", "other", "--state", "Running", "--planner", fake.address()});
  REQUIRE(r.code == 0);
  CHECK(fake.list_requests().back().cluster() == "other");
  CHECK(fake.list_requests().back().state() == v1::JOB_STATE_RUNNING);
  CHECK_THAT(r.out, Catch::Contains("job-1005") && !Catch::Contains("job-1004 "));
}

struct Ending {
  v1::JobState state;
  int exit_code;
  std::string reason;
};

TEST_CASE("jobs wait: exit 0 succeeded, 3 failed, 4 cancelled, with the reason") {
  for (const Ending& ending : {Ending{v1::JOB_STATE_SUCCEEDED, 0, "5 steps done"},
                               Ending{v1::JOB_STATE_FAILED, 3, "rank 2 on n2 was killed"},
                               Ending{v1::JOB_STATE_CANCELLED, 4, "cancelled by alice"}}) {
    FakeJobPlanner fake;
    fake.PutJob(JobIn("job-1", v1::JOB_STATE_PENDING));
    auto run = CliAsync({"jobs", "wait", "job-1", "--planner", fake.address()});
    WaitForPark(fake, "GetJob", 0);
    size_t before = fake.calls().size();
    fake.SetState("job-1", v1::JOB_STATE_RUNNING, "launched 4 ranks on n1, n2");
    WaitForPark(fake, "GetJob", before);
    if (ending.state == v1::JOB_STATE_FAILED) {
      fake.UpdateJob("job-1", [](v1::Job* job) {
        job->mutable_failure()->set_rank(2);
        job->mutable_failure()->set_node("n2");
        job->mutable_failure()->set_exit_status("killed by signal 9 (SIGKILL)");
        job->mutable_failure()->set_log_tail("step 3\nKilled\n");
      });
    }
    fake.SetState("job-1", ending.state, ending.reason);
    Run r = Finish(run);
    INFO(r.err);
    CHECK(r.code == ending.exit_code);
    CHECK_THAT(r.err, Catch::Contains("job-1 running: launched 4 ranks on n1, n2"));
    CHECK_THAT(r.out, Catch::Contains("job job-1:") && Catch::Contains(ending.reason));
    if (ending.exit_code != 0) {
      CHECK_THAT(r.err, Catch::Contains("galvatron: job-1 " + text::JobStateName(ending.state) +
                                        ": " + ending.reason));
    }
    if (ending.state == v1::JOB_STATE_FAILED) {
      CHECK_THAT(r.out, Catch::Contains("rank 2 on node n2: killed by signal 9 (SIGKILL)") &&
                            Catch::Contains("| Killed"));
    }
    CheckLongPolls(fake);
  }

  FakeJobPlanner fake;
  Run r = Cli({"jobs", "wait", "job-9", "--planner", fake.address()});
  CHECK(r.code == kExitCallFailed);
  CHECK_THAT(r.err, Catch::Contains("NOT_FOUND"));
}

TEST_CASE("jobs submit --follow: state changes and steps, then exits like wait") {
  FakeJobPlanner fake;
  auto run = CliAsync({"jobs", "submit", "--model", "gpt-tiny", "--cluster", "lab", "--memory",
                       "1GiB", "--steps", "5", "--follow", "--planner", fake.address()});
  WaitForPark(fake, "GetJob", 0);
  size_t before = fake.calls().size();
  // Planned: the plan's per-layer strategy is shown.
  v1::Plan plan;
  plan.set_id("plan-abc");
  plan.set_pp(1);
  plan.set_global_batch(8);
  plan.set_micro_batches(2);
  plan.mutable_prediction()->set_iteration_seconds(0.25);
  for (int i = 0; i < 4; ++i) {
    auto* layer = plan.add_layers();
    layer->set_tp(i < 2 ? 2 : 1);
    layer->set_dp(i < 2 ? 1 : 2);
  }
  fake.PutPlan(plan);
  fake.UpdateJob("job-1", [](v1::Job* job) { job->set_plan_id("plan-abc"); });
  fake.SetState("job-1", v1::JOB_STATE_PLANNED, "planned");
  WaitForPark(fake, "GetJob", before);
  before = fake.calls().size();
  fake.SetState("job-1", v1::JOB_STATE_RUNNING, "launched 2 ranks");
  // Running: it waits for steps.
  WaitForPark(fake, "GetJobMetrics", before);
  before = fake.calls().size();
  fake.AddSteps("job-1", 1, 3);
  WaitForPark(fake, "GetJobMetrics", before);
  fake.AddSteps("job-1", 4, 5);
  fake.SetState("job-1", v1::JOB_STATE_SUCCEEDED, "5 steps done");
  Run r = Finish(run);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(absl::StartsWith(r.out, "job-1\n"));
  CHECK_THAT(r.out, Catch::Contains("state         succeeded"));
  CHECK_THAT(r.err, Catch::Contains("job-1 pending: submitted\n"));
  CHECK_THAT(r.err, Catch::Contains("job-1 running: launched 2 ranks\n"));
  CHECK_THAT(r.err, Catch::Contains("job-1 succeeded: 5 steps done\n"));
  CHECK_THAT(r.err,
             Catch::Contains("  plan plan-abc: pp1") &&
                 Catch::Contains("global batch 8 in 2 micro-batches, predicted 0.25 s/step"));
  CHECK_THAT(r.err, Catch::Contains("    layers 0-1") && Catch::Contains("    layers 2-3"));
  for (int step = 1; step <= 5; ++step) {
    INFO("step " << step);
    CHECK(Count(r.err, absl::StrCat("step ", step, "/5  loss ")) == 1);
  }
  CHECK_THAT(r.err, Catch::Contains("step 2/5  loss 5.0000  250.000 ms/step  2048 tokens/s"));
  CheckLongPolls(fake);
}

TEST_CASE("jobs metrics: every step, a line each, --follow waits without spinning") {
  FakeJobPlanner fake;
  fake.PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
  fake.AddSteps("job-1", 1, 2500);
  Run r = Cli({"jobs", "metrics", "job-1", "--planner", fake.address()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2500);  // three pages
  CHECK(absl::StartsWith(lines[0], "step 1/5  loss 10.0000"));
  CHECK(absl::StartsWith(lines[2499], "step 2500/5  "));

  r = Cli({"jobs", "metrics", "job-1", "--json", "--planner", fake.address()});
  REQUIRE(r.code == 0);
  lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2500);
  for (size_t i : {size_t{0}, size_t{1234}, size_t{2499}}) {
    v1::StepMetrics m;
    REQUIRE(JsonToMessage(lines[i], "line", &m).ok());
    CHECK(m.step() == static_cast<int64_t>(i) + 1);
  }

  // A planner that answers GetJobMetrics at once: after an empty answer the
  // client waits on the job, not in a loop.
  FakeJobPlanner quick;
  quick.set_metrics_long_poll(false);
  quick.PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
  auto run = CliAsync({"jobs", "metrics", "job-1", "--follow", "--planner", quick.address()});
  WaitForPark(quick, "GetJob", 1);
  CHECK(quick.calls().size() < 10);
  size_t before = quick.calls().size();
  quick.AddSteps("job-1", 1, 2);
  WaitForPark(quick, "GetJob", before);
  CHECK(quick.calls().size() - before < 10);
  quick.SetState("job-1", v1::JOB_STATE_SUCCEEDED, "done");
  r = Finish(run);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out ==
        "step 1/5  loss 10.0000  250.000 ms/step  2048 tokens/s  32.00 samples/s  "
        "lr 0.001  grad norm 0.5\n"
        "step 2/5  loss 5.0000  250.000 ms/step  2048 tokens/s  32.00 samples/s  "
        "lr 0.001  grad norm 0.5\n");
  CHECK(r.err.empty());
}

TEST_CASE("following survives a planner that is unavailable for a while") {
  ClientOptions options;
  options.reconnect_backoff_seconds = 0.01;
  options.reconnect_seconds = 30;
  std::ostringstream out, err;
  auto wait_async = [&] {
    return std::async(std::launch::async, [&] {
      PlannerClient client(options, &out, &err);
      return client.JobsWait("job-1");
    });
  };
  auto result = [&](std::future<absl::StatusOr<int>>& code) {
    REQUIRE(code.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    return code.get();
  };

  SECTION("UNAVAILABLE answers") {
    FakeJobPlanner fake;
    fake.PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
    options.planner = fake.address();
    auto code = wait_async();
    WaitForPark(fake, "GetJob", 0);
    const size_t before = fake.calls().size();
    fake.FailNext(3);
    fake.UpdateJob("job-1", [](v1::Job* job) { job->set_eta_seconds(60); });
    WaitForPark(fake, "GetJob", before + 3);
    fake.SetState("job-1", v1::JOB_STATE_SUCCEEDED, "done");
    auto done = result(code);
    INFO(err.str() << done.status());
    REQUIRE(done.ok());
    CHECK(*done == 0);
    // At once, parked, 3 refused, at once again (after an outage), parked.
    CHECK(CountCalls(fake, "GetJob") == 7);
    CHECK_THAT(err.str(), Catch::Contains("is unavailable (the planner is restarting); retrying"));
    CHECK(Count(err.str(), "still unavailable; next try in") == 2);
    CHECK_THAT(err.str(), Catch::Contains("the planner answers again; following job-1"));
  }

  SECTION("the planner restarts on the same address") {
    auto first = std::make_unique<FakeJobPlanner>();
    const std::string address = first->address();
    first->PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
    options.planner = address;
    options.reconnect_backoff_seconds = 0.05;
    auto code = wait_async();
    WaitForPark(*first, "GetJob", 0);
    first.reset();  // the planner stops ...
    // ... and is back, the job ended meanwhile. The client may see calls
    // refused or cancelled meanwhile, or (gRPC reconnecting by itself) none.
    v1::Job ended = JobIn("job-1", v1::JOB_STATE_RUNNING);
    ended.set_state(v1::JOB_STATE_SUCCEEDED);
    ended.add_transitions()->set_state(v1::JOB_STATE_SUCCEEDED);
    FakeJobPlanner second(address, {ended});
    REQUIRE(second.address() == address);
    auto done = result(code);
    INFO(err.str() << done.status());
    REQUIRE(done.ok());
    CHECK(*done == 0);
    CHECK_THAT(err.str(), Catch::Contains("job-1 succeeded"));
    CHECK(CountCalls(second, "GetJob") >= 1);
  }

  SECTION("gives up after reconnect_seconds") {
    auto fake = std::make_unique<FakeJobPlanner>();
    fake->PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
    options.planner = fake->address();
    options.reconnect_seconds = 0.5;
    options.reconnect_backoff_seconds = 0.05;
    auto code = wait_async();
    WaitForPark(*fake, "GetJob", 0);
    fake.reset();  // and never back
    auto done = result(code);
    REQUIRE_FALSE(done.ok());
    CHECK(done.status().code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(std::string(done.status().message()),
               Catch::Contains("cannot reach the planner") &&
                   Catch::Contains("(following job-1, retried for"));
    CHECK_THAT(err.str(), Catch::Contains("still unavailable; next try in"));
  }

  SECTION("a planner that never answered is reported at once") {
    options.planner = kNoPlanner;
    PlannerClient client(options, &out, &err);
    auto code = client.JobsWait("job-1");
    REQUIRE_FALSE(code.ok());
    CHECK_THAT(std::string(code.status().message()), Catch::Contains("cannot reach the planner"));
    CHECK(err.str().empty());
  }
}

TEST_CASE("jobs logs: one rank or all, --follow prints each new line once") {
  FakeJobPlanner fake;
  fake.PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
  auto log = [](int rank, const std::string& node, const std::string& text) {
    v1::RankLog l;
    l.set_rank(rank);
    l.set_node(node);
    l.set_text(text);
    return l;
  };
  fake.SetLogs("job-1", {log(0, "n1", "a\nb\n"), log(1, "n2", "x\n")});
  Run r =
      Cli({"jobs", "logs", "job-1", "--rank", "1", "--lines", "20", "--planner", fake.address()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "==> rank 1 on n2 <==\nx\n");
  CHECK(fake.log_requests().back().rank() == 1);
  CHECK(fake.log_requests().back().max_lines() == 20);
  r = Cli({"jobs", "logs", "job-1", "--planner", fake.address()});
  CHECK(r.out == "==> rank 0 on n1 <==\na\nb\n==> rank 1 on n2 <==\nx\n");
  CHECK(fake.log_requests().back().rank() == -1);

  size_t before = fake.calls().size();
  auto run = CliAsync({"jobs", "logs", "job-1", "--follow", "--planner", fake.address()});
  WaitForPark(fake, "GetJob", before);
  before = fake.calls().size();
  // The tails move on: rank 0's window drops "a", rank 1's grows.
  fake.SetLogs("job-1", {log(0, "n1", "b\nc\nd\n"), log(1, "n2", "x\ny\n")});
  WaitForPark(fake, "GetJob", before);
  fake.SetLogs("job-1", {log(0, "n1", "b\nc\nd\n"), log(1, "n2", "x\ny\nz\n")});
  fake.SetState("job-1", v1::JOB_STATE_SUCCEEDED, "done");
  r = Finish(run);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out ==
        "==> rank 0 on n1 <==\na\nb\n==> rank 1 on n2 <==\nx\n"
        "==> rank 0 on n1 <==\nc\nd\n==> rank 1 on n2 <==\ny\nz\n");
}

TEST_CASE("jobs cancel: the job as the planner left it") {
  FakeJobPlanner fake;
  fake.PutJob(JobIn("job-1", v1::JOB_STATE_RUNNING));
  Run r = Cli({"jobs", "cancel", "job-1", "--planner", fake.address()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "job-1 cancelled: cancelled by the user\n");
  for (const auto& call : fake.calls()) {
    if (call.method == "CancelJob") CHECK(call.deadline_seconds > 50);
  }
}

}  // namespace
}  // namespace galvatron::cli
