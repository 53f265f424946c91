// The ports a traced program listened on (TraceLog::listens), under both tracers: a C program
// that listens and binds on ephemeral ports and writes down the ports the kernel gave it, and a
// real server (python3 -m http.server) stopped by a probe. The runner stage EXPOSEs these.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include <nlohmann/json.hpp>

#include "backend_param.hpp"
#include "minify/trace.hpp"
#include "support/fixture.hpp"
#include "support/net.hpp"

namespace minify {
namespace {

using namespace minify::testing;
using std::chrono::milliseconds;

class ListenTest : public ::testing::TestWithParam<TracerBackend> {
 protected:
  void SetUp() override {
    MINIFY_SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
    dir_ = fs::canonical(tmp_.path());
  }

  TraceLog trace(const std::vector<std::string>& argv, TraceOptions opt = {}) {
    opt.command = argv;
    opt.tracer = GetParam();
    if (!opt.timeout) opt.timeout = milliseconds(60'000);  // hang guard only
    auto r = run_trace(opt);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? std::move(*r) : TraceLog{};
  }

  static std::string dump(const std::vector<ListenRecord>& listens) {
    std::string s;
    for (const auto& l : listens) s += std::to_string(l.port) + "/" + l.proto + " ";
    return s;
  }

  TempDir tmp_;
  fs::path dir_;
};

// A TCP listener on IPv4 and on IPv6 and a UDP socket bound to a port are listening; a TCP
// client that binds before it connects, a UDP socket that only sends, a failed listen and an
// AF_UNIX listener are not. Ports are the kernel's picks (port 0), read back by the program.
TEST_P(ListenTest, ListenAndDatagramBindRecordTheirPorts) {
  if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
  fs::path prog = dir_ / "server";
  ASSERT_EQ(compile_c(prog, R"(
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
static int port_of(int s) {
  struct sockaddr_in6 a;
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr*)&a, &len);
  return ntohs(a.sin6_port);  /* sin_port and sin6_port are at the same offset */
}
int main(int argc, char** argv) {
  FILE* out = fopen(argv[1], "w");
  struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int tcp = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(tcp, (struct sockaddr*)&lo, sizeof lo) || listen(tcp, 4)) return 2;
  fprintf(out, "%d/tcp\n", port_of(tcp));
  int tcp6 = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 any6 = {.sin6_family = AF_INET6};
  if (bind(tcp6, (struct sockaddr*)&any6, sizeof any6) == 0 && listen(tcp6, 4) == 0)
    fprintf(out, "%d/tcp\n", port_of(tcp6));
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  if (bind(udp, (struct sockaddr*)&lo, sizeof lo)) return 3;
  fprintf(out, "%d/udp\n", port_of(udp));
  /* Not listening: a client bound before connecting, a sender, listen on a datagram socket. */
  int client = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = lo;
  to.sin_port = htons(port_of(tcp));
  if (bind(client, (struct sockaddr*)&lo, sizeof lo) || connect(client, (struct sockaddr*)&to, sizeof to)) return 4;
  int sender = socket(AF_INET, SOCK_DGRAM, 0);
  to.sin_port = htons(port_of(udp));
  if (sendto(sender, "x", 1, 0, (struct sockaddr*)&to, sizeof to) != 1) return 5;
  if (listen(udp, 4) == 0) return 6;
  int unix_s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  strcpy(un.sun_path, argv[2]);
  if (bind(unix_s, (struct sockaddr*)&un, sizeof un) || listen(unix_s, 4)) return 7;
  return fclose(out) != 0;
}
)"),
            "");
  fs::path ports = dir_ / "ports";
  TraceLog log = trace({prog.string(), ports.string(), (dir_ / "sock").string()});
  ASSERT_EQ(log.exit.shell_status(), 0);
  std::vector<ListenRecord> want;
  std::istringstream in(read_file(ports));
  for (std::string line; std::getline(in, line);) {
    std::size_t slash = line.find('/');
    want.push_back(ListenRecord{static_cast<std::uint16_t>(std::stoi(line.substr(0, slash))), line.substr(slash + 1)});
  }
  std::sort(want.begin(), want.end());
  ASSERT_GE(want.size(), 2u);
  EXPECT_EQ(log.listens, want) << "recorded: " << dump(log.listens) << " listened: " << dump(want);
  // The AF_UNIX socket is a file access, as before.
  auto sock = log.paths.find((dir_ / "sock").string());
  ASSERT_NE(sock, log.paths.end());
  EXPECT_TRUE(sock->second.succeeded.has(AccessKind::Socket));
  // trace.json carries them, and reads them back.
  nlohmann::json j = to_json(log);
  ASSERT_TRUE(j.contains("listens"));
  EXPECT_EQ(j["listens"][0]["port"].get<int>(), want[0].port);
  EXPECT_EQ(j["listens"][0]["proto"], want[0].proto);
  auto back = trace_log_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->listens, log.listens);
}

// A real server: Python's http.server, stopped once the probe got its answer.
TEST_P(ListenTest, PythonHttpServerRecordsItsPort) {
  if (!have_program("python3")) GTEST_SKIP() << "no python3";
  int port = testing::free_port();
  TraceOptions opt;
  opt.probe_urls = {"http://127.0.0.1:" + std::to_string(port) + "/"};
  opt.grace = milliseconds(2000);
  TraceLog log =
      trace({"python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1", "--directory", dir_.string()},
            opt);
  ASSERT_EQ(log.stopped_by, StopReason::Probe);
  ASSERT_EQ(log.probes.size(), 1u);
  EXPECT_EQ(log.probes[0].http_status, 200) << log.probes[0].error;
  EXPECT_EQ(log.listens, (std::vector<ListenRecord>{{static_cast<std::uint16_t>(port), "tcp"}}))
      << dump(log.listens);
}

INSTANTIATE_TEST_SUITE_P(Tracers, ListenTest, ::testing::Values(TracerBackend::Ptrace, TracerBackend::Bpf),
                         backend_test_name);

}  // namespace
}  // namespace minify
