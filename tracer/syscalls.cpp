// The x86-64 and aarch64 rows of the syscall table (see syscalls.hpp). Numbers are from the
// kernel's arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h (which
// aarch64 uses; it has no legacy open/stat/rename/... calls). The native table is checked against
// <sys/syscall.h> at compile time.
#include "syscalls.hpp"

#include <seccomp.h>
#include <sys/syscall.h>

#include <algorithm>
#include <array>
#include <cstdlib>

namespace minify::tracer {
namespace {

constexpr std::array kX86_64 = {
    SyscallRow{2, "open", Op::Open},
    SyscallRow{4, "stat", Op::Stat},
    SyscallRow{6, "lstat", Op::Lstat},
    SyscallRow{21, "access", Op::Access},
    SyscallRow{42, "connect", Op::Connect},
    SyscallRow{49, "bind", Op::Bind},
    SyscallRow{50, "listen", Op::Listen},
    SyscallRow{59, "execve", Op::Execve},
    SyscallRow{76, "truncate", Op::Truncate},
    SyscallRow{78, "getdents", Op::Getdents},
    SyscallRow{80, "chdir", Op::Chdir},
    SyscallRow{81, "fchdir", Op::Fchdir},
    SyscallRow{82, "rename", Op::Rename},
    SyscallRow{83, "mkdir", Op::Mkdir},
    SyscallRow{84, "rmdir", Op::Rmdir},
    SyscallRow{85, "creat", Op::Creat},
    SyscallRow{86, "link", Op::Link},
    SyscallRow{87, "unlink", Op::Rmdir},
    SyscallRow{88, "symlink", Op::Symlink},
    SyscallRow{89, "readlink", Op::Readlink},
    SyscallRow{90, "chmod", Op::SetAttr},
    SyscallRow{92, "chown", Op::SetAttr},
    SyscallRow{94, "lchown", Op::SetAttr},
    SyscallRow{132, "utime", Op::SetAttr},
    SyscallRow{133, "mknod", Op::Mkdir},
    SyscallRow{137, "statfs", Op::Stat},
    SyscallRow{188, "setxattr", Op::SetAttr},
    SyscallRow{189, "lsetxattr", Op::SetAttr},
    SyscallRow{191, "getxattr", Op::GetXattr},
    SyscallRow{192, "lgetxattr", Op::LGetXattr},
    SyscallRow{194, "listxattr", Op::ListXattr},
    SyscallRow{195, "llistxattr", Op::LListXattr},
    SyscallRow{197, "removexattr", Op::SetAttr},
    SyscallRow{217, "getdents64", Op::Getdents},
    SyscallRow{198, "lremovexattr", Op::SetAttr},
    SyscallRow{235, "utimes", Op::SetAttr},
    SyscallRow{254, "inotify_add_watch", Op::Watch},
    SyscallRow{257, "openat", Op::OpenAt},
    SyscallRow{258, "mkdirat", Op::MkdirAt},
    SyscallRow{259, "mknodat", Op::MkdirAt},
    SyscallRow{260, "fchownat", Op::SetAttrAt},
    SyscallRow{261, "futimesat", Op::SetAttrAt},
    SyscallRow{262, "newfstatat", Op::FstatAt},
    SyscallRow{263, "unlinkat", Op::UnlinkAt},
    SyscallRow{264, "renameat", Op::RenameAt},
    SyscallRow{265, "linkat", Op::LinkAt},
    SyscallRow{266, "symlinkat", Op::SymlinkAt},
    SyscallRow{267, "readlinkat", Op::ReadlinkAt},
    SyscallRow{268, "fchmodat", Op::SetAttrAt},
    SyscallRow{269, "faccessat", Op::FaccessAt},
    SyscallRow{280, "utimensat", Op::SetAttrAt},
    SyscallRow{316, "renameat2", Op::RenameAt},
    SyscallRow{322, "execveat", Op::Execveat},
    SyscallRow{332, "statx", Op::Statx},
    SyscallRow{437, "openat2", Op::OpenAt2},
    SyscallRow{439, "faccessat2", Op::FaccessAt2},
    SyscallRow{452, "fchmodat2", Op::SetAttrAt},
};

constexpr std::array kAarch64 = {
    SyscallRow{5, "setxattr", Op::SetAttr},
    SyscallRow{6, "lsetxattr", Op::SetAttr},
    SyscallRow{8, "getxattr", Op::GetXattr},
    SyscallRow{9, "lgetxattr", Op::LGetXattr},
    SyscallRow{11, "listxattr", Op::ListXattr},
    SyscallRow{12, "llistxattr", Op::LListXattr},
    SyscallRow{14, "removexattr", Op::SetAttr},
    SyscallRow{15, "lremovexattr", Op::SetAttr},
    SyscallRow{27, "inotify_add_watch", Op::Watch},
    SyscallRow{33, "mknodat", Op::MkdirAt},
    SyscallRow{34, "mkdirat", Op::MkdirAt},
    SyscallRow{35, "unlinkat", Op::UnlinkAt},
    SyscallRow{36, "symlinkat", Op::SymlinkAt},
    SyscallRow{37, "linkat", Op::LinkAt},
    SyscallRow{38, "renameat", Op::RenameAt},
    SyscallRow{43, "statfs", Op::Stat},
    SyscallRow{45, "truncate", Op::Truncate},
    SyscallRow{48, "faccessat", Op::FaccessAt},
    SyscallRow{49, "chdir", Op::Chdir},
    SyscallRow{50, "fchdir", Op::Fchdir},
    SyscallRow{53, "fchmodat", Op::SetAttrAt},
    SyscallRow{54, "fchownat", Op::SetAttrAt},
    SyscallRow{56, "openat", Op::OpenAt},
    SyscallRow{61, "getdents64", Op::Getdents},
    SyscallRow{78, "readlinkat", Op::ReadlinkAt},
    SyscallRow{79, "newfstatat", Op::FstatAt},
    SyscallRow{88, "utimensat", Op::SetAttrAt},
    SyscallRow{200, "bind", Op::Bind},
    SyscallRow{201, "listen", Op::Listen},
    SyscallRow{203, "connect", Op::Connect},
    SyscallRow{221, "execve", Op::Execve},
    SyscallRow{276, "renameat2", Op::RenameAt},
    SyscallRow{281, "execveat", Op::Execveat},
    SyscallRow{291, "statx", Op::Statx},
    SyscallRow{437, "openat2", Op::OpenAt2},
    SyscallRow{439, "faccessat2", Op::FaccessAt2},
    SyscallRow{452, "fchmodat2", Op::SetAttrAt},
};

template <std::size_t N>
constexpr int nr_of(const std::array<SyscallRow, N>& table, std::string_view name) {
  for (const SyscallRow& row : table)
    if (row.name == name) return row.nr;
  return -1;
}

#if defined(__x86_64__)
constexpr const auto& kNative = kX86_64;
static_assert(nr_of(kNative, "open") == __NR_open && nr_of(kNative, "rename") == __NR_rename);
static_assert(nr_of(kNative, "utimes") == __NR_utimes && nr_of(kNative, "inotify_add_watch") == __NR_inotify_add_watch);
static_assert(nr_of(kNative, "statfs") == __NR_statfs && nr_of(kNative, "mknod") == __NR_mknod);
static_assert(nr_of(kNative, "getdents") == __NR_getdents);
#elif defined(__aarch64__)
constexpr const auto& kNative = kAarch64;
static_assert(nr_of(kNative, "newfstatat") == __NR_newfstatat && nr_of(kNative, "statfs") == __NR_statfs);
#else
#error "minify's tracer knows the syscall numbers of x86-64 and aarch64 only"
#endif
static_assert(nr_of(kNative, "openat") == __NR_openat && nr_of(kNative, "execveat") == __NR_execveat);
static_assert(nr_of(kNative, "getdents64") == __NR_getdents64);
static_assert(nr_of(kNative, "statx") == __NR_statx && nr_of(kNative, "renameat2") == __NR_renameat2);
static_assert(nr_of(kNative, "fchdir") == __NR_fchdir && nr_of(kNative, "connect") == __NR_connect);
static_assert(nr_of(kNative, "bind") == __NR_bind && nr_of(kNative, "listen") == __NR_listen);
static_assert(nr_of(kNative, "lremovexattr") == __NR_lremovexattr && nr_of(kNative, "symlinkat") == __NR_symlinkat);

}  // namespace

OpLayout op_layout(Op op) {
  switch (op) {
    case Op::Open: return {.path = 0, .flags = 1};
    case Op::OpenAt: return {.dirfd = 0, .path = 1, .flags = 2};
    case Op::OpenAt2: return {.dirfd = 0, .path = 1, .flags = 2};  // flags: struct open_how*
    case Op::Creat: return {.path = 0};
    case Op::Execve: return {.path = 0};
    case Op::Execveat: return {.dirfd = 0, .path = 1, .flags = 4};
    case Op::Stat: return {.path = 0};
    case Op::Lstat: return {.path = 0};
    case Op::FstatAt: return {.dirfd = 0, .path = 1, .flags = 3};
    case Op::Statx: return {.dirfd = 0, .path = 1, .flags = 2};
    case Op::Access: return {.path = 0};
    case Op::FaccessAt: return {.dirfd = 0, .path = 1};
    case Op::FaccessAt2: return {.dirfd = 0, .path = 1, .flags = 3};
    case Op::Readlink: return {.path = 0};
    case Op::ReadlinkAt: return {.dirfd = 0, .path = 1};
    case Op::Chdir: return {.path = 0};
    case Op::Fchdir: return {.dirfd = 0};
    case Op::Truncate: return {.path = 0};
    case Op::Mkdir: return {.path = 0};
    case Op::MkdirAt: return {.dirfd = 0, .path = 1};
    case Op::Rmdir: return {.path = 0};
    case Op::UnlinkAt: return {.dirfd = 0, .path = 1, .flags = 2};
    case Op::Rename: return {.path = 0, .path2 = 1};
    case Op::RenameAt: return {.dirfd = 0, .path = 1, .dirfd2 = 2, .path2 = 3};
    case Op::Link: return {.path = 0, .path2 = 1};
    case Op::LinkAt: return {.dirfd = 0, .path = 1, .dirfd2 = 2, .path2 = 3, .flags = 4};
    case Op::Symlink: return {.path2 = 1};
    case Op::SymlinkAt: return {.dirfd2 = 1, .path2 = 2};
    case Op::SetAttr: return {.path = 0};
    case Op::SetAttrAt: return {.dirfd = 0, .path = 1};
    case Op::GetXattr: return {.path = 0};
    case Op::LGetXattr: return {.path = 0};
    case Op::ListXattr: return {.path = 0};
    case Op::LListXattr: return {.path = 0};
    case Op::Watch: return {.path = 1};
    case Op::Bind: return {.path = 1};
    case Op::Connect: return {.path = 1};
    case Op::Getdents: return {.dirfd = 0};
    case Op::Listen: return {};  // the fd is argument 0; no path
  }
  return {};
}

std::span<const SyscallRow> x86_64_syscalls() { return kX86_64; }
std::span<const SyscallRow> aarch64_syscalls() { return kAarch64; }
std::span<const SyscallRow> native_syscalls() { return kNative; }

void name_recorded_syscalls(const std::vector<bool>& seen, std::vector<std::string>& names, std::string& arch) {
  arch =
#if defined(__x86_64__)
      "x86_64";
#elif defined(__aarch64__)
      "aarch64";
#endif
  names.clear();
  for (std::size_t nr = 0; nr < seen.size(); ++nr) {
    if (!seen[nr]) continue;
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(nr));
    names.push_back(name != nullptr ? std::string(name) : "#" + std::to_string(nr));
    std::free(name);
  }
  std::sort(names.begin(), names.end());
}

}  // namespace minify::tracer
