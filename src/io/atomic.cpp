// AtomicFile and AtomicDir (atomic.hpp): outputs built under a temporary name beside their
// destination, on the same filesystem, so the final rename(2) is atomic.
#include "minify/atomic.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace minify {

namespace {

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Status write_all(int fd, const void* data, size_t size, const std::string& name) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t w = ::write(fd, p, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return sys_error("write", name);
    }
    p += w;
    size -= static_cast<size_t>(w);
  }
  return Ok{};
}

AtomicFile::AtomicFile(std::string dest, std::string tmp, int fd, mode_t mode, bool in_place)
    : dest_(std::move(dest)), tmp_(std::move(tmp)), fd_(fd), mode_(mode), in_place_(in_place) {}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : dest_(std::move(o.dest_)), tmp_(std::move(o.tmp_)), fd_(o.fd_), mode_(o.mode_), in_place_(o.in_place_) {
  o.fd_ = -1;
}

Result<AtomicFile> AtomicFile::create(const std::string& dest, mode_t mode) {
  struct stat st;
  if (::stat(dest.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    int fd = ::open(dest.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return sys_error("open", dest);
    return AtomicFile(dest, dest, fd, mode, true);
  }
  std::string tmp = dest + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return sys_error("create", tmp);
  return AtomicFile(dest, tmp, fd, mode, false);
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  if (!in_place_) ::unlink(tmp_.c_str());
}

Status AtomicFile::write(std::string_view data) { return write_all(fd_, data.data(), data.size(), dest_); }

Status AtomicFile::commit() {
  auto fail = [&](const char* op, const std::string& name) -> Status {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (!in_place_) ::unlink(tmp_.c_str());
    return sys_error(op, name, err);
  };
  if (in_place_) {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return sys_error("write", dest_);
    return Ok{};
  }
  // mkstemp makes 0600; outputs are for everyone to read. (Reading umask(2) would change it.)
  if (::fchmod(fd_, mode_) != 0) return fail("chmod", tmp_);
  if (::fsync(fd_) != 0) return fail("write", dest_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    int err = errno;
    ::unlink(tmp_.c_str());
    return sys_error("write", dest_, err);
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), dest_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_.c_str());
    return sys_error("rename", dest_, err);
  }
  return Ok{};
}

Status write_file_atomic(const std::string& dest, std::string_view content, mode_t mode) {
  auto f = AtomicFile::create(dest, mode);
  if (!f) return f.error();
  if (auto st = f->write(content); !st) return st;
  return f->commit();
}

Result<AtomicDir> AtomicDir::create(const std::string& dest_in, mode_t mode) {
  std::string dest = without_trailing_slashes(dest_in);
  std::string tmp = dest + ".tmp-XXXXXX";
  if (::mkdtemp(tmp.data()) == nullptr) return sys_error("create", tmp);
  AtomicDir dir(dest, tmp);
  if (::chmod(tmp.c_str(), mode) != 0) return sys_error("chmod", tmp);  // mkdtemp makes 0700
  return dir;
}

AtomicDir::~AtomicDir() {
  if (tmp_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
}

Status AtomicDir::commit() { return commit_as(dest_); }

Status AtomicDir::commit_as(const std::string& dest_in) {
  std::string dest = without_trailing_slashes(dest_in);
  if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) == 0) {
    tmp_.clear();
    return Ok{};
  }
  if (errno != EEXIST) return sys_error("rename", dest);
  struct stat st;
  if (::lstat(dest.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return bad_input("write", dest, "exists and is not a directory");
  // Swap the new tree in, then remove the old one, now at the temporary name.
  if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dest.c_str(), RENAME_EXCHANGE) != 0) return sys_error("rename", dest);
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
  tmp_.clear();
  return Ok{};
}

}  // namespace minify
