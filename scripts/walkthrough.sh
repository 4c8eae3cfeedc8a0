#!/usr/bin/env bash
# The walkthrough (scripts/demo.sh is the job flow): install dependencies,
# build, start a planner on a scratch database and walk through the CLI
# (catalog, model submission, hardware profile import, listing, plan search),
# then an agent that probes this machine and profiles a model's layers for a
# plan, and finally training by hand with the workers: the plan the search
# picked, then a hand-written hybrid plan, on CPU ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
bin="$PWD/${GALVATRON_BUILD_DIR:-build}/bin"

work=$(mktemp -d /tmp/galvatron-demo-XXXXXX)
planner_pid=""
cleanup() {
  if [[ -n $planner_pid ]] && kill -0 "$planner_pid" 2>/dev/null; then
    kill -TERM "$planner_pid"
    wait "$planner_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Start the planner on a scratch database (port chosen by the OS)"
"$bin/galvatron-planner" --db "$work/planner.db" --listen 127.0.0.1:0 \
  --ready-file "$work/ready" --log-level error &
planner_pid=$!
for _ in $(seq 1 200); do [[ -s $work/ready ]] && break; sleep 0.1; done
[[ -s $work/ready ]] || { echo "planner did not start"; exit 1; }
export GALVATRON_PLANNER=$(cat "$work/ready")
echo "planner at $GALVATRON_PLANNER"
g="$bin/galvatron"

step "The built-in model catalog"
run "$g" models list
step "One catalog model in detail"
run "$g" models show llama2-7b
step "Submit a custom model (examples/gpt-small-wide.json), twice: versions 1 and 2"
run "$g" models submit examples/gpt-small-wide.json
run "$g" models submit examples/gpt-small-wide.json
run "$g" models list --stored-only
step "Bad input is refused with the field, the value and what was expected"
sed 's/"heads": 12/"heads": 7/' examples/gpt-small-wide.json > "$work/bad.json"
run "$g" models submit "$work/bad.json" || true
step "Import a hardware profile and look at it"
run "$g" profiles import examples/a100x8.hardware.json
run "$g" profiles list
run "$g" profiles show hw-a100x8-1
step "Search a plan offline from Galvatron's own LLaMA-2-7B profiles (8 x A100, 36 GiB), Galvatron's cost model"
run "$bin/galvatron-planner" search --model llama2-7b --hardware tests/data/galvatron \
  --num-nodes 1 --gpus-per-node 8 --compute tests/data/galvatron --time-profile-mode batch \
  --memory 36GiB --global-batch 16..64:16 --seq 2048 --mode galvatron \
  --galvatron-config-out "$work/galvatron_config.json"
echo "(Galvatron strategy file written to $work/galvatron_config.json)"
step "The same search with our cost model and the extended space (ZeRO-1/2, 1F1B, balanced partitions)"
run "$bin/galvatron-planner" search --model llama2-7b --hardware tests/data/galvatron \
  --num-nodes 1 --gpus-per-node 8 --compute tests/data/galvatron --time-profile-mode batch \
  --memory 36GiB --global-batch 16..64:16 --seq 2048 --quiet
step "Ask the planner for a plan (no compute profile stored yet: an analytic estimate); asking again returns the stored plan"
run "$g" plan --model gpt2-medium --cluster a100x8 --memory 40GiB --global-batch 32..128:32
run "$g" plans list
step "An agent registers this machine as a node with 2 CPU devices"
"$bin/galvatron-agent" --planner "$GALVATRON_PLANNER" --cluster demo --devices cpu:2 \
  --advertise-host 127.0.0.1 --work-dir "$work/agent" \
  --ready-file "$work/agent-ready" --log-level critical &
agent_pid=$!
for _ in $(seq 1 100); do [[ -s $work/agent-ready ]] && break; sleep 0.1; done
run "$g" nodes list
step "The agent probes the interconnect: one galvatron-worker per device, Gloo (progress on stderr)"
run "$g" profiles probe --cluster demo --galvatron-out "$work/galvatron-hardware"
ls "$work/galvatron-hardware"
step "Plan llama-tiny on the node: the agent profiles its layers first, then the search uses only what was measured"
run "$g" plan --model llama-tiny --cluster demo --memory 4GiB --global-batch 8
run "$g" tasks list
run "$g" profiles list --cluster demo
step "A task that cannot finish in its time budget fails with the reason; the agent keeps serving"
run "$g" profiles measure --model gpt-tiny --cluster demo --time-budget 0.001 || true
kill -TERM "$agent_pid"; wait "$agent_pid" || true
step "Train llama-tiny with the plan the search picked: 2 ranks on Gloo, 20 steps, metrics as JSON lines"
"$g" --json plan --model llama-tiny --cluster demo --memory 4GiB --global-batch 8 > "$work/plan.json"
run "$bin/galvatron-worker" launch --nproc 2 -- train --plan "$work/plan.json" --model llama-tiny \
  --steps 20 --metrics-out "$work/metrics.jsonl" --checkpoint-dir "$work/ckpt"
tail -2 "$work/metrics.jsonl"
step "A hybrid plan on 4 ranks: 2 pipeline stages (1F1B); per layer Megatron TP + SP with ZeRO-3 and checkpointing, Ulysses, ZeRO-1/2; vocab-parallel head"
cat > "$work/hybrid.json" <<'JSON'
{"worldSize": 4, "pp": 2, "schedule": "PIPELINE_SCHEDULE_1F1B", "microBatches": 4, "globalBatch": 8,
 "layers": [
  {"tp": 2, "sp": "SEQUENCE_PARALLEL_MEGATRON", "dp": 1, "dpType": "DATA_PARALLEL_TYPE_ZERO3", "checkpoint": true},
  {"tp": 1, "dp": 2, "dpType": "DATA_PARALLEL_TYPE_ZERO1"},
  {"tp": 2, "sp": "SEQUENCE_PARALLEL_ULYSSES", "dp": 1, "dpType": "DATA_PARALLEL_TYPE_DDP"},
  {"tp": 1, "dp": 2, "dpType": "DATA_PARALLEL_TYPE_ZERO2", "checkpoint": true}],
 "embedding": {"vocabTp": 2, "dpType": "DATA_PARALLEL_TYPE_ZERO3"}}
JSON
run "$bin/galvatron-worker" launch --nproc 4 -- train --plan "$work/hybrid.json" --model gpt-tiny \
  --steps 20
step "Machine-readable output"
run "$g" --json models show gpt-tiny | head -20
step "Restart the planner: the data is still there"
kill -TERM "$planner_pid"; wait "$planner_pid" || true
rm -f "$work/ready"
"$bin/galvatron-planner" --db "$work/planner.db" --listen 127.0.0.1:0 \
  --ready-file "$work/ready" --log-level error &
planner_pid=$!
for _ in $(seq 1 200); do [[ -s $work/ready ]] && break; sleep 0.1; done
export GALVATRON_PLANNER=$(cat "$work/ready")
run "$g" models list --stored-only
run "$g" plans list
echo
echo "Walkthrough done. scripts/demo.sh is the job flow: the planner has two agents profile, plans,"
echo "and has them train, checkpoint and export. Not built yet: NCCL training on GPUs and the web"
echo "dashboard."
