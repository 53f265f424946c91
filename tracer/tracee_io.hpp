// Reading a stopped tracee: strings and pointer arrays from its memory (process_vm_readv, with
// PTRACE_PEEKDATA as the fallback), its cwd and fds from /proc, and the path arithmetic that
// turns what it named into an absolute path without resolving symlinks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minify/result.hpp"

namespace minify::tracer {

// Reads a NUL-terminated string of at most `max` bytes at `addr` in `tid`.
Result<std::string> read_string(pid_t tid, std::uint64_t addr, std::size_t max = 4096);
// Reads `size` bytes at `addr`.
Status read_bytes(pid_t tid, std::uint64_t addr, void* out, std::size_t size);
// Reads a NULL-terminated array of string pointers (argv), at most `max_entries` of them.
Result<std::vector<std::string>> read_string_array(pid_t tid, std::uint64_t addr, std::size_t max_entries);

// readlink(2) into a std::string.
Result<std::string> read_link(const std::string& path);

// Appends `rel` to the canonical absolute directory `base`. Leading ".." components of `rel` pop
// components of `base` (it is canonical, so that is exact); "." and repeated slashes are dropped;
// any later ".." is kept, since the component before it may be a symlink.
std::string join_under(const std::string& base, std::string_view rel);
// The same for an absolute path: "." and "//" dropped, leading ".." at "/" dropped.
std::string clean_absolute(std::string_view path);

// Maps a path the tracer sees (e.g. from /proc/TID/cwd) to the path inside `root`; nullopt when it
// is not under root. `root` is canonical with no trailing slash; "/" means no chroot.
std::optional<std::string> inside_root(const std::string& root, const std::string& host_path);

}  // namespace minify::tracer
