#!/usr/bin/env bash
# Checks the worker's libraries built from source with the pre-C++11
# std::string ABI, without a LibTorch that has it: fetches the sources
# (scripts/fetch-worker-sources.sh) unless DIR holds them, configures a
# worker-only build with -DGALVATRON_WITH_TORCH=OFF -DGALVATRON_CXX11_ABI=0,
# builds the libraries and this project's protos and common code, then links
# and runs tests/build/old_abi_smoke.cc against them: it parses and prints a
# plan, refuses a bad one, and the binary must hold no C++11-ABI symbol.
# Needs network (the first time) and about 12 minutes on 2 cores; not in CI.
#
# Usage: scripts/check-worker-sources.sh [DIR]   (DIR: worker-sources)
# Environment: GALVATRON_BUILD_DIR (build-old-abi), GALVATRON_JOBS (nproc).
set -euo pipefail
if [[ $# -eq 1 ]]; then
  mkdir -p "$1"
  sources=$(cd "$1" && pwd)
fi
cd "$(dirname "$0")/.."
sources=${sources:-$PWD/worker-sources}
build=${GALVATRON_BUILD_DIR:-build-old-abi}
jobs=${GALVATRON_JOBS:-$(nproc)}

if [[ ! -f $sources/SOURCES ]]; then
  scripts/fetch-worker-sources.sh "$sources"
fi
mkdir -p "$build"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DGALVATRON_WORKER_ONLY=ON \
  -DGALVATRON_WORKER_SOURCES="$sources" -DGALVATRON_WITH_TORCH=OFF -DGALVATRON_CXX11_ABI=0 \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
grep -m1 "Worker libraries from source" "$build/configure.log"
cmake --build "$build" -j "$jobs" --target galvatron_common galvatron_proto

deps=$build/_deps
mapfile -t libraries < <(find "$deps/protobuf" "$deps/abseil" "$deps/spdlog" "$deps/fmtlib" \
  -maxdepth 4 -name '*.a' -not -name '*protoc*' | sort)
g++ -std=c++17 -O1 -D_GLIBCXX_USE_CXX11_ABI=0 -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL \
  -I. -I"$build/proto/gen" -I"$sources/protobuf/src" -I"$sources/abseil" \
  -I"$sources/spdlog/include" -I"$sources/fmtlib/include" \
  tests/build/old_abi_smoke.cc -o "$build/old_abi_smoke" \
  "$build/common/libgalvatron_common.a" "$build/proto/libgalvatron_proto.a" \
  -Wl,--start-group "${libraries[@]}" -Wl,--end-group -lpthread
"$build/old_abi_smoke"
nm "$build/old_abi_smoke" >"$build/old_abi_smoke.symbols"
cxx11=$(grep -c __cxx11 "$build/old_abi_smoke.symbols" || true)
if [[ $cxx11 -ne 0 ]]; then
  echo "check-worker-sources: $cxx11 C++11-ABI symbols in $build/old_abi_smoke" >&2
  exit 1
fi
echo "check-worker-sources: old-ABI libraries and common code link and run (no C++11-ABI symbol)"
