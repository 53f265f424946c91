// The ELF reader: what the dynamic loader reads from a file (identity, PT_INTERP, the dynamic
// section and the symbol-version tables it points to). Any class, byte order and machine is read,
// so a foreign-architecture root resolves as well as a native one. It reads with pread into small
// buffers, never mapping the file; src/elf/ is also the only code that includes <libelf.h>, which
// the section-level readers of elf_detail.hpp use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minify/result.hpp"

namespace minify {

// e_ident[EI_CLASS], e_ident[EI_DATA], e_ident[EI_OSABI], e_machine and e_type: what ld.so compares
// before it accepts a candidate library (elf/dl-load.c open_verify).
struct ElfIdent {
  uint8_t elf_class = 0;  // ELFCLASS32 or ELFCLASS64
  uint8_t data = 0;       // ELFDATA2LSB or ELFDATA2MSB
  uint8_t osabi = 0;
  uint16_t machine = 0;   // EM_*
  uint16_t type = 0;      // ET_*
  uint32_t flags = 0;     // e_flags (ARM float ABI, MIPS ABI, ...)

  // Same class, byte order and machine: the loader of one can map the other.
  bool compatible_with(const ElfIdent& o) const {
    return elf_class == o.elf_class && data == o.data && machine == o.machine;
  }
};

// One Vernaux entry of DT_VERNEED: a version this file needs from the library of its Verneed.
struct ElfVernaux {
  std::string name;    // vna_name: "GLIBC_2.34"
  uint32_t hash = 0;   // vna_hash: ld.so compares it with vd_hash before the names
  uint16_t flags = 0;  // vna_flags: VER_FLG_WEAK
  uint16_t other = 0;  // vna_other: the version index .gnu.version uses

  bool weak() const;
};

// One Verneed entry: the versions needed from one library.
struct ElfVerneed {
  uint16_t version = 1;  // vn_version: ld.so accepts only 1
  std::string file;      // vn_file: "libc.so.6", the DT_NEEDED name
  std::vector<ElfVernaux> versions;
};

// One Verdef entry of DT_VERDEF: a version this file defines (the first Verdaux's name).
struct ElfVerdef {
  uint16_t version = 1;  // vd_version: ld.so accepts only 1
  uint16_t flags = 0;    // vd_flags: VER_FLG_BASE marks the file's own name
  uint16_t ndx = 0;      // vd_ndx
  uint32_t hash = 0;     // vd_hash
  std::string name;      // "GLIBC_2.34", or the soname for the base entry
};

enum class Linkage {
  Static,     // no PT_DYNAMIC: nothing is loaded at start
  StaticPie,  // ET_DYN that relocates itself: no PT_INTERP, no DT_NEEDED
  Dynamic,    // has a PT_INTERP or DT_NEEDED entries
};

struct ElfInfo {
  ElfIdent ident;
  uint64_t entry = 0;
  std::optional<std::string> interp;  // PT_INTERP
  bool has_dynamic = false;           // PT_DYNAMIC present
  std::string soname;                 // DT_SONAME
  std::vector<std::string> needed;    // DT_NEEDED, in order
  std::optional<std::string> rpath;   // DT_RPATH as written
  std::optional<std::string> runpath; // DT_RUNPATH as written
  uint64_t dt_flags = 0;              // DT_FLAGS
  uint64_t dt_flags_1 = 0;            // DT_FLAGS_1 (DF_1_NODEFLIB, DF_1_PIE, ...)
  bool has_strtab = false;            // DT_STRTAB present (ld.so checks no versions without one)
  bool has_relr = false;              // DT_RELR present
  std::vector<ElfVerneed> verneed;    // DT_VERNEED, in file order (the vn_next chain)
  bool has_verdef = false;            // DT_VERDEF present (even when it lists nothing usable)
  std::vector<ElfVerdef> verdef;      // DT_VERDEF, in file order (the vd_next chain)
  Linkage linkage = Linkage::Static;

  bool nodeflib() const;
};

// Reads the ELF identity and dynamic information of an open file. `name` is only used in errors.
// Bad input (not ELF, truncated, inconsistent headers, version tables outside the file) is an
// Error with err == 0. `file_size`, when the caller already has it from fstat, saves one.
Result<ElfInfo> read_elf_info(int fd, std::string_view name);
Result<ElfInfo> read_elf_info(int fd, std::string_view name, uint64_t file_size);

// Reads only the ELF header identity (one small pread): cheap enough to reject candidate libraries
// of the wrong class or machine before a full parse.
Result<ElfIdent> read_elf_ident(int fd, std::string_view name);

// "x86-64", "AArch64", "i386", ... as readelf names them; "EM_<n>" for unknown machines.
std::string machine_name(uint16_t machine);
// "ELF64" / "ELF32".
std::string class_name(uint8_t elf_class);
// "EXEC", "DYN", "REL", "CORE".
std::string type_name(uint16_t type);
std::string linkage_name(Linkage linkage);

}  // namespace minify
