#!/usr/bin/env bash
# The demo: a training job on this machine, from nothing to an exported model.
# Installs what is missing, builds, starts a planner (its database in
# ./.galvatron/) and two agents -- two "nodes" of cluster "demo" sharing this
# machine's cores as CPU devices -- and submits a job for gpt-tiny, then
# follows it: the agents probe the interconnect and profile the model's layers
# (PROFILING), the planner searches a per-layer plan, the agents train it
# (loss and throughput each step), and the job ends with its predicted against
# measured step time, its checkpoint and the model exported as safetensors.
#
#   scripts/demo.sh                 # stops everything it started at the end or on Ctrl-C
#   scripts/demo.sh --keep-running  # planner and agents stay up: how to use and stop them is printed
#   scripts/demo.sh --stop          # stops what --keep-running left running
#
# Each run starts from an empty ./.galvatron/ (logs, work dirs, checkpoints and
# the exported model stay there afterwards). scripts/walkthrough.sh is the
# longer tour: the CLI, the offline search, training with the workers by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state=$root/.galvatron
pids_file=$state/pids # one process-group leader a line: the planner, the agents, the dashboard

keep_running=0
stop_only=0
for arg in "$@"; do
  case $arg in
    --keep-running) keep_running=1 ;;
    --stop) stop_only=1 ;;
    -h | --help)
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "demo.sh: unknown argument '$arg' (expected --keep-running, --stop or --help)" >&2
      exit 2
      ;;
  esac
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
  printf '$ %s\n' "$*"
  "$@"
}

# True while process `pid` runs (a zombie child of this shell is reaped).
alive() {
  local pid=$1 stat
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  if [[ ${stat:0:1} == Z ]]; then
    wait "$pid" 2>/dev/null || true
    return 1
  fi
}

# Processes whose command line mentions $state/ (planner, agents, workers).
leftovers() {
  local dir pid cmdline
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid == "$$" ]] && continue
    cmdline=$({ tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null) || continue
    if [[ $cmdline == *galvatron* && $cmdline == *"$state/"* ]] && alive "$pid"; then
      echo "$pid"
    fi
  done
}

# Stops the process groups in $pids_file, agents first (SIGTERM stops their
# workers), then the planner; SIGKILL for a group still there after 20 s.
stop_all() {
  [[ -f $pids_file ]] || return 0
  local pids=() i pid deadline
  mapfile -t pids <"$pids_file"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    [[ $pid =~ ^[0-9]+$ ]] || continue
    alive "$pid" || continue
    kill -TERM -- "-$pid" 2>/dev/null || true
    deadline=$((SECONDS + 20))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if alive "$pid"; then
      echo "demo.sh: process group $pid still there after 20 s; SIGKILL" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done
  rm -f "$pids_file"
  # Workers stop with their agent; anything left (it should not be) goes too.
  local left
  for _ in $(seq 1 50); do
    left=$(leftovers)
    [[ -z $left ]] && return 0
    sleep 0.2
  done
  echo "demo.sh: still running after their agents stopped, killed: ${left//$'\n'/ }" >&2
  for pid in $left; do kill -KILL "$pid" 2>/dev/null || true; done
}

if ((stop_only)); then
  if [[ ! -f $pids_file ]]; then
    echo "demo.sh: nothing to stop (no $pids_file)"
    exit 0
  fi
  stop_all
  echo "demo.sh: stopped the planner and the agents"
  exit 0
fi

if [[ -f $pids_file ]]; then
  while read -r pid; do
    if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
      echo "demo.sh: a demo is still running (--keep-running); stop it first: scripts/demo.sh --stop" >&2
      exit 1
    fi
  done <"$pids_file"
fi

finished=0
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if ((keep_running && finished)); then exit "$code"; fi
  if [[ -f $pids_file ]]; then
    echo
    echo "demo.sh: stopping the agents and the planner"
    stop_all
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'echo; echo "demo.sh: interrupted"; exit 130' INT TERM

# Diagnostics, then a non-zero exit (which stops everything).
fail() {
  echo "demo.sh: $*" >&2
  if [[ -n ${job:-} ]]; then "$g" jobs show "$job" >&2 || true; fi
  local log
  for log in "$state"/planner.log "$state"/node-*.log; do
    [[ -f $log ]] || continue
    echo "--- last lines of $log" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}

scripts/install-deps.sh
scripts/build.sh
bin=$root/${GALVATRON_BUILD_DIR:-build}/bin
g=$bin/galvatron
export PATH="$bin:$PATH"

rm -rf "$state"
mkdir -p "$state"

step "Start the planner (database $state/planner.db, port chosen by the OS)"
setsid "$bin/galvatron-planner" --db "$state/planner.db" --listen 127.0.0.1:0 \
  --ready-file "$state/planner.ready" --log-level info >"$state/planner.log" 2>&1 </dev/null &
echo $! >>"$pids_file"
for _ in $(seq 1 200); do
  [[ -s $state/planner.ready ]] && break
  sleep 0.1
done
[[ -s $state/planner.ready ]] || fail "the planner did not start"
GALVATRON_PLANNER=$(<"$state/planner.ready")
export GALVATRON_PLANNER
echo "planner at $GALVATRON_PLANNER (log $state/planner.log)"

# The cores shared out over two nodes, at least one device each.
cores=$(nproc)
devices_a=$(((cores + 1) / 2))
devices_b=$((cores / 2 > 0 ? cores / 2 : 1))
step "Start two agents: nodes node-a (cpu:$devices_a) and node-b (cpu:$devices_b) of cluster demo, $cores cores in all"
for node in node-a node-b; do
  devices=$devices_a
  [[ $node == node-b ]] && devices=$devices_b
  setsid "$bin/galvatron-agent" --planner "$GALVATRON_PLANNER" --cluster demo --node-name "$node" \
    --devices "cpu:$devices" --cores "$devices" --advertise-host 127.0.0.1 --work-dir "$state/$node" \
    --ready-file "$state/$node.ready" --log-level info >"$state/$node.log" 2>&1 </dev/null &
  echo $! >>"$pids_file"
done
for node in node-a node-b; do
  for _ in $(seq 1 200); do
    [[ -s $state/$node.ready ]] && break
    sleep 0.1
  done
  [[ -s $state/$node.ready ]] || fail "agent $node did not register"
done
run "$g" nodes list --cluster demo

# The web UI, stopped first (it is the last in $pids_file): port 8080 when it
# is free, else one the OS picks.
step "Start the dashboard (the web UI of the planner)"
for listen in 127.0.0.1:8080 127.0.0.1:0; do
  rm -f "$state/dashboard.ready"
  setsid "$bin/galvatron-dashboard" --planner "$GALVATRON_PLANNER" --listen "$listen" \
    --ready-file "$state/dashboard.ready" >"$state/dashboard.log" 2>&1 </dev/null &
  dashboard_pid=$!
  for _ in $(seq 1 100); do
    [[ -s $state/dashboard.ready ]] && break
    alive "$dashboard_pid" || break
    sleep 0.1
  done
  if [[ -s $state/dashboard.ready ]]; then
    echo $dashboard_pid >>"$pids_file"
    break
  fi
done
[[ -s $state/dashboard.ready ]] || fail "the dashboard did not start (log $state/dashboard.log)"
dashboard_url=$(<"$state/dashboard.ready")
echo "dashboard at $dashboard_url: open it to watch the job below (its page updates as it trains)"

# Training data the loss can fall on: token ids counting 0..511 over and over
# as little-endian uint16 (a raw token file; the next token is always the
# last one + 1). The default synthetic tokens are random: their loss stays
# at ln(512) = 6.24 whatever the model learns.
pattern=""
for ((i = 0; i < 512; i++)); do
  printf -v pair '\\x%02x\\x%02x' $((i & 255)) $((i >> 8))
  pattern+=$pair
done
# Four samples a device (8 on 2 cores): pure data parallelism always fits,
# whatever the number of devices.
batch=$((4 * (devices_a + devices_b)))
repeats=$((batch / 4 + 48)) # at least two batches of 65-token samples
for ((i = 0; i < repeats; i++)); do printf '%b' "$pattern"; done >"$state/tokens.bin"

step "Submit a job: gpt-tiny, 40 steps of global batch $batch in float32, a checkpoint every 10 steps, the model exported at the end"
echo "(data: $state/tokens.bin, token ids counting 0..511 again and again, which the model can learn)"
submit=("$g" jobs submit --model gpt-tiny --cluster demo --memory 4GiB --global-batch "$batch" --steps 40
  --dtype float32 --lr 1e-2 --data "$state/tokens.bin" --checkpoint-every 10 --export)
printf '$ %s\n' "${submit[*]}"
job=$("${submit[@]}") || fail "the job was not accepted"
echo "$job"

# A top-level field of the job, from its JSON (one key a line, one space in).
job_field() {
  "$g" --json jobs show "$job" | sed -n "s/^ \"$1\": \"\{0,1\}\([^\"]*\)\"\{0,1\},\{0,1\}\$/\1/p"
}
job_task_ids() {
  "$g" --json jobs show "$job" | sed -n '/^ "taskIds": \[/,/^ \]/s/^  "\(task-[0-9]*\)",\{0,1\}$/\1/p'
}

step "PENDING -> PROFILING: the planner has the agents measure what a plan lacks"
deadline=$((SECONDS + 600))
seen=""
while :; do
  job_state=$(job_field state)
  case $job_state in
    JOB_STATE_PENDING | JOB_STATE_PROFILING) ;;
    JOB_STATE_FAILED | JOB_STATE_CANCELLED) fail "the job ended while profiling" ;;
    *) break ;;
  esac
  for task in $(job_task_ids); do
    [[ " $seen " == *" $task "* ]] && continue
    seen="$seen $task"
    run "$g" tasks wait "$task" || fail "$task did not succeed"
  done
  ((SECONDS < deadline)) || fail "the job is still $job_state after 10 minutes"
  sleep 0.5
done
run "$g" tasks list --cluster demo
run "$g" profiles list --cluster demo

step "The plan the search picked for the job's devices: one strategy per layer"
plan=$(job_field planId)
[[ -n $plan ]] || fail "the job has no plan"
run "$g" plans show "$plan"

step "Training: every step as rank 0 reports it (loss, time, throughput), until the job ends"
run "$g" jobs metrics "$job" --follow || fail "following the job's metrics failed"

step "The job: predicted against measured step time, the checkpoint, the exported model"
code=0
"$g" jobs wait "$job" >/dev/null 2>&1 || code=$?
run "$g" jobs show "$job"
((code == 0)) || fail "the job did not succeed (jobs wait exited $code)"

step "Where the files are (no shared filesystem: each node keeps its own ranks' shards)"
for node in node-a node-b; do
  ckpt=$state/$node/checkpoints/$job
  [[ -d $ckpt ]] || continue
  echo "checkpoints on $node: $ckpt/$(cd "$ckpt" && echo step-*)"
done
model=$("$g" --json jobs show "$job" | sed -n '/^ "exportedModel": {/,/^ }/s/^  "path": "\(.*\)",\{0,1\}$/\1/p')
[[ -n $model && -f $model ]] || fail "the job reports no exported model"
run ls -l "$model"
# safetensors: an 8-byte little-endian header length, then that much JSON.
header_bytes=$(od -A n -t u8 -N 8 "$model" | tr -d ' ')
header=$(head -c $((8 + header_bytes)) "$model" | tail -c "$header_bytes")
tensors=$(grep -o '"data_offsets"' <<<"$header" | wc -l)
echo "a safetensors file: a $header_bytes-byte JSON header, $tensors tensors under Hugging Face's GPT-2 names; layer 0's:"
grep -o '"transformer\.h\.0\.[a-z_.0-9]*"' <<<"$header" | tr '\n' ' ' | fold -s -w 96 | sed 's/^/  /' || true
echo

step "What the planner learned: the job's measured step time calibrates the cluster's cost model"
echo "(a job whose steps varied too much is kept on record but not fitted; see docs/calibration.md)"
run "$g" calibration show demo || true
echo "The next plan for the same request: calibrated (prediction beside the uncalibrated one) once a job was fitted:"
run "$g" plan --model gpt-tiny --cluster demo --memory 4GiB --global-batch "$batch" || true

finished=1
if ((keep_running)); then
  step "The planner and the agents keep running (--keep-running)"
  cat <<EOF
Talk to them:
  export GALVATRON_PLANNER=$GALVATRON_PLANNER PATH="$bin:\$PATH"
  galvatron jobs list
  galvatron jobs submit --model llama-tiny --cluster demo --memory 4GiB --steps 40 --lr 1e-2 \\
      --data $state/tokens.bin --export --follow
  galvatron nodes list; galvatron plans list; galvatron profiles list --cluster demo
Watch them: $dashboard_url
Logs: $state/planner.log, $state/node-a.log, $state/node-b.log, $state/dashboard.log
Stop them:
  scripts/demo.sh --stop
  (by hand: kill -TERM -- -PGID for the process groups, agents first: $(tac "$pids_file" | tr '\n' ' '))
EOF
else
  echo
  echo "Demo done: job $job trained and exported $model."
  echo "Run with --keep-running to keep the planner and agents up; scripts/walkthrough.sh is the longer tour."
fi
