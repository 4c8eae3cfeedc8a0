#!/usr/bin/env bash
# Installs the Debian packages Galvatron-C++ builds and runs with. Idempotent:
# installs only what is missing, and runs `apt-get update` only when something
# must be installed. Needs root (or sudo) when anything is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  # gRPC, Protocol Buffers and Abseil: the API and the planner's services.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # LibTorch (CPU) with c10d, and Gloo's headers for its CPU collectives.
  libtorch-dev libgloo-dev
  # OpenBLAS becomes the system BLAS (libblas.so.3): LibTorch's matrix maths on
  # CPU runs ~10x faster than with the reference BLAS.
  libopenblas0-pthread
  # Storage, logging, flags, JSON files, tests.
  libsqlite3-dev libspdlog-dev libcli11-dev nlohmann-json3-dev catch2
  # Galvatron's search settings (search_dist.yaml) read by the offline search.
  libyaml-cpp-dev
  # Clang's thread-safety analysis and clang-format: contracts checked by ctest.
  clang clang-format
  # The dashboard: cpp-httplib serves its pages over HTTP/HTTPS; Chart.js
  # (compiled into the binary) draws its charts.
  libcpp-httplib-dev libjs-chart.js
  # The dashboard's browser test: Chromium driven by Selenium.
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
