// LIEF's view of a file's dynamic information, the independent second reader the ELF tests
// compare against. Kept apart from <elf.h>, whose DT_* macros clash with LIEF's enums.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace minify {

struct LiefView {
  std::optional<std::string> interp, rpath, runpath;
  std::string soname;
  std::vector<std::string> needed;
};

// Throws when LIEF cannot parse the file.
LiefView lief_read(const std::string& path);

}  // namespace minify
