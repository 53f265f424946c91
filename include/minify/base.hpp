// The base images a runner stage can start from: scratch and the Debian 12 distroless images.
// inspect recommends one, the pipeline picks one, the Dockerfile writer names it and leaves out
// what it already carries. One type for all of them.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace minify {

enum class Base { Scratch, DistrolessStatic, DistrolessBase, DistrolessCc };
std::string_view base_name(Base base);  // "scratch", "distroless-static", ...
std::optional<Base> parse_base(std::string_view name);

// The pinned image reference: "scratch", "gcr.io/distroless/static-debian12:nonroot", or with a
// digest "gcr.io/distroless/static-debian12:nonroot@sha256:...". Never "latest".
std::string base_image(Base base, std::string_view pin_digest = {});

// Does the base image already contain this path (same content for a Debian 12 builder)?
bool base_provides(Base base, std::string_view path);

// Is `path` inside one of the directories libraries live in (/lib, /lib64, /usr/lib, ...)?
bool in_library_dir(std::string_view path);
// Does the last component of `path` match one of the fnmatch(3) patterns?
bool basename_matches(std::span<const std::string_view> patterns, std::string_view path);

// The user a base runs as when nothing else is asked: "65532:65532" (nonroot) for all of them;
// a scratch image gets it together with add_scratch_basics() (pack.hpp).
inline constexpr const char* kNonRootUser = "65532:65532";

}  // namespace minify
