// The metadata readers on text (image_internal.hpp), with the inputs fuzz_image_meta found or that
// regress what it found: members of the wrong JSON type and nesting too deep give a one-line
// error (or the default), never an exception. Documents are handed over in the order the reader
// asks for them, as in the fuzz target.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "image/image_internal.hpp"

namespace minify {
namespace {

struct Read {
  Status status = Ok{};
  Image img;
};

Read read_meta(bool docker, std::vector<std::string> docs, ImageSelect sel = {}) {
  size_t next = 0;
  auto reader = [&](const std::string& rel) -> Result<std::string> {
    if (next >= docs.size()) return bad_input("read", rel, "no such document");
    return docs[next++];
  };
  Read r;
  r.status = docker ? image_internal::read_docker_meta(reader, "/img", sel, r.img)
                    : image_internal::read_oci_meta(reader, "/img", sel, r.img);
  return r;
}

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kConfig = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/app"]}})";

TEST(ImageMeta, WellFormedOciManifestIsRead) {
  auto r = read_meta(false, {R"({"manifests":[{"digest":")" + kDigest + R"("}]})",
                             R"({"config":{"digest":")" + kDigest + R"("},"layers":[{"digest":")" + kDigest +
                                 R"(","size":12,"mediaType":"m"}]})",
                             kConfig});
  ASSERT_TRUE(r.status) << r.status.error().message();
  ASSERT_EQ(r.img.layers.size(), 1u);
  EXPECT_EQ(r.img.layers[0].size, 12u);
  EXPECT_EQ(r.img.layers[0].file, "/img/blobs/sha256/" + std::string(64, 'a'));
  EXPECT_EQ(r.img.config.cmd, std::vector<std::string>{"/bin/app"});
}

// Each of these threw nlohmann::json::type_error out of open_image (json::value() on a member of
// the wrong type, or on a value that is not an object), which aborted `minify image`.
// fuzz_image_meta's first finding (crash-3d2c3f7c, on the code before the fix, within seconds):
// an index entry whose digest is a number.
TEST(ImageMeta, IndexDigestThatIsANumberIsABadDigest) {
  auto r = read_meta(false, {R"({"schemaVersion": 2, "manifests": [{"mediaType": )"
                             R"("application/vnd.oci.image.manifest.v1+json", "digest": 420, "platform": )"
                             R"({"os": "linux", "architecture": "amd6A4"}}]})"});
  ASSERT_FALSE(r.status);
  EXPECT_EQ(r.status.error().message(), "read `/img`: bad digest ``");
}

TEST(ImageMeta, LayerThatIsNotAnObjectIsABadDigest) {
  auto r = read_meta(false, {R"({"manifests":[{"digest":")" + kDigest + R"("}]})",
                             R"({"config":{"digest":")" + kDigest + R"("},"layers":[5]})", kConfig});
  ASSERT_FALSE(r.status);
  EXPECT_NE(r.status.error().message().find("bad digest ``"), std::string::npos) << r.status.error().message();
}

TEST(ImageMeta, DigestAndSizeOfTheWrongTypeAreIgnored) {
  auto r = read_meta(false, {R"({"manifests":[{"digest":")" + kDigest + R"("}]})",
                             R"({"config":{"digest":7},"layers":[{"digest":7,"size":"big"}]})", kConfig});
  ASSERT_FALSE(r.status);
  EXPECT_NE(r.status.error().message().find("bad digest ``"), std::string::npos) << r.status.error().message();
}

TEST(ImageMeta, PlatformThatIsNotAnObjectMatchesNothing) {
  std::string d = R"({"digest":")" + kDigest + R"(","platform":"linux/amd64"})";
  auto r = read_meta(false, {R"({"manifests":[)" + d + "," + d + "]}"}, {"", "linux/arm64"});
  ASSERT_FALSE(r.status);
  EXPECT_NE(r.status.error().message().find("no manifest for platform linux/arm64"), std::string::npos)
      << r.status.error().message();
}

TEST(ImageMeta, AnnotationOfTheWrongTypeIsNoTag) {
  auto r = read_meta(false, {R"({"manifests":[{"digest":")" + kDigest +
                             R"(","annotations":{"org.opencontainers.image.ref.name":1}}]})"},
                     {"web", ""});
  ASSERT_FALSE(r.status);
  EXPECT_NE(r.status.error().message().find("no image tagged `web`"), std::string::npos) << r.status.error().message();
}

TEST(ImageMeta, ManifestThatIsAnArrayHasNoConfig) {
  auto r = read_meta(false, {R"({"manifests":[{"digest":")" + kDigest + R"("}]})", "[]"});
  ASSERT_FALSE(r.status);
  EXPECT_NE(r.status.error().message().find("manifest without config"), std::string::npos) << r.status.error().message();
}

TEST(ImageMeta, ConfigMembersOfTheWrongTypeGiveTheDefaults) {
  auto r = read_meta(true, {R"([{"Config":"c.json","Layers":["l.tar"]}])",
                            R"({"os":5,"architecture":[],"config":{"Cmd":"not a list","WorkingDir":3}})"});
  ASSERT_TRUE(r.status) << r.status.error().message();
  EXPECT_EQ(r.img.config.os, "linux");
  EXPECT_EQ(r.img.config.architecture, "");
  EXPECT_TRUE(r.img.config.cmd.empty());
  EXPECT_EQ(r.img.layers.at(0).file, "/img/l.tar");
}

TEST(ImageMeta, NestingPast64LevelsIsRefusedBeforeParsing) {
  std::string deep = std::string(65, '[') + std::string(65, ']');
  auto r = read_meta(true, {deep});
  ASSERT_FALSE(r.status);
  EXPECT_EQ(r.status.error().message(), "parse `/img/manifest.json`: nested deeper than 64 levels");
  // Brackets inside strings, escaped quotes included, are not nesting.
  std::string in_string = R"([{"Config":"c.json","RepoTags":["\"[[[)" + std::string(100, '[') + R"("],"Layers":[]}])";
  auto ok = read_meta(true, {in_string, kConfig});
  ASSERT_TRUE(ok.status) << ok.status.error().message();
  EXPECT_EQ(ok.img.repo_tags.at(0).size(), 104u);
}

}  // namespace
}  // namespace minify
