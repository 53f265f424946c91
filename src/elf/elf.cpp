// Reads what ld.so reads: the ELF header, the program headers, PT_INTERP and PT_DYNAMIC, with the
// dynamic string table found by mapping DT_STRTAB (a virtual address) through PT_LOAD, as ld.so and
// eu-readelf --use-dynamic do. Section headers are never needed, so stripped or sstripped files
// read the same. libelf converts any class and byte order to the host's GElf types.
#include "minify/elf.hpp"

#include <elf.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace minify {

namespace {

struct ElfDeleter {
  void operator()(Elf* e) const { elf_end(e); }
};
using ElfPtr = std::unique_ptr<Elf, ElfDeleter>;

void init_libelf() {
  static const bool once = [] { return elf_version(EV_CURRENT) != EV_NONE; }();
  (void)once;
}

Error corrupt(std::string_view name, std::string what) {
  return bad_input("read ELF", std::string(name), std::move(what));
}

std::string libelf_reason(std::string what) { return what + ": " + elf_errmsg(-1); }

// Maps a virtual address to a file offset through the PT_LOAD segments.
std::optional<uint64_t> vaddr_to_offset(const std::vector<GElf_Phdr>& loads, uint64_t vaddr) {
  for (const auto& ph : loads)
    if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) return ph.p_offset + (vaddr - ph.p_vaddr);
  return std::nullopt;
}

}  // namespace

bool ElfInfo::nodeflib() const { return (dt_flags_1 & DF_1_NODEFLIB) != 0; }

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
  auto u16 = [&](size_t off) {
    return static_cast<uint16_t>(id.data == ELFDATA2LSB ? buf[off] | buf[off + 1] << 8 : buf[off] << 8 | buf[off + 1]);
  };
  auto u32 = [&](size_t off) {
    uint32_t a = buf[off], b = buf[off + 1], c = buf[off + 2], d = buf[off + 3];
    return id.data == ELFDATA2LSB ? a | b << 8 | c << 16 | d << 24 : a << 24 | b << 16 | c << 8 | d;
  };
  id.type = u16(16);
  id.machine = u16(18);
  id.flags = u32(id.elf_class == ELFCLASS64 ? 48 : 36);
  return id;
}

Result<ElfInfo> read_elf_info(int fd, std::string_view name) {
  init_libelf();
  ElfPtr elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
  if (!elf) return corrupt(name, libelf_reason("elf_begin"));
  if (elf_kind(elf.get()) != ELF_K_ELF) return corrupt(name, "not an ELF file");

  size_t file_size = 0;
  if (elf_rawfile(elf.get(), &file_size) == nullptr) return corrupt(name, libelf_reason("elf_rawfile"));

  GElf_Ehdr eh;
  if (gelf_getehdr(elf.get(), &eh) == nullptr) return corrupt(name, libelf_reason("truncated or corrupt ELF header"));
  ElfInfo info;
  info.ident.elf_class = eh.e_ident[EI_CLASS];
  info.ident.data = eh.e_ident[EI_DATA];
  info.ident.osabi = eh.e_ident[EI_OSABI];
  info.ident.machine = eh.e_machine;
  info.ident.type = eh.e_type;
  info.ident.flags = eh.e_flags;
  info.entry = eh.e_entry;

  size_t phnum = 0;
  if (elf_getphdrnum(elf.get(), &phnum) != 0) return corrupt(name, libelf_reason("program headers"));
  // libelf quietly reports no program headers when the table does not fit in the file; the
  // header's own count is what ld.so would read.
  if (eh.e_phnum != PN_XNUM && phnum != eh.e_phnum) phnum = eh.e_phnum;
  // A header may claim up to 2^32 entries (PN_XNUM): refuse tables that cannot fit in the file
  // before libelf allocates room for them.
  size_t phentsize = gelf_fsize(elf.get(), ELF_T_PHDR, 1, EV_CURRENT);
  if (phnum > 0 && (eh.e_phoff >= file_size || phnum > (file_size - eh.e_phoff) / phentsize))
    return corrupt(name, "program header table lies outside the file (" + std::to_string(phnum) + " entries)");

  std::vector<GElf_Phdr> loads;
  std::optional<GElf_Phdr> dynamic;
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf.get(), static_cast<int>(i), &ph) == nullptr)
      return corrupt(name, libelf_reason("program header " + std::to_string(i)));
    if (ph.p_type == PT_LOAD) loads.push_back(ph);
    if (ph.p_type == PT_DYNAMIC) dynamic = ph;
    if (ph.p_type == PT_INTERP) {
      Elf_Data* d = elf_getdata_rawchunk(elf.get(), static_cast<int64_t>(ph.p_offset), ph.p_filesz, ELF_T_BYTE);
      if (d == nullptr || d->d_size == 0) return corrupt(name, "PT_INTERP lies outside the file");
      const char* s = static_cast<const char*>(d->d_buf);
      info.interp = std::string(s, strnlen(s, d->d_size));
    }
  }

  if (dynamic) {
    info.has_dynamic = true;
    Elf_Data* d = elf_getdata_rawchunk(elf.get(), static_cast<int64_t>(dynamic->p_offset), dynamic->p_filesz, ELF_T_DYN);
    if (d == nullptr) return corrupt(name, "PT_DYNAMIC lies outside the file");
    size_t dynsize = gelf_fsize(elf.get(), ELF_T_DYN, 1, EV_CURRENT);
    size_t count = dynamic->p_filesz / dynsize;
    uint64_t strtab = 0, strsz = 0;
    bool have_strtab = false;
    std::vector<uint64_t> needed;
    std::optional<uint64_t> soname, rpath, runpath;
    for (size_t i = 0; i < count; ++i) {
      GElf_Dyn dyn;
      if (gelf_getdyn(d, static_cast<int>(i), &dyn) == nullptr) break;
      if (dyn.d_tag == DT_NULL) break;
      switch (dyn.d_tag) {
        case DT_NEEDED: needed.push_back(dyn.d_un.d_val); break;
        case DT_SONAME: soname = dyn.d_un.d_val; break;
        case DT_RPATH: rpath = dyn.d_un.d_val; break;
        case DT_RUNPATH: runpath = dyn.d_un.d_val; break;
        case DT_STRTAB: strtab = dyn.d_un.d_ptr; have_strtab = true; break;
        case DT_STRSZ: strsz = dyn.d_un.d_val; break;
        case DT_FLAGS: info.dt_flags = dyn.d_un.d_val; break;
        case DT_FLAGS_1: info.dt_flags_1 = dyn.d_un.d_val; break;
        default: break;
      }
    }
    bool any_string = !needed.empty() || soname || rpath || runpath;
    if (any_string) {
      if (!have_strtab) return corrupt(name, "dynamic section has strings but no DT_STRTAB");
      auto off = vaddr_to_offset(loads, strtab);
      if (!off) return corrupt(name, "DT_STRTAB is not inside a PT_LOAD segment");
      if (strsz == 0 || *off >= file_size) return corrupt(name, "DT_STRTAB lies outside the file");
      strsz = std::min<uint64_t>(strsz, file_size - *off);
      Elf_Data* s = elf_getdata_rawchunk(elf.get(), static_cast<int64_t>(*off), strsz, ELF_T_BYTE);
      if (s == nullptr) return corrupt(name, "DT_STRTAB lies outside the file");
      const char* base = static_cast<const char*>(s->d_buf);
      auto str = [&](uint64_t o) -> Result<std::string> {
        if (o >= s->d_size) return corrupt(name, "dynamic string offset " + std::to_string(o) + " is past DT_STRSZ");
        return std::string(base + o, strnlen(base + o, s->d_size - o));
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
    }
  }

  if (!info.has_dynamic)
    info.linkage = Linkage::Static;
  else if (info.interp || !info.needed.empty())
    info.linkage = Linkage::Dynamic;
  else if (eh.e_type == ET_DYN && ((info.dt_flags_1 & DF_1_PIE) != 0 || (info.soname.empty() && eh.e_entry != 0)))
    info.linkage = Linkage::StaticPie;
  else
    info.linkage = eh.e_type == ET_DYN ? Linkage::Dynamic : Linkage::Static;
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
