// The ld.so.cache reader: the machine's own cache, caches in both byte orders built by hand in
// each layout, and corrupt caches.
#include <gtest/gtest.h>

#include <cstring>

#include "minify/resolve.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

// Builds caches byte by byte, in either byte order, the way ldconfig lays them out.
class CacheWriter {
 public:
  explicit CacheWriter(bool big) : big_(big) {}
  void u32(std::string& b, uint32_t v) const {
    for (int i = 0; i < 4; ++i) b += static_cast<char>(big_ ? v >> (24 - 8 * i) : v >> (8 * i));
  }
  void u64(std::string& b, uint64_t v) const {
    if (big_) {
      u32(b, static_cast<uint32_t>(v >> 32));
      u32(b, static_cast<uint32_t>(v));
    } else {
      u32(b, static_cast<uint32_t>(v));
      u32(b, static_cast<uint32_t>(v >> 32));
    }
  }
  struct E {
    std::string key, value;
    int32_t flags;
    uint64_t hwcap;
  };
  // New format; `hwcaps` names go into the extension section.
  std::string new_format(const std::vector<E>& entries, const std::vector<std::string>& hwcaps) const {
    std::string strings;
    size_t base = 48 + entries.size() * 24;
    std::vector<std::pair<uint32_t, uint32_t>> offs;
    auto add = [&](const std::string& s) {
      uint32_t o = static_cast<uint32_t>(base + strings.size());
      strings += s;
      strings += '\0';
      return o;
    };
    for (const auto& e : entries) offs.push_back({add(e.key), add(e.value)});
    std::vector<uint32_t> hw_offs;
    for (const auto& h : hwcaps) hw_offs.push_back(add(h));
    while ((base + strings.size()) % 4) strings += '\0';
    uint32_t ext = static_cast<uint32_t>(base + strings.size());
    std::string b = "glibc-ld.so.cache1.1";
    u32(b, static_cast<uint32_t>(entries.size()));
    u32(b, static_cast<uint32_t>(strings.size()));
    b += static_cast<char>(big_ ? 3 : 2);
    b += std::string(3, '\0');
    u32(b, hwcaps.empty() ? 0 : ext);
    b += std::string(12, '\0');
    for (size_t i = 0; i < entries.size(); ++i) {
      u32(b, static_cast<uint32_t>(entries[i].flags));
      u32(b, offs[i].first);
      u32(b, offs[i].second);
      u32(b, 0);
      u64(b, entries[i].hwcap);
    }
    b += strings;
    if (!hwcaps.empty()) {
      uint32_t section = ext + 8 + 16;
      u32(b, 0xeaa42174);
      u32(b, 1);
      u32(b, 1);  // tag: glibc-hwcaps
      u32(b, 0);
      u32(b, section);
      u32(b, static_cast<uint32_t>(hwcaps.size() * 4));
      for (uint32_t o : hw_offs) u32(b, o);
    }
    return b;
  }
  std::string old_format(const std::vector<E>& entries) const {
    std::string strings;
    std::vector<std::pair<uint32_t, uint32_t>> offs;
    for (const auto& e : entries) {
      uint32_t k = static_cast<uint32_t>(strings.size());
      strings += e.key + '\0';
      uint32_t v = static_cast<uint32_t>(strings.size());
      strings += e.value + '\0';
      offs.push_back({k, v});
    }
    std::string b = "ld.so-1.7.0";
    b += '\0';
    u32(b, static_cast<uint32_t>(entries.size()));
    for (size_t i = 0; i < entries.size(); ++i) {
      u32(b, static_cast<uint32_t>(entries[i].flags));
      u32(b, offs[i].first);
      u32(b, offs[i].second);
    }
    return b + strings;
  }

 private:
  bool big_;
};

TEST(LdCacheTest, ReadsThisMachinesCache) {
  std::string bytes = testing::read_file("/etc/ld.so.cache");
  if (bytes.empty()) GTEST_SKIP() << "no /etc/ld.so.cache";
  auto c = parse_ld_cache(bytes);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_GT(c->entries.size(), 20u);
  bool libc = false;
  for (const auto& e : c->entries)
    if (e.name == "libc.so.6" && e.flags == 0x0303) {
      libc = true;
      EXPECT_EQ(e.path.substr(e.path.size() - 9), "libc.so.6");
    }
  EXPECT_TRUE(libc);
}

TEST(LdCacheTest, NewFormatBothByteOrdersWithHwcaps) {
  for (bool big : {false, true}) {
    SCOPED_TRACE(big ? "big-endian" : "little-endian");
    CacheWriter w(big);
    std::string bytes = w.new_format(
        {{"libfoo.so.1", "/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", 0x0303, (1ULL << 62) | 0},
         {"libfoo.so.1", "/usr/lib/libfoo.so.1", 0x0303, 0},
         {"libbar.so.2", "/usr/lib64/libbar.so.2", 0x0503, 0}},
        {"x86-64-v3"});
    auto c = parse_ld_cache(bytes, !big);  // the header's byte order flag must win over the hint
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->format, LdCache::Format::New);
    ASSERT_EQ(c->entries.size(), 3u);
    EXPECT_EQ(c->entries[0].hwcaps, "x86-64-v3");
    EXPECT_EQ(c->entries[1].hwcaps, "");
    EXPECT_EQ(c->entries[1].path, "/usr/lib/libfoo.so.1");
    EXPECT_EQ(c->entries[2].name, "libbar.so.2");
    EXPECT_EQ(c->entries[2].flags, 0x0503);
  }
}

TEST(LdCacheTest, OldFormatAndOldPlusNew) {
  CacheWriter w(false);
  std::vector<CacheWriter::E> entries = {{"libold.so.1", "/lib/libold.so.1", 0x0303, 0}};
  auto old = parse_ld_cache(w.old_format(entries));
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_EQ(old->format, LdCache::Format::Old);
  ASSERT_EQ(old->entries.size(), 1u);
  EXPECT_EQ(old->entries[0].path, "/lib/libold.so.1");

  // ldconfig's "compat" layout: the old header and entries, padded to 8 bytes, then a whole new
  // cache, which wins (glibc elf/dl-cache.c: the new header sits right after the old entries).
  std::string both = w.old_format(entries).substr(0, 16 + 12 * entries.size());
  while (both.size() % 8) both += '\0';
  both += w.new_format({{"libnew.so.1", "/lib/libnew.so.1", 0x0303, 0}}, {});
  auto c = parse_ld_cache(both);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->format, LdCache::Format::OldAndNew);
  ASSERT_EQ(c->entries.size(), 1u);
  EXPECT_EQ(c->entries[0].name, "libnew.so.1");
}

TEST(LdCacheTest, CorruptCachesAreErrors) {
  CacheWriter w(false);
  std::string good = w.new_format({{"liba.so", "/lib/liba.so", 0x0303, 0}}, {"x86-64-v2"});
  EXPECT_FALSE(parse_ld_cache(""));
  EXPECT_FALSE(parse_ld_cache("not a cache at all"));
  EXPECT_FALSE(parse_ld_cache(good.substr(0, 30)));
  std::string huge = good;
  uint32_t n = 0x10000000;
  std::memcpy(&huge[20], &n, 4);
  auto r = parse_ld_cache(huge);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("entry count"), std::string::npos);
  std::string bad_string = good;
  uint32_t off = 0x7fffffff;
  std::memcpy(&bad_string[48 + 4], &off, 4);
  EXPECT_FALSE(parse_ld_cache(bad_string));
  std::string bad_hwcap = w.new_format({{"liba.so", "/lib/liba.so", 0x0303, (1ULL << 62) | 7}}, {"x86-64-v2"});
  EXPECT_FALSE(parse_ld_cache(bad_hwcap));
}

TEST(LdCacheTest, EveryTruncationOfTheMachinesCacheIsHandled) {
  std::string bytes = testing::read_file("/etc/ld.so.cache");
  if (bytes.empty()) GTEST_SKIP() << "no /etc/ld.so.cache";
  for (size_t n = 0; n < bytes.size(); n += 97) (void)parse_ld_cache(bytes.substr(0, n));
  SUCCEED();
}

TEST(LdCacheTest, FlagsPerMachine) {
  ElfIdent x64{2, 1, 0, 62, 3, 0};
  ElfIdent arm64{2, 1, 0, 183, 3, 0};
  ElfIdent i386{1, 1, 0, 3, 3, 0};
  EXPECT_EQ(ld_cache_flags_for(x64), std::vector<int32_t>{0x0303});
  EXPECT_EQ(ld_cache_flags_for(arm64), std::vector<int32_t>{0x0a03});
  EXPECT_EQ(ld_cache_flags_for(i386), std::vector<int32_t>{0x0003});
}

}  // namespace
}  // namespace minify
