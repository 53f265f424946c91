// Applying image layers (OCI image-spec layer.md) into a scratch root, safely.
//
// Every entry name is normalized lexically first: "./" and "/" prefixes are dropped (an absolute
// name is neutralized with a note, as GNU tar does), a ".." component refuses the layer. The
// parent directory is then opened with openat2(RESOLVE_IN_ROOT) from the root's descriptor, so a
// symlink of an earlier layer on the way ("etc -> /host/etc", "a -> ../../..") is resolved
// inside the root, never on the host; the last component is created with *at() calls relative to
// that descriptor and O_NOFOLLOW/O_EXCL, so it is never followed either. Hard links name their
// target the same way. Device nodes are skipped; setuid/setgid bits are cleared on disk and
// remembered. Whiteouts: ".wh.NAME" removes NAME from the lower layers; ".wh..wh..opq" hides
// every lower entry of its directory (entries of the same layer stay, whatever their order).
// Every entry keeps the mtime its layer gives it (files, symlinks, FIFOs at once; directories at
// the end, after all layers, since every entry made in a directory changes its mtime; those no
// layer names get 0), so that a .pyc stays valid for its .py. Holes of sparse entries stay holes.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "image_internal.hpp"
#include "minify/image.hpp"

namespace minify {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

bool has_dotdot(const std::string& name) {
  for (size_t i = 0; i <= name.size();) {
    size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    if (j - i == 2 && name.compare(i, 2, "..") == 0) return true;
    i = j + 1;
  }
  return false;
}

UniqueFd open_in(int root_fd, const std::string& rel, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root_fd, rel.empty() ? "." : rel.c_str(), &how, sizeof how)));
}

// Removes `name` in `dir_fd` and, for a directory, everything under it, never following links.
void remove_tree(int dir_fd, const char* name) {
  if (::unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT) return;
  UniqueFd sub(::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (sub.valid()) {
    DIR* d = ::fdopendir(::fcntl(sub.get(), F_DUPFD_CLOEXEC, 0));
    if (d) {
      std::vector<std::string> names;
      while (struct dirent* de = ::readdir(d))
        if (std::strcmp(de->d_name, ".") != 0 && std::strcmp(de->d_name, "..") != 0) names.emplace_back(de->d_name);
      ::closedir(d);
      for (const auto& n : names) remove_tree(sub.get(), n.c_str());
    }
  }
  ::unlinkat(dir_fd, name, AT_REMOVEDIR);
}

class Applier {
 public:
  Applier(int root_fd, const UnpackOptions& o, UnpackResult& r) : root_fd_(root_fd), opt_(o), res_(r) {}

  // `read_before` of `total` compressed bytes were read before this layer (for the progress).
  Status apply(const LayerRef& layer, size_t index, uint64_t read_before, uint64_t total);

 private:
  // The parent of `rel` (a normalized relative path), created as needed, resolved in the root.
  Result<UniqueFd> parent_dir(const std::string& rel, const std::string& shown);
  Status apply_entry(struct archive* a, struct archive_entry* e, const std::string& rel, const std::string& shown);
  void prune_opaque(int dir_fd, const std::string& dir_rel);
  void set_owner(int dir_fd, const std::string& base, struct archive_entry* e);
  // Directories under (and at) `rel` are gone: their times are no longer to be set.
  void forget_dirs(const std::string& rel);

  int root_fd_;
  const UnpackOptions& opt_;
  UnpackResult& res_;
  std::set<std::string> written_;  // paths this layer wrote, for opaque directories
  std::vector<std::string> opaque_dirs_;
  uint64_t skipped_ = 0;  // bytes entries claimed but that were not written, over all layers
};

Result<UniqueFd> Applier::parent_dir(const std::string& rel, const std::string& shown) {
  std::string parent = dirname_of(rel);
  if (parent == ".") parent = "";
  UniqueFd fd = open_in(root_fd_, parent, O_PATH | O_DIRECTORY);
  if (fd.valid()) return fd;
  // Create the missing directories one at a time, each under its resolved parent.
  UniqueFd cur(::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0));
  std::string prefix;
  size_t pos = 0;
  while (pos < parent.size()) {
    size_t slash = parent.find('/', pos);
    if (slash == std::string::npos) slash = parent.size();
    std::string comp = parent.substr(pos, slash - pos);
    pos = slash + 1;
    prefix += (prefix.empty() ? "" : "/") + comp;
    UniqueFd next = open_in(root_fd_, prefix, O_PATH | O_DIRECTORY);
    if (!next.valid()) {
      if (errno != ENOENT) return sys_error("open", shown, errno);
      if (::mkdirat(cur.get(), comp.c_str(), 0755) == 0)
        res_.dir_times.emplace("/" + prefix, timespec{});  // named by no layer (yet): 0
      else if (errno != EEXIST)
        return sys_error("create parent of", shown);
      next = open_in(root_fd_, prefix, O_PATH | O_DIRECTORY);
      if (!next.valid()) return sys_error("open parent of", shown);
    }
    cur = std::move(next);
  }
  return cur;
}

void Applier::set_owner(int dir_fd, const std::string& base, struct archive_entry* e) {
  auto shift = [&](int64_t id) -> uid_t {
    if (opt_.uid_shift == 0) return static_cast<uid_t>(id);
    if (id < 0 || id >= 65536) id = 65534;
    return static_cast<uid_t>(opt_.uid_shift + static_cast<uid_t>(id));
  };
  ::fchownat(dir_fd, base.c_str(), shift(archive_entry_uid(e)), static_cast<gid_t>(shift(archive_entry_gid(e))),
             AT_SYMLINK_NOFOLLOW);
}

void Applier::forget_dirs(const std::string& rel) {
  std::string path = "/" + rel;
  auto& t = res_.dir_times;
  t.erase(t.lower_bound(path), t.lower_bound(path + "/\xff"));
}

// The entry's mtime; 0 when the header has none.
struct timespec entry_time(struct archive_entry* e) {
  if (!archive_entry_mtime_is_set(e)) return {};
  return {static_cast<time_t>(archive_entry_mtime(e)), archive_entry_mtime_nsec(e)};
}

Status Applier::apply_entry(struct archive* a, struct archive_entry* e, const std::string& rel,
                            const std::string& shown) {
  std::string base = basename_of(rel);
  std::string dir_rel = dirname_of(rel) == "." ? "" : dirname_of(rel);

  // Whiteouts: they name lower-layer entries and are never files themselves.
  if (base == kOpaque) {
    opaque_dirs_.push_back(dir_rel);
    return Ok{};
  }
  if (base.rfind(kWhiteoutPrefix, 0) == 0) {
    std::string victim = base.substr(kWhiteoutPrefix.size());
    if (victim.empty() || victim == "." || victim == "..") return bad_input("apply", shown, "bad whiteout");
    UniqueFd dir = open_in(root_fd_, dir_rel, O_RDONLY | O_DIRECTORY);
    if (dir.valid()) remove_tree(dir.get(), victim.c_str());
    forget_dirs(dir_rel.empty() ? victim : dir_rel + "/" + victim);
    return Ok{};
  }

  mode_t type = archive_entry_filetype(e);
  if (type == AE_IFCHR || type == AE_IFBLK) {
    res_.notes.push_back("entry `" + shown + "`: device node skipped");
    return Ok{};
  }
  if (type == AE_IFSOCK) {
    res_.notes.push_back("entry `" + shown + "`: socket skipped");
    return Ok{};
  }
  if (rel.empty()) {  // the root itself ("./"): only its mode could change
    written_.insert(rel);
    return Ok{};
  }
  auto parent = parent_dir(rel, shown);
  if (!parent) return parent.error();
  int pfd = parent->get();
  mode_t perm = archive_entry_perm(e);
  if ((perm & (S_ISUID | S_ISGID)) && type == AE_IFREG) {
    res_.special_modes["/" + rel] = perm;  // reported once for all, by the caller
    perm &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
  }
  written_.insert(rel);

  struct stat old {};
  bool exists = ::fstatat(pfd, base.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
  struct timespec mtime[2] = {entry_time(e), entry_time(e)};
  if (type == AE_IFDIR) {
    if (exists && !S_ISDIR(old.st_mode)) {
      remove_tree(pfd, base.c_str());
      exists = false;
    }
    if (!exists && ::mkdirat(pfd, base.c_str(), 0755) != 0) return sys_error("create directory", shown);
    ::fchmodat(pfd, base.c_str(), perm & 07777, 0);
    set_owner(pfd, base, e);
    res_.dir_times["/" + rel] = mtime[0];
    return Ok{};
  }
  if (exists) {
    remove_tree(pfd, base.c_str());
    if (S_ISDIR(old.st_mode)) forget_dirs(rel);
  }

  if (const char* hl = archive_entry_hardlink(e)) {
    std::string target = hl;
    while (target.rfind("./", 0) == 0) target.erase(0, 2);
    if (has_dotdot(target))
      return bad_input("apply layer", shown, "hard link to `" + std::string(hl) + "` points outside the image");
    std::string trel = normalize_path("/" + target).substr(1);
    if (trel.empty()) return bad_input("apply layer", shown, "hard link to the root");
    auto tparent = open_in(root_fd_, dirname_of(trel) == "." ? "" : dirname_of(trel), O_PATH | O_DIRECTORY);
    if (!tparent.valid()) return sys_error("hard link `" + shown + "` to", target);
    if (::linkat(tparent.get(), basename_of(trel).c_str(), pfd, base.c_str(), 0) != 0)
      return sys_error("hard link `" + shown + "` to", target);
    return Ok{};
  }
  switch (type) {
    case AE_IFLNK: {
      const char* t = archive_entry_symlink(e);
      std::string target = t ? t : "";
      if (::symlinkat(target.c_str(), pfd, base.c_str()) != 0) return sys_error("create symlink", shown);
      if (!target.empty() && target[0] != '/') {
        // Count how far ".." climbs: a link that would leave the root on the host is kept but
        // only ever resolved inside it.
        int depth = 0;
        std::string walk = dir_rel.empty() ? target : dir_rel + "/" + target;
        bool escapes = false;
        size_t i = 0;
        while (i <= walk.size()) {
          size_t j = walk.find('/', i);
          if (j == std::string::npos) j = walk.size();
          std::string c = walk.substr(i, j - i);
          if (c == "..") {
            if (--depth < 0) escapes = true;
          } else if (!c.empty() && c != ".") {
            ++depth;
          }
          i = j + 1;
        }
        if (escapes)
          res_.notes.push_back("entry `" + shown + "`: symlink to `" + target +
                               "` climbs out of the image; kept, resolved inside the root only");
      }
      set_owner(pfd, base, e);
      ::utimensat(pfd, base.c_str(), mtime, AT_SYMLINK_NOFOLLOW);
      return Ok{};
    }
    case AE_IFIFO:
      if (::mkfifoat(pfd, base.c_str(), perm & 0777) != 0) return sys_error("create fifo", shown);
      set_owner(pfd, base, e);
      ::utimensat(pfd, base.c_str(), mtime, AT_SYMLINK_NOFOLLOW);
      return Ok{};
    case AE_IFREG: break;
    default:
      res_.notes.push_back("entry `" + shown + "`: unknown type skipped");
      return Ok{};
  }
  int64_t claimed = archive_entry_size(e);
  if (claimed < 0 || res_.bytes + static_cast<uint64_t>(claimed) > opt_.limits.max_total_bytes)
    return bad_input("apply layer", shown,
                     "claims " + std::to_string(claimed) + " bytes; the image would pass the limit of " +
                         std::to_string(opt_.limits.max_total_bytes) + " bytes");
  UniqueFd fd(::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return sys_error("create", shown);
  // Block by block at the offsets libarchive gives: the holes of a sparse entry are skipped and
  // stay holes (the size is set at the end). They count as unpacked bytes, as the size claimed.
  const void* block;
  size_t n;
  la_int64_t at;
  uint64_t data_bytes = 0;
  int r;
  while ((r = archive_read_data_block(a, &block, &n, &at)) == ARCHIVE_OK) {
    res_.bytes += n;
    data_bytes += n;
    if (res_.bytes > opt_.limits.max_total_bytes)
      return bad_input("apply layer", shown, "more than the limit of " + std::to_string(opt_.limits.max_total_bytes) +
                                                  " bytes unpacked (decompression bomb?)");
    if (at < 0 || static_cast<uint64_t>(at) + n > static_cast<uint64_t>(claimed))
      return bad_input("apply layer", shown, "data past the size the entry claims");
    for (size_t done = 0; done < n;) {
      ssize_t w = ::pwrite(fd.get(), static_cast<const char*>(block) + done, n - done, at + static_cast<off_t>(done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return sys_error("write", shown);
      done += static_cast<size_t>(w);
    }
  }
  if (r != ARCHIVE_EOF) return bad_input("read layer entry", shown, image_internal::archive_reason(a));
  if (::ftruncate(fd.get(), claimed) != 0) return sys_error("write", shown);
  res_.bytes += static_cast<uint64_t>(claimed) - std::min(data_bytes, static_cast<uint64_t>(claimed));
  ::fchmod(fd.get(), perm & 07777);
  set_owner(pfd, base, e);
  ::futimens(fd.get(), mtime);
  return Ok{};
}

// Removes what lower layers put under an opaque directory, keeping this layer's entries.
void Applier::prune_opaque(int dir_fd, const std::string& dir_rel) {
  DIR* d = ::fdopendir(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!d) return;
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(d))
    if (std::strcmp(de->d_name, ".") != 0 && std::strcmp(de->d_name, "..") != 0) names.emplace_back(de->d_name);
  ::closedir(d);
  for (const auto& n : names) {
    std::string p = dir_rel.empty() ? n : dir_rel + "/" + n;
    auto it = written_.lower_bound(p);
    bool self = it != written_.end() && *it == p;
    auto below = written_.lower_bound(p + "/");
    bool under = below != written_.end() && below->rfind(p + "/", 0) == 0;
    if (!self && !under) {
      remove_tree(dir_fd, n.c_str());
      continue;
    }
    struct stat st {};
    if (under && ::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.valid() && !self) prune_opaque(sub.get(), p);
    }
  }
}

Status Applier::apply(const LayerRef& layer, size_t index, uint64_t read_before, uint64_t total) {
  written_.clear();
  opaque_dirs_.clear();
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_none(a.get());
  std::string what = "layer " + std::to_string(index + 1) + " (" + layer.digest + ")";
  std::string what_short = "layer " + std::to_string(index + 1);
  if (archive_read_open_filename(a.get(), layer.file.c_str(), 1 << 16) != ARCHIVE_OK)
    return bad_input("read", what, image_internal::archive_reason(a.get()));
  struct archive_entry* e;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return bad_input("read", what, image_internal::archive_reason(a.get()));
    if (++res_.entries > opt_.limits.max_entries)
      return bad_input("read", what, "more than " + std::to_string(opt_.limits.max_entries) + " entries");
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    std::string shown = name;
    if (name.size() > kMaxPathLength) return bad_input("apply", what, "entry name longer than " + std::to_string(kMaxPathLength));
    if (!name.empty() && name[0] == '/')
      res_.notes.push_back("entry `" + shown + "`: absolute name, taken relative to the image root");
    // Any ".." is refused, even one that stays inside: no image tool writes them.
    if (has_dotdot(name)) return bad_input("apply " + what, shown, "entry name has a `..` component");
    std::string rel = normalize_path("/" + name).substr(1);
    uint64_t written_before = res_.bytes;
    if (auto st = apply_entry(a.get(), e, rel, shown); !st) {
      Error err = st.error();
      if (err.op.find("layer") == std::string::npos) err.op += " (" + what + ")";
      return err;
    }
    // Data an entry claims but that is not written (a whiteout, directory, link or device with a
    // size) is still decompressed when libarchive skips over it, so it counts against the same
    // limit: otherwise whiteouts claiming 8 GiB each cut a zstd bomb loose (found writing
    // tests/image/image_bounds_test.cpp).
    if (opt_.progress) {
      // Compressed bytes libarchive took from the blob so far (the last filter is the file).
      int64_t in = archive_filter_bytes(a.get(), -1);
      opt_.progress({"unpack", what_short, read_before + static_cast<uint64_t>(std::max<int64_t>(in, 0)), total, false});
    }
    int64_t claimed = archive_entry_size(e);
    uint64_t used = res_.bytes - written_before;
    if (claimed > 0 && static_cast<uint64_t>(claimed) > used) {
      skipped_ += static_cast<uint64_t>(claimed) - used;
      if (res_.bytes + skipped_ > opt_.limits.max_total_bytes)
        return bad_input("apply layer (" + what + ")", shown,
                         "claims " + std::to_string(claimed) + " bytes; the image would pass the limit of " +
                             std::to_string(opt_.limits.max_total_bytes) + " bytes");
    }
  }
  for (const auto& d : opaque_dirs_) {
    UniqueFd dir = open_in(root_fd_, d, O_RDONLY | O_DIRECTORY);
    if (dir.valid()) prune_opaque(dir.get(), d);
  }
  return Ok{};
}

}  // namespace

Result<UnpackResult> unpack_layers(const Image& image, const std::string& root_dir, const UnpackOptions& options) {
  if (::mkdir(root_dir.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("create", root_dir);
  UniqueFd root_fd(::open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_fd.valid()) return sys_error("open", root_dir);
  if (options.uid_shift != 0) ::chown(root_dir.c_str(), options.uid_shift, options.uid_shift);
  UnpackResult res;
  Applier applier(root_fd.get(), options, res);
  uint64_t total = 0, read = 0;
  for (const auto& l : image.layers) total += l.size;
  for (size_t i = 0; i < image.layers.size(); ++i) {
    if (auto st = applier.apply(image.layers[i], i, read, total); !st) return st.error();
    read += image.layers[i].size;
  }
  if (options.progress) options.progress({"unpack", "layers", read, total, true});
  // Directory times last, children first. Each is opened inside the root, never through a link.
  for (auto it = res.dir_times.rbegin(); it != res.dir_times.rend(); ++it) {
    UniqueFd dir = open_in(root_fd.get(), it->first.substr(1), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    struct timespec t[2] = {it->second, it->second};
    if (dir.valid()) ::futimens(dir.get(), t);
  }
  return res;
}

void restore_directory_times(FileSet& set, const std::map<std::string, struct timespec>& dir_times) {
  std::vector<Entry> changed;
  for (const auto& [path, e] : set) {
    if (e.type != EntryType::Directory) continue;
    auto it = dir_times.find(path);
    if (it == dir_times.end()) continue;
    if (it->second.tv_sec == e.mtime.tv_sec && it->second.tv_nsec == e.mtime.tv_nsec) continue;
    changed.push_back(e);
    changed.back().mtime = it->second;
  }
  for (auto& e : changed) set.put(std::move(e));
}

void unshift_owners(FileSet& set, uid_t uid_shift) {
  if (uid_shift == 0) return;
  auto back = [&](uint32_t id) -> uint32_t { return id >= uid_shift && id - uid_shift < 65536 ? id - uid_shift : 0; };
  std::vector<Entry> changed;
  for (const auto& [path, e] : set)
    if (e.uid != back(e.uid) || e.gid != back(e.gid)) changed.push_back(e);
  for (auto& e : changed) {
    e.uid = back(e.uid);
    e.gid = back(e.gid);
    set.put(std::move(e));
  }
}

}  // namespace minify
