// Resource bounds of the root-confined path layer: a chain of 1,000 symlinks and a path
// of 64 KiB each fail fast with a one-line error, in bounded memory (support/bounded.hpp), in the
// library and through `minify deps`.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "minify/rootfs.hpp"
#include "support/bounded.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using testing::BoundedRun;
using testing::TempDir;

// l0 -> l1 -> ... -> l1000, a regular file: 25 times the kernel's limit of 40 links.
void make_chain(const fs::path& dir) {
  fs::create_directories(dir);
  for (int i = 0; i < 1000; ++i) fs::create_symlink("l" + std::to_string(i + 1), dir / ("l" + std::to_string(i)));
  testing::write_file(dir / "l1000", "end");
}

void expect_fast_one_line_error(const BoundedRun& r, const std::string& want) {
  ASSERT_TRUE(r.finished) << r.failure;
  EXPECT_NE(r.result.find(want), std::string::npos) << r.result;
  EXPECT_EQ(r.result.find('\n'), std::string::npos) << r.result;
  EXPECT_LT(r.seconds, 5.0);
  EXPECT_LT(r.max_rss_mib, testing::bounded_rss_limit_mib());
}

// Runs `minify ARGS...`, checking it took under 5 s, and returns the result.
testing::RunResult run_fast(const std::vector<std::string>& args) {
  auto start = std::chrono::steady_clock::now();
  auto r = testing::run(args);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  return r;
}

void expect_one_line_exit_two(const testing::RunResult& r, const std::string& want) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("minify: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err.substr(0, 300);
}

TEST(RootBounds, SymlinkChainOfDepthThousandFailsFast) {
  TempDir t;
  make_chain(t.path());
  auto r = testing::run_bounded([&]() -> std::string {
    auto root = Root::open(t.path().string());
    if (!root) return "open: " + root.error().message();
    auto res = root->resolve("/l0");
    if (res) return "resolved";
    auto rd = root->read_file("/l0");
    return res.error().message() + (rd ? " | read it" : " | read refused");
  });
  expect_fast_one_line_error(r, "Too many levels of symbolic links");
  EXPECT_NE(r.result.find("read refused"), std::string::npos) << r.result;
}

TEST(RootBounds, PathOf64KibFailsFast) {
  TempDir t;
  std::string path;
  while (path.size() < (64 << 10)) path += "/abcdefghijklmno";
  auto r = testing::run_bounded([&]() -> std::string {
    auto root = Root::open(t.path().string());
    if (!root) return "open: " + root.error().message();
    auto res = root->resolve(path);
    return res ? "resolved" : res.error().message();
  });
  expect_fast_one_line_error(r, "File name too long");
}

TEST(RootBounds, CliDepsOnASymlinkChainIsOneLineExitTwo) {
  TempDir t;
  make_chain(t / "root");
  auto r = run_fast({testing::minify_bin(), "deps", "--root", (t / "root").string(), "--list", "/l0"});
  expect_one_line_exit_two(r, "Too many levels of symbolic links");
}

TEST(RootBounds, CliDepsOnAPathOf64KibIsOneLineExitTwo) {
  std::string path;
  while (path.size() < (64 << 10)) path += "/abcdefghijklmno";
  auto r = run_fast({testing::minify_bin(), "deps", "--list", path});
  expect_one_line_exit_two(r, "File name too long");
}

}  // namespace
}  // namespace minify
