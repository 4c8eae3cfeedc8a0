// Fills a live planner with what the dashboard's benchmark loads: N nodes
// of cluster "big" (registered, never heartbeated: run the planner with a
// long --node-timeout-ms to keep them alive), M plans of gpt-tiny on a
// synthetic cluster "bench" (one search each, memory budgets 1 MiB apart),
// and a job of S steps on cluster "bench" whose metrics two fake agents
// report in batches. Prints `plan=ID` and `job=ID` for the driver
// (tests/bench/dashboard/run.sh).
//
//   bench_dashboard_seed PLANNER [--nodes 1000] [--plans 1000] [--steps 100000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "galvatron/v1/job.grpc.pb.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/support/fake_agent.h"
#include "tests/support/nodes.h"
#include "tests/support/synthetic_cluster.h"

namespace {

using namespace galvatron;  // NOLINT: a benchmark's main

std::unique_ptr<grpc::ClientContext> Context(int seconds = 60) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

[[noreturn]] void Die(const std::string& what, const grpc::Status& status) {
  std::fprintf(stderr, "bench_dashboard_seed: %s: %s\n", what.c_str(),
               status.error_message().c_str());
  std::exit(1);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PLANNER [--nodes N] [--plans M] [--steps S]\n", argv[0]);
    return 2;
  }
  const std::string planner = argv[1];
  int nodes = 1000, plans = 1000;
  int64_t steps = 100000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--nodes")) nodes = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--plans")) plans = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoll(argv[i + 1]);
  }
  auto channel = grpc::CreateChannel(planner, grpc::InsecureChannelCredentials());
  auto node_service = v1::NodeService::NewStub(channel);
  auto hardware = v1::HardwareProfileService::NewStub(channel);
  auto plan_service = v1::PlanService::NewStub(channel);
  auto jobs = v1::JobService::NewStub(channel);

  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < nodes; ++i) {
    v1::RegisterNodeRequest request;
    *request.mutable_node() = testing::MakeNode("node-" + std::to_string(i), "big", 8);
    v1::RegisterNodeResponse response;
    if (auto s = node_service->RegisterNode(Context().get(), request, &response); !s.ok()) {
      Die("RegisterNode", s);
    }
  }
  std::fprintf(stderr, "%d nodes registered in %.1f s\n", nodes, Seconds(started));

  v1::PutHardwareProfileRequest put;
  *put.mutable_profile() = testing::SyntheticCluster("bench", 2, 2);
  v1::HardwareProfile stored;
  if (auto s = hardware->PutHardwareProfile(Context().get(), put, &stored); !s.ok()) {
    Die("PutHardwareProfile", s);
  }
  started = std::chrono::steady_clock::now();
  v1::Plan job_plan;
  for (int i = 0; i < plans; ++i) {
    v1::PlanRequest request;
    request.set_model("gpt-tiny");
    request.set_cluster("bench");
    request.set_memory_budget_bytes((int64_t{4} << 30) + (int64_t{i} << 20));
    request.set_global_batch(8);
    request.set_estimate_missing(true);
    v1::Plan plan;
    if (auto s = plan_service->RequestPlan(Context(300).get(), request, &plan); !s.ok()) {
      Die("RequestPlan", s);
    }
    if (i == 0) job_plan = plan;
    if ((i + 1) % 100 == 0) std::fprintf(stderr, "%d plans in %.1f s\n", i + 1, Seconds(started));
  }
  std::printf("plan=%s\n", job_plan.id().c_str());

  // The job: two fake agents take its training task; rank 0's reports the
  // steps, 5,000 a call.
  testing::FakeAgentOptions a;
  a.planner = planner;
  a.cluster = "bench";
  a.node = "bench-a";
  testing::FakeAgentOptions b = a;
  b.node = "bench-b";
  testing::FakeAgent agent_a(a), agent_b(b);
  v1::SubmitJobRequest submit;
  submit.set_model("gpt-tiny");
  submit.set_cluster("bench");
  submit.set_memory_budget_bytes(int64_t{4} << 30);
  *submit.mutable_plan() = job_plan;
  submit.mutable_training()->set_steps(steps);
  v1::Job job;
  if (auto s = jobs->SubmitJob(Context().get(), submit, &job); !s.ok()) Die("SubmitJob", s);
  std::printf("job=%s\n", job.id().c_str());
  std::fflush(stdout);

  started = std::chrono::steady_clock::now();
  for (testing::FakeAgent* agent : {&agent_a, &agent_b}) {
    std::optional<v1::Task> task;
    int index = 0;
    while (!task.has_value()) {
      if (Seconds(started) > 120) {
        std::fprintf(stderr, "bench_dashboard_seed: no training task for %s\n",
                     agent->node().c_str());
        return 1;
      }
      if (auto s = agent->Poll(std::chrono::milliseconds(2000), &task, &index); !s.ok()) {
        Die("PollTask", s);
      }
    }
    const bool rank0 = task->nodes(index).first_rank() == 0;
    v1::ReportTaskRequest running;
    running.set_task_id(task->id());
    running.set_state(v1::TASK_STATE_RUNNING);
    if (rank0) running.set_store_address("127.0.0.1:1");
    if (auto s = agent->Report(running); !s.ok()) Die("ReportTask RUNNING", s);
    if (!rank0) continue;
    constexpr int64_t kBatch = 5000;
    for (int64_t first = 1; first <= steps; first += kBatch) {
      v1::ReportTaskRequest report;
      report.set_task_id(task->id());
      report.set_state(v1::TASK_STATE_RUNNING);
      for (int64_t step = first; step < first + kBatch && step <= steps; ++step) {
        *report.add_metrics() = testing::FakeAgent::MakeStep(step, 0.3, 8, 64, job_plan.pp());
      }
      if (auto s = agent->Report(report); !s.ok()) Die("ReportTask metrics", s);
    }
  }
  std::fprintf(stderr, "%lld steps reported in %.1f s\n", static_cast<long long>(steps),
               Seconds(started));
  // The job stays RUNNING: the agents' heartbeats stop with this process,
  // and the planner (with a long --node-timeout-ms) keeps it as it is.
  return 0;
}
