// run_bounded(): see bounded.hpp.
#include "support/bounded.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>

namespace minify::testing {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// Bytes of address space this process maps now (/proc/self/statm, first field, in pages).
std::size_t mapped_bytes() {
  unsigned long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

long rss_mib_now() {
  unsigned long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu %lu", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<long>(resident * static_cast<unsigned long>(::sysconf(_SC_PAGESIZE)) >> 20);
}

}  // namespace

long bounded_rss_limit_mib() { return rss_mib_now() + static_cast<long>(kBoundedAddressSpace >> 20); }

BoundedRun run_bounded(const std::function<std::string()>& op, std::size_t extra_address_space,
                       double deadline_seconds) {
  BoundedRun out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    out.failure = "pipe failed";
    return out;
  }
  std::size_t cap = mapped_bytes() + extra_address_space;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    out.failure = "fork failed";
    return out;
  }
  if (pid == 0) {
    ::close(fds[0]);
    if (!kAsan) {
      struct rlimit lim = {cap, cap};
      ::setrlimit(RLIMIT_AS, &lim);
    }
    std::string r;
    try {
      r = op();
    } catch (const std::exception& e) {
      r = std::string("exception: ") + e.what();
      (void)!::write(fds[1], r.data(), r.size());
      ::_exit(3);
    }
    size_t off = 0;
    while (off < r.size()) {
      ssize_t n = ::write(fds[1], r.data() + off, r.size() - off);
      if (n <= 0) ::_exit(4);
      off += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  bool killed = false;
  char buf[4096];
  for (;;) {
    double left = deadline_seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.result.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.max_rss_mib = ru.ru_maxrss / 1024;
  if (killed) {
    out.failure = "killed at the " + std::to_string(deadline_seconds) + " s deadline";
  } else if (WIFSIGNALED(status)) {
    out.failure = "killed by signal " + std::to_string(WTERMSIG(status)) + " (an allocation past the cap aborts)";
  } else if (WEXITSTATUS(status) != 0) {
    out.failure = "exited " + std::to_string(WEXITSTATUS(status)) + ": " + out.result;
  } else {
    out.finished = true;
  }
  return out;
}

}  // namespace minify::testing
