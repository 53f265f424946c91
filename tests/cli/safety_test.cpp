// What minify must never do to a user, each a test on real runs: delete what -o names when it is
// not minify's own, interleave two runs on one output, ship the builder's secrets or identity,
// leave outputs or processes behind when interrupted, or replace a good output with one whose
// verify failed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
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

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

class Safety : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "pack's verify needs root (user namespaces with a 65536-id map)";
    ASSERT_EQ(compile_c(tmp_ / "app/hello", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"), "");
  }
  testing::RunResult pack(std::vector<std::string> args) {
    args.insert(args.begin(), minify_bin());
    return run(args);
  }
  std::string hello() const { return (tmp_ / "app/hello").string(); }
  TempDir tmp_;
};

TEST_F(Safety, OutputThatIsAFileIsRefusedAndKept) {
  write_file(tmp_ / "precious.txt", "keep me\n");
  auto r = pack({"-o", (tmp_ / "precious.txt").string(), hello()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(read_file(tmp_ / "precious.txt"), "keep me\n");
}

TEST_F(Safety, OutputThatHoldsTheRootIsRefusedEvenWithForce) {
  fs::create_directories(tmp_ / "builder/root/bin");
  fs::copy_file(hello(), tmp_ / "builder/root/bin/hello");
  for (const auto& out : {tmp_ / "builder/root", tmp_ / "builder"}) {
    auto r = pack({"--root", (tmp_ / "builder/root").string(), "-o", out.string(), "--force", "--static-only", "/bin/hello"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_TRUE(fs::exists(tmp_ / "builder/root/bin/hello"));
  }
}

TEST_F(Safety, OutputThatHoldsTheProgramIsRefused) {
  auto r = pack({"-o", (tmp_ / "app").string(), "--force", hello()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(fs::exists(hello()));
}

TEST_F(Safety, SlashIsRefused) {
  auto r = pack({"-o", "/", "--force", hello()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("/"), std::string::npos);
}

TEST_F(Safety, ForeignDirectoryNeedsForceAndOwnOutputsAreReplaced) {
  fs::create_directories(tmp_ / "notes");
  write_file(tmp_ / "notes/todo.txt", "mine\n");
  auto r = pack({"-o", (tmp_ / "notes").string(), hello()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(tmp_ / "notes/todo.txt"), "mine\n");
  // A previous output of minify is replaced without asking.
  r = pack({"-o", (tmp_ / "out").string(), hello()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp_ / "out/.minify-output"));
  r = pack({"-o", (tmp_ / "out").string(), hello()});
  EXPECT_EQ(r.status, 0) << r.err;
  // With --force a foreign directory goes too.
  r = pack({"-o", (tmp_ / "notes").string(), "--force", hello()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "notes/todo.txt"));
}

TEST_F(Safety, MissingParentsAreCreatedBeforeTheTrace) {
  auto r = pack({"-o", (tmp_ / "a/b/out").string(), "--tar", (tmp_ / "c/d/root.tar").string(), "--oci",
                 (tmp_ / "e/img.tar").string(), hello()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp_ / "a/b/out/rootfs"));
  EXPECT_TRUE(fs::exists(tmp_ / "c/d/root.tar"));
  EXPECT_TRUE(fs::exists(tmp_ / "e/img.tar"));
}

TEST_F(Safety, TimeoutZeroIsBadInput) {
  auto r = pack({"-o", (tmp_ / "out").string(), "--timeout", "0", hello()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
}

// Two runs on one output: the second waits for the first, and the directory and the image archive
// each come whole from one run.
TEST_F(Safety, ConcurrentRunsOnOneOutputAreSerialised) {
  ASSERT_EQ(compile_c(tmp_ / "app/slow", R"(
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) { sleep(2); printf("%s\n", argc > 1 ? argv[1] : ""); return 0; }
)"),
            "");
  std::string out = (tmp_ / "out").string(), oci = (tmp_ / "out/image.tar").string();
  auto one = [&](const std::string& word, testing::RunResult* r) {
    *r = pack({"-o", out, "--oci", oci, (tmp_ / "app/slow").string(), word});
  };
  testing::RunResult a, b;
  std::thread ta(one, "first", &a);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::thread tb(one, "second", &b);
  ta.join();
  tb.join();
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.err.find("waiting for another minify run"), std::string::npos) << b.err;
  auto run_json = nlohmann::json::parse(read_file(tmp_ / "out/run.json"));
  EXPECT_EQ(run_json["command"].back(), "second");
  // The archive's config names the same command as the directory.
  auto listing = run({"tar", "-xOf", oci, "manifest.json"});
  auto manifest = nlohmann::json::parse(listing.out);
  auto config = nlohmann::json::parse(run({"tar", "-xOf", oci, manifest[0]["Config"].get<std::string>()}).out);
  EXPECT_EQ(config["config"]["Cmd"].back(), "second");
}

// A builder root with secrets planted where programs read them: none of it may reach any output.
TEST_F(Safety, SecretsAndIdentityOfTheBuilderNeverShip) {
  fs::path r = tmp_ / "builder";
  const std::string hash = "$6$saltsalt$PLANTEDHASHPLANTEDHASHPLANTEDHASH";
  const std::string key = "-----BEGIN OPENSSH PRIVATE KEY-----PLANTEDKEYMATERIAL";
  const std::string machine = "0123456789abcdefPLANTEDMACHINEID";
  write_file(r / "etc/shadow", "root:" + hash + ":19000:0:99999:7:::\nalice:" + hash + ":19000:0:99999:7:::\n");
  write_file(r / "etc/gshadow", "root:*::\n");
  write_file(r / "etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n");
  write_file(r / "etc/group", "root:x:0:\nalice:x:1000:\ndaemon:x:1:\n");
  write_file(r / "etc/ssh/ssh_host_ed25519_key", key + "\n");
  write_file(r / "root/.ssh/id_rsa", key + "\n");
  write_file(r / "home/alice/.aws/credentials", "[default]\naws_secret_access_key=PLANTEDAWSKEY\n");
  write_file(r / "etc/machine-id", machine + "\n");
  write_file(r / "etc/hostname", "PLANTEDHOSTNAME\n");
  write_file(r / "etc/hosts", "127.0.0.1 localhost\n127.0.1.1 PLANTEDHOSTNAME.corp PLANTEDHOSTNAME\n"
                              "10.1.2.3 PLANTEDHOSTNAME # the builder\n::1 localhost ip6-localhost PLANTEDALIAS\n");
  fs::create_directories(r / "tmp");
  fs::permissions(r / "tmp", fs::perms::all | fs::perms::sticky_bit);
  // A program that reads all of them, as getspnam(3), ssh and friends do.
  std::string err = compile_c(r / "bin/reader", R"(
#include <stdio.h>
int main(void) {
  const char* files[] = {"/etc/shadow", "/etc/gshadow", "/etc/passwd", "/etc/group", "/etc/ssh/ssh_host_ed25519_key",
                         "/root/.ssh/id_rsa", "/home/alice/.aws/credentials", "/etc/machine-id", "/etc/hostname", "/etc/hosts"};
  int n = 0;
  for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
    FILE* f = fopen(files[i], "r");
    if (f) { n++; fclose(f); }
  }
  printf("read %d\n", n);
  return 0;
}
)",
                               {"-static"});
  if (!err.empty()) GTEST_SKIP() << "cannot link statically: " << err;
  fs::path out = tmp_ / "out";
  // As root in the image too: the generated /etc/shadow is root's alone, as on the builder.
  auto res = pack({"--root", r.string(), "-o", out.string(), "--tar", (tmp_ / "root.tar").string(), "--oci",
                   (tmp_ / "img.tar").string(), "--sbom", (tmp_ / "sbom.json").string(), "--base", "scratch",
                   "--user", "0", "/bin/reader"});
  ASSERT_EQ(res.status, 0) << res.err;
  auto grep = run({"grep", "-rlaE", "PLANTED", out.string(), (tmp_ / "root.tar").string(), (tmp_ / "img.tar").string(),
                   (tmp_ / "sbom.json").string()});
  EXPECT_EQ(grep.out, "") << "a planted secret reached an output";
  // The image's shadow holds only locked accounts, and passwd only the accounts the image needs.
  std::string shadow = read_file(out / "rootfs/etc/shadow");
  EXPECT_NE(shadow.find("root:*:"), std::string::npos) << shadow;
  EXPECT_EQ(shadow.find("alice"), std::string::npos) << shadow;
  std::string passwd = read_file(out / "rootfs/etc/passwd");
  EXPECT_NE(passwd.find("root:x:0:0:root:/root:/bin/bash"), std::string::npos) << passwd;
  EXPECT_NE(passwd.find("nonroot:x:65532"), std::string::npos) << passwd;
  EXPECT_EQ(passwd.find("alice"), std::string::npos) << passwd;
  EXPECT_FALSE(fs::exists(out / "rootfs/etc/hostname"));
  // /etc/hosts keeps the builder's loopback lines with their localhost names only.
  EXPECT_EQ(read_file(out / "rootfs/etc/hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n");
  // report.json names each withheld path and says why; `minify why` does too.
  auto report = nlohmann::json::parse(read_file(out / "report.json"));
  std::set<std::string> withheld;
  for (const auto& w : report["withheld"]) withheld.insert(w["path"].get<std::string>());
  for (const char* p : {"/etc/shadow", "/etc/ssh/ssh_host_ed25519_key", "/root/.ssh/id_rsa", "/home/alice/.aws/credentials",
                        "/etc/machine-id", "/etc/hostname"})
    EXPECT_TRUE(withheld.count(p)) << p;
  auto why = run({minify_bin(), "why", "-o", out.string(), "/etc/machine-id"});
  EXPECT_NE(why.out.find("withheld"), std::string::npos) << why.out << why.err;

  // A literal --keep ships one, with a warning; a glob does not.
  res = pack({"--root", r.string(), "-o", out.string(), "--keep", "/etc/machine-id", "--keep", "/etc/ssh/*", "--base",
              "scratch", "--user", "0", "/bin/reader"});
  ASSERT_EQ(res.status, 0) << res.err;
  EXPECT_TRUE(fs::exists(out / "rootfs/etc/machine-id"));
  EXPECT_NE(res.err.find("warning: shipping /etc/machine-id"), std::string::npos) << res.err;
  EXPECT_FALSE(fs::exists(out / "rootfs/etc/ssh/ssh_host_ed25519_key"));
}

// Runs `minify pack ...` in the background and sends `sig` once `when` appears on its stderr.
struct Interrupted {
  int status = -1;
  std::string err;
};
Interrupted interrupt(const std::vector<std::string>& args, const std::string& when, int sig) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> argv;
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  Interrupted out;
  char buf[4096];
  bool sent = false;
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) {
    out.err.append(buf, static_cast<size_t>(n));
    if (!sent && out.err.find(when) != std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      ::kill(pid, sig);
      sent = true;
    }
  }
  ::close(pipefd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return out;
}

class Signals : public Safety {
 protected:
  void SetUp() override {
    Safety::SetUp();
    if (IsSkipped()) return;
    // Writes its pid, then sleeps: on the host while traced, or in the sandbox while verified.
    ASSERT_EQ(compile_c(tmp_ / "app/sleeper", R"(
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int in_sandbox = getpid() < 10;
  if (in_sandbox == (argv[1][0] == 'v')) {
    FILE* f = fopen(argv[2], "w");
    if (f) { fprintf(f, "%d\n", getpid()); fclose(f); }
    sleep(60);
  }
  return 0;
}
)"),
              "");
  }
  void expect_clean(const Interrupted& r, int sig) {
    EXPECT_EQ(r.status, 128 + sig) << r.err;
    EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp_ / "out"));
    EXPECT_FALSE(fs::exists(tmp_ / "root.tar"));
    for (const auto& e : fs::directory_iterator(tmp_.path())) {
      std::string n = e.path().filename().string();
      EXPECT_EQ(n.find(".tmp-"), std::string::npos) << n;
      EXPECT_EQ(n.find(".staged-"), std::string::npos) << n;
      EXPECT_EQ(n.find(".verify-"), std::string::npos) << n;
    }
    // The program is gone too.
    if (fs::exists(tmp_ / "pid")) {
      std::string pid = read_file(tmp_ / "pid");
      pid.erase(pid.find_last_not_of("\n") + 1);
      if (std::stoi(pid) > 10) {
        EXPECT_FALSE(fs::exists("/proc/" + pid)) << "the traced program is still running";
      }
    }
  }
  std::vector<std::string> sleeper(const char* phase) {
    return {minify_bin(), "pack", "-o", (tmp_ / "out").string(), "--tar", (tmp_ / "root.tar").string(),
            (tmp_ / "app/sleeper").string(), phase, (tmp_ / "pid").string()};
  }
};

TEST_F(Signals, SigintDuringTheTraceStopsEverything) {
  expect_clean(interrupt(sleeper("trace"), "minify: tracing", SIGINT), SIGINT);
}

TEST_F(Signals, SigtermDuringVerifyStopsEverything) {
  auto r = interrupt(sleeper("verify"), "minify: verifying", SIGTERM);
  expect_clean(r, SIGTERM);
  // Nothing of the sandbox is left either.
  auto ps = run({"pgrep", "-f", "__sandbox-exec"});
  EXPECT_EQ(ps.out.find((tmp_ / "out").string()), std::string::npos) << ps.out;
}

TEST_F(Signals, SighupWhileWritingStopsEverything) {
  // Enough to write that the signal lands while the outputs are written (or right before).
  std::vector<std::string> args = {minify_bin(), "pack", "-o", (tmp_ / "out").string(), "--tar",
                                   (tmp_ / "root.tar").string(), "--keep", "/usr/share/locale", "--no-verify", hello()};
  expect_clean(interrupt(args, "minify: tracing", SIGHUP), SIGHUP);
}

TEST_F(Safety, FailedVerifyKeepsTheEarlierOutput) {
  // Runs fine on the builder, fails in the image (pid 2 of the sandbox).
  ASSERT_EQ(compile_c(tmp_ / "app/picky", R"(
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) { return argc > 1 && getpid() < 10 ? 3 : 0; }
)"),
            "");
  std::string out = (tmp_ / "out").string();
  auto r = pack({"-o", out, (tmp_ / "app/picky").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string before = read_file(tmp_ / "out/run.json");
  r = pack({"-o", out, (tmp_ / "app/picky").string(), "fail-in-the-image"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("exit status 3, the original run ended with 0"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(tmp_ / "out/run.json"), before);
  ASSERT_TRUE(fs::exists(tmp_ / "out.failed/verify.json"));
  auto v = nlohmann::json::parse(read_file(tmp_ / "out.failed/verify.json"));
  EXPECT_EQ(v["ok"], false);
  EXPECT_EQ(v["exit_status"], 3);
  // The next good run clears the failed one away.
  r = pack({"-o", out, (tmp_ / "app/picky").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out.failed"));
}

}  // namespace
}  // namespace minify
