// What a trace proves, through `minify pack` on real programs: a file the program found by
// listing its directory and only stat'ed is left out (report.json "walked", `minify why`);
// a stat of a name the program gave, and an open after a listing, still ship the file;
// --keep-walked ships the walk.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include <nlohmann/json.hpp>

#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::minify_bin;
using testing::run;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

// The program as the system has it, or "" (the test skips).
std::string system_program(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/bin/"})
    if (::access((dir + name).c_str(), X_OK) == 0) return dir + name;
  return "";
}

class Walked : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the sandboxed verify run needs root here";
    if (!testing::have_program("cc")) GTEST_SKIP() << "no C compiler";
    // The verify run is the image's user: the temporary directory must be traversable (mkdtemp's 0700 is not).
    fs::permissions(tmp_.path(), fs::perms(0755));
    data_ = fs::canonical(tmp_.path()) / "data";
    // Files compiled at test time: real ELF objects of real sizes, and one large file.
    for (int i = 0; i < 4; ++i)
      ASSERT_EQ(compile_c(data_ / ("tool" + std::to_string(i)), "int main(void) { return " + std::to_string(i) + "; }"), "");
    write_file(data_ / "sub/notes.txt", std::string(4096, 'n'));
    write_file(data_ / "big.bin", std::string(3 << 20, 'b'));
    out_ = fs::canonical(tmp_.path()) / "out";
  }

  testing::RunResult pack(std::vector<std::string> args) {
    std::vector<std::string> argv = {minify_bin(), "pack", "-o", out_.string(), "--base", "scratch"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }

  nlohmann::json report() { return nlohmann::json::parse(testing::read_file(out_ / "report.json")); }

  static std::set<std::string> walked_paths(const nlohmann::json& r) {
    std::set<std::string> out;
    if (r.contains("walked"))
      for (const auto& w : r["walked"]["entries"]) out.insert(w["path"].get<std::string>());
    return out;
  }

  bool shipped(const fs::path& p) { return fs::exists(out_ / "rootfs" / p.relative_path()); }

  TempDir tmp_;
  fs::path data_, out_;
};

TEST_F(Walked, FindShipsItsClosureAndTheDirectoriesNotTheFiles) {
  std::string find = system_program("find");
  if (find.empty()) GTEST_SKIP() << "no find";
  auto r = pack({find, data_.string(), "-type", "f", "-size", "+2M"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(shipped(find));
  EXPECT_TRUE(fs::is_directory(out_ / "rootfs" / data_.relative_path() / "sub"));
  auto rep = report();
  std::set<std::string> walked = walked_paths(rep);
  for (const char* f : {"tool0", "tool1", "tool2", "tool3", "big.bin", "sub/notes.txt"}) {
    EXPECT_FALSE(shipped(data_ / f)) << f;
    EXPECT_TRUE(walked.contains((data_ / f).string())) << f << "\n" << rep["walked"].dump(2);
  }
  for (const auto& w : rep["walked"]["entries"]) {
    if (w["path"] == (data_ / "sub/notes.txt").string()) {
      EXPECT_EQ(w["listed"], (data_ / "sub").string());
    }
  }
  EXPECT_GE(rep["walked"]["bytes"].get<uint64_t>(), uint64_t{3 << 20});
  EXPECT_NE(r.err.find("minify: verify: ok"), std::string::npos) << r.err;
  // compile_c leaves each tool's source beside it: walked too.
  EXPECT_EQ(rep["walked"]["files"].get<size_t>(), walked.size());
  EXPECT_GE(walked.size(), 6u);
  EXPECT_NE(r.err.find("left out " + std::to_string(walked.size()) + " files"), std::string::npos) << r.err;

  auto why = run({minify_bin(), "why", "-o", out_.string(), (data_ / "big.bin").string()});
  EXPECT_EQ(why.status, 0) << why.err;
  EXPECT_NE(why.out.find("walked, not used: found by listing " + data_.string()), std::string::npos) << why.out;
}

TEST_F(Walked, LinksFoundByListingAreWalkedWithTheirTargets) {
  // find -L stats every entry through its links, as PHP's timezone index stats the zone aliases
  // of /usr/share/zoneinfo: a link to a file is walked past, and the file it leads to is not
  // shipped through it (even outside the walked tree); a link to a directory stays.
  std::string find = system_program("find");
  if (find.empty()) GTEST_SKIP() << "no find";
  fs::path far = data_.parent_path() / "elsewhere/zone.bin";
  write_file(far, std::string(1 << 20, 'z'));
  fs::create_directories(data_ / "links");
  fs::create_symlink("../big.bin", data_ / "links/alias");
  fs::create_symlink(far, data_ / "links/far");
  fs::create_symlink("../sub", data_ / "links/subdir");
  auto r = pack({find, "-L", (data_ / "links").string(), "-type", "f", "-size", "+20M"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("minify: verify: ok"), std::string::npos) << r.err;
  fs::path rootfs = out_ / "rootfs";
  EXPECT_FALSE(fs::is_symlink(rootfs / data_.relative_path() / "links/alias"));
  EXPECT_FALSE(fs::is_symlink(rootfs / data_.relative_path() / "links/far"));
  EXPECT_FALSE(shipped(data_ / "big.bin"));
  EXPECT_FALSE(shipped(far));
  EXPECT_TRUE(fs::is_symlink(rootfs / data_.relative_path() / "links/subdir"));
  auto rep = report();
  std::set<std::string> walked = walked_paths(rep);
  // (sub/notes.txt, stat'ed as links/subdir/notes.txt, is not yet counted as walked: the tracer
  // records the listing of the directory under its own name, data/sub, not the link's.)
  for (const char* f : {"links/alias", "links/far"}) EXPECT_TRUE(walked.contains((data_ / f).string())) << f << "\n" << rep["walked"].dump(2);

  // Opened through the link after the listing: the link and its target ship.
  auto cat = run({minify_bin(), "pack", "-o", (out_.string() + "-cat"), "--base", "scratch", "--no-verify", "/bin/sh", "-c",
                  "find -L " + (data_ / "links").string() + " -type f -size +20M; cat " + (data_ / "links/far").string() + " >/dev/null"});
  ASSERT_EQ(cat.status, 0) << cat.err;
  EXPECT_TRUE(fs::is_symlink(fs::path(out_.string() + "-cat") / "rootfs" / data_.relative_path() / "links/far"));
  EXPECT_TRUE(fs::exists(fs::path(out_.string() + "-cat") / "rootfs" / far.relative_path()));
}

TEST_F(Walked, KeepWalkedShipsTheWalk) {
  std::string find = system_program("find");
  if (find.empty()) GTEST_SKIP() << "no find";
  auto r = pack({"--keep-walked", find, data_.string(), "-type", "f", "-size", "+2M"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(shipped(data_ / "big.bin"));
  EXPECT_TRUE(shipped(data_ / "sub/notes.txt"));
  EXPECT_TRUE(walked_paths(report()).empty());
}

TEST_F(Walked, AStatOfANameTheProgramGaveShipsTheFile) {
  std::string test = system_program("test");
  if (test.empty()) GTEST_SKIP() << "no test(1)";
  auto r = pack({test, "-e", (data_ / "sub/notes.txt").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(shipped(data_ / "sub/notes.txt"));
  EXPECT_TRUE(walked_paths(report()).empty());
}

TEST_F(Walked, AFileOpenedAfterListingShips) {
  // Lists the directory, stats every entry, then reads the one it wants.
  fs::path prog = data_.parent_path() / "picker";
  ASSERT_EQ(compile_c(prog, R"(
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char** argv) {
  DIR* d = opendir(argv[1]);
  if (!d) return 2;
  struct dirent* e;
  char want[4096] = "";
  while ((e = readdir(d))) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", argv[1], e->d_name);
    if (e->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode) && strcmp(e->d_name, "tool2") == 0)
      strcpy(want, p);
  }
  closedir(d);
  char buf[16];
  int fd = open(want, O_RDONLY);
  return fd >= 0 && read(fd, buf, 4) == 4 ? 0 : 1;
}
)"),
            "");
  auto r = pack({prog.string(), data_.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(shipped(data_ / "tool2"));
  EXPECT_FALSE(shipped(data_ / "tool1"));
  EXPECT_FALSE(shipped(data_ / "big.bin"));
  std::set<std::string> walked = walked_paths(report());
  EXPECT_FALSE(walked.contains((data_ / "tool2").string()));
  EXPECT_TRUE(walked.contains((data_ / "tool1").string()));
}

TEST_F(Walked, PythonSourcesOfTheCachedModulesItReadShip) {
  // importlib lists each directory on sys.path, stats a module's .py for the mtime its
  // __pycache__ .pyc records and reads the .pyc: the .py is found by listing and only stat'ed,
  // and the import fails without it.
  std::string python = system_program("python3");
  if (python.empty()) GTEST_SKIP() << "no python3";
  fs::path app = data_ / "app";
  write_file(app / "helper.py", "VALUE = 42\n");
  auto compiled = run({python, "-c", "import py_compile; py_compile.compile('" + (app / "helper.py").string() + "')"});
  ASSERT_EQ(compiled.status, 0) << compiled.err;
  auto r = pack({"--env", "PYTHONPATH=" + app.string(), python, "-c", "import helper; print(helper.VALUE)"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("minify: verify: ok"), std::string::npos) << r.err;
  auto trace = nlohmann::json::parse(testing::read_file(out_ / "trace.json"));
  ASSERT_TRUE(trace["paths"].contains((app / "helper.py").string()));
  EXPECT_TRUE(trace["paths"][(app / "helper.py").string()].value("found_by_listing", false));
  EXPECT_TRUE(shipped(app / "helper.py"));
  EXPECT_FALSE(walked_paths(report()).contains((app / "helper.py").string()));
}

}  // namespace
}  // namespace minify
