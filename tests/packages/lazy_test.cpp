// The lazy package database (PackageDbLoad::Lazy, what pack and image read) against the full
// read: the same owner and the same directory answer for every path asked about, the same files
// for every package it loads and none of the asked files in a package it does not, and for a run
// (apply_package_selection, account_packages, add_package_metadata) the same report, the same
// files added and the same status.d / apk metadata. Checked on the host's own dpkg database, on
// a Debian image made of the host's packages (merged-/usr, a diversion, a Multi-Arch: same
// package in two architectures), on distroless status.d roots, on a root with both, on an Alpine
// root and on a root whose lists are written in every way dpkg does not write them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <unordered_set>

#include "minify/context.hpp"
#include "minify/packages.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

Root open_root(const fs::path& dir) {
  auto r = Root::open(dir.string());
  EXPECT_TRUE(r) << r.error().message();
  return std::move(*r);
}

// Every canonical path the full database lists, their parent directories, and `extra`.
std::vector<std::string> every_listed_path(const PackageDb& full, const std::vector<std::string>& extra) {
  std::set<std::string> all(extra.begin(), extra.end());
  for (const auto& p : full.packages())
    for (const auto& f : p.files) {
      all.insert(f.path);
      for (std::string d = dirname_of(f.path); d.size() > 1; d = dirname_of(d)) all.insert(d);
    }
  return {all.begin(), all.end()};
}

void expect_same_answers(const Root& root, const std::vector<std::string>& queries) {
  auto full = PackageDb::read(root);
  ASSERT_TRUE(full) << full.error().message();
  auto lazy = PackageDb::read(root, PackageDbLoad::Lazy);
  ASSERT_TRUE(lazy) << lazy.error().message();
  ASSERT_TRUE(lazy->index(root, queries));
  size_t differ = 0;
  for (const auto& q : queries) {
    EXPECT_TRUE(lazy->indexed(q)) << q;
    bool same = full->owner_index(q) == lazy->owner_index(q) && full->is_directory(q) == lazy->is_directory(q);
    EXPECT_TRUE(same) << q << ": full " << (full->owner(q) ? full->owner(q)->key : "-") << " dir " << full->is_directory(q)
                      << ", lazy " << (lazy->owner(q) ? lazy->owner(q)->key : "-") << " dir " << lazy->is_directory(q);
    if (!same && ++differ > 20) break;
  }
  ASSERT_EQ(full->packages().size(), lazy->packages().size());
  std::unordered_set<std::string> asked(queries.begin(), queries.end());
  for (size_t i = 0; i < full->packages().size(); ++i) {
    const Package& f = full->packages()[i];
    const Package& l = lazy->packages()[i];
    EXPECT_EQ(f.key, l.key);
    EXPECT_EQ(f.stanza, l.stanza);
    if (l.files_loaded) {
      EXPECT_EQ(f.files, l.files) << f.key;
    } else {
      EXPECT_TRUE(l.files.empty()) << f.key;
      for (const auto& file : f.files)
        EXPECT_FALSE(asked.contains(file.path) && !full->is_directory(file.path)) << f.key << " lists " << file.path;
    }
  }
}

struct Run {
  SelectionResult selection;
  std::vector<std::string> warnings;
  PackageReport report;
  FileSet set;
  size_t loaded = 0;  // packages whose files were read
};

Run run_packages(const Root& root, const std::vector<std::string>& paths, const PackageSelection& sel, PackageDbLoad load) {
  Run r;
  for (const auto& p : paths) {
    auto added = r.set.add(root, p, Reason{ReasonKind::Opened, "used"});
    EXPECT_TRUE(added) << p << ": " << added.error().message();
  }
  auto db = PackageDb::read(root, load);
  EXPECT_TRUE(db) << db.error().message();
  if (!db) return r;
  Context ctx;
  auto s = apply_package_selection(r.set, root, *db, sel, &ctx);
  EXPECT_TRUE(s) << s.error().message();
  if (s) r.selection = *s;
  r.warnings = ctx.messages();
  r.report = account_packages(r.set, root, *db);
  auto st = add_package_metadata(r.set, root, *db, r.report);
  EXPECT_TRUE(st) << st.error().message();
  for (const auto& p : db->packages()) r.loaded += p.files_loaded && !p.files.empty() ? 1 : 0;
  return r;
}

// Runs the packages step on the same set with both databases; returns how many packages the
// lazy one read the files of.
size_t expect_same_run(const Root& root, const std::vector<std::string>& paths, const PackageSelection& sel = {}) {
  Run full = run_packages(root, paths, sel, PackageDbLoad::Full);
  Run lazy = run_packages(root, paths, sel, PackageDbLoad::Lazy);
  EXPECT_EQ(full.selection.files_added, lazy.selection.files_added);
  EXPECT_EQ(full.warnings, lazy.warnings);
  const PackageReport& a = full.report;
  const PackageReport& b = lazy.report;
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.db_path, b.db_path);
  EXPECT_EQ(a.dropped_entirely, b.dropped_entirely);
  EXPECT_EQ(a.unowned, b.unowned);
  EXPECT_EQ(a.contributing(), b.contributing());
  EXPECT_EQ(a.packages.size(), b.packages.size());
  for (size_t i = 0; i < std::min(a.packages.size(), b.packages.size()); ++i) {
    const PackageUsage& u = a.packages[i];
    const PackageUsage& v = b.packages[i];
    EXPECT_EQ(u.package, v.package);
    EXPECT_EQ(u.name, v.name);
    EXPECT_EQ(u.version, v.version);
    EXPECT_EQ(u.architecture, v.architecture);
    EXPECT_EQ(u.kept, v.kept) << u.name;
    EXPECT_EQ(u.dropped, v.dropped) << u.name;
    EXPECT_EQ(u.kept_bytes, v.kept_bytes) << u.name;
    EXPECT_EQ(u.dropped_bytes, v.dropped_bytes) << u.name;
    EXPECT_EQ(u.estimated, v.estimated) << u.name;
  }
  std::vector<std::string> pa, pb;
  for (const auto& [path, e] : full.set) pa.push_back(path + " " + std::string(entry_type_name(e.type)) + " " + e.content);
  for (const auto& [path, e] : lazy.set) pb.push_back(path + " " + std::string(entry_type_name(e.type)) + " " + e.content);
  EXPECT_EQ(pa, pb);
  EXPECT_GT(a.contributing(), 0u);
  return lazy.loaded;
}

// Makes `dir` a Debian image of some of the host's packages: merged-/usr (/bin, /sbin, /lib,
// /lib64 are symlinks into /usr), each package's status stanza, info/KEY.list and .md5sums as
// the host has them, the host's diversions plus a local one of a zlib1g file, and libc6 a second
// time for i386 (Multi-Arch: same packages list the same docs). Files are empty: owners and
// directories depend on paths and symlinks only. Returns the packages it used.
std::vector<std::string> make_debian_image(const fs::path& dir, const PackageDb& host, bool status_d) {
  for (std::string d : {"bin", "sbin", "lib", "lib64"}) {
    fs::create_directories(dir / "usr" / d);
    fs::create_symlink("usr/" + d, dir / d);
  }
  auto materialize = [&](const std::string& listed) {
    struct stat st;
    if (::lstat(listed.c_str(), &st) != 0) return;
    fs::path to = dir / listed.substr(1);
    std::error_code ec;
    if (S_ISDIR(st.st_mode)) {
      fs::create_directories(to, ec);
    } else if (S_ISLNK(st.st_mode)) {
      fs::create_directories(to.parent_path(), ec);
      fs::create_symlink(fs::read_symlink(listed), to, ec);
    } else {
      write_file(to, "");
    }
  };
  std::vector<std::string> used;
  std::string status;
  for (std::string name : {"base-files", "libc6", "zlib1g", "dash", "libexpat1", "libgcc-s1", "tzdata"}) {
    const Package* p = host.find(name);
    if (!p) continue;
    used.push_back(name);
    std::string list;
    for (const auto& f : p->files) {
      list += f.listed + "\n";
      materialize(f.listed);
    }
    std::string sums;
    if (fs::exists("/var/lib/dpkg/info/" + p->key + ".md5sums")) sums = read_file("/var/lib/dpkg/info/" + p->key + ".md5sums");
    if (status_d) {
      write_file(dir / "var/lib/dpkg/status.d" / name, p->stanza);
      write_file(dir / "var/lib/dpkg/status.d" / (name + ".md5sums"), sums);
      continue;
    }
    status += p->stanza + "\n";
    write_file(dir / "var/lib/dpkg/info" / (p->key + ".list"), list);
    write_file(dir / "var/lib/dpkg/info" / (p->key + ".md5sums"), sums);
    if (name == "libc6") {
      std::string i386 = p->stanza;
      auto at = i386.find("Architecture: amd64\n");
      if (at == std::string::npos) continue;
      i386.replace(at, 20, "Architecture: i386\n");
      status += i386 + "\n";
      std::string docs = "/.\n/usr\n/usr/share\n/usr/share/doc\n/lib/i386-linux-gnu\n/lib/i386-linux-gnu/libc.so.6\n";
      for (const auto& f : p->files)
        if (f.listed.starts_with("/usr/share/doc/libc6")) docs += f.listed + "\n";
      write_file(dir / "var/lib/dpkg/info/libc6:i386.list", docs);
      write_file(dir / "lib/i386-linux-gnu/libc.so.6", "");
    }
  }
  if (!status_d) {
    write_file(dir / "var/lib/dpkg/status", status);
    std::string diversions = fs::exists("/var/lib/dpkg/diversions") ? read_file("/var/lib/dpkg/diversions") : "";
    diversions += "/usr/share/doc/zlib1g/changelog.Debian.gz\n/usr/share/doc/zlib1g/changelog.Debian.gz.orig\n:\n";
    write_file(dir / "var/lib/dpkg/diversions", diversions);
    write_file(dir / "usr/share/doc/zlib1g/changelog.Debian.gz.orig", "");
  }
  return used;
}

const std::vector<std::string> kImageRun = {"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libz.so.1",
                                            "/bin/sh", "/usr/share/zoneinfo/UTC", "/etc/os-release"};

std::vector<std::string> existing(const Root& root, const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths)
    if (root.stat(p)) out.push_back(p);
  return out;
}

class HostDb : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_program("dpkg-query") || !fs::exists("/var/lib/dpkg/status")) GTEST_SKIP() << "not a dpkg system";
    auto r = Root::open("/");
    ASSERT_TRUE(r);
    host_.emplace(std::move(*r));
    auto db = PackageDb::read(*host_);
    ASSERT_TRUE(db) << db.error().message();
    full_.emplace(std::move(*db));
    if (!full_->find("libc6")) GTEST_SKIP() << "no libc6";
  }
  std::optional<Root> host_;
  std::optional<PackageDb> full_;
};

// All ~160,000 listed paths of this machine and their directories, asked at once.
TEST_F(HostDb, EveryListedPathAgrees) {
  expect_same_answers(*host_, every_listed_path(*full_, {"/bin", "/lib", "/lib64", "/sbin", "/usr/local/bin/none", "/etc/hostname"}));
}

// A run's few hundred paths: python3 importing json, a library through merged-/usr's /lib, the
// diverted /bin/sh, zoneinfo, the CA bundle.
TEST_F(HostDb, RunsAgree) {
  std::vector<std::string> paths = existing(*host_, {"/usr/bin/python3", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
                                                     "/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3.11/json/decoder.py",
                                                     "/usr/lib/python3.11/encodings/__init__.py", "/bin/sh", "/etc/localtime",
                                                     "/usr/share/zoneinfo/UTC", "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd"});
  ASSERT_FALSE(paths.empty());
  size_t loaded = expect_same_run(*host_, paths);
  // Only the packages of these files were read: a handful of the ~1,000.
  EXPECT_LT(loaded, 40u);
  PackageSelection whole;
  whole.granularity = Granularity::Package;
  expect_same_run(*host_, {"/lib/x86_64-linux-gnu/libc.so.6", "/bin/sh"}, whole);
  PackageSelection keep;
  keep.keep_packages = {full_->find("zlib1g") ? "zlib1g" : "libc6"};
  keep.with_docs = true;
  expect_same_run(*host_, {"/bin/sh"}, keep);
}

TEST_F(HostDb, DebianImageAgrees) {
  TempDir tmp;
  make_debian_image(tmp.path(), *full_, false);
  Root root = open_root(tmp.path());
  auto full = PackageDb::read(root);
  ASSERT_TRUE(full) << full.error().message();
  ASSERT_NE(full->find("libc6:i386"), nullptr);
  // The local diversion: zlib1g's listed changelog is at .orig, where the lazy index must find it.
  ASSERT_NE(full->owner("/usr/share/doc/zlib1g/changelog.Debian.gz.orig"), nullptr);
  EXPECT_EQ(full->owner("/usr/share/doc/zlib1g/changelog.Debian.gz.orig")->name, "zlib1g");
  expect_same_answers(root, every_listed_path(*full, {"/bin", "/lib", "/lib64", "/sbin", "/usr/share/doc/zlib1g/changelog.Debian.gz",
                                                      "/lib/i386-linux-gnu/libc.so.6", "/nonexistent/x"}));
  // Each question alone: the first scan is also the only one.
  for (const std::string q : {"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib", "/usr/share/doc/libc6/copyright",
                              "/usr/share/doc/zlib1g/changelog.Debian.gz.orig", "/usr/lib/i386-linux-gnu", "/usr/bin/sh"})
    expect_same_answers(root, {q});
  std::vector<std::string> run = existing(root, kImageRun);
  run.push_back("/lib/i386-linux-gnu/libc.so.6");
  run.push_back("/usr/share/doc/zlib1g/changelog.Debian.gz.orig");
  expect_same_run(root, run);
  PackageSelection whole;
  whole.granularity = Granularity::Package;
  expect_same_run(root, run, whole);
  PackageSelection keep;
  keep.keep_packages = {"libexpat1", "libc6:i386"};
  expect_same_run(root, {"/bin/sh"}, keep);
}

// distroless: status.d/NAME and NAME.md5sums only; and a root with both (one minify made from a
// full root carries status.d beside the builder's status).
TEST_F(HostDb, StatusDRootsAgree) {
  TempDir distroless;
  make_debian_image(distroless.path(), *full_, true);
  Root root = open_root(distroless.path());
  auto full = PackageDb::read(root);
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_EQ(full->db_path(), "/var/lib/dpkg/status.d");
  expect_same_answers(root, every_listed_path(*full, {"/lib", "/bin"}));
  expect_same_run(root, existing(root, kImageRun));

  TempDir both;
  make_debian_image(both.path(), *full_, false);
  write_file(both / "var/lib/dpkg/status.d/extra", "Package: extra\nVersion: 1\nArchitecture: all\n");
  write_file(both / "var/lib/dpkg/status.d/extra.md5sums", "d41d8cd98f00b204e9800998ecf8427e  lib/x86_64-linux-gnu/extra.so\n");
  write_file(both / "usr/lib/x86_64-linux-gnu/extra.so", "");
  Root mixed = open_root(both.path());
  auto mixed_full = PackageDb::read(mixed);
  ASSERT_TRUE(mixed_full);
  ASSERT_NE(mixed_full->owner("/usr/lib/x86_64-linux-gnu/extra.so"), nullptr);
  expect_same_answers(mixed, every_listed_path(*mixed_full, {}));
  std::vector<std::string> run = existing(mixed, kImageRun);
  run.push_back("/usr/lib/x86_64-linux-gnu/extra.so");
  expect_same_run(mixed, run);
}

// Lists as dpkg does not write them, and roots that make the shortcuts wrong if they were taken:
// paths with "//", "/./", "/../" and a trailing "/"; a listed directory that is a symlink to a
// directory of the same name elsewhere (/usr/lib/app -> /opt/app); a file listed by two
// packages (the first owns it, both account for it); a package whose list is missing; a
// package listed earlier than the first one that a --keep-package loads.
TEST(LazyPackageDb, OddListsAgree) {
  TempDir tmp;
  fs::create_directories(tmp / "usr/lib");
  fs::create_directories(tmp / "usr/bin");
  fs::create_symlink("usr/lib", tmp / "lib");
  fs::create_symlink("usr/bin", tmp / "bin");
  fs::create_directories(tmp / "opt/app/plugins");
  fs::create_symlink("/opt/app", tmp / "usr/lib/app");
  write_file(tmp / "opt/app/plugins/one.so", "1");
  write_file(tmp / "opt/app/core.so", "core");
  write_file(tmp / "usr/bin/tool", "tool");
  write_file(tmp / "usr/lib/libshared.so.1", "shared");
  write_file(tmp / "usr/share/doc/a/copyright", "a");
  write_file(tmp / "usr/share/doc/b/copyright", "b");
  fs::create_symlink("a", tmp / "usr/share/doc/c");
  write_file(tmp / "etc/os-release", "ID=debian\n");
  write_file(tmp / "var/lib/dpkg/status",
             "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n"
             "Package: b\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nInstalled-Size: 3\n\n"
             "Package: c\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n"
             "Package: nolist\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n"
             "Package: app\nStatus: install ok installed\nVersion: 2\nArchitecture: amd64\n");
  write_file(tmp / "var/lib/dpkg/info/a.list",
             "/.\n/usr//lib/./libshared.so.1\n/bin/../usr/bin/tool\n/usr/share/doc/a/\n/usr/share/doc/a/copyright\n");
  write_file(tmp / "var/lib/dpkg/info/b.list", "/.\n/lib/libshared.so.1\n/usr/share/doc/b\n/usr/share/doc/b/copyright\n");
  // c's docs are a symlink to a's: its listed copyright is a's file.
  write_file(tmp / "var/lib/dpkg/info/c.list", "/usr/share/doc/c\n/usr/share/doc/c/copyright\n  /lib/app/core.so \r\n");
  write_file(tmp / "var/lib/dpkg/info/app.list", "/usr/lib/app\n/usr/lib/app/core.so\n/lib/app/plugins\n/lib/app/plugins/one.so\n");
  Root root = open_root(tmp.path());
  auto full = PackageDb::read(root);
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_EQ(full->owner("/opt/app/core.so")->name, "c");
  EXPECT_EQ(full->owner("/usr/lib/libshared.so.1")->name, "a");
  EXPECT_EQ(full->owner("/usr/share/doc/a/copyright")->name, "a");
  EXPECT_TRUE(full->is_directory("/opt/app"));
  expect_same_answers(root, every_listed_path(*full, {"/lib", "/bin", "/usr/lib/app", "/usr/share/doc/c"}));
  for (const std::string q : {"/opt/app/core.so", "/opt/app", "/usr/lib/app", "/usr/lib/libshared.so.1", "/usr/share/doc/a/copyright",
                              "/usr/share/doc/c", "/usr/bin/tool", "/lib"})
    expect_same_answers(root, {q});
  expect_same_run(root, {"/usr/lib/libshared.so.1", "/opt/app/plugins/one.so"});
  expect_same_run(root, {"/usr/lib/app/core.so"});
  PackageSelection keep;
  keep.keep_packages = {"c", "nolist"};
  expect_same_run(root, {"/usr/bin/tool"}, keep);
}

TEST(LazyPackageDb, ApkRootAgrees) {
  TempDir tmp;
  write_file(tmp / "lib/ld-musl-x86_64.so.1", std::string(600, 'm'));
  fs::create_symlink("ld-musl-x86_64.so.1", tmp / "lib/libc.musl-x86_64.so.1");
  write_file(tmp / "lib/libz.so.1.3.1", std::string(90, 'z'));
  fs::create_symlink("libz.so.1.3.1", tmp / "lib/libz.so.1");
  write_file(tmp / "etc/os-release", "ID=alpine\n");
  write_file(tmp / "lib/apk/db/installed",
             "P:musl\nV:1.2.5-r0\nA:x86_64\nI:600000\nF:lib\nR:ld-musl-x86_64.so.1\nZ:Q1m=\nR:libc.musl-x86_64.so.1\n\n"
             "P:zlib\nV:1.3.1-r1\nA:x86_64\nI:100000\nF:lib\nR:libz.so.1\nR:libz.so.1.3.1\nZ:Q1z=\n\n");
  Root root = open_root(tmp.path());
  auto full = PackageDb::read(root);
  ASSERT_TRUE(full);
  ASSERT_EQ(full->kind(), PackageDbKind::Apk);
  expect_same_answers(root, every_listed_path(*full, {}));
  expect_same_run(root, {"/lib/libz.so.1"});
}

// A list that cannot be read is an error for the lazy database too, at the scan.
TEST(LazyPackageDb, UnreadableListIsAnError) {
  TempDir tmp;
  write_file(tmp / "usr/bin/x", "x");
  write_file(tmp / "var/lib/dpkg/status", "Package: x\nVersion: 1\nArchitecture: all\n");
  fs::create_directories(tmp / "var/lib/dpkg/info/x.list");  // a directory, not a list
  Root root = open_root(tmp.path());
  EXPECT_FALSE(PackageDb::read(root));
  auto lazy = PackageDb::read(root, PackageDbLoad::Lazy);
  ASSERT_TRUE(lazy) << lazy.error().message();
  auto st = lazy->index(root, std::vector<std::string>{"/usr/bin/x"});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("x.list"), std::string::npos) << st.error().message();
}

}  // namespace
}  // namespace minify
