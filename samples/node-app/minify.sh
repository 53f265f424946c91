#!/usr/bin/env bash
# Usage: minify.sh [DIR [MINIFY_OPTIONS...]] (options go to minify, e.g. --base scratch).
# Minifies the Node app: minify runs `node server.js` in the app's directory, waits for /healthz,
# GETs / and stops it. The trace opens left-pad only, so the devDependency is-number stays out.
# Writes DIR (default out/ beside this script): minify/, image.tar, image.oci.tar; prints the sizes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
port="${PORT:-8083}"
if [ $# -gt 0 ]; then shift; fi  # the rest are extra minify options, e.g. --base scratch
"$here/build.sh" "$out"
pack_sample "$out" node-app "$@" --workdir "$out/app" --env "PORT=$port" \
  --probe "http://127.0.0.1:$port/healthz" --probe "http://127.0.0.1:$port/" --timeout 60s \
  /usr/bin/node server.js
print_sizes "$out" node:20 "1.1 GB"
if find "$out/minify/rootfs" -path '*/node_modules/is-number*' | grep -q .; then
  echo "minify.sh: the runner carries the devDependency is-number" >&2
  exit 1
fi
echo "devDependencies:    none in the runner (is-number stayed out)"
