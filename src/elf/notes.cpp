// ELF notes and the function starts in .eh_frame_hdr.
// Notes come from PT_NOTE (what survives stripping), or from SHT_NOTE sections when a file has
// no PT_NOTE. Among them is freedesktop.org's .note.dlopen (owner "FDO", type 0x407c0c0a, a JSON
// array of optional dlopen dependencies: https://systemd.io/ELF_DLOPEN_METADATA/).
// .eh_frame_hdr (PT_GNU_EH_FRAME) ends in a sorted table of (initial location, FDE) pairs that
// the unwinder binary-searches; its initial locations are the start of every function with unwind
// information, which stripped binaries keep (LSB Core, "Exception Frames").
#include <elf.h>

#include <algorithm>

#include "elf/elf_internal.hpp"

namespace minify {

using namespace elf_internal;

namespace {

constexpr size_t kMaxNotes = 4096;
// DW_EH_PE_* encodings (LSB Core, "DWARF Extensions"): the form every GNU linker emits for the
// search table is datarel|sdata4 and for the FDE count udata4.
constexpr uint8_t kDwEhPeUdata4 = 0x03, kDwEhPeDatarelSdata4 = 0x3b, kDwEhPeOmit = 0xff;

void read_note_block(Elf* elf, uint64_t offset, uint64_t size, uint64_t align, ElfDetail& d) {
  Elf_Data* data = elf_getdata_rawchunk(elf, static_cast<int64_t>(offset), size, align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
  if (data == nullptr) {
    d.problems.push_back("note segment lies outside the file");
    return;
  }
  size_t pos = 0;
  GElf_Nhdr nh;
  size_t name_off = 0, desc_off = 0;
  while (pos < data->d_size && d.notes.size() < kMaxNotes) {
    size_t next = gelf_getnote(data, pos, &nh, &name_off, &desc_off);
    if (next == 0) break;
    const char* base = static_cast<const char*>(data->d_buf);
    ElfNote n;
    n.owner = std::string(base + name_off, strnlen(base + name_off, nh.n_namesz));
    n.type = nh.n_type;
    n.desc = std::string(base + desc_off, nh.n_descsz);
    d.notes.push_back(std::move(n));
    pos = next;
  }
}

}  // namespace

namespace elf_internal {

void read_notes(Elf* elf, std::string_view image, ElfDetail& d) {
  bool any_segment = false;
  for (const auto& s : d.segments) {
    if (s.type != PT_NOTE || s.filesz == 0) continue;
    any_segment = true;
    if (s.offset >= image.size() || s.filesz > image.size() - s.offset) {
      d.problems.push_back("PT_NOTE lies outside the file");
      continue;
    }
    GElf_Phdr ph;
    uint64_t align = 4;
    for (size_t i = 0; gelf_getphdr(elf, static_cast<int>(i), &ph) != nullptr; ++i)
      if (ph.p_type == PT_NOTE && ph.p_offset == s.offset) align = ph.p_align;
    read_note_block(elf, s.offset, s.filesz, align, d);
  }
  if (any_segment) return;
  for (const auto& s : d.sections)
    if (s.type == SHT_NOTE && s.size > 0 && s.offset < image.size() && s.size <= image.size() - s.offset)
      read_note_block(elf, s.offset, s.size, 4, d);
}

}  // namespace elf_internal

std::vector<uint64_t> read_function_starts(const ElfDetail& d, std::string_view image) {
  std::vector<uint64_t> starts;
  const ElfSegment* hdr = nullptr;
  for (const auto& s : d.segments)
    if (s.type == PT_GNU_EH_FRAME) hdr = &s;
  if (hdr == nullptr) return starts;
  ByteReader r{image, d.ident.data == ELFDATA2MSB};
  uint64_t off = hdr->offset;
  if (!r.has(off, 4) || hdr->filesz < 4) return starts;
  uint8_t version = static_cast<uint8_t>(image[off]), ptr_enc = static_cast<uint8_t>(image[off + 1]);
  uint8_t count_enc = static_cast<uint8_t>(image[off + 2]), table_enc = static_cast<uint8_t>(image[off + 3]);
  if (version != 1 || count_enc != kDwEhPeUdata4 || table_enc != kDwEhPeDatarelSdata4) return starts;
  // eh_frame_ptr: its size follows from its encoding's low nibble.
  uint64_t ptr_size = 0;
  switch (ptr_enc & 0x0f) {
    case 0x00: ptr_size = d.ident.elf_class == ELFCLASS64 ? 8 : 4; break;
    case 0x02: case 0x0a: ptr_size = 2; break;
    case 0x03: case 0x0b: ptr_size = 4; break;
    case 0x04: case 0x0c: ptr_size = 8; break;
    default: if (ptr_enc != kDwEhPeOmit) return starts;
  }
  uint64_t pos = off + 4 + ptr_size;
  if (!r.has(pos, 4)) return starts;
  uint64_t count = r.u32(pos);
  pos += 4;
  if (count > (hdr->filesz - (pos - off)) / 8 || !r.has(pos, count * 8)) return starts;
  starts.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    auto rel = static_cast<int32_t>(r.u32(pos + i * 8));
    starts.push_back(hdr->vaddr + static_cast<uint64_t>(static_cast<int64_t>(rel)));
  }
  // The table is sorted for binary search; a damaged one is sorted here rather than trusted.
  if (!std::is_sorted(starts.begin(), starts.end())) std::sort(starts.begin(), starts.end());
  return starts;
}


}  // namespace minify
