// Shared between src/image/ and its fuzz target (tests/fuzz/fuzz_image_meta.cpp): the readers of
// manifest.json, index.json, OCI manifests and config JSON, on text handed over by a reader
// function, so that they run on bytes as well as on a layout on disk. Not a public header.
#pragma once

#include <archive.h>

#include <functional>
#include <string>

#include "minify/image.hpp"

namespace minify::image_internal {

// libarchive's message for the last error; it may have none (a truncated stream can fail
// without one), and a std::string made from a null pointer throws.
inline std::string archive_reason(struct archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unreadable archive data";
}

// Returns the text of one metadata file named relative to the layout ("index.json",
// "blobs/sha256/<hex>", a docker-archive member), or an error (missing, over the size limit).
using MetaReader = std::function<Result<std::string>(const std::string& rel)>;

// index.json -> (nested indexes) -> one image manifest -> its config and layers, into `img`.
// `dir` names the layout in messages; layer files are `dir`/blobs/<alg>/<hex>.
Status read_oci_meta(const MetaReader& read, const std::string& dir, const ImageSelect& sel, Image& img);

// manifest.json ([{Config, RepoTags, Layers}]) -> one image's config and layers, into `img`.
// Layer files are `dir`/<member>; their sizes are taken from the files when they exist.
Status read_docker_meta(const MetaReader& read, const std::string& dir, const ImageSelect& sel, Image& img);

}  // namespace minify::image_internal
