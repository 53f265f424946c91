// Helpers shared by the ELF readers of src/elf/ that go beyond ld.so's view (detail.cpp,
// symbols.cpp, notes.cpp). Not a public header: only src/elf/ includes <libelf.h>.
#pragma once

#include <gelf.h>
#include <libelf.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "minify/elf_detail.hpp"

namespace minify::elf_internal {

struct ElfDeleter {
  void operator()(Elf* e) const { elf_end(e); }
};
using ElfPtr = std::unique_ptr<Elf, ElfDeleter>;

// Opens an in-memory image with libelf; null (with elf_errmsg set) on failure.
ElfPtr open_memory(std::string_view image);

// Fixed-size integers in the file's byte order, bounds-checked against a view.
struct ByteReader {
  std::string_view bytes;
  bool big_endian = false;

  bool has(uint64_t off, uint64_t n) const { return off <= bytes.size() && n <= bytes.size() - off; }
  uint64_t get(uint64_t off, unsigned n) const {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) {
      uint64_t b = static_cast<unsigned char>(bytes[off + i]);
      v |= big_endian ? b << (8 * (n - 1 - i)) : b << (8 * i);
    }
    return v;
  }
  uint16_t u16(uint64_t off) const { return static_cast<uint16_t>(get(off, 2)); }
  uint32_t u32(uint64_t off) const { return static_cast<uint32_t>(get(off, 4)); }
  uint64_t u64(uint64_t off) const { return get(off, 8); }
};

// A NUL-terminated string at `off` of a string table, or nullopt past its end.
inline std::optional<std::string_view> table_string(std::string_view table, uint64_t off) {
  if (off >= table.size()) return std::nullopt;
  const char* s = table.data() + off;
  return std::string_view(s, strnlen(s, table.size() - off));
}

// The dynamic section's entries that the readers below use, from PT_DYNAMIC.
struct DynamicTags {
  std::optional<uint64_t> strtab, strsz, symtab, syment, hash, gnu_hash, versym, verneed, verneednum,
      verdef, verdefnum, rela, relasz, relaent, rel, relsz, relent, jmprel, pltrelsz, pltrel;
};
DynamicTags read_dynamic_tags(Elf* elf, const ElfDetail& d);

// Fill ElfDetail's symbol, version and relocation fields (symbols.cpp).
void read_dynamic_symbols(Elf* elf, std::string_view image, const DynamicTags& tags, const ElfDetailOptions& opt,
                          ElfDetail& d);
// Fill ElfDetail::notes (notes.cpp).
void read_notes(Elf* elf, std::string_view image, ElfDetail& d);

}  // namespace minify::elf_internal
