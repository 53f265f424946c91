// Root-confined lookups. resolve() walks a path one component at a time in user space so that it
// can report every symlink it crosses (the packer keeps those links); opening goes through
// openat2(2) with RESOLVE_IN_ROOT, so even a root that changes under us cannot make an open
// escape. Kernels without openat2 (before 5.6) fall back to resolve() plus O_NOFOLLOW.
#include "minify/rootfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <deque>
#include <memory>
#include <algorithm>

namespace minify {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// Splits on '/', dropping empty components and ".".
void split_components(std::string_view path, std::deque<std::string>& out, bool front) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (!c.empty() && c != ".") parts.emplace_back(c);
    i = j + 1;
  }
  if (front)
    out.insert(out.begin(), parts.begin(), parts.end());
  else
    out.insert(out.end(), parts.begin(), parts.end());
}

// The path relative to the root descriptor: "/usr/lib" -> "usr/lib", "/" -> ".".
std::string relative(std::string_view inner) {
  while (!inner.empty() && inner.front() == '/') inner.remove_prefix(1);
  return inner.empty() ? std::string(".") : std::string(inner);
}

int openat2_in_root(int root_fd, std::string_view path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = relative(path);
  return static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
}

}  // namespace

std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

std::string dirname_of(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string basename_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string join_path(std::string_view dir, std::string_view path) {
  if (!path.empty() && path.front() == '/') return std::string(path);
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += path;
  return out;
}

Result<Root> Root::open(const std::string& host_dir) {
  int fd = ::open(host_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open root", host_dir);
  std::string dir = host_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return Root(dir, UniqueFd(fd));
}

std::string Root::host_path(std::string_view inner) const {
  if (is_host()) return std::string(inner);
  return host_dir_ + std::string(inner);
}

Result<Resolved> Root::resolve(std::string_view path, FollowLast follow) const {
  if (path.size() > kMaxPathLength) return sys_error("resolve", std::string(path.substr(0, 64)) + "...", ENAMETOOLONG);
  Resolved out;
  std::deque<std::string> todo;
  split_components(path, todo, false);
  std::string current;  // canonical, "" means "/"
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == "..") {
      current.resize(current.empty() ? 0 : current.rfind('/'));
      continue;
    }
    std::string next = current + "/" + c;
    bool last = todo.empty();
    bool is_link = false, is_dir = false;
    std::string target;
    if (auto known = seen_.find(next); known != seen_.end()) {
      is_link = !known->second.empty();
      is_dir = !is_link;
      target = known->second;
    } else {
      struct stat st;
      if (::fstatat(fd_.get(), relative(next).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_error("resolve", std::string(path));
      is_link = S_ISLNK(st.st_mode);
      is_dir = S_ISDIR(st.st_mode);
      if (is_link) {
        target.assign(static_cast<size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
        ssize_t n = ::readlinkat(fd_.get(), relative(next).c_str(), target.data(), target.size());
        if (n < 0) return sys_error("readlink", next);
        target.resize(static_cast<size_t>(n));
      }
      if ((is_link && !target.empty()) || is_dir) seen_.emplace(next, target);
    }
    if (is_link && (!last || follow == FollowLast::Yes)) {
      if (++links > kMaxSymlinks) return sys_error("resolve", std::string(path), ELOOP);
      if (todo.size() + target.size() > kMaxPathLength) return sys_error("resolve", std::string(path), ENAMETOOLONG);
      out.links.push_back({next, target});
      if (!target.empty() && target.front() == '/') current.clear();
      split_components(target, todo, true);
      continue;
    }
    if (!last && !is_dir) return sys_error("resolve", std::string(path), ENOTDIR);
    current = std::move(next);
  }
  out.path = current.empty() ? "/" : current;
  return out;
}

Result<UniqueFd> Root::open_read(std::string_view path) const {
  int fd = openat2_in_root(fd_.get(), path, O_RDONLY);
  if (fd < 0 && errno == ENOSYS) {
    auto r = resolve(path);
    if (!r) return r.error();
    fd = ::openat(fd_.get(), relative(r->path).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return sys_error("open", std::string(path));
  return UniqueFd(fd);
}

Result<struct stat> Root::stat(std::string_view path, FollowLast follow) const {
  int flags = O_PATH | (follow == FollowLast::No ? O_NOFOLLOW : 0);
  int fd = openat2_in_root(fd_.get(), path, flags);
  if (fd < 0 && errno == ENOSYS) {
    auto r = resolve(path, follow);
    if (!r) return r.error();
    fd = ::openat(fd_.get(), relative(r->path).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return sys_error("stat", std::string(path));
  UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("stat", std::string(path));
  return st;
}

Result<std::string> Root::read_file(std::string_view path, std::size_t max_size) const {
  auto fd = open_read(path);
  if (!fd) return fd.error();
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return sys_error("stat", std::string(path));
  if (!S_ISREG(st.st_mode)) return bad_input("read", std::string(path), "not a regular file");
  if (static_cast<std::size_t>(st.st_size) > max_size)
    return bad_input("read", std::string(path), "larger than " + std::to_string(max_size) + " bytes");
  std::string data;
  data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", std::string(path));
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_size)
      return bad_input("read", std::string(path), "larger than " + std::to_string(max_size) + " bytes");
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

Result<std::string> Root::read_link(std::string_view path) const {
  int fd = openat2_in_root(fd_.get(), path, O_PATH | O_NOFOLLOW);
  if (fd < 0 && errno == ENOSYS) {
    auto r = resolve(path, FollowLast::No);
    if (!r) return r.error();
    fd = ::openat(fd_.get(), relative(r->path).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return sys_error("readlink", std::string(path));
  UniqueFd owned(fd);
  std::string target(4096, '\0');
  ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
  if (n < 0) return sys_error("readlink", std::string(path));
  target.resize(static_cast<size_t>(n));
  return target;
}

namespace {
struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
}  // namespace

Result<std::vector<std::string>> Root::list_dir(std::string_view dir) const {
  auto fd = open_read(dir);
  if (!fd) return fd.error();
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(fd->get()));
  if (!d) return sys_error("opendir", std::string(dir));
  fd->release();
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = ::readdir(d.get())) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  if (errno != 0) return sys_error("readdir", std::string(dir));
  std::sort(names.begin(), names.end());
  return names;
}

Status Root::for_each_entry(std::string_view dir, const std::function<void(std::string_view, unsigned char)>& f) const {
  auto fd = open_read(dir);
  if (!fd) return fd.error();
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(fd->get()));
  if (!d) return sys_error("opendir", std::string(dir));
  fd->release();
  errno = 0;
  while (struct dirent* de = ::readdir(d.get())) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") f(n, de->d_type);
    errno = 0;
  }
  if (errno != 0) return sys_error("readdir", std::string(dir));
  return Ok{};
}

std::optional<std::string> Root::find_in_path(std::string_view name, std::string_view path_var) const {
  size_t i = 0;
  while (i <= path_var.size()) {
    size_t j = path_var.find(':', i);
    if (j == std::string_view::npos) j = path_var.size();
    std::string_view dir = path_var.substr(i, j - i);
    i = j + 1;
    if (dir.empty()) continue;
    std::string cand = join_path(dir, name);
    auto st = stat(cand);
    if (st && S_ISREG(st->st_mode) && (st->st_mode & 0111)) return cand;
  }
  return std::nullopt;
}

}  // namespace minify
