// `minify image` and `minify verify` end to end, and the sandbox on its own. The image is built
// at test time from the host's files: a base layer with dash, cat, their libraries and a bloated
// /usr (cmake, perl, 4 MB of noise), a second layer that whites out and adds files (the program,
// a script), a third with an opaque directory. The shrunk archive must pass skopeo inspect,
// unpack with umoci and run with runc giving the same output; a verify must name a file removed
// from the minimized root.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "image_support.hpp"
#include "minify/image.hpp"
#include "minify/sandbox.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ImageSpec;
using testing::LayerCompression;
using testing::TarItem;
using testing::TempDir;

constexpr const char* kScript = R"SH(#!/bin/sh
echo "args: $*"
cat /app/data/msg
cat /app/data/note
echo "uid $(id -u 2>/dev/null || echo none) cwd $(pwd)"
)SH";

// The host's copy of a file and every link on the way, as tar items under the same names.
void add_host_path(std::vector<TarItem>& items, const std::string& path) {
  std::string cur = path;
  for (int i = 0; i < 8; ++i) {
    fs::path p = cur;
    if (fs::is_symlink(p)) {
      std::string target = fs::read_symlink(p).string();
      items.push_back({cur.substr(1), 'l', "", target});
      cur = target[0] == '/' ? target : (p.parent_path() / target).lexically_normal().string();
      continue;
    }
    items.push_back(testing::host_file(cur, cur.substr(1)));
    return;
  }
}

// The file and the libraries ldd lists for it.
void add_with_libs(std::vector<TarItem>& items, const std::string& path) {
  add_host_path(items, path);
  auto r = testing::run({"ldd", path});
  size_t pos = 0;
  while ((pos = r.out.find_first_of(" \t", pos)) != std::string::npos) {
    if (pos + 1 >= r.out.size() || r.out[pos + 1] != '/') {
      ++pos;
      continue;
    }
    size_t end = r.out.find_first_of(" \n", pos + 1);
    std::string lib = r.out.substr(pos + 1, end - pos - 1);
    pos = end;
    if (std::none_of(items.begin(), items.end(), [&](const TarItem& t) { return t.name == lib.substr(1); }))
      add_host_path(items, lib);
  }
}

// Merged /usr with dash and cat.
std::vector<TarItem> small_root() {
  std::vector<TarItem> items = {{"bin", 'l', "", "usr/bin"},     {"lib", 'l', "", "usr/lib"},
                                {"lib64", 'l', "", "usr/lib64"}, {"usr/bin", 'd', "", "", 0755},
                                {"usr/lib64", 'd', "", "", 0755}, {"usr/lib/x86_64-linux-gnu", 'd', "", "", 0755}};
  add_with_libs(items, "/usr/bin/dash");
  add_with_libs(items, "/usr/bin/cat");
  return items;
}

ImageSpec app_image() {
  std::vector<TarItem> base = {{"bin", 'l', "", "usr/bin"},  {"lib", 'l', "", "usr/lib"},
                               {"lib64", 'l', "", "usr/lib64"}, {"usr", 'd', "", "", 0755},
                               {"usr/bin", 'd', "", "", 0755}, {"usr/lib", 'd', "", "", 0755},
                               {"usr/lib64", 'd', "", "", 0755}, {"usr/lib/x86_64-linux-gnu", 'd', "", "", 0755},
                               {"etc", 'd', "", "", 0755},   {"tmp", 'd', "", "", 01777}};
  for (const char* p : {"/usr/bin/dash", "/usr/bin/cat", "/usr/bin/id", "/usr/bin/cmake", "/usr/bin/perl"})
    if (fs::exists(p)) add_with_libs(base, p);
  base.push_back({"usr/bin/sh", 'l', "", "dash"});
  std::mt19937 rng(7);
  std::string noise(4 << 20, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  base.push_back({"usr/share/bloat/noise", 'f', noise});
  base.push_back({"usr/share/bloat/old", 'f', "old"});
  base.push_back({"app/data/msg", 'f', "lower msg\n"});
  base.push_back({"etc/passwd", 'f', "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"});
  base.push_back({"etc/group", 'f', "root:x:0:\napp:x:1000:\n"});

  ImageSpec s;
  s.layers.push_back(testing::make_tar(base, LayerCompression::Gzip));
  s.layers.push_back(testing::make_tar({{"usr/share/bloat/.wh.old", 'f', ""},
                                        {"app/run.sh", 'f', kScript, "", 0755},
                                        {"app/data/msg", 'f', "upper msg\n"},
                                        {"app/data/stale", 'f', "stale\n"}},
                                       LayerCompression::Zstd));
  s.layers.push_back(testing::make_tar({{"app/data", 'd', "", "", 0755},
                                        {"app/data/.wh..wh..opq", 'f', ""},
                                        {"app/data/msg", 'f', "opaque msg\n"},
                                        {"app/data/note", 'f', "note\n"}},
                                       LayerCompression::None));
  s.compressions = {LayerCompression::Gzip, LayerCompression::Zstd, LayerCompression::None};
  s.config = {{"Entrypoint", {"/app/run.sh"}},
              {"Cmd", {"hello"}},
              {"Env", {"PATH=/usr/bin:/bin", "GREETING=hi"}},
              {"WorkingDir", "/app"},
              {"User", "1000:1000"},
              {"ExposedPorts", {{"8080/tcp", json::object()}}},
              {"Labels", {{"org.example.name", "app"}}}};
  return s;
}

constexpr const char* kExpected = "args: hello\nopaque msg\nnote\nuid 1000 cwd /app\n";

bool root_and_tools() {
  return ::geteuid() == 0 && fs::exists("/usr/bin/dash") && fs::exists("/usr/lib64/ld-linux-x86-64.so.2");
}

TEST(Sandbox, RunsInsideTheRootWithItsOwnNamespaces) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  TempDir t;
  std::vector<TarItem> items = small_root();
  items.push_back({"etc/data", 'f', "inside\n"});
  ImageSpec s;
  s.layers.push_back(testing::make_tar(items));
  testing::write_oci_layout(t / "layout", s);
  auto r = testing::run({testing::minify_bin(), "verify", "--image", (t / "layout").string(), "--", "/usr/bin/dash",
                         "-c", "cat /etc/data; echo pid $$; cat /proc/self/uid_map; echo /dev/pts/*; echo /dev/*;"
                         "cat /sys/devices/system/cpu/online >/dev/null && echo sys-readable; (echo 1 > /sys/kernel/profiling) 2>/dev/null || echo sys-read-only; cat /proc/net/dev"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("inside\npid 2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0     100000      65536"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/dev/pts/ptmx\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/dev/fd /dev/full /dev/null /dev/ptmx /dev/pts /dev/random /dev/shm /dev/stderr /dev/stdin "
                       "/dev/stdout /dev/tty /dev/urandom /dev/zero\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sys-readable\nsys-read-only\n"), std::string::npos) << r.out;
  // Loopback only: one interface line in /proc/net/dev.
  EXPECT_NE(r.out.find(" lo:"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ':'), 1) << r.out;
}

TEST(Sandbox, TraceRecordsPathsAsTheProgramNamesThem) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  TempDir t;
  std::vector<TarItem> items = small_root();
  items.push_back({"etc/data", 'f', "inside\n"});
  ImageSpec s;
  s.layers.push_back(testing::make_tar(items));
  testing::write_oci_layout(t / "layout", s);
  auto img = open_image((t / "layout").string(), (t / "w").string());
  ASSERT_TRUE(img);
  ASSERT_TRUE(unpack_layers(*img, (t / "root").string(), {{}, 100000}));
  SandboxOptions so;
  so.rootfs = (t / "root").string();
  so.launcher = {testing::minify_bin(), "__sandbox-exec"};
  so.env = {"PATH=/usr/bin"};
  TraceOptions to;
  to.command = {"/usr/bin/dash", "-c", "cat /etc/data /etc/nothing; exit 4"};
  auto log = run_sandboxed(so, to);
  ASSERT_TRUE(log) << log.error().message();
  EXPECT_EQ(log->exit.shell_status(), 4);
  EXPECT_TRUE(log->used("/etc/data"));
  ASSERT_TRUE(log->paths.count("/etc/nothing"));
  EXPECT_FALSE(log->used("/etc/nothing"));
  EXPECT_TRUE(log->used("/lib/x86_64-linux-gnu/libc.so.6") || log->used("/usr/lib/x86_64-linux-gnu/libc.so.6"));
  for (const auto& [p, u] : log->paths) EXPECT_EQ(p.find(t.path().string()), std::string::npos) << p;
  ASSERT_FALSE(log->execs.empty());
  EXPECT_EQ(log->execs[0].path, "/usr/bin/dash");
}

struct Shrunk {
  TempDir t;
  testing::RunResult r;
  fs::path in() const { return t / "in.tar"; }
  fs::path out() const { return t / "out.tar"; }
  fs::path dir() const { return t / "minify-out"; }
};

void shrink(Shrunk& s, const std::string& format) {
  testing::write_docker_archive(s.in(), app_image());
  s.r = testing::run({testing::minify_bin(), "image", s.in().string(), "-o", s.out().string(), "--format", format,
                      "--out-dir", s.dir().string()});
}

TEST(ImageCli, ShrinksADockerArchiveAndTheResultRunsWithRunc) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  Shrunk s;
  shrink(s, "oci");
  ASSERT_EQ(s.r.status, 0) << s.r.err;
  EXPECT_NE(s.r.err.find("verify: ok"), std::string::npos) << s.r.err;
  EXPECT_NE(s.r.err.find("largest files left out"), std::string::npos) << s.r.err;
  EXPECT_NE(s.r.err.find("/usr/bin/cmake"), std::string::npos) << s.r.err;
  EXPECT_LT(fs::file_size(s.out()), fs::file_size(s.in()) / 4);
  EXPECT_TRUE(fs::exists(s.dir() / "rootfs/app/data/note"));
  EXPECT_FALSE(fs::exists(s.dir() / "rootfs/usr/bin/cmake"));
  EXPECT_FALSE(fs::exists(s.dir() / "rootfs/app/data/stale"));
  EXPECT_TRUE(fs::exists(s.dir() / "report.json"));

  if (!testing::have_program("skopeo") || !testing::have_program("umoci") || !testing::have_program("runc"))
    GTEST_SKIP() << "skopeo, umoci or runc missing";
  auto insp = testing::run({"skopeo", "inspect", "--config", "oci-archive:" + s.out().string()});
  ASSERT_EQ(insp.status, 0) << insp.err;
  json cfg = json::parse(insp.out);
  EXPECT_EQ(cfg["config"]["Entrypoint"], json({"/app/run.sh"}));
  EXPECT_EQ(cfg["config"]["Cmd"], json({"hello"}));
  EXPECT_EQ(cfg["config"]["WorkingDir"], "/app");
  EXPECT_EQ(cfg["config"]["User"], "1000:1000");
  EXPECT_TRUE(cfg["config"]["ExposedPorts"].contains("8080/tcp"));
  EXPECT_EQ(cfg["config"]["Labels"]["org.example.name"], "app");
  auto cp = testing::run({"skopeo", "copy", "oci-archive:" + s.out().string(), "oci:" + (s.t / "layout").string() + ":t"});
  ASSERT_EQ(cp.status, 0) << cp.err;
  auto un = testing::run({"umoci", "unpack", "--image", (s.t / "layout").string() + ":t", (s.t / "bundle").string()});
  ASSERT_EQ(un.status, 0) << un.err;
  json spec = json::parse(testing::read_file(s.t / "bundle/config.json"));
  spec["process"].erase("rlimits");
  spec["process"]["terminal"] = false;
  testing::write_file(s.t / "bundle/config.json", spec.dump());
  std::string id = "minify-image-test-" + std::to_string(::getpid());
  auto rr = testing::run({"runc", "run", "--bundle", (s.t / "bundle").string(), id});
  testing::run({"runc", "delete", "-f", id});
  EXPECT_EQ(rr.status, 0) << rr.err;
  EXPECT_EQ(rr.out, kExpected);
}

TEST(ImageCli, DockerFormatPassesSkopeoInspect) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  if (!testing::have_program("skopeo")) GTEST_SKIP() << "skopeo missing";
  Shrunk s;
  shrink(s, "docker");
  ASSERT_EQ(s.r.status, 0) << s.r.err;
  auto insp = testing::run({"skopeo", "inspect", "--config", "docker-archive:" + s.out().string()});
  ASSERT_EQ(insp.status, 0) << insp.err;
  EXPECT_EQ(json::parse(insp.out)["config"]["Entrypoint"], json({"/app/run.sh"}));
}

TEST(ImageCli, VerifyNamesAFileRemovedFromTheMinimizedRoot) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  Shrunk s;
  testing::write_oci_archive(s.in(), app_image());
  s.r = testing::run({testing::minify_bin(), "image", s.in().string(), "-o", s.out().string(), "--out-dir",
                      s.dir().string(), "--no-verify"});
  ASSERT_EQ(s.r.status, 0) << s.r.err;
  auto ok = testing::run({testing::minify_bin(), "verify", "-o", s.dir().string(), "--user", "1000:1000", "--workdir",
                          "/app", "--env", "PATH=/usr/bin:/bin"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out, kExpected);
  fs::remove(s.dir() / "rootfs/app/data/note");
  // run.json gives the image's User, WorkingDir and Env.
  auto bad = testing::run({testing::minify_bin(), "verify", "-o", s.dir().string()});
  EXPECT_EQ(bad.status, 1) << bad.err;
  EXPECT_NE(bad.err.find("missing /app/data/note"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

constexpr const char* kServer = R"C(
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(80);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr*)&a, sizeof a) || listen(s, 8)) { perror("bind"); return 1; }
  for (;;) {
    int c = accept(s, 0, 0);
    char req[1024], body[256] = "";
    (void)!read(c, req, sizeof req);
    FILE* f = fopen("/srv/page", "r");
    if (f) { fgets(body, sizeof body, f); fclose(f); }
    char resp[512];
    int n = snprintf(resp, sizeof resp, "HTTP/1.0 %s\r\nContent-Length: %zu\r\n\r\n%s",
                     f ? "200 OK" : "404 Not Found", strlen(body), body);
    (void)!write(c, resp, n);
    close(c);
  }
}
)C";

// A server image probed inside the sandbox's own network namespace, on port 80 (root of the
// user namespace does not own that namespace; the sandbox lowers ip_unprivileged_port_start).
TEST(ImageCli, ServerImageIsProbedInsideItsNetworkNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir t;
  std::string err = testing::compile_c(t / "server", kServer, {"-static", "-O1"});
  if (!err.empty()) GTEST_SKIP() << "no static C toolchain: " << err;
  ImageSpec s;
  s.layers.push_back(testing::make_tar({testing::host_file((t / "server").string(), "server"),
                                        {"srv/page", 'f', "hello from the image\n"},
                                        {"srv/unused", 'f', std::string(1 << 20, 'u')}},
                                       LayerCompression::Gzip));
  s.compressions = {LayerCompression::Gzip};
  s.config = {{"Entrypoint", {"/server"}}, {"ExposedPorts", {{"80/tcp", json::object()}}}};
  testing::write_oci_layout(t / "layout", s);
  auto r = testing::run({testing::minify_bin(), "image", (t / "layout").string(), "-o", (t / "out.tar").string(),
                         "--out-dir", (t / "out").string(), "--probe", "http://127.0.0.1:80/", "--timeout", "20s",
                         "--grace", "1s"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("verify: ok"), std::string::npos) << r.err;
  json trace = json::parse(testing::read_file(t / "out/trace.json"));
  EXPECT_NE(trace.dump().find("200"), std::string::npos) << trace["probes"].dump();
  EXPECT_TRUE(fs::exists(t / "out/rootfs/srv/page"));
  EXPECT_FALSE(fs::exists(t / "out/rootfs/srv/unused"));
  // The page missing from the minimized root: the probe answers 404 now, and verify says so.
  fs::remove(t / "out/rootfs/srv/page");
  auto v = testing::run({testing::minify_bin(), "verify", "-o", (t / "out").string(), "--probe",
                         "http://127.0.0.1:80/", "--timeout", "20s", "--grace", "1s"});
  EXPECT_EQ(v.status, 1) << v.err;
  EXPECT_NE(v.err.find("missing /srv/page"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("200 before, 404 now"), std::string::npos) << v.err;
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

TEST(ImageCli, SetuidBitIsClearedInTheScratchRootAndKeptInTheOutput) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  TempDir t;
  std::vector<TarItem> items = small_root();
  for (auto& it : items)
    if (it.name == "usr/bin/dash") it.mode = 04755;
  ImageSpec s;
  s.layers.push_back(testing::make_tar(items));
  s.config = {{"Entrypoint", {"/usr/bin/dash", "-c", "echo hi"}}};
  testing::write_oci_layout(t / "layout", s);
  auto r = testing::run({testing::minify_bin(), "image", (t / "layout").string(), "-o", (t / "out.tar").string(),
                         "--out-dir", (t / "out").string(), "--work", (t / "work").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("1 setuid/setgid files: bits cleared on disk while unpacking, kept in the output (/usr/bin/dash)"),
            std::string::npos)
      << r.err;
  struct stat st {};
  ASSERT_EQ(::stat((t / "work/root/usr/bin/dash").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((t / "out/rootfs/usr/bin/dash").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
}

TEST(ImageCli, HostileArchiveFailsNamingTheEntry) {
  TempDir t;
  fs::create_directories(t / "outside");
  ImageSpec s;
  s.layers.push_back(testing::make_tar({{"x/../../../outside/pwned", 'f', "x"}}));
  s.config = {{"Entrypoint", {"/x"}}};
  testing::write_oci_archive(t / "evil.tar", s);
  auto r = testing::run({testing::minify_bin(), "image", (t / "evil.tar").string(), "-o", (t / "out.tar").string(),
                         "--out-dir", (t / "out").string(), "--work", (t / "work").string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("`x/../../../outside/pwned`: entry name has a `..` component"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(t / "outside"));
  EXPECT_FALSE(fs::exists(t / "out.tar"));
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

// An image's /tmp -> /etc and /etc/hosts -> /etc/shadow-like links must not redirect the
// sandbox's mounts onto anything but what the root itself holds.
TEST(Sandbox, SymlinkedMountPointsAreNotMountedThrough) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  TempDir t;
  std::vector<TarItem> items = small_root();
  items.push_back({"tmp", 'l', "", "/etc"});
  items.push_back({"etc/hosts", 'l', "", "/etc/secret"});
  items.push_back({"etc/secret", 'f', "image secret\n"});
  ImageSpec s;
  s.layers.push_back(testing::make_tar(items));
  testing::write_oci_layout(t / "layout", s);
  auto r = testing::run({testing::minify_bin(), "verify", "--image", (t / "layout").string(), "--network", "host",
                         "--", "/usr/bin/dash", "-c", "cat /etc/hosts; cat /tmp/secret"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "image secret\nimage secret\n");
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

// The program owns its image's /etc: replacing it with a symlink to a host directory must not
// make the launcher (host root) remove the mount point it made through that symlink.
TEST(Sandbox, MountPointCleanupDoesNotFollowTheProgramsSymlinks) {
  if (!root_and_tools() || !fs::exists("/usr/bin/mv") || !fs::exists("/usr/bin/ln"))
    GTEST_SKIP() << "needs root and a Debian-like host";
  TempDir t;
  testing::write_file(t / "host/hosts", "host file\n");
  std::vector<TarItem> items = small_root();
  add_with_libs(items, "/usr/bin/mv");
  add_with_libs(items, "/usr/bin/ln");
  items.push_back({"etc", 'd', "", "", 0755});
  ImageSpec s;
  s.layers.push_back(testing::make_tar(items));
  testing::write_oci_layout(t / "layout", s);
  auto r = testing::run({testing::minify_bin(), "verify", "--image", (t / "layout").string(), "--", "/usr/bin/dash",
                         "-c", "mv /etc /etc.old && ln -s " + (t / "host").string() + " /etc && echo swapped"});
  EXPECT_EQ(r.out, "swapped\n") << r.err;
  EXPECT_EQ(testing::read_file(t / "host/hosts"), "host file\n");
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

// `minify image` keeps the image's owners (unshifted from the scratch root), its setuid bits and
// its User in the written image.
TEST(ImageCli, OwnersSetuidAndUserOfTheImageReachTheOutput) {
  if (!root_and_tools()) GTEST_SKIP() << "needs root and a Debian-like host";
  TempDir t;
  std::vector<TarItem> items = small_root();
  for (auto& it : items)
    if (it.name == "usr/bin/dash") it.mode = 04755;
  items.push_back({"app", 'd', "", "", 0755, 1000, 1000});
  items.push_back({"app/owned", 'f', "owned\n", "", 0600, 1000, 1000});
  items.push_back({"app/rootfile", 'f', "root\n", "", 0644, 0, 0});
  ImageSpec s;
  s.layers.push_back(testing::make_tar(items));
  s.config = {{"Entrypoint", {"/usr/bin/dash", "-c", "cat /app/owned /app/rootfile"}}, {"User", "1000:1000"}};
  testing::write_oci_layout(t / "layout", s);
  auto r = testing::run({testing::minify_bin(), "image", (t / "layout").string(), "-o", (t / "out.tar").string(),
                         "--out-dir", (t / "out").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto out = open_image((t / "out.tar").string(), (t / "reopen").string());
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->config.user, "1000:1000");
  ASSERT_EQ(out->layers.size(), 1u);
  auto got = testing::read_layer(out->layers[0].file);
  ASSERT_TRUE(got.count("app/owned")) << r.err;
  EXPECT_EQ(got.at("app").uid, 1000);
  EXPECT_EQ(got.at("app").gid, 1000);
  EXPECT_EQ(got.at("app/owned").uid, 1000);
  EXPECT_EQ(got.at("app/owned").gid, 1000);
  EXPECT_EQ(got.at("app/owned").mode, 0600u);
  EXPECT_EQ(got.at("app/rootfile").uid, 0);
  EXPECT_EQ(got.at("usr/bin/dash").uid, 0);
  EXPECT_EQ(got.at("usr/bin/dash").mode, 04755u);
  json report = json::parse(testing::read_file(t / "out/report.json"));
  bool seen = false;
  for (const auto& e : report["entries"])
    if (e["path"] == "/app/owned") {
      seen = true;
      EXPECT_EQ(e.value("uid", -1), 1000);
      EXPECT_EQ(e.value("gid", -1), 1000);
    }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace minify
