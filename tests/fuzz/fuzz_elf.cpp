// libFuzzer target: the ELF readers and everything built on them (dynamic section, symbols and
// versions, notes, Go buildinfo, the Capstone dlopen scan), on arbitrary bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string_view>

#include "minify/elf.hpp"
#include "minify/elf_detail.hpp"
#include "minify/inspect.hpp"
#include "minify/rootfs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view image(reinterpret_cast<const char*>(data), size);
  // The fd-based reader (libelf), through a memory file.
  minify::UniqueFd fd(::memfd_create("fuzz-elf", MFD_CLOEXEC));
  if (fd.valid() && ::write(fd.get(), data, size) == static_cast<ssize_t>(size)) {
    (void)minify::read_elf_ident(fd.get(), "fuzz");
    (void)minify::read_elf_info(fd.get(), "fuzz");
  }
  auto detail = minify::read_elf_detail(image, "fuzz");
  if (!detail) return 0;
  auto symtab = minify::read_elf_symtab(image, "fuzz");
  (void)minify::read_function_starts(*detail, image);
  (void)minify::read_go_buildinfo(*detail, image, "fuzz");
  std::vector<std::string> problems;
  (void)minify::read_dlopen_notes(*detail, problems);
  if (symtab) (void)minify::scan_dlopen_calls(*detail, image, *symtab);
  return 0;
}
