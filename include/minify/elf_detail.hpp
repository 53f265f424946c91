// What `minify inspect` reads from an ELF file beyond what ld.so needs to map it: the dynamic
// symbols with their versions (.dynsym, .gnu.version, .gnu.version_r, .gnu.version_d, found through
// DT_SYMTAB/DT_VERSYM/DT_VERNEED/DT_VERDEF so files without section headers read the same), the
// relocations that bind imported symbols to GOT slots, notes (PT_NOTE, or SHT_NOTE without one),
// the section table when there is one, .symtab when not stripped, the function starts listed in
// .eh_frame_hdr (read on demand), and the bytes behind any virtual address. Built on libelf in src/elf/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minify/elf.hpp"
#include "minify/result.hpp"

namespace minify {

// A read-only private mapping of a whole file; every view into it stays valid while it lives.
class MappedFile {
 public:
  static Result<MappedFile> map(int fd, std::string_view name);
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

struct ElfSegment {
  uint32_t type = 0;   // PT_*
  uint32_t flags = 0;  // PF_R | PF_W | PF_X
  uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0;
};

struct ElfSection {
  std::string name;
  uint32_t type = 0;  // SHT_*
  uint64_t flags = 0; // SHF_*
  uint64_t addr = 0, offset = 0, size = 0;
};

// One .dynsym (or .symtab) entry.
struct ElfSymbol {
  std::string name;
  std::string version;       // "GLIBC_2.34" from .gnu.version_r / _d; empty when unversioned
  std::string version_file;  // the library the version is needed from ("libc.so.6"), for imports
  bool defined = false;      // st_shndx != SHN_UNDEF
  bool hidden_version = false;  // the version index has VERSYM_HIDDEN set (not the default)
  uint8_t bind = 0;          // STB_*
  uint8_t type = 0;          // STT_*
  uint64_t value = 0, size = 0;
};

// One DT_VERNEED entry: the versions a file needs from one library.
struct ElfVersionNeed {
  std::string file;  // "libc.so.6"
  std::vector<std::string> versions;
};

// An imported symbol bound to a GOT slot by a JUMP_SLOT, GLOB_DAT or absolute relocation:
// a call through the PLT or through `call *slot(%rip)` reads this slot.
struct ElfImportSlot {
  std::string symbol;
  uint64_t slot = 0;   // virtual address of the GOT slot
  bool plt = false;    // from DT_JMPREL (lazy binding through a PLT stub)
};

// Where a dynamic relocation table lies in the file (DT_RELA, DT_REL, DT_JMPREL).
struct ElfRelocTable {
  uint64_t offset = 0, size = 0;
  bool rela = true;
};

struct ElfNote {
  std::string owner;  // "GNU", "FDO", "Go", ...
  uint32_t type = 0;
  std::string desc;
};

// Everything in one file that `minify inspect` looks at. Addresses are unrelocated virtual
// addresses, as in the file.
struct ElfDetail {
  ElfIdent ident;
  uint64_t entry = 0;
  uint64_t file_size = 0;                  // offsets past it are never returned
  std::vector<ElfSegment> segments;        // every program header
  std::vector<ElfSection> sections;        // empty when the file has no section headers
  std::vector<ElfSymbol> dynsym;           // index 0 (the null symbol) left out
  std::vector<ElfVersionNeed> version_needs;
  std::vector<std::string> version_defs;   // DT_VERDEF names, the file's own first
  std::vector<ElfImportSlot> import_slots;
  std::vector<ElfRelocTable> relocation_tables;
  std::vector<ElfNote> notes;
  std::vector<std::string> problems;       // parts that could not be read (the rest still is)

  const ElfSection* section(std::string_view name) const;
  // The file offset behind [vaddr, vaddr + size) inside one PT_LOAD's file image and the file.
  std::optional<uint64_t> offset_of(uint64_t vaddr, uint64_t size = 1) const;
};

struct ElfDetailOptions {
  // Copy the names (and versions) of defined dynamic symbols too. Callers that only look at
  // imports turn this off: a large C++ library defines tens of thousands. The entries stay (with
  // empty names), so symbol indices still line up.
  bool defined_symbol_names = true;
  // When set, only imports whose name it keeps get their name and version copied (the others
  // stay nameless, like defined symbols above, and name no import slot). A program imports
  // thousands of symbols; inspect looks at a few dozen.
  bool (*keep_import)(std::string_view symbol_name) = nullptr;
};

// Reads an ELF image already in memory (a MappedFile's bytes). Structural damage in optional
// parts (versions, notes, relocations) lands in ElfDetail::problems; only an unreadable header
// is an Error.
Result<ElfDetail> read_elf_detail(std::string_view image, std::string_view name, ElfDetailOptions options = {});

// .symtab (the static symbol table), when the file was not stripped; empty otherwise. Kept apart
// from read_elf_detail because Go and C++ binaries carry tens of thousands of entries that most
// callers never look at. `keep` filters by name before a string is copied.
Result<std::vector<ElfSymbol>> read_elf_symtab(std::string_view image, std::string_view name,
                                               bool (*keep)(std::string_view symbol_name) = nullptr);

// The start of every function with unwind information: the initial locations of the binary-search
// table at the end of .eh_frame_hdr (PT_GNU_EH_FRAME), which stripped files keep. Sorted; empty
// when there is no such table or it uses an encoding other than the GNU linkers' datarel|sdata4.
std::vector<uint64_t> read_function_starts(const ElfDetail& elf, std::string_view image);

// The pointer stored at `vaddr` when it is a load-time constant: the word lies in memory that is
// read-only once relocated (a PT_LOAD without PF_W, or PT_GNU_RELRO) and is either covered by a
// RELATIVE relocation (its addend) or, in an ET_EXEC file, by no relocation at all. nullopt for
// writable data (the program may change it) and for symbolic relocations.
std::optional<uint64_t> read_constant_pointer(const ElfDetail& elf, std::string_view image, uint64_t vaddr);

// The same for many addresses of one file: the dynamic relocations are indexed once, on the
// first query. Requires: `elf` and `image` outlive the reader.
class ConstantPointerReader {
 public:
  ConstantPointerReader(const ElfDetail& elf, std::string_view image) : elf_(elf), image_(image) {}
  std::optional<uint64_t> at(uint64_t vaddr);

 private:
  struct Reloc {
    uint64_t where;
    bool relative;
    int64_t addend;
    bool operator<(const Reloc& o) const { return where < o.where; }
  };
  const ElfDetail& elf_;
  std::string_view image_;
  bool indexed_ = false;
  std::vector<Reloc> relocs_;  // sorted by `where`
};

// The bytes at a virtual address inside the file image of a PT_LOAD, clipped to that segment;
// empty when the address is not backed by file bytes.
std::string_view bytes_at(const ElfDetail& elf, std::string_view image, uint64_t vaddr, uint64_t max_size);

}  // namespace minify
