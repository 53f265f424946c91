// The dynamic symbol table with symbol versions, and the relocations that bind imported symbols
// to GOT slots, found the way ld.so finds them: DT_SYMTAB, DT_STRTAB, DT_VERSYM, DT_VERNEED,
// DT_VERDEF, DT_RELA/DT_REL and DT_JMPREL mapped through PT_LOAD. The dynamic symbol count is not
// in the dynamic section; like eu-readelf --use-dynamic we take it from DT_HASH's nchain or by
// walking DT_GNU_HASH's chains (the section header, when there is one, is cheaper and preferred).
// Version structures: the "Symbol Versioning" chapter of the LSB Core specification.
#include <elf.h>

#include <algorithm>
#include <climits>

#include "elf/elf_internal.hpp"

namespace minify {

using namespace elf_internal;

namespace {

// Upper bounds that keep a corrupt count from turning into a huge allocation or a long walk.
constexpr uint64_t kMaxVersionEntries = 4096;

std::optional<uint64_t> gnu_hash_count(const ByteReader& r, uint64_t off, bool is64) {
  if (!r.has(off, 16)) return std::nullopt;
  uint32_t nbuckets = r.u32(off), symoffset = r.u32(off + 4), bloom_size = r.u32(off + 8);
  uint64_t buckets = off + 16 + uint64_t{bloom_size} * (is64 ? 8 : 4);
  uint64_t chains = buckets + uint64_t{nbuckets} * 4;
  if (!r.has(buckets, uint64_t{nbuckets} * 4)) return std::nullopt;
  uint32_t last = 0;
  for (uint32_t i = 0; i < nbuckets; ++i) last = std::max(last, r.u32(buckets + uint64_t{i} * 4));
  if (last < symoffset) return symoffset;
  for (uint64_t i = last;; ++i) {
    uint64_t at = chains + (i - symoffset) * 4;
    if (!r.has(at, 4)) return std::nullopt;
    if (r.u32(at) & 1) return i + 1;
  }
}

}  // namespace

namespace elf_internal {

void read_dynamic_symbols(Elf* elf, std::string_view image, const DynamicTags& t, const ElfDetailOptions& opt,
                          ElfDetail& d) {
  if (!t.symtab || !t.strtab) return;
  ByteReader r{image, d.ident.data == ELFDATA2MSB};
  bool is64 = d.ident.elf_class == ELFCLASS64;
  auto strtab_off = d.offset_of(*t.strtab);
  if (!strtab_off) {
    d.problems.push_back("DT_STRTAB is not inside a PT_LOAD segment");
    return;
  }
  std::string_view strtab = image.substr(*strtab_off, std::min<uint64_t>(t.strsz.value_or(0), image.size() - *strtab_off));
  auto str = [&](uint64_t o) { return table_string(strtab, o); };

  // How many symbols .dynsym holds.
  uint64_t syment = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
  std::optional<uint64_t> count;
  for (const auto& s : d.sections)
    if (s.type == SHT_DYNSYM && s.addr == *t.symtab && s.size > 0) count = s.size / syment;
  if (!count && t.hash)
    if (auto off = d.offset_of(*t.hash, 8)) count = r.u32(*off + 4);
  if (!count && t.gnu_hash)
    if (auto off = d.offset_of(*t.gnu_hash, 16)) count = gnu_hash_count(r, *off, is64);
  if (!count && *t.strtab > *t.symtab) count = (*t.strtab - *t.symtab) / syment;  // the usual layout
  auto sym_off = d.offset_of(*t.symtab);
  if (!count || !sym_off) {
    d.problems.push_back("cannot size the dynamic symbol table");
    return;
  }
  *count = std::min<uint64_t>(*count, (image.size() - *sym_off) / syment);
  Elf_Data* syms = elf_getdata_rawchunk(elf, static_cast<int64_t>(*sym_off), *count * syment, ELF_T_SYM);
  if (syms == nullptr) {
    d.problems.push_back("dynamic symbol table lies outside the file");
    return;
  }

  // Version index -> (version name, library it is needed from).
  struct Version {
    std::string name, file;
  };
  std::vector<Version> versions;
  auto set_version = [&](uint64_t index, std::string name, std::string file) {
    index &= 0x7fff;
    if (index >= kMaxVersionEntries) return;
    if (versions.size() <= index) versions.resize(index + 1);
    versions[index] = {std::move(name), std::move(file)};
  };
  if (t.verneed) {
    auto off = d.offset_of(*t.verneed, 16);
    uint64_t n = std::min<uint64_t>(t.verneednum.value_or(kMaxVersionEntries), kMaxVersionEntries);
    for (uint64_t i = 0; off && i < n && r.has(*off, 16); ++i) {
      ElfVersionNeed need;
      if (auto f = str(r.u32(*off + 4))) need.file = std::string(*f);
      uint64_t aux = *off + r.u32(*off + 8);
      uint16_t cnt = r.u16(*off + 2);
      for (uint16_t j = 0; j < cnt && r.has(aux, 16); ++j) {
        if (auto v = str(r.u32(aux + 8))) {
          need.versions.emplace_back(*v);
          set_version(r.u16(aux + 6), std::string(*v), need.file);
        }
        uint32_t next = r.u32(aux + 12);
        if (next == 0) break;
        aux += next;
      }
      d.version_needs.push_back(std::move(need));
      uint32_t next = r.u32(*off + 12);
      if (next == 0) break;
      *off += next;
    }
    if (!off) d.problems.push_back("DT_VERNEED is not inside a PT_LOAD segment");
  }
  if (t.verdef) {
    auto off = d.offset_of(*t.verdef, 20);
    uint64_t n = std::min<uint64_t>(t.verdefnum.value_or(kMaxVersionEntries), kMaxVersionEntries);
    for (uint64_t i = 0; off && i < n && r.has(*off, 20); ++i) {
      uint64_t aux = *off + r.u32(*off + 12);
      if (r.has(aux, 8))
        if (auto v = str(r.u32(aux))) {
          d.version_defs.emplace_back(*v);
          set_version(r.u16(*off + 4), std::string(*v), "");
        }
      uint32_t next = r.u32(*off + 16);
      if (next == 0) break;
      *off += next;
    }
    if (!off) d.problems.push_back("DT_VERDEF is not inside a PT_LOAD segment");
  }
  std::optional<uint64_t> versym_off;
  if (t.versym) versym_off = d.offset_of(*t.versym, *count * 2);

  d.dynsym.reserve(*count);
  for (uint64_t i = 1; i < *count; ++i) {
    GElf_Sym s;
    if (gelf_getsym(syms, static_cast<int>(i), &s) == nullptr) break;
    ElfSymbol& sym = d.dynsym.emplace_back();
    sym.defined = s.st_shndx != SHN_UNDEF;
    bool named = sym.defined ? opt.defined_symbol_names : true;
    if (auto n = named ? str(s.st_name) : std::nullopt) {
      if (!sym.defined && opt.keep_import != nullptr && !opt.keep_import(*n))
        named = false;
      else
        sym.name = std::string(*n);
    }
    sym.bind = GELF_ST_BIND(s.st_info);
    sym.type = GELF_ST_TYPE(s.st_info);
    sym.value = s.st_value;
    sym.size = s.st_size;
    if (versym_off && named) {
      uint16_t v = r.u16(*versym_off + i * 2);
      sym.hidden_version = (v & 0x8000) != 0;
      uint16_t idx = v & 0x7fff;
      if (idx > 1 && idx < versions.size()) {  // 0 local, 1 global: unversioned
        sym.version = versions[idx].name;
        sym.version_file = versions[idx].file;
      }
    }
  }

  // Relocations naming a symbol: where each imported symbol's address is stored.
  auto read_relocs = [&](std::optional<uint64_t> addr, std::optional<uint64_t> size, bool rela, bool plt) {
    if (!addr || !size || *size == 0) return;
    auto off = d.offset_of(*addr, *size);
    if (!off) {
      d.problems.push_back("relocation table is not inside a PT_LOAD segment");
      return;
    }
    d.relocation_tables.push_back({*off, *size, rela});
    Elf_Type type = rela ? ELF_T_RELA : ELF_T_REL;
    uint64_t ent = gelf_fsize(elf, type, 1, EV_CURRENT);
    Elf_Data* data = elf_getdata_rawchunk(elf, static_cast<int64_t>(*off), *size, type);
    if (data == nullptr) return;
    for (uint64_t i = 0; i < *size / ent; ++i) {
      uint64_t info = 0, where = 0;
      if (rela) {
        GElf_Rela x;
        if (gelf_getrela(data, static_cast<int>(i), &x) == nullptr) break;
        info = x.r_info, where = x.r_offset;
      } else {
        GElf_Rel x;
        if (gelf_getrel(data, static_cast<int>(i), &x) == nullptr) break;
        info = x.r_info, where = x.r_offset;
      }
      uint64_t sym = is64 ? GELF_R_SYM(info) : ELF32_R_SYM(info);
      if (sym == 0 || sym > d.dynsym.size() || d.dynsym[sym - 1].name.empty()) continue;
      d.import_slots.push_back({d.dynsym[sym - 1].name, where, plt});
    }
  };
  read_relocs(t.rela, t.relasz, true, false);
  read_relocs(t.rel, t.relsz, false, false);
  read_relocs(t.jmprel, t.pltrelsz, t.pltrel.value_or(is64 ? DT_RELA : DT_REL) == DT_RELA, true);
}

}  // namespace elf_internal

std::optional<uint64_t> read_constant_pointer(const ElfDetail& d, std::string_view image, uint64_t vaddr) {
  return ConstantPointerReader(d, image).at(vaddr);
}

std::optional<uint64_t> ConstantPointerReader::at(uint64_t vaddr) {
  const ElfDetail& d = elf_;
  bool is64 = d.ident.elf_class == ELFCLASS64;
  uint64_t width = is64 ? 8 : 4;
  bool read_only = false;
  for (const auto& s : d.segments) {
    bool inside = vaddr >= s.vaddr && vaddr - s.vaddr < s.memsz && width <= s.memsz - (vaddr - s.vaddr);
    if (inside && (s.type == PT_GNU_RELRO || (s.type == PT_LOAD && (s.flags & PF_W) == 0))) read_only = true;
  }
  auto off = d.offset_of(vaddr, width);
  if (!read_only || !off) return std::nullopt;
  uint32_t relative = 0;
  switch (d.ident.machine) {
    case EM_X86_64: relative = R_X86_64_RELATIVE; break;
    case EM_AARCH64: relative = R_AARCH64_RELATIVE; break;
    case EM_386: relative = R_386_RELATIVE; break;
    default: return std::nullopt;
  }
  ByteReader r{image_, d.ident.data == ELFDATA2MSB};
  uint64_t raw = r.get(*off, static_cast<unsigned>(width));
  if (!indexed_) {
    indexed_ = true;
    ElfPtr elf = open_memory(image_);
    for (const auto& t : d.relocation_tables) {
      if (!elf) break;
      Elf_Type type = t.rela ? ELF_T_RELA : ELF_T_REL;
      uint64_t ent = gelf_fsize(elf.get(), type, 1, EV_CURRENT);
      Elf_Data* data = elf_getdata_rawchunk(elf.get(), static_cast<int64_t>(t.offset), t.size, type);
      if (data == nullptr || ent == 0) continue;
      for (uint64_t i = 0; i < t.size / ent; ++i) {
        uint64_t info = 0, where = 0;
        int64_t addend = 0;
        bool has_addend = t.rela;
        if (t.rela) {
          GElf_Rela x;
          if (gelf_getrela(data, static_cast<int>(i), &x) == nullptr) break;
          info = x.r_info, where = x.r_offset, addend = x.r_addend;
        } else {
          GElf_Rel x;
          if (gelf_getrel(data, static_cast<int>(i), &x) == nullptr) break;
          info = x.r_info, where = x.r_offset;
        }
        uint64_t type_of = is64 ? GELF_R_TYPE(info) : ELF32_R_TYPE(info);
        // REL keeps the addend in place; mark it with the lowest int64 and read it at query time.
        relocs_.push_back({where, type_of == relative, has_addend ? addend : INT64_MIN});
      }
    }
    std::sort(relocs_.begin(), relocs_.end());
  }
  auto it = std::lower_bound(relocs_.begin(), relocs_.end(), Reloc{vaddr, false, 0});
  if (it != relocs_.end() && it->where == vaddr) {
    if (!it->relative) return std::nullopt;  // a symbolic relocation: not a constant of this file
    uint64_t v = it->addend == INT64_MIN ? raw : static_cast<uint64_t>(it->addend);
    return is64 ? v : (v & 0xffffffffu);
  }
  return d.ident.type == ET_EXEC ? std::optional<uint64_t>(raw) : std::nullopt;
}

Result<std::vector<ElfSymbol>> read_elf_symtab(std::string_view image, std::string_view name,
                                               bool (*keep)(std::string_view symbol_name)) {
  ElfPtr elf = open_memory(image);
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
    return bad_input("read ELF", std::string(name), std::string("elf_memory: ") + elf_errmsg(-1));
  std::vector<ElfSymbol> out;
  size_t shnum = 0;
  if (elf_getshdrnum(elf.get(), &shnum) != 0 || shnum == 0) return out;
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn != nullptr; scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || sh.sh_entsize == 0)
      return bad_input("read .symtab", std::string(name), std::string("elf_getdata: ") + elf_errmsg(-1));
    size_t n = sh.sh_size / sh.sh_entsize;
    for (size_t i = 1; i < n; ++i) {
      GElf_Sym s;
      if (gelf_getsym(data, static_cast<int>(i), &s) == nullptr) break;
      const char* nm = elf_strptr(elf.get(), sh.sh_link, s.st_name);
      if (nm == nullptr || *nm == '\0') continue;
      if (keep != nullptr && !keep(nm)) continue;
      ElfSymbol sym;
      sym.name = nm;
      sym.defined = s.st_shndx != SHN_UNDEF;
      sym.bind = GELF_ST_BIND(s.st_info);
      sym.type = GELF_ST_TYPE(s.st_info);
      sym.value = s.st_value;
      sym.size = s.st_size;
      out.push_back(std::move(sym));
    }
    break;
  }
  return out;
}

}  // namespace minify
