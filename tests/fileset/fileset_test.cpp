// FileSet: symlink chains kept component by component, directory modes, explicit and recursive
// directories, globs for --keep/--exclude, reasons, generated entries, report.json and `why`.
// Every test builds a small root in a temporary directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minify/fileset.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::TempDir;
using testing::write_file;

void make_link(const testing::fs::path& at, const std::string& target) {
  testing::fs::create_directories(at.parent_path());
  ASSERT_EQ(::symlink(target.c_str(), at.c_str()), 0) << at;
}

void set_mode(const testing::fs::path& p, mode_t mode) { ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p; }

// A merged-/usr root like Debian 12's, with an /etc/alternatives chain and an absolute link.
class FileSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& r = tmp_.path();
    write_file(r / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", std::string(1000, 'L'));
    set_mode(r / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0755);
    make_link(r / "usr/lib64/ld-linux-x86-64.so.2", "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    make_link(r / "lib64", "usr/lib64");
    make_link(r / "lib", "usr/lib");
    write_file(r / "usr/lib/x86_64-linux-gnu/libssl.so.3.0.11", "ssl");
    make_link(r / "usr/lib/x86_64-linux-gnu/libssl.so.3", "libssl.so.3.0.11");
    write_file(r / "usr/bin/vim.basic", "vim");
    set_mode(r / "usr/bin/vim.basic", 04755);
    make_link(r / "etc/alternatives/editor", "/usr/bin/vim.basic");
    make_link(r / "usr/bin/editor", "/etc/alternatives/editor");
    write_file(r / "opt/secret/data", "x");
    set_mode(r / "opt/secret", 0750);
    write_file(r / "etc/ssl/certs/ca-certificates.crt", "certs");
    make_link(r / "usr/lib/escape", "/../../../etc/ssl/certs/ca-certificates.crt");
    write_file(r / "usr/lib/python3.11/os.py", "os");
    write_file(r / "usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "pyc");
    write_file(r / "usr/lib/python3.11/json/__init__.py", "json");
    make_link(r / "usr/lib/python3.11/link-to-ssl", "../x86_64-linux-gnu/libssl.so.3");
    make_link(r / "usr/lib/python3.11/dangling", "nowhere");
    write_file(r / "usr/share/doc/x/README", "doc");
    auto root = Root::open(r.string());
    ASSERT_TRUE(root) << root.error().message();
    root_.emplace(std::move(*root));
  }

  const Root& root() const { return *root_; }

  TempDir tmp_;
  std::optional<Root> root_;
  FileSet set_;
};

TEST_F(FileSetTest, EverySymlinkOnTheWayIsKeptComponentByComponent) {
  auto r = set_.add(root(), "/lib64/ld-linux-x86-64.so.2", {ReasonKind::Interpreter, "of /usr/bin/curl"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, AddOutcome::Added);
  const Entry* lib64 = set_.find("/lib64");
  ASSERT_NE(lib64, nullptr);
  EXPECT_EQ(lib64->type, EntryType::Symlink);
  EXPECT_EQ(lib64->link_target, "usr/lib64");
  const Entry* mid = set_.find("/usr/lib64/ld-linux-x86-64.so.2");
  ASSERT_NE(mid, nullptr);
  EXPECT_EQ(mid->type, EntryType::Symlink);
  EXPECT_EQ(mid->link_target, "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  const Entry* file = set_.find("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->type, EntryType::File);
  EXPECT_EQ(file->mode, 0755u);
  EXPECT_EQ(file->size, 1000u);
  EXPECT_EQ(file->names, std::vector<std::string>{"/lib64/ld-linux-x86-64.so.2"});
  ASSERT_EQ(file->reasons.size(), 1u);
  EXPECT_EQ(file->reasons[0], (Reason{ReasonKind::Interpreter, "of /usr/bin/curl"}));
  EXPECT_EQ(lib64->reasons[0].kind, ReasonKind::SymlinkOnTheWay);
  for (const char* d : {"/usr", "/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu"}) {
    const Entry* e = set_.find(d);
    ASSERT_NE(e, nullptr) << d;
    EXPECT_EQ(e->type, EntryType::Directory) << d;
    EXPECT_EQ(e->reasons.at(0).kind, ReasonKind::Directory) << d;
  }
  EXPECT_EQ(set_.size(), 7u);
}

TEST_F(FileSetTest, SonameLinkKeptAsLinkAndFileUnderItsRealName) {
  ASSERT_TRUE(set_.add(root(), "/lib/x86_64-linux-gnu/libssl.so.3", {ReasonKind::Needed, "needed by /usr/bin/curl"}));
  EXPECT_EQ(set_.find("/lib")->link_target, "usr/lib");
  EXPECT_EQ(set_.find("/usr/lib/x86_64-linux-gnu/libssl.so.3")->link_target, "libssl.so.3.0.11");
  const Entry* f = set_.find("/usr/lib/x86_64-linux-gnu/libssl.so.3.0.11");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->names, std::vector<std::string>{"/lib/x86_64-linux-gnu/libssl.so.3"});
}

TEST_F(FileSetTest, AlternativesChainKeepsEveryLinkAsWritten) {
  ASSERT_TRUE(set_.add(root(), "/usr/bin/editor", {ReasonKind::Exec, "exec'd by /bin/sh"}));
  EXPECT_EQ(set_.find("/usr/bin/editor")->link_target, "/etc/alternatives/editor");
  EXPECT_EQ(set_.find("/etc/alternatives/editor")->link_target, "/usr/bin/vim.basic");
  const Entry* vim = set_.find("/usr/bin/vim.basic");
  ASSERT_NE(vim, nullptr);
  EXPECT_EQ(vim->mode, 04755u) << "setuid bit kept";
  EXPECT_EQ(set_.find("/etc/alternatives")->type, EntryType::Directory);
}

TEST_F(FileSetTest, AbsoluteAndDotDotLinksStayInsideTheRoot) {
  auto r = set_.add(root(), "/usr/lib/escape", {ReasonKind::Opened, "opened by /usr/bin/curl"});
  ASSERT_TRUE(r) << r.error().message();
  const Entry* f = set_.find("/etc/ssl/certs/ca-certificates.crt");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->size, 5u) << "the root's file, not the host's";
  EXPECT_EQ(set_.find("/usr/lib/escape")->link_target, "/../../../etc/ssl/certs/ca-certificates.crt");
}

TEST_F(FileSetTest, DirectoryModesAreKept) {
  ASSERT_TRUE(set_.add(root(), "/opt/secret/data", {ReasonKind::Opened, "x"}));
  EXPECT_EQ(set_.find("/opt/secret")->mode, 0750u);
  EXPECT_EQ(set_.find("/opt")->mode, 0755u);
}

TEST_F(FileSetTest, ExplicitDirectoryIsEmptyUnlessRecursive) {
  ASSERT_TRUE(set_.add(root(), "/usr/lib/python3.11", {ReasonKind::Opened, "opened by python"}));
  EXPECT_EQ(set_.find("/usr/lib/python3.11")->type, EntryType::Directory);
  EXPECT_EQ(set_.find("/usr/lib/python3.11")->reasons.at(0).kind, ReasonKind::Opened);
  EXPECT_EQ(set_.find("/usr/lib/python3.11/os.py"), nullptr);
  ASSERT_TRUE(set_.add(root(), "/usr/lib/python3.11", {ReasonKind::Kept, "--keep"}, true));
  EXPECT_NE(set_.find("/usr/lib/python3.11/os.py"), nullptr);
  EXPECT_NE(set_.find("/usr/lib/python3.11/json/__init__.py"), nullptr);
  // Links inside the tree stay links and bring their targets; dangling ones stay dangling.
  EXPECT_EQ(set_.find("/usr/lib/python3.11/link-to-ssl")->type, EntryType::Symlink);
  EXPECT_NE(set_.find("/usr/lib/x86_64-linux-gnu/libssl.so.3.0.11"), nullptr);
  EXPECT_EQ(set_.find("/usr/lib/python3.11/dangling")->link_target, "nowhere");
}

TEST_F(FileSetTest, ProcSysDevNeverEnter) {
  auto host = Root::open("/");
  ASSERT_TRUE(host);
  for (const char* p : {"/proc/self/status", "/sys/kernel", "/dev/null", "/proc"}) {
    auto r = set_.add(*host, p, {ReasonKind::Opened, "x"});
    ASSERT_TRUE(r) << p << ": " << r.error().message();
    EXPECT_EQ(*r, AddOutcome::Excluded) << p;
  }
  EXPECT_TRUE(set_.empty());
  EXPECT_FALSE(set_.is_excluded("/device"));
  EXPECT_FALSE(set_.is_excluded("/usr/dev"));
}

TEST_F(FileSetTest, SpecialFilesAreUnsupported) {
  ASSERT_EQ(::mkfifo((tmp_.path() / "fifo").c_str(), 0644), 0);
  auto r = set_.add(root(), "/fifo", {ReasonKind::Opened, "x"});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, AddOutcome::Unsupported);
  EXPECT_TRUE(set_.empty());
}

TEST_F(FileSetTest, MissingPathIsAnError) {
  auto r = set_.add(root(), "/usr/lib/nope.so", {ReasonKind::Needed, "x"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ENOENT);
}

TEST_F(FileSetTest, ReasonsAccumulateWithoutDuplicates) {
  ASSERT_TRUE(set_.add(root(), "/usr/lib/x86_64-linux-gnu/libssl.so.3", {ReasonKind::Needed, "needed by /usr/bin/a"}));
  ASSERT_TRUE(set_.add(root(), "/usr/lib/x86_64-linux-gnu/libssl.so.3", {ReasonKind::Needed, "needed by /usr/bin/b"}));
  ASSERT_TRUE(set_.add(root(), "/usr/lib/x86_64-linux-gnu/libssl.so.3", {ReasonKind::Needed, "needed by /usr/bin/a"}));
  ASSERT_TRUE(set_.add(root(), "/usr/lib/x86_64-linux-gnu/libssl.so.3.0.11", {ReasonKind::Opened, "opened by c"}));
  const Entry* f = set_.find("/usr/lib/x86_64-linux-gnu/libssl.so.3.0.11");
  ASSERT_EQ(f->reasons.size(), 3u);
  EXPECT_EQ(f->reasons[1].detail, "needed by /usr/bin/b");
  EXPECT_EQ(f->names, (std::vector<std::string>{"/usr/lib/x86_64-linux-gnu/libssl.so.3",
                                                "/usr/lib/x86_64-linux-gnu/libssl.so.3.0.11"}));
  // A directory asked for by itself loses its implicit "on the way" reason.
  ASSERT_TRUE(set_.add(root(), "/usr/lib", {ReasonKind::Kept, "--keep /usr/lib"}));
  ASSERT_EQ(set_.find("/usr/lib")->reasons.size(), 1u);
  EXPECT_EQ(set_.find("/usr/lib")->reasons[0].kind, ReasonKind::Kept);
}

TEST_F(FileSetTest, RecursiveAddMarksCompleteTreesUntilSomethingIsLeftOut) {
  ASSERT_TRUE(set_.keep(root(), "/usr/lib/python3.11", {ReasonKind::Kept, "--keep"}));
  EXPECT_TRUE(set_.find("/usr/lib/python3.11")->complete_tree);
  EXPECT_TRUE(set_.find("/usr/lib/python3.11/json")->complete_tree);
  EXPECT_FALSE(set_.find("/usr/lib")->complete_tree) << "only a parent on the way";
  set_.exclude("__pycache__");
  EXPECT_FALSE(set_.find("/usr/lib/python3.11")->complete_tree);
  EXPECT_TRUE(set_.find("/usr/lib/python3.11/json")->complete_tree);
  set_.remove("/usr/lib/python3.11/json/__init__.py");
  EXPECT_FALSE(set_.find("/usr/lib/python3.11/json")->complete_tree);
  // A socket or FIFO inside cannot be carried: the tree is not whole.
  ASSERT_EQ(::mkfifo((tmp_.path() / "usr/share/doc/x/fifo").c_str(), 0644), 0);
  ASSERT_TRUE(set_.keep(root(), "/usr/share/doc", {ReasonKind::Kept, "--keep"}));
  EXPECT_FALSE(set_.find("/usr/share/doc/x")->complete_tree);
  EXPECT_FALSE(set_.find("/usr/share/doc")->complete_tree);
  auto back = parse_report(*report_json(set_, nullptr));
  ASSERT_TRUE(back);
  for (const auto& [path, e] : set_) EXPECT_EQ(back->find(path)->complete_tree, e.complete_tree) << path;
}

TEST(GlobMatch, FnmatchPathnameSemanticsWithDoubleStar) {
  EXPECT_TRUE(glob_match("/usr/lib/*.so", "/usr/lib/libz.so"));
  EXPECT_FALSE(glob_match("/usr/*.so", "/usr/lib/libz.so")) << "* does not cross /";
  EXPECT_TRUE(glob_match("/usr/**/*.so", "/usr/lib/x/libz.so"));
  EXPECT_TRUE(glob_match("/usr/**/*.so", "/usr/libz.so")) << "** matches zero components";
  EXPECT_TRUE(glob_match("/usr/share/doc/**", "/usr/share/doc/a/b"));
  EXPECT_TRUE(glob_match("/usr/share/doc/**", "/usr/share/doc"));
  EXPECT_TRUE(glob_match("*.pyc", "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc")) << "relative: any depth";
  EXPECT_TRUE(glob_match("__pycache__", "/a/__pycache__"));
  EXPECT_FALSE(glob_match("/lib*", "/usr/lib"));
  EXPECT_TRUE(glob_match("/usr/lib/libssl.so.[0-9]", "/usr/lib/libssl.so.3"));
  EXPECT_TRUE(glob_match("/etc/?asswd", "/etc/passwd"));
}

TEST_F(FileSetTest, ExcludeGlobRemovesEntriesAndBlocksLaterAdds) {
  ASSERT_TRUE(set_.keep(root(), "/usr/lib/python3.11", {ReasonKind::Kept, "--keep /usr/lib/python3.11"}));
  EXPECT_NE(set_.find("/usr/lib/python3.11/__pycache__/os.cpython-311.pyc"), nullptr);
  size_t removed = set_.exclude("__pycache__");
  EXPECT_EQ(removed, 2u) << "the directory and the file under it";
  EXPECT_EQ(set_.find("/usr/lib/python3.11/__pycache__"), nullptr);
  EXPECT_EQ(set_.find("/usr/lib/python3.11/__pycache__/os.cpython-311.pyc"), nullptr);
  auto r = set_.add(root(), "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc", {ReasonKind::Opened, "x"});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, AddOutcome::Excluded);
  // Excluding the target of a link excludes the whole chain.
  set_.exclude("/usr/bin/vim.*");
  r = set_.add(root(), "/usr/bin/editor", {ReasonKind::Exec, "x"});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, AddOutcome::Excluded);
  EXPECT_EQ(set_.find("/usr/bin/editor"), nullptr);
}

TEST_F(FileSetTest, ExcludedOutputDirectoryNeverEnters) {
  write_file(tmp_.path() / "work/minify-out/rootfs/x", "old output");
  write_file(tmp_.path() / "work/src.c", "c");
  set_.exclude_path("/work/minify-out");
  auto n = set_.keep(root(), "/work", {ReasonKind::Kept, "--keep /work"});
  ASSERT_TRUE(n);
  EXPECT_NE(set_.find("/work/src.c"), nullptr);
  EXPECT_EQ(set_.find("/work/minify-out"), nullptr);
  EXPECT_EQ(set_.find("/work/minify-out/rootfs/x"), nullptr);
}

TEST_F(FileSetTest, KeepGlobExpandsInsideTheRoot) {
  auto n = set_.keep(root(), "/usr/lib/x86_64-linux-gnu/libssl*", {ReasonKind::Kept, "--keep"});
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(set_.find("/usr/lib/x86_64-linux-gnu/libssl.so.3")->type, EntryType::Symlink);
  EXPECT_EQ(set_.find("/usr/lib/x86_64-linux-gnu/libssl.so.3.0.11")->type, EntryType::File);
  n = set_.keep(root(), "/usr/**/*.py", {ReasonKind::Kept, "--keep"});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_NE(set_.find("/usr/lib/python3.11/json/__init__.py"), nullptr);
  n = set_.keep(root(), "/nothing/*", {ReasonKind::Kept, "--keep"});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
}

TEST_F(FileSetTest, GeneratedEntriesAndTotals) {
  ASSERT_TRUE(set_.add(root(), "/usr/bin/vim.basic", {ReasonKind::Program, ""}));
  ASSERT_TRUE(set_.add_generated("/etc/passwd", "root:x:0:0::/:/sbin/nologin\n", 0644, {ReasonKind::Generated, "scratch users"}));
  ASSERT_TRUE(set_.add_directory("/tmp", 01777, {ReasonKind::Generated, "tmp"}));
  ASSERT_TRUE(set_.add_symlink("/bin", "usr/bin", {ReasonKind::Generated, "merged /usr"}));
  const Entry* p = set_.find("/etc/passwd");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->generated);
  EXPECT_EQ(p->size, p->content.size());
  EXPECT_TRUE(set_.find("/etc")->generated);
  EXPECT_EQ(set_.find("/tmp")->mode, 01777u);
  Totals t = set_.totals();
  EXPECT_EQ(t.files, 2u);
  EXPECT_EQ(t.symlinks, 1u);
  EXPECT_EQ(t.directories, 4u);  // /etc /tmp /usr /usr/bin
  EXPECT_EQ(t.bytes, 3u + p->size);
}

TEST_F(FileSetTest, IterationIsSortedWithParentsFirst) {
  ASSERT_TRUE(set_.keep(root(), "/usr", {ReasonKind::Kept, "--keep /usr"}));
  ASSERT_TRUE(set_.add(root(), "/lib64/ld-linux-x86-64.so.2", {ReasonKind::Interpreter, "x"}));
  std::vector<std::string> paths;
  for (const auto& [path, e] : set_) paths.push_back(path);
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  for (const auto& p : paths) {
    std::string parent = dirname_of(p);
    if (parent != "/") {
      EXPECT_NE(set_.find(parent), nullptr) << p;
    }
  }
}

TEST_F(FileSetTest, WhyFollowsLinksInTheSet) {
  ASSERT_TRUE(set_.add(root(), "/lib64/ld-linux-x86-64.so.2", {ReasonKind::Interpreter, "of /usr/bin/curl"}));
  auto why = explain(set_, "/lib64/ld-linux-x86-64.so.2");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("/lib64: symlink -> usr/lib64"), std::string::npos) << *why;
  EXPECT_NE(why->find("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2: file 0755, 1000 bytes\n  interpreter: of /usr/bin/curl"),
            std::string::npos)
      << *why;
  EXPECT_FALSE(explain(set_, "/usr/bin/curl"));
  auto dir = explain(set_, "/usr/lib");
  ASSERT_TRUE(dir);
  EXPECT_NE(dir->find("directory: on the way to"), std::string::npos) << *dir;
}

TEST_F(FileSetTest, ReportRoundTripsWithSha256) {
  ASSERT_TRUE(set_.add(root(), "/usr/bin/editor", {ReasonKind::Exec, "exec'd by /bin/sh"}));
  ASSERT_TRUE(set_.add_generated("/etc/hostname", "hello\n", 0644, {ReasonKind::Generated, "g"}));
  std::string out = (tmp_.path() / "report.json").string();
  auto s = write_report(set_, &root(), out, {.with_sha256 = true});
  ASSERT_TRUE(s) << s.error().message();
  std::string text = testing::read_file(out);
  EXPECT_NE(text.find("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"), std::string::npos)
      << "sha256 of \"hello\\n\"";
  auto back = read_report(out);
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_EQ(back->size(), set_.size());
  for (const auto& [path, e] : set_) {
    const Entry* b = back->find(path);
    ASSERT_NE(b, nullptr) << path;
    EXPECT_EQ(b->type, e.type) << path;
    EXPECT_EQ(b->mode, e.mode) << path;
    EXPECT_EQ(b->size, e.size) << path;
    EXPECT_EQ(b->link_target, e.link_target) << path;
    EXPECT_EQ(b->reasons, e.reasons) << path;
    EXPECT_EQ(b->names, e.names) << path;
    EXPECT_EQ(b->generated, e.generated) << path;
  }
  EXPECT_EQ(explain(*back, "/usr/bin/editor"), explain(set_, "/usr/bin/editor"));
  EXPECT_FALSE(parse_report("{\"version\": 2}"));
  EXPECT_FALSE(parse_report("not json"));
}

}  // namespace
}  // namespace minify
