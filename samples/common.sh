# Shared by the samples' build.sh and minify.sh: locating minify, packing a sample, printing sizes.
# Sourced, not run.

# The minify executable: $MINIFY, else the release build, else any build, else PATH.
find_minify() {
  local top
  top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ -n "${MINIFY:-}" ]; then echo "$MINIFY"; return; fi
  for b in "$top/build/release/minify" "$top"/build/*/minify; do
    if [ -x "$b" ]; then echo "$b"; return; fi
  done
  command -v minify || { echo "minify not found: build it (cmake --preset release && cmake --build --preset release) or set MINIFY" >&2; return 1; }
}

human() { numfmt --to=iec --suffix=B --format='%.1f' "$1"; }

# print_sizes DIR BASE_IMAGE BASE_SIZE: the minimal image next to the single-stage one.
print_sizes() {
  local dir=$1 base=$2 base_size=$3 rootfs files oci
  rootfs=$(du -sb --apparent-size "$dir/minify/rootfs" | cut -f1)
  files=$(find "$dir/minify/rootfs" -not -type d | wc -l)
  oci=$(stat -c %s "$dir/image.oci.tar")
  echo
  echo "minimal rootfs:     $(human "$rootfs") in $files files   ($dir/minify/rootfs)"
  echo "OCI image archive:  $(human "$oci") compressed          ($dir/image.oci.tar)"
  echo "single-stage image: $base is about $base_size unpacked, before the program is added"
  echo "runner stage:       $dir/minify/Dockerfile"
}

# pack_sample DIR NAME MINIFY_ARGS...: minify pack into DIR/minify (replaced), DIR/image.tar and
# DIR/image.oci.tar, tagged minify-sample/NAME:latest; the rest (options, then the program) as given.
pack_sample() {
  local dir=$1 name=$2 minify
  shift 2
  minify="$(find_minify)"
  rm -rf "$dir/minify"
  "$minify" pack -o "$dir/minify" --tar "$dir/image.tar" --oci "$dir/image.oci.tar" \
    --tag "minify-sample/$name:latest" "$@"
}
