// The file lists of a package database (see include/minify/packages.hpp): canonical paths of
// listed paths, dpkg's info/*.list files, and the lazy index.
//
// Every listed path is canonicalized with its parent directory resolved inside the root, so
// merged-/usr's /lib -> usr/lib maps the listed /lib/x/libc.so.6 to /usr/lib/x/libc.so.6. The
// last component is not followed: a listed symlink stays that symlink, as in a FileSet.
//
// The lazy index. A full Debian system lists ~160,000 paths under ~14,000 directories; reading
// them all into tables costs a string and a hash insert per path and a stat per directory, about
// a second on a loaded 2-core machine, while a run asks about a few hundred paths of ~15
// packages. A canonical path P is listed by a line L exactly when L's last component is P's
// (the last component is never followed) and L's parent resolves to P's parent. So one pass over
// the list files compares each line's basename with the basenames of the paths asked about (one
// hash lookup per line, the files read into one reused buffer), resolves only the lines that
// match, and loads the whole list of a package only when one of its lines is a path asked about.
// Directories: P is a directory of the database when some listed path lies below P or below a
// listed directory that resolves to P; the pass resolves the listed directories whose basename
// is P's. (A listed directory that is a symlink to a directory of another name, which no Debian
// package does, is seen as a directory only when its package is loaded.)
#include "packages/builder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace minify {

namespace {

constexpr std::string_view kInfoDir = "/var/lib/dpkg/info";
constexpr size_t kMaxList = 64 << 20;  // Root::read_file's bound

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Absolute and already normalized, as dpkg and apk write paths.
bool is_plain(std::string_view p) {
  if (p.empty() || p.front() != '/' || (p.size() > 1 && p.back() == '/')) return false;
  return p.find("//") == std::string_view::npos && p.find("/./") == std::string_view::npos &&
         p.find("/../") == std::string_view::npos && !p.ends_with("/.") && !p.ends_with("/..");
}

std::string_view base_of(std::string_view path) { return path.substr(path.rfind('/') + 1); }

// Calls f(line) for each line of a list that names a path, trimmed.
template <typename F>
void for_each_listed(std::string_view text, F&& f) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!nl) nl = end;
    std::string_view l = trim(std::string_view(p, static_cast<size_t>(nl - p)));
    p = nl + 1;
    if (l.empty() || l == "/." || l.front() != '/') continue;
    f(l);
  }
}

}  // namespace

std::string PackageDbBuilder::canonical(std::string_view listed) {
  std::string storage;
  std::string_view norm = listed;
  if (!is_plain(listed)) norm = storage = normalize_path(listed);
  if (norm == "/") return "/";
  size_t slash = norm.rfind('/');
  std::string_view parent = slash == 0 ? std::string_view("/") : norm.substr(0, slash);
  // Lists are grouped by directory: most lookups hit the previous one.
  if (parent != lists_.last_parent) {
    lists_.last_parent = parent;
    const std::string& resolved = resolve_dir(lists_.last_parent);
    lists_.last_resolved = resolved == "/" ? "" : resolved;
  }
  std::string out;
  out.reserve(lists_.last_resolved.size() + norm.size() - slash);
  out += lists_.last_resolved;
  out += norm.substr(slash);
  return out;
}

// Its parent's canonical path plus its own name, unless that is a symlink, which Root::resolve()
// follows. A directory that does not exist stays as listed (its resolved parent plus its name).
const std::string& PackageDbBuilder::resolve_dir(const std::string& dir) {
  if (auto it = lists_.parents.find(dir); it != lists_.parents.end()) return it->second;
  std::string result = "/";
  if (dir != "/") {
    const std::string& up = resolve_dir(dirname_of(dir));
    std::string name = basename_of(dir);
    result = (up == "/" ? "" : up) + "/" + name;
    // `up` is canonical (or missing): resolving costs one fstatat of the last component, the
    // rest is in Root's cache.
    if (may_be_link(up, name))
      if (auto r = root_.resolve(result)) result = r->path;
  }
  // Both spellings are directories: merged-/usr's listed "/bin" is the canonical path of a symlink.
  db_.dirs_.insert(result);
  db_.dirs_.insert(dir);
  return lists_.parents.emplace(dir, std::move(result)).first->second;
}

bool PackageDbBuilder::may_be_link(const std::string& dir, std::string_view name) {
  // A listing costs about what a few stats do; a directory with many listed subdirectories
  // (/usr/share/doc, a Python package tree) takes one listing instead of a stat each.
  constexpr unsigned kListAfter = 3;
  auto [it, inserted] = lists_.children.try_emplace(dir);
  PackageDb::Lists::Children& c = it->second;
  if (c.state == PackageDb::Lists::Children::Unlisted && ++c.looked_up > kListAfter) {
    auto st = root_.for_each_entry(dir, [&](std::string_view n, unsigned char type) {
      if (type == DT_LNK || type == DT_UNKNOWN) c.links.emplace(n);
    });
    // A directory that is not there has no symlinks in it; one that cannot be listed is
    // looked up name by name.
    c.state = st || st.error().err == ENOENT || st.error().err == ENOTDIR ? PackageDb::Lists::Children::Listed
                                                                          : PackageDb::Lists::Children::Unlistable;
  }
  if (c.state == PackageDb::Lists::Children::Listed) return c.links.contains(name);
  return true;
}

std::string_view PackageDbBuilder::diverted(std::string_view listed, const Package& p) const {
  if (lists_.diversions.empty()) return listed;
  auto d = lists_.diversions.find(listed);
  return d != lists_.diversions.end() && d->second.second != p.name ? std::string_view(d->second.first) : listed;
}

template <typename F>
Result<bool> PackageDbBuilder::stream_list(const Package& p, F&& on_line) {
  constexpr size_t kChunk = 128 << 10;
  if (!info_.valid() && !info_missing_) {
    auto fd = root_.open_read(kInfoDir);
    if (fd) {
      info_ = std::move(*fd);
    } else if (fd.error().err == ENOENT || fd.error().err == ENOTDIR) {
      info_missing_ = true;
    } else {
      return fd.error();
    }
  }
  if (info_missing_) return false;
  // Essential-less metapackages list nothing; dpkg itself then reports no files either.
  for (const std::string* stem : {&p.key, &p.name}) {
    if (stem == &p.name && p.key == p.name) break;
    std::string name = *stem + ".list";
    // A name without a slash opened without following a symlink cannot leave the directory the
    // root-confined open gave; anything else goes through the root.
    int fd = name.find('/') == std::string::npos
                 ? ::openat(info_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
                 : (errno = ELOOP, -1);
    if (fd < 0 && errno == ENOENT) continue;
    std::string path = std::string(kInfoDir) + "/" + name;
    if (fd < 0) {
      if (errno != ELOOP) return sys_error("open", path);
      auto whole = root_.read_file(path, kMaxList);
      if (!whole && whole.error().err == ENOENT) continue;
      if (!whole) return whole.error();
      for_each_listed(*whole, on_line);
      return true;
    }
    UniqueFd owned(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return sys_error("stat", path);
    if (!S_ISREG(st.st_mode)) return bad_input("read", path, "not a regular file");
    auto too_large = [&] { return bad_input("read", path, "larger than " + std::to_string(kMaxList) + " bytes"); };
    if (static_cast<size_t>(st.st_size) > kMaxList) return too_large();
    if (buf_.size() < kChunk) buf_.resize(kChunk);
    // dpkg replaces a list by renaming a new one over it, so the file keeps its size: reading
    // st_size bytes saves the read that would return 0 (a syscall per package).
    size_t have = 0, total = 0, size = static_cast<size_t>(st.st_size);
    while (total < size) {
      ssize_t n = ::read(fd, buf_.data() + have, std::min(buf_.size() - have, size - total));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_error("read", path);
      if (n == 0) break;
      have += static_cast<size_t>(n);
      total += static_cast<size_t>(n);
      // Whole lines now, the rest of the last one with the next read.
      const void* nl = ::memrchr(buf_.data(), '\n', have);
      if (!nl) {
        if (have == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
        continue;
      }
      size_t upto = static_cast<size_t>(static_cast<const char*>(nl) - buf_.data()) + 1;
      for_each_listed(std::string_view(buf_.data(), upto), on_line);
      std::memmove(buf_.data(), buf_.data() + upto, have - upto);
      have -= upto;
    }
    for_each_listed(std::string_view(buf_.data(), have), on_line);
    return true;
  }
  return false;
}

Status PackageDbBuilder::read_files(Package& p) {
  auto found = stream_list(p, [&](std::string_view l) { p.files.push_back({std::string(l), {}, {}}); });
  if (!found) return found.error();
  return Ok{};
}

Status PackageDbBuilder::read_dpkg_lists() {
  for (auto& p : db_.packages_) {
    if (auto st = read_files(p); !st) return st;
    p.files_loaded = true;
  }
  return Ok{};
}

void PackageDbBuilder::index_package(size_t i) {
  Package& p = db_.packages_[i];
  p.files_loaded = true;
  for (auto& f : p.files) {
    f.path = canonical(diverted(f.listed, p));
    auto [it, inserted] = db_.by_path_.try_emplace(std::string_view(f.path), i);
    if (!inserted && i < it->second) it->second = i;
  }
}

Status PackageDbBuilder::load_files(size_t i) {
  Package& p = db_.packages_[i];
  if (p.files_loaded) return Ok{};
  if (auto st = read_files(p); !st) return st;
  index_package(i);
  return Ok{};
}

Status PackageDbBuilder::index(const std::vector<std::string>& paths) {
  std::vector<std::string> todo;
  for (const auto& p : paths) {
    if (lists_.indexed.contains(p)) continue;
    if (lists_.scanned && lists_.kept_files.contains(base_of(p))) {
      index_kept(p);
      // index_kept() loads packages, which can fail; it records nothing then, and the scan below
      // reports the error.
      if (lists_.indexed.contains(p)) continue;
    }
    todo.push_back(p);
  }
  if (todo.empty()) return Ok{};
  return scan(todo);
}

void PackageDbBuilder::index_kept(const std::string& path) {
  std::string_view base = base_of(path);
  if (auto dirs = lists_.kept_dirs.find(base); dirs != lists_.kept_dirs.end())
    for (const auto& d : dirs->second) resolve_dir(d);
  auto files = lists_.kept_files.find(base);
  if (files != lists_.kept_files.end()) {
    for (auto& l : files->second) {
      if (l.canonical.empty()) l.canonical = canonical(l.path);
      if (l.canonical == path && !db_.dirs_.contains(path))
        if (!load_files(l.package)) return;
    }
  }
  lists_.indexed.insert(path);
}

Status PackageDbBuilder::scan(const std::vector<std::string>& queries) {
  // Basename -> what to do with a line that has it.
  enum : unsigned { kQuery = 1, kDivert = 2, kKeep = 4 };
  std::unordered_map<std::string_view, unsigned> bases;
  std::unordered_set<std::string_view> wanted;
  for (const auto& q : queries) {
    wanted.insert(q);
    bases[base_of(q)] |= kQuery;
  }
  for (const auto& [from, to] : lists_.diversions) bases[base_of(from)] |= kDivert;
  bool first = !lists_.scanned;
  if (first) {
    bases["copyright"] |= kKeep;
    lists_.kept_files.try_emplace("copyright");
  }
  // Most lines match no basename: a length and last-byte check turns them away before a hash.
  uint64_t lengths = 0;
  std::array<bool, 256> last_bytes{};
  for (const auto& [b, f] : bases) {
    lengths |= uint64_t{1} << std::min<size_t>(b.size(), 63);
    if (!b.empty()) last_bytes[static_cast<unsigned char>(b.back())] = true;
  }
  auto flags_of = [&](std::string_view base) -> unsigned {
    if (!(lengths >> std::min<size_t>(base.size(), 63) & 1)) return 0;
    if (!base.empty() && !last_bytes[static_cast<unsigned char>(base.back())]) return 0;
    auto it = bases.find(base);
    return it == bases.end() ? 0 : it->second;
  };

  std::string storage, prev_parent;
  bool any_line = false;
  std::vector<std::pair<size_t, std::string>> matches;  // (package, path asked about it lists)
  for (size_t i = 0; i < db_.packages_.size(); ++i) {
    Package& p = db_.packages_[i];
    if (p.files_loaded) continue;
    prev_parent.clear();
    auto found = stream_list(p, [&](std::string_view l) {
      unsigned f = flags_of(base_of(l));
      std::string_view path = (f & kDivert) ? diverted(l, p) : l;
      if (path.data() != l.data()) f = flags_of(base_of(path));
      std::string_view base = base_of(path);
      size_t slash = path.rfind('/');
      std::string_view parent = slash == 0 ? std::string_view("/") : path.substr(0, slash);
      bool new_parent = parent != prev_parent;
      // A name that is "", "." or ".." or a parent with "//", "/./", "/../" changes under
      // normalization; dpkg writes none, so this is rare and slow.
      if ((f || new_parent || base.empty() || base == "." || base == "..") && !is_plain(path)) {
        storage = normalize_path(path);
        path = storage;
        base = base_of(path);
        f = (f & kDivert) | flags_of(base);
        slash = path.rfind('/');
        parent = slash == 0 ? std::string_view("/") : path.substr(0, slash);
        new_parent = parent != prev_parent;
      }
      if (path == "/") return;
      any_line = true;
      if (f & kQuery) {
        std::string c = canonical(path);
        if (wanted.contains(c) && (matches.empty() || matches.back().first != i || matches.back().second != c))
          matches.emplace_back(i, std::move(c));
      }
      if (f & kKeep) lists_.kept_files[std::string(base)].push_back({i, std::string(path), {}});
      if (!new_parent) return;
      // The listed directories above this path that the previous line's parent does not share
      // (lists are grouped by directory, so this walks a few components per directory).
      for (std::string_view a = parent; a.size() > 1; a = a.substr(0, std::max<size_t>(a.rfind('/'), 1))) {
        if (prev_parent.starts_with(a) && (prev_parent.size() == a.size() || prev_parent[a.size()] == '/')) break;
        unsigned fa = flags_of(base_of(a));
        if (fa & kQuery) resolve_dir(std::string(a));
        if (fa & kKeep) lists_.kept_dirs[std::string(base_of(a))].push_back(std::string(a));
      }
      prev_parent.assign(parent);
    });
    if (!found) return found.error();
    if (!*found) index_package(i);  // no list: no files
  }
  // "/" is the parent of every listed path.
  if (any_line) resolve_dir("/");
  // The packages that list a path asked about, read again, whole: the few a run uses. Listing a
  // directory ("/lib", which hundreds of packages list and merged-/usr made a symlink a run goes
  // through) does not count: a directory has no owner and is no package's file.
  for (const auto& [i, c] : matches)
    if (!db_.dirs_.contains(c))
      if (auto st = load_files(i); !st) return st;
  lists_.scanned = true;
  for (const auto& q : queries) lists_.indexed.insert(q);
  return Ok{};
}

}  // namespace minify
