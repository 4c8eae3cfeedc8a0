#!/usr/bin/env bash
# Measured step time vs the cost model's prediction, on this machine.
#   tests/bench/predict/run.sh [NPROC] [STEPS]
# Measures this machine as NPROC CPU devices (galvatron-worker probe) and the
# model's layers (galvatron-worker profile), lets the search pick plans from
# those profiles — the best overall, and the best with some dimensions
# disabled — trains each for STEPS steps and compares the median step time
# (after 3 warm-up steps) with Plan.prediction.iteration_seconds.
# Needs a build (build/bin).
set -euo pipefail
cd "$(dirname "$0")/../../.."
nproc=${1:-4}
steps=${2:-15}
work=$(mktemp -d /tmp/galvatron-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
model=tests/bench/train/gpt-bench.json
bin=build/bin
threads=$(( $(nproc) / nproc )); (( threads >= 1 )) || threads=1
echo "probing $nproc CPU ranks and profiling the model ..." >&2
$bin/galvatron-worker launch --nproc "$nproc" -- probe --out "$work/hardware.json" --log-level warn
# CPU "devices" share the machine's caches and memory bandwidth: a layer
# runs slower while the other ranks compute too. Unless LOADED=0, the profile
# is measured with NPROC-1 more copies of the profiler running beside it, as
# the ranks will during training.
loaders=()
if [[ "${LOADED:-1}" != 0 ]]; then
  for ((i = 1; i < nproc; i++)); do
    $bin/galvatron-worker profile --model "$model" --out "$work/load-$i.json" --threads "$threads" \
      --repeats 50 --log-level warn &
    loaders+=($!)
  done
fi
$bin/galvatron-worker profile --model "$model" --out "$work/compute.json" --threads "$threads" \
  --log-level warn
for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
printf '%-34s %-58s %10s %10s %8s\n' "search" "plan" "predicted" "measured" "error"
for disable in "" "tp,sp,pp,sdp,ckpt" "pp,dp,sdp,ckpt" "tp,sp,dp,sdp,ckpt"; do
  name=${disable:-"(nothing disabled)"}
  args=(--model "$model" --hardware "$work/hardware.json" --compute "$work/compute.json"
        --memory 8GiB --global-batch 16 --json --quiet)
  [[ -n "$disable" ]] && args+=(--disable "$disable")
  if ! $bin/galvatron-planner search "${args[@]}" > "$work/plan.json" 2> "$work/search.err"; then
    printf '%-34s %s\n' "$name" "no plan: $(tail -1 "$work/search.err")"
    continue
  fi
  $bin/galvatron-worker launch --nproc "$nproc" -- train --plan "$work/plan.json" --model "$model" \
    --steps "$steps" --threads "$threads" --log-level warn --metrics-out "$work/m.jsonl"
  python3 - "$work/plan.json" "$work/m.jsonl" "$name" <<'PY'
import json, statistics, sys
plan = json.load(open(sys.argv[1]))
times = [float(json.loads(l)["stepSeconds"]) for l in open(sys.argv[2])][3:]
measured = statistics.median(times)
predicted = plan["prediction"]["iterationSeconds"]
layers = plan["layers"]
def short(l):
    s = f"tp{l.get('tp', 1)}"
    sp = l.get("sp", "")
    if "MEGATRON" in sp: s += "m"
    if "ULYSSES" in sp: s += "u"
    s += f"dp{l.get('dp', 1)}"
    t = l.get("dpType", "")
    if "ZERO" in t: s += "z" + t[-1]
    if l.get("checkpoint"): s += "c"
    return s
kinds = sorted(set(short(l) for l in layers))
desc = (f"pp{plan.get('pp', 1)} {plan.get('schedule', '').replace('PIPELINE_SCHEDULE_', '')} "
        f"m{plan.get('microBatches', 1)} layers {','.join(kinds)} "
        f"vtp{plan.get('embedding', {}).get('vocabTp', 1)}")
print(f"{sys.argv[3]:<34} {desc:<58} {predicted:9.4f}s {measured:9.4f}s "
      f"{(predicted - measured) / measured * 100:+7.1f}%")
PY
done
