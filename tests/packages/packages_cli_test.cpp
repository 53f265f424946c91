// `minify pack` on the host's dpkg database: the minimal root carries status.d stanzas and
// md5sums for exactly the packages that ship files, with the versions dpkg-query reports, and
// report.json accounts for every package and names the files no package owns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

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

std::set<std::string> status_d_names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (!n.ends_with(".md5sums")) names.insert(n);
  }
  return names;
}

TEST(PackagesCli, HostProgramShipsStatusDForItsPackages) {
  if (!testing::have_program("dpkg-query")) GTEST_SKIP() << "not a dpkg system";
  TempDir tmp;
  ASSERT_EQ(compile_c(tmp / "app/zprog", R"(
#include <stdio.h>
#include <zlib.h>
int main(void) { printf("%s\n", zlibVersion()); return 0; }
)", {"-lz"}), "");
  std::string prog = (tmp / "app/zprog").string();
  auto r = run({minify_bin(), "pack", "--static-only", "-o", (tmp / "out").string(), prog});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("minify: packages: "), std::string::npos) << r.err;
  fs::path rootfs = tmp / "out/rootfs";
  fs::path sd = rootfs / "var/lib/dpkg/status.d";
  ASSERT_TRUE(fs::is_directory(sd)) << r.err;
  std::set<std::string> names = status_d_names(sd);
  // libc and zlib ship a library each; nothing the program does not use is listed.
  EXPECT_TRUE(names.contains("libc6")) << r.err;
  EXPECT_TRUE(names.contains("zlib1g")) << r.err;
  EXPECT_FALSE(names.contains("coreutils"));
  EXPECT_FALSE(names.contains("dpkg"));
  for (const auto& n : names) {
    std::string stanza = read_file(sd / n);
    ASSERT_EQ(stanza.rfind("Package: " + n + "\n", 0), 0u) << stanza;
    auto v = run({"dpkg-query", "-W", "-f", "${Version}", n});
    ASSERT_EQ(v.status, 0) << v.err;
    EXPECT_NE(stanza.find("\nVersion: " + v.out + "\n"), std::string::npos) << n;
    EXPECT_NE(stanza.find("\nStatus: install ok installed\n"), std::string::npos) << n;
    // The md5sums list files that are in the root, with the digests of their contents.
    ASSERT_TRUE(fs::exists(sd / (n + ".md5sums"))) << n;
    auto check = run({"sh", "-c", "cd '" + rootfs.string() + "' && md5sum -c --quiet var/lib/dpkg/status.d/" + n + ".md5sums"});
    EXPECT_EQ(check.status, 0) << n << ": " << check.out << check.err;
  }
  // dpkg's listed path: on merged-/usr the file is under /usr/lib, the md5sums say lib/.
  std::string sums = read_file(sd / "libc6.md5sums");
  auto listed = run({"sh", "-c", "grep -E '  (usr/)?lib/x86_64-linux-gnu/libc\\.so\\.6$' /var/lib/dpkg/info/libc6:amd64.md5sums"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  EXPECT_NE(sums.find(listed.out), std::string::npos) << sums;
  // The distribution is named: /etc/os-release and what it links to.
  EXPECT_TRUE(fs::exists(rootfs / "etc/os-release"));

  auto rep = nlohmann::json::parse(read_file(tmp / "out/report.json"));
  const auto& pk = rep.at("packages");
  EXPECT_EQ(pk.at("database"), "dpkg");
  std::set<std::string> reported;
  for (const auto& p : pk.at("packages")) {
    reported.insert(p.at("name").get<std::string>());
    EXPECT_FALSE(p.at("kept").empty());
  }
  EXPECT_EQ(reported, names);
  bool dpkg_dropped = false;
  for (const auto& p : pk.at("dropped_entirely")) dpkg_dropped |= p.at("name") == "dpkg";
  EXPECT_TRUE(dpkg_dropped);
  // The program is owned by no package and is reported as such.
  auto unowned = pk.at("unowned").get<std::vector<std::string>>();
  EXPECT_NE(std::find(unowned.begin(), unowned.end(), fs::canonical(prog).string()), unowned.end());
  for (const auto& e : rep.at("entries"))
    if (e.at("path").get<std::string>().ends_with("/libz.so.1") && e.at("type") == "symlink") {
      EXPECT_EQ(e.value("package", ""), "zlib1g");
    }
}

TEST(PackagesCli, CorruptStatusFileIsAClearError) {
  TempDir tmp;
  // A program that needs nothing, so that only the database can fail.
  ASSERT_EQ(compile_c(tmp / "root/prog", "void _start(void) { for (;;) {} }\n", {"-nostdlib", "-static"}), "");
  write_file(tmp / "root/var/lib/dpkg/status", "Package: foo\nVersion 1.0\n");
  auto r = run({minify_bin(), "pack", "--static-only", "--root", (tmp / "root").string(), "-o", (tmp / "out").string(), "/prog"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("minify: error: parse `/var/lib/dpkg/status`: line 2: expected \"Field: value\", got \"Version 1.0\""),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

TEST(PackagesCli, KeepPackageThatDoesNotExistIsAnError) {
  TempDir tmp;
  ASSERT_EQ(compile_c(tmp / "root/prog", "void _start(void) { for (;;) {} }\n", {"-nostdlib", "-static"}), "");
  write_file(tmp / "root/var/lib/dpkg/status", "Package: foo\nStatus: install ok installed\nVersion: 1.0\n");
  auto r = run({minify_bin(), "pack", "--static-only", "--root", (tmp / "root").string(), "-o", (tmp / "out").string(),
                "--keep-package", "nosuch", "/prog"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--keep-package `nosuch`: no such package in /var/lib/dpkg/status"), std::string::npos) << r.err;
  auto g = run({minify_bin(), "pack", "--static-only", "--root", (tmp / "root").string(), "-o", (tmp / "out").string(),
                "--granularity", "everything", "/prog"});
  EXPECT_EQ(g.status, 2) << g.err;
}

}  // namespace
}  // namespace minify
