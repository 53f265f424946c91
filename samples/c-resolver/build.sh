#!/usr/bin/env bash
# Builds the resolver into DIR (default out/ beside this script): DIR/resolver, dynamically linked
# against the system glibc (build-essential).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
cc -O2 -Wall -Wextra -o "$out/resolver" "$here/resolver.c"
echo "built $out/resolver"
