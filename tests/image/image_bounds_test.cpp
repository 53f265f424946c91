// Resource bounds of the image reader: a tar entry that claims a huge size, a
// decompression bomb (zstd, 32768:1, written by hand), data that would only be skipped, a symlink
// chain of depth 1,000, an entry name of 64 KiB and metadata JSON nested 8 million deep. Each
// fails fast with a one-line error naming what was refused, in a forked child whose address space
// and time are capped (support/bounded.hpp), and writes nothing past the limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "image_support.hpp"
#include "minify/image.hpp"
#include "support/bounded.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using testing::BoundedRun;
using testing::TarItem;
using testing::TempDir;

constexpr uint64_t kLimit = 16 << 20;

// A ustar header for `name` (< 100 bytes) of `type` ('0' file, '2' symlink, '5' directory). A size
// past the 11 octal digits (8 GiB) is written in base 256, the GNU extension libarchive reads.
std::string ustar(const std::string& name, char type, uint64_t size, const std::string& link = "") {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 99));
  std::snprintf(h.data() + 100, 8, "%07o", 0644);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  if (size < 077777777777ull) {
    std::snprintf(h.data() + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  } else {
    h[124] = static_cast<char>(0x80);
    for (int i = 0; i < 8; ++i) h[135 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = type;
  std::memcpy(h.data() + 157, link.data(), std::min<size_t>(link.size(), 99));
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char ch : h) sum += ch;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  h[155] = ' ';
  return h;
}

// A zstd frame (RFC 8878) written block by block: raw blocks for headers, RLE blocks for runs of
// zeros, 4 bytes for each 128 KiB, so gigabytes of tar fit in a few hundred KiB.
class ZstdBomb {
 public:
  ZstdBomb() {
    out_ = std::string("\x28\xb5\x2f\xfd", 4);
    out_ += '\x00';  // frame header: no content size, no checksum, a window descriptor follows
    out_ += '\x38';  // window 2^(10+7) = 128 KiB, the largest block
  }
  void raw(const std::string& bytes) {
    block(0, static_cast<uint32_t>(bytes.size()), false);
    out_ += bytes;
  }
  void zeros(uint64_t n) {
    for (; n > 0; n -= std::min<uint64_t>(n, kBlock)) {
      block(1, static_cast<uint32_t>(std::min<uint64_t>(n, kBlock)), false);
      out_ += '\0';
    }
  }
  std::string finish() {
    zeros(1024);  // the end-of-archive blocks
    block(0, 0, true);
    return out_;
  }

 private:
  static constexpr uint64_t kBlock = 128 << 10;
  void block(uint32_t type, uint32_t size, bool last) {
    uint32_t h = (last ? 1u : 0u) | (type << 1) | (size << 3);
    out_ += static_cast<char>(h & 0xff);
    out_ += static_cast<char>((h >> 8) & 0xff);
    out_ += static_cast<char>((h >> 16) & 0xff);
  }
  std::string out_;
};

// Applies `layers` (bytes) in order into t/root under a 16 MiB limit, in a bounded child; returns
// the error message, or "ok".
BoundedRun unpack_bounded(const TempDir& t, const std::vector<std::string>& layers) {
  Image img;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string file = (t / ("layer" + std::to_string(i))).string();
    testing::write_file(file, layers[i]);
    img.layers.push_back({"layer" + std::to_string(i), "", file, layers[i].size()});
  }
  return testing::run_bounded([&]() -> std::string {
    UnpackOptions uo;
    uo.limits.max_total_bytes = kLimit;
    auto r = unpack_layers(img, (t / "root").string(), uo);
    return r ? "ok" : r.error().message();
  });
}

uint64_t bytes_under(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (!e.is_symlink() && e.is_regular_file()) total += e.file_size();
  return total;
}

void expect_fast_one_line_error(const BoundedRun& r, const std::vector<std::string>& wants) {
  ASSERT_TRUE(r.finished) << r.failure;
  for (const auto& w : wants) EXPECT_NE(r.result.find(w), std::string::npos) << "want `" << w << "` in: " << r.result;
  EXPECT_EQ(r.result.find('\n'), std::string::npos) << r.result;
  EXPECT_LT(r.seconds, 5.0) << r.result;
  EXPECT_LT(r.max_rss_mib, testing::bounded_rss_limit_mib());
}

TEST(ImageBounds, EntryClaimingATebibyteIsRefusedBeforeReading) {
  TempDir t;
  auto r = unpack_bounded(t, {ustar("big", '0', 1ull << 40) + std::string(4096, '\0')});
  expect_fast_one_line_error(r, {"`big`", "claims 1099511627776 bytes", "limit of 16777216"});
  EXPECT_FALSE(fs::exists(t / "root/big"));
}

TEST(ImageBounds, ArchiveMemberClaimingATebibyteIsRefusedBeforeReading) {
  TempDir t;
  testing::write_file(t / "image.tar", ustar("index.json", '0', 1ull << 40) + std::string(4096, '\0'));
  auto r = testing::run_bounded([&]() -> std::string {
    auto img = open_image((t / "image.tar").string(), (t / "work").string());
    return img ? "ok" : img.error().message();
  });
  expect_fast_one_line_error(r, {"`index.json`", "claims 1099511627776 bytes", "over the limit"});
}

TEST(ImageBounds, ZstdBombOfEightGibibytesStopsAtTheLimit) {
  // 1,024 files of 8 MiB of zeros each: 8 GiB unpacked from a 790 KiB layer. Two fit the limit;
  // the third is refused by the size it claims.
  ZstdBomb z;
  for (int i = 0; i < 1024; ++i) {
    z.raw(ustar("zero" + std::to_string(i), '0', 8 << 20));
    z.zeros(8 << 20);
  }
  std::string bomb = z.finish();
  EXPECT_LT(bomb.size(), 800u << 10);
  TempDir t;
  auto r = unpack_bounded(t, {bomb});
  expect_fast_one_line_error(r, {"`zero2`", "limit of 16777216 bytes"});
  EXPECT_LE(bytes_under(t / "root"), kLimit);
}

TEST(ImageBounds, DataThatIsOnlySkippedCountsAgainstTheLimit) {
  // Whiteouts, directories and links claiming 8 GiB of data each: never written, but skipping it
  // means decompressing it, 32 GiB from a 1 MiB layer.
  ZstdBomb z;
  const uint64_t claim = 077777777000ull;  // 8 GiB - 512, the largest 512-aligned octal size
  z.raw(ustar(".wh.gone", '0', claim));
  z.zeros(claim);
  z.raw(ustar("dir/", '5', claim));
  z.zeros(claim);
  z.raw(ustar("link", '2', claim, "target"));
  z.zeros(claim);
  z.raw(ustar("dir/.wh..wh..opq", '0', claim));
  z.zeros(claim);
  TempDir t;
  auto r = unpack_bounded(t, {z.finish()});
  expect_fast_one_line_error(r, {"`.wh.gone`", "claims 8589934080 bytes", "limit of 16777216"});
}

TEST(ImageBounds, SymlinkChainOfDepthThousandFailsFast) {
  std::vector<TarItem> chain;
  for (int i = 0; i < 1000; ++i) chain.push_back({"l" + std::to_string(i), 'l', "", "l" + std::to_string(i + 1)});
  chain.push_back({"l1000", 'd', "", "", 0755});
  TempDir t;
  auto r = unpack_bounded(t, {testing::make_tar(chain), testing::make_tar({{"l0/file", 'f', "x"}})});
  expect_fast_one_line_error(r, {"`l0/file`", "Too many levels of symbolic links"});
  EXPECT_TRUE(fs::is_empty(t / "root/l1000"));
}

TEST(ImageBounds, EntryNameOf64KibIsRefused) {
  std::string name;
  while (name.size() < (64 << 10)) name += "abcdefghijklmno/";
  TempDir t;
  auto r = unpack_bounded(t, {testing::make_tar({{name + "file", 'f', "x"}})});
  expect_fast_one_line_error(r, {"entry name longer than 16384"});
}

TEST(ImageBounds, MetadataNestedEightMillionDeepFailsFast) {
  // index.json of 8 MiB (the metadata limit) of "[": a DOM of 8 million nested arrays.
  TempDir t;
  fs::create_directories(t / "layout");
  testing::write_file(t / "layout/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  testing::write_file(t / "layout/index.json", std::string((8 << 20) - 1, '['));
  auto r = testing::run_bounded([&]() -> std::string {
    auto img = open_image((t / "layout").string(), (t / "work").string());
    return img ? "ok" : img.error().message();
  });
  expect_fast_one_line_error(r, {"index.json`", "nested"});
}

TEST(ImageBounds, CliRefusesAHugeEntryWithOneLine) {
  TempDir t;
  testing::write_file(t / "image.tar", ustar("manifest.json", '0', 1ull << 40) + std::string(4096, '\0'));
  auto start = std::chrono::steady_clock::now();
  auto r = testing::run({testing::minify_bin(), "image", (t / "image.tar").string(), "-o", (t / "out.tar").string(),
                         "--out-dir", (t / "out").string()});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("minify: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("`manifest.json` claims 1099511627776 bytes"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(t / "out.tar"));
}

TEST(ImageBounds, CliRefusesAMaxSizeThatIsNotANumber) {
  TempDir t;
  for (std::string bad : {"abc", "99999999999999999999999", "-1", "12k"}) {
    auto r = testing::run({testing::minify_bin(), "image", (t / "none.tar").string(), "-o", (t / "out.tar").string(),
                           "--max-size", bad});
    EXPECT_EQ(r.status, 2) << bad << ": " << r.err;
    EXPECT_EQ(r.err, "minify: error: --max-size `" + bad + "`: expected a number of bytes\n");
  }
}

}  // namespace
}  // namespace minify
