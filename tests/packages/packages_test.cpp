// The package database: reading dpkg (status + info/, status.d) and apk databases, owners through
// merged-/usr symlinks and diversions, --keep-package / --granularity, the per-package accounting
// and the status.d / apk metadata written for the minimal root. Synthetic roots are built per
// test; the host's own dpkg database is checked against dpkg-query.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "minify/packages.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::run;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

Root open_root(const fs::path& dir) {
  auto r = Root::open(dir.string());
  EXPECT_TRUE(r) << r.error().message();
  return std::move(*r);
}

const PackageUsage* usage_of(const PackageReport& rep, const std::string& name) {
  for (const auto& u : rep.packages)
    if (u.name == name) return &u;
  return nullptr;
}

// A Debian-like merged-/usr root: /lib -> usr/lib, /bin -> usr/bin; package "foo" lists its
// files under /lib and /bin as dpkg does, "bar" is installed, "gone" only has its conffiles.
class DpkgRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_ / "usr/lib");
    fs::create_directories(tmp_ / "usr/bin");
    fs::create_symlink("usr/lib", tmp_ / "lib");
    fs::create_symlink("usr/bin", tmp_ / "bin");
    write_file(tmp_ / "usr/bin/foo", "#!/bin/sh\necho foo\n");
    write_file(tmp_ / "usr/lib/libfoo.so.1.2", std::string(1000, 'f'));
    fs::create_symlink("libfoo.so.1.2", tmp_ / "usr/lib/libfoo.so.1");
    write_file(tmp_ / "usr/share/doc/foo/copyright", "Copyright foo\n");
    write_file(tmp_ / "usr/share/doc/foo/changelog.Debian.gz", "changes");
    write_file(tmp_ / "usr/share/man/man1/foo.1.gz", "manpage");
    write_file(tmp_ / "etc/foo.conf", "x=1\n");
    write_file(tmp_ / "usr/bin/bar", std::string(5000, 'b'));
    write_file(tmp_ / "usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    fs::create_symlink("../usr/lib/os-release", tmp_ / "etc/os-release");
    write_file(tmp_ / "etc/debian_version", "12.5\n");
    write_file(tmp_ / "usr/local/bin/mine", "mine\n");
    write_file(tmp_ / "var/lib/dpkg/status",
               "Package: foo\n"
               "Status: install ok installed\n"
               "Installed-Size: 2\n"
               "Priority: optional\n"
               "Architecture: amd64\n"
               "Multi-Arch: same\n"
               "Source: foo-src (1.0-1)\n"
               "Version: 1.0-1+b1\n"
               "Conffiles:\n"
               " /etc/foo.conf 0123456789abcdef0123456789abcdef\n"
               " /etc/foo-old.conf 0123456789abcdef0123456789abcdef obsolete\n"
               "Description: the foo tool\n"
               " It does foo.\n"
               " .\n"
               " And more foo.\n"
               "\n"
               "Package: bar\n"
               "Status: install ok installed\n"
               "Installed-Size: 5\n"
               "Architecture: all\n"
               "Version: 2:3.4\n"
               "Description: bar\n"
               "\n"
               "Package: gone\n"
               "Status: deinstall ok config-files\n"
               "Architecture: amd64\n"
               "Version: 9\n");
    write_file(tmp_ / "var/lib/dpkg/info/foo:amd64.list",
               "/.\n/bin\n/bin/foo\n/etc\n/etc/foo.conf\n/lib\n/lib/libfoo.so.1.2\n/lib/libfoo.so.1\n"
               "/usr/share/doc/foo\n/usr/share/doc/foo/copyright\n/usr/share/doc/foo/changelog.Debian.gz\n"
               "/usr/share/man/man1/foo.1.gz\n");
    write_file(tmp_ / "var/lib/dpkg/info/foo:amd64.md5sums",
               md5("#!/bin/sh\necho foo\n") + "  bin/foo\n" + md5(std::string(1000, 'f')) + "  lib/libfoo.so.1.2\n" +
                   md5("Copyright foo\n") + "  usr/share/doc/foo/copyright\n" + md5("changes") +
                   "  usr/share/doc/foo/changelog.Debian.gz\n" + md5("manpage") + "  usr/share/man/man1/foo.1.gz\n");
    write_file(tmp_ / "var/lib/dpkg/info/bar.list", "/.\n/usr\n/usr/bin\n/usr/bin/bar\n");
    write_file(tmp_ / "var/lib/dpkg/info/gone.list", "/usr/bin/gone\n");
  }

  static std::string md5(const std::string& s) {
    TempDir t;
    write_file(t / "f", s);
    auto r = run({"md5sum", (t / "f").string()});
    return r.out.substr(0, 32);
  }

  TempDir tmp_;
};

TEST_F(DpkgRoot, ReadsStatusFieldsInOrder) {
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db) << db.error().message();
  EXPECT_EQ(db->kind(), PackageDbKind::Dpkg);
  EXPECT_EQ(db->db_path(), "/var/lib/dpkg/status");
  ASSERT_EQ(db->packages().size(), 2u);  // "gone" has only conffiles left
  const Package* foo = db->find("foo");
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(db->find("foo:amd64"), foo);
  EXPECT_EQ(foo->key, "foo:amd64");
  EXPECT_EQ(foo->version, "1.0-1+b1");
  EXPECT_EQ(foo->architecture, "amd64");
  EXPECT_EQ(foo->source, "foo-src");
  EXPECT_EQ(foo->source_version, "1.0-1");
  ASSERT_GE(foo->fields.size(), 3u);
  EXPECT_EQ(foo->fields[0], (ControlField{"Package", "foo"}));
  EXPECT_EQ(foo->fields[1], (ControlField{"Status", "install ok installed"}));
  EXPECT_EQ(foo->field("Description"), "the foo tool\n It does foo.\n .\n And more foo.");
  EXPECT_EQ(db->find("bar")->source, "bar");
  EXPECT_EQ(db->find("bar")->version, "2:3.4");
  EXPECT_EQ(db->find("gone"), nullptr);
}

TEST_F(DpkgRoot, OwnerFollowsMergedUsrSymlinks) {
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db) << db.error().message();
  // dpkg lists /lib/libfoo.so.1.2; the file is /usr/lib/libfoo.so.1.2.
  ASSERT_NE(db->owner("/usr/lib/libfoo.so.1.2"), nullptr);
  EXPECT_EQ(db->owner("/usr/lib/libfoo.so.1.2")->name, "foo");
  EXPECT_EQ(db->owner("/usr/lib/libfoo.so.1")->name, "foo");  // a listed symlink is itself
  EXPECT_EQ(db->owner("/usr/bin/foo")->name, "foo");
  EXPECT_EQ(db->owner("/usr/bin/bar")->name, "bar");
  EXPECT_EQ(db->owner("/usr/local/bin/mine"), nullptr);
  // Listed directories (including merged-/usr's /bin, now a symlink) belong to no one package.
  EXPECT_EQ(db->owner("/bin"), nullptr);
  EXPECT_EQ(db->owner("/usr/bin"), nullptr);
  EXPECT_TRUE(db->is_directory("/bin"));
  EXPECT_TRUE(db->is_directory("/usr/lib"));
  EXPECT_FALSE(db->is_directory("/usr/bin/foo"));
  const Package* foo = db->find("foo");
  auto it = std::find_if(foo->files.begin(), foo->files.end(), [](const PackageFile& f) { return f.listed == "/lib/libfoo.so.1.2"; });
  ASSERT_NE(it, foo->files.end());
  EXPECT_EQ(it->path, "/usr/lib/libfoo.so.1.2");
}

TEST_F(DpkgRoot, DivertedFileBelongsToTheDivertedPackage) {
  // foo's /bin/foo was moved aside to /bin/foo.distrib by "bar" (dpkg-divert --package bar).
  fs::rename(tmp_ / "usr/bin/foo", tmp_ / "usr/bin/foo.distrib");
  write_file(tmp_ / "var/lib/dpkg/diversions", "/bin/foo\n/bin/foo.distrib\nbar\n");
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db) << db.error().message();
  ASSERT_NE(db->owner("/usr/bin/foo.distrib"), nullptr);
  EXPECT_EQ(db->owner("/usr/bin/foo.distrib")->name, "foo");
}

TEST_F(DpkgRoot, CorruptStatusIsAnErrorNamingTheLine) {
  write_file(tmp_ / "var/lib/dpkg/status", "Package: foo\nVersion: 1\nthis line has no colon\n");
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().message(),
            "parse `/var/lib/dpkg/status`: line 3: expected \"Field: value\", got \"this line has no colon\"");
  write_file(tmp_ / "var/lib/dpkg/status", "Version: 1\nArchitecture: all\n");
  auto db2 = PackageDb::read(root);
  ASSERT_FALSE(db2);
  EXPECT_EQ(db2.error().message(), "parse `/var/lib/dpkg/status`: line 1: stanza without a Package field");
  write_file(tmp_ / "var/lib/dpkg/status", " continuation first\n");
  EXPECT_FALSE(PackageDb::read(root));
}

TEST_F(DpkgRoot, CorruptMd5sumsIsAnError) {
  write_file(tmp_ / "var/lib/dpkg/info/foo:amd64.md5sums", "not an md5 line\n");
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db) << db.error().message();
  auto st = db->load_digests(root, *db->index_of("foo"));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("foo:amd64.md5sums`: line 1"), std::string::npos) << st.error().message();
}

TEST_F(DpkgRoot, KeptFilesAccountedAndStatusDWritten) {
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db) << db.error().message();
  FileSet set;
  ASSERT_TRUE(set.add(root, "/lib/libfoo.so.1", Reason{ReasonKind::Needed, "needed by /app"}));
  ASSERT_TRUE(set.add(root, "/usr/local/bin/mine", Reason{ReasonKind::Program, "the program"}));
  auto sel = apply_package_selection(set, root, *db, {});
  ASSERT_TRUE(sel) << sel.error().message();
  // What scanners read: the release files and the license of the package that ships a file.
  EXPECT_NE(set.find("/etc/os-release"), nullptr);
  EXPECT_NE(set.find("/usr/lib/os-release"), nullptr);
  EXPECT_NE(set.find("/etc/debian_version"), nullptr);
  EXPECT_NE(set.find("/usr/share/doc/foo/copyright"), nullptr);
  EXPECT_EQ(set.find("/usr/share/doc/foo/changelog.Debian.gz"), nullptr);
  EXPECT_EQ(set.find("/usr/bin/foo"), nullptr);  // file granularity: only what was used

  // The accounting reads the database, not the disk: a listed file gone from the root (dpkg's
  // path-exclude drops man pages in slim images) is still listed as left out.
  fs::remove(tmp_ / "usr/share/man/man1/foo.1.gz");
  PackageReport rep = account_packages(set, root, *db);
  EXPECT_EQ(rep.contributing(), 1u);
  const PackageUsage* foo = usage_of(rep, "foo");
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(foo->kept, (std::vector<std::string>{"/usr/lib/libfoo.so.1", "/usr/lib/libfoo.so.1.2", "/usr/share/doc/foo/copyright"}));
  EXPECT_EQ(foo->dropped, (std::vector<std::string>{"/etc/foo.conf", "/usr/bin/foo", "/usr/share/doc/foo/changelog.Debian.gz",
                                                    "/usr/share/man/man1/foo.1.gz"}));
  EXPECT_EQ(foo->kept_bytes, 1000u + 14u);
  // The bytes saved are the database's Installed-Size (2 KiB) less what is kept: no file left
  // out is stat'ed (a traced minify would ship every one; see PackageUsage).
  EXPECT_TRUE(foo->estimated);
  EXPECT_EQ(foo->dropped_bytes, 2u * 1024 - (1000u + 14u));
  EXPECT_EQ(rep.dropped_entirely, (std::vector<std::string>{"bar"}));
  // Dropped entirely: the database's Installed-Size (KiB), not a stat of every file.
  EXPECT_TRUE(usage_of(rep, "bar")->estimated);
  EXPECT_EQ(usage_of(rep, "bar")->dropped_bytes, 5u * 1024);

  // The program is nobody's; the release files here are not listed by any package either.
  EXPECT_TRUE(std::find(rep.unowned.begin(), rep.unowned.end(), "/usr/local/bin/mine") != rep.unowned.end());
  EXPECT_TRUE(std::find(rep.unowned.begin(), rep.unowned.end(), "/usr/lib/libfoo.so.1.2") == rep.unowned.end());

  ASSERT_TRUE(add_package_metadata(set, root, *db, rep));
  const Entry* stanza = set.find("/var/lib/dpkg/status.d/foo");
  ASSERT_NE(stanza, nullptr);
  EXPECT_TRUE(stanza->generated);
  EXPECT_EQ(set.find("/var/lib/dpkg/status.d/bar"), nullptr);  // dropped entirely: not listed
  EXPECT_EQ(stanza->content,
            "Package: foo\n"
            "Status: install ok installed\n"
            "Installed-Size: 2\n"
            "Priority: optional\n"
            "Architecture: amd64\n"
            "Multi-Arch: same\n"
            "Source: foo-src (1.0-1)\n"
            "Version: 1.0-1+b1\n"
            "Description: the foo tool\n"
            " It does foo.\n"
            " .\n"
            " And more foo.\n");  // Conffiles gone: /etc/foo.conf was not kept
  const Entry* sums = set.find("/var/lib/dpkg/status.d/foo.md5sums");
  ASSERT_NE(sums, nullptr);
  EXPECT_EQ(sums->content, md5(std::string(1000, 'f')) + "  lib/libfoo.so.1.2\n" + md5("Copyright foo\n") +
                               "  usr/share/doc/foo/copyright\n");
}

TEST_F(DpkgRoot, StanzaKeepsConffilesThatShip) {
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db);
  FileSet set;
  ASSERT_TRUE(set.add(root, "/etc/foo.conf", Reason{ReasonKind::Opened, "read"}));
  PackageReport rep = account_packages(set, root, *db);
  std::string stanza = dpkg_status_stanza(*db->find("foo"), *usage_of(rep, "foo"));
  EXPECT_NE(stanza.find("Conffiles:\n /etc/foo.conf 0123456789abcdef0123456789abcdef\nDescription:"), std::string::npos)
      << stanza;
}

TEST_F(DpkgRoot, OutputRootReadsBackAsDistroless) {
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db);
  FileSet set;
  ASSERT_TRUE(set.add(root, "/bin/foo", Reason{ReasonKind::Program, "the program"}));
  ASSERT_TRUE(apply_package_selection(set, root, *db, {}));
  PackageReport rep = account_packages(set, root, *db);
  ASSERT_TRUE(add_package_metadata(set, root, *db, rep));
  // Lay the set out as a directory (what write_rootfs does) and read it as a distroless root.
  TempDir out;
  for (const auto& [path, e] : set) {
    fs::path p = out.path() / path.substr(1);
    if (e.type == EntryType::Directory) fs::create_directories(p);
    else if (e.type == EntryType::Symlink) fs::create_symlink(e.link_target, p);
    else if (e.generated) write_file(p, e.content);
    else fs::copy_file(tmp_.path() / path.substr(1), p);
  }
  Root out_root = open_root(out.path());
  auto back = PackageDb::read(out_root);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->kind(), PackageDbKind::Dpkg);
  EXPECT_EQ(back->db_path(), "/var/lib/dpkg/status.d");
  ASSERT_EQ(back->packages().size(), 1u);
  const Package& foo = back->packages()[0];
  EXPECT_EQ(foo.version, "1.0-1+b1");
  EXPECT_EQ(foo.source, "foo-src");
  ASSERT_EQ(foo.files.size(), 2u);  // from foo.md5sums: bin/foo and the copyright
  EXPECT_EQ(foo.files[0].listed, "/bin/foo");
  EXPECT_EQ(foo.files[0].path, "/usr/bin/foo");  // /bin is a symlink in the output too
  EXPECT_EQ(foo.files[0].digest, md5("#!/bin/sh\necho foo\n"));
  EXPECT_EQ(back->owner("/usr/bin/foo"), &foo);
  // And its files check out against their md5sums inside the output root.
  auto check = run({"sh", "-c", "cd " + out.path().string() + " && md5sum -c --quiet var/lib/dpkg/status.d/foo.md5sums"});
  EXPECT_EQ(check.status, 0) << check.out << check.err;
}

TEST_F(DpkgRoot, KeepPackageAddsItsFilesWithoutDocs) {
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db);
  FileSet set;
  PackageSelection sel;
  sel.keep_packages = {"foo"};
  auto r = apply_package_selection(set, root, *db, sel);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(set.find("/usr/lib/libfoo.so.1"), nullptr);  // a symlink: its reason is the way to libfoo.so.1.2
  for (auto p : {"/usr/bin/foo", "/usr/lib/libfoo.so.1.2", "/etc/foo.conf", "/usr/share/doc/foo/copyright"}) {
    const Entry* e = set.find(p);
    ASSERT_NE(e, nullptr) << p;
    EXPECT_TRUE(std::any_of(e->reasons.begin(), e->reasons.end(), [](const Reason& why) { return why.kind == ReasonKind::Package; }))
        << p;
  }
  EXPECT_EQ(set.find("/usr/share/doc/foo/changelog.Debian.gz"), nullptr);
  EXPECT_EQ(set.find("/usr/share/man/man1/foo.1.gz"), nullptr);
  EXPECT_EQ(set.find("/usr/bin/bar"), nullptr);

  sel.with_docs = true;
  ASSERT_TRUE(apply_package_selection(set, root, *db, sel));
  EXPECT_NE(set.find("/usr/share/doc/foo/changelog.Debian.gz"), nullptr);
  EXPECT_NE(set.find("/usr/share/man/man1/foo.1.gz"), nullptr);

  sel.keep_packages = {"nosuch"};
  auto bad = apply_package_selection(set, root, *db, sel);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "--keep-package `nosuch`: no such package in /var/lib/dpkg/status");
}

TEST_F(DpkgRoot, PackageGranularityPullsInTheWholePackage) {
  Root root = open_root(tmp_.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db);
  FileSet set;
  ASSERT_TRUE(set.add(root, "/bin/foo", Reason{ReasonKind::Exec, "exec'd during the trace"}));
  PackageSelection sel;
  sel.granularity = Granularity::Package;
  ASSERT_TRUE(apply_package_selection(set, root, *db, sel));
  EXPECT_NE(set.find("/usr/lib/libfoo.so.1.2"), nullptr);
  EXPECT_NE(set.find("/etc/foo.conf"), nullptr);
  EXPECT_EQ(set.find("/usr/share/man/man1/foo.1.gz"), nullptr);
  EXPECT_EQ(set.find("/usr/bin/bar"), nullptr);  // not touched: its package stays out
  PackageReport rep = account_packages(set, root, *db);
  EXPECT_EQ(usage_of(rep, "foo")->dropped,
            (std::vector<std::string>{"/usr/share/doc/foo/changelog.Debian.gz", "/usr/share/man/man1/foo.1.gz"}));
}

TEST(Packages, ModuleGranularityKeepsNodeModulesAndPythonDistributions) {
  TempDir tmp;
  write_file(tmp / "app/node_modules/left-pad/index.js", "module.exports = 1;\n");
  write_file(tmp / "app/node_modules/left-pad/package.json", "{}\n");
  write_file(tmp / "app/node_modules/left-pad/lib/pad.js", "x\n");
  write_file(tmp / "app/node_modules/@scope/util/a.js", "a\n");
  write_file(tmp / "app/node_modules/@scope/util/b.js", "b\n");
  write_file(tmp / "app/node_modules/@scope/other/c.js", "c\n");
  write_file(tmp / "app/node_modules/unused/index.js", "u\n");
  std::string site = "usr/lib/python3/site-packages/";
  write_file(tmp / (site + "six.py"), "six\n");
  write_file(tmp / (site + "six-1.16.0.dist-info/METADATA"), "Name: six\n");
  write_file(tmp / (site + "six-1.16.0.dist-info/RECORD"),
             "six.py,sha256=x,10\nsix-1.16.0.dist-info/METADATA,sha256=y,5\nsix-1.16.0.dist-info/RECORD,,\n"
             "../../../bin/six-tool,sha256=z,3\n");
  write_file(tmp / "usr/bin/six-tool", "tool\n");
  write_file(tmp / (site + "requests/__init__.py"), "r\n");
  write_file(tmp / (site + "requests/api.py"), "api\n");
  write_file(tmp / (site + "other/__init__.py"), "o\n");
  // A distribution whose bytecode py3compile wrote (in no RECORD); its tests never ran.
  write_file(tmp / (site + "colorama/__init__.py"), "c\n");
  write_file(tmp / (site + "colorama/tests/t.py"), "t\n");
  write_file(tmp / (site + "colorama/__pycache__/__init__.cpython-311.pyc"), "pyc\n");
  write_file(tmp / (site + "colorama/tests/__pycache__/t.cpython-311.pyc"), "pyc\n");
  write_file(tmp / (site + "__pycache__/other_top.cpython-311.pyc"), "pyc\n");
  write_file(tmp / (site + "colorama-0.4.6.dist-info/RECORD"),
             "colorama/__init__.py,sha256=a,2\ncolorama/tests/t.py,sha256=b,2\ncolorama-0.4.6.dist-info/RECORD,,\n");
  Root root = open_root(tmp.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db);
  EXPECT_EQ(db->kind(), PackageDbKind::None);
  FileSet set;
  for (auto p : {"/app/node_modules/left-pad/index.js", "/app/node_modules/@scope/util/a.js", "/usr/lib/python3/site-packages/six.py",
                 "/usr/lib/python3/site-packages/requests/__init__.py", "/usr/lib/python3/site-packages/colorama/__init__.py"})
    ASSERT_TRUE(set.add(root, p, Reason{ReasonKind::Opened, "read"}));
  PackageSelection sel;
  sel.granularity = Granularity::Module;
  ASSERT_TRUE(apply_package_selection(set, root, *db, sel));
  for (auto p : {"/app/node_modules/left-pad/lib/pad.js", "/app/node_modules/left-pad/package.json", "/app/node_modules/@scope/util/b.js",
                 "/usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA", "/usr/bin/six-tool",
                 "/usr/lib/python3/site-packages/requests/api.py", "/usr/lib/python3/site-packages/colorama/tests/t.py",
                 "/usr/lib/python3/site-packages/colorama/__pycache__/__init__.cpython-311.pyc",
                 "/usr/lib/python3/site-packages/colorama/tests/__pycache__/t.cpython-311.pyc"})
    EXPECT_NE(set.find(p), nullptr) << p;
  for (auto p : {"/app/node_modules/@scope/other/c.js", "/app/node_modules/unused/index.js", "/usr/lib/python3/site-packages/other/__init__.py",
                 "/usr/lib/python3/site-packages/__pycache__/other_top.cpython-311.pyc"})
    EXPECT_EQ(set.find(p), nullptr) << p;
}

// An Alpine root: /lib/apk/db/installed with musl, zlib and busybox; only zlib's library is used.
TEST(Packages, ApkInstalledTrimmedToKeptFiles) {
  TempDir tmp;
  write_file(tmp / "lib/ld-musl-x86_64.so.1", std::string(600, 'm'));
  fs::create_symlink("ld-musl-x86_64.so.1", tmp / "lib/libc.musl-x86_64.so.1");
  write_file(tmp / "lib/libz.so.1.3.1", std::string(90, 'z'));
  fs::create_symlink("libz.so.1.3.1", tmp / "lib/libz.so.1");
  write_file(tmp / "usr/share/licenses/zlib/LICENSE", "zlib license\n");
  write_file(tmp / "bin/busybox", std::string(800, 'b'));
  write_file(tmp / "usr/lib/os-release", "ID=alpine\nVERSION_ID=3.20.0\n");
  fs::create_directories(tmp / "etc");
  fs::create_symlink("../usr/lib/os-release", tmp / "etc/os-release");
  write_file(tmp / "etc/alpine-release", "3.20.0\n");
  const std::string musl =
      "C:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaaa=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:400000\nI:600000\nT:the musl c library\n"
      "U:https://musl.libc.org/\nL:MIT\no:musl\nm:Maintainer <m@example.org>\nt:1700000000\nc:abc\n"
      "F:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1mmmmmmmmmmmmmmmmmmmmmmmmmmmm=\nR:libc.musl-x86_64.so.1\nZ:Q1llllllllllllllllllllllllllll=\n";
  const std::string zlib =
      "C:Q1zzzzzzzzzzzzzzzzzzzzzzzzzzzz=\nP:zlib\nV:1.3.1-r1\nA:x86_64\nS:50000\nI:100000\nT:compression library\n"
      "U:https://zlib.net/\nL:Zlib\no:zlib-src\nm:Maintainer <m@example.org>\nt:1700000000\nc:def\nD:so:libc.musl-x86_64.so.1\n"
      "p:so:libz.so.1=1.3.1\n"
      "F:lib\nR:libz.so.1\nZ:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaaa=\nR:libz.so.1.3.1\nZ:Q1bbbbbbbbbbbbbbbbbbbbbbbbbbbb=\n"
      "F:usr\nF:usr/share\nF:usr/share/licenses\nF:usr/share/licenses/zlib\nM:0:0:755\nR:LICENSE\nZ:Q1cccccccccccccccccccccccccccc=\n"
      "F:usr/share/man\nR:zlib.3.gz\nZ:Q1dddddddddddddddddddddddddddd=\n";
  const std::string busybox = "C:Q1bbbbbbbbbbbbbbbbbbbbbbbbbbbb=\nP:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\n"
                              "F:bin\nR:busybox\nZ:Q1eeeeeeeeeeeeeeeeeeeeeeeeeeee=\n";
  write_file(tmp / "lib/apk/db/installed", musl + "\n" + zlib + "\n" + busybox + "\n");
  Root root = open_root(tmp.path());
  auto db = PackageDb::read(root);
  ASSERT_TRUE(db) << db.error().message();
  EXPECT_EQ(db->kind(), PackageDbKind::Apk);
  ASSERT_EQ(db->packages().size(), 3u);
  const Package* z = db->find("zlib");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->version, "1.3.1-r1");
  EXPECT_EQ(z->architecture, "x86_64");
  EXPECT_EQ(z->source, "zlib-src");
  EXPECT_EQ(z->apk_checksum, "Q1zzzzzzzzzzzzzzzzzzzzzzzzzzzz=");
  EXPECT_EQ(z->field("L"), "Zlib");
  EXPECT_EQ(db->owner("/lib/libz.so.1.3.1"), z);
  EXPECT_EQ(db->owner("/usr/share/licenses/zlib/LICENSE"), z);

  FileSet set;
  ASSERT_TRUE(set.add(root, "/lib/libz.so.1", Reason{ReasonKind::Needed, "needed by /app"}));
  ASSERT_TRUE(apply_package_selection(set, root, *db, {}));
  EXPECT_NE(set.find("/etc/alpine-release"), nullptr);
  EXPECT_NE(set.find("/usr/lib/os-release"), nullptr);
  PackageReport rep = account_packages(set, root, *db);
  EXPECT_EQ(rep.dropped_entirely, (std::vector<std::string>{"musl", "busybox"}));
  // As the database lists them: the man page was never installed (not checked on disk).
  EXPECT_EQ(usage_of(rep, "zlib")->dropped,
            (std::vector<std::string>{"/usr/share/licenses/zlib/LICENSE", "/usr/share/man/zlib.3.gz"}));
  EXPECT_EQ(usage_of(rep, "musl")->dropped_bytes, 600000u);  // its I: field

  ASSERT_TRUE(add_package_metadata(set, root, *db, rep));
  const Entry* installed = set.find("/lib/apk/db/installed");
  ASSERT_NE(installed, nullptr);
  EXPECT_EQ(installed->content,
            "C:Q1zzzzzzzzzzzzzzzzzzzzzzzzzzzz=\nP:zlib\nV:1.3.1-r1\nA:x86_64\nS:50000\nI:100000\nT:compression library\n"
            "U:https://zlib.net/\nL:Zlib\no:zlib-src\nm:Maintainer <m@example.org>\nt:1700000000\nc:def\nD:so:libc.musl-x86_64.so.1\n"
            "p:so:libz.so.1=1.3.1\n"
            "F:lib\nR:libz.so.1\nZ:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaaa=\nR:libz.so.1.3.1\nZ:Q1bbbbbbbbbbbbbbbbbbbbbbbbbbbb=\n\n");
  // It parses back as a database of the one package.
  auto back = PackageDb::parse_apk_installed(installed->content, "installed");
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].files.size(), 3u);  // F:lib and its two files
}

TEST(Packages, CorruptApkDatabaseIsAnError) {
  auto r = PackageDb::parse_apk_installed("P:zlib\nV:1\nnot a record line\n", "/lib/apk/db/installed");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "parse `/lib/apk/db/installed`: line 3: expected \"K:value\", got \"not a record line\"");
  auto r2 = PackageDb::parse_apk_installed("V:1\nA:x86_64\n", "/lib/apk/db/installed");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message(), "parse `/lib/apk/db/installed`: line 1: record without a P: (package name) line");
}

TEST(Packages, DocPaths) {
  EXPECT_TRUE(is_doc_path("/usr/share/doc/libc6/changelog.Debian.gz"));
  EXPECT_TRUE(is_doc_path("/usr/share/man/man1/ls.1.gz"));
  EXPECT_TRUE(is_doc_path("/usr/share/info/coreutils.info.gz"));
  EXPECT_FALSE(is_doc_path("/usr/share/doc/libc6/copyright"));
  EXPECT_FALSE(is_doc_path("/usr/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_EQ(parse_granularity("module"), Granularity::Module);
  EXPECT_EQ(parse_granularity("files"), std::nullopt);
}

// The host's own dpkg database: every owner and version agrees with dpkg-query. (How long reading
// it takes is a question for scripts/bench, not a timed assertion here.)
TEST(HostDpkg, OwnersAndVersionsAgreeWithDpkgQuery) {
  if (!testing::have_program("dpkg-query")) GTEST_SKIP() << "not a dpkg system";
  auto root = Root::open("/");
  ASSERT_TRUE(root);
  auto db = PackageDb::read(*root);
  ASSERT_TRUE(db) << db.error().message();
  ASSERT_EQ(db->kind(), PackageDbKind::Dpkg);
  // libc.so.6 as the loader finds it, a canonical path (under /usr/lib on merged-/usr).
  auto libc = root->resolve("/lib/x86_64-linux-gnu/libc.so.6");
  if (!libc) GTEST_SKIP() << "no x86_64 libc";
  const Package* owner = db->owner(libc->path);
  ASSERT_NE(owner, nullptr) << libc->path;
  // dpkg-query -S knows the listed path only ("libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6").
  auto q2 = run({"dpkg-query", "-S", "/lib/x86_64-linux-gnu/libc.so.6"});
  ASSERT_EQ(q2.status, 0) << q2.err;
  EXPECT_EQ(q2.out.substr(0, q2.out.find(':')), owner->name);
  auto v = run({"dpkg-query", "-W", "-f", "${Version} ${Architecture} ${source:Package}", owner->key});
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(v.out, owner->version + " " + owner->architecture + " " + owner->source);
  // Every package dpkg-query lists as installed is in the database with the same version.
  auto all = run({"dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${binary:Package}|${Version}\n"});
  ASSERT_EQ(all.status, 0);
  std::istringstream in(all.out);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("ii ", 0) != 0) continue;
    auto a = line.find('|'), b = line.rfind('|');
    std::string name = line.substr(a + 1, b - a - 1);
    const Package* p = db->find(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_EQ(p->version, line.substr(b + 1)) << name;
    ++n;
  }
  EXPECT_GT(n, 10u);
}

}  // namespace
}  // namespace minify
