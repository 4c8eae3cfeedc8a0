#!/usr/bin/env bash
# Training throughput on CPU: galvatron-worker (dp2, DDP) vs PyTorch DDP
# (Debian's python3-torch, Gloo) on the same GPT, processes and batch.
#   tests/bench/train/run.sh [NPROC] [STEPS]
# Needs a build (build/bin) and Debian's python3-torch at /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/../../.."
nproc=${1:-2}
steps=${2:-30}
work=$(mktemp -d /tmp/galvatron-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
model=tests/bench/train/gpt-bench.json
python3 - "$nproc" > "$work/plan.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"worldSize": n, "pp": 1, "microBatches": 1, "globalBatch": 16,
                  "layers": [{"tp": 1, "dp": n, "dpType": "DATA_PARALLEL_TYPE_DDP"}] * 4,
                  "embedding": {"vocabTp": 1, "dpType": "DATA_PARALLEL_TYPE_DDP"}}))
PY
build/bin/galvatron-worker launch --nproc "$nproc" -- train --plan "$work/plan.json" \
  --model "$model" --steps "$steps" --grad-clip 1 --log-level warn --metrics-out "$work/m.jsonl"
python3 - "$work/m.jsonl" <<'PY'
import json, statistics, sys
rates = [json.loads(l)["tokensPerSecond"] for l in open(sys.argv[1])][5:]
print(f"galvatron tokens_per_second {statistics.median(rates):.1f}")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
for ((r = 0; r < nproc; r++)); do
  MASTER_ADDR=127.0.0.1 MASTER_PORT=$port RANK=$r WORLD_SIZE=$nproc \
    /usr/bin/python3 tests/bench/train/ddp.py --model "$model" --steps "$steps" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
