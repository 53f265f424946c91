// Sparse files: holes stay holes in rootfs/ (allocated blocks, not sizes, are checked) and take
// no room in the tar, whose layout depends on the content only (a hole written out as zeros
// gives the same archive); the contents and the digests stay right. A 2 GiB sparse file kept
// with --keep goes through `minify pack` into rootfs/, a tar and an OCI archive.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "minify/digest.hpp"
#include "minify/pack.hpp"
#include "pack/stream.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

struct Piece {
  uint64_t offset;
  std::string data;
};

// A file of `size` bytes holding `pieces`; with `holes`, the rest is left unwritten (holes
// where the file system has them), otherwise zeros are written out.
void make_file(const fs::path& p, uint64_t size, const std::vector<Piece>& pieces, bool holes) {
  fs::create_directories(p.parent_path());
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << p;
  if (holes) {
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  } else {
    std::string zeros(1 << 20, '\0');
    for (uint64_t off = 0; off < size; off += zeros.size())
      ASSERT_EQ(::pwrite(fd, zeros.data(), std::min<uint64_t>(zeros.size(), size - off), static_cast<off_t>(off)),
                static_cast<ssize_t>(std::min<uint64_t>(zeros.size(), size - off)));
  }
  for (const auto& piece : pieces)
    ASSERT_EQ(::pwrite(fd, piece.data.data(), piece.data.size(), static_cast<off_t>(piece.offset)),
              static_cast<ssize_t>(piece.data.size()));
  ::close(fd);
}

uint64_t allocated(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// Does the file system under `dir` keep holes? (Some do not: the checks on blocks need it.)
bool keeps_holes(const fs::path& dir) {
  fs::path probe = dir / ".hole-probe";
  make_file(probe, 16 << 20, {{0, "x"}}, true);
  bool ok = allocated(probe) < (1 << 20);
  fs::remove(probe);
  return ok;
}

// Reads the one regular file of a tar (any compression) block by block: the data regions
// libarchive reports, which must all be zeros except `pieces`, and the size.
void expect_tar_file(const std::string& tar_bytes, const std::string& name, uint64_t size,
                     const std::vector<Piece>& pieces) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar_bytes.data(), tar_bytes.size()), ARCHIVE_OK);
  struct archive_entry* e;
  bool found = false;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    if (name != archive_entry_pathname(e)) continue;
    found = true;
    EXPECT_EQ(static_cast<uint64_t>(archive_entry_size(e)), size);
    const void* buf;
    size_t n;
    la_int64_t off;
    std::vector<bool> seen(pieces.size());
    uint64_t data_bytes = 0;
    while (archive_read_data_block(a, &buf, &n, &off) == ARCHIVE_OK) {
      data_bytes += n;
      const char* p = static_cast<const char*>(buf);
      for (size_t i = 0; i < n; ++i) {
        uint64_t at = static_cast<uint64_t>(off) + i;
        char want = 0;
        for (size_t k = 0; k < pieces.size(); ++k)
          if (at >= pieces[k].offset && at < pieces[k].offset + pieces[k].data.size()) {
            want = pieces[k].data[at - pieces[k].offset];
            seen[k] = true;
          }
        if (p[i] != want) {
          ADD_FAILURE() << name << ": byte " << at << " is " << int(p[i]) << ", want " << int(want);
          archive_read_free(a);
          return;
        }
      }
    }
    for (size_t k = 0; k < pieces.size(); ++k) EXPECT_TRUE(seen[k]) << "piece at " << pieces[k].offset;
    EXPECT_LT(data_bytes, 4u << 20) << "holes came back as data";
  }
  archive_read_free(a);
  EXPECT_TRUE(found) << name;
}

TEST(SparseLayout, IsDefinedByTheContentNotTheAllocation) {
  TempDir t;
  std::vector<Piece> pieces = {{0, "head"}, {5 << 20, "middle"}, {(16 << 20) - 4, "tail"}};
  make_file(t / "holes", 16 << 20, pieces, true);
  make_file(t / "zeros", 16 << 20, pieces, false);
  auto layout = [&](const char* name) {
    int fd = ::open((t / name).c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    auto l = pack::sparse_layout(fd, fs::file_size(t / name), name);
    ::close(fd);
    EXPECT_TRUE(l);
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const auto& x : *l) out.emplace_back(x.offset, x.length);
    return out;
  };
  using V = std::vector<std::pair<uint64_t, uint64_t>>;
  V want = {{0, pack::kSparseBlock}, {5 << 20, pack::kSparseBlock}, {(16 << 20) - pack::kSparseBlock, pack::kSparseBlock}};
  EXPECT_EQ(layout("holes"), want);
  EXPECT_EQ(layout("zeros"), want);
  // Too small, or too few zeros: plain data.
  make_file(t / "small", 512 << 10, {{0, "x"}}, true);
  make_file(t / "dense", 4 << 20, {{0, std::string((3 << 20) + 4096, 'd')}}, true);
  EXPECT_EQ(layout("small"), V{});
  int fd = ::open((t / "dense").c_str(), O_RDONLY | O_CLOEXEC);
  auto l = pack::sparse_layout(fd, 4 << 20, "dense");
  ::close(fd);
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->empty()) << "less than 1 MiB of zeros: plain data";
  // Nothing but zeros, or a hole at the end: the last block is stored all the same (libarchive's
  // archive_read_data leaves a trailing hole out). A last block shorter than the others too.
  make_file(t / "none", 4 << 20, {}, true);
  EXPECT_EQ(layout("none"), (V{{(4 << 20) - pack::kSparseBlock, pack::kSparseBlock}}));
  make_file(t / "trailing", (4 << 20) + 100, {{0, "x"}}, true);
  EXPECT_EQ(layout("trailing"), (V{{0, pack::kSparseBlock}, {4 << 20, 100}}));
}

class SparsePack : public ::testing::Test {
 protected:
  void SetUp() override {
    make_file(src_ / "data/disk.img", kSize, pieces_, true);
    make_file(src_ / "data/small.bin", 4096, {{0, "small"}}, false);
    auto root = Root::open(src_.path().string());
    ASSERT_TRUE(root);
    root_.emplace(std::move(*root));
    ASSERT_TRUE(set_.keep(*root_, "/data", {ReasonKind::Kept, "test"}));
  }

  static constexpr uint64_t kSize = 64 << 20;
  std::vector<Piece> pieces_ = {{0, "head"}, {40 << 20, "middle"}, {kSize - 4, "tail"}};
  TempDir src_, out_;
  std::optional<Root> root_;
  FileSet set_;
};

TEST_F(SparsePack, RootfsKeepsTheHoles) {
  if (!keeps_holes(src_.path()) || !keeps_holes(out_.path())) GTEST_SKIP() << "the file system here fills holes";
  fs::path rootfs = out_ / "rootfs";
  auto s = write_rootfs(set_, *root_, rootfs.string());
  ASSERT_TRUE(s) << s.error().message();
  fs::path img = rootfs / "data/disk.img";
  EXPECT_EQ(fs::file_size(img), kSize);
  EXPECT_LT(allocated(img), 1u << 20);
  std::string data = testing::read_file(img);
  for (const auto& p : pieces_) EXPECT_EQ(data.substr(p.offset, p.data.size()), p.data);
  EXPECT_EQ(digest_hex(DigestKind::Sha256, data), digest_hex(DigestKind::Sha256, testing::read_file(src_ / "data/disk.img")));
  EXPECT_EQ(testing::read_file(rootfs / "data/small.bin").substr(0, 5), "small");
}

TEST_F(SparsePack, TarHoldsTheDataOnlyAndDoesNotDependOnTheAllocation) {
  fs::path a = out_ / "a.tar";
  auto da = write_tar(set_, *root_, a.string());
  ASSERT_TRUE(da) << da.error().message();
  EXPECT_LT(fs::file_size(a), 1u << 20);
  std::string bytes = testing::read_file(a);
  EXPECT_EQ(da->digest, "sha256:" + digest_hex(DigestKind::Sha256, bytes));
  expect_tar_file(bytes, "data/disk.img", kSize, pieces_);

  // The same content written out densely: the same archive, byte for byte.
  TempDir dense;
  make_file(dense / "data/disk.img", kSize, pieces_, false);
  make_file(dense / "data/small.bin", 4096, {{0, "small"}}, false);
  for (const char* p : {"data", "data/disk.img", "data/small.bin"}) {
    struct stat st {};
    ASSERT_EQ(::stat((src_ / p).c_str(), &st), 0);
    struct timespec ts[2] = {st.st_mtim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, (dense / p).c_str(), ts, 0), 0);
  }
  auto droot = Root::open(dense.path().string());
  ASSERT_TRUE(droot);
  FileSet dset;
  ASSERT_TRUE(dset.keep(*droot, "/data", {ReasonKind::Kept, "test"}));
  fs::path b = out_ / "b.tar";
  auto db = write_tar(dset, *droot, b.string());
  ASSERT_TRUE(db);
  EXPECT_EQ(da->digest, db->digest);
  EXPECT_EQ(testing::read_file(b), bytes);

  // Compressed, and inside an OCI layer, the same holds.
  fs::path oci = out_ / "x.oci";
  auto d = write_oci(set_, *root_, oci.string(), ImageConfig{}, {.compression = Compression::Zstd});
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_LT(fs::file_size(oci), 1u << 20);
}

// `minify pack --keep` of a 2 GiB sparse file: rootfs/, --tar and --oci stay small on disk,
// the content and the OCI digests are right.
TEST(SparseCli, TwoGibSparseFileKeptByPack) {
  TempDir t;
  fs::path big = t / "in/big.img";
  constexpr uint64_t kBig = 2ull << 30;
  std::vector<Piece> pieces = {{0, "start"}, {1ull << 30, "one gib"}, {kBig - 3, "end"}};
  make_file(big, kBig, pieces, true);
  if (allocated(big) > (1 << 20)) GTEST_SKIP() << "the file system here fills holes";
  fs::path out = t / "out";
  auto r = testing::run({testing::minify_bin(), "pack", "--static-only", "-o", out.string(), "--keep", big.string(),
                         "--tar", (t / "out.tar").string(), "--oci", (t / "out.oci").string(), "/bin/true"});
  ASSERT_EQ(r.status, 0) << r.err;
  fs::path copy = out / "rootfs" / big.relative_path();
  EXPECT_EQ(fs::file_size(copy), kBig);
  if (keeps_holes(out)) {
    EXPECT_LT(allocated(copy), 1u << 20);
  }
  // /bin/true and its libraries, and the few bytes of data of the 2 GiB.
  EXPECT_LT(fs::file_size(t / "out.tar"), 8u << 20);
  EXPECT_LT(fs::file_size(t / "out.oci"), 8u << 20);
  std::string name = big.relative_path().string();
  expect_tar_file(testing::read_file(t / "out.tar"), name, kBig, pieces);

  // The OCI archive: the layer blob matches its digest, and its tar the diff_id.
  std::string archive = testing::read_file(t / "out.oci");
  std::map<std::string, std::string> files;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, archive.data(), archive.size()), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
    if (!data.empty()) {
      ASSERT_EQ(archive_read_data(a, data.data(), data.size()), static_cast<la_ssize_t>(data.size()));
    }
    files[archive_entry_pathname(e)] = std::move(data);
  }
  archive_read_free(a);
  auto blob = [&](const std::string& digest) { return files.at("blobs/sha256/" + digest.substr(7)); };
  auto index = nlohmann::json::parse(files.at("index.json"));
  auto manifest = nlohmann::json::parse(blob(index["manifests"][0]["digest"]));
  auto config = nlohmann::json::parse(blob(manifest["config"]["digest"]));
  std::string layer_digest = manifest["layers"][0]["digest"];
  std::string layer = blob(layer_digest);
  EXPECT_EQ("sha256:" + digest_hex(DigestKind::Sha256, layer), layer_digest);
  struct archive* raw = archive_read_new();
  archive_read_support_filter_all(raw);
  archive_read_support_format_raw(raw);
  ASSERT_EQ(archive_read_open_memory(raw, layer.data(), layer.size()), ARCHIVE_OK);
  std::string tar;
  ASSERT_EQ(archive_read_next_header(raw, &e), ARCHIVE_OK);
  char buf[65536];
  la_ssize_t n;
  while ((n = archive_read_data(raw, buf, sizeof buf)) > 0) tar.append(buf, static_cast<size_t>(n));
  archive_read_free(raw);
  EXPECT_EQ("sha256:" + digest_hex(DigestKind::Sha256, tar), config["rootfs"]["diff_ids"][0]);
  expect_tar_file(tar, name, kBig, pieces);
}

}  // namespace
}  // namespace minify
