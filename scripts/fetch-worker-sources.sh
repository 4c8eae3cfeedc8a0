#!/usr/bin/env bash
# Downloads the sources of galvatron-worker's own dependencies — Abseil,
# Protocol Buffers, spdlog, {fmt}, CLI11 and nlohmann/json — as Debian
# packages them (the upstream tarball with Debian's patches applied, with the
# security fixes of the suite's point releases), so that a worker-only build
# can compile them itself: `-DGALVATRON_WORKER_SOURCES=DIR`. That is what a
# GPU node needs when
#   - its LibTorch uses the pre-C++11 std::string ABI (PyTorch's wheels and
#     the LibTorch archives without "cxx11-abi", before 2.7): the libraries
#     must be built with that ABI too, and a distribution's packages never
#     are; or
#   - it has PyTorch but not these libraries and no network (carry DIR).
#
# Usage: scripts/fetch-worker-sources.sh [DIR]
#   DIR  where to write (default: worker-sources in the source tree, where
#        CMake and scripts/gpu-check.sh look for it)
# Environment:
#   GALVATRON_DEBIAN_MIRROR  where to download from (https://deb.debian.org/debian)
#   GALVATRON_DEBIAN_SUITE   whose versions to take (bookworm: the versions
#                            the rest of the build uses from Debian's packages;
#                            its point releases carry Debian's security fixes)
#   GALVATRON_ALLOW_UNSIGNED=1  go on when the signature cannot be checked
# Trust: the suite's InRelease is checked with gpgv against Debian's archive
# keyring (Debian's debian-archive-keyring package); its SHA-256 of the source
# index, and the index's SHA-256 of every file, are checked too.
# Needs curl, xz, tar, patch. Writes DIR/<package>/ (patched, with only what
# a C++ build needs) and DIR/SOURCES (package, version, file hashes); the
# downloads themselves are deleted at the end.
set -euo pipefail
if [[ $# -gt 1 ]]; then
  echo "usage: $0 [DIR]" >&2
  exit 2
fi
if [[ $# -eq 1 ]]; then
  mkdir -p "$1"
  dir=$(cd "$1" && pwd)
fi
cd "$(dirname "$0")/.."
dir=${dir:-$PWD/worker-sources}
mirror=${GALVATRON_DEBIAN_MIRROR:-https://deb.debian.org/debian}
suite=${GALVATRON_DEBIAN_SUITE:-bookworm}
packages=(abseil protobuf spdlog fmtlib cli11 nlohmann-json3)

for tool in curl xz tar patch sha256sum; do
  if ! command -v "$tool" >/dev/null; then
    echo "fetch-worker-sources: $tool not found (apt-get install $tool)" >&2
    exit 2
  fi
done
mkdir -p "$dir/.download"
dl=$dir/.download

get() {  # URL FILE
  if ! curl -fsS --retry 3 -o "$2" "$1"; then
    echo "fetch-worker-sources: cannot download $1" >&2
    exit 2
  fi
}

echo "fetch-worker-sources: $suite's sources from $mirror into $dir"
get "$mirror/dists/$suite/InRelease" "$dl/InRelease"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if command -v gpgv >/dev/null && [[ -f $keyring ]]; then
  if ! gpgv --keyring "$keyring" "$dl/InRelease" >"$dl/gpgv.log" 2>&1; then
    echo "fetch-worker-sources: $suite's InRelease does not verify against $keyring:" >&2
    cat "$dl/gpgv.log" >&2
    exit 1
  fi
  echo "  InRelease: signature good ($keyring)"
elif [[ ${GALVATRON_ALLOW_UNSIGNED:-0} == 1 ]]; then
  echo "  InRelease: signature NOT checked (no gpgv or no $keyring; GALVATRON_ALLOW_UNSIGNED=1)"
else
  echo "fetch-worker-sources: cannot check $suite's InRelease signature: needs gpgv and $keyring" >&2
  echo "  (apt-get install gpgv debian-archive-keyring), or GALVATRON_ALLOW_UNSIGNED=1 to go on" >&2
  echo "  trusting the mirror and the connection" >&2
  exit 1
fi
get "$mirror/dists/$suite/main/source/Sources.xz" "$dl/Sources.xz"
# The index's line in InRelease's SHA256 section: " HASH SIZE main/source/Sources.xz".
want=$(awk '/^SHA256:/ {s = 1; next} /^[^ ]/ {s = 0} s && $3 == "main/source/Sources.xz" {print $1}' "$dl/InRelease")
have=$(sha256sum "$dl/Sources.xz" | cut -d' ' -f1)
if [[ -z $want || $want != "$have" ]]; then
  echo "fetch-worker-sources: main/source/Sources.xz's SHA-256 $have is not InRelease's (${want:-none})" >&2
  exit 1
fi

# One line per file: "PACKAGE VERSION DIRECTORY SHA256 NAME", from the index
# (records kept only for other packages' builds, Extra-Source-Only, skipped).
xz -dc "$dl/Sources.xz" | awk -v RS= -v list=" ${packages[*]} " '
  {
    n = split($0, line, "\n"); pkg = ""; ver = ""; where = ""; extra = 0
    for (i = 1; i <= n; i++) {
      if (line[i] ~ /^Package: /) pkg = substr(line[i], 10)
      if (line[i] ~ /^Version: /) ver = substr(line[i], 10)
      if (line[i] ~ /^Directory: /) where = substr(line[i], 12)
      if (line[i] ~ /^Extra-Source-Only: yes/) extra = 1
    }
    if (extra || index(list, " " pkg " ") == 0) next
    sums = 0
    for (i = 1; i <= n; i++) {
      if (line[i] ~ /^Checksums-Sha256:/) { sums = 1; continue }
      if (line[i] ~ /^[^ ]/) sums = 0
      if (sums) { split(line[i], f, " "); print pkg, ver, where, f[1], f[3] }
    }
  }' >"$dl/files"

# The folder is complete only once SOURCES is written again, at the end.
rm -f "$dir/SOURCES"
: >"$dir/SOURCES.new"
for package in "${packages[@]}"; do
  versions=$(awk -v p="$package" '$1 == p {print $2}' "$dl/files" | sort -u)
  if [[ -z $versions ]]; then
    echo "fetch-worker-sources: $suite has no source package $package" >&2
    exit 1
  elif [[ $(wc -l <<<"$versions") -ne 1 ]]; then
    echo "fetch-worker-sources: $suite lists several versions of $package: ${versions//$'\n'/ }" >&2
    exit 1
  fi
  version=$versions
  while read -r _ _ where sha name; do
    if [[ ! -f $dl/$name ]] || [[ $(sha256sum "$dl/$name" | cut -d' ' -f1) != "$sha" ]]; then
      get "$mirror/$where/$name" "$dl/$name"
    fi
    if [[ $(sha256sum "$dl/$name" | cut -d' ' -f1) != "$sha" ]]; then
      echo "fetch-worker-sources: $name's SHA-256 is not the index's $sha" >&2
      exit 1
    fi
    echo "$package $version $sha $name" >>"$dir/SOURCES.new"
  done < <(awk -v p="$package" -v v="$version" '$1 == p && $2 == v' "$dl/files")

  # Unpack the upstream tarball, then Debian's, then apply Debian's patches in order.
  tree=$dir/$package
  rm -rf "$tree" "$tree.new"
  mkdir -p "$tree.new"
  orig=$(awk -v p="$package" -v v="$version" '$1 == p && $2 == v && $5 ~ /\.orig\.tar\./ {print $5}' "$dl/files")
  debian=$(awk -v p="$package" -v v="$version" '$1 == p && $2 == v && $5 ~ /\.debian\.tar\./ {print $5}' "$dl/files")
  if [[ -z $orig ]]; then
    echo "fetch-worker-sources: $package $version has no upstream (.orig) tarball in the index" >&2
    exit 1
  fi
  tar -xf "$dl/$orig" -C "$tree.new" --strip-components=1
  applied=0
  if [[ -n $debian ]]; then
    tar -xf "$dl/$debian" -C "$tree.new"
    series=$tree.new/debian/patches/series
    if [[ -f $series ]]; then
      # quilt's series: a patch per line, optionally "-pN"; # starts a comment.
      while read -r patch_name strip _ || [[ -n $patch_name ]]; do
        [[ -z $patch_name || $patch_name == \#* ]] && continue
        [[ $strip == -p[0-9] ]] || strip=-p1
        if ! patch -d "$tree.new" "$strip" -s --no-backup-if-mismatch <"$tree.new/debian/patches/$patch_name"; then
          echo "fetch-worker-sources: Debian's patch $patch_name does not apply to $package $version" >&2
          exit 1
        fi
        applied=$((applied + 1))
      done <"$series"
    fi
  fi
  # Only what a C++ build needs: the other languages, documentation and test data go.
  case $package in
    protobuf)
      rm -rf "$tree.new"/{csharp,java,objectivec,php,python,ruby,kokoro,benchmarks,conformance,docs,examples,third_party}
      ;;
    nlohmann-json3)
      rm -rf "$tree.new"/{docs,tests,tools}
      ;;
  esac
  mv "$tree.new" "$tree"
  echo "  $package $version: $orig + ${debian:-no Debian tarball} ($applied patches) -> $tree ($(du -sh "$tree" | cut -f1))"
done
mv "$dir/SOURCES.new" "$dir/SOURCES"
rm -rf "$dl"
echo "fetch-worker-sources: done; build with -DGALVATRON_WORKER_ONLY=ON -DGALVATRON_WORKER_SOURCES=$dir"
