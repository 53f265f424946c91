// The root-confined path layer: every path minify looks up is resolved inside a root directory
// (the host "/", a sysroot, an unpacked image) and can never escape it, the way openat2(2)'s
// RESOLVE_IN_ROOT does: ".." stops at the root and absolute symlink targets restart at the root.
// The deps analyzer, the tracer, the packer and image shrinking all go through this module.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "minify/result.hpp"

namespace minify {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS in fs/namei.c).
inline constexpr int kMaxSymlinks = 40;
// Longer paths are refused before any lookup (PATH_MAX is 4096; we are generous but bounded).
inline constexpr std::size_t kMaxPathLength = 16384;

// One symlink crossed during a lookup: where it is (inside the root) and what it says.
struct SymlinkStep {
  std::string link;    // absolute path of the link inside the root, e.g. "/lib64"
  std::string target;  // its contents as written, e.g. "usr/lib64"
};

struct Resolved {
  std::string path;                // canonical absolute path inside the root, no symlinks left
  std::vector<SymlinkStep> links;  // the symlinks crossed to get there, in order
};

enum class FollowLast { Yes, No };

// Lexical normalization of an absolute path: collapses "//" and "." and applies ".." without
// climbing above "/". No file system access.
std::string normalize_path(std::string_view path);
// "a/b/c" -> "a/b"; "/a" -> "/"; an empty result becomes ".".
std::string dirname_of(std::string_view path);
std::string basename_of(std::string_view path);
// Joins an absolute directory and a path; an absolute `path` is returned as is.
std::string join_path(std::string_view dir, std::string_view path);

class Root {
 public:
  // Opens a root directory on the host. `host_dir` "/" is the host itself.
  static Result<Root> open(const std::string& host_dir);

  Root(Root&&) = default;
  Root& operator=(Root&&) = default;

  const std::string& host_dir() const { return host_dir_; }
  bool is_host() const { return host_dir_ == "/"; }

  // Resolves `path` (absolute inside the root; a relative one is taken from "/") component by
  // component, following symlinks inside the root. Fails with ENOENT, ENOTDIR, ELOOP or
  // ENAMETOOLONG as the kernel would.
  Result<Resolved> resolve(std::string_view path, FollowLast follow = FollowLast::Yes) const;

  // The host path of an inner path, for messages and for tools that need one. Only meaningful
  // for a path that resolve() returned, since it does not confine symlinks.
  std::string host_path(std::string_view inner) const;

  // Opens a file read-only (O_CLOEXEC), resolved inside the root.
  Result<UniqueFd> open_read(std::string_view path) const;
  // stat(2) / lstat(2) inside the root.
  Result<struct stat> stat(std::string_view path, FollowLast follow = FollowLast::Yes) const;
  // The whole contents of a regular file, refusing files larger than `max_size`.
  Result<std::string> read_file(std::string_view path, std::size_t max_size = 64 << 20) const;
  // readlink(2) of `path` itself (its parent directories resolved inside the root).
  Result<std::string> read_link(std::string_view path) const;
  // The names in a directory inside the root, sorted, without "." and "..".
  Result<std::vector<std::string>> list_dir(std::string_view dir) const;
  // Calls f(name, d_type) for each entry of a directory inside the root but "." and "..", in
  // directory order. d_type is getdents(2)'s: DT_UNKNOWN where the file system does not say.
  // One listing tells which of many names are symlinks without a stat of each.
  Status for_each_entry(std::string_view dir, const std::function<void(std::string_view, unsigned char)>& f) const;
  // execvp's search inside the root: `name` in each directory of the colon-separated `path_var`,
  // the first regular file with an execute bit.
  std::optional<std::string> find_in_path(std::string_view name, std::string_view path_var) const;

 private:
  Root(std::string host_dir, UniqueFd fd) : host_dir_(std::move(host_dir)), fd_(std::move(fd)) {}

  std::string host_dir_;
  UniqueFd fd_;  // O_PATH descriptor of the root directory
  // What resolve() learnt about each canonical path it stepped through: a directory (empty
  // string) or a symlink (its target). The analysed trees do not change while they are analysed,
  // and opens never rely on it (they go through openat2), so a stale entry cannot make a lookup
  // escape. Not thread-safe.
  mutable std::unordered_map<std::string, std::string> seen_;
};

// ---- The root's accounts (src/rootfs/accounts.cpp), read as text: glibc's getpwnam would load
// the root's NSS modules into minify.

// The lines of the root's /etc/passwd or /etc/group split on ':', those with at least
// `min_fields` fields and a decimal id in the third; comments and other lines are skipped.
std::vector<std::vector<std::string>> read_account_lines(const Root& root, const char* file, size_t min_fields);
// A decimal id that fits 32 bits; nullopt for anything else (a field of an image's passwd is
// untrusted text).
std::optional<uint32_t> parse_account_id(std::string_view s);
// "uid[:gid]" or "name[:group]" as a container runtime resolves a User against the root's
// /etc/passwd and /etc/group: a name must be there; a uid without a line gets gid 0. nullopt
// for an empty spec or a name (user or group) the root does not have.
std::optional<std::pair<uid_t, gid_t>> resolve_user(const Root& root, std::string_view spec);
// The supplementary groups initgroups(3) gives the user of `spec` (resolve_user's form): `gid`
// and every group of the root's /etc/group that lists the user's name as a member. Only `gid`
// for a uid without a passwd line.
std::vector<gid_t> supplementary_groups(const Root& root, std::string_view spec, gid_t gid);

}  // namespace minify
