#!/usr/bin/env bash
# Compiles (-fsyntax-only) every worker translation unit that uses LibTorch
# against the headers of a PyTorch 2.x LibTorch: Debian's packaging of it
# (trixie's libtorch-cuda-dev 2.6, built with CUDA and NCCL, by default), so
# that the code keeps building against 2.x as well as Debian bookworm's 1.13
# without a PyTorch install. Needs network access to deb.debian.org (the
# packages are downloaded and unpacked, not installed) and a configured
# build (the generated protobuf headers): run scripts/build.sh first.
#
# Usage: scripts/check-libtorch2.sh [SUITE [PACKAGE]]
#   SUITE    Debian suite to take LibTorch from (trixie)
#   PACKAGE  libtorch-cuda-dev (CUDA and NCCL paths checked) or libtorch-dev
# Environment: GALVATRON_BUILD_DIR (build), GALVATRON_LIBTORCH2_DIR (where
# the packages go; /tmp/galvatron-libtorch2), GALVATRON_JOBS (nproc).
# Prints one line per file and exits non-zero if any fails; 2 when the
# packages cannot be fetched.
set -uo pipefail
cd "$(dirname "$0")/.."
suite=${1:-trixie}
package=${2:-libtorch-cuda-dev}
build=${GALVATRON_BUILD_DIR:-build}
work=${GALVATRON_LIBTORCH2_DIR:-/tmp/galvatron-libtorch2}/$suite-$package
jobs=${GALVATRON_JOBS:-$(nproc)}

if [[ ! -d $build/proto/gen ]]; then
  echo "check-libtorch2: $build/proto/gen not found: configure and build first (scripts/build.sh)" >&2
  exit 2
fi

# Download into a private apt state: the system's sources and lists are untouched.
if [[ ! -d $work/root/usr/include/torch ]]; then
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/debs"
  echo "deb http://deb.debian.org/debian $suite main contrib" >"$work/apt/sources.list"
  apt=(-o Dir::Etc::SourceList="$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache"
       -o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0)
  if ! apt-get "${apt[@]}" update >"$work/apt.log" 2>&1 ||
    ! (cd "$work/debs" && apt-get "${apt[@]}" download "$package" libgloo-dev >>"$work/apt.log" 2>&1); then
    echo "check-libtorch2: cannot download $package and libgloo-dev from $suite (see $work/apt.log)" >&2
    exit 2
  fi
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
fi
include=$work/root/usr/include
version=$(cat "$include/torch/csrc/api/include/torch/version.h" "$include/torch/headeronly/version.h" \
  2>/dev/null | awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH) [0-9]/ {v = v (v ? "." : "") $3} END {print v}')
# The C++ standard this LibTorch asks for (2.14 on: C++20), as CMake picks
# it from the torch target's CXX_STANDARD; never below the project's C++17.
std=c++17
if grep -q 'C++20 or later' "$include/ATen/ATen.h"; then std=c++20; fi
echo "check-libtorch2: $package from $suite (LibTorch $version, -std=$std)"

defines=(-DUSE_C10D_GLOO)
if [[ $package == *cuda* ]]; then
  defines+=(-DUSE_C10D_NCCL -DGALVATRON_TORCH_HAS_CUDA)
fi
# Every worker translation unit: all of agent/ but the daemon (no LibTorch)
# and the run's inputs (no LibTorch).
mapfile -t units < <(find agent -name '*.cc' -not -path 'agent/daemon/*' -not -path 'agent/runtime/inputs/*' | sort)
if [[ $package != *cuda* ]]; then
  mapfile -t units < <(printf '%s\n' "${units[@]}" | grep -v 'agent/runtime/device/cuda.cc')
fi

export GALVATRON_CHECK_DEFINES="${defines[*]}" work build include std
check_one() {
  local unit=$1 log
  log=$work/$(echo "$unit" | tr / _).log
  # shellcheck disable=SC2086  # the defines are words
  if g++ -std="$std" -fsyntax-only -D_GLIBCXX_USE_CXX11_ABI=1 $GALVATRON_CHECK_DEFINES \
    -isystem "$include" -isystem "$include/torch/csrc/api/include" \
    -isystem /usr/local/cuda/include -I. -I"$build/proto/gen" "$unit" >"$log" 2>&1; then
    echo "ok    $unit"
  else
    echo "FAIL  $unit: $(grep -m1 'error' "$log")"
  fi
}
export -f check_one
results=$(printf '%s\n' "${units[@]}" | xargs -P "$jobs" -I{} bash -c 'check_one "$1"' _ {})
echo "$results"
failed=$(grep -c '^FAIL' <<<"$results")
echo "check-libtorch2: ${#units[@]} translation units, $failed failed"
[[ $failed -eq 0 ]]
