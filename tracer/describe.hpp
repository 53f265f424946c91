// What one traced syscall did to paths, decided the same way for both tracers: the ptrace tracer
// reads the arguments from the stopped tracee, the eBPF tracer from the record its kernel side
// made at the call; both hand them to describe() through an ArgSource, so the access kinds of a
// syscall are written once (STYLE.md section 8.4).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "minify/trace.hpp"
#include "syscalls.hpp"

namespace minify::tracer {

// How the ptrace tracer decides, without the exit stop, whether a lookup succeeded.
enum class Lookup : std::uint8_t {
  Follow,           // the path resolves (stat, access, open for reading)
  NoFollow,         // the path itself exists (lstat, AT_SYMLINK_NOFOLLOW)
  NoFollowNotLink,  // exists and is not a symlink (open O_NOFOLLOW fails with ELOOP on a link)
  Directory,        // resolves to a directory (chdir, O_DIRECTORY)
  Symlink,          // is a symlink (readlink)
  Regular,          // resolves to a regular file (exec)
};

struct Access {
  std::string path;
  AccessSet kinds;
  Lookup lookup = Lookup::Follow;
  // getdents64: the call reads the directory's entries, so what the thread group touches in it
  // from now on may have been found there rather than named (PathUse::found_by_listing).
  bool lists = false;
};

// Where describe() gets what a syscall named.
class ArgSource {
 public:
  virtual ~ArgSource() = default;
  // Path argument `path_arg` relative to dirfd argument `dirfd_arg` (-1: AT_FDCWD), as an
  // absolute path with /proc indirections followed (the last component only when `follow`).
  // `path_arg` -1 names the dirfd itself, and so does an empty string with `empty_means_fd`.
  // nullopt, with `note` saying why, when it cannot be told.
  virtual std::optional<std::string> path(int dirfd_arg, int path_arg, bool empty_means_fd, bool follow,
                                          std::string& note) = 0;
  // openat2's struct open_how.flags.
  virtual std::optional<std::uint64_t> open_how_flags() = 0;
  // bind/connect: the AF_UNIX socket's path, absolute; nullopt with an empty note for the abstract
  // namespace and other families.
  virtual std::optional<std::string> socket_path(std::string& note) = 0;
  // execve's argv (argument `arg`), capped at 256 strings.
  virtual std::vector<std::string> argv(int arg) = 0;
  // bind: the sockaddr's family (AF_INET...); 0 when it cannot be read.
  virtual int sockaddr_family() = 0;
};

// listen, and bind of an AF_INET/AF_INET6 address: the socket whose port is read after a
// successful call (each tracer its own way: the ptrace one duplicates the fd with pidfd_getfd,
// the eBPF one reads the struct sock at the syscall's exit).
struct SocketCall {
  int fd = -1;
  bool listen = false;  // listen(); else bind()
};

// A socket as it is after the call.
struct SocketState {
  int family = 0;  // AF_INET, AF_INET6, ...
  int type = 0;    // SOCK_STREAM, SOCK_DGRAM, ...
  std::uint16_t port = 0;
};

// What a successful call on a socket in `state` listened on: a listen on an AF_INET/6 stream
// socket is "tcp", a bind of an AF_INET/6 datagram socket "udp"; nothing for the rest (a TCP
// client that binds before connecting, netlink, a port of 0).
std::optional<ListenRecord> listen_record(const SocketCall& call, const SocketState& state);

struct Described {
  std::vector<Access> accesses;
  // The call changes the filesystem or the cwd: its result must come from the syscall's exit.
  bool needs_exit = false;
  bool chdir = false;
  // execve/execveat: the attempt; whether it succeeded is known later.
  std::optional<ExecRecord> exec;
  // listen/bind: read the socket's port when the call succeeded (needs_exit is set).
  std::optional<SocketCall> socket;
  std::string note;  // why a path could not be recorded
};

Described describe(const SyscallRow& row, const std::array<std::uint64_t, 6>& args, ArgSource& src);

}  // namespace minify::tracer
