#!/usr/bin/env bash
# Calibration benchmark: predicted vs measured step time of several plans,
# before and after a calibration fitted on some of them and judged on the
# others; then the plan the calibrated search picks, trained side by side
# with the fastest plan measured (alternate rounds of each).
#   tests/bench/calibrate/run.sh [NPROC] [STEPS] [ROUNDS]
# Measures this machine as NPROC CPU devices (galvatron-worker probe) and
# gpt-bench's layers (galvatron-worker profile, with NPROC-1 copies of the
# profiler beside it, as tests/bench/predict/run.sh explains), has the
# search pick a plan under several restrictions (each a different kind of
# plan), trains each ROUNDS times for STEPS steps (interleaved, so a busy
# spell of the machine hits several plans, not all rounds of one), and takes
# each round's median step time after the warm-up the planner uses for jobs
# (the first step, or the first tenth), and rank 0's median waits for
# communication (StepMetrics). bench_calibration fits the planner's
# calibration on the plans listed in FIT (default: one plan per dimension —
# ddp, megatron-tp, zero3, pp2-1f1b-m4 — four of the nine), reports every
# other choice of four too, and
# scores all of them; run-to-run spread = the largest relative difference
# between two rounds of one plan. Needs a build (build/bin, build/tests).
set -euo pipefail
cd "$(dirname "$0")/../../.."
nproc=${1:-2}
steps=${2:-20}
rounds=${3:-2}
work=${WORK:-$(mktemp -d /tmp/galvatron-calibrate-XXXXXX)}
mkdir -p "$work"
model=tests/bench/train/gpt-bench.json
bin=build/bin
threads=$(( $(nproc) / nproc )); (( threads >= 1 )) || threads=1
# Every per-rank micro-batch the plans below run (global batch 16 on 2
# ranks: 1 to 8 samples, also for a layer split over tp = 2), so that no
# plan's time is an extrapolation; 11 timed runs each, against the default
# 5, because the profile is taken under load.
micro_batches=1,2,4,8

echo "probing $nproc CPU ranks and profiling the model ..." >&2
$bin/galvatron-worker launch --nproc "$nproc" -- probe --out "$work/hardware.json" --log-level warn \
  --accept-noisy
loaders=()
for ((i = 1; i < nproc; i++)); do
  $bin/galvatron-worker profile --model "$model" --out "$work/load-$i.json" --threads "$threads" \
    --micro-batches "$micro_batches" --repeats 200 --log-level warn --accept-noisy &
  loaders+=($!)
done
$bin/galvatron-worker profile --model "$model" --out "$work/compute.json" --threads "$threads" \
  --micro-batches "$micro_batches" --repeats 11 --log-level warn --accept-noisy
for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done

# name | memory per device | extra search flags. Each restriction leaves a
# different best plan (the small budgets force ZeRO-3 and checkpointing).
cases=(
  "best|8GiB|"
  "ddp|8GiB|--disable tp,sp,pp,sdp,zero1,zero2,ckpt"
  "ddp-m4|8GiB|--disable tp,sp,pp,sdp,zero1,zero2,ckpt --micro-batches 4"
  "ulysses|8GiB|--disable tp,pp,dp,sdp,ckpt"
  "megatron-tp|8GiB|--disable pp,dp,sdp,ckpt,sp"
  "zero3|1.1GiB|--disable tp,sp,pp,zero1,zero2,ckpt"
  "zero2-ckpt|1.15GiB|--disable tp,sp,pp,sdp"
  "pp2-1f1b-m4|8GiB|--disable tp,sp,dp,sdp,ckpt --pipeline 1f1b --micro-batches 4"
  "pp2-gpipe-m8|8GiB|--disable tp,sp,dp,sdp,ckpt --pipeline gpipe --micro-batches 8"
)
search() {  # name, memory, flags...
  local name=$1 memory=$2; shift 2
  # shellcheck disable=SC2068
  $bin/galvatron-planner search --model "$model" --hardware "$work/hardware.json" \
    --compute "$work/compute.json" --memory "$memory" --global-batch 16 --json --quiet $@ \
    > "$work/plan-$name.json"
}
for c in "${cases[@]}"; do
  IFS='|' read -r name memory flags <<< "$c"
  # shellcheck disable=SC2086
  search "$name" "$memory" $flags
done

median_of() {  # metrics.jsonl -> "median spread steps comm-wait sync-wait"
  python3 - "$1" "$steps" <<'PY'
import json, statistics, sys
times = [float(json.loads(l)["stepSeconds"]) for l in open(sys.argv[1])]
total = int(sys.argv[2])
warm = total // 10 if total > 10 else 1
t = sorted(times[warm:])
med = statistics.median(t)
def q(p):
    k = (len(t) - 1) * p
    lo = int(k); hi = min(lo + 1, len(t) - 1)
    return t[lo] + (t[hi] - t[lo]) * (k - lo)
rows = [json.loads(l) for l in open(sys.argv[1])][warm:]
comm = statistics.median(float(r.get("communicationWaitSeconds", 0)) for r in rows)
sync = statistics.median(float(r.get("gradientSyncWaitSeconds", 0)) for r in rows)
print(f"{med:.6f} {(q(0.9) - q(0.1)) / med:.4f} {len(t)} {comm:.6f} {sync:.6f}")
PY
}
train() {  # name round -> prints "median spread steps comm-wait sync-wait"
  $bin/galvatron-worker launch --nproc "$nproc" -- train --plan "$work/plan-$1.json" --model "$model" \
    --steps "$steps" --threads "$threads" --log-level warn --metrics-out "$work/m-$1-$2.jsonl" >&2
  median_of "$work/m-$1-$2.jsonl"
}
declare -A result
names=()
for c in "${cases[@]}"; do names+=("${c%%|*}"); done
for ((r = 1; r <= rounds; r++)); do
  for n in "${names[@]}"; do
    echo "training $n (round $r) ..." >&2
    result[$n,$r]=$(train "$n" "$r")
  done
done

# One line per plan: the median over rounds of the round medians.
: > "$work/runs.tsv"
: > "$work/spread.tsv"
spread_report=""
for n in "${names[@]}"; do
  meds=(); spreads=(); comms=(); syncs=(); steps_total=0
  for ((r = 1; r <= rounds; r++)); do
    read -r m s k c w <<< "${result[$n,$r]}"
    meds+=("$m"); spreads+=("$s"); comms+=("$c"); syncs+=("$w"); steps_total=$((steps_total + k))
  done
  line=$(python3 - "${meds[*]}" "${spreads[*]}" "${comms[*]}" "${syncs[*]}" <<'PY'
import statistics, sys
m = [float(x) for x in sys.argv[1].split()]
s = [float(x) for x in sys.argv[2].split()]
c = [float(x) for x in sys.argv[3].split()]
w = [float(x) for x in sys.argv[4].split()]
rr = (max(m) - min(m)) / min(m)
print(f"{statistics.median(m):.6f} {max(s):.4f} {rr:.4f} {statistics.median(c):.6f} "
      f"{statistics.median(w):.6f}")
PY
)
  read -r med spread rr comm sync <<< "$line"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$work/plan-$n.json" "$med" "$spread" \
    "$steps_total" "$comm" "$sync" >> "$work/runs.tsv"
  spread_report+="$n: rounds ${meds[*]} s, run-to-run $rr"$'\n'
  echo "$n $rr" >> "$work/spread.tsv"
done
echo
echo "run-to-run (largest relative difference between rounds of one plan):"
printf '%s' "$spread_report"
echo
fit=${FIT:-1,4,5,7}
echo "## Fitted on step times alone"
build/tests/bench_calibration --model "$model" --hardware "$work/hardware.json" \
  --compute "$work/compute.json" --runs "$work/runs.tsv" --fit "$fit" --waits ignore
echo
echo "## Fitted on step times and the measured waits (what the planner does)"
build/tests/bench_calibration --model "$model" --hardware "$work/hardware.json" \
  --compute "$work/compute.json" --runs "$work/runs.tsv" --fit "$fit" --out "$work/calibration.json"

# The calibrated search over the whole space, trained and compared with the
# fastest plan measured.
search calibrated 8GiB --calibration "$work/calibration.json"
# The pick against the fastest plan measured above, side by side: trained
# alternately, round after round, so that whatever the machine does by now
# (it drifts by a few percent over the benchmark) hits both alike.
fastest=$(sort -t$'\t' -k3,3g "$work/runs.tsv" | head -1 | cut -f1)
cp "$work/plan-$fastest.json" "$work/plan-fastest.json"
for ((r = 1; r <= rounds; r++)); do
  echo "training the calibrated pick and $fastest side by side (round $r) ..." >&2
  result[calibrated,$r]=$(train calibrated "$r")
  result[fastest,$r]=$(train fastest "$r")
done
python3 - "$work" "$rounds" "${names[*]}" "$fastest" <<PY
import json, statistics, sys
work, rounds, names, fastest = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
spreads = {l.split()[0]: float(l.split()[1]) for l in open(f"{work}/spread.tsv")}
pick = json.load(open(f"{work}/plan-calibrated.json"))

def shape(plan):
    return (plan["layers"], plan.get("embedding"), plan.get("pp", 1), plan.get("microBatches"))

def medians(name):
    out = []
    for r in range(1, rounds + 1):
        t = [float(json.loads(l)["stepSeconds"]) for l in open(f"{work}/m-{name}-{r}.jsonl")]
        warm = len(t) // 10 if len(t) > 10 else 1
        out.append(statistics.median(t[warm:]))
    return out

same = [n for n in names if shape(json.load(open(f"{work}/plan-{n}.json"))) == shape(pick)]
mine, theirs = medians("calibrated"), medians("fastest")
ratio = [a / b - 1 for a, b in zip(mine, theirs)]
m = statistics.median(ratio)
print()
print(f"calibrated pick: predicted {pick['prediction']['iterationSeconds']:.4f} s "
      f"(uncalibrated {pick['rawPrediction']['iterationSeconds']:.4f} s)"
      + (f"; the same plan as {', '.join(same)}" if same else "; a plan not measured above"))
print(f"side by side with the fastest plan measured above ({fastest}), {rounds} rounds: "
      f"pick {', '.join(f'{x:.4f}' for x in mine)} s, {fastest} "
      f"{', '.join(f'{x:.4f}' for x in theirs)} s")
s = sorted(spreads.values())
print(f"the pick is {100 * m:+.1f} % from it (median of the rounds; each round "
      f"{', '.join(f'{100 * x:+.1f} %' for x in ratio)}); run-to-run spread of the plans above "
      f"{100 * s[0]:.1f} .. {100 * s[-1]:.1f} %, median {100 * statistics.median(s):.1f} %, "
      f"{fastest}'s own {100 * spreads[fastest]:.1f} %")
PY
echo "work dir: $work" >&2
