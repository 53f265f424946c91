// The ELF reader: what the dynamic loader reads from a file (identity, PT_INTERP, the dynamic
// section). Any class, byte order and machine is read, so a foreign-architecture root resolves as
// well as a native one. Built on libelf; src/elf/ is the only code that includes <libelf.h>.
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
  Linkage linkage = Linkage::Static;

  bool nodeflib() const;
};

// Reads the ELF identity and dynamic information of an open file. `name` is only used in errors.
// Bad input (not ELF, truncated, inconsistent headers) is an Error with err == 0.
Result<ElfInfo> read_elf_info(int fd, std::string_view name);

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
