#!/usr/bin/env bash
# Usage: minify.sh [DIR [MINIFY_OPTIONS...]] (options go to minify, e.g. --base scratch).
# Builds the Go server and minifies it: minify starts it, waits for /healthz, GETs it and stops it.
# Writes DIR (default out/ beside this script): minify/ (rootfs, Dockerfile, report), image.tar,
# image.oci.tar; prints the sizes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
port="${PORT:-8081}"
if [ $# -gt 0 ]; then shift; fi  # the rest are extra minify options, e.g. --base scratch
"$here/build.sh" "$out"
pack_sample "$out" go-server "$@" --env "PORT=$port" \
  --probe "http://127.0.0.1:$port/healthz" --probe "http://127.0.0.1:$port/" --timeout 30s \
  "$out/go-server"
print_sizes "$out" golang:1.19 "800 MB to 1 GB"
