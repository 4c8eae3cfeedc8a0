#!/usr/bin/env bash
# Refreshes the dashboard's screenshots in docs/images/ (dashboard-*.png, shown
# by the README and docs/dashboard.md) from the browser test: a live planner
# with a running job, Chromium at a desktop's and a phone's width.
#
#   scripts/dashboard-screenshots.sh [BUILD_DIR]   (default: build)
#
# Builds nothing: build the test first (cmake --build build --target
# dashboard_browser_test). Needs chromium, chromium-driver and
# python3-selenium (scripts/install-deps.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
test_binary="$build/tests/dashboard_browser_test"
out="$root/docs/images"
# The pages the README shows: each main page on a desktop, two on a phone.
keep=(
  overview-desktop nodes-desktop cluster-desktop model-desktop plan-desktop job-desktop
  whatif-desktop login-desktop plan-phone job-phone
)

if [[ ! -x "$test_binary" ]]; then
  echo "dashboard-screenshots: $test_binary is missing; build it first:" >&2
  echo "  cmake --build $build --target dashboard_browser_test" >&2
  exit 1
fi

shots="$(mktemp -d "${TMPDIR:-/tmp}/galvatron-screenshots-XXXXXX")"
trap 'rm -rf "$shots"' EXIT

# Every page of both test cases, at both widths, into $shots.
GALVATRON_SCREENSHOTS="$shots" GALVATRON_BIN_DIR="$build/bin" GALVATRON_SOURCE_DIR="$root" \
  "$test_binary" "[browser]"

mkdir -p "$out"
missing=0
for name in "${keep[@]}"; do
  file="$shots/dashboard-$name.png"
  if [[ ! -f "$file" ]]; then
    echo "dashboard-screenshots: the test made no $name screenshot" >&2
    missing=1
    continue
  fi
  cp "$file" "$out/dashboard-$name.png"
  # Smaller PNGs where optipng is installed (it is optional).
  if command -v optipng >/dev/null; then optipng -quiet -o2 "$out/dashboard-$name.png"; fi
  size=$(stat -c %s "$out/dashboard-$name.png")
  printf 'dashboard-screenshots: docs/images/dashboard-%s.png (%d KiB)\n' "$name" $((size / 1024))
  if ((size > 300 * 1024)); then
    echo "dashboard-screenshots: warning: dashboard-$name.png is over 300 KiB" >&2
  fi
done
exit "$missing"
