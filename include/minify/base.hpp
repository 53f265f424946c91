// The base images a runner stage can start from: scratch and the Debian 12 distroless images.
// inspect recommends one, the pipeline picks one, the Dockerfile writer names it and leaves out
// what it already carries. One type for all of them.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "minify/result.hpp"

namespace minify {

enum class Base { Scratch, DistrolessStatic, DistrolessBase, DistrolessCc };
std::string_view base_name(Base base);  // "scratch", "distroless-static", ...
std::optional<Base> parse_base(std::string_view name);

// What a base image carries, as data (src/base/base.cpp, each fact with its source). The
// runner stage copies nothing the base already meets.
struct BaseContents {
  Base base = Base::Scratch;
  std::string_view repository;                // "gcr.io/distroless/static-debian12"; "" for scratch
  std::string_view tag;                       // "nonroot"
  std::vector<std::string_view> packages;     // Debian packages installed whole
  std::vector<std::string_view> metadata_of;  // packages whose status.d and copyright it has
  std::vector<std::string_view> env;          // its config's Env ("SSL_CERT_FILE=...")
  bool ca_bundle = false;  // /etc/ssl/certs/ca-certificates.crt, and SSL_CERT_FILE naming it
  bool tzdata = false;     // /usr/share/zoneinfo (no /etc/localtime: UTC)
  bool users = false;      // /etc/passwd, /etc/group: root, nobody, nonroot (65532)
  bool nsswitch = false;   // /etc/nsswitch.conf ("hosts: files dns")
  bool libc = false;       // glibc: the loader, libc, libnss_{files,dns,compat}
  std::string_view source;
};
const BaseContents& base_contents(Base base);

// A digest of a base image's tag, as it was on a date, and where it was read.
struct KnownDigest {
  std::string_view digest;  // "sha256:..." of the multi-arch index the tag named
  std::string_view taken;   // "2026-08-03"
  std::string_view source;
};
// From the table scripts/update-base-digests writes (src/base/base_digests.inc). nullopt: no
// digest is known, the FROM line carries only the tag.
std::optional<KnownDigest> known_digest(Base base);
// Asks the registry (`skopeo inspect --raw REF`) for the manifest REF names and returns the
// sha256 of its bytes: the digest a FROM line pins. `ref` has a transport ("docker://...",
// "oci-archive:FILE"). Needs skopeo, and for docker:// the network.
Result<std::string> resolve_digest(const std::string& ref);

// The digest a FROM line pins, and how minify got it.
struct BasePin {
  std::string digest;  // "sha256:..."; empty: none is known (scratch, or no table row)
  std::string how;     // "given with --pin-digest", "resolved now with skopeo", "the digest its tag had on DATE ..."
};
// `given` when set, else the registry's when `resolve` (an error when it cannot be read), else
// minify's table.
Result<BasePin> pin_base(Base base, std::string_view given, bool resolve);

// The image reference: "scratch", "gcr.io/distroless/static-debian12:nonroot", or with a digest
// "gcr.io/distroless/static-debian12:nonroot@sha256:...". Never "latest".
std::string base_image(Base base, std::string_view pin_digest = {});

// Does the base image already contain this path (same content for a Debian 12 builder)? By path
// only; plan_runner() (pack.hpp) decides by need and by package, which this backs up.
bool base_provides(Base base, std::string_view path);

// Is `path` inside one of the directories libraries live in (/lib, /lib64, /usr/lib, ...)?
bool in_library_dir(std::string_view path);
// Does the last component of `path` match one of the fnmatch(3) patterns?
bool basename_matches(std::span<const std::string_view> patterns, std::string_view path);

// The user a base runs as when nothing else is asked: "65532:65532" (nonroot) for all of them;
// a scratch image gets it together with add_scratch_basics() (pack.hpp).
inline constexpr const char* kNonRootUser = "65532:65532";

}  // namespace minify
