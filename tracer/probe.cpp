// See probe.hpp. Connections are non-blocking with poll() timeouts so the probe thread notices
// `cancel` (the traced program exited) within 50 ms.
#include "probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace minify::tracer {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

int ms_until(Clock::time_point deadline, int cap) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left < 0) return 0;
  return static_cast<int>(std::min<long long>(left, cap));
}

// One connection attempt to any address of host:port; returns the connected fd or -errno.
int try_connect(const HttpUrl& u, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  if (::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &res) != 0) return -EHOSTUNREACH;
  int err = ECONNREFUSED;
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, ms_until(deadline, 1000)) == 1) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr == 0) {
          ::freeaddrinfo(res);
          return fd;
        }
        err = soerr;
      } else {
        err = ETIMEDOUT;
      }
    } else {
      err = errno;
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return -err;
}

// Has a response with these first bytes (and `total` bytes in all) ended?
bool response_complete(const std::string& resp, std::size_t total) {
  std::size_t end = resp.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = resp.substr(0, end + 2);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t body = end + 4;
  if (std::size_t cl = head.find("\r\ncontent-length:"); cl != std::string::npos)
    return total >= body + std::strtoull(head.c_str() + cl + 17, nullptr, 10);
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos)
    return resp.size() >= 5 && resp.compare(resp.size() - 5, 5, "0\r\n\r\n") == 0;
  return false;  // delimited by EOF
}

}  // namespace

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return bad_input("probe", std::string(url), "only http:// URLs are supported");
  std::string_view rest = url.substr(kScheme.size());
  HttpUrl u;
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) u.target = std::string(rest.substr(slash));
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad_input("probe", std::string(url), "bad IPv6 address");
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = std::string(authority.substr(close + 2));
  } else {
    std::size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty() || u.port.empty()) return bad_input("probe", std::string(url), "missing host or port");
  return u;
}

ProbeResult fetch_url(const std::string& url, Clock::time_point deadline, const std::atomic<bool>& cancel) {
  ProbeResult r;
  r.url = url;
  auto parsed = parse_http_url(url);
  if (!parsed) {
    r.error = parsed.error().message();
    return r;
  }
  const HttpUrl& u = *parsed;
  int fd = -1;
  int last_err = 0;
  while (fd < 0) {
    if (cancel.load()) {
      r.error = "the program exited before " + u.host + ":" + u.port + " answered";
      return r;
    }
    if (Clock::now() >= deadline) {
      r.error = std::string("connect: ") + std::strerror(last_err ? last_err : ETIMEDOUT);
      return r;
    }
    fd = try_connect(u, deadline);
    if (fd < 0) {
      last_err = -fd;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  Fd sock(fd);
  std::string req = "GET " + u.target + " HTTP/1.1\r\nHost: " + u.host +
                    (u.port == "80" ? "" : ":" + u.port) +
                    "\r\nUser-Agent: minify-trace\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(sock.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    pollfd p{sock.fd, POLLOUT, 0};
    if (n < 0 && errno == EAGAIN && !cancel.load() && ::poll(&p, 1, ms_until(deadline, 50)) >= 0 &&
        Clock::now() < deadline)
      continue;
    r.error = std::string("send: ") + std::strerror(n < 0 ? errno : EPIPE);
    return r;
  }
  // Read the whole response, so the server finishes the request's work: to EOF (we asked for
  // Connection: close), or to the end of the body for a server that keeps the connection open.
  std::string resp;
  std::size_t total = 0;
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      if (resp.size() < (1u << 20)) resp.append(buf, static_cast<std::size_t>(n));
      if (response_complete(resp, total)) break;
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      if (resp.empty()) r.error = std::string("recv: ") + std::strerror(errno);
      break;
    }
    if (cancel.load() || Clock::now() >= deadline) {
      if (resp.empty()) r.error = "no response before the deadline";
      break;
    }
    pollfd p{sock.fd, POLLIN, 0};
    ::poll(&p, 1, ms_until(deadline, 50));
  }
  // "HTTP/1.1 200 OK"
  if (resp.compare(0, 5, "HTTP/") == 0) {
    std::size_t sp = resp.find(' ');
    if (sp != std::string::npos) r.http_status = std::atoi(resp.c_str() + sp + 1);
  }
  if (r.http_status == 0 && r.error.empty()) r.error = "not an HTTP response";
  return r;
}

}  // namespace minify::tracer
