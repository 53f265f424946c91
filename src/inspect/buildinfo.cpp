// Go build information: the blob the Go linker writes at the start of .go.buildinfo, read the way
// Go's own debug/buildinfo reads it (src/debug/buildinfo/buildinfo.go): a 32-byte header
// "\xff Go buildinf:" + pointer size + flags, 16-byte aligned; with flag 2 (Go 1.18+) the version
// and module strings follow inline as uvarint-length-prefixed bytes, before that the header holds
// two pointers to Go string headers. The module text is runtime/debug.BuildInfo.String() framed by
// 16-byte sentinels: "path", "mod", "dep", "=>" and "build" lines (runtime/debug/mod.go).
// Every read is bounds-checked: a corrupt blob is an Error, never a crash.
#include <elf.h>
#include <algorithm>

#include <cstring>

#include "minify/inspect.hpp"

namespace minify {

namespace {

constexpr std::string_view kMagic("\xff Go buildinf:", 14);
constexpr size_t kHeaderSize = 32, kAlign = 16;
constexpr size_t kSearchWindow = 64 * 1024;  // debug/buildinfo reads this much of the segment
constexpr uint64_t kMaxString = 1 << 20;

std::optional<uint64_t> read_uvarint(std::string_view& s) {
  uint64_t v = 0;
  for (unsigned shift = 0, i = 0; i < s.size() && shift < 64; ++i, shift += 7) {
    auto b = static_cast<unsigned char>(s[i]);
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      s.remove_prefix(i + 1);
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string> decode_inline(std::string_view& s) {
  auto n = read_uvarint(s);
  if (!n || *n > s.size()) return std::nullopt;
  std::string out(s.substr(0, *n));
  s.remove_prefix(*n);
  return out;
}

uint64_t read_ptr(std::string_view b, size_t ptr_size, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < ptr_size; ++i) {
    uint64_t x = static_cast<unsigned char>(b[i]);
    v |= big_endian ? x << (8 * (ptr_size - 1 - i)) : x << (8 * i);
  }
  return v;
}

// A Go string header {data pointer, length} at `addr`, and the bytes it points to.
std::optional<std::string> read_go_string(const ElfDetail& elf, std::string_view image, uint64_t addr,
                                          size_t ptr_size, bool big_endian) {
  std::string_view hdr = bytes_at(elf, image, addr, 2 * ptr_size);
  if (hdr.size() < 2 * ptr_size) return std::nullopt;
  uint64_t data = read_ptr(hdr, ptr_size, big_endian), len = read_ptr(hdr.substr(ptr_size), ptr_size, big_endian);
  if (len > kMaxString) return std::nullopt;
  std::string_view s = bytes_at(elf, image, data, len);
  if (s.size() != len) return std::nullopt;
  return std::string(s);
}

// Go quotes a build setting value with strconv.Quote when it has spaces or quotes.
std::string unquote(std::string_view v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) {
      char c = v[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += v[i];
    }
  }
  return out;
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> f;
  size_t i = 0;
  while (true) {
    size_t j = line.find('\t', i);
    f.push_back(line.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return f;
    i = j + 1;
  }
}

void parse_modinfo(std::string_view text, GoBuildInfo& bi) {
  GoModule* last = nullptr;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    auto f = split_tabs(line);
    auto module = [&](size_t from) {
      GoModule m;
      if (f.size() > from) m.path = std::string(f[from]);
      if (f.size() > from + 1) m.version = std::string(f[from + 1]);
      if (f.size() > from + 2) m.sum = std::string(f[from + 2]);
      return m;
    };
    if (f[0] == "path" && f.size() > 1) {
      bi.path = std::string(f[1]);
    } else if (f[0] == "mod") {
      bi.main = module(1);
      last = &*bi.main;
    } else if (f[0] == "dep") {
      bi.deps.push_back(module(1));
      last = &bi.deps.back();
    } else if (f[0] == "=>" && last != nullptr) {
      GoModule r = module(1);
      last->replaced_by = std::make_pair(r.path, r.version);
    } else if (f[0] == "build" && f.size() > 1) {
      std::string_view kv = line.substr(6);
      size_t eq;
      if (!kv.empty() && kv.front() == '"') {
        // A quoted key: find its closing quote first.
        size_t close = kv.find('"', 1);
        eq = close == std::string_view::npos ? std::string_view::npos : kv.find('=', close);
      } else {
        eq = kv.find('=');
      }
      if (eq == std::string_view::npos) continue;
      bi.settings.emplace_back(unquote(kv.substr(0, eq)), unquote(kv.substr(eq + 1)));
    }
  }
}

}  // namespace

std::optional<std::string> GoBuildInfo::setting(std::string_view key) const {
  for (const auto& [k, v] : settings)
    if (k == key) return v;
  return std::nullopt;
}

Result<std::optional<GoBuildInfo>> read_go_buildinfo(const ElfDetail& elf, std::string_view image,
                                                     std::string_view name) {
  auto corrupt = [&](std::string what) { return bad_input("read Go build info", std::string(name), std::move(what)); };
  std::string_view data;
  uint64_t base = 0;
  std::string where;
  if (const ElfSection* s = elf.section(".go.buildinfo"); s != nullptr && s->type != SHT_NOBITS) {
    if (s->offset >= image.size()) return corrupt(".go.buildinfo lies outside the file");
    data = image.substr(s->offset, std::min<uint64_t>({s->size, kSearchWindow, image.size() - s->offset}));
    base = s->addr;
    where = ".go.buildinfo";
  } else if (elf.sections.empty()) {
    // No section table to name it: search the data segment. (With a section table, a Go linker
    // always names .go.buildinfo, so its absence means this is not a Go program.)
    for (const auto& seg : elf.segments) {
      if (seg.type != PT_LOAD || (seg.flags & (PF_X | PF_W)) != PF_W) continue;
      data = bytes_at(elf, image, seg.vaddr, kSearchWindow);
      base = seg.vaddr;
      break;
    }
  }
  // The header is 16-byte aligned in memory.
  size_t at = 0;
  while (true) {
    size_t i = data.find(kMagic, at);
    if (i == std::string_view::npos || data.size() - i < kHeaderSize) return std::optional<GoBuildInfo>{};
    if ((base + i) % kAlign == 0) {
      data.remove_prefix(i);
      break;
    }
    at = i + 1;
  }
  if (where.empty()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "data segment at %#llx", static_cast<unsigned long long>(base));
    where = buf;
  }
  size_t ptr_size = static_cast<unsigned char>(data[14]);
  auto flags = static_cast<unsigned char>(data[15]);
  GoBuildInfo bi;
  bi.found_in = where;
  std::string mod;
  if (flags & 2) {
    // The inline strings may run past the search window; their lengths bound them.
    auto off = static_cast<size_t>(data.data() - image.data()) + kHeaderSize;
    std::string_view rest = image.substr(off, std::min<size_t>(image.size() - off, 2 * kMaxString));
    auto v = decode_inline(rest);
    if (!v) return corrupt("bad Go version string");
    auto m = decode_inline(rest);
    if (!m) return corrupt("bad module information string");
    bi.go_version = std::move(*v);
    mod = std::move(*m);
  } else {
    if (ptr_size != 4 && ptr_size != 8) return corrupt("bad pointer size " + std::to_string(ptr_size));
    bool big_endian = flags != 0;
    uint64_t vaddr = read_ptr(data.substr(16), ptr_size, big_endian);
    uint64_t maddr = read_ptr(data.substr(16 + ptr_size), ptr_size, big_endian);
    auto v = read_go_string(elf, image, vaddr, ptr_size, big_endian);
    auto m = read_go_string(elf, image, maddr, ptr_size, big_endian);
    if (!v) return corrupt("Go version string lies outside the file");
    bi.go_version = std::move(*v);
    if (m) mod = std::move(*m);
  }
  if (bi.go_version.empty()) return corrupt("empty Go version");
  if (bi.go_version.rfind("go", 0) != 0 && bi.go_version.rfind("devel", 0) != 0)
    return corrupt("implausible Go version `" + bi.go_version.substr(0, 32) + "`");
  // Strip the 16-byte sentinels that frame the module text.
  if (mod.size() >= 33 && mod[mod.size() - 17] == '\n') parse_modinfo(std::string_view(mod).substr(16, mod.size() - 32), bi);
  return std::optional<GoBuildInfo>(std::move(bi));
}

}  // namespace minify
