// The libraries minify is built with, for `minify --version`: each stage reports the library it
// alone includes (STYLE.md section 1), the version of the headers it was compiled against and the
// version of the library loaded now, which differ when the system library was upgraded since.
#pragma once

#include <optional>
#include <string>

namespace minify {

struct LibraryVersion {
  std::string name;     // "libarchive"
  std::string built;    // from the headers: "3.6.2"
  std::string running;  // from the loaded library; empty when it does not say
  std::string note;     // why it is not loaded, e.g. Capstone (dlopen'ed on first use)
};

LibraryVersion libelf_version();      // src/elf
LibraryVersion capstone_version();    // src/inspect (Capstone is loaded with dlopen)
LibraryVersion libarchive_version();  // src/pack
LibraryVersion libseccomp_version();  // tracer
// tracer/bpf: nullopt when minify was built without the eBPF tracer.
std::optional<LibraryVersion> libbpf_version();

}  // namespace minify
