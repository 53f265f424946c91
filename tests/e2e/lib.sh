# Helpers for the end-to-end tests and the corpus (sourced by tests/e2e/e2e.sh and
# scripts/corpus.d/run): temp dirs and servers that are always cleaned up, bounded waits, and running
# an OCI image with umoci + runc, building minify's runner stage with buildah, all with private state
# so that runs never collide or leave anything behind.
# Exit codes: 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).

set -euo pipefail

kSkip=77
e2e_cleanups=()

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit "$kSkip"; }
note() { echo "-- $*" >&2; }

# Runs the registered cleanups, last first, whatever the exit path.
e2e_cleanup() {
  local i
  for ((i = ${#e2e_cleanups[@]} - 1; i >= 0; i--)); do eval "${e2e_cleanups[i]}" >/dev/null 2>&1 || true; done
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM
on_exit() { e2e_cleanups+=("$1"); }

need_tools() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"; done
}
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (chroot, runc, vfs storage)"; }

# Sets $tmp to a fresh directory, removed at exit unless MINIFY_KEEP_TEMP is set. (Not a command
# substitution: the cleanup must be registered in this shell.)
make_temp() {
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/minify-e2e-XXXXXX")"
  chmod 755 "$tmp"
  [ -n "${MINIFY_KEEP_TEMP:-}" ] || on_exit "rm -rf '$tmp'"
}

# start_bg LOG CMD...: starts CMD in its own session (so the whole tree can be killed), stdout and
# stderr to LOG; sets $bg_pid and registers the kill.
start_bg() {
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  bg_pid=$!
  on_exit "kill -KILL -- -$bg_pid; wait $bg_pid"
}
# stop_bg PID: SIGTERM to its session, SIGKILL after 5 s. $stop_hook, when set, runs first: a
# server that is PID 1 in a container ignores SIGTERM unless it handles it (python3 does not), so
# runc gets `kill KILL`.
stop_hook=""
stop_bg() {
  local i
  [ -z "$stop_hook" ] || eval "$stop_hook" >/dev/null 2>&1 || true
  kill -TERM -- "-$1" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# wait_http URL SECONDS [PID]: polls until URL answers 2xx; fails early when PID has exited.
wait_http() {
  local url=$1 secs=$2 pid=${3:-} deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.2
  done
  return 1
}
get() { curl -fsS -m 10 "$1"; }

# wait_tcp PORT SECONDS [PID]: polls until 127.0.0.1:PORT accepts a connection; fails early when PID
# has exited.
wait_tcp() {
  local port=$1 pid=${3:-} deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.2
  done
  return 1
}

# A loopback port free now: checks of several build trees may run at once.
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# oci_unpack ARCHIVE BUNDLE: the archive through skopeo (inspect, copy to an OCI layout) and umoci
# (unpack to a runtime bundle), then the runc config made runnable here: no rlimits, no terminal,
# the host's network namespace (loopback reachable from the test).
oci_unpack() {
  local archive=$1 bundle=$2 layout="$2.layout"
  skopeo inspect "oci-archive:$archive" >"$bundle.inspect.json" || fail "skopeo inspect oci-archive:$archive"
  skopeo copy -q "oci-archive:$archive" "oci:$layout:e2e" || fail "skopeo copy oci-archive:$archive"
  umoci unpack --image "$layout:e2e" "$bundle" >/dev/null || fail "umoci unpack $layout:e2e"
  /usr/bin/python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"].pop("rlimits", None)
c["process"]["terminal"] = False
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
json.dump(c, open(path, "w"), indent=2)
PY
}

# oci_set BUNDLE PYTHON: edits the bundle's config.json `c` with one Python statement.
oci_set() {
  /usr/bin/python3 - "$1/config.json" "$2" <<'PY'
import json, sys
path, stmt = sys.argv[1], sys.argv[2]
c = json.load(open(path))
exec(stmt)
json.dump(c, open(path, "w"), indent=2)
PY
}

# The image config of a bundle's image, one field: oci_field BUNDLE Entrypoint|Cmd|Env|WorkingDir|User
oci_field() {
  /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get(sys.argv[2])))' \
    "$1/config.json" "$2" 2>/dev/null
}

# runc with private state; each container ID unique per test run.
runc_state=""
runc_() { runc --root "$runc_state" "$@"; }
runc_init() {
  runc_state="$1/runc-state"
  mkdir -p "$runc_state"
  runc_id="minify-e2e-$$-$RANDOM"
}

# buildah with private storage (vfs) under DIR: buildah_init DIR, then buildah_ ARGS...
buildah_dir=""
buildah_() { buildah --root "$buildah_dir/storage" --runroot "$buildah_dir/run" --storage-driver vfs "$@"; }
buildah_init() {
  buildah_dir="$1/buildah"
  mkdir -p "$buildah_dir"
  # vfs layers are plain directories: removing the storage removes every image and container.
  on_exit "buildah --root '$buildah_dir/storage' --runroot '$buildah_dir/run' --storage-driver vfs rm --all; rm -rf '$buildah_dir'"
}

# build_runner CONTEXT DOCKERFILE BUILDER_TAR ARCHIVE LOG: builds minify's runner stage with
# `buildah bud --isolation chroot` (storage of buildah_init) against a builder image made of exactly
# the host files it copies (BUILDER_TAR, minify's --tar), and pushes the result to the OCI archive
# ARCHIVE. CONTEXT is the directory holding the Dockerfile (its first comment says so: the runner
# stage copies generated/ beside it); the builder stage goes in front of the runner stage. A
# distroless base is a local stand-in (distroless_standin) under the same name, and the FROM line
# loses its digest (the stand-in has another one; the runner check looks at the digest). The build
# gets $build_timeout seconds (default 300).
build_runner() {
  local context=$1 dockerfile=$2 builder_tar=$3 archive=$4 log=$5 ctr from base_ref
  ctr="$(buildah_ from scratch)"
  buildah_ add "$ctr" "$builder_tar" / >/dev/null
  buildah_ commit -q "$ctr" localhost/minify-e2e-builder:1 >/dev/null
  buildah_ rm "$ctr" >/dev/null
  from="$(grep -m1 '^FROM ' "$dockerfile" | cut -d' ' -f2)"
  base_ref="${from%@sha256:*}"
  [ "$base_ref" = scratch ] || distroless_standin "$base_ref"
  { echo "FROM localhost/minify-e2e-builder:1 AS builder"; sed "s|^FROM $from\$|FROM $base_ref|" "$dockerfile"; } >"$buildah_dir/Dockerfile"
  timeout "${build_timeout:-300}" buildah --root "$buildah_dir/storage" --runroot "$buildah_dir/run" --storage-driver vfs \
    bud --isolation chroot --pull=never -q -t localhost/minify-e2e-runner:1 -f "$buildah_dir/Dockerfile" "$context" \
    >"$log" 2>&1 || { rc=$?; cat "$buildah_dir/Dockerfile" "$log" >&2; fail "buildah bud exited $rc"; }
  buildah_ push -q localhost/minify-e2e-runner:1 "oci-archive:$archive:e2e" >/dev/null 2>&1 || fail "buildah push"
}

# distroless_standin REF: builds, in the private buildah storage, a local stand-in for the
# Debian 12 distroless base REF ("gcr.io/distroless/cc-debian12:nonroot"; no registry here) out
# of this machine's own Debian 12 packages, the way GoogleContainerTools/distroless assembles it
# (static/static.bzl, base/config.bzl, cc/config.bzl, common/BUILD.bazel): the packages'
# files unpacked where dpkg lists them (no usr-merge: distroless debian12 has none), a CA bundle
# that is the concatenation of the ca-certificates package's certificates (rules_distroless
# cacerts.sh), its passwd, group, nsswitch.conf, /tmp and /home/nonroot, its Env, User and
# WorkingDir. minify's own description of the bases (src/base/base.cpp) is not used here.
distroless_standin() {
  local ref=$1 flavor pkgs dir p f ctr
  [ -n "$buildah_dir" ] || fail "distroless_standin: buildah_init first"
  flavor=${ref#gcr.io/distroless/}
  flavor=${flavor%%-debian12*}
  pkgs=(base-files netbase tzdata media-types)
  case $flavor in
    static) ;;
    base) pkgs+=(libc6 libssl3) ;;
    cc) pkgs+=(libc6 libssl3 libgomp1 libstdc++6 libgcc-s1 gcc-12-base) ;;
    *) fail "no stand-in for $ref" ;;
  esac
  dir="$buildah_dir/standin-$flavor"
  rm -rf "$dir"
  mkdir -p "$dir"
  # Regular files and links dpkg lists, at the listed path (parents made as real directories: tar
  # stores the name as listed); directories, and the host's merged-/usr links to them, come with
  # their files. One tar for all of them.
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || skip "$p is not installed (stand-in for $ref)"
  done
  for p in "${pkgs[@]}"; do
    dpkg -L "$p" | grep -v '^/usr/share/\(doc\|man\|info\|lintian\)/'
    [ ! -f "/usr/share/doc/$p/copyright" ] || echo "/usr/share/doc/$p/copyright"
  done | while IFS= read -r f; do
    if [ ! -d "$f" ] && { [ -L "$f" ] || [ -f "$f" ]; }; then printf '%s\n' "$f"; fi
  done | LC_ALL=C sort -u | tar -cf - --no-recursion -T - 2>/dev/null | tar -xf - -C "$dir"
  mkdir -p "$dir/etc/ssl/certs" "$dir/tmp" "$dir/root" "$dir/home/nonroot"
  find /usr/share/ca-certificates -type f -name '*.crt' | LC_ALL=C sort | xargs cat >"$dir/etc/ssl/certs/ca-certificates.crt"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$dir/etc/group"
  printf '%s\n' 'passwd:         compat' 'group:          compat' 'shadow:         compat' 'gshadow:        files' \
    'hosts:          files dns' 'networks:       files' 'protocols:      db files' 'services:       db files' \
    'ethers:         db files' 'rpc:            db files' 'netgroup:       nis' >"$dir/etc/nsswitch.conf"
  chmod 1777 "$dir/tmp"
  chmod 700 "$dir/root" "$dir/home/nonroot"
  chown 65532:65532 "$dir/home/nonroot"
  ctr="$(buildah_ from scratch)"
  buildah_ copy "$ctr" "$dir/" / >/dev/null
  buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --user 65532 --workingdir /home/nonroot "$ctr"
  buildah_ commit -q "$ctr" "$ref" >/dev/null
  buildah_ rm "$ctr" >/dev/null
  rm -rf "$dir"
}
