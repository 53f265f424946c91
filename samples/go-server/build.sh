#!/usr/bin/env bash
# Builds the Go server into DIR (default out/ beside this script): DIR/go-server, static (CGO_ENABLED=0),
# with Debian's golang-go and no network. Go's caches live under ~/.cache/minify-samples.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here/out}" && cd "${1:-$here/out}" && pwd)"
cache="${MINIFY_SAMPLES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minify-samples}"
export GOCACHE="$cache/go-build" GOPATH="$cache/gopath" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
cd "$here"
go build -trimpath -o "$out/go-server" .
echo "built $out/go-server"
