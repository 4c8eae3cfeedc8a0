#!/usr/bin/env bash
# Clang's thread-safety analysis over every folder whose code holds a mutex:
# each of their translation units is compiled by clang++ with -fsyntax-only
# -Wthread-safety -Werror=thread-safety, with the flags CMake recorded in
# compile_commands.json. Also refuses bare std::mutex (the analysis cannot see
# it; use absl::Mutex with ABSL_GUARDED_BY).
#
#   scripts/check-thread-safety.sh [BUILD_DIR]     (default: build)
#
# Exit 0 when clean, 1 on a finding, 2 when it cannot run (no clang++, no
# compile_commands.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
clang=${CLANGXX:-clang++}
if ! command -v "$clang" >/dev/null; then
  echo "check-thread-safety: $clang not found (apt-get install clang)" >&2
  exit 2
fi
db=$build/compile_commands.json
if [[ ! -f $db ]]; then
  echo "check-thread-safety: $db not found (configure with CMake first)" >&2
  exit 2
fi
cd "$root"

# Bare standard mutexes are invisible to the analysis.
bare=$(grep -rlE 'std::(recursive_|shared_|timed_)?mutex\b' --include='*.cc' --include='*.h' \
         common interop planner agent dashboard tests 2>/dev/null || true)
if [[ -n $bare ]]; then
  echo "check-thread-safety: std::mutex in (use absl::Mutex with ABSL_GUARDED_BY):" >&2
  echo "$bare" >&2
  exit 1
fi

# The folders whose files hold an absl::Mutex; every translation unit in them.
mapfile -t folders < <(grep -rlE 'absl::Mutex\b' --include='*.cc' --include='*.h' \
                         common interop planner agent dashboard tests | xargs -n1 dirname | sort -u)
if [[ ${#folders[@]} -eq 0 ]]; then
  echo "check-thread-safety: no folder holds a mutex"
  exit 0
fi

# compile_commands.json as CMake writes it: one "directory", "command" and
# "file" line per entry. Each selected entry becomes one line of
# NUL-free shell words for the worker below.
jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
dir="" cmd=""
while IFS= read -r line; do
  line=${line#"${line%%[![:space:]]*}"}
  case $line in
    '"directory": '*) dir=${line#'"directory": "'}; dir=${dir%'",'} ;;
    '"command": '*) cmd=${line#'"command": "'}; cmd=${cmd%'",'} ;;
    '"file": '*)
      file=${line#'"file": "'}; file=${file%'"'}; file=${file%'",'}
      rel=${file#"$root/"}
      for f in "${folders[@]}"; do
        if [[ $(dirname "$rel") == "$f" ]]; then
          printf '%s\t%s\t%s\n' "$dir" "$rel" "$cmd" >>"$jobs_file"
          break
        fi
      done ;;
  esac
done <"$db"

count=$(wc -l <"$jobs_file")
echo "check-thread-safety: $count translation units in ${#folders[@]} folders: ${folders[*]}"

check_one() {
  local dir=$1 rel=$2 cmd=$3
  # The JSON string escapes the shell command's own escaped quotes
  # (-DX=\"...\" is written -DX=\\\"...\\\") and plain quotes (\"): undo both
  # (the first kept as \" for the shell), then split the command into words
  # the way a shell would.
  cmd=${cmd//\\\\\\\"/$'\x01'}
  cmd=${cmd//\\\"/\"}
  cmd=${cmd//$'\x01'/\\\"}
  eval "set -- $cmd"
  shift  # the compiler
  local args=() skip=0 a
  for a in "$@"; do
    if [[ $skip -eq 1 ]]; then skip=0; continue; fi
    case $a in
      -o|-MF|-MT) skip=1 ;;
      -c|-MD) ;;
      *) args+=("$a") ;;
    esac
  done
  if ! out=$(cd "$dir" && "$CLANG" "${args[@]}" -fsyntax-only -Wno-unknown-warning-option \
               -Wthread-safety -Werror=thread-safety 2>&1); then
    printf '== %s\n%s\n' "$rel" "$out"
    return 1
  fi
  # Other clang warnings are not this check's business; thread-safety ones are
  # errors above.
}
export -f check_one
export CLANG=$clang
failed=0
while IFS=$'\t' read -r dir rel cmd; do
  printf '%s\0%s\0%s\0' "$dir" "$rel" "$cmd"
done <"$jobs_file" |
  xargs -0 -n3 -P "${GALVATRON_JOBS:-$(nproc)}" bash -c 'check_one "$@"' _ || failed=1
if [[ $failed -ne 0 ]]; then
  echo "check-thread-safety: FAILED" >&2
  exit 1
fi
echo "check-thread-safety: clean"
