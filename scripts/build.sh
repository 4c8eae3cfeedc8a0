#!/usr/bin/env bash
# Configures and builds into build/ (binaries in build/bin). Extra arguments go
# to CMake's configure step, e.g. -DGALVATRON_WITH_TORCH=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${GALVATRON_BUILD_DIR:-build}
jobs=${GALVATRON_JOBS:-$(nproc)}
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
elif [[ $# -gt 0 ]]; then
  cmake -S . -B "$build_dir" "$@"
fi
cmake --build "$build_dir" -j "$jobs"
