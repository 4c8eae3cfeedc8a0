#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer on) and runs each for a bounded time, starting
# from its seeds, the inputs that once crashed it, and the corpus earlier runs
# grew (kept in the build directory). docs/fuzzing.md.
#
#   scripts/fuzz.sh [--seconds N] [--build-only] [TARGET...]
#
# Default: every target for 20 s. Exit 0 when no target crashed, 1 when one
# did (the input is saved under BUILD/crashes/TARGET/; add it to
# tests/fuzz/regressions/TARGET/ once fixed), 2 when it cannot run (no clang).
# GALVATRON_FUZZ_BUILD_DIR overrides the build directory (build-fuzz).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${GALVATRON_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=20
build_only=0
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "fuzz.sh: --seconds $seconds, expected a positive whole number" >&2
  exit 2
fi
if ! command -v clang++ >/dev/null || ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang not found (apt-get install clang)" >&2
  exit 2
fi
all=(fuzz_json_messages fuzz_galvatron_files fuzz_token_file fuzz_indexed_dataset)
if [[ ${#targets[@]} -eq 0 ]]; then targets=("${all[@]}"); fi

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DGALVATRON_FUZZ=ON -DGALVATRON_WITH_TORCH=OFF -DGALVATRON_WITH_CUDA=OFF >/dev/null
fi
start=$(date +%s)
cmake --build "$build" -j "${GALVATRON_BUILD_JOBS:-$(nproc)}" --target "${targets[@]}"
echo "fuzz.sh: built ${targets[*]} in $(( $(date +%s) - start )) s"
if (( build_only )); then exit 0; fi

failed=()
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  crashes="$build/crashes/$target"
  mkdir -p "$corpus" "$crashes"
  inputs=("$corpus" "$root/tests/fuzz/seeds/$target")
  if [[ -d "$root/tests/fuzz/regressions/$target" ]]; then
    inputs+=("$root/tests/fuzz/regressions/$target")
  fi
  echo "fuzz.sh: $target for ${seconds} s"
  # New inputs go to the first directory (the corpus); seeds stay as they are.
  if ! "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$crashes/" "${inputs[@]}" \
       >"$build/$target.log" 2>&1; then
    echo "fuzz.sh: $target FAILED; its input is in $crashes/, the log in $build/$target.log:" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$build/$target.log" | head -20 >&2
    failed+=("$target")
  else
    grep -E "stat::number_of_executed_units|cov:" "$build/$target.log" | tail -2 | sed 's/^/  /'
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: crashed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]} (${seconds} s each)"
