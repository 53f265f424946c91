// Reads what ld.so reads: the ELF header, the program headers, PT_INTERP and PT_DYNAMIC, with the
// dynamic string table and the symbol-version tables (DT_VERNEED, DT_VERDEF) found by mapping their
// virtual addresses through PT_LOAD, as ld.so and eu-readelf --use-dynamic do. Section headers are
// never needed (only section 0, for the PN_XNUM escape), so stripped or sstripped files read the
// same. Version structures: the "Symbol Versioning" chapter of the LSB Core specification; they are
// walked the way glibc's elf/dl-version.c walks them (the vn_next/vna_next/vd_next chains, not the
// DT_VERNEEDNUM/vn_cnt counts).
//
// Everything is read with pread into a few small buffers. Mapping each whole file (libelf's
// ELF_C_READ_MMAP) cost an mmap and a munmap per file, and the munmaps' TLB flushes were 44% of
// `minify deps`' system time over /usr/bin. Integers are decoded in the file's byte order by hand,
// so any class and byte order reads the same on any host.
#include "minify/elf.hpp"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <array>

namespace minify {

namespace {

constexpr uint64_t kHeadBytes = 8192;           // the ELF header, program headers and PT_INTERP, in practice
constexpr uint64_t kWindowBytes = 4096;         // a version table or a string read on demand
constexpr uint64_t kSpanBytes = 64 << 10;       // the string table's end and the version tables, read at once
constexpr uint64_t kMaxDynamicBytes = 1 << 20;  // 65,536 entries; real files have under 100
constexpr uint64_t kMaxNameBytes = 64 << 10;    // one dynamic string read on demand
constexpr size_t kMaxVersionEntries = 1 << 16;  // version indices are 15 bits
constexpr uint64_t kPathMax = 4096;             // the kernel refuses a longer PT_INTERP (binfmt_elf.c)

Error corrupt(std::string_view name, std::string what) {
  return bad_input("read ELF", std::string(name), std::move(what));
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Byte ranges of one file read with pread. Pinned ranges stay until the reader goes; the rest
// lands in a few scratch windows, reused round robin. Buffers come from a per-thread pool, so
// reading thousands of files allocates (and page-faults) a handful of buffers, not thousands.
class FileReader {
 public:
  FileReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileReader() {
    for (Chunk& c : pinned_) release(c);
    for (Chunk& c : scratch_) release(c);
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  uint64_t size() const { return size_; }
  int io_error() const { return errno_; }
  bool inside(uint64_t off, uint64_t n) const { return off <= size_ && n <= size_ - off; }

  // [off, off + n) kept for the reader's lifetime; nullopt when not inside the file. Requires:
  // at most kPinned distinct ranges (parse pins the head, the program headers, the dynamic
  // segment and one span).
  std::optional<std::string_view> pin(uint64_t off, uint64_t n) {
    if (!inside(off, n)) return std::nullopt;
    if (auto v = cached(off, n)) return v;
    if (pinned_count_ == pinned_.size()) return get(off, n);  // never happens; stay correct anyway
    Chunk& c = pinned_[pinned_count_];
    if (!fill(c, off, n)) return std::nullopt;
    ++pinned_count_;
    return c.view();
  }

  // [off, off + n), reading a window of at least `window` bytes when it is not cached.
  // Requires: the view is used before the next call.
  std::optional<std::string_view> get(uint64_t off, uint64_t n, uint64_t window = kWindowBytes) {
    if (!inside(off, n)) return std::nullopt;
    if (auto v = cached(off, n)) return v;
    Chunk& c = scratch_[next_scratch_++ % scratch_.size()];
    if (!fill(c, off, std::min(std::max(n, window), size_ - off))) return std::nullopt;
    return c.view().substr(0, n);
  }

  // The cached bytes from `off` to the end of the window holding it (empty when none does).
  std::string_view cached_from(uint64_t off) const {
    if (const Chunk* c = holding(off, 1)) return c->view().substr(off - c->off);
    return {};
  }

  std::optional<std::string_view> cached(uint64_t off, uint64_t n) const {
    if (const Chunk* c = holding(off, n)) return c->view().substr(off - c->off, n);
    return std::nullopt;
  }

 private:
  static constexpr size_t kPinned = 4;

  struct Chunk {
    uint64_t off = 0;
    size_t size = 0, capacity = 0;
    std::unique_ptr<char[]> data;  // not zero-filled: pread overwrites it
    bool holds(uint64_t o, uint64_t n) const { return o >= off && o - off <= size && n <= size - (o - off); }
    std::string_view view() const { return {data.get(), size}; }
  };

  // Spare buffers of this thread, largest last.
  static std::vector<Chunk>& pool() {
    static thread_local std::vector<Chunk> spare;
    return spare;
  }
  static void release(Chunk& c) {
    constexpr size_t kKeep = 16, kKeepBytes = 256 << 10;
    auto& spare = pool();
    if (c.data && spare.size() < kKeep && c.capacity <= kKeepBytes) spare.push_back(std::move(c));
  }

  const Chunk* holding(uint64_t off, uint64_t n) const {
    for (size_t i = 0; i < pinned_count_; ++i)
      if (pinned_[i].holds(off, n)) return &pinned_[i];
    for (const Chunk& c : scratch_)
      if (c.holds(off, n)) return &c;
    return nullptr;
  }

  bool fill(Chunk& c, uint64_t off, uint64_t n) {
    c.off = off;
    c.size = 0;
    if (c.capacity < n) {
      auto& spare = pool();
      auto it = std::find_if(spare.begin(), spare.end(), [&](const Chunk& s) { return s.capacity >= n; });
      if (it != spare.end()) {
        c.data = std::move(it->data);
        c.capacity = it->capacity;
        spare.erase(it);
      } else {
        size_t cap = std::max<size_t>(n, kHeadBytes);
        c.data = std::make_unique_for_overwrite<char[]>(cap);
        c.capacity = cap;
      }
    }
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, c.data.get() + done, n - done, static_cast<off_t>(off + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) errno_ = errno;
      if (r <= 0) return false;  // an error, or the file shrank under us
      done += static_cast<size_t>(r);
    }
    c.size = n;
    return true;
  }

  int fd_;
  uint64_t size_;
  int errno_ = 0;
  std::array<Chunk, kPinned> pinned_;
  size_t pinned_count_ = 0;
  std::array<Chunk, 3> scratch_;
  size_t next_scratch_ = 0;
};

// Fixed-size integers in the file's byte order.
struct Decoder {
  bool big_endian = false;
  uint64_t get(std::string_view b, size_t off, unsigned n) const {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) {
      uint64_t c = static_cast<unsigned char>(b[off + i]);
      v |= big_endian ? c << (8 * (n - 1 - i)) : c << (8 * i);
    }
    return v;
  }
  uint16_t u16(std::string_view b, size_t off) const { return static_cast<uint16_t>(get(b, off, 2)); }
  uint32_t u32(std::string_view b, size_t off) const { return static_cast<uint32_t>(get(b, off, 4)); }
  uint64_t u64(std::string_view b, size_t off) const { return get(b, off, 8); }
};

struct Segment {
  uint64_t offset, vaddr, filesz;
};

// The file offset of [vaddr, vaddr + n) when it lies inside one PT_LOAD's file image.
std::optional<uint64_t> vaddr_to_offset(const std::vector<Segment>& loads, uint64_t vaddr, uint64_t n = 1) {
  for (const auto& ph : loads)
    if (vaddr >= ph.vaddr && vaddr - ph.vaddr < ph.filesz && n <= ph.filesz - (vaddr - ph.vaddr))
      return ph.offset + (vaddr - ph.vaddr);
  return std::nullopt;
}

// The dynamic string table, read string by string. GNU ld and lld put the strings ld.so needs
// (DT_NEEDED, DT_SONAME, the paths, the version names) at its end, after the symbol names, so a
// miss reads the table's last window first: one read for a 300 KB table like libstdc++'s.
class StringTable {
 public:
  StringTable(FileReader& f, uint64_t off, uint64_t size) : f_(f), off_(off), size_(size) {}

  // The NUL-terminated string at `o`; nullopt when `o` is past DT_STRSZ or unreadable.
  std::optional<std::string> at(uint64_t o) {
    if (o >= size_) return std::nullopt;
    uint64_t left = size_ - o;
    if (auto s = terminated(f_.cached_from(off_ + o), left)) return s;
    uint64_t start = left <= kWindowBytes ? size_ - std::min(size_, kWindowBytes) : o;
    if (auto v = f_.get(off_ + start, std::min(size_ - start, kWindowBytes), 0))
      if (auto s = terminated(v->substr(o - start), left)) return s;
    auto v = f_.get(off_ + o, std::min(left, kMaxNameBytes), 0);  // a long string
    if (!v) return std::nullopt;
    return std::string(v->data(), strnlen(v->data(), v->size()));
  }

 private:
  // The string at the start of `bytes` when its NUL (or the table's end, `left` bytes on) is in view.
  static std::optional<std::string> terminated(std::string_view bytes, uint64_t left) {
    if (bytes.size() > left) bytes = bytes.substr(0, left);
    if (bytes.empty()) return std::nullopt;  // nothing in view (and strnlen must not see a null pointer)
    size_t n = strnlen(bytes.data(), bytes.size());
    if (n == bytes.size() && bytes.size() < left) return std::nullopt;
    return std::string(bytes.data(), n);
  }

  FileReader& f_;
  uint64_t off_, size_;
};

struct VersionTags {
  std::optional<uint64_t> verneed, verdef;
};

// DT_VERNEED and DT_VERDEF, walked as _dl_check_map_versions walks them: each chain until a zero
// next offset, at least one Vernaux per Verneed.
Status read_versions(FileReader& f, const Decoder& d, const std::vector<Segment>& loads, StringTable& strings,
                     const VersionTags& tags, std::string_view name, ElfInfo& info) {
  size_t entries = 0;
  auto count = [&]() -> Status {
    if (++entries > kMaxVersionEntries) return corrupt(name, "more than " + std::to_string(kMaxVersionEntries) + " version entries");
    return Ok{};
  };
  // The `n` bytes at virtual address `vaddr`, through PT_LOAD.
  auto at = [&](uint64_t vaddr, uint64_t n, const char* what) -> Result<std::string_view> {
    auto off = vaddr_to_offset(loads, vaddr, n);
    std::optional<std::string_view> v;
    if (off) v = f.get(*off, n);
    if (!v) return corrupt(name, std::string(what) + " at " + hex(vaddr) + " lies outside the file");
    return *v;
  };
  auto string = [&](uint64_t o, const char* what) -> Result<std::string> {
    auto s = strings.at(o);
    if (!s) return corrupt(name, std::string(what) + " offset " + std::to_string(o) + " is past DT_STRSZ");
    return std::move(*s);
  };

  if (tags.verneed) {
    for (uint64_t ent = *tags.verneed;;) {
      if (auto st = count(); !st) return st.error();
      auto b = at(ent, 16, "Verneed");
      if (!b) return b.error();
      ElfVerneed need;
      need.version = d.u16(*b, 0);
      need.versions.reserve(std::min<size_t>(d.u16(*b, 2), 64));  // vn_cnt, a hint only
      uint32_t file = d.u32(*b, 4), aux_off = d.u32(*b, 8), next = d.u32(*b, 12);
      auto fname = string(file, "vn_file");
      if (!fname) return fname.error();
      need.file = std::move(*fname);
      for (uint64_t aux = ent + aux_off;;) {
        if (auto st = count(); !st) return st.error();
        auto a = at(aux, 16, "Vernaux");
        if (!a) return a.error();
        ElfVernaux v;
        v.hash = d.u32(*a, 0);
        v.flags = d.u16(*a, 4);
        v.other = d.u16(*a, 6);
        uint32_t vname = d.u32(*a, 8), anext = d.u32(*a, 12);
        auto s = string(vname, "vna_name");
        if (!s) return s.error();
        v.name = std::move(*s);
        need.versions.push_back(std::move(v));
        if (anext == 0) break;
        aux += anext;
      }
      info.verneed.push_back(std::move(need));
      if (next == 0) break;
      ent += next;
    }
  }
  if (tags.verdef) {
    info.has_verdef = true;
    for (uint64_t ent = *tags.verdef;;) {
      if (auto st = count(); !st) return st.error();
      auto b = at(ent, 20, "Verdef");
      if (!b) return b.error();
      ElfVerdef def;
      def.version = d.u16(*b, 0);
      def.flags = d.u16(*b, 2);
      def.ndx = d.u16(*b, 4);
      def.hash = d.u32(*b, 8);
      uint32_t aux_off = d.u32(*b, 12), next = d.u32(*b, 16);
      auto a = at(ent + aux_off, 8, "Verdaux");
      if (!a) return a.error();
      auto s = string(d.u32(*a, 0), "vda_name");
      if (!s) return s.error();
      def.name = std::move(*s);
      info.verdef.push_back(std::move(def));
      if (next == 0) break;
      ent += next;
    }
  }
  return Ok{};
}

Result<ElfInfo> parse(FileReader& f, std::string_view name) {
  auto head = f.pin(0, std::min(f.size(), kHeadBytes));
  if (!head || head->size() < EI_NIDENT || std::memcmp(head->data(), ELFMAG, SELFMAG) != 0)
    return corrupt(name, "not an ELF file");
  std::string_view h = *head;
  ElfInfo info;
  ElfIdent& id = info.ident;
  id.elf_class = static_cast<uint8_t>(h[EI_CLASS]);
  id.data = static_cast<uint8_t>(h[EI_DATA]);
  id.osabi = static_cast<uint8_t>(h[EI_OSABI]);
  if (id.elf_class != ELFCLASS32 && id.elf_class != ELFCLASS64) return corrupt(name, "invalid ELF class");
  if (id.data != ELFDATA2LSB && id.data != ELFDATA2MSB) return corrupt(name, "invalid ELF byte order");
  bool is64 = id.elf_class == ELFCLASS64;
  if (h.size() < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr))) return corrupt(name, "truncated ELF header");
  Decoder d{id.data == ELFDATA2MSB};
  auto word = [&](std::string_view b, size_t off64, size_t off32) { return is64 ? d.u64(b, off64) : d.u32(b, off32); };
  id.type = d.u16(h, 16);
  id.machine = d.u16(h, 18);
  id.flags = d.u32(h, is64 ? 48 : 36);
  info.entry = word(h, 24, 24);
  uint64_t phoff = word(h, 32, 28), shoff = word(h, 40, 32);
  uint64_t phnum = d.u16(h, is64 ? 56 : 44);
  const uint64_t phentsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);

  // gABI "Extended Program Header Numbering": with e_phnum == PN_XNUM the count is section 0's
  // sh_info. A header may so claim up to 2^32 entries: tables that cannot fit in the file are
  // refused before anything is read.
  if (phnum == PN_XNUM && shoff != 0) {
    auto s0 = f.get(shoff, is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr));
    if (s0) phnum = d.u32(*s0, is64 ? 44 : 28);
  }
  if (phnum > 0 && (phoff >= f.size() || phnum > (f.size() - phoff) / phentsize))
    return corrupt(name, "program header table lies outside the file (" + std::to_string(phnum) + " entries)");
  auto phdrs = f.pin(phoff, phnum * phentsize);
  if (!phdrs) return corrupt(name, "program header table lies outside the file");

  std::vector<Segment> loads;
  std::optional<Segment> dynamic;
  for (uint64_t i = 0; i < phnum; ++i) {
    std::string_view p = phdrs->substr(i * phentsize, phentsize);
    uint32_t type = d.u32(p, 0);
    Segment s{word(p, 8, 4), word(p, 16, 8), word(p, 32, 16)};
    if (type == PT_LOAD) loads.push_back(s);
    if (type == PT_DYNAMIC) dynamic = s;
    if (type == PT_INTERP) {
      if (s.filesz == 0 || !f.inside(s.offset, s.filesz)) return corrupt(name, "PT_INTERP lies outside the file");
      auto v = f.get(s.offset, std::min(s.filesz, kPathMax));
      if (!v) return corrupt(name, "PT_INTERP lies outside the file");
      info.interp = std::string(v->data(), strnlen(v->data(), v->size()));
    }
  }

  if (dynamic) {
    info.has_dynamic = true;
    if (!f.inside(dynamic->offset, dynamic->filesz)) return corrupt(name, "PT_DYNAMIC lies outside the file");
    const uint64_t dynsize = is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
    uint64_t count = std::min(dynamic->filesz, kMaxDynamicBytes) / dynsize;
    auto dyn = f.pin(dynamic->offset, count * dynsize);
    if (!dyn) return corrupt(name, "PT_DYNAMIC lies outside the file");
    uint64_t strtab = 0, strsz = 0;
    std::vector<uint64_t> needed;
    std::optional<uint64_t> soname, rpath, runpath;
    VersionTags versions;
    for (uint64_t i = 0; i < count; ++i) {
      // d_tag is signed (Elf32_Sword / Elf64_Sxword).
      int64_t tag = is64 ? static_cast<int64_t>(d.u64(*dyn, i * dynsize)) : static_cast<int32_t>(d.u32(*dyn, i * dynsize));
      uint64_t val = word(*dyn, i * dynsize + 8, i * dynsize + 4);
      if (tag == DT_NULL) break;
      switch (tag) {
        case DT_NEEDED: needed.push_back(val); break;
        case DT_SONAME: soname = val; break;
        case DT_RPATH: rpath = val; break;
        case DT_RUNPATH: runpath = val; break;
        case DT_STRTAB: strtab = val; info.has_strtab = true; break;
        case DT_STRSZ: strsz = val; break;
        case DT_FLAGS: info.dt_flags = val; break;
        case DT_FLAGS_1: info.dt_flags_1 = val; break;
        case DT_RELR: info.has_relr = true; break;
        case DT_VERNEED: versions.verneed = val; break;
        case DT_VERDEF: versions.verdef = val; break;
        default: break;
      }
    }
    bool any_string = !needed.empty() || soname || rpath || runpath;
    bool any_version = info.has_strtab && (versions.verneed || versions.verdef);
    if (any_string && !info.has_strtab) return corrupt(name, "dynamic section has strings but no DT_STRTAB");
    if (any_string || any_version) {
      auto off = vaddr_to_offset(loads, strtab);
      if (!off) return corrupt(name, "DT_STRTAB is not inside a PT_LOAD segment");
      if (strsz == 0 || *off >= f.size()) return corrupt(name, "DT_STRTAB lies outside the file");
      strsz = std::min<uint64_t>(strsz, f.size() - *off);
      // The end of the string table and the version tables usually lie close together (.dynstr,
      // .gnu.version, .gnu.version_d, .gnu.version_r): one read for all of them.
      std::vector<uint64_t> want = {*off + strsz - std::min(strsz, kWindowBytes)};
      for (auto v : {versions.verneed, versions.verdef})
        if (v && any_version)
          if (auto o = vaddr_to_offset(loads, *v)) want.push_back(*o);
      uint64_t lo = *std::min_element(want.begin(), want.end());
      uint64_t hi = std::min(f.size(), *std::max_element(want.begin(), want.end()) + kWindowBytes);
      if (hi - lo <= kSpanBytes && !f.cached(lo, hi - lo)) (void)f.pin(lo, hi - lo);
      StringTable strings(f, *off, strsz);
      auto str = [&](uint64_t o) -> Result<std::string> {
        auto s = strings.at(o);
        if (!s) return corrupt(name, "dynamic string offset " + std::to_string(o) + " is past DT_STRSZ");
        return std::move(*s);
      };
      for (uint64_t o : needed) {
        auto v = str(o);
        if (!v) return v.error();
        info.needed.push_back(std::move(*v));
      }
      auto set = [&](std::optional<uint64_t> o, auto& field) -> Status {
        if (!o) return Ok{};
        auto v = str(*o);
        if (!v) return v.error();
        field = std::move(*v);
        return Ok{};
      };
      if (auto st = set(soname, info.soname); !st) return st.error();
      if (auto st = set(rpath, info.rpath); !st) return st.error();
      if (auto st = set(runpath, info.runpath); !st) return st.error();
      if (any_version)
        if (auto st = read_versions(f, d, loads, strings, versions, name, info); !st) return st.error();
    }
  }

  if (!info.has_dynamic)
    info.linkage = Linkage::Static;
  else if (info.interp || !info.needed.empty())
    info.linkage = Linkage::Dynamic;
  else if (id.type == ET_DYN && ((info.dt_flags_1 & DF_1_PIE) != 0 || (info.soname.empty() && info.entry != 0)))
    info.linkage = Linkage::StaticPie;
  else
    info.linkage = id.type == ET_DYN ? Linkage::Dynamic : Linkage::Static;
  return info;
}

}  // namespace

bool ElfInfo::nodeflib() const { return (dt_flags_1 & DF_1_NODEFLIB) != 0; }

bool ElfVernaux::weak() const { return (flags & VER_FLG_WEAK) != 0; }

Result<ElfIdent> read_elf_ident(int fd, std::string_view name) {
  unsigned char buf[64];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n < 0) return sys_error("read", std::string(name));
  if (n < EI_NIDENT || std::memcmp(buf, ELFMAG, SELFMAG) != 0) return corrupt(name, "not an ELF file");
  ElfIdent id;
  id.elf_class = buf[EI_CLASS];
  id.data = buf[EI_DATA];
  id.osabi = buf[EI_OSABI];
  if (id.elf_class != ELFCLASS32 && id.elf_class != ELFCLASS64) return corrupt(name, "invalid ELF class");
  if (id.data != ELFDATA2LSB && id.data != ELFDATA2MSB) return corrupt(name, "invalid ELF byte order");
  size_t need = id.elf_class == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
  if (static_cast<size_t>(n) < need) return corrupt(name, "truncated ELF header");
  std::string_view b(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  Decoder d{id.data == ELFDATA2MSB};
  id.type = d.u16(b, 16);
  id.machine = d.u16(b, 18);
  id.flags = d.u32(b, id.elf_class == ELFCLASS64 ? 48 : 36);
  return id;
}

Result<ElfInfo> read_elf_info(int fd, std::string_view name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("stat", std::string(name));
  return read_elf_info(fd, name, static_cast<uint64_t>(st.st_size));
}

Result<ElfInfo> read_elf_info(int fd, std::string_view name, uint64_t file_size) {
  FileReader f(fd, file_size);
  auto info = parse(f, name);
  if (!info && f.io_error() != 0) return sys_error("read", std::string(name), f.io_error());
  return info;
}

std::string machine_name(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86-64";
    case EM_386: return "i386";
    case EM_AARCH64: return "AArch64";
    case EM_ARM: return "ARM";
    case EM_RISCV: return "RISC-V";
    case EM_PPC64: return "PowerPC64";
    case EM_PPC: return "PowerPC";
    case EM_S390: return "IBM S/390";
    case EM_MIPS: return "MIPS";
    case EM_SPARCV9: return "SPARC v9";
    case EM_LOONGARCH: return "LoongArch";
    default: return "EM_" + std::to_string(machine);
  }
}

std::string class_name(uint8_t elf_class) { return elf_class == ELFCLASS64 ? "ELF64" : "ELF32"; }

std::string type_name(uint16_t type) {
  switch (type) {
    case ET_EXEC: return "EXEC";
    case ET_DYN: return "DYN";
    case ET_REL: return "REL";
    case ET_CORE: return "CORE";
    default: return "ET_" + std::to_string(type);
  }
}

std::string linkage_name(Linkage linkage) {
  switch (linkage) {
    case Linkage::Static: return "static";
    case Linkage::StaticPie: return "static-pie";
    case Linkage::Dynamic: return "dynamic";
  }
  return "unknown";
}

}  // namespace minify
