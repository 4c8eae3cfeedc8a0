#!/usr/bin/env bash
# Checks that every C++ file follows .clang-format; with --fix, formats them.
#
#   scripts/check-format.sh          # exit 0 clean, 1 with the files to fix
#   scripts/check-format.sh --fix    # rewrite the files in place
#
# Exit 2 when it cannot run (no clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
format=${CLANG_FORMAT:-clang-format}
if ! command -v "$format" >/dev/null; then
  echo "check-format: $format not found (apt-get install clang-format)" >&2
  exit 2
fi
if git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cc' '*.h')
else
  mapfile -t files < <(find common interop planner agent dashboard tests \
                         -name '*.cc' -o -name '*.h' | sort)
fi
if [[ ${1:-} == --fix ]]; then
  "$format" -i "${files[@]}"
  echo "check-format: formatted ${#files[@]} files"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  [[ -f $f ]] || continue
  "$format" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [[ ${#bad[@]} -gt 0 ]]; then
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ from .clang-format" \
       "($format $("$format" --version | grep -o '[0-9][0-9.]*' | head -1)):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "run scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files clean"
