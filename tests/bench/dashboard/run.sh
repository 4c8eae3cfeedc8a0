#!/usr/bin/env bash
# The dashboard at cluster scale: a planner holding 1,000 nodes, 1,000 plans
# and a job of 100,000 steps (bench_dashboard_seed), the dashboard in front
# of it, and each page timed in headless Chromium (measure.py).
#
#   tests/bench/dashboard/run.sh [--nodes N] [--plans M] [--steps S] [--runs R]
# Needs a build (scripts/build.sh) and scripts/install-deps.sh's Chromium.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=${GALVATRON_BUILD_DIR:-$root/build}
nodes=1000 plans=1000 steps=100000 runs=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --plans) plans=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /tmp/galvatron-dashboard-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Nodes and the job's agents stay alive without heartbeats for the run.
"$bin/bin/galvatron-planner" --db "$work/planner.db" --listen 127.0.0.1:0 \
  --ready-file "$work/planner.ready" --node-timeout-ms 3600000 --log-level warn \
  2> "$work/planner.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/planner.ready ]] && break; sleep 0.1; done
planner=$(head -1 "$work/planner.ready")
start=$(date +%s)
"$bin/tests/bench_dashboard_seed" "$planner" --nodes "$nodes" --plans "$plans" \
  --steps "$steps" > "$work/seed.out"
echo "seeded in $(( $(date +%s) - start )) s: $nodes nodes, $plans plans, a job of $steps steps" >&2
plan=$(sed -n 's/^plan=//p' "$work/seed.out")
job=$(sed -n 's/^job=//p' "$work/seed.out")
"$bin/bin/galvatron-dashboard" --planner "$planner" --listen 127.0.0.1:0 \
  --ready-file "$work/dashboard.ready" --log-level warn 2> "$work/dashboard.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/dashboard.ready ]] && break; sleep 0.1; done
/usr/bin/python3 "$root/tests/bench/dashboard/measure.py" --url "$(head -1 "$work/dashboard.ready")" \
  --plan "$plan" --job "$job" --runs "$runs"
