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

// A path that reaches a file through a process's /proc entry instead of naming it: /proc/self/fd/3
// or /dev/fd/3 (the file open as fd 3), /proc/self/cwd, /proc/self/root, /proc/self/exe, the same
// under /proc/thread-self, /proc/PID and /proc/PID/task/TID, and /dev/stdin, /dev/stdout,
// /dev/stderr. The kernel follows these "magic links" through the process's own tables, so the
// real path is what the link reads as at the time of the call.
struct ProcIndirection {
  std::string link;  // the magic link to read as the tracer: "/proc/1234/fd/3", "/proc/1234/cwd"
  std::string rest;  // what the path names below it: "" or "/sub/name"
  pid_t by_pid = 0;  // the PID in /proc/PID/..., 0 for self, thread-self and /dev/fd
};
// Splits an absolute, clean path naming such a link; nullopt for any other path. `tgid` and `tid`
// stand for "self" and "thread-self" of the calling thread. /dev/fd is the thread's own table:
// a thread created without CLONE_FILES has one of its own.
std::optional<ProcIndirection> proc_indirection(std::string_view path, pid_t tgid, pid_t tid);

// The real path behind an indirection, when its link names a file inside `root` (see inside_root);
// nullopt when the link cannot be read (no such fd or process) or names no path (a pipe, a socket,
// a deleted file) or one outside the root.
std::optional<std::string> resolve_proc_indirection(const std::string& root, const ProcIndirection& ind);

// Maps a path the tracer sees (e.g. from /proc/TID/cwd) to the path inside `root`; nullopt when it
// is not under root. `root` is canonical with no trailing slash; "/" means no chroot.
std::optional<std::string> inside_root(const std::string& root, const std::string& host_path);

}  // namespace minify::tracer
