// `minify deps` end to end: output formats, exit codes, one-line errors, and agreement with
// ld.so itself over every ELF file of the machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::minify_bin;
using testing::run;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class DepsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(compile_c(tmp_ / "lib/libgreet.so", "int greet(void) { return 0; }",
                        {"-shared", "-fPIC", "-Wl,-soname,libgreet.so.1"}),
              "");
    fs::rename(tmp_ / "lib/libgreet.so", tmp_ / "lib/libgreet.so.1");
    ASSERT_EQ(compile_c(tmp_ / "bin/hello", "int greet(void); int main(void) { return greet(); }",
                        {"-Wl,--no-as-needed", (tmp_ / "lib/libgreet.so.1").string(), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"}),
              "");
  }
  TempDir tmp_;
};

TEST_F(DepsCli, ListIsSortedAbsoluteAndIncludesTheInterpreter) {
  auto r = run({minify_bin(), "deps", "--list", (tmp_ / "bin/hello").string(), "/bin/true"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto l = lines(r.out);
  EXPECT_TRUE(std::is_sorted(l.begin(), l.end()));
  EXPECT_EQ(std::set<std::string>(l.begin(), l.end()).size(), l.size());
  EXPECT_NE(std::find(l.begin(), l.end(), "/lib64/ld-linux-x86-64.so.2"), l.end());
  EXPECT_NE(std::find(l.begin(), l.end(), (tmp_ / "bin/../lib/libgreet.so.1").string()), l.end());
  EXPECT_EQ(std::find(l.begin(), l.end(), (tmp_ / "bin/hello").string()), l.end());
  for (const auto& p : l) EXPECT_EQ(p.front(), '/') << p;
}

TEST_F(DepsCli, RealpathListResolvesLinks) {
  auto r = run({minify_bin(), "deps", "--list", "--realpath", (tmp_ / "bin/hello").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto l = lines(r.out);
  EXPECT_NE(std::find(l.begin(), l.end(), (tmp_ / "lib/libgreet.so.1").string()), l.end());
  EXPECT_NE(std::find(l.begin(), l.end(), fs::canonical("/lib64/ld-linux-x86-64.so.2").string()), l.end());
}

TEST_F(DepsCli, TreeSaysHowEachLibraryWasFound) {
  auto r = run({minify_bin(), "deps", "--tree", (tmp_ / "bin/hello").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("libgreet.so.1 => " + (tmp_ / "bin/../lib/libgreet.so.1").string() + " [runpath]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 [ld.so.cache]"), std::string::npos) << r.out;
}

TEST_F(DepsCli, JsonDescribesEveryFile) {
  auto r = run({minify_bin(), "deps", "--json", (tmp_ / "bin/hello").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["files"].size(), 1u);
  const auto& f = doc["files"][0];
  EXPECT_EQ(f["class"], "ELF64");
  EXPECT_EQ(f["machine"], "x86-64");
  EXPECT_EQ(f["type"], "DYN");
  EXPECT_EQ(f["linkage"], "dynamic");
  EXPECT_EQ(f["loader"], "glibc");
  EXPECT_EQ(f["interpreter"], "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(f["runpath"]["written"], "$ORIGIN/../lib");
  EXPECT_EQ(f["runpath"]["expanded"][0], (tmp_ / "bin/../lib").string());
  EXPECT_TRUE(f["rpath"].is_null());
  EXPECT_EQ(f["needed"][0], "libgreet.so.1");
  bool greet = false;
  for (const auto& l : f["libraries"])
    if (l["name"] == "libgreet.so.1") {
      greet = true;
      EXPECT_EQ(l["found_by"], "runpath");
      EXPECT_EQ(l["needed_by"][0], (tmp_ / "bin/hello").string());
      EXPECT_EQ(l["real_path"], (tmp_ / "lib/libgreet.so.1").string());
    }
  EXPECT_TRUE(greet);
  EXPECT_TRUE(f["unresolved"].empty());
}

TEST_F(DepsCli, MissingLibraryExitsOneAndNamesWhoNeededIt) {
  fs::remove(tmp_ / "lib/libgreet.so.1");
  auto r = run({minify_bin(), "deps", "--list", (tmp_ / "bin/hello").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "minify: libgreet.so.1: not found (needed by " + (tmp_ / "bin/hello").string() + ")\n");
  auto j = run({minify_bin(), "deps", "--json", (tmp_ / "bin/hello").string()});
  EXPECT_EQ(j.status, 1);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["files"][0]["unresolved"][0]["name"], "libgreet.so.1");
}

TEST_F(DepsCli, LdLibraryPathComesOnlyFromEnvOption) {
  fs::create_directories(tmp_ / "elsewhere");
  fs::rename(tmp_ / "lib/libgreet.so.1", tmp_ / "elsewhere/libgreet.so.1");
  // minify's own environment must not count: the image will not have it.
  auto r = run({minify_bin(), "deps", "--list", (tmp_ / "bin/hello").string()},
               {"LD_LIBRARY_PATH=" + (tmp_ / "elsewhere").string()});
  EXPECT_EQ(r.status, 1);
  auto r2 = run({minify_bin(), "deps", "--list", "--env", "LD_LIBRARY_PATH=" + (tmp_ / "elsewhere").string(),
                 (tmp_ / "bin/hello").string()});
  EXPECT_EQ(r2.status, 0) << r2.err;
  EXPECT_NE(r2.out.find((tmp_ / "elsewhere/libgreet.so.1").string()), std::string::npos);
}

TEST_F(DepsCli, RootPrintsPathsAsSeenInside) {
  fs::path root = tmp_ / "root";
  fs::create_directories(root / "usr/lib/x86_64-linux-gnu");
  fs::create_directories(root / "lib64");
  fs::create_directories(root / "app");
  fs::copy_file("/lib/x86_64-linux-gnu/libc.so.6", root / "usr/lib/x86_64-linux-gnu/libc.so.6");
  fs::copy_file("/lib64/ld-linux-x86-64.so.2", root / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  fs::create_symlink("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", root / "lib64/ld-linux-x86-64.so.2");
  fs::create_symlink("usr/lib", root / "lib");
  fs::copy_file(tmp_ / "lib/libgreet.so.1", root / "usr/lib/x86_64-linux-gnu/libgreet.so.1");
  fs::copy_file(tmp_ / "bin/hello", root / "app/hello");
  auto r = run({minify_bin(), "deps", "--root", root.string(), "--list", "/app/hello"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> want = {"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libgreet.so.1",
                                   "/lib64/ld-linux-x86-64.so.2"};
  EXPECT_EQ(lines(r.out), want);
}

TEST_F(DepsCli, BadInputIsOneLineAndExitTwo) {
  write_file(tmp_ / "notelf", "hello world, not an ELF file at all");
  std::string good = testing::read_file("/bin/true");
  write_file(tmp_ / "truncated", good.substr(0, 200));
  struct Case {
    std::string file, needle;
  } cases[] = {
      {(tmp_ / "notelf").string(), "not an ELF file"},
      {(tmp_ / "truncated").string(), "read ELF"},
      {(tmp_ / "missing").string(), "No such file or directory"},
      {tmp_.path().string(), "not a regular file"},
  };
  for (const auto& c : cases) {
    auto r = run({minify_bin(), "deps", "--list", c.file});
    EXPECT_EQ(r.status, 2) << c.file;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("minify: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST(DepsCliUsage, UnknownOptionIsExitTwo) {
  auto r = run({minify_bin(), "deps", "--bogus", "/bin/true"});
  EXPECT_EQ(r.status, 2);
  auto r2 = run({minify_bin(), "deps", "--list", "--json", "/bin/true"});
  EXPECT_EQ(r2.status, 2);
}

// ---- the reference: ld.so itself ---------------------------------------------------------------

// Parses ldd's output into the set of real paths it loaded ("MISSING:name" for "not found"), and
// the version check's lines ("VERSION:<object>: version `V2' not found (required by ...)", which
// ld.so prints as "<file>: <object>: <reason>"); nullopt when ldd says there is nothing to load.
std::optional<std::set<std::string>> ldd_set(const std::string& file) {
  auto r = run({"ldd", file});
  if (r.out.find("statically linked") != std::string::npos || r.out.find("not a dynamic executable") != std::string::npos ||
      r.err.find("not a dynamic executable") != std::string::npos)
    return std::nullopt;
  std::set<std::string> out;
  static const std::regex arrow(R"(^\s*(\S+) => (\S+) \(0x)"), missing(R"(^\s*(\S+) => not found)"),
      bare(R"(^\s*(/\S+) \(0x)");
  for (const auto& l : lines(r.out + r.err)) {
    std::smatch m;
    if (l.find("linux-vdso") != std::string::npos) continue;
    if (l.rfind(file + ": ", 0) == 0) {
      for (const char* what : {"version `", "no version information available", " record", "DT_RELR without"})
        if (l.find(what) != std::string::npos) {
          out.insert("VERSION:" + l.substr(file.size() + 2));
          break;
        }
    } else if (std::regex_search(l, m, arrow)) {
      out.insert(fs::weakly_canonical(m[2].str()).string());
    } else if (std::regex_search(l, m, missing)) {
      out.insert("MISSING:" + m[1].str());
    } else if (std::regex_search(l, m, bare)) {
      out.insert(fs::weakly_canonical(m[1].str()).string());
    }
  }
  return out;
}

// The same set from one file of `minify deps --json`.
std::set<std::string> minify_set(const nlohmann::json& f) {
  std::set<std::string> ours;
  for (const auto& l : f["libraries"]) {
    ours.insert(l["real_path"].get<std::string>());
    for (const auto& h : l["hwcaps"]) ours.insert(fs::weakly_canonical(h.get<std::string>()).string());
  }
  for (const auto& u : f["unresolved"]) ours.insert("MISSING:" + u["name"].get<std::string>());
  for (const char* key : {"unresolved_versions", "version_warnings"})
    for (const auto& v : f[key]) ours.insert("VERSION:" + v["message"].get<std::string>());
  return ours;
}

// A two-version library pair: the program links against the build defining V1 and V2 and finds
// the V1-only build at run time.
class DepsVersions : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(tmp_ / "v1.map", "V1 { global: f1; local: *; };\n");
    write_file(tmp_ / "v2.map", "V1 { global: f1; local: *; };\nV2 { global: f2; } V1;\n");
    ASSERT_EQ(compile_c(tmp_ / "build/libx.so.1", "int f1(void) { return 1; } int f2(void) { return 2; }",
                        {"-shared", "-fPIC", "-Wl,-soname,libx.so.1", "-Wl,--version-script=" + (tmp_ / "v2.map").string()}),
              "");
    ASSERT_EQ(compile_c(tmp_ / "bin/lib/libx.so.1", "int f1(void) { return 1; }",
                        {"-shared", "-fPIC", "-Wl,-soname,libx.so.1", "-Wl,--version-script=" + (tmp_ / "v1.map").string()}),
              "");
    ASSERT_EQ(compile_c(prog_, "int f2(void); int main(void) { return f2() - 2; }",
                        {"-Wl,--no-as-needed", (tmp_ / "build/libx.so.1").string(), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib"}),
              "");
  }
  TempDir tmp_;
  fs::path prog_ = tmp_ / "bin/prog";
};

TEST_F(DepsVersions, MissingVersionExitsOneInLdSosWords) {
  std::string line = (tmp_ / "bin/lib/libx.so.1").string() + ": version `V2' not found (required by " + prog_.string() + ")";
  auto r = run({minify_bin(), "deps", "--list", prog_.string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "minify: " + line + "\n");
  EXPECT_NE(r.out.find((tmp_ / "bin/lib/libx.so.1").string()), std::string::npos);

  auto j = run({minify_bin(), "deps", "--json", prog_.string()});
  EXPECT_EQ(j.status, 1);
  auto f = nlohmann::json::parse(j.out)["files"][0];
  ASSERT_EQ(f["unresolved_versions"].size(), 1u);
  EXPECT_EQ(f["unresolved_versions"][0]["version"], "V2");
  EXPECT_EQ(f["unresolved_versions"][0]["file"], "libx.so.1");
  EXPECT_EQ(f["unresolved_versions"][0]["path"], (tmp_ / "bin/lib/libx.so.1").string());
  EXPECT_EQ(f["unresolved_versions"][0]["required_by"], prog_.string());
  EXPECT_EQ(f["unresolved_versions"][0]["message"], line);
  EXPECT_TRUE(f["unresolved"].empty());

  // ld.so agrees: run, it refuses to start with the same line; under ldd it reports it too.
  auto ran = run({prog_.string()});
  EXPECT_EQ(ran.status, 1);
  EXPECT_EQ(ran.err, prog_.string() + ": " + line + "\n");
  auto theirs = ldd_set(prog_.string());
  ASSERT_TRUE(theirs);
  EXPECT_EQ(*theirs, minify_set(f));
}

TEST_F(DepsVersions, SatisfiedVersionsExitZero) {
  fs::copy_file(tmp_ / "build/libx.so.1", tmp_ / "bin/lib/libx.so.1", fs::copy_options::overwrite_existing);
  auto r = run({minify_bin(), "deps", "--json", prog_.string()});
  EXPECT_EQ(r.status, 0) << r.err;
  auto f = nlohmann::json::parse(r.out)["files"][0];
  EXPECT_TRUE(f["unresolved_versions"].empty());
  EXPECT_TRUE(f["version_warnings"].empty());
  EXPECT_EQ(run({prog_.string()}).status, 0);
}

TEST_F(DepsVersions, InspectReportsTheMissingVersion) {
  auto r = run({minify_bin(), "inspect", "--json", "--no-libraries", prog_.string()});
  EXPECT_EQ(r.status, 1);
  std::string line = (tmp_ / "bin/lib/libx.so.1").string() + ": version `V2' not found (required by " + prog_.string() + ")";
  EXPECT_NE(r.err.find("minify: " + line + "\n"), std::string::npos) << r.err;
  auto f = nlohmann::json::parse(r.out)["files"][0];
  ASSERT_EQ(f["missing_versions"].size(), 1u);
  EXPECT_EQ(f["missing_versions"][0], line);
}

TEST(DepsAgainstLdSo, EveryElfFileOfTheMachineAgrees) {
  // Every ELF executable and shared library in /usr/bin and the multiarch library directory.
  // ldd is run on the real path: started through a symlink, ld.so --list takes $ORIGIN from the
  // link, while the kernel's exec (and minify) take it from the real file.
  std::vector<std::string> files;
  for (const char* d : {"/usr/bin", "/usr/lib/x86_64-linux-gnu"}) {
    for (const auto& e : fs::directory_iterator(d)) {
      std::error_code ec;
      if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
      std::string head = testing::read_file(e.path()).substr(0, 4);
      if (head == "\x7f" "ELF") files.push_back(e.path().string());
    }
  }
  ASSERT_GT(files.size(), 100u);
  std::vector<std::string> argv = {minify_bin(), "deps", "--json"};
  argv.insert(argv.end(), files.begin(), files.end());
  auto r = run(argv);
  ASSERT_LE(r.status, 1) << r.err.substr(0, 2000);
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["files"].size(), files.size());
  int agree = 0;
  std::vector<std::string> disagreements;
  for (size_t i = 0; i < files.size(); ++i) {
    std::set<std::string> ours = minify_set(doc["files"][i]);
    auto theirs = ldd_set(files[i]);
    bool same = theirs ? *theirs == ours : ours.empty();
    if (same) {
      ++agree;
    } else {
      std::string d = files[i] + ": ldd {";
      for (const auto& p : theirs.value_or(std::set<std::string>{})) d += p + " ";
      d += "} minify {";
      for (const auto& p : ours) d += p + " ";
      disagreements.push_back(d + "}");
    }
  }
  std::cout << "[ agreement ] " << agree << " of " << files.size() << " ELF files resolve exactly as ld.so does\n";
  RecordProperty("agree", agree);
  RecordProperty("files", static_cast<int>(files.size()));
  EXPECT_EQ(agree, static_cast<int>(files.size()));
  for (size_t i = 0; i < std::min<size_t>(disagreements.size(), 20); ++i) ADD_FAILURE() << disagreements[i];
}

}  // namespace
}  // namespace minify
