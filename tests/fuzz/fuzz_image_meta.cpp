// libFuzzer target: the image metadata readers (OCI index.json and nested indexes, OCI image
// manifests, docker-archive manifest.json, config JSON), on arbitrary text.
//
// The input is a list of documents separated by NUL bytes (JSON text never contains one). The
// n-th file the reader asks for gets the n-th document, whatever its name: the first is read as
// index.json (or manifest.json), the next as the manifest or config it points to, and so on, so
// the fuzzer reaches every level without having to forge digests. Each input is read both as an
// OCI layout and as a docker-archive, with and without a tag and platform to pick.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "image/image_internal.hpp"

namespace {

constexpr size_t kMaxMetadata = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> docs;
  for (size_t i = 0; i <= in.size();) {
    size_t j = in.find('\0', i);
    if (j == std::string_view::npos) j = in.size();
    docs.emplace_back(in.substr(i, j - i));
    i = j + 1;
  }
  const minify::ImageSelect selects[] = {{}, {"latest", "linux/arm64/v8"}, {"example.com/app:1.0", "linux/amd64"}};
  for (int docker = 0; docker < 2; ++docker)
    for (const auto& sel : selects) {
      size_t next = 0;
      auto reader = [&](const std::string& rel) -> minify::Result<std::string> {
        if (next >= docs.size()) return minify::bad_input("read", rel, "no such document");
        if (docs[next].size() > kMaxMetadata) return minify::bad_input("read", rel, "too large");
        return docs[next++];
      };
      minify::Image img;
      if (docker)
        (void)minify::image_internal::read_docker_meta(reader, "/nonexistent/fuzz-image", sel, img);
      else
        (void)minify::image_internal::read_oci_meta(reader, "/nonexistent/fuzz-image", sel, img);
    }
  return 0;
}
