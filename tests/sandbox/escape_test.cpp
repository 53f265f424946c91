// The sandbox, attacked the way a hostile program under verify would: every descriptor, cwd and
// root it can reach through /proc (and its own), ".." from each of them towards a marker file on
// the host, open_by_handle_at, mknod, mount and ptrace of init. Run as root inside the sandbox
// (the strongest user a program there can be) under `minify pack` (its verify), `minify verify`
// and `minify image` (trace and verify). Nothing may reach the marker, and nothing may be
// created on the host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "image/image_support.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::minify_bin;
using testing::run;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

// argv: MARKER TOKEN TARGET. On the host (the pack's trace) it only says so; in a sandbox (pid 2
// of a fresh pid namespace) it attacks, prints what it tried, and exits 0 either way so that a
// verify comparing exit statuses still runs every attack.
constexpr const char* kEscape = R"(
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *marker, *token, *target;
static long tried, fds;
static int escaped;

static void attack(int dirfd, const char *how) {
  struct stat st;
  if (fstat(dirfd, &st) != 0 || !S_ISDIR(st.st_mode)) return;
  fds++;
  char path[8192];
  for (int depth = 0; depth <= 40; depth++) {
    path[0] = 0;
    for (int i = 0; i < depth; i++) strcat(path, "../");
    strcat(path, marker + 1);
    tried++;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[128] = {0};
      if (read(fd, buf, sizeof buf - 1) > 0 && strstr(buf, token)) {
        printf("ESCAPE: read the marker through %s (depth %d)\n", how, depth);
        escaped = 1;
      }
      close(fd);
    }
    path[0] = 0;
    for (int i = 0; i < depth; i++) strcat(path, "../");
    strcat(path, target + 1);
    tried++;
    fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      printf("ESCAPE: created %s through %s (depth %d)\n", target, how, depth);
      escaped = 1;
      close(fd);
    }
  }
}

static void attack_path(const char *p, int flags) {
  int fd = open(p, flags | O_CLOEXEC);
  if (fd < 0) return;
  attack(fd, p);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  marker = argv[1];
  token = argv[2];
  target = argv[3];
  if (getpid() > 10) {
    printf("host run\n");
    return 0;
  }
  for (int fd = 0; fd < 1024; fd++) attack(fd, "an inherited descriptor");
  DIR *proc = opendir("/proc");
  struct dirent *p;
  while (proc && (p = readdir(proc))) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
    char buf[512];
    snprintf(buf, sizeof buf, "/proc/%s/cwd", p->d_name);
    attack_path(buf, O_PATH | O_DIRECTORY);
    snprintf(buf, sizeof buf, "/proc/%s/root", p->d_name);
    attack_path(buf, O_PATH | O_DIRECTORY);
    const char *lists[] = {"fd", "map_files"};
    for (int l = 0; l < 2; l++) {
      snprintf(buf, sizeof buf, "/proc/%s/%s", p->d_name, lists[l]);
      DIR *d = opendir(buf);
      struct dirent *e;
      while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char fp[1024];
        snprintf(fp, sizeof fp, "%s/%s", buf, e->d_name);
        attack_path(fp, O_PATH);
      }
      if (d) closedir(d);
    }
  }
  if (proc) closedir(proc);

  struct { struct file_handle h; unsigned char bytes[128]; } fh;
  fh.h.handle_bytes = sizeof fh.bytes;
  int mount_id;
  int byhandle = -1;
  if (name_to_handle_at(AT_FDCWD, "/", &fh.h, &mount_id, 0) == 0) {
    int mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    byhandle = open_by_handle_at(mfd, &fh.h, O_RDONLY | O_DIRECTORY);
    if (byhandle >= 0) attack(byhandle, "open_by_handle_at");
    close(mfd);
  }
  int node = mknod("/minify-escape-blk", S_IFBLK | 0600, makedev(8, 0));
  if (node == 0) {
    int fd = open("/minify-escape-blk", O_RDONLY);
    if (fd >= 0) {
      printf("ESCAPE: opened a host block device\n");
      escaped = 1;
      close(fd);
    }
    unlink("/minify-escape-blk");
  }
  mkdir("/minify-escape-mnt", 0755);
  int mounted = mount("none", "/minify-escape-mnt", "tmpfs", 0, NULL);
  if (mounted == 0) umount("/minify-escape-mnt");
  rmdir("/minify-escape-mnt");
  long traced = ptrace(PTRACE_ATTACH, 1, 0, 0);
  printf("sandbox: %ld paths from %ld directories, open_by_handle_at %s, mknod %s, mount %s, ptrace of init %s: %s\n",
         tried, fds, byhandle >= 0 ? "allowed" : "refused", node == 0 ? "allowed" : "refused",
         mounted == 0 ? "allowed" : "refused", traced == 0 ? "allowed" : "refused", escaped ? "ESCAPED" : "contained");
  return 0;
}
)";

class SandboxEscape : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the sandbox needs root (user namespaces with a 65536-id map)";
    // A static program: the same bytes run on the host, in pack's verify and inside an image.
    std::string err = compile_c(app_ / "escape", kEscape, {"-static", "-O1"});
    if (!err.empty()) GTEST_SKIP() << "cannot link statically: " << err;
    std::mt19937_64 rng(std::random_device{}());
    token_ = "minify-marker-" + std::to_string(rng());
    write_file(secret_ / "marker", token_ + "\n");
    target_ = (elsewhere_ / "escape-proof").string();
  }
  std::vector<std::string> escape_args() const {
    return {(app_ / "escape").string(), (secret_ / "marker").string(), token_, target_};
  }
  // The attack ran inside the sandbox, everything was refused and nothing appeared on the host.
  void expect_contained(const testing::RunResult& r) {
    EXPECT_EQ(r.out.find("ESCAPE"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("sandbox: "), std::string::npos) << "the attack did not run in a sandbox:\n" << r.out << r.err;
    EXPECT_NE(r.out.find("open_by_handle_at refused, mknod refused, mount refused, ptrace of init refused: contained"),
              std::string::npos)
        << r.out;
    EXPECT_FALSE(fs::exists(target_));
  }
  TempDir app_, secret_, elsewhere_, out_;
  std::string token_, target_;
};

TEST_F(SandboxEscape, PackVerifyIsContained) {
  std::vector<std::string> argv = {minify_bin(), "pack", "-o", (out_ / "o").string(), "--user", "0", "--base", "scratch"};
  for (const auto& a : escape_args()) argv.push_back(a);
  auto r = run(argv);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("host run"), std::string::npos) << r.out;
  expect_contained(r);
  // The marker was never used, so it never entered the root either.
  EXPECT_FALSE(fs::exists(out_ / "o/rootfs" / (secret_ / "marker").relative_path()));
}

TEST_F(SandboxEscape, VerifyOfARootIsContained) {
  fs::create_directories(out_ / "root" / app_.path().relative_path());
  fs::copy_file(app_ / "escape", out_ / "root" / app_.path().relative_path() / "escape");
  std::vector<std::string> argv = {minify_bin(), "verify", "--rootfs", (out_ / "root").string(), "--"};
  for (const auto& a : escape_args()) argv.push_back(a);
  auto r = run(argv);
  EXPECT_EQ(r.status, 0) << r.err;
  expect_contained(r);
}

TEST_F(SandboxEscape, ImageTraceAndVerifyAreContained) {
  std::vector<testing::TarItem> items = {{"tmp", 'd', "", "", 01777}, {"etc", 'd', "", "", 0755}};
  items.push_back(testing::host_file((app_ / "escape").string(), "app/escape"));
  items.back().mode = 0755;
  testing::ImageSpec spec;
  spec.layers.push_back(testing::make_tar(items));
  spec.config = {{"Entrypoint", {"/app/escape", (secret_ / "marker").string(), token_, target_}}, {"User", "0"}};
  testing::write_oci_archive(out_ / "in.tar", spec);
  auto r = run({minify_bin(), "image", (out_ / "in.tar").string(), "-o", (out_ / "small.tar").string(), "--out-dir",
                (out_ / "o").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  expect_contained(r);
  // Once traced and once verified: both runs attacked, both were contained.
  size_t first = r.out.find("contained");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(r.out.find("contained", first + 1), std::string::npos) << r.out;
}

}  // namespace
}  // namespace minify
