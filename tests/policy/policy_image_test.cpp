// `minify image --policy DIR` on an image built at test time (a static program compiled here, a
// /data directory it writes, an unprivileged USER): the policy's files are written with the
// image's user, architectures and /data as the one tmpfs, and verify runs the image under it;
// a program that behaves differently on a read-only root (it then calls personality, which the
// trace never saw) fails there, and no policy is written.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "image/image_support.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TarItem;
using testing::TempDir;

// Writes /data/out; with "sly", on a read-only root, also calls personality (exit 3 if refused).
constexpr const char* kProgram = R"(
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/statvfs.h>
int main(int argc, char **argv) {
  FILE *f = fopen("/data/out", "w");
  if (!f || fputs("x\n", f) < 0 || fclose(f)) return 1;
  struct statvfs v;
  if (argc > 1 && !strcmp(argv[1], "sly") && !statvfs("/", &v) && (v.f_flag & ST_RDONLY) && personality(0xffffffff) < 0)
    return 3;
  puts("done");
  return 0;
}
)";

testing::ImageSpec image(const fs::path& prog, const std::vector<std::string>& cmd) {
  std::vector<TarItem> items = {{"app", 'd', "", "", 0755},
                                {"data", 'd', "", "", 0755, 1000, 1000},
                                {"etc", 'd', "", "", 0755},
                                {"etc/passwd", 'f', "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"},
                                {"etc/group", 'f', "root:x:0:\napp:x:1000:\n"}};
  TarItem p = testing::host_file(prog.string(), "app/prog");
  p.mode = 0755;
  items.push_back(p);
  testing::ImageSpec s;
  s.layers.push_back(testing::make_tar(items, testing::LayerCompression::Gzip));
  s.compressions = {testing::LayerCompression::Gzip};
  s.config = {{"Entrypoint", {"/app/prog"}}, {"Cmd", cmd}, {"WorkingDir", "/app"}, {"User", "1000:1000"},
              {"Env", {"PATH=/usr/bin:/bin"}}};
  return s;
}

json read_json(const fs::path& p) { return json::parse(testing::read_file(p)); }

TEST(PolicyImage, ImageIsVerifiedUnderItsPolicy) {
  if (::geteuid() != 0) GTEST_SKIP() << "minify image verifies in a sandbox: needs root";
  TempDir tmp;
  fs::path prog = tmp / "prog";
  std::string err = testing::compile_c(prog, kProgram, {"-static"});
  if (!err.empty()) GTEST_SKIP() << "no static libc to build the image's program: " << err;

  testing::write_oci_archive(tmp / "in.tar", image(prog, {}));
  auto r = testing::run({testing::minify_bin(), "image", (tmp / "in.tar").string(), "-o", (tmp / "out.tar").string(),
                         "--out-dir", (tmp / "out").string(), "--policy", (tmp / "pol").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("minify: policy: verified under it"), std::string::npos) << r.err;
  for (const char* f : {"seccomp.json", "policy.json", "kubernetes.yaml", "run.sh"})
    EXPECT_TRUE(fs::exists(tmp / "pol" / f)) << f;
  json pol = read_json(tmp / "pol" / "policy.json");
  EXPECT_TRUE(pol.at("read_only_root").get<bool>()) << pol.dump();
  EXPECT_EQ(pol.at("writable"), json::array({"/data"})) << pol.dump();
  EXPECT_EQ(pol.at("uid"), 1000);
  EXPECT_EQ(pol.at("gid"), 1000);
  EXPECT_TRUE(pol.at("capabilities").empty());
  json profile = read_json(tmp / "pol" / "seccomp.json");
  EXPECT_EQ(profile.at("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile.at("architectures").at(0), "SCMP_ARCH_X86_64");
  std::string sh = testing::read_file(tmp / "pol" / "run.sh");
  EXPECT_NE(sh.find("--tmpfs /data"), std::string::npos) << sh;
  EXPECT_NE(sh.find("--user 1000:1000"), std::string::npos) << sh;
  EXPECT_EQ(read_json(tmp / "out" / "report.json").at("policy").at("writable"), json::array({"/data"}));

  // Only on a read-only root does it call personality: verify under the policy catches it.
  testing::write_oci_archive(tmp / "sly.tar", image(prog, {"sly"}));
  auto sly = testing::run({testing::minify_bin(), "image", (tmp / "sly.tar").string(), "-o", (tmp / "sly-out.tar").string(),
                           "--out-dir", (tmp / "sly-out").string(), "--policy", (tmp / "sly-pol").string()});
  EXPECT_EQ(sly.status, 1) << sly.err;
  EXPECT_FALSE(fs::exists(tmp / "sly-pol"));
  EXPECT_NE(sly.err.find("verify ran under the generated policy"), std::string::npos) << sly.err;
}

}  // namespace
}  // namespace minify
