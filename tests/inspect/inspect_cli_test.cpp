// `minify inspect` from the command line: text, --json, --require-static exit codes and reasons,
// --root, and errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "inspect_support.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::minify_bin;
using testing::run;

class InspectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_program("cc")) GTEST_SKIP() << "no cc";
    ASSERT_EQ(compile_c(tmp_ / "dyn", "#include <dlfcn.h>\nint main(void) { return dlopen(\"libz.so.1\", RTLD_NOW) == 0; }"), "");
  }
  testing::TempDir tmp_;
};

TEST_F(InspectCli, TextNamesKindLibcAndDlopenTarget) {
  auto r = run({minify_bin(), "inspect", (tmp_ / "dyn").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("dynamic, ELF64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("glibc"), std::string::npos);
  EXPECT_NE(r.out.find("dlopen libz.so.1 => "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("base: distroless-base"), std::string::npos) << r.out;
}

TEST_F(InspectCli, JsonHasOneEntryPerFile) {
  testing::write_file(tmp_ / "s.sh", "#!/bin/sh\n");
  auto r = run({minify_bin(), "inspect", "--json", (tmp_ / "dyn").string(), (tmp_ / "s.sh").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["files"].size(), 2u);
  const auto& f = doc["files"][0];
  EXPECT_EQ(f["kind"], "dynamic");
  EXPECT_EQ(f["libc"], "glibc");
  EXPECT_EQ(f["dlopen"][0]["name"], "libz.so.1");
  EXPECT_EQ(f["dlopen"][0]["resolved"], true);
  EXPECT_EQ(f["truly_static"], false);
  bool libz = false;
  for (const auto& i : f["implicit_files"]) libz = libz || i["reason"].get<std::string>().rfind("dlopen libz.so.1", 0) == 0;
  EXPECT_TRUE(libz) << f["implicit_files"].dump();
  EXPECT_EQ(doc["files"][1]["kind"], "script");
  EXPECT_EQ(doc["files"][1]["script"]["interpreter"], "/bin/sh");
}

// Files are inspected on several threads; the output (text, JSON, errors, exit status) is the
// same bytes as one thread gives, in the order the files were named.
TEST_F(InspectCli, JobsKeepTheOrderAndTheBytes) {
  testing::write_file(tmp_ / "s.sh", "#!/bin/sh\n");
  std::vector<std::string> files;
  for (int i = 0; i < 40; ++i) files.push_back((tmp_ / (i % 2 ? "dyn" : "s.sh")).string());
  files.push_back((tmp_ / "missing").string());
  files.push_back("/bin/sh");
  for (const char* mode : {"--json", "--require-static"}) {
    std::vector<std::string> one = {minify_bin(), "inspect", mode, "-j1"}, four = {minify_bin(), "inspect", mode, "-j4"};
    one.insert(one.end(), files.begin(), files.end());
    four.insert(four.end(), files.begin(), files.end());
    auto a = run(one), b = run(four);
    EXPECT_EQ(a.status, 2) << a.err;
    EXPECT_EQ(b.status, a.status);
    EXPECT_EQ(b.out, a.out) << mode;
    EXPECT_EQ(b.err, a.err) << mode;
  }
  auto doc = nlohmann::json::parse(run({minify_bin(), "inspect", "--json", "-j4", files[0], files[1]}).out);
  ASSERT_EQ(doc["files"].size(), 2u);
  EXPECT_EQ(doc["files"][0]["kind"], "script");
  EXPECT_EQ(doc["files"][1]["kind"], "dynamic");
}

TEST_F(InspectCli, RequireStaticFailsForDynamicWithTheReason) {
  auto r = run({minify_bin(), "inspect", "--require-static", (tmp_ / "dyn").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not static: has a PT_INTERP"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("needs a shared library: libc.so.6"), std::string::npos) << r.err;
}

TEST_F(InspectCli, RequireStaticPassesForStaticPie) {
  std::string err = compile_c(tmp_ / "spie", "int main(void) { return 0; }", {"-static-pie"});
  if (!err.empty()) GTEST_SKIP() << err;
  auto r = run({minify_bin(), "inspect", "--require-static", (tmp_ / "spie").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("static-pie"), std::string::npos);
}

TEST_F(InspectCli, RequireStaticFailsForScripts) {
  testing::write_file(tmp_ / "s.sh", "#!/bin/sh\n");
  auto r = run({minify_bin(), "inspect", "--require-static", (tmp_ / "s.sh").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("a script"), std::string::npos) << r.err;
}

TEST_F(InspectCli, MissingFileIsExitTwoWithOneLine) {
  auto r = run({minify_bin(), "inspect", (tmp_ / "nope").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("minify: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(InspectCli, RootPathsAreInsideTheRoot) {
  // A static program inside a root: paths print as seen inside it.
  std::string err = compile_c(tmp_ / "root/bin/app", "int main(void) { return 0; }", {"-static"});
  if (!err.empty()) GTEST_SKIP() << err;
  auto r = run({minify_bin(), "inspect", "--json", "--root", (tmp_ / "root").string(), "/bin/app"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["files"][0]["file"], "/bin/app");
  EXPECT_EQ(doc["files"][0]["kind"], "static");
  EXPECT_EQ(doc["files"][0]["base"]["image"], "scratch");
}

}  // namespace
}  // namespace minify
