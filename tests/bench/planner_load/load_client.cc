// Load on a live planner: N clients (threads, each with its own channel and
// one of the callers' tokens) for S seconds, mixing
//   cheap calls     ListModels (with the catalog), ListPlans, GetPlan of a
//                   stored plan, ListNodes;
//   cached plans    RequestPlan of a plan already stored;
//   uncached plans  RequestPlan that needs a new search (each a global batch
//                   no call asked before).
// Prints, per kind: calls, answers by status code, latency p50/p90/p99/max
// of the successful ones (and of the RESOURCE_EXHAUSTED ones for searches).
// Driven by tests/bench/planner_load/run.sh.
//
//   bench_planner_load --planner ADDR --tokens FILE [--clients 50]
//                      [--seconds 60] [--seed 1]
// FILE: one "NAME TOKEN" per line: first an admin's (the set-up: a hardware
// profile, stored plans), then the callers, whom the clients take in turn.
// Calls still waiting when the time is up are cancelled and counted apart
// ("cut at the end"); every answer but OK (and RESOURCE_EXHAUSTED for new
// searches) is unexpected and makes the exit status 2.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/rpc_channel.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/support/synthetic_cluster.h"

namespace galvatron {
namespace {

using Clock = std::chrono::steady_clock;

enum Kind { kCheap, kCached, kSearch, kKinds };
const char* const kKindNames[kKinds] = {"cheap calls", "cached plans", "uncached plans"};

struct Tally {
  std::map<std::string, int64_t> codes;                  // by status code name
  std::map<std::string, std::vector<double>> latencies;  // ms, by code name
};

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "OTHER";
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5));
  return v[i];
}

std::unique_ptr<grpc::ClientContext> Context(int seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

// LLaMA-2-7B on 4 x 8 synthetic GPUs: a search of a second or a few on a
// small machine.
v1::PlanRequest Search(int global_batch) {
  v1::PlanRequest request;
  request.set_model("llama2-7b");
  request.set_cluster("load");
  request.set_memory_budget_bytes(int64_t{40} << 30);
  request.set_global_batch(global_batch);
  return request;
}

struct Caller {
  std::string name;
  std::string token;
};

std::shared_ptr<grpc::Channel> Channel(const std::string& address, const std::string& token) {
  ClientCredentials credentials;
  credentials.channel = grpc::InsecureChannelCredentials();
  credentials.token = token;
  return CreatePlannerChannel(address, credentials, grpc::ChannelArguments());
}

int Run(const std::string& address, const Caller& setup, const std::vector<Caller>& callers,
        int clients, int seconds, uint32_t seed) {
  // Set-up: the cluster's hardware profile and a few stored plans.
  auto admin = Channel(address, setup.token);
  {
    auto hardware = v1::HardwareProfileService::NewStub(admin);
    v1::PutHardwareProfileRequest put;
    *put.mutable_profile() = testing::SyntheticCluster("load", 4, 8);
    v1::HardwareProfile stored;
    grpc::Status s = hardware->PutHardwareProfile(Context(30).get(), put, &stored);
    if (!s.ok()) {
      std::fprintf(stderr, "PutHardwareProfile: %s\n", s.error_message().c_str());
      return 1;
    }
  }
  std::vector<v1::PlanRequest> cached;
  std::vector<std::string> cached_ids;
  {
    auto plans = v1::PlanService::NewStub(admin);
    for (int batch : {8, 16, 32, 64}) {
      v1::Plan plan;
      grpc::Status s = plans->RequestPlan(Context(300).get(), Search(batch), &plan);
      if (!s.ok()) {
        std::fprintf(stderr, "RequestPlan (set-up): %s\n", s.error_message().c_str());
        return 1;
      }
      cached.push_back(Search(batch));
      cached_ids.push_back(plan.id());
    }
  }
  std::fprintf(stderr, "set-up done: %zu stored plans; %d clients for %d s\n", cached.size(),
               clients, seconds);

  absl::Mutex mu;
  Tally tallies[kKinds];
  std::atomic<int> next_batch{72};  // uncached: 72, 80, 88, ... never asked before
  const Clock::time_point end = Clock::now() + std::chrono::seconds(seconds);
  // Each client's call in flight, cancelled when the time is up.
  std::vector<grpc::ClientContext*> in_flight(clients, nullptr);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const Caller& me = callers[c % callers.size()];
      auto channel = Channel(address, me.token);
      auto models = v1::ModelService::NewStub(channel);
      auto plans = v1::PlanService::NewStub(channel);
      auto nodes = v1::NodeService::NewStub(channel);
      std::mt19937 rng(seed + c);
      std::uniform_real_distribution<double> pick(0, 1);
      while (Clock::now() < end) {
        const double r = pick(rng);
        const Kind kind = r < 0.6 ? kCheap : r < 0.85 ? kCached : kSearch;
        const Clock::time_point start = Clock::now();
        std::unique_ptr<grpc::ClientContext> context = Context(kind == kSearch ? 300 : 10);
        {
          absl::MutexLock lock(&mu);
          if (over) break;
          in_flight[c] = context.get();
        }
        grpc::Status status;
        if (kind == kCheap) {
          switch (static_cast<int>(pick(rng) * 4)) {
            case 0: {
              v1::ListModelsRequest request;
              request.set_include_builtin(true);
              v1::ListModelsResponse response;
              status = models->ListModels(context.get(), request, &response);
              break;
            }
            case 1: {
              v1::ListPlansResponse response;
              status = plans->ListPlans(context.get(), v1::ListPlansRequest(), &response);
              break;
            }
            case 2: {
              v1::GetPlanRequest request;
              request.set_id(cached_ids[rng() % cached_ids.size()]);
              v1::Plan response;
              status = plans->GetPlan(context.get(), request, &response);
              break;
            }
            default: {
              v1::ListNodesResponse response;
              status = nodes->ListNodes(context.get(), v1::ListNodesRequest(), &response);
              break;
            }
          }
        } else if (kind == kCached) {
          v1::Plan plan;
          status = plans->RequestPlan(context.get(), cached[rng() % cached.size()], &plan);
        } else {
          v1::Plan plan;
          status = plans->RequestPlan(context.get(), Search(next_batch.fetch_add(8)), &plan);
        }
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        {
          absl::MutexLock lock(&mu);
          in_flight[c] = nullptr;
          const std::string code = over && status.error_code() == grpc::StatusCode::CANCELLED
                                       ? "cut at the end"
                                       : CodeName(status.error_code());
          ++tallies[kind].codes[code];
          tallies[kind].latencies[code].push_back(ms);
        }
        if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          // A real client waits a little before asking again.
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
    });
  }
  std::this_thread::sleep_until(end);
  {
    absl::MutexLock lock(&mu);
    over = true;
    for (grpc::ClientContext* context : in_flight) {
      if (context != nullptr) context->TryCancel();
    }
  }
  for (std::thread& t : threads) t.join();

  int unexpected = 0;
  for (int k = 0; k < kKinds; ++k) {
    int64_t total = 0;
    for (const auto& [code, n] : tallies[k].codes) total += n;
    std::printf("%s: %lld calls\n", kKindNames[k], static_cast<long long>(total));
    for (const auto& [code, n] : tallies[k].codes) {
      const std::vector<double>& ms = tallies[k].latencies[code];
      std::printf("  %-18s %7lld  latency ms p50 %8.1f  p90 %8.1f  p99 %8.1f  max %8.1f\n",
                  code.c_str(), static_cast<long long>(n), Percentile(ms, 50), Percentile(ms, 90),
                  Percentile(ms, 99), Percentile(ms, 100));
      const bool expected = code == "OK" || code == "cut at the end" ||
                            (k == kSearch && code == "RESOURCE_EXHAUSTED");
      if (!expected) unexpected += static_cast<int>(n);
    }
  }
  std::printf("unexpected answers: %d\n", unexpected);
  return unexpected == 0 ? 0 : 2;
}

}  // namespace
}  // namespace galvatron

int main(int argc, char** argv) {
  std::string address, tokens_file;
  int clients = 50, seconds = 60;
  uint32_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--planner") {
      address = value;
    } else if (flag == "--tokens") {
      tokens_file = value;
    } else if (flag == "--clients") {
      clients = std::stoi(value);
    } else if (flag == "--seconds") {
      seconds = std::stoi(value);
    } else if (flag == "--seed") {
      seed = static_cast<uint32_t>(std::stoul(value));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::vector<galvatron::Caller> callers;
  std::ifstream in(tokens_file);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    galvatron::Caller caller;
    if (words >> caller.name >> caller.token) callers.push_back(caller);
  }
  if (address.empty() || callers.size() < 2 || clients < 1 || seconds < 1) {
    std::fprintf(stderr,
                 "usage: bench_planner_load --planner ADDR --tokens FILE [--clients N] "
                 "[--seconds S] [--seed N]\n");
    return 2;
  }
  const galvatron::Caller setup = callers.front();
  callers.erase(callers.begin());
  return galvatron::Run(address, setup, callers, clients, seconds, seed);
}
