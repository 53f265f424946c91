// The least-privilege policy of `minify pack --policy DIR`, on programs compiled here: a rare
// syscall the program used stays in seccomp.json and one it did not use fails with EPERM under
// it (the profile loaded as a runtime loads it, then the program exec'd); the writes of a
// program become exactly the tmpfs mounts of a read-only root; a program that fails under the
// policy it was verified with gets no policy and exit status 1.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "minify/elf.hpp"
#include "minify/pack.hpp"
#include "minify/policy.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::minify_bin;
using testing::run;
using testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

// argv[1]: "use" calls personality(0xffffffff) (a query) and mlock; "probe" calls them and
// prints how each went; anything else neither. Exit status 0 unless `use` failed.
constexpr const char* kRare = R"(
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "use") && strcmp(mode, "probe")) { puts("nothing"); return 0; }
  static char page[4096] __attribute__((aligned(4096)));
  int p = personality(0xffffffff);
  int pe = p < 0 ? errno : 0;
  int m = mlock(page, sizeof page);
  int me = m < 0 ? errno : 0;
  printf("personality %s\nmlock %s\n", pe ? strerrorname_np(pe) : "ok", me ? strerrorname_np(me) : "ok");
  return strcmp(mode, "use") == 0 && (pe || me) ? 1 : 0;
}
)";

json read_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

bool has_name(const json& profile, const std::string& name) {
  for (const auto& rule : profile.at("syscalls"))
    if (rule.at("action") == "SCMP_ACT_ALLOW")
      for (const auto& n : rule.at("names"))
        if (n == name) return true;
  return false;
}

// Runs `argv` with `profile` loaded first, as runc does (no_new_privs, then the filter, then
// execve); returns its stdout.
std::string run_under(const fs::path& profile, const std::vector<std::string>& argv) {
  json j = read_json(profile);
  int pipefd[2];
  if (::pipe(pipefd) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::close(pipefd[0]);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(120);
    if (!load_seccomp_profile(j)) ::_exit(121);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(122);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return out + "status " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

TEST(Policy, RareSyscallUsedStaysAndUnusedGetsEperm) {
  TempDir tmp;
  fs::path prog = tmp / "rare";
  ASSERT_EQ(compile_c(prog, kRare), "");

  // Used: in the profile, and the program passes verify under it.
  auto used = run({minify_bin(), "pack", "-o", (tmp / "out-use").string(), "--policy", (tmp / "pol-use").string(),
                   "--", prog.string(), "use"});
  ASSERT_EQ(used.status, 0) << used.err;
  json p1 = read_json(tmp / "pol-use" / "seccomp.json");
  EXPECT_EQ(p1.at("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_TRUE(has_name(p1, "personality"));
  EXPECT_TRUE(has_name(p1, "mlock"));
  EXPECT_TRUE(has_name(p1, "execve"));
  EXPECT_NE(used.err.find("minify: policy: verified under it"), std::string::npos) << used.err;
  EXPECT_EQ(run_under(tmp / "pol-use" / "seccomp.json", {prog.string(), "probe"}), "personality ok\nmlock ok\nstatus 0");

  // Not used: not in the profile, and EPERM for it under the profile (and not without it).
  auto unused = run({minify_bin(), "pack", "-o", (tmp / "out-none").string(), "--policy",
                     (tmp / "pol-none").string(), "--", prog.string(), "none"});
  ASSERT_EQ(unused.status, 0) << unused.err;
  json p2 = read_json(tmp / "pol-none" / "seccomp.json");
  EXPECT_FALSE(has_name(p2, "personality"));
  EXPECT_FALSE(has_name(p2, "mlock"));
  EXPECT_TRUE(has_name(p2, "write"));  // puts
  EXPECT_EQ(run_under(tmp / "pol-none" / "seccomp.json", {prog.string(), "probe"}),
            "personality EPERM\nmlock EPERM\nstatus 0");
  auto plain = run({prog.string(), "probe"});
  EXPECT_EQ(plain.out, "personality ok\nmlock ok\n");

  // A program that wrote nothing: read-only root, no mounts; the other forms agree.
  json pol = read_json(tmp / "pol-none" / "policy.json");
  EXPECT_TRUE(pol.at("read_only_root").get<bool>());
  EXPECT_TRUE(pol.at("writable").empty());
  EXPECT_EQ(pol.at("uid"), 65532);
  EXPECT_FALSE(pol.at("allow_privilege_escalation").get<bool>());
  std::string yaml = testing::read_file(tmp / "pol-none" / "kubernetes.yaml");
  EXPECT_NE(yaml.find("readOnlyRootFilesystem: true"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("runAsNonRoot: true"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("drop: [\"ALL\"]"), std::string::npos) << yaml;
  std::string sh = testing::read_file(tmp / "pol-none" / "run.sh");
  EXPECT_NE(sh.find("docker run --security-opt seccomp="), std::string::npos) << sh;
  EXPECT_NE(sh.find("--read-only"), std::string::npos) << sh;
  json report = read_json(tmp / "out-none" / "report.json");
  EXPECT_EQ(report.at("policy").at("syscalls").at("allowed"), p2.at("syscalls").at(0).at("names").size());
}

// Writes under DIR/x only (a file there, a directory it makes there and a file in that): the
// policy's one writable mount is DIR/x, and verify passes on a read-only root with it.
TEST(Policy, WritesBecomeExactlyTheirMount) {
  TempDir tmp;
  fs::path data = tmp / "var" / "cache" / "x";
  fs::create_directories(data);
  fs::create_directories(tmp / "var" / "lib");
  fs::path prog = tmp / "writer";
  ASSERT_EQ(compile_c(prog, R"(
#include <stdio.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
  char p[4096];
  snprintf(p, sizeof p, "%s/state", argv[1]);
  FILE *f = fopen(p, "w");
  if (!f || fputs("1\n", f) < 0 || fclose(f)) return 1;
  snprintf(p, sizeof p, "%s/sub", argv[1]);
  if (mkdir(p, 0755)) return 2;
  snprintf(p, sizeof p, "%s/sub/more", argv[1]);
  f = fopen(p, "w");
  if (!f || fclose(f)) return 3;
  return 0;
}
)"),
            "");
  auto r = run({minify_bin(), "pack", "-o", (tmp / "out").string(), "--policy", (tmp / "pol").string(), "--",
                prog.string(), data.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  json pol = read_json(tmp / "pol" / "policy.json");
  EXPECT_TRUE(pol.at("read_only_root").get<bool>());
  EXPECT_EQ(pol.at("writable"), json::array({data.string()}));
  std::string sh = testing::read_file(tmp / "pol" / "run.sh");
  EXPECT_NE(sh.find("--tmpfs " + data.string()), std::string::npos) << sh;
  std::string yaml = testing::read_file(tmp / "pol" / "kubernetes.yaml");
  EXPECT_NE(yaml.find("mountPath: " + data.string()), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("emptyDir: {}"), std::string::npos) << yaml;
}

// Traced as root it does nothing rare; as the image's user it calls personality, which the
// profile from the trace denies: verify under the policy fails, nothing is written, status 1.
TEST(Policy, FailingUnderThePolicyIsNotWritten) {
  TempDir tmp;
  fs::path prog = tmp / "sly";
  ASSERT_EQ(compile_c(prog, R"(
#include <sys/personality.h>
#include <unistd.h>
int main(void) {
  if (getuid() != 0 && personality(0xffffffff) < 0) return 3;
  return 0;
}
)"),
            "");
  auto r = run({minify_bin(), "pack", "-o", (tmp / "out").string(), "--policy", (tmp / "pol").string(), "--",
                prog.string()});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "pol"));
  EXPECT_NE(r.err.find("verify ran under the generated policy"), std::string::npos) << r.err;
}

// Listening on port 80 keeps NET_BIND_SERVICE (and a high port does not ask for it).
TEST(Policy, PortBelow1024KeepsNetBindService) {
  TempDir tmp;
  fs::path prog = tmp / "listen";
  ASSERT_EQ(compile_c(prog, R"(
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) return 9;
  close(s);
  return 0;
}
)"),
            "");
  if (run({prog.string(), "80"}).status == 9) GTEST_SKIP() << "port 80 is taken on this host";
  auto low = run({minify_bin(), "pack", "--network", "none", "-o", (tmp / "out80").string(), "--policy",
                  (tmp / "pol80").string(), "--", prog.string(), "80"});
  ASSERT_EQ(low.status, 0) << low.err;
  json pol = read_json(tmp / "pol80" / "policy.json");
  ASSERT_EQ(pol.at("capabilities").size(), 1u) << pol.dump();
  EXPECT_EQ(pol.at("capabilities").at(0).at("name"), "NET_BIND_SERVICE");
  EXPECT_NE(testing::read_file(tmp / "pol80" / "kubernetes.yaml").find("add: [\"NET_BIND_SERVICE\"]"), std::string::npos);
  EXPECT_NE(testing::read_file(tmp / "pol80" / "run.sh").find("--cap-add NET_BIND_SERVICE"), std::string::npos);

  auto high = run({minify_bin(), "pack", "--network", "none", "-o", (tmp / "out8080").string(), "--policy",
                   (tmp / "pol8080").string(), "--", prog.string(), "18080"});
  ASSERT_EQ(high.status, 0) << high.err;
  EXPECT_TRUE(read_json(tmp / "pol8080" / "policy.json").at("capabilities").empty());
}

// Writes beside itself (DIR/log, with the program in DIR): a tmpfs on DIR would hide the program,
// so the root stays writable with a note saying why, and verify passes under that policy.
TEST(Policy, WritingWhereTheImageHasFilesKeepsTheRootWritable) {
  TempDir tmp;
  fs::path dir = tmp / "app";
  fs::create_directories(dir);
  fs::path prog = dir / "logger";
  ASSERT_EQ(compile_c(prog, R"(
#include <stdio.h>
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "w");
  return !f || fputs("ran\n", f) < 0 || fclose(f);
}
)"),
            "");
  auto r = run({minify_bin(), "pack", "-o", (tmp / "out").string(), "--policy", (tmp / "pol").string(), "--",
                prog.string(), (dir / "log").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  json pol = read_json(tmp / "pol" / "policy.json");
  EXPECT_FALSE(pol.at("read_only_root").get<bool>()) << pol.dump();
  EXPECT_NE(pol.at("notes").dump().find("where the image ships " + prog.string()), std::string::npos) << pol.dump();
  EXPECT_EQ(testing::read_file(tmp / "pol" / "run.sh").find("--read-only"), std::string::npos);
}

// The profile's architectures follow the image's, from its program's ELF machine (as the OCI
// config's architecture does): an x86-64 program gets what Docker writes for amd64, the same
// file with e_machine made EM_AARCH64 what it writes for arm64, and that profile leaves out the
// syscalls aarch64 does not have.
TEST(Policy, ArchitecturesAreTheImagesAsDockerWritesThem) {
  TempDir tmp;
  fs::path prog = tmp / "hello";
  ASSERT_EQ(compile_c(prog, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"), "");
  auto platform_of = [](const fs::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    auto ident = read_elf_ident(fd, p.string());
    ::close(fd);
    return ident ? oci_platform(*ident).first : "?";
  };
  // Through pack: the x86-64 program's seccomp.json, loaded as verify loads it.
  auto r = run({minify_bin(), "pack", "-o", (tmp / "out").string(), "--policy", (tmp / "pol").string(), "--",
                prog.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  json profile = read_json(tmp / "pol" / "seccomp.json");
  ASSERT_EQ(platform_of(prog), "amd64");
  EXPECT_EQ(profile.at("architectures"), json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(run_under(tmp / "pol" / "seccomp.json", {prog.string()}), "hi\nstatus 0");

  // The same program's trace, with the file made an aarch64 one (e_machine at offset 18).
  fs::path arm = tmp / "hello-arm64";
  fs::copy_file(prog, arm);
  {
    std::fstream f(arm, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(18);
    const char em_aarch64[2] = {static_cast<char>(183), 0};
    f.write(em_aarch64, 2);
  }
  ASSERT_EQ(platform_of(arm), "arm64");
  TraceLog trace;
  trace.syscall_arch = "aarch64";
  trace.syscalls = {"openat", "read", "write", "exit_group"};
  auto pol = derive_policy({&trace, nullptr, "", nullptr, nullptr, platform_of(arm)});
  ASSERT_TRUE(pol) << pol.error().message();
  json arm_profile = seccomp_profile(*pol);
  EXPECT_EQ(arm_profile.at("architectures"), json::array({"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
  EXPECT_EQ(pol->arch, "aarch64");
  EXPECT_TRUE(has_name(arm_profile, "openat"));
  EXPECT_FALSE(has_name(arm_profile, "stat"));  // the runtime list's stat: no such syscall on aarch64
  EXPECT_FALSE(has_name(arm_profile, "arch_prctl"));
  EXPECT_TRUE(has_name(profile, "arch_prctl"));

  // An architecture with no map is refused, not given an x86-64 profile.
  EXPECT_FALSE(derive_policy({&trace, nullptr, "", nullptr, nullptr, "s390x"}));
}

// A root program that chowns a file it made to another user keeps CHOWN (and runs under a
// bounding set of just that in verify); the same program run as a user that does not chown
// keeps no capability.
TEST(Policy, RootChowningToAnotherUserKeepsChown) {
  TempDir tmp;
  fs::path data = tmp / "data";
  fs::create_directories(data);
  fs::path prog = tmp / "chowner";
  ASSERT_EQ(compile_c(prog, R"(
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char p[4096];
  snprintf(p, sizeof p, "%s/owned", argv[1]);
  FILE *f = fopen(p, "w");
  if (!f || fclose(f)) return 1;
  if (argc > 2 && !strcmp(argv[2], "chown") && chown(p, 1234, 1234) != 0) { perror("chown"); return 4; }
  return 0;
}
)"),
            "");
  auto r = run({minify_bin(), "pack", "--user", "0", "-o", (tmp / "out").string(), "--policy", (tmp / "pol").string(),
                "--", prog.string(), data.string(), "chown"});
  ASSERT_EQ(r.status, 0) << r.err;
  json pol = read_json(tmp / "pol" / "policy.json");
  ASSERT_EQ(pol.at("capabilities").size(), 1u) << pol.dump();
  EXPECT_EQ(pol.at("capabilities").at(0).at("name"), "CHOWN");
  EXPECT_EQ(pol.at("uid"), 0);
  EXPECT_NE(testing::read_file(tmp / "pol" / "run.sh").find("--cap-add CHOWN"), std::string::npos);

  auto none = run({minify_bin(), "pack", "--user", "0", "-o", (tmp / "out2").string(), "--policy",
                   (tmp / "pol2").string(), "--", prog.string(), data.string()});
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_TRUE(read_json(tmp / "pol2" / "policy.json").at("capabilities").empty());
}

TEST(Policy, NeedsVerify) {
  TempDir tmp;
  auto r = run({minify_bin(), "pack", "--no-verify", "-o", (tmp / "out").string(), "--policy",
                (tmp / "pol").string(), "--", "/bin/true"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--policy"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace minify
