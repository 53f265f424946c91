// The syscall table (STYLE.md section 8.4): one row per file-related syscall, {nr, name, op}, for
// x86-64 and aarch64. The op says where the path arguments are and what kind of access the call
// is; the tracer's seccomp filter stops exactly the syscalls in the native table, and the row's
// index rides along in the filter's SECCOMP_RET_DATA so the tracer finds the row without a lookup.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace minify::tracer {

// What a syscall does with its path arguments. Argument positions are in syscalls.cpp's
// op_layout(); the access kinds are decided in tracer.cpp's Tracer::describe().
enum class Op : std::uint8_t {
  Open,         // open(path, flags)
  OpenAt,       // openat(dirfd, path, flags)
  OpenAt2,      // openat2(dirfd, path, struct open_how*, size)
  Creat,        // creat(path)
  Execve,       // execve(path, argv, envp)
  Execveat,     // execveat(dirfd, path, argv, envp, flags): AT_EMPTY_PATH runs dirfd itself
  Stat,         // stat(path), statfs(path): follows links
  Lstat,        // lstat(path)
  FstatAt,      // newfstatat(dirfd, path, buf, flags)
  Statx,        // statx(dirfd, path, flags, mask, buf)
  Access,       // access(path, mode)
  FaccessAt,    // faccessat(dirfd, path, mode): no flags argument in the raw syscall
  FaccessAt2,   // faccessat2(dirfd, path, mode, flags)
  Readlink,     // readlink(path)
  ReadlinkAt,   // readlinkat(dirfd, path)
  Chdir,        // chdir(path)
  Fchdir,       // fchdir(fd)
  Truncate,     // truncate(path)
  Mkdir,        // mkdir(path), mknod(path)
  MkdirAt,      // mkdirat(dirfd, path), mknodat(dirfd, path)
  Rmdir,        // rmdir(path), unlink(path)
  UnlinkAt,     // unlinkat(dirfd, path, flags)
  Rename,       // rename(old, new)
  RenameAt,     // renameat(olddirfd, old, newdirfd, new), renameat2(..., flags)
  Link,         // link(old, new)
  LinkAt,       // linkat(olddirfd, old, newdirfd, new, flags)
  Symlink,      // symlink(target, linkpath): the target is data, only linkpath is accessed
  SymlinkAt,    // symlinkat(target, newdirfd, linkpath)
  SetAttr,      // chmod, chown, lchown, utime, utimes, setxattr, removexattr (path)
  SetAttrAt,    // fchmodat, fchownat, futimesat, utimensat, fchmodat2 (dirfd, path)
  GetXattr,     // getxattr(path), follows links
  LGetXattr,    // lgetxattr(path)
  ListXattr,    // listxattr(path)
  LListXattr,   // llistxattr(path)
  Watch,        // inotify_add_watch(fd, path, mask)
  Bind,         // bind(fd, sockaddr*, len): AF_UNIX with a path; AF_INET/6 datagram: a port
  Connect,      // connect(fd, sockaddr*, len): AF_UNIX with a path
  Getdents,     // getdents64(fd, buf, count), getdents(fd, ...): reads a directory's entries
  Listen,       // listen(fd, backlog): no path; an AF_INET/6 stream socket's port (ListenRecord)
};

struct SyscallRow {
  int nr;
  std::string_view name;  // verbatim kernel name
  Op op;
};

// Where an op's arguments are; -1 for "none" (dirfd -1 means AT_FDCWD).
struct OpLayout {
  int dirfd = -1;
  int path = -1;
  int dirfd2 = -1;
  int path2 = -1;
  int flags = -1;
};
OpLayout op_layout(Op op);

// The tables, both compiled on every host so each can be checked anywhere.
std::span<const SyscallRow> x86_64_syscalls();
std::span<const SyscallRow> aarch64_syscalls();
// The table for the architecture this is built for.
std::span<const SyscallRow> native_syscalls();

// TraceLog::syscalls and syscall_arch (TraceOptions::record_syscalls) from the native syscall
// numbers entered (seen[nr]), by libseccomp's names (the ones Docker's and the OCI runtime
// spec's seccomp profiles use); both tracers write them this way.
void name_recorded_syscalls(const std::vector<bool>& seen, std::vector<std::string>& names, std::string& arch);

}  // namespace minify::tracer
