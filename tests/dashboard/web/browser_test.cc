// galvatron-dashboard in a real browser: Debian's Chromium, driven by
// Selenium (tests/dashboard/web/browser_check.py), against a live planner.
//
// The planner is seeded through its public gRPC API: a hardware profile of a
// 2-node × 2-device cluster, a compute profile of gpt-tiny's block, a plan,
// and a job that two fake agents (tests/support/fake_agent.h: the agent RPCs,
// no workers) run, one made-up step every 0.3 s until the browser is done.
// The script then opens every page at a desktop's width and a phone's: no
// console errors, no error box, no sideways overflow on the phone, the plan's
// charts drawn, the job page updating in place while the job runs.
//
// The second case serves the dashboard beyond loopback's rules: HTTPS with a
// certificate of a test CA (scripts/make-certs.sh) and a token file; the
// browser is sent to the login page, a wrong token is refused, the viewer's
// token lands on the page asked for.
//
// Chromium, chromium-driver and python3-selenium come from
// scripts/install-deps.sh; without them these tests fail (CI has them).
// GALVATRON_SCREENSHOTS=DIR keeps a PNG of each page there (relative to the
// source tree; scripts/dashboard-screenshots.sh refreshes docs/images).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/support/fake_agent.h"
#include "tests/support/job_client.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using std::chrono::seconds;
using testing::ChildProcess;
using testing::CommandResult;
using testing::FakeAgent;
using testing::FakeAgentOptions;
using testing::RunCommand;
using testing::Slurp;
using testing::TempDir;

constexpr char kCluster[] = "lab";
constexpr char kModel[] = "gpt-tiny";
constexpr char kPython[] = "/usr/bin/python3";  // Debian's, where python3-selenium is
constexpr char kChromium[] = "/usr/bin/chromium";
constexpr char kChromedriver[] = "/usr/bin/chromedriver";
constexpr char kViewerToken[] = "viewer-token-browser-0123456789";
constexpr char kUserToken[] = "user-token-browser-0123456789";

// Chromium, its driver and Selenium, or a failure saying how to get them:
// CI installs them, so a missing one is a broken setup, not a skip.
void RequireBrowser() {
  std::string missing;
  if (::access(kChromium, X_OK) != 0) missing += " chromium (" + std::string(kChromium) + ")";
  if (::access(kChromedriver, X_OK) != 0) {
    missing += " chromium-driver (" + std::string(kChromedriver) + ")";
  }
  if (::access(kPython, X_OK) != 0) {
    missing += " python3 (" + std::string(kPython) + ")";
  } else if (RunCommand({kPython, "-c", "import selenium"}, seconds(60)).exit_code != 0) {
    missing += " python3-selenium (import selenium failed in " + std::string(kPython) + ")";
  }
  if (!missing.empty()) {
    FAIL("the dashboard's browser test needs" << missing
                                              << ": run scripts/install-deps.sh (CI installs "
                                                 "them)");
  }
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

// A galvatron-dashboard on a loopback ephemeral port; killed with the object.
class Dashboard {
 public:
  Dashboard(const TempDir& dir, const std::string& planner, const std::vector<std::string>& extra)
      : log_(dir.File("dashboard.log")) {
    const std::string ready = dir.File("dashboard.ready");
    std::vector<std::string> argv = {testing::BinDir() + "/galvatron-dashboard",
                                     "--planner",
                                     planner,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--ready-file",
                                     ready};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(argv, log_);
    testing::WaitFor([&] { return !Trimmed(Slurp(ready)).empty() || !process_->running(); },
                     seconds(20));
    url_ = Trimmed(Slurp(ready));
    INFO(Log());
    REQUIRE(process_->running());
    REQUIRE_FALSE(url_.empty());
  }
  const std::string& url() const { return url_; }
  std::string Log() const { return Slurp(log_); }

 private:
  std::string log_;
  std::unique_ptr<ChildProcess> process_;
  std::string url_;
};

// Runs browser_check.py with `args`; its lines go to stdout as well, so that
// a passing run shows what it checked (ctest -V).
CommandResult RunBrowserCheck(std::vector<std::string> args) {
  std::vector<std::string> argv = {kPython,
                                   testing::SourceDir() + "/tests/dashboard/web/browser_check.py"};
  if (const char* dir = std::getenv("GALVATRON_SCREENSHOTS"); dir != nullptr && *dir != '\0') {
    std::string path = dir;
    if (path.front() != '/') path = testing::SourceDir() + "/" + path;
    args.insert(args.end(), {"--screenshots", path});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  const auto start = std::chrono::steady_clock::now();
  CommandResult result = RunCommand(argv, seconds(420));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "browser_check.py (" << took << " s, exit " << result.exit_code << "):\n"
            << result.out << result.err << std::flush;
  return result;
}

// gRPC stubs of the planner's public API, each call with a deadline.
class Seeder {
 public:
  explicit Seeder(const std::string& address)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        hardware_(v1::HardwareProfileService::NewStub(channel_)),
        compute_(v1::ComputeProfileService::NewStub(channel_)),
        plans_(v1::PlanService::NewStub(channel_)),
        jobs_(v1::JobService::NewStub(channel_)) {}

  static std::unique_ptr<grpc::ClientContext> Context(seconds timeout = seconds(30)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + timeout);
    return context;
  }

  v1::HardwareProfile PutHardware(const v1::HardwareProfile& profile) {
    v1::PutHardwareProfileRequest request;
    *request.mutable_profile() = profile;
    v1::HardwareProfile stored;
    grpc::Status status = hardware_->PutHardwareProfile(Context().get(), request, &stored);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return stored;
  }

  v1::ComputeProfile PutCompute(const v1::ComputeProfile& profile) {
    v1::PutComputeProfileRequest request;
    *request.mutable_profile() = profile;
    v1::ComputeProfile stored;
    grpc::Status status = compute_->PutComputeProfile(Context().get(), request, &stored);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return stored;
  }

  v1::Plan RequestPlan(const v1::PlanRequest& request) {
    v1::Plan plan;
    grpc::Status status = plans_->RequestPlan(Context(seconds(120)).get(), request, &plan);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return plan;
  }

  v1::Job SubmitJob(const v1::SubmitJobRequest& request) {
    v1::Job job;
    grpc::Status status = jobs_->SubmitJob(Context().get(), request, &job);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return job;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::HardwareProfileService::Stub> hardware_;
  std::unique_ptr<v1::ComputeProfileService::Stub> compute_;
  std::unique_ptr<v1::PlanService::Stub> plans_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
};

// A measured-looking profile of gpt-tiny's block on the cluster: time
// linear in the micro-batch, activations per tp degree.
v1::ComputeProfile BlockProfile() {
  const std::optional<v1::ModelSpec> model = CatalogModel(kModel);
  REQUIRE(model.has_value());
  v1::ComputeProfile p;
  p.set_layer_type(LayerTypeKey(*model, 0));
  p.set_cluster(kCluster);
  p.set_model(kModel);
  p.set_precision(v1::PRECISION_FP32);
  p.set_source(v1::PROFILE_SOURCE_MEASURED);
  p.set_measured_by("browser_test (made up)");
  const double forward = 4e-4, constant = 1e-4;
  for (int b : {1, 2, 4, 8}) {
    v1::LayerTimeSample* s = p.add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(64);
    s->set_forward_seconds(constant + forward * b * (1 + 0.03 * (b % 3)));
    s->set_backward_seconds(2 * (constant + forward * b));
  }
  p.mutable_forward_fit()->set_per_sample_s0(forward);
  p.mutable_forward_fit()->set_constant(constant);
  p.mutable_backward_fit()->set_per_sample_s0(2 * forward);
  p.mutable_backward_fit()->set_constant(2 * constant);
  p.set_parameter_count(49984);
  p.set_parameter_bytes(int64_t{49984} * 4);
  for (int tp : {1, 2}) {
    v1::ActivationMemory* a = p.add_activations();
    a->set_tp_degree(tp);
    a->set_seq_len(64);
    a->set_bytes_per_sample(int64_t{100000} / tp);
    a->set_checkpoint_bytes_per_sample(16384);
  }
  return p;
}

int AliveNodes(const std::string& planner) { return testing::JobClient(planner).AliveNodes(); }

}  // namespace

TEST_CASE("Every page of the dashboard works in Chromium, at a desktop's and a phone's width",
          "[dashboard][browser]") {
  RequireBrowser();
  TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  auto agent = [&](const std::string& name) {
    FakeAgentOptions options;
    options.planner = planner.address();
    options.cluster = kCluster;
    options.node = name;
    options.devices = 2;
    return std::make_unique<FakeAgent>(options);
  };
  std::vector<std::unique_ptr<FakeAgent>> agents;
  agents.push_back(agent("n1"));
  agents.push_back(agent("n2"));
  REQUIRE(testing::WaitFor([&] { return AliveNodes(planner.address()) == 2; }, seconds(20)));

  // The profiles, a plan and a job.
  Seeder seed(planner.address());
  const v1::HardwareProfile hardware = seed.PutHardware(testing::SyntheticCluster(kCluster, 2, 2));
  CHECK(hardware.version() == 1);
  seed.PutCompute(BlockProfile());
  v1::PlanRequest plan_request;
  plan_request.set_model(kModel);
  plan_request.set_cluster(kCluster);
  plan_request.set_memory_budget_bytes(int64_t{4} << 30);
  plan_request.set_global_batch(8);
  // pp 2 × tp 2, each stage's tensor-parallel pair on one node: the pages
  // show stages (a plan of pure data parallelism would show one).
  plan_request.set_max_tp(2);
  plan_request.set_max_pp(2);
  plan_request.add_disable("dp");
  plan_request.set_estimate_missing(true);  // the embedding and head
  plan_request.set_time_limit_seconds(20);
  const v1::Plan plan = seed.RequestPlan(plan_request);
  REQUIRE(plan.world_size() == 4);
  CHECK(plan.pp() == 2);

  // The fake steps take a little longer than predicted, as real ones do.
  testing::FakeTrainingOptions training;
  training.step_seconds = std::max(1e-3, plan.prediction().iteration_seconds() * 1.15);
  training.global_batch = plan.global_batch();
  training.backlog_steps = 240;  // past the warm-up (200 of 2,000 steps): measured times
  for (auto& a : agents) a->StartTraining(training);
  v1::SubmitJobRequest job_request;
  job_request.set_model(kModel);
  job_request.set_cluster(kCluster);
  job_request.set_memory_budget_bytes(int64_t{4} << 30);
  job_request.set_plan_id(plan.id());
  // More steps than the browser sees: the job runs until the script ends.
  job_request.mutable_training()->set_steps(2000);
  const v1::Job submitted = seed.SubmitJob(job_request);

  testing::JobClient jobs(planner.address());
  const v1::Job running = jobs.WaitJob(
      submitted.id(),
      [](const v1::Job& job) {
        return job.state() == v1::JOB_STATE_RUNNING && job.steps_done() >= 243;
      },
      seconds(60));
  std::string agent_errors;
  for (auto& a : agents) agent_errors += a->Errors();
  INFO(agent_errors);
  INFO(testing::JobEnding(running));
  INFO(planner.Log());
  REQUIRE(running.state() == v1::JOB_STATE_RUNNING);
  REQUIRE(running.steps_done() >= 243);
  CHECK(running.step_time().steps_measured() > 0);

  Dashboard dashboard(dir, planner.address(), {"--log-level", "info"});
  const CommandResult check =
      RunBrowserCheck({"--url", dashboard.url(), "--plan", plan.id(), "--job", submitted.id(),
                       "--cluster", kCluster, "--model", kModel, "--nodes", "2"});
  // The script saw a running job all along.
  CHECK(jobs.Get(submitted.id()).state() == v1::JOB_STATE_RUNNING);

  // The fake workers finish: rank 0's node first, the others with its step.
  FakeAgent* rank0 = agents[0]->rank0() ? agents[0].get() : agents[1].get();
  FakeAgent* other = rank0 == agents[0].get() ? agents[1].get() : agents[0].get();
  CHECK(rank0->Finish());
  CHECK(other->Finish(rank0->steps_reported()));
  const v1::Job ended = jobs.WaitEnd(submitted.id(), seconds(60));
  agent_errors.clear();
  for (auto& a : agents) agent_errors += a->Errors();
  INFO(agent_errors);
  INFO(testing::JobEnding(ended));
  CHECK(ended.state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(ended.checkpoint().complete());  // every rank's shard of the last step
  CHECK(agent_errors.empty());

  INFO("browser_check.py exit " << check.exit_code << ":\n" << check.out << check.err);
  INFO("dashboard log:\n" << dashboard.Log());
  REQUIRE(check.exit_code == 0);
}

TEST_CASE("Beyond loopback the dashboard serves HTTPS and asks the browser for a token",
          "[dashboard][browser]") {
  RequireBrowser();
  TempDir dir;
  const std::string certs = dir.File("certs");
  const CommandResult made =
      RunCommand({testing::SourceDir() + "/scripts/make-certs.sh", "--out", certs, "--days", "2"});
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  REQUIRE(WriteTextFile(dir.File("browsers.tokens"), std::string("viewer board ") + kViewerToken +
                                                         "\nuser alice " + kUserToken + "\n")
              .ok());

  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--heartbeat-interval-ms", "200"});
  FakeAgentOptions options;
  options.planner = planner.address();
  options.cluster = kCluster;
  options.node = "n1";
  FakeAgent n1(options);  // the page the login lands on lists it
  REQUIRE(testing::WaitFor([&] { return AliveNodes(planner.address()) == 1; }, seconds(20)));

  Dashboard dashboard(
      dir, planner.address(),
      {"--https-cert", certs + "/planner.crt", "--https-key", certs + "/planner.key",
       "--auth-tokens", dir.File("browsers.tokens"), "--log-level", "info"});
  REQUIRE_THAT(dashboard.url(), Catch::StartsWith("https://"));
  const CommandResult check =
      RunBrowserCheck({"--url", dashboard.url(), "--login", kViewerToken, "--ca", certs + "/ca.crt",
                       "--login-page", "/nodes", "--login-key", "#node-table"});
  INFO("browser_check.py exit " << check.exit_code << ":\n" << check.out << check.err);
  INFO("dashboard log:\n" << dashboard.Log());
  REQUIRE(check.exit_code == 0);
  CHECK(n1.Errors().empty());
}

}  // namespace galvatron
