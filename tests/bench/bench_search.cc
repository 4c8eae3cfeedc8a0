// Benchmarks of the whole plan search (results in docs/benchmarks.md):
//   1. LLaMA-2-7B on Galvatron's 8-GPU A100 profiles, 36 GiB, seq 2048,
//      global batch 16..64:16, the full space, both cost-model modes;
//   2. 80 layers on 128 x 8 GPUs, one global batch;
//   3. scaling: search time against layers and against GPUs;
//   4. 126 layers in the LLaMA-3-405B shape on 1,024 and 16,384 H100-like
//      synthetic GPUs, analytic times, default mode.
// Every search runs on 2 threads.
// Usage: bench_search [FIXTURE_DIR] [--quick] [--only SUBSTRING] [--dump DIR]
//   --only runs the cases whose name contains SUBSTRING.
//   --dump writes each case's inputs as JSON into DIR instead of running it.
#include <sys/resource.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "common/json_file.h"
#include "common/model_catalog.h"
#include "interop/galvatron_hardware.h"
#include "interop/galvatron_model.h"
#include "planner/search/plan_builder.h"
#include "tests/support/synthetic_cluster.h"

namespace galvatron {
namespace {

double PeakRssMiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux: KiB
}

struct Run {
  double seconds = 0;
  double samples_per_second = 0;
  int64_t tasks = 0;
  int64_t states = 0;
  std::string summary;
};

Run Time(const search::PlanInputs& inputs) {
  auto start = std::chrono::steady_clock::now();
  search::PlanBuildOptions options;
  options.threads = 2;
  auto plan = search::BuildPlan(inputs, options);
  Run run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!plan.ok()) {
    run.summary = std::string(plan.status().message());
    return run;
  }
  run.samples_per_second = plan->prediction().samples_per_second();
  run.tasks = plan->search().tasks_done();
  run.states = plan->search().states_explored();
  run.summary =
      absl::StrFormat("pp%d gbsz %d chunks %d, layer 0 %s", plan->pp(), plan->global_batch(),
                      plan->micro_batches(), plan->layers(0).ShortDebugString());
  return run;
}

void Print(const char* name, const Run& r) {
  std::printf(
      "%-44s %8.3f s  %7lld tasks  %11lld states  %9.3f samples/s  peak RSS %.0f MiB\n    %s\n",
      name, r.seconds, static_cast<long long>(r.tasks), static_cast<long long>(r.states),
      r.samples_per_second, PeakRssMiB(), r.summary.c_str());
  std::fflush(stdout);
}

v1::ModelSpec LlamaWithLayers(int layers) {
  v1::ModelSpec spec = *CatalogModel("llama2-7b");
  spec.set_name(absl::StrFormat("llama-%dl", layers));
  spec.mutable_layers(0)->set_count(layers);
  spec.set_seq_len(2048);
  return spec;
}

// LLaMA-3-405B's shape (Meta 2024, Llama 3 paper Table 3): 126 layers,
// hidden 16384, FFN 53248, 128 heads, 8 KV heads, seq 8192. The catalog has
// no 405B entry; its 70B entry has the same vocabulary and layer kind.
v1::ModelSpec Llama405bShape() {
  v1::ModelSpec spec = *CatalogModel("llama3-70b");
  spec.set_name("llama3-405b-shape");
  v1::LayerGroup* g = spec.mutable_layers(0);
  g->set_count(126);
  g->set_hidden(16384);
  g->set_ffn_hidden(53248);
  g->set_heads(128);
  g->set_kv_heads(8);
  spec.set_seq_len(8192);
  return spec;
}

// An H100-like synthetic cluster: the synthetic A100 cluster's tables with
// 300 GB/s inside a node and 40 GB/s across (twice the A100 figures), and
// H100 SXM's dense bf16 peak.
v1::HardwareProfile H100Like(const std::string& name, int nodes) {
  v1::HardwareProfile p = testing::SyntheticCluster(name, nodes, 8);
  p.mutable_device()->set_name("synthetic-h100");
  p.mutable_device()->set_peak_flops(989e12);
  for (v1::CollectiveTable& t : *p.mutable_collectives()) {
    const double gbps = 2 * t.bus_bandwidth_bytes_per_second() / 1e9;
    t.clear_samples();
    testing::FillTable(&t, gbps);
  }
  return p;
}

// Runs (and prints) the case unless --only excludes it. With --dump DIR it
// writes the case's model, hardware profile and request as JSON instead, so
// that `galvatron-planner search` of any version can be timed on it.
struct Runner {
  std::string only;
  std::string dump;
  void operator()(const std::string& name, const search::PlanInputs& inputs) const {
    if (!only.empty() && name.find(only) == std::string::npos) return;
    if (!dump.empty()) {
      std::string file;
      for (char c : name) file += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
      const std::string base = dump + "/" + file;
      const bool ok = WriteTextFile(base + ".model.json", MessageToJson(inputs.model)).ok() &&
                      WriteTextFile(base + ".hardware.json", MessageToJson(inputs.hardware)).ok() &&
                      WriteTextFile(base + ".request.json", MessageToJson(inputs.request)).ok();
      std::printf("%s %s.{model,hardware,request}.json\n", ok ? "wrote" : "could not write",
                  base.c_str());
      return;
    }
    Print(name.c_str(), Time(inputs));
  }
};

}  // namespace
}  // namespace galvatron

int main(int argc, char** argv) {
  using namespace galvatron;
  const std::string fixtures = argc > 1 && argv[1][0] != '-' ? argv[1] : "tests/data/galvatron";
  bool quick = false;
  Runner run;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::string(argv[i]) == "--quick";
    if (std::string(argv[i]) == "--only" && i + 1 < argc) run.only = argv[++i];
    if (std::string(argv[i]) == "--dump" && i + 1 < argc) run.dump = argv[++i];
  }

  // 1. LLaMA-2-7B on Galvatron's own profiles.
  interop::GalvatronHardwareFiles hw_files;
  hw_files.directory = fixtures;
  hw_files.num_nodes = 1;
  hw_files.gpus_per_node = 8;
  hw_files.cluster = "a100x8";
  auto hardware = interop::ReadGalvatronHardware(hw_files);
  if (!hardware.ok()) {
    std::fprintf(stderr, "%s\n", std::string(hardware.status().message()).c_str());
    return 1;
  }
  v1::ModelSpec llama = *CatalogModel("llama2-7b");
  llama.set_seq_len(2048);
  interop::GalvatronModelFiles model_files;
  model_files.computation_profile_path =
      fixtures + "/computation_profiling_bf16_llama2-7b_all.json";
  model_files.memory_profile_path = fixtures + "/memory_profiling_bf16_llama2-7b_all.json";
  model_files.spec = llama;
  model_files.cluster = "a100x8";
  model_files.time_profile_mode = interop::GalvatronTimeProfileMode::kBatch;
  auto compute = interop::ReadGalvatronModelProfiles(model_files);
  if (!compute.ok()) {
    std::fprintf(stderr, "%s\n", std::string(compute.status().message()).c_str());
    return 1;
  }
  search::PlanInputs inputs;
  inputs.model = llama;
  inputs.hardware = *hardware;
  inputs.compute = *compute;
  inputs.request.set_memory_budget_bytes(int64_t{36} << 30);
  inputs.request.mutable_global_batch_range()->set_min(16);
  inputs.request.mutable_global_batch_range()->set_max(64);
  inputs.request.mutable_global_batch_range()->set_step(16);
  inputs.request.set_seq_len(2048);
  std::printf("== LLaMA-2-7B, Galvatron's 8 x A100 profiles, 36 GiB, seq 2048, gbsz 16..64:16\n");
  inputs.request.set_mode(v1::COST_MODEL_MODE_GALVATRON);
  run("galvatron mode (Galvatron's space, gpipe)", inputs);
  inputs.request.set_mode(v1::COST_MODEL_MODE_DEFAULT);
  run("default mode (extended space, both schedules)", inputs);

  // 2. 80 layers on 128 x 8 GPUs, one global batch (analytic times).
  std::printf("\n== 80 layers (LLaMA-2-70B) on 128 x 8 synthetic GPUs, one global batch\n");
  search::PlanInputs big;
  big.model = *CatalogModel("llama2-70b");
  big.hardware = testing::SyntheticCluster("big", 128, 8);
  big.request.set_memory_budget_bytes(int64_t{80} << 30);
  big.request.set_global_batch(1024);
  big.request.set_mode(v1::COST_MODEL_MODE_DEFAULT);
  run("llama2-70b, 1024 GPUs, gbsz 1024", big);
  if (quick) return 0;

  // 3. Scaling.
  std::printf(
      "\n== scaling with layers (LLaMA-7B-sized layers, 4 x 8 synthetic GPUs, analytic, gbsz 64, "
      "default mode)\n");
  for (int layers : {8, 16, 32, 64, 128}) {
    search::PlanInputs in;
    in.model = LlamaWithLayers(layers);
    in.hardware = testing::SyntheticCluster("s32", 4, 8);
    in.request.set_memory_budget_bytes(int64_t{40} << 30);
    in.request.set_global_batch(64);
    run(absl::StrFormat("%d layers", layers), in);
  }
  std::printf("\n== scaling with GPUs (llama2-7b 32 layers, analytic, gbsz 512, default mode)\n");
  for (int nodes : {1, 2, 4, 8, 16, 32, 64, 128}) {
    search::PlanInputs in;
    in.model = LlamaWithLayers(32);
    in.hardware = testing::SyntheticCluster("s", nodes, 8);
    in.request.set_memory_budget_bytes(int64_t{40} << 30);
    in.request.set_global_batch(512);
    run(absl::StrFormat("%d GPUs", nodes * 8), in);
  }

  // 4. LLaMA-3-405B's shape on H100-like clusters.
  std::printf(
      "\n== 126 layers, LLaMA-3-405B shape, H100-like synthetic GPUs, analytic, 80 GiB, "
      "gbsz 2048..16384:4096, default mode\n");
  for (int nodes : {128, 2048}) {
    search::PlanInputs in;
    in.model = Llama405bShape();
    in.hardware = H100Like("h100", nodes);
    in.request.set_memory_budget_bytes(int64_t{80} << 30);
    in.request.mutable_global_batch_range()->set_min(2048);
    in.request.mutable_global_batch_range()->set_max(16384);
    in.request.mutable_global_batch_range()->set_step(4096);
    in.request.set_seq_len(8192);
    in.request.set_mode(v1::COST_MODEL_MODE_DEFAULT);
    run(absl::StrFormat("405b shape, %d GPUs", nodes * 8), in);
  }
  return 0;
}
