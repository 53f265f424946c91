// Verify checks the image as it will run (its User, only its Env, its WorkingDir, the network the
// trace had, the layer's own tree) and repair adds what the check proves missing. Each test is a
// program compiled here whose fate differs between "root with the caller's environment" and "the
// image": minify's verdict must be the image's.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::minify_bin;
using testing::read_file;
using testing::run;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;
using json = nlohmann::json;

class VerifyAsRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "pack's verify needs root (user namespaces with a 65536-id map)";
  }
  testing::RunResult pack(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), minify_bin());
    return run(args, env);
  }
  // Every file under `dir` with its size, mode and owner: what "unchanged" means for a tree.
  static std::string listing(const fs::path& dir) {
    std::string out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      struct stat st;
      if (::lstat(e.path().c_str(), &st) != 0) continue;
      out += e.path().string() + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + " " +
             std::to_string(S_ISREG(st.st_mode) ? st.st_size : 0) + "\n";
    }
    return out;
  }
  const json* entry(const json& report, const std::string& path) {
    for (const auto& e : report["entries"])
      if (e["path"] == path) return &e;
    return nullptr;
  }
  TempDir tmp_;
};

// A program that writes into its data directory, traced as root: the image's user must be able to
// do the same, so the directory ships owned by that user, and verify (as that user) agrees.
TEST_F(VerifyAsRun, WriterRunsAsTheImageUser) {
  ASSERT_EQ(compile_c(tmp_ / "app/writer", R"(
#include <stdio.h>
int main(int argc, char** argv) {
  FILE* f = fopen(argv[1], "w");
  if (!f) { perror(argv[1]); return 1; }
  fputs("row\n", f);
  return fclose(f) == 0 ? 0 : 1;
}
)"),
            "");
  fs::create_directories(tmp_ / "app/data");
  std::string db = (tmp_ / "app/data/db.txt").string();
  auto r = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/writer").string(), db});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("as 65532"), std::string::npos) << r.err;
  // The program's own output is not shipped; its directory is, writable by the image's user.
  EXPECT_FALSE(fs::exists(tmp_ / ("out/rootfs" + db)));
  struct stat st;
  ASSERT_EQ(::stat((tmp_ / ("out/rootfs" + (tmp_ / "app/data").string())).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65532u);
  json report = json::parse(read_file(tmp_ / "out/report.json"));
  const json* d = entry(report, (tmp_ / "app/data").string());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ((*d)["uid"], 65532) << d->dump();
  // The verdict against the real thing: the root run as 65532 (setpriv drops to it).
  if (testing::have_program("setpriv")) {
    fs::create_directories(tmp_ / "out/rootfs/dev");
    run({"mknod", "-m", "666", (tmp_ / "out/rootfs/dev/null").string(), "c", "1", "3"});
    auto c = run({"chroot", "--userspec=65532:65532", (tmp_ / "out/rootfs").string(), (tmp_ / "app/writer").string(), db});
    EXPECT_EQ(c.status, 0) << c.err;
  }
}

// minify run by another user (a server that refuses root, as PostgreSQL does): verify cannot map
// the image's ids without root, and says that in one line instead of the chown that fails.
TEST_F(VerifyAsRun, WithoutRootVerifySaysItNeedsRoot) {
  if (!testing::have_program("setpriv")) GTEST_SKIP() << "no setpriv";
  fs::create_directories(tmp_ / "nobody");
  fs::permissions(tmp_.path(), fs::perms::all, fs::perm_options::add);
  fs::permissions(tmp_ / "nobody", fs::perms::all, fs::perm_options::add);
  auto r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", minify_bin(), "pack", "--tracer",
                "ptrace", "-o", (tmp_ / "nobody/out").string(), "/bin/true"});
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("verify could not run: sandbox: needs root"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--no-verify"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("chown"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "nobody/out/rootfs")) << "a failed verify commits nothing";
}

// pack --user: minify stays root, the program is traced as that user (it refuses root), verify
// runs it as the same user in the sandbox, and the image's USER and accounts are that user's.
TEST_F(VerifyAsRun, UserTracesAndVerifiesAsThatUser) {
  ASSERT_EQ(compile_c(tmp_ / "app/whoami", R"(
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (getuid() == 0 || geteuid() == 0) { fputs("running as root\n", stderr); return 3; }
  FILE* f = fopen(argv[1], "w");
  if (!f) { perror(argv[1]); return 1; }
  fprintf(f, "%u:%u\n", getuid(), getgid());
  return fclose(f) == 0 ? 0 : 1;
}
)"),
            "");
  fs::create_directories(tmp_ / "app/data");
  fs::permissions(tmp_.path(), fs::perms::all, fs::perm_options::add);
  fs::permissions(tmp_ / "app/data", fs::perms::all, fs::perm_options::add);
  std::string ids = (tmp_ / "app/data/ids.txt").string();
  auto r = pack({"-o", (tmp_ / "out").string(), "--tracer", "ptrace", "--user", "nobody", (tmp_ / "app/whoami").string(), ids});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(ids), "65534:65534\n") << "the trace ran as nobody";
  EXPECT_NE(r.err.find("verify: ok"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ran as nobody"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hint:"), std::string::npos) << r.err;
  EXPECT_NE(read_file(tmp_ / "out/Dockerfile").find("\nUSER nobody\n"), std::string::npos);
  // The accounts the runtime looks the name up in ship, rewritten: not the builder's whole list.
  std::string passwd = read_file(tmp_ / "out/rootfs/etc/passwd");
  EXPECT_NE(passwd.find("nobody:x:65534:65534:"), std::string::npos) << passwd;
  EXPECT_EQ(passwd.find("\ndaemon:"), std::string::npos) << passwd;
  EXPECT_NE(read_file(tmp_ / "out/rootfs/etc/group").find("nogroup:x:65534:"), std::string::npos);
  EXPECT_EQ(json::parse(read_file(tmp_ / "out/run.json"))["user"], "nobody");
  json trace = json::parse(read_file(tmp_ / "out/trace.json"));
  EXPECT_TRUE(trace["paths"].contains(ids)) << "the write was traced";
}

TEST_F(VerifyAsRun, UnknownUserIsOneLineExit2) {
  auto r = pack({"-o", (tmp_ / "out").string(), "--user", "no-such-user-minify", "/bin/true"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--user `no-such-user-minify`"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
}

// The same writer into a system directory it may not own in the image: verify fails as the image
// would, says permission denied, and the hint names --user 0; with --user 0 it passes.
TEST_F(VerifyAsRun, PermissionDeniedForTheImageUserIsNamed) {
  ASSERT_EQ(compile_c(tmp_ / "app/writer", R"(
#include <stdio.h>
int main(int argc, char** argv) {
  FILE* f = fopen(argv[1], "w");
  if (!f) { perror(argv[1]); return 1; }
  return fclose(f) == 0 ? 0 : 1;
}
)"),
            "");
  auto r = pack({"-o", (tmp_ / "out").string(), "--no-repair", (tmp_ / "app/writer").string(), "/etc/minify-verify-test"});
  fs::remove("/etc/minify-verify-test");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("--user 0"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out")) << "a root whose verify failed is not committed";
  EXPECT_TRUE(fs::exists(tmp_ / "out.failed/verify.json"));
  auto root = pack({"-o", (tmp_ / "out").string(), "--user", "0", (tmp_ / "app/writer").string(), "/etc/minify-verify-test"});
  fs::remove("/etc/minify-verify-test");
  EXPECT_EQ(root.status, 0) << root.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out.failed")) << "a committed run removes the earlier failed one";
}

// `$SHELL -c`: the caller's SHELL=/bin/bash is not the image's; the trace gets the image's Env,
// so /bin/sh (the fallback) is what ships, and the image's Env is what verify runs with.
TEST_F(VerifyAsRun, TheTraceGetsTheImageEnvNotTheCallers) {
  ASSERT_EQ(compile_c(tmp_ / "app/shell", R"(
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) {
  const char* sh = getenv("SHELL");
  if (!sh) sh = "/bin/sh";
  execl(sh, sh, "-c", "exit 0", (char*)0);
  perror(sh);
  return 127;
}
)"),
            "");
  auto r = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/shell").string()}, {"SHELL=/bin/bash"});
  ASSERT_EQ(r.status, 0) << r.err;
  json report = json::parse(read_file(tmp_ / "out/report.json"));
  EXPECT_EQ(entry(report, "/usr/bin/bash"), nullptr) << "bash came from the caller's SHELL";
  EXPECT_EQ(entry(report, "/bin/bash"), nullptr) << "bash came from the caller's SHELL";
  EXPECT_TRUE(fs::exists(tmp_ / "out/rootfs/bin/sh")) << r.err;
  // --inherit-env: the caller's environment, bash and all.
  auto inherit = pack({"-o", (tmp_ / "out2").string(), "--inherit-env", (tmp_ / "app/shell").string()}, {"SHELL=/bin/bash"});
  ASSERT_EQ(inherit.status, 0) << inherit.err;
  EXPECT_TRUE(fs::exists(tmp_ / "out2/rootfs/usr/bin/bash") || fs::exists(tmp_ / "out2/rootfs/bin/bash"));
}

// `sh run.sh` from the WorkingDir: verify runs there too, and the Dockerfile says WORKDIR.
TEST_F(VerifyAsRun, RelativeScriptRunsFromTheWorkdir) {
  write_file(tmp_ / "app/run.sh", "cat ./data.txt\n");
  write_file(tmp_ / "app/data.txt", "data\n");
  auto r = pack({"-o", (tmp_ / "out").string(), "--workdir", (tmp_ / "app").string(), "sh", "run.sh"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("verify: ok"), std::string::npos) << r.err;
  EXPECT_NE(read_file(tmp_ / "out/Dockerfile").find("WORKDIR " + (tmp_ / "app").string()), std::string::npos);
  EXPECT_TRUE(fs::exists(tmp_ / ("out/rootfs" + (tmp_ / "app/data.txt").string())));
}

// A server that makes its temporary directories at start: on the builder mkdir fails with EEXIST,
// which proves the directory exists; it ships, with that reason.
TEST_F(VerifyAsRun, MkdirThatFoundTheDirectoryShipsIt) {
  fs::create_directories(tmp_ / "var/cache/body");
  ASSERT_EQ(compile_c(tmp_ / "app/mkdirs", R"(
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
int main(int argc, char** argv) {
  if (mkdir(argv[1], 0700) != 0 && errno != EEXIST) { perror(argv[1]); return 1; }
  return 0;
}
)"),
            "");
  std::string body = (tmp_ / "var/cache/body").string();
  auto r = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/mkdirs").string(), body});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_directory(tmp_ / ("out/rootfs" + body)));
  json report = json::parse(read_file(tmp_ / "out/report.json"));
  const json* e = entry(report, body);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->dump().find("EEXIST"), std::string::npos) << e->dump();
}

// A program that creates its output directory and refuses one that exists (git clone DIR, mkdir
// without -p): the directory and what it put there are outputs, not shipped; its parent ships,
// the image user's, so that the image makes the directory again. Repair does not add them either:
// here the run as the image's user also reads a file the root run did not (so verify fails once and
// repair adds that file), and it looks for the directory first, which the trace left on the builder.
TEST_F(VerifyAsRun, DirectoryTheProgramCreatedIsNotShipped) {
  fs::create_directories(tmp_ / "app/work");
  write_file(tmp_ / "app/unprivileged.conf", "x\n");
  ASSERT_EQ(compile_c(tmp_ / "app/cloner", R"(
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char** argv) {
  struct stat st;
  if (stat(argv[1], &st) == 0) { fprintf(stderr, "%s already exists\n", argv[1]); return 1; }
  if (geteuid() != 0 && access(argv[2], R_OK) != 0) { perror(argv[2]); return 1; }
  if (mkdir(argv[1], 0755) != 0) { perror(argv[1]); return 1; }
  char sub[4096];
  snprintf(sub, sizeof sub, "%s/.meta", argv[1]);
  if (mkdir(sub, 0755) != 0) { perror(sub); return 1; }
  snprintf(sub, sizeof sub, "%s/.meta/head", argv[1]);
  FILE* f = fopen(sub, "w");
  if (!f) { perror(sub); return 1; }
  fputs("main\n", f);
  return fclose(f) == 0 ? 0 : 1;
}
)"),
            "");
  std::string clone = (tmp_ / "app/work/clone").string(), conf = (tmp_ / "app/unprivileged.conf").string();
  auto r = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/cloner").string(), clone, conf});
  fs::remove_all(clone);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("verify: ok"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("adding " + conf), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / ("out/rootfs" + clone))) << "the program's output directory shipped: " << r.err;
  struct stat st;
  ASSERT_EQ(::stat((tmp_ / ("out/rootfs" + (tmp_ / "app/work").string())).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65532u);
}

// A server that logs to /dev/stderr (apache's ErrorLog): it reopens the descriptor, which the image's
// user may do under runc (it hands the container's stdio to that user); so may it under verify, and
// what it writes reaches minify's stderr.
TEST_F(VerifyAsRun, ProgramOpeningDevStderrRunsAsTheImageUser) {
  ASSERT_EQ(compile_c(tmp_ / "app/logger", R"(
#include <stdio.h>
int main(void) {
  FILE* e = fopen("/dev/stderr", "w");
  FILE* o = fopen("/dev/stdout", "w");
  if (!e || !o) { perror("open /dev/stderr, /dev/stdout"); return 1; }
  fputs("logged-through-dev-stderr\n", e);
  fputs("printed-through-dev-stdout\n", o);
  return fclose(e) == 0 && fclose(o) == 0 ? 0 : 1;
}
)"),
            "");
  auto r = pack({"-o", (tmp_ / "out").string(), "--no-repair", (tmp_ / "app/logger").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("as 65532"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("verify: ok"), std::string::npos) << r.err;
  // Once from the trace (as root), once from verify (as 65532).
  size_t first = r.err.find("logged-through-dev-stderr");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_NE(r.err.find("logged-through-dev-stderr", first + 1), std::string::npos) << r.err;
}

// A client of a server on the builder's loopback: verify shares the trace's network by default,
// and with --network none it fails and says the network was cut.
TEST_F(VerifyAsRun, ClientOfALocalServerHasTheTracesNetwork) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ASSERT_EQ(::listen(lfd, 16), 0);
  std::thread server([lfd] {
    for (;;) {
      int c = ::accept(lfd, nullptr, nullptr);
      if (c < 0) return;
      (void)!::write(c, "hi\n", 3);
      ::close(c);
    }
  });
  ASSERT_EQ(compile_c(tmp_ / "app/client", R"(
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(atoi(argv[1]));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(s, (struct sockaddr*)&a, sizeof a) != 0) return 7;
  char b[8];
  return read(s, b, sizeof b) == 3 ? 0 : 8;
}
)"),
            "");
  std::string port = std::to_string(ntohs(a.sin_port));
  auto ok = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/client").string(), port});
  auto cut = pack({"-o", (tmp_ / "cut").string(), "--network", "none", (tmp_ / "app/client").string(), port});
  ::shutdown(lfd, SHUT_RDWR);
  ::close(lfd);
  server.join();
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(cut.status, 1) << cut.err;
  EXPECT_NE(cut.err.find("network"), std::string::npos) << cut.err;
}

// A program that fails on its own is not a success because the minimal run fails the same way.
TEST_F(VerifyAsRun, ProgramThatFailsOnItsOwnExitsOne) {
  ASSERT_EQ(compile_c(tmp_ / "app/fails", "int main(void) { return 3; }\n"), "");
  auto r = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/fails").string()});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("status 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--expect-exit"), std::string::npos) << r.err;
  auto expected = pack({"-o", (tmp_ / "out").string(), "--expect-exit", "3", (tmp_ / "app/fails").string()});
  EXPECT_EQ(expected.status, 0) << expected.err;
}

// Verify runs a copy of the layer's tree: rootfs/ is the same before and after, even for a writer.
TEST_F(VerifyAsRun, VerifyLeavesRootfsAsItWas) {
  ASSERT_EQ(compile_c(tmp_ / "app/writer", R"(
#include <stdio.h>
int main(int argc, char** argv) { FILE* f = fopen(argv[1], "w"); return f && fclose(f) == 0 ? 0 : 1; }
)"),
            "");
  fs::create_directories(tmp_ / "app/data");
  std::string file = (tmp_ / "app/data/new.txt").string();
  auto r = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/writer").string(), file});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string before = listing(tmp_ / "out");
  auto v = run({minify_bin(), "verify", "-o", (tmp_ / "out").string()});
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(listing(tmp_ / "out"), before);
  EXPECT_FALSE(fs::exists(tmp_ / ("out/rootfs" + file)));
}

// Repair: a program that reads a file only when it is not root (the trace ran as root, verify
// as the image's user) is found missing by verify; repair takes it from the source, verifies
// again and records why. With --no-repair the same run fails and names the path.
TEST_F(VerifyAsRun, RepairAddsWhatTheMinimalRunMissed) {
  ASSERT_EQ(compile_c(tmp_ / "app/asuser", R"(
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (getuid() == 0) return 0;
  FILE* f = fopen(argv[1], "r");
  return f ? 0 : 1;
}
)"),
            "");
  write_file(tmp_ / "app/user.conf", "x\n");
  std::string conf = (tmp_ / "app/user.conf").string();
  auto r = pack({"-o", (tmp_ / "out").string(), (tmp_ / "app/asuser").string(), conf});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("repair, round 1: adding " + conf), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(tmp_ / ("out/rootfs" + conf)));
  json report = json::parse(read_file(tmp_ / "out/report.json"));
  const json* e = entry(report, conf);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->dump().find("repair, round 1"), std::string::npos) << e->dump();
  EXPECT_NE(e->dump().find("ENOENT"), std::string::npos) << e->dump();

  auto no = pack({"-o", (tmp_ / "out2").string(), "--no-repair", (tmp_ / "app/asuser").string(), conf});
  EXPECT_EQ(no.status, 1) << no.err;
  EXPECT_NE(no.err.find("missing " + conf), std::string::npos) << no.err;
}

}  // namespace
}  // namespace minify
