// The root directory writer: the set is copied into an AtomicDir (atomic.hpp), so at every moment
// the output path holds either the old tree or the complete new one. Directories are created
// writable and get their real modes at the end, children first (a 0555 directory must still
// receive its files). File data goes through copy_file_range(2), which reflinks where it can,
// one data region at a time (lseek SEEK_DATA/SEEK_HOLE), so holes of sparse files stay holes.
// Every entry keeps its mtime (entry_mtime(): the source's, clamped to SOURCE_DATE_EPOCH):
// files and symlinks once written, directories at the end, after their last child.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <unordered_set>

#include "minify/atomic.hpp"
#include "minify/pack.hpp"
#include "pack/stream.hpp"

namespace minify {

namespace {

// Copies `size` bytes of data region by region; the output is extended to `size` at the end,
// leaving holes where the source has them.
Status copy_data(int in, int out, uint64_t size, const std::string& name) {
  auto extents = pack::data_extents(in, size, name);
  if (!extents) return extents.error();
  bool use_cfr = true;
  std::vector<char> buf;
  for (const auto& x : *extents) {
    loff_t in_off = static_cast<loff_t>(x.offset), out_off = in_off;
    uint64_t left = x.length;
    while (left > 0) {
      if (use_cfr) {
        ssize_t n = ::copy_file_range(in, &in_off, out, &out_off, std::min<uint64_t>(left, 1 << 30), 0);
        if (n > 0) {
          left -= static_cast<uint64_t>(n);
          continue;
        }
        if (n == 0) return bad_input("read", name, "file shrank while it was copied");
        if (errno == EINTR) continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return sys_error("copy", name);
        use_cfr = false;
        buf.resize(1 << 18);
      }
      ssize_t n = ::pread(in, buf.data(), std::min<uint64_t>(buf.size(), left), in_off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_error("read", name);
      if (n == 0) return bad_input("read", name, "file shrank while it was copied");
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::pwrite(out, buf.data() + done, static_cast<size_t>(n - done), out_off + done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return sys_error("write", name);
        done += w;
      }
      in_off += n;
      out_off += n;
      left -= static_cast<uint64_t>(n);
    }
  }
  if (::ftruncate(out, static_cast<off_t>(size)) != 0) return sys_error("truncate", name);
  return Ok{};
}

}  // namespace

Status write_rootfs(const FileSet& set, const Root& root, const std::string& out_dir, const RootfsOptions& options) {
  auto staged = AtomicDir::create(out_dir);
  if (!staged) return staged.error();
  const std::string& tmp = staged->path();
  int dirfd = ::open(tmp.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return sys_error("open", tmp);
  UniqueFd dir(dirfd);

  // Before any chmod: chown clears setuid/setgid bits.
  auto chown_entry = [&](const char* rel, const Entry& e, const std::string& name) -> Status {
    if (!options.owner_shift) return Ok{};
    if (::fchownat(dir.get(), rel, *options.owner_shift + e.uid, *options.owner_shift + e.gid, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error("chown", name);
    return Ok{};
  };

  // Both times are set to the mtime: the atime of the copy would only record when it was made.
  auto times = [&](const Entry& e) {
    struct timespec t = entry_mtime(e, options.source_date_epoch);
    return std::array<struct timespec, 2>{t, t};
  };

  pack::ProgressMeter meter(options.progress, "rootfs", set);
  std::unordered_set<std::string> links;       // symlink entries: nothing may be created below them
  std::vector<const Entry*> dirs;              // real modes and times, applied at the end
  std::unordered_set<std::string> made_dirs;
  auto ensure_parents = [&](const std::string& path) -> Status {
    std::vector<std::string> missing;
    for (std::string d = dirname_of(path); d != "/"; d = dirname_of(d)) {
      if (links.count(d)) return bad_input("write rootfs", path, "lies below the symlink " + d);
      if (made_dirs.count(d)) break;
      missing.push_back(d);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdirat(dir.get(), it->c_str() + 1, 0755) != 0 && errno != EEXIST) return sys_error("mkdir", *it);
      made_dirs.insert(*it);
    }
    return Ok{};
  };

  for (const auto& [path, e] : set) {
    if (auto s = ensure_parents(path); !s) return s;
    const char* rel = path.c_str() + 1;
    std::string out_name = tmp + path;
    switch (e.type) {
      case EntryType::Directory:
        if (::mkdirat(dir.get(), rel, 0700) != 0) return sys_error("mkdir", out_name);
        if (auto s = chown_entry(rel, e, out_name); !s) return s;
        made_dirs.insert(path);
        dirs.push_back(&e);
        break;
      case EntryType::Symlink:
        if (::symlinkat(e.link_target.c_str(), dir.get(), rel) != 0) return sys_error("symlink", out_name);
        if (auto s = chown_entry(rel, e, out_name); !s) return s;
        if (::utimensat(dir.get(), rel, times(e).data(), AT_SYMLINK_NOFOLLOW) != 0) return sys_error("set times of", out_name);
        links.insert(path);
        break;
      case EntryType::File: {
        int ofd = ::openat(dir.get(), rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (ofd < 0) return sys_error("create", out_name);
        UniqueFd out(ofd);
        char cap[128];
        ssize_t cap_len = -1;
        if (e.generated) {
          if (auto s = write_all(ofd, e.content.data(), e.content.size(), out_name); !s) return s;
          meter.add(e.content.size());
        } else {
          auto in = root.open_read(path);
          if (!in) return in.error();
          struct stat sb;
          if (::fstat(in->get(), &sb) != 0) return sys_error("stat", path);
          if (auto s = copy_data(in->get(), ofd, static_cast<uint64_t>(sb.st_size), path); !s) return s;
          meter.add(static_cast<uint64_t>(sb.st_size));
          cap_len = ::fgetxattr(in->get(), "security.capability", cap, sizeof cap);
        }
        if (auto s = chown_entry(rel, e, out_name); !s) return s;
        // fchmod, not the open mode: the umask must not change the image, and setuid bits stay.
        if (::fchmod(ofd, e.mode & 07777) != 0) return sys_error("chmod", out_name);
        // File capabilities last: writing to a file clears them (fs/attr.c, should_remove_suid).
        if (cap_len > 0 && ::fsetxattr(ofd, "security.capability", cap, static_cast<size_t>(cap_len), 0) != 0)
          return sys_error("set file capabilities", out_name);
        if (::futimens(ofd, times(e).data()) != 0) return sys_error("set times of", out_name);
        break;
      }
    }
  }
  // Children first: a directory's mtime changes whenever an entry is made in it.
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    const Entry& e = **it;
    if (::fchmodat(dir.get(), e.path.c_str() + 1, e.mode & 07777, 0) != 0) return sys_error("chmod", tmp + e.path);
    if (::utimensat(dir.get(), e.path.c_str() + 1, times(e).data(), 0) != 0) return sys_error("set times of", tmp + e.path);
  }
  if (::fchmodat(dir.get(), ".", 0755, 0) != 0) return sys_error("chmod", tmp);
  if (options.owner_shift && ::fchownat(dir.get(), ".", *options.owner_shift, *options.owner_shift, 0) != 0)
    return sys_error("chown", tmp);
  meter.finish();
  return staged->commit();
}

}  // namespace minify
