#!/usr/bin/env bash
# Usage: minify.sh [DIR [MINIFY_OPTIONS...]] (options go to minify, e.g. --base scratch).
# Builds the resolver and minifies it: the trace sees glibc read /etc/nsswitch.conf and /etc/hosts
# and the program read the CA bundle. Writes DIR (default out/ beside this script): minify/, image.tar,
# image.oci.tar; prints the sizes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
if [ $# -gt 0 ]; then shift; fi  # the rest are extra minify options, e.g. --base scratch
"$here/build.sh" "$out"
pack_sample "$out" c-resolver "$@" --timeout 30s \
  "$out/resolver" localhost
print_sizes "$out" gcc:12 "1.3 GB"
