#!/usr/bin/env bash
# The test command: install dependencies, configure, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/install-deps.sh
scripts/build.sh
cd "${GALVATRON_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "${GALVATRON_TEST_JOBS:-2}"
echo "test.sh: build and tests took $(( $(date +%s) - start )) s"
