#!/usr/bin/env bash
# Makes a self-signed CA and the certificates a test cluster needs: one for
# the planner (valid for localhost, 127.0.0.1, ::1 and every --host) and one
# client certificate per --client (for mutual TLS: agents, users, the
# dashboard). Production clusters should use their own CA; see
# docs/security.md.
#
#   scripts/make-certs.sh --out DIR [--host NAME|IP]... [--client NAME]... [--days N]
#
# Writes DIR/ca.crt, DIR/ca.key, DIR/planner.crt, DIR/planner.key and
# DIR/<client>.crt, DIR/<client>.key (keys readable by their owner only).
# An existing CA in DIR is reused, so more certificates can be added later.
set -euo pipefail

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

out=""
days=825
hosts=()
clients=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --host) hosts+=("${2:?--host needs a name or an address}"); shift 2 ;;
    --client) clients+=("${2:?--client needs a name}"); shift 2 ;;
    --days) days="${2:?--days needs a number}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "make-certs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$out" ]]; then
  echo "make-certs.sh: --out DIR is required (see --help)" >&2
  exit 2
fi
if ! [[ "$days" =~ ^[0-9]+$ ]] || (( days < 1 )); then
  echo "make-certs.sh: --days $days, expected a positive number" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "make-certs.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }
for name in "${clients[@]}"; do
  if ! [[ "$name" =~ ^[A-Za-z0-9._@-]{1,64}$ ]]; then
    echo "make-certs.sh: --client $name, expected 1-64 characters of [A-Za-z0-9._@-]" >&2
    exit 2
  fi
done

mkdir -p "$out"
umask 077
cd "$out"

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -f ca.key || ! -f ca.crt ]]; then
  new_key ca.key
  openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=galvatron test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt 2>/dev/null
  echo "made CA: $out/ca.crt"
fi

# sign NAME EXTFILE: a key and a certificate signed by the CA.
sign() {
  local name="$1" ext="$2"
  new_key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
    -days "$days" -extfile "$ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$ext"
  chmod 644 "$name.crt"
}

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for host in "${hosts[@]}"; do
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+=",IP:$host"; else san+=",DNS:$host"; fi
done
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
  "$san" > planner.ext
sign planner planner.ext
echo "made planner certificate: $out/planner.crt ($san)"

for name in "${clients[@]}"; do
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > "$name.ext"
  sign "$name" "$name.ext"
  echo "made client certificate: $out/$name.crt"
done
chmod 644 ca.crt
