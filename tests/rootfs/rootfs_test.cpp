// The root-confined path layer: lookups never leave the root, whatever the links say.
#include <gtest/gtest.h>
#include <unistd.h>

#include "minify/rootfs.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

class RootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(tmp_ / "usr/lib/libfoo.so.1.2", "foo");
    fs::create_symlink("libfoo.so.1.2", tmp_ / "usr/lib/libfoo.so.1");
    fs::create_symlink("usr/lib", tmp_ / "lib");
    fs::create_directories(tmp_ / "etc/alternatives");
    write_file(tmp_ / "etc/secret", "inside");
    auto r = Root::open(tmp_.path().string());
    ASSERT_TRUE(r) << r.error().message();
    root_.emplace(std::move(*r));
  }
  TempDir tmp_;
  std::optional<Root> root_;
};

TEST_F(RootTest, RelativeSymlinksAreFollowedAndRecorded) {
  auto r = root_->resolve("/lib/libfoo.so.1");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->path, "/usr/lib/libfoo.so.1.2");
  ASSERT_EQ(r->links.size(), 2u);
  EXPECT_EQ(r->links[0].link, "/lib");
  EXPECT_EQ(r->links[0].target, "usr/lib");
  EXPECT_EQ(r->links[1].link, "/usr/lib/libfoo.so.1");
  EXPECT_EQ(r->links[1].target, "libfoo.so.1.2");
}

TEST_F(RootTest, AbsoluteSymlinkRestartsAtTheRoot) {
  // /etc/alternatives/foo -> /etc/secret must mean <root>/etc/secret, never the host's.
  fs::create_symlink("/etc/secret", tmp_ / "etc/alternatives/foo");
  auto r = root_->resolve("/etc/alternatives/foo");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->path, "/etc/secret");
  auto data = root_->read_file("/etc/alternatives/foo");
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(*data, "inside");
}

TEST_F(RootTest, DotDotNeverClimbsAboveTheRoot) {
  fs::create_symlink("../../../../../../../../etc/secret", tmp_ / "usr/lib/escape");
  auto r = root_->resolve("/usr/lib/escape");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->path, "/etc/secret");
  auto data = root_->read_file("/../../usr/lib/escape");
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(*data, "inside");
}

TEST_F(RootTest, AbsoluteLinkToHostOnlyPathIsNotFound) {
  // The host has /etc/hostname; the root does not. A link to it must not reach the host's file.
  ASSERT_TRUE(fs::exists("/etc/hostname") || fs::exists("/etc/passwd"));
  fs::create_symlink("/etc/passwd", tmp_ / "etc/passwd-link");
  auto r = root_->resolve("/etc/passwd-link");
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error().err, ENOENT);
  auto fd = root_->open_read("/etc/passwd-link");
  EXPECT_FALSE(fd);
}

TEST_F(RootTest, DotDotAfterSymlinkIsPhysical) {
  // /lib/../etc: "lib" is a link to usr/lib, so ".." is /usr, as the kernel resolves it.
  fs::create_directories(tmp_ / "usr/etc");
  auto r = root_->resolve("/lib/../etc");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->path, "/usr/etc");
}

TEST_F(RootTest, SymlinkLoopFailsWithEloop) {
  fs::create_symlink("b", tmp_ / "a");
  fs::create_symlink("a", tmp_ / "b");
  auto r = root_->resolve("/a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ELOOP);
}

TEST_F(RootTest, DeepChainOfThousandLinksFailsFast) {
  for (int i = 0; i < 1000; ++i)
    fs::create_symlink("l" + std::to_string(i + 1), tmp_ / ("l" + std::to_string(i)));
  write_file(tmp_ / "l1000", "end");
  auto r = root_->resolve("/l0");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ELOOP);
  EXPECT_FALSE(root_->open_read("/l0"));
}

TEST_F(RootTest, FileInTheMiddleIsNotADirectory) {
  auto r = root_->resolve("/etc/secret/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ENOTDIR);
}

TEST_F(RootTest, HugePathIsRefused) {
  std::string path(64 * 1024, 'a');
  auto r = root_->resolve("/" + path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ENAMETOOLONG);
}

TEST_F(RootTest, LastComponentNotFollowedOnRequest) {
  auto r = root_->resolve("/lib/libfoo.so.1", FollowLast::No);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->path, "/usr/lib/libfoo.so.1");
  auto target = root_->read_link("/lib/libfoo.so.1");
  ASSERT_TRUE(target) << target.error().message();
  EXPECT_EQ(*target, "libfoo.so.1.2");
  auto st = root_->stat("/lib/libfoo.so.1", FollowLast::No);
  ASSERT_TRUE(st);
  EXPECT_TRUE(S_ISLNK(st->st_mode));
}

TEST_F(RootTest, ReadFileRefusesLargeFiles) {
  write_file(tmp_ / "big", std::string(1000, 'x'));
  auto r = root_->read_file("/big", 100);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("larger than 100 bytes"), std::string::npos);
}

TEST(PathTest, NormalizeIsLexical) {
  EXPECT_EQ(normalize_path("/a//b/./c/../d/"), "/a/b/d");
  EXPECT_EQ(normalize_path("/../.."), "/");
  EXPECT_EQ(normalize_path(""), "/");
  EXPECT_EQ(dirname_of("/a/b"), "/a");
  EXPECT_EQ(dirname_of("/a"), "/");
  EXPECT_EQ(basename_of("/a/b.so"), "b.so");
  EXPECT_EQ(join_path("/a", "b"), "/a/b");
  EXPECT_EQ(join_path("/a/", "/b"), "/b");
}

// initgroups(3)'s list for a user of the root's accounts: the primary group and every group
// naming the user as a member (not a member whose name merely starts the same).
TEST_F(RootTest, SupplementaryGroupsAreTheMembershipsInTheRootsGroupFile) {
  write_file(tmp_ / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\npostgres:x:105:112::/var/lib/postgresql:/bin/bash\n");
  write_file(tmp_ / "etc/group", "root:x:0:\nssl-cert:x:110:postgres\npostgres:x:112:\nadm:x:4:syslog,postgres\n"
                                 "other:x:7:postgres2\n");
  auto ids = resolve_user(*root_, "postgres");
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->first, 105u);
  EXPECT_EQ(ids->second, 112u);
  EXPECT_EQ(supplementary_groups(*root_, "postgres", 112), (std::vector<gid_t>{112, 110, 4}));
  EXPECT_EQ(supplementary_groups(*root_, "105:0", 0), (std::vector<gid_t>{0, 110, 4}));
  EXPECT_EQ(supplementary_groups(*root_, "4242", 0), (std::vector<gid_t>{0})) << "a uid without a passwd line";
  EXPECT_FALSE(resolve_user(*root_, "nobody")) << "the root's accounts, not the host's";
}

TEST(RootOpenTest, MissingRootIsAnError) {
  auto r = Root::open("/nonexistent/minify-root");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ENOENT);
  EXPECT_EQ(r.error().message(), "open root `/nonexistent/minify-root`: No such file or directory");
}

}  // namespace
}  // namespace minify
