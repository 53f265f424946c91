// --probe: a minimal HTTP/1.1 client. It waits for a traced server to answer and fetches a URL so
// the code paths a request exercises get traced. Plain http:// only (no TLS client here).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "minify/result.hpp"
#include "minify/trace.hpp"

namespace minify::tracer {

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // path and query
};

Result<HttpUrl> parse_http_url(std::string_view url);

// GETs `url`, retrying the connection every 50 ms until it is accepted, `deadline` passes or
// `cancel` is set. Never throws; failures are in ProbeResult::error.
ProbeResult fetch_url(const std::string& url, std::chrono::steady_clock::time_point deadline,
                      const std::atomic<bool>& cancel);

}  // namespace minify::tracer
