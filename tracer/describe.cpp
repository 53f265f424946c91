// See describe.hpp. The access kinds each syscall records (issue 3's table): opens by their flags,
// stats and lookups, execs, the calls that change the filesystem, AF_UNIX sockets, and the
// listening sockets (listen, bind of a datagram socket).
#include "describe.hpp"

#include <fcntl.h>
#include <sys/socket.h>

namespace minify::tracer {

Described describe(const SyscallRow& row, const std::array<std::uint64_t, 6>& args, ArgSource& src) {
  Described out;
  OpLayout lay = op_layout(row.op);
  std::uint64_t flags = lay.flags >= 0 ? args[lay.flags] : 0;

  // A magic link of /proc as the last component is not followed by the no-follow lookups
  // (readlink("/proc/self/exe") reads the link), so only following ones go through it.
  auto follows = [](Lookup lookup) {
    return lookup == Lookup::Follow || lookup == Lookup::Directory || lookup == Lookup::Regular;
  };
  auto path_arg = [&](int di, int pi, bool empty_means_fd, bool follow) {
    return src.path(di, pi, empty_means_fd, follow, out.note);
  };
  auto add = [&](int di, int pi, bool empty_means_fd, AccessSet kinds, Lookup lookup) {
    if (auto p = path_arg(di, pi, empty_means_fd, follows(lookup))) out.accesses.push_back(Access{std::move(*p), kinds, lookup});
  };
  auto open_kinds = [&](std::uint64_t oflags, AccessSet& kinds, Lookup& lookup) {
    int acc = static_cast<int>(oflags & O_ACCMODE);
    lookup = Lookup::Follow;
    if (oflags & O_PATH) {
      kinds.add(AccessKind::Stat);
    } else if (oflags & O_DIRECTORY) {
      kinds.add(AccessKind::List);
      lookup = Lookup::Directory;
    } else if (acc == O_RDONLY) {
      kinds.add(AccessKind::Read);
    }
    if (!(oflags & O_PATH) && (acc == O_WRONLY || acc == O_RDWR)) {
      if (acc == O_RDWR) kinds.add(AccessKind::Read);
      kinds.add(AccessKind::Write);
      out.needs_exit = true;
    }
    if ((oflags & O_CREAT) || (oflags & __O_TMPFILE) == __O_TMPFILE) {
      kinds.add(AccessKind::Create);
      out.needs_exit = true;
    }
    if ((oflags & O_NOFOLLOW) && !(oflags & O_PATH) && lookup == Lookup::Follow) lookup = Lookup::NoFollowNotLink;
  };

  switch (row.op) {
    case Op::Open:
    case Op::OpenAt:
    case Op::OpenAt2: {
      if (row.op == Op::OpenAt2) {
        auto how = src.open_how_flags();
        if (!how) {
          out.note = "unreadable struct open_how";
          return out;
        }
        flags = *how;
      }
      AccessSet kinds;
      Lookup lookup;
      open_kinds(flags, kinds, lookup);
      add(lay.dirfd, lay.path, false, kinds, lookup);
      break;
    }
    case Op::Creat:
      out.needs_exit = true;
      add(-1, 0, false, {AccessKind::Create, AccessKind::Write}, Lookup::Follow);
      break;
    case Op::Execve:
    case Op::Execveat: {
      bool empty_fd = row.op == Op::Execveat && (flags & AT_EMPTY_PATH);
      auto p = path_arg(lay.dirfd, lay.path, empty_fd, true);
      if (!p) break;
      ExecRecord e;
      e.path = *p;
      e.argv = src.argv(row.op == Op::Execve ? 1 : 2);
      out.exec = std::move(e);
      break;
    }
    case Op::Stat:
    case Op::Access:
    case Op::FaccessAt:
    case Op::GetXattr:
    case Op::Watch:
      add(lay.dirfd, lay.path, false, {row.op == Op::Watch ? AccessKind::Watch : AccessKind::Stat},
          Lookup::Follow);
      break;
    case Op::Lstat:
    case Op::LGetXattr:
      add(-1, 0, false, {AccessKind::Stat}, Lookup::NoFollow);
      break;
    case Op::ListXattr:
      add(-1, 0, false, {AccessKind::Stat}, Lookup::Follow);
      break;
    case Op::LListXattr:
      add(-1, 0, false, {AccessKind::Stat}, Lookup::NoFollow);
      break;
    case Op::FstatAt:
    case Op::Statx:
    case Op::FaccessAt2: {
      bool nofollow = flags & AT_SYMLINK_NOFOLLOW;
      add(lay.dirfd, lay.path, flags & AT_EMPTY_PATH, {AccessKind::Stat},
          nofollow ? Lookup::NoFollow : Lookup::Follow);
      break;
    }
    case Op::Readlink:
    case Op::ReadlinkAt:
      add(lay.dirfd, lay.path, true, {AccessKind::Readlink}, Lookup::Symlink);
      break;
    case Op::Chdir:
    case Op::Fchdir:
      out.needs_exit = true;
      out.chdir = true;
      add(lay.dirfd, lay.path, false, {AccessKind::Chdir}, Lookup::Directory);
      break;
    case Op::Truncate:
    case Op::SetAttr:
    case Op::SetAttrAt:
      if (lay.path >= 0 && args[lay.path] == 0) return out;  // utimensat(fd, NULL): futimens()
      out.needs_exit = true;
      add(lay.dirfd, lay.path, true, {AccessKind::Write}, Lookup::Follow);
      break;
    case Op::Mkdir:
    case Op::MkdirAt:
      out.needs_exit = true;
      add(lay.dirfd, lay.path, false, {AccessKind::Create}, Lookup::Follow);
      break;
    case Op::Rmdir:
    case Op::UnlinkAt:
      out.needs_exit = true;
      add(lay.dirfd, lay.path, false, {AccessKind::Remove}, Lookup::NoFollow);
      break;
    case Op::Rename:
    case Op::RenameAt:
    case Op::Link:
    case Op::LinkAt: {
      out.needs_exit = true;
      AccessKind k = row.op == Op::Rename || row.op == Op::RenameAt ? AccessKind::Rename : AccessKind::Link;
      bool empty_fd = row.op == Op::LinkAt && (flags & AT_EMPTY_PATH);
      add(lay.dirfd, lay.path, empty_fd, {k}, Lookup::NoFollow);
      add(lay.dirfd2, lay.path2, false, {k}, Lookup::NoFollow);
      break;
    }
    case Op::Symlink:
    case Op::SymlinkAt:
      out.needs_exit = true;
      add(lay.dirfd2, lay.path2, false, {AccessKind::Symlink}, Lookup::NoFollow);
      break;
    case Op::Bind:
    case Op::Connect: {
      if (row.op == Op::Bind) {
        int family = src.sockaddr_family();
        if (family == AF_INET || family == AF_INET6) {
          out.needs_exit = true;
          out.socket = SocketCall{static_cast<int>(args[0]), false};
          return out;
        }
      }
      // Only AF_UNIX sockets bound to a filesystem path are file accesses; the abstract
      // namespace and other families are not recorded.
      auto p = src.socket_path(out.note);
      if (!p && out.note.empty()) return out;
      out.needs_exit = true;
      if (p) out.accesses.push_back(Access{std::move(*p), {AccessKind::Socket}, Lookup::Follow});
      break;
    }
    case Op::Getdents:
      add(lay.dirfd, -1, false, {AccessKind::List}, Lookup::Directory);
      if (!out.accesses.empty()) out.accesses.back().lists = true;
      break;
    case Op::Listen:
      out.needs_exit = true;
      out.socket = SocketCall{static_cast<int>(args[0]), true};
      break;
  }
  return out;
}

std::optional<ListenRecord> listen_record(const SocketCall& call, const SocketState& state) {
  if ((state.family != AF_INET && state.family != AF_INET6) || state.port == 0) return std::nullopt;
  if (call.listen && state.type == SOCK_STREAM) return ListenRecord{state.port, "tcp"};
  if (!call.listen && state.type == SOCK_DGRAM) return ListenRecord{state.port, "udp"};
  return std::nullopt;
}

}  // namespace minify::tracer
