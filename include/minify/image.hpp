// Reading container images: a `docker save` archive (manifest.json + layer tars), an
// OCI image archive (a tar of an image layout) or an OCI layout directory. One image is picked
// (by tag or platform from a multi-platform index), its config read into an ImageConfig, and its
// layers applied in order into a scratch directory with OCI whiteouts and hard links.
//
// An image is untrusted input. Every file is created through a directory descriptor resolved
// with openat2(RESOLVE_IN_ROOT) inside the scratch directory, so `..`, absolute names and
// symlinks (of this or an earlier layer) never reach outside it; device nodes are skipped;
// setuid/setgid bits are cleared on disk and remembered; the bytes written are capped.
// Refusals and neutralizations are one-line notes (or errors) that name the entry.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "minify/context.hpp"
#include "minify/fileset.hpp"
#include "minify/pack.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

enum class ImageFormat { DockerArchive, OciArchive, OciLayout };
std::string_view image_format_name(ImageFormat f);  // "docker-archive", "oci-archive", "oci-layout"

struct LayerRef {
  std::string digest;      // "sha256:<hex>"
  std::string media_type;  // as the manifest says; compression is detected from the bytes
  std::string file;        // host path of the blob
  uint64_t size = 0;       // bytes of the blob (compressed)
};

struct ImageLimits {
  uint64_t max_total_bytes = 32ull << 30;  // file bytes written over all layers
  uint64_t max_entries = 4'000'000;        // tar entries over all layers
  uint64_t max_metadata_bytes = 8 << 20;   // manifest, index and config JSON
};

struct ImageSelect {
  std::string tag;       // "name:tag", "tag" or empty
  std::string platform;  // "linux/amd64", "linux/arm64/v8" or empty (the host's)
};

// An opened image: what the manifest and config say. For archives, the blobs are extracted
// into `blob_dir` (under the work directory) first.
struct Image {
  ImageFormat format = ImageFormat::OciLayout;
  std::string source;  // the path given
  ImageConfig config;
  std::string config_digest;
  std::vector<LayerRef> layers;  // bottom first
  std::vector<std::string> repo_tags;
  uint64_t compressed_bytes() const;
};

// Opens `source` (archive or layout directory). Archives are extracted (regular files only, names
// checked) into `work_dir`/blobs, which must be an empty or missing directory.
Result<Image> open_image(const std::string& source, const std::string& work_dir, const ImageSelect& select = {},
                         const ImageLimits& limits = {});

struct UnpackOptions {
  ImageLimits limits;
  // Owner ids on disk are shifted by this much (0..65535 -> uid_shift + id), so that a user
  // namespace mapping 0 to uid_shift sees the image's own owners. 0: kept as in the archive.
  uid_t uid_shift = 0;
  // Compressed bytes of the layers read so far of all of theirs ("unpack" steps), as it goes.
  ProgressFn progress = {};
};

struct UnpackResult {
  uint64_t bytes = 0;    // file bytes written (uncompressed size of the root)
  uint64_t entries = 0;  // tar entries applied
  std::vector<std::string> notes;  // refused or neutralized entries, one line each
  // Setuid/setgid bits cleared on disk, by path inside the root: the full original mode (07777).
  // Common in any distribution image (su, passwd, mount), so not in `notes`.
  std::map<std::string, mode_t> special_modes;
  // Every directory of the unpacked root with the mtime its last layer gave it (0 for those no
  // layer names), by absolute path inside the root: a program run in the root changes them.
  std::map<std::string, struct timespec> dir_times;
};

// Applies the layers in order into `root_dir` (created, must not exist or be empty).
Result<UnpackResult> unpack_layers(const Image& image, const std::string& root_dir, const UnpackOptions& options = {});

// The entries of a set read from a root unpacked with `uid_shift` get the image's own owners
// back (uid_shift + id -> id). Other owners (directories unpack made on the way, files the traced
// program created) become 0:0, as a container runtime would create them. Ids that did not fit
// the 65536-id range were stored as 65534 (nobody) and stay so. No-op for a shift of 0.
void unshift_owners(FileSet& set, uid_t uid_shift);

// The directories of a set read from an unpacked root get the mtimes the image gave them back
// (`dir_times`: UnpackResult::dir_times), whatever the program traced in that root made in them since.
void restore_directory_times(FileSet& set, const std::map<std::string, struct timespec>& dir_times);

}  // namespace minify
