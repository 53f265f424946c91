// The base images minify knows (base.hpp): their names and references, what each one carries as
// data with its sources (a runner stage on it leaves those needs out), the digests their tags had
// (base_digests.inc), and resolving a digest at run time with skopeo.
//
// The Debian 12 distroless images, from GoogleContainerTools/distroless at commit cd080764
// (2026-08-21) and rules_distroless at 4b886219 (2025-07-03):
// - static (static/static.bzl, static/config.bzl): the packages base-files, netbase, tzdata and
//   media-types (since e511f583, 2025-08-04) unpacked whole; /etc/passwd with root, nobody
//   (65534) and nonroot (65532); /etc/group with root, nobody, tty, staff, nonroot
//   (common/BUILD.bazel); /root, /home, /home/nonroot; /tmp 1777; /etc/nsswitch.conf
//   (static/nsswitch.conf: "hosts: files dns", "passwd: compat"); its own /usr/lib/os-release;
//   a CA bundle at /etc/ssl/certs/ca-certificates.crt, the concatenation of every certificate of
//   the ca-certificates package (rules_distroless distroless/private/cacerts.sh), with that
//   package's copyright and status.d but no hash links and no /usr/share/ca-certificates; Env
//   PATH and SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt (OpenSSL's default
//   /usr/lib/ssl/cert.pem is not there: the openssl package is not installed).
//   No /etc/localtime (tzdata's postinst makes it, distroless runs none): the zone is UTC.
// - base (base/config.bzl): static + libc6 and libssl3. Not libc-bin (no ldconfig, no
//   /etc/ld.so.cache, no /usr/lib/locale/C.utf8) and not openssl (no /usr/lib/ssl/openssl.cnf).
// - cc (cc/config.bzl): base + libgomp1, libstdc++6, libgcc-s1, gcc-12-base.
// The :nonroot tag runs as 65532 in /home/nonroot.
#include <fcntl.h>
#include <fnmatch.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "minify/base.hpp"
#include "minify/digest.hpp"
#include "minify/rootfs.hpp"

extern char** environ;

namespace minify {

namespace {

constexpr std::string_view kDistrolessSource =
    "GoogleContainerTools/distroless@cd080764 static/static.bzl, static/config.bzl, base/config.bzl, "
    "cc/config.bzl, common/BUILD.bazel; rules_distroless@4b886219 distroless/private/cacerts.sh";

const BaseContents kScratch{Base::Scratch, "", "", {}, {}, {}, false, false, false, false, false,
                            "an empty image (docs.docker.com: FROM scratch)"};

BaseContents distroless(Base b, std::string_view repo, std::vector<std::string_view> extra) {
  BaseContents c;
  c.base = b;
  c.repository = repo;
  c.tag = "nonroot";
  c.packages = {"base-files", "netbase", "tzdata", "media-types"};
  c.packages.insert(c.packages.end(), extra.begin(), extra.end());
  c.metadata_of = c.packages;
  c.metadata_of.push_back("ca-certificates");  // its bundle and copyright, not its files
  c.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"};
  c.ca_bundle = c.tzdata = c.users = c.nsswitch = true;
  c.libc = b != Base::DistrolessStatic;
  c.source = kDistrolessSource;
  return c;
}

// Paths a Debian 12 distroless base has whatever the packages: for base_provides() and for the
// planner when no package database tells owners.
constexpr std::array<std::string_view, 8> kStaticPaths = {
    "/etc/passwd", "/etc/group", "/etc/os-release", "/usr/lib/os-release", "/etc/debian_version",
    "/etc/ssl/certs/ca-certificates.crt", "/tmp", "/home/nonroot"};
constexpr std::array<std::string_view, 1> kStaticTrees = {"/usr/share/zoneinfo"};
constexpr std::array<std::string_view, 17> kGlibcLibs = {
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux-armhf.so.3", "ld64.so.2", "ld64.so.1",
    "libc.so.6",   "libm.so.6",   "libpthread.so.0", "libdl.so.2",       "librt.so.1",
    "libresolv.so.2", "libnss_dns.so.2", "libnss_files.so.2", "libutil.so.1", "libanl.so.1",
    "libssl.so.3", "libcrypto.so.3"};
constexpr std::array<std::string_view, 3> kCcLibs = {"libgcc_s.so.1", "libstdc++.so.6*", "libgomp.so.1*"};

// The table scripts/update-base-digests writes: {base name, digest, date, source}.
struct DigestRow {
  std::string_view base, digest, taken, source;
};
constexpr DigestRow kDigests[] = {
#include "base/base_digests.inc"
};

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

const BaseContents& base_contents(Base base) {
  static const BaseContents kStatic = distroless(Base::DistrolessStatic, "gcr.io/distroless/static-debian12", {});
  static const BaseContents kBase =
      distroless(Base::DistrolessBase, "gcr.io/distroless/base-debian12", {"libc6", "libssl3"});
  static const BaseContents kCc = distroless(Base::DistrolessCc, "gcr.io/distroless/cc-debian12",
                                             {"libc6", "libssl3", "libgomp1", "libstdc++6", "libgcc-s1", "gcc-12-base"});
  switch (base) {
    case Base::Scratch: return kScratch;
    case Base::DistrolessStatic: return kStatic;
    case Base::DistrolessBase: return kBase;
    case Base::DistrolessCc: return kCc;
  }
  return kScratch;
}

std::optional<KnownDigest> known_digest(Base base) {
  for (const auto& row : kDigests)
    if (row.base == base_name(base) && !row.digest.empty()) return KnownDigest{row.digest, row.taken, row.source};
  return std::nullopt;
}

Result<std::string> resolve_digest(const std::string& ref) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return sys_error("pipe", ref);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) posix_spawn_file_actions_adddup2(&fa, devnull, STDERR_FILENO);
  std::string a0 = "skopeo", a1 = "inspect", a2 = "--raw", a3 = ref;
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "skopeo", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (devnull >= 0) ::close(devnull);
  if (rc != 0) {
    ::close(pipefd[0]);
    return Error{rc, "run", "skopeo", "to resolve " + ref};
  }
  Hasher h;
  uint64_t bytes = 0;
  char buf[1 << 14];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    h.update(buf, static_cast<size_t>(n));
    bytes += static_cast<uint64_t>(n);
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || bytes == 0)
    return bad_input("skopeo inspect --raw", ref, "failed (no registry access, or no such image)");
  return "sha256:" + h.hex();
}

Result<BasePin> pin_base(Base base, std::string_view given, bool resolve) {
  if (base == Base::Scratch) return BasePin{};  // not an image: nothing to pin
  if (!given.empty()) return BasePin{std::string(given), "given with --pin-digest"};
  if (resolve) {
    auto d = resolve_digest("docker://" + base_image(base));
    if (!d) return d.error();
    return BasePin{*d, "resolved now with skopeo"};
  }
  if (auto k = known_digest(base))
    return BasePin{std::string(k->digest),
                   "the digest its tag had on " + std::string(k->taken) + " (--resolve-digest asks the registry)"};
  return BasePin{};
}

std::string base_image(Base base, std::string_view pin_digest) {
  const BaseContents& c = base_contents(base);
  if (c.repository.empty()) return "scratch";  // not an image: nothing to pin
  std::string image = std::string(c.repository) + ":" + std::string(c.tag);
  if (!pin_digest.empty()) image += "@" + std::string(pin_digest);
  return image;
}

bool base_provides(Base base, std::string_view path) {
  const BaseContents& c = base_contents(base);
  if (c.repository.empty()) return false;
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
  if (!package.empty() && std::find(c.metadata_of.begin(), c.metadata_of.end(), package) != c.metadata_of.end())
    return true;
  if (base == Base::DistrolessCc && in_library_dir(path) && basename_matches(kCcLibs, path)) return true;
  if (c.libc && in_library_dir(path) && basename_matches(kGlibcLibs, path)) return true;
  for (auto p : kStaticPaths)
    if (path == p) return true;
  for (auto t : kStaticTrees)
    if (path.substr(0, t.size()) == t && (path.size() == t.size() || path[t.size()] == '/')) return true;
  return false;
}

}  // namespace minify
