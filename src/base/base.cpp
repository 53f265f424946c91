// The base images minify knows (base.hpp): their names, their references and what each one
// carries, so that a runner stage on it leaves those files out.
#include "minify/base.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <array>

#include "minify/rootfs.hpp"

namespace minify {

namespace {

// Debian 12 distroless images (github.com/GoogleContainerTools/distroless, base/README.md):
// static has ca-certificates, tzdata, /etc/passwd and /etc/group with root/nobody/nonroot, /tmp;
// base adds glibc and OpenSSL (libssl3); cc adds libgcc and libstdc++. When in doubt a file is
// copied: an extra copy costs bytes, a missing one breaks the program.
constexpr std::array<std::string_view, 7> kStaticPaths = {"/etc/passwd", "/etc/group", "/etc/os-release", "/etc/debian_version",
                                                         "/etc/ssl/certs/ca-certificates.crt", "/tmp", "/home/nonroot"};
// The Debian packages each distroless flavour installs and describes in its own
// /var/lib/dpkg/status.d (GoogleContainerTools/distroless, debian12): our stanza for one of them
// would overwrite the base's with the builder's version.
constexpr std::array<std::string_view, 4> kStaticPackages = {"base-files", "netbase", "tzdata", "media-types"};
constexpr std::array<std::string_view, 2> kBasePackages = {"libc6", "libssl3"};
constexpr std::array<std::string_view, 3> kCcPackages = {"libgcc-s1", "libstdc++6", "libgomp1"};
constexpr std::array<std::string_view, 1> kStaticTrees = {"/usr/share/zoneinfo"};
constexpr std::array<std::string_view, 17> kGlibcLibs = {
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux-armhf.so.3", "ld64.so.2", "ld64.so.1",
    "libc.so.6",   "libm.so.6",   "libpthread.so.0", "libdl.so.2",       "librt.so.1",
    "libresolv.so.2", "libnss_dns.so.2", "libnss_files.so.2", "libutil.so.1", "libanl.so.1",
    "libssl.so.3", "libcrypto.so.3"};
constexpr std::array<std::string_view, 3> kCcLibs = {"libgcc_s.so.1", "libstdc++.so.6*", "libgomp.so.1*"};
}  // namespace

bool in_library_dir(std::string_view path) {
  for (std::string_view d : {"/lib/", "/lib64/", "/lib32/", "/usr/lib/", "/usr/lib64/", "/usr/lib32/"})
    if (path.substr(0, d.size()) == d) return true;
  return false;
}

bool basename_matches(std::span<const std::string_view> patterns, std::string_view path) {
  std::string base = basename_of(path);
  for (auto p : patterns)
    if (::fnmatch(std::string(p).c_str(), base.c_str(), 0) == 0) return true;
  return false;
}

std::string_view base_name(Base base) {
  switch (base) {
    case Base::Scratch: return "scratch";
    case Base::DistrolessStatic: return "distroless-static";
    case Base::DistrolessBase: return "distroless-base";
    case Base::DistrolessCc: return "distroless-cc";
  }
  return "scratch";
}

std::optional<Base> parse_base(std::string_view name) {
  for (Base b : {Base::Scratch, Base::DistrolessStatic, Base::DistrolessBase, Base::DistrolessCc})
    if (base_name(b) == name) return b;
  return std::nullopt;
}

std::string base_image(Base base, std::string_view pin_digest) {
  std::string image;
  switch (base) {
    case Base::Scratch: return "scratch";  // not an image: nothing to pin
    case Base::DistrolessStatic: image = "gcr.io/distroless/static-debian12:nonroot"; break;
    case Base::DistrolessBase: image = "gcr.io/distroless/base-debian12:nonroot"; break;
    case Base::DistrolessCc: image = "gcr.io/distroless/cc-debian12:nonroot"; break;
  }
  if (!pin_digest.empty()) image += "@" + std::string(pin_digest);
  return image;
}

bool base_provides(Base base, std::string_view path) {
  // The package a metadata file describes: status.d/NAME, status.d/NAME.md5sums, doc/NAME/copyright.
  std::string_view package;
  constexpr std::string_view kStatusD = "/var/lib/dpkg/status.d/", kDoc = "/usr/share/doc/";
  if (path.substr(0, kStatusD.size()) == kStatusD) {
    package = path.substr(kStatusD.size());
    if (package.size() > 8 && package.substr(package.size() - 8) == ".md5sums") package.remove_suffix(8);
  } else if (path.substr(0, kDoc.size()) == kDoc && path.size() > kDoc.size() + 10 &&
             path.substr(path.size() - 10) == "/copyright") {
    package = path.substr(kDoc.size(), path.size() - kDoc.size() - 10);
  }
  auto named = [&](const auto& list) { return !package.empty() && std::find(list.begin(), list.end(), package) != list.end(); };
  switch (base) {
    case Base::Scratch: return false;
    case Base::DistrolessCc:
      if (in_library_dir(path) && basename_matches(kCcLibs, path)) return true;
      if (named(kCcPackages)) return true;
      [[fallthrough]];
    case Base::DistrolessBase:
      if (in_library_dir(path) && basename_matches(kGlibcLibs, path)) return true;
      if (named(kBasePackages)) return true;
      [[fallthrough]];
    case Base::DistrolessStatic:
      if (named(kStaticPackages)) return true;
      for (auto p : kStaticPaths)
        if (path == p) return true;
      for (auto t : kStaticTrees)
        if (path.substr(0, t.size()) == t && (path.size() == t.size() || path[t.size()] == '/')) return true;
      return false;
  }
  return false;
}

}  // namespace minify
