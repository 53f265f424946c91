// /etc/ld.so.cache reader. The layouts are glibc's sysdeps/generic/dl-cache.h:
//   old:  "ld.so-1.7.0", uint32 nlibs, nlibs x {int32 flags; uint32 key, value}, string table
//         (offsets relative to the end of the entry array)
//   new:  "glibc-ld.so.cache" "1.1", uint32 nlibs, uint32 len_strings, uint8 flags (byte order),
//         3 pad, uint32 extension_offset, 3 x uint32 unused,
//         nlibs x {int32 flags; uint32 key, value; uint32 osversion; uint64 hwcap}
//         (offsets relative to the start of the new header)
// ldconfig wrote old+new back to back until glibc 2.32 and only the new one since. The new
// format's extension directory (magic 0xeaa42174) carries the glibc-hwcaps subdirectory names
// that entries with bit 62 of hwcap set refer to by index.
#include <cstring>

#include "minify/resolve.hpp"

namespace minify {

namespace {

constexpr std::string_view kOldMagic = "ld.so-1.7.0";
constexpr std::string_view kNewMagic = "glibc-ld.so.cache1.1";
constexpr size_t kOldHeader = 16;   // magic[11] + pad to 12 + nlibs
constexpr size_t kOldEntry = 12;
constexpr size_t kNewHeader = 48;
constexpr size_t kNewEntry = 24;
constexpr uint32_t kExtensionMagic = 0xeaa42174;
constexpr uint32_t kExtensionTagHwcaps = 1;
constexpr uint64_t kHwcapExtension = 1ULL << 62;

// Flags (sysdeps/generic/ldconfig.h).
constexpr int32_t FLAG_ELF_LIBC6 = 0x0003;
constexpr int32_t FLAG_SPARC_LIB64 = 0x0100;
constexpr int32_t FLAG_X8664_LIB64 = 0x0300;
constexpr int32_t FLAG_S390_LIB64 = 0x0400;
constexpr int32_t FLAG_POWERPC_LIB64 = 0x0500;
constexpr int32_t FLAG_X8664_LIBX32 = 0x0800;
constexpr int32_t FLAG_ARM_LIBHF = 0x0900;
constexpr int32_t FLAG_AARCH64_LIB64 = 0x0a00;
constexpr int32_t FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000;
constexpr int32_t FLAG_LARCH_FLOAT_ABI_DOUBLE = 0x1200;

class Reader {
 public:
  Reader(std::string_view bytes, bool big) : b_(bytes), big_(big) {}
  bool has(size_t off, size_t len) const { return off <= b_.size() && len <= b_.size() - off; }
  uint32_t u32(size_t off) const {
    const auto* p = reinterpret_cast<const unsigned char*>(b_.data() + off);
    return big_ ? uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]
                : uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
  }
  uint64_t u64(size_t off) const {
    uint64_t a = u32(off), b = u32(off + 4);
    return big_ ? a << 32 | b : b << 32 | a;
  }
  // A NUL-terminated string at `off`; nullopt when it runs off the end.
  std::optional<std::string> str(size_t off) const {
    if (off >= b_.size()) return std::nullopt;
    const void* nul = std::memchr(b_.data() + off, 0, b_.size() - off);
    if (nul == nullptr) return std::nullopt;
    return std::string(b_.data() + off, static_cast<const char*>(nul) - (b_.data() + off));
  }

 private:
  std::string_view b_;
  bool big_;
};

Error corrupt(std::string what) { return bad_input("read ld.so.cache", "", std::move(what)); }

Result<std::vector<LdCacheEntry>> parse_new(std::string_view file, size_t base, bool big_hint) {
  if (file.size() < base + kNewHeader) return corrupt("truncated header");
  uint8_t order = static_cast<uint8_t>(file[base + 28]) & 3;
  // cache_file_new_flags_endian_*: 0 unknown (ldconfig before 2.32: host order), 2 little, 3 big.
  bool big = order == 3 ? true : order == 2 ? false : big_hint;
  Reader r(file, big);
  uint32_t nlibs = r.u32(base + 20);
  if (nlibs > (file.size() - base - kNewHeader) / kNewEntry) return corrupt("entry count exceeds the file size");
  std::vector<std::string> hwcaps_names;
  uint32_t ext = r.u32(base + 32);
  if (ext != 0 && r.has(base + ext, 8) && r.u32(base + ext) == kExtensionMagic) {
    uint32_t count = r.u32(base + ext + 4);
    if (count > (file.size() - base - ext - 8) / 16) return corrupt("extension section count exceeds the file size");
    for (uint32_t i = 0; i < count; ++i) {
      size_t s = base + ext + 8 + size_t(i) * 16;
      uint32_t tag = r.u32(s), off = r.u32(s + 8), size = r.u32(s + 12);
      if (tag != kExtensionTagHwcaps) continue;
      if (!r.has(base + off, size) || size % 4 != 0) return corrupt("glibc-hwcaps section lies outside the file");
      for (uint32_t j = 0; j < size / 4; ++j) {
        auto name = r.str(base + r.u32(base + off + j * 4));
        if (!name) return corrupt("glibc-hwcaps name lies outside the file");
        hwcaps_names.push_back(std::move(*name));
      }
    }
  }
  std::vector<LdCacheEntry> out;
  out.reserve(nlibs);
  for (uint32_t i = 0; i < nlibs; ++i) {
    size_t e = base + kNewHeader + size_t(i) * kNewEntry;
    LdCacheEntry entry;
    entry.flags = static_cast<int32_t>(r.u32(e));
    auto key = r.str(base + r.u32(e + 4));
    auto value = r.str(base + r.u32(e + 8));
    if (!key || !value) return corrupt("string offset of entry " + std::to_string(i) + " lies outside the file");
    entry.name = std::move(*key);
    entry.path = std::move(*value);
    uint64_t hwcap = r.u64(e + 16);
    if ((hwcap >> 32) == (kHwcapExtension >> 32)) {
      uint32_t index = static_cast<uint32_t>(hwcap);
      if (index >= hwcaps_names.size()) return corrupt("entry " + std::to_string(i) + " names an unknown glibc-hwcaps index");
      entry.hwcaps = hwcaps_names[index];
    } else {
      entry.legacy_hwcap = hwcap;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

Result<LdCache> parse_ld_cache(std::string_view bytes, bool big_endian_hint) {
  LdCache cache;
  if (bytes.substr(0, kNewMagic.size()) == kNewMagic) {
    auto entries = parse_new(bytes, 0, big_endian_hint);
    if (!entries) return entries.error();
    cache.format = LdCache::Format::New;
    cache.entries = std::move(*entries);
    return cache;
  }
  if (bytes.substr(0, kOldMagic.size()) != kOldMagic) return corrupt("unknown format (bad magic)");
  if (bytes.size() < kOldHeader) return corrupt("truncated header");
  Reader r(bytes, big_endian_hint);
  uint32_t nlibs = r.u32(12);
  if (nlibs > (bytes.size() - kOldHeader) / kOldEntry) return corrupt("entry count exceeds the file size");
  size_t strings = kOldHeader + size_t(nlibs) * kOldEntry;
  // A new-format cache may follow, aligned to 8 bytes (ALIGN_CACHE); glibc prefers it.
  size_t new_base = (strings + 7) & ~size_t(7);
  if (bytes.size() >= new_base + kNewHeader && bytes.substr(new_base, kNewMagic.size()) == kNewMagic) {
    auto entries = parse_new(bytes, new_base, big_endian_hint);
    if (!entries) return entries.error();
    cache.format = LdCache::Format::OldAndNew;
    cache.entries = std::move(*entries);
    return cache;
  }
  cache.format = LdCache::Format::Old;
  for (uint32_t i = 0; i < nlibs; ++i) {
    size_t e = kOldHeader + size_t(i) * kOldEntry;
    LdCacheEntry entry;
    entry.flags = static_cast<int32_t>(r.u32(e));
    auto key = r.str(strings + r.u32(e + 4));
    auto value = r.str(strings + r.u32(e + 8));
    if (!key || !value) return corrupt("string offset of entry " + std::to_string(i) + " lies outside the file");
    entry.name = std::move(*key);
    entry.path = std::move(*value);
    cache.entries.push_back(std::move(entry));
  }
  return cache;
}

std::vector<int32_t> ld_cache_flags_for(const ElfIdent& ident) {
  bool is64 = ident.elf_class == 2;
  switch (ident.machine) {
    case 62:  // EM_X86_64
      return {FLAG_ELF_LIBC6 | (is64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32)};
    case 183:  // EM_AARCH64
      return {FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64};
    case 40:  // EM_ARM: hard-float objects use FLAG_ARM_LIBHF (EF_ARM_ABI_FLOAT_HARD = 0x400)
      return {(ident.flags & 0x400) ? FLAG_ELF_LIBC6 | FLAG_ARM_LIBHF : FLAG_ELF_LIBC6};
    case 21:  // EM_PPC64
      return {FLAG_ELF_LIBC6 | FLAG_POWERPC_LIB64};
    case 22:  // EM_S390
      return {is64 ? FLAG_ELF_LIBC6 | FLAG_S390_LIB64 : FLAG_ELF_LIBC6};
    case 43:  // EM_SPARCV9
      return {FLAG_ELF_LIBC6 | FLAG_SPARC_LIB64};
    case 243:  // EM_RISCV: the double-float ABI, Debian's riscv64
      return {is64 ? FLAG_ELF_LIBC6 | FLAG_RISCV_FLOAT_ABI_DOUBLE : FLAG_ELF_LIBC6};
    case 258:  // EM_LOONGARCH
      return {FLAG_ELF_LIBC6 | FLAG_LARCH_FLOAT_ABI_DOUBLE};
    case 3:   // EM_386
    case 20:  // EM_PPC
    case 8:   // EM_MIPS (o32; n32/n64 need e_flags and are not modelled)
      return {FLAG_ELF_LIBC6};
    default:
      return {};
  }
}

}  // namespace minify
