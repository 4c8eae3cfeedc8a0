#!/usr/bin/env bash
# ZeRO-3 model-state memory per rank vs DDP's, on the same GPT, ranks and batch.
#   tests/bench/zero3/run.sh [NPROC] [STEPS]
# Target: ZeRO-3's model states (parameters, gradients, AdamW states held by
# rank 0 after the optimizer step: StepMetrics.model_state_bytes) ≤ 1/dp of
# DDP's + 10%. Peak RSS (which includes LibTorch itself and activations) is
# printed beside it. Needs a build (build/bin).
set -euo pipefail
cd "$(dirname "$0")/../../.."
nproc=${1:-4}
steps=${2:-3}
work=$(mktemp -d /tmp/galvatron-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
model=tests/bench/train/gpt-bench.json
for type in DDP ZERO3; do
  python3 - "$nproc" "$type" > "$work/$type.json" <<'PY'
import json, sys
n, t = int(sys.argv[1]), "DATA_PARALLEL_TYPE_" + sys.argv[2]
print(json.dumps({"worldSize": n, "pp": 1, "microBatches": 1, "globalBatch": 4 * n,
                  "layers": [{"tp": 1, "dp": n, "dpType": t}] * 4,
                  "embedding": {"vocabTp": 1, "dpType": t}}))
PY
  build/bin/galvatron-worker launch --nproc "$nproc" -- train --plan "$work/$type.json" \
    --model "$model" --steps "$steps" --log-level warn --metrics-out "$work/$type.jsonl"
done
python3 - "$work" "$nproc" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
def last(t):
    return [json.loads(l) for l in open(f"{work}/{t}.jsonl")][-1]
ddp, z3 = last("DDP"), last("ZERO3")
ms_ddp, ms_z3 = int(ddp["modelStateBytes"]), int(z3["modelStateBytes"])
ratio = ms_z3 / (ms_ddp / n)
print(f"dp {n}: DDP model states {ms_ddp / 2**20:.2f} MiB, ZeRO-3 {ms_z3 / 2**20:.2f} MiB "
      f"= {ratio:.3f} x (DDP / dp); target <= 1.10 -> {'met' if ratio <= 1.10 else 'MISSED'}")
print(f"peak RSS: DDP {int(ddp['peakMemoryBytes']) / 2**20:.0f} MiB, "
      f"ZeRO-3 {int(z3['peakMemoryBytes']) / 2**20:.0f} MiB")
print(f"loss after the last step: DDP {ddp['loss']:.6f}, ZeRO-3 {z3['loss']:.6f}")
PY
