// How a traced program came to a path (PathUse::found_by_listing), under both tracers: a file
// stat'ed after its directory's entries were read (getdents64) was found by a walk; a file the
// program named itself, or touched before listing, was not. Small C programs compiled at test
// time, as in tracer_test.cpp.
#include <gtest/gtest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "backend_param.hpp"
#include "minify/trace.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using namespace minify::testing;

// Goes through its arguments in order: "@DIR" lists DIR with readdir (getdents64) and lstats
// every entry by its full name, "+FILE" opens FILE, anything else is stat'ed by name.
constexpr const char* kWalker = R"(
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    struct stat st;
    if (argv[i][0] == '@') {
      DIR* d = opendir(argv[i] + 1);
      if (!d) return 2;
      struct dirent* e;
      while ((e = readdir(d))) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[i] + 1, e->d_name);
        if (e->d_name[0] != '.') lstat(p, &st);
      }
      closedir(d);
    } else if (argv[i][0] == '+') {
      if (open(argv[i] + 1, O_RDONLY) < 0) return 3;
    } else if (stat(argv[i], &st) != 0) {
      return 4;
    }
  }
  return 0;
}
)";
class WalkTest : public ::testing::TestWithParam<TracerBackend> {
 protected:
  void SetUp() override {
    MINIFY_SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
    if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
    dir_ = fs::canonical(tmp_.path());
    walker_ = (dir_ / "walker").string();
    ASSERT_EQ(compile_c(walker_, kWalker), "");
    for (const char* f : {"tree/a.txt", "tree/b.txt", "tree/sub/c.txt", "other/named.txt"})
      write_file(dir_ / f, "x");
  }

  TraceLog trace(std::vector<std::string> argv) {
    TraceOptions opt;
    opt.command = std::move(argv);
    opt.tracer = GetParam();
    opt.timeout = std::chrono::milliseconds(60'000);  // hang guard only
    auto r = run_trace(opt);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? std::move(*r) : TraceLog{};
  }

  const PathUse* use(const TraceLog& log, const std::string& rel) {
    auto it = log.paths.find((dir_ / rel).string());
    return it == log.paths.end() ? nullptr : &it->second;
  }

  std::string p(const std::string& rel) const { return (dir_ / rel).string(); }

  TempDir tmp_;
  fs::path dir_;
  std::string walker_;
};

TEST_P(WalkTest, EntriesStatedAfterListingAreFoundByListing) {
  TraceLog log = trace({walker_, "@" + p("tree")});
  ASSERT_EQ(log.exit.shell_status(), 0);
  for (const char* f : {"tree/a.txt", "tree/b.txt", "tree/sub"}) {
    const PathUse* u = use(log, f);
    ASSERT_NE(u, nullptr) << f;
    EXPECT_TRUE(u->succeeded.has(AccessKind::Stat)) << f;
    EXPECT_TRUE(u->found_by_listing) << f;
  }
  const PathUse* tree = use(log, "tree");
  ASSERT_NE(tree, nullptr);
  EXPECT_TRUE(tree->succeeded.has(AccessKind::List));
  EXPECT_FALSE(tree->found_by_listing) << "named on the command line";
  EXPECT_EQ(use(log, "tree/sub/c.txt"), nullptr) << "sub was not listed";
}

TEST_P(WalkTest, StatOfANameTheProgramGaveIsNotFoundByListing) {
  // other/ is never listed: a stat by name.
  TraceLog log = trace({walker_, "@" + p("tree"), p("other/named.txt")});
  ASSERT_EQ(log.exit.shell_status(), 0);
  const PathUse* u = use(log, "other/named.txt");
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(u->succeeded.has(AccessKind::Stat));
  EXPECT_FALSE(u->found_by_listing);
}

TEST_P(WalkTest, AFileTouchedBeforeItsDirectoryWasListedWasNamed) {
  // The same process stats tree/a.txt by name, then walks tree/ (and lstats it again).
  TraceLog log = trace({walker_, p("tree/a.txt"), "@" + p("tree")});
  ASSERT_EQ(log.exit.shell_status(), 0);
  ASSERT_NE(use(log, "tree/a.txt"), nullptr);
  EXPECT_FALSE(use(log, "tree/a.txt")->found_by_listing);
  ASSERT_NE(use(log, "tree/b.txt"), nullptr);
  EXPECT_TRUE(use(log, "tree/b.txt")->found_by_listing);
}

TEST_P(WalkTest, AnExecForgetsTheListings) {
  if (!fs::exists("/bin/sh")) GTEST_SKIP() << "no /bin/sh";
  // The shell lists tree/ for its glob, then execs the walker in the same process, which
  // stats tree/a.txt by name.
  std::string cmd = "for f in '" + p("tree") + "'/*; do :; done; exec '" + walker_ + "' '" + p("tree/a.txt") + "'";
  TraceLog log = trace({"/bin/sh", "-c", cmd});
  ASSERT_EQ(log.exit.shell_status(), 0);
  ASSERT_NE(use(log, "tree/a.txt"), nullptr);
  EXPECT_FALSE(use(log, "tree/a.txt")->found_by_listing);
}

TEST_P(WalkTest, ListingsBelongToTheProcessThatListed) {
  if (!fs::exists("/bin/sh")) GTEST_SKIP() << "no /bin/sh";
  // One process walks tree/, another stats tree/a.txt by name: that one named it.
  std::string cmd = "'" + walker_ + "' '@" + p("tree") + "' && '" + walker_ + "' '" + p("tree/a.txt") + "'";
  TraceLog log = trace({"/bin/sh", "-c", cmd});
  ASSERT_EQ(log.exit.shell_status(), 0);
  ASSERT_NE(use(log, "tree/a.txt"), nullptr);
  EXPECT_FALSE(use(log, "tree/a.txt")->found_by_listing);
  ASSERT_NE(use(log, "tree/b.txt"), nullptr);
  EXPECT_TRUE(use(log, "tree/b.txt")->found_by_listing);
}

TEST_P(WalkTest, OpenAfterListingIsStillRecordedAsARead) {
  TraceLog log = trace({walker_, "@" + p("tree"), "+" + p("tree/b.txt")});
  ASSERT_EQ(log.exit.shell_status(), 0);
  const PathUse* u = use(log, "tree/b.txt");
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(u->succeeded.has(AccessKind::Read));
  EXPECT_TRUE(u->found_by_listing) << "found by listing, and opened: the file set ships it for the read";
}

TEST_P(WalkTest, TraceJsonKeepsTheEvidence) {
  TraceLog log = trace({walker_, "@" + p("tree")});
  auto back = trace_log_from_json(to_json(log));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->paths, log.paths);
  ASSERT_TRUE(back->paths.contains(p("tree/a.txt")));
  EXPECT_TRUE(back->paths.at(p("tree/a.txt")).found_by_listing);
}

INSTANTIATE_TEST_SUITE_P(Tracers, WalkTest, ::testing::Values(TracerBackend::Ptrace, TracerBackend::Bpf),
                         backend_test_name);

}  // namespace
}  // namespace minify
