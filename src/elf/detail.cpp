// read_elf_detail: the program headers, the section table (when present) and the dynamic
// section's tags of an in-memory ELF image, then the symbol, version, relocation and note readers
// of symbols.cpp and notes.cpp. Like elf.cpp it works from PT_DYNAMIC and maps addresses through
// PT_LOAD, so files without section headers (sstrip, some Go and packed binaries) read the same.
#include "minify/version.hpp"
#include <cstdlib>
#include <climits>
#include <elfutils/version.h>
#include <dlfcn.h>
#include <elf.h>
#include <algorithm>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf/elf_internal.hpp"

namespace minify {

using namespace elf_internal;

Result<MappedFile> MappedFile::map(int fd, std::string_view name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("stat", std::string(name));
  MappedFile m;
  if (st.st_size == 0) return m;
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return sys_error("mmap", std::string(name));
  m.data_ = p;
  m.size_ = static_cast<size_t>(st.st_size);
  return m;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

namespace elf_internal {

ElfPtr open_memory(std::string_view image) {
  static const bool once = [] { return elf_version(EV_CURRENT) != EV_NONE; }();
  (void)once;
  // libelf only reads through this pointer with ELF_C_READ (elf_memory never writes).
  return ElfPtr(elf_memory(const_cast<char*>(image.data()), image.size()));
}

DynamicTags read_dynamic_tags(Elf* elf, const ElfDetail& d) {
  DynamicTags t;
  for (const auto& seg : d.segments) {
    if (seg.type != PT_DYNAMIC) continue;
    Elf_Data* data = elf_getdata_rawchunk(elf, static_cast<int64_t>(seg.offset), seg.filesz, ELF_T_DYN);
    if (data == nullptr) return t;
    size_t count = seg.filesz / gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
    for (size_t i = 0; i < count; ++i) {
      GElf_Dyn dyn;
      if (gelf_getdyn(data, static_cast<int>(i), &dyn) == nullptr || dyn.d_tag == DT_NULL) break;
      uint64_t v = dyn.d_un.d_val;
      switch (dyn.d_tag) {
        case DT_STRTAB: t.strtab = v; break;
        case DT_STRSZ: t.strsz = v; break;
        case DT_SYMTAB: t.symtab = v; break;
        case DT_SYMENT: t.syment = v; break;
        case DT_HASH: t.hash = v; break;
        case DT_GNU_HASH: t.gnu_hash = v; break;
        case DT_VERSYM: t.versym = v; break;
        case DT_VERNEED: t.verneed = v; break;
        case DT_VERNEEDNUM: t.verneednum = v; break;
        case DT_VERDEF: t.verdef = v; break;
        case DT_VERDEFNUM: t.verdefnum = v; break;
        case DT_RELA: t.rela = v; break;
        case DT_RELASZ: t.relasz = v; break;
        case DT_RELAENT: t.relaent = v; break;
        case DT_REL: t.rel = v; break;
        case DT_RELSZ: t.relsz = v; break;
        case DT_RELENT: t.relent = v; break;
        case DT_JMPREL: t.jmprel = v; break;
        case DT_PLTRELSZ: t.pltrelsz = v; break;
        case DT_PLTREL: t.pltrel = v; break;
        default: break;
      }
    }
    break;
  }
  return t;
}

}  // namespace elf_internal

const ElfSection* ElfDetail::section(std::string_view name) const {
  for (const auto& s : sections)
    if (s.name == name) return &s;
  return nullptr;
}

std::optional<uint64_t> ElfDetail::offset_of(uint64_t vaddr, uint64_t size) const {
  for (const auto& s : segments)
    if (s.type == PT_LOAD && vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz && size <= s.filesz - (vaddr - s.vaddr)) {
      uint64_t off = s.offset + (vaddr - s.vaddr);
      if (off < s.offset || off >= file_size || size > file_size - off) return std::nullopt;
      return off;
    }
  return std::nullopt;
}

std::string_view bytes_at(const ElfDetail& elf, std::string_view image, uint64_t vaddr, uint64_t max_size) {
  for (const auto& s : elf.segments) {
    if (s.type != PT_LOAD || vaddr < s.vaddr || vaddr - s.vaddr >= s.filesz) continue;
    uint64_t off = s.offset + (vaddr - s.vaddr);
    uint64_t avail = s.filesz - (vaddr - s.vaddr);
    if (off >= image.size()) return {};
    avail = std::min<uint64_t>({avail, max_size, image.size() - off});
    return image.substr(off, avail);
  }
  return {};
}

Result<ElfDetail> read_elf_detail(std::string_view image, std::string_view name, ElfDetailOptions options) {
  auto corrupt = [&](std::string what) { return bad_input("read ELF", std::string(name), std::move(what)); };
  if (image.size() < EI_NIDENT || image.substr(0, SELFMAG) != std::string_view(ELFMAG, SELFMAG))
    return corrupt("not an ELF file");
  ElfPtr elf = open_memory(image);
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return corrupt(std::string("elf_memory: ") + elf_errmsg(-1));
  GElf_Ehdr eh;
  if (gelf_getehdr(elf.get(), &eh) == nullptr) return corrupt(std::string("ELF header: ") + elf_errmsg(-1));

  ElfDetail d;
  d.file_size = image.size();
  d.ident.elf_class = eh.e_ident[EI_CLASS];
  d.ident.data = eh.e_ident[EI_DATA];
  d.ident.osabi = eh.e_ident[EI_OSABI];
  d.ident.machine = eh.e_machine;
  d.ident.type = eh.e_type;
  d.ident.flags = eh.e_flags;
  d.entry = eh.e_entry;

  size_t phnum = 0;
  if (elf_getphdrnum(elf.get(), &phnum) != 0) return corrupt(std::string("program headers: ") + elf_errmsg(-1));
  size_t phentsize = gelf_fsize(elf.get(), ELF_T_PHDR, 1, EV_CURRENT);
  if (phnum > 0 && (eh.e_phoff >= image.size() || phnum > (image.size() - eh.e_phoff) / phentsize))
    return corrupt("program header table lies outside the file");
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf.get(), static_cast<int>(i), &ph) == nullptr) return corrupt("program header " + std::to_string(i));
    d.segments.push_back({ph.p_type, ph.p_flags, ph.p_offset, ph.p_vaddr, ph.p_filesz, ph.p_memsz});
  }

  // Section headers are optional at run time; damage there is a problem, not an error.
  size_t shnum = 0, shstrndx = 0;
  if (eh.e_shoff != 0 && elf_getshdrnum(elf.get(), &shnum) == 0 && shnum > 0) {
    size_t shentsize = gelf_fsize(elf.get(), ELF_T_SHDR, 1, EV_CURRENT);
    if (eh.e_shoff >= image.size() || shnum > (image.size() - eh.e_shoff) / shentsize) {
      d.problems.push_back("section header table lies outside the file");
    } else if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0) {
      d.problems.push_back(std::string("section name table: ") + elf_errmsg(-1));
    } else {
      for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn != nullptr; scn = elf_nextscn(elf.get(), scn)) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == nullptr) continue;
        const char* n = elf_strptr(elf.get(), shstrndx, sh.sh_name);
        d.sections.push_back({n ? n : "", sh.sh_type, sh.sh_flags, sh.sh_addr, sh.sh_offset, sh.sh_size});
      }
    }
  }

  DynamicTags tags = read_dynamic_tags(elf.get(), d);
  read_dynamic_symbols(elf.get(), image, tags, options, d);
  read_notes(elf.get(), image, d);
  return d;
}

// libelf has no call that reports its version; its file does: elfutils installs it as
// libelf-<version>.so behind the libelf.so.1 symlink.
LibraryVersion libelf_version() {
  LibraryVersion v{"libelf", "0." + std::to_string(_ELFUTILS_VERSION % 1000), {}, {}};
  Dl_info info{};
  char real[PATH_MAX];
  if (::dladdr(reinterpret_cast<void*>(&elf_memory), &info) != 0 && info.dli_fname != nullptr &&
      ::realpath(info.dli_fname, real) != nullptr) {
    std::string_view file = real;
    file = file.substr(file.rfind('/') + 1);
    if (file.starts_with("libelf-") && file.ends_with(".so")) v.running = file.substr(7, file.size() - 10);
  }
  return v;
}

}  // namespace minify
