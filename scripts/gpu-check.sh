#!/usr/bin/env bash
# The GPU path, proved on a machine with NVIDIA GPUs and PyTorch (CUDA):
# builds galvatron-worker alone against that PyTorch's LibTorch (no gRPC,
# planner or tests: -DGALVATRON_WORKER_ONLY=ON) and runs the checks below,
# printing one line per check (PASS, FAIL or SKIP, its name, what it saw)
# and exiting non-zero when any failed. docs/gpu.md says what each proves.
#
#   build            the worker builds against PyTorch's LibTorch
#   probe            NCCL bandwidth probe over every GPU (all-reduce, p2p, ...)
#   profile          compute profile of gpt2-small on cuda (CUDA events, allocator memory)
#   fp32_vs_cpu      gpt-tiny, 1 GPU float32 (TF32 off) vs the CPU run, per-step loss
#   bf16_vs_cpu      gpt-tiny, 1 GPU bf16 (mixed, NCCL-native bf16) vs the CPU float32 run
#   fp16             gpt-tiny, 1 GPU float16 with dynamic loss scaling vs the CPU float32 run
#   tp2, dp2_zero3, pp2, tp2_bf16   (2+ GPUs) against one GPU
#   throughput       gpt2-medium bf16 on one GPU: tokens/s and MFU
#
# Usage: scripts/gpu-check.sh [--cpu-rehearsal]
#   --cpu-rehearsal  run every check on the CPU over Gloo instead (with
#                    Debian's LibTorch, 2 ranks standing in for 2 GPUs):
#                    checks this script, proves nothing about GPUs.
# Environment:
#   GALVATRON_PYTHON   the Python whose PyTorch to build against (python3)
#   GALVATRON_WORKER_SOURCES
#                      the folder scripts/fetch-worker-sources.sh wrote
#                      (default: worker-sources, when it is there): build the
#                      worker's own libraries from it, with the LibTorch's
#                      std::string ABI — for a machine without them or
#                      without network, and for pre-C++11-ABI LibTorches
#   GALVATRON_DEBS     or a folder of .deb files to install first (dpkg -i):
#                      those libraries as packages (docs/gpu.md lists them)
#   GALVATRON_GPU_OUT  where logs, metrics and summary.txt go (build-gpu/check)
#   GALVATRON_WORKER   use this worker binary instead of building one
set -uo pipefail
cd "$(dirname "$0")/.."

rehearsal=0
if [[ ${1:-} == --cpu-rehearsal ]]; then
  rehearsal=1
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--cpu-rehearsal]" >&2
  exit 2
fi
python=${GALVATRON_PYTHON:-python3}
build=${GALVATRON_GPU_BUILD_DIR:-build-gpu}
out=${GALVATRON_GPU_OUT:-$build/check}
mkdir -p "$out"
: >"$out/summary.txt"
failures=0
started=$SECONDS

report() {  # STATUS NAME DETAIL
  printf '%-4s %-12s %s\n' "$1" "$2" "$3" | tee -a "$out/summary.txt"
  if [[ $1 == FAIL ]]; then failures=$((failures + 1)); fi
}

finish() {
  echo "gpu-check: $failures failed, $((SECONDS - started)) s; logs in $out" |
    tee -a "$out/summary.txt"
  [[ $failures -eq 0 ]]
  exit $?
}

# --- the machine -----------------------------------------------------------
if [[ $rehearsal -eq 1 ]]; then
  device=cpu
  gpus=2
  report INFO machine "CPU rehearsal: ranks on the CPU over Gloo; nothing here is a GPU result"
else
  device=cuda
  if ! gpus=$("$python" -c 'import torch; print(torch.cuda.device_count())' 2>"$out/torch.err"); then
    report FAIL machine "$python cannot import torch: $(tail -1 "$out/torch.err")"
    finish
  fi
  if [[ $gpus -lt 1 ]]; then
    report FAIL machine "PyTorch sees no CUDA device"
    finish
  fi
  report INFO machine "$("$python" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"{torch.cuda.device_count()} x {p.name}, {p.total_memory >> 30} GiB; PyTorch {torch.__version__}, CUDA {torch.version.cuda}, NCCL {\".\".join(map(str, torch.cuda.nccl.version()))}")')"
fi

# --- carried packages ------------------------------------------------------
if [[ -n ${GALVATRON_DEBS:-} ]]; then
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  if "${sudo[@]}" dpkg -i "$GALVATRON_DEBS"/*.deb >"$out/debs.log" 2>&1; then
    report PASS debs "installed $(ls "$GALVATRON_DEBS"/*.deb | wc -l) packages from $GALVATRON_DEBS"
  else
    report FAIL debs "dpkg -i $GALVATRON_DEBS/*.deb failed: $(tail -1 "$out/debs.log")"
  fi
fi

# --- build -----------------------------------------------------------------
if [[ -n ${GALVATRON_WORKER:-} ]]; then
  worker=$GALVATRON_WORKER
  report INFO build "using $worker"
else
  cmake_args=(-DGALVATRON_WORKER_ONLY=ON -DCMAKE_BUILD_TYPE=Release)
  sources=${GALVATRON_WORKER_SOURCES:-}
  if [[ -z $sources && -f worker-sources/SOURCES ]]; then sources="worker-sources"; fi
  [[ -n $sources ]] && cmake_args+=(-DGALVATRON_WORKER_SOURCES="$sources")
  [[ $rehearsal -eq 0 ]] && cmake_args+=(-DGALVATRON_TORCH="$python")
  # The generator only for a new build folder; the settings every time, so a
  # rerun with other settings (say GALVATRON_WORKER_SOURCES) takes them.
  if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then cmake_args+=(-G Ninja); fi
  build_start=$SECONDS
  if cmake -S . -B "$build" "${cmake_args[@]}" >"$out/build.log" 2>&1 &&
    cmake --build "$build" -j "$(nproc)" --target galvatron-worker >>"$out/build.log" 2>&1; then
    torch_found=$(grep -m1 -o 'LibTorch [0-9][0-9a-z.+]*' "$out/build.log" || echo LibTorch)
    torch_flags=$(grep -m1 -o 'C++[0-9]*, std::string ABI [01]' "$out/build.log" || true)
    report PASS build "galvatron-worker in $((SECONDS - build_start)) s: $torch_found${torch_flags:+ ($torch_flags)}${sources:+; libraries from $sources}"
  else
    report FAIL build "see $out/build.log: $(grep -m1 -E 'error|Error' "$out/build.log")"
    finish
  fi
  worker=$build/bin/galvatron-worker
fi

# --- helpers ---------------------------------------------------------------
# why LOG RC: what went wrong, in one line.
why() {
  if [[ $2 -eq 124 ]]; then
    echo "timed out (log: $1)"
  else
    local line
    line=$(grep -m1 -iE 'error|failed' "$1" || tail -1 "$1")
    echo "exit $2: ${line:-no output} (log: $1)"
  fi
}

# plan NAME WORLD PP TP DP_TYPE [LAYERS]: a plan in our JSON (gpt-tiny has 4 layers).
plan() {
  local name=$1 world=$2 pp=$3 tp=$4 dp_type=$5 count=${6:-4}
  local dp=$((world / pp / tp))
  local layer="{\"tp\": $tp, \"dp\": $dp, \"dpType\": \"$dp_type\"}" layers i
  layers=$layer
  for ((i = 1; i < count; i++)); do layers+=", $layer"; done
  cat >"$out/$name.plan.json" <<EOF
{"worldSize": $world, "pp": $pp, "schedule": "PIPELINE_SCHEDULE_1F1B", "microBatches": 2,
 "globalBatch": 8, "layers": [$layers],
 "embedding": {"vocabTp": $tp, "dpType": "$dp_type"}}
EOF
  echo "$out/$name.plan.json"
}

# train NAME NPROC DEVICE DTYPE PLAN [MODEL] [STEPS]: metrics in $out/NAME.metrics
train() {
  local name=$1 nproc=$2 dev=$3 dtype=$4 plan_file=$5 model=${6:-gpt-tiny} steps=${7:-5}
  rm -f "$out/$name.metrics"
  timeout 240 "$worker" launch --nproc "$nproc" -- train --plan "$plan_file" --model "$model" \
    --steps "$steps" --dtype "$dtype" --device "$dev" --metrics-out "$out/$name.metrics" \
    >"$out/$name.log" 2>&1
}

# compare NAME A B TOLERANCE: the largest relative per-step loss difference.
compare() {
  "$python" - "$out/$2.metrics" "$out/$3.metrics" "$4" <<'EOF'
import json, sys
a = [json.loads(l)["loss"] for l in open(sys.argv[1]) if l.strip()]
b = [json.loads(l)["loss"] for l in open(sys.argv[2]) if l.strip()]
tol = float(sys.argv[3])
if not a or len(a) != len(b):
    print(f"steps differ: {len(a)} vs {len(b)}"); sys.exit(1)
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
print(f"{len(a)} steps, max relative loss difference {worst:.2e} (limit {tol:g}); "
      f"last loss {a[-1]:.6f} vs {b[-1]:.6f}")
sys.exit(0 if worst <= tol else 1)
EOF
}

check() {  # NAME NPROC DTYPE PLAN REFERENCE TOLERANCE
  local name=$1
  train "$name" "$2" "$device" "$3" "$4"
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    report FAIL "$name" "training failed: $(why "$out/$name.log" $rc)"
    return
  fi
  local detail
  if detail=$(compare "$name" "$name" "$5" "$6"); then
    report PASS "$name" "$detail"
  else
    report FAIL "$name" "$detail"
  fi
}

one=$(plan one 1 1 1 DATA_PARALLEL_TYPE_DDP)

# --- NCCL probe ------------------------------------------------------------
backend=nccl
[[ $rehearsal -eq 1 ]] && backend=gloo
timeout 180 "$worker" launch --nproc "$gpus" -- probe --backend "$backend" \
  --out "$out/probe.json" --max-bytes $((64 << 20)) --repeats 5 >"$out/probe.log" 2>&1
rc=$?
if [[ $rc -eq 0 ]]; then
  report PASS probe "$backend over $gpus rank(s): $(wc -c <"$out/probe.json") bytes of profile"
else
  report FAIL probe "$backend over $gpus rank(s): $(why "$out/probe.log" $rc)"
fi

# --- compute profile -------------------------------------------------------
# gpt2-small on a GPU; the rehearsal's CPU takes gpt-tiny.
profile_model=gpt2-small
[[ $rehearsal -eq 1 ]] && profile_model=gpt-tiny
timeout 240 "$worker" profile --model "$profile_model" --device "$device" --micro-batches 1,2 \
  --tp-degrees 1 --out "$out/profile.json" --time-budget-seconds 200 >"$out/profile.log" 2>&1
rc=$?
if [[ $rc -eq 0 ]]; then
  report PASS profile "$profile_model on $device: $(grep -o '"measuredBy": "[^"]*"' "$out/profile.json" | head -1)"
else
  report FAIL profile "$profile_model on $device: $(why "$out/profile.log" $rc)"
fi

# --- one device against the CPU -------------------------------------------
if train cpu_fp32 1 cpu float32 "$one"; then
  check fp32_vs_cpu 1 float32 "$one" cpu_fp32 1e-4
  check bf16_vs_cpu 1 bfloat16 "$one" cpu_fp32 1e-2
  if [[ $rehearsal -eq 1 ]]; then
    report SKIP fp16 "float16 runs on CUDA only"
  else
    check fp16 1 float16 "$one" cpu_fp32 1e-2
  fi
else
  report FAIL cpu_fp32 "the CPU reference run failed: $(why "$out/cpu_fp32.log" 1)"
fi

# --- several devices against one ------------------------------------------
if [[ $gpus -ge 2 ]]; then
  if train one_fp32 1 "$device" float32 "$one" && train one_bf16 1 "$device" bfloat16 "$one"; then
    check tp2 2 float32 "$(plan tp2 2 1 2 DATA_PARALLEL_TYPE_DDP)" one_fp32 1e-5
    check dp2_zero3 2 float32 "$(plan dp2_zero3 2 1 1 DATA_PARALLEL_TYPE_ZERO3)" one_fp32 1e-5
    check pp2 2 float32 "$(plan pp2 2 2 1 DATA_PARALLEL_TYPE_DDP)" one_fp32 1e-5
    check tp2_bf16 2 bfloat16 "$(plan tp2_bf16 2 1 2 DATA_PARALLEL_TYPE_DDP)" one_bf16 1e-2
  else
    report FAIL one_gpu "the one-device reference runs failed (see $out/one_*.log)"
  fi
else
  report SKIP multi_gpu "tp2, dp2 ZeRO-3 and pp2 need 2 GPUs; this machine has $gpus"
fi

# --- throughput ------------------------------------------------------------
if [[ $rehearsal -eq 1 ]]; then
  report SKIP throughput "measured on GPUs only"
elif train throughput 1 "$device" bfloat16 "$(plan medium 1 1 1 DATA_PARALLEL_TYPE_DDP 24)" \
  gpt2-medium 20; then
  detail=$("$python" - "$out/throughput.metrics" <<'EOF'
import json, statistics, sys, torch
steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][5:]
tokens = statistics.median(s["tokensPerSecond"] for s in steps)
# gpt2-medium: 24 layers, hidden 1024, sequence 1024, vocabulary 50257.
layers, h, s, v = 24, 1024, 1024, 50257
flops_per_token = 6 * (12 * layers * h * h + v * h) + 6 * 2 * layers * h * s
name = torch.cuda.get_device_properties(0).name
peak = 989e12 if ("H100" in name or "H200" in name) else 312e12 if "A100" in name else None
mfu = f", MFU {tokens * flops_per_token / peak:.1%} of {peak / 1e12:.0f} TFLOP/s bf16" if peak else ""
print(f"gpt2-medium bf16, 1 GPU, global batch 8 x 1024: {tokens:,.0f} tokens/s{mfu} "
      f"(peak memory {max(s['peakMemoryBytes'] for s in steps) / 2**30:.1f} GiB)")
EOF
  )
  report PASS throughput "$detail"
else
  report FAIL throughput "$(why "$out/throughput.log" 1)"
fi

finish
