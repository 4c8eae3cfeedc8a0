#!/usr/bin/env bash
# The test command: install dependencies, configure, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/install-deps.sh
scripts/build.sh
root=$(pwd)
cd "${GALVATRON_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "${GALVATRON_TEST_JOBS:-2}"
# libFuzzer over every parser of outside input, a bounded time per target
# (docs/fuzzing.md); GALVATRON_FUZZ_SECONDS=0 skips it.
if [[ "${GALVATRON_FUZZ_SECONDS:-20}" != 0 ]]; then
  "$root/scripts/fuzz.sh" --seconds "${GALVATRON_FUZZ_SECONDS:-20}"
fi
echo "test.sh: build and tests took $(( $(date +%s) - start )) s"
