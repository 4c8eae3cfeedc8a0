#!/usr/bin/env bash
# Planner load benchmark on loopback: starts a planner (fresh database, bearer
# tokens for CALLERS callers), runs bench_planner_load with CLIENTS clients
# for SECONDS seconds (cheap calls, stored plans and new searches mixed), then
# reports the planner's peak RSS (VmHWM) and stops it.
#   tests/bench/planner_load/run.sh [CLIENTS] [SECONDS] [CALLERS] [-- PLANNER FLAGS...]
# Needs a build (build/bin/galvatron-planner, build/tests/bench_planner_load).
set -euo pipefail
cd "$(dirname "$0")/../../.."
clients=${1:-50}
seconds=${2:-60}
callers=${3:-10}
shift $(( $# < 3 ? $# : 3 ))
[[ "${1:-}" == "--" ]] && shift
work=$(mktemp -d /tmp/galvatron-load-XXXXXX)
planner_pid=
cleanup() {
  if [[ -n "$planner_pid" ]] && kill -0 "$planner_pid" 2>/dev/null; then
    kill -TERM "$planner_pid"
    wait "$planner_pid" || true
  fi
}
trap cleanup EXIT

{
  echo "admin setup load-bench-admin-token-0123456789"
  for ((i = 0; i < callers; i++)); do
    printf 'user caller%02d load-bench-token-%02d-0123456789\n' "$i" "$i"
  done
} > "$work/tokens"
awk '{print $2, $3}' "$work/tokens" > "$work/callers"

build/bin/galvatron-planner --db "$work/planner.db" --listen 127.0.0.1:0 \
  --auth-tokens "$work/tokens" --ready-file "$work/address" --log-level warn "$@" \
  2> "$work/planner.log" &
planner_pid=$!
for _ in $(seq 200); do
  [[ -s "$work/address" ]] && break
  kill -0 "$planner_pid" 2>/dev/null || { cat "$work/planner.log" >&2; exit 1; }
  sleep 0.1
done
address=$(cat "$work/address")
echo "planner $address (pid $planner_pid), $clients clients, $seconds s, $callers callers" >&2

status=0
build/tests/bench_planner_load --planner "$address" --tokens "$work/callers" \
  --clients "$clients" --seconds "$seconds" || status=$?
grep -E '^(VmHWM|VmRSS|Threads)' "/proc/$planner_pid/status"
echo "planner log: $work/planner.log ($(grep -c . "$work/planner.log" || true) lines)"
exit "$status"
