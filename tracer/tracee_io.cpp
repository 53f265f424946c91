// See tracee_io.hpp.
#include "tracee_io.hpp"

#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace minify::tracer {
namespace {

constexpr std::uint64_t kPage = 4096;

// Reads up to `size` bytes, stopping early at an unmapped page; returns the count read.
Result<std::size_t> read_some(pid_t tid, std::uint64_t addr, char* out, std::size_t size) {
  iovec local{out, size};
  iovec remote{reinterpret_cast<void*>(addr), size};
  ssize_t n = ::process_vm_readv(tid, &local, 1, &remote, 1, 0);
  if (n > 0) return static_cast<std::size_t>(n);
  if (n == 0) return sys_error("process_vm_readv", "", EFAULT);
  if (errno != ENOSYS && errno != EPERM) return sys_error("process_vm_readv", "", errno);
  // Kernels without CONFIG_CROSS_MEMORY_ATTACH: a word at a time through ptrace.
  std::size_t done = 0;
  while (done < size) {
    std::uint64_t word_addr = (addr + done) & ~std::uint64_t{7};
    errno = 0;
    long word = ::ptrace(PTRACE_PEEKDATA, tid, reinterpret_cast<void*>(word_addr), nullptr);
    if (errno != 0) {
      if (done > 0) break;
      return sys_error("ptrace(PTRACE_PEEKDATA)", "", errno);
    }
    std::size_t skip = (addr + done) - word_addr;
    std::size_t take = std::min(sizeof word - skip, size - done);
    std::memcpy(out + done, reinterpret_cast<const char*>(&word) + skip, take);
    done += take;
  }
  return done;
}

}  // namespace

Result<std::string> read_string(pid_t tid, std::uint64_t addr, std::size_t max) {
  if (addr == 0) return sys_error("read string", "", EFAULT);
  std::string out;
  char buf[kPage];
  while (out.size() < max) {
    // Never cross a page boundary in one read, so an unmapped page after the string's end
    // doesn't fail the read of the string.
    std::size_t chunk = std::min<std::size_t>(kPage - (addr % kPage), max - out.size());
    auto n = read_some(tid, addr, buf, chunk);
    if (!n) return n.error();
    if (const void* nul = std::memchr(buf, 0, *n)) {
      out.append(buf, static_cast<const char*>(nul) - buf);
      return out;
    }
    out.append(buf, *n);
    addr += *n;
  }
  return sys_error("read string", "", ENAMETOOLONG);
}

Status read_bytes(pid_t tid, std::uint64_t addr, void* out, std::size_t size) {
  if (addr == 0) return sys_error("read", "", EFAULT);
  std::size_t done = 0;
  while (done < size) {
    auto n = read_some(tid, addr + done, static_cast<char*>(out) + done, size - done);
    if (!n) return n.error();
    done += *n;
  }
  return Ok{};
}

Result<std::vector<std::string>> read_string_array(pid_t tid, std::uint64_t addr, std::size_t max_entries) {
  std::vector<std::string> out;
  if (addr == 0) return out;
  for (std::size_t i = 0; i < max_entries; ++i) {
    std::uint64_t p = 0;
    if (auto st = read_bytes(tid, addr + i * sizeof p, &p, sizeof p); !st) return st.error();
    if (p == 0) break;
    auto s = read_string(tid, p, 1 << 16);
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::string> read_link(const std::string& path) {
  char buf[PATH_MAX + 1];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return sys_error("readlink", path);
  if (static_cast<std::size_t>(n) >= sizeof buf) return sys_error("readlink", path, ENAMETOOLONG);
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string join_under(const std::string& base, std::string_view rel) {
  std::string out = base.empty() ? "/" : base;
  bool leading = true;  // still in the leading run of "." and ".." components
  std::size_t i = 0;
  while (i <= rel.size()) {
    std::size_t j = rel.find('/', i);
    if (j == std::string_view::npos) j = rel.size();
    std::string_view comp = rel.substr(i, j - i);
    i = j + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == ".." && leading) {
      std::size_t slash = out.rfind('/');
      out.resize(slash == 0 ? 1 : slash);
      continue;
    }
    leading = false;
    if (out.back() != '/') out += '/';
    out += comp;
  }
  return out;
}

std::string clean_absolute(std::string_view path) { return join_under("/", path); }

std::optional<std::string> inside_root(const std::string& root, const std::string& host_path) {
  if (root == "/") return host_path;
  if (host_path == root) return std::string("/");
  if (host_path.size() > root.size() && host_path.compare(0, root.size(), root) == 0 &&
      host_path[root.size()] == '/')
    return host_path.substr(root.size());
  return std::nullopt;
}

namespace {

// Consumes a run of decimal digits (a pid or an fd) at the start of `s`.
std::optional<std::string_view> take_number(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && n < 10 && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0 || (n < s.size() && s[n] != '/')) return std::nullopt;
  std::string_view num = s.substr(0, n);
  s.remove_prefix(n);
  return num;
}

bool take(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  std::string_view after = s.substr(prefix.size());
  if (!after.empty() && after[0] != '/' && prefix.back() != '/') return false;
  s = after;
  return true;
}

}  // namespace

std::optional<ProcIndirection> proc_indirection(std::string_view path, pid_t tgid, pid_t tid) {
  std::string proc;  // "/proc/PID" or "/proc/PID/task/TID" of the process whose tables count
  pid_t by_pid = 0;
  std::string_view s = path;
  if (take(s, "/dev/fd/")) {
    proc = "/proc/" + std::to_string(tid);
    auto fd = take_number(s);
    if (!fd) return std::nullopt;
    return ProcIndirection{proc + "/fd/" + std::string(*fd), std::string(s)};
  }
  static constexpr std::string_view kStdio[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
  for (int fd = 0; fd < 3; ++fd)
    if (take(s, kStdio[fd])) return ProcIndirection{"/proc/" + std::to_string(tid) + "/fd/" + std::to_string(fd), std::string(s)};
  if (!take(s, "/proc/")) return std::nullopt;
  if (take(s, "self")) {
    proc = "/proc/" + std::to_string(tgid);
  } else if (take(s, "thread-self")) {
    proc = "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid);
  } else if (auto pid = take_number(s)) {
    proc = "/proc/" + std::string(*pid);
    by_pid = static_cast<pid_t>(std::atol(std::string(*pid).c_str()));
    if (take(s, "/task/")) {
      auto task = take_number(s);
      if (!task) return std::nullopt;
      proc += "/task/" + std::string(*task);
    }
  } else {
    return std::nullopt;
  }
  if (take(s, "/fd/")) {
    auto fd = take_number(s);
    if (!fd) return std::nullopt;
    return ProcIndirection{proc + "/fd/" + std::string(*fd), std::string(s), by_pid};
  }
  for (std::string_view link : {"/cwd", "/root", "/exe"})
    if (take(s, link)) {
      if (link == "/exe" && !s.empty()) return std::nullopt;  // a file has nothing below it
      return ProcIndirection{proc + std::string(link), std::string(s), by_pid};
    }
  return std::nullopt;
}

std::optional<std::string> resolve_proc_indirection(const std::string& root, const ProcIndirection& ind) {
  auto target = read_link(ind.link);
  // "pipe:[123]", "socket:[45]", "anon_inode:[eventfd]" name no path; a deleted file's link
  // reads "/path (deleted)", which names nothing that exists.
  if (!target || target->empty() || (*target)[0] != '/' || target->ends_with(" (deleted)")) return std::nullopt;
  auto inside = inside_root(root, *target);
  if (!inside) return std::nullopt;
  return join_under(*inside, ind.rest);
}

}  // namespace minify::tracer
