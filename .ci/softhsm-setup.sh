#!/usr/bin/env bash
# Initialises a SoftHSM2 token for tests and CI, in its own directory.
#
# Usage:  eval "$(.ci/softhsm-setup.sh DIR [LABEL] [PIN] [SO_PIN])"
#
# Writes DIR/softhsm2.conf (directories.tokendir = DIR/tokens), initialises one token with
# `softhsm2-util --init-token --free`, and prints the environment to use on stdout as `export`
# lines (softhsm2-util's own chatter goes to stderr). PIN and SO PIN default to random values;
# they are test secrets, printed so that the calling job can pass them on.
# SoftHSM reads SOFTHSM2_CONF at C_Initialize, so export it before the process loads the module.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 4 ]]; then
  echo "usage: $0 DIR [LABEL] [PIN] [SO_PIN]" >&2
  exit 64
fi

dir=$1
label=${2:-scrip-ci}
pin=${3:-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}
so_pin=${4:-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}
module=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

command -v softhsm2-util >/dev/null || { echo "softhsm2-util not found; install softhsm2" >&2; exit 69; }
[[ -f $module ]] || { echo "SoftHSM2 module not found at $module" >&2; exit 69; }

umask 077
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
conf=$dir/softhsm2.conf
cat >"$conf" <<EOF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF

SOFTHSM2_CONF=$conf softhsm2-util --init-token --free \
  --label "$label" --pin "$pin" --so-pin "$so_pin" >&2

printf 'export SOFTHSM2_CONF=%q\n' "$conf"
printf 'export SCRIP_PKCS11_MODULE=%q\n' "$module"
printf 'export SCRIP_PKCS11_TOKEN_LABEL=%q\n' "$label"
printf 'export SCRIP_PKCS11_PIN=%q\n' "$pin"
printf 'export SCRIP_PKCS11_SO_PIN=%q\n' "$so_pin"
