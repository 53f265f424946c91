// See lief_view.hpp.
#include "elf/lief_view.hpp"

#include <LIEF/ELF.hpp>
#include <stdexcept>

namespace minify {

LiefView lief_read(const std::string& path) {
  using LIEF::ELF::DYNAMIC_TAGS;
  LiefView v;
  std::unique_ptr<LIEF::ELF::Binary> bin = LIEF::ELF::Parser::parse(path);
  if (!bin) throw std::runtime_error("LIEF cannot parse " + path);
  if (bin->has_interpreter()) v.interp = bin->interpreter();
  for (const LIEF::ELF::DynamicEntry& e : bin->dynamic_entries()) {
    if (e.tag() == DYNAMIC_TAGS::DT_NEEDED)
      v.needed.push_back(dynamic_cast<const LIEF::ELF::DynamicEntryLibrary&>(e).name());
    else if (e.tag() == DYNAMIC_TAGS::DT_SONAME)
      v.soname = dynamic_cast<const LIEF::ELF::DynamicSharedObject&>(e).name();
    else if (e.tag() == DYNAMIC_TAGS::DT_RPATH)
      v.rpath = dynamic_cast<const LIEF::ELF::DynamicEntryRpath&>(e).name();
    else if (e.tag() == DYNAMIC_TAGS::DT_RUNPATH)
      v.runpath = dynamic_cast<const LIEF::ELF::DynamicEntryRunPath&>(e).runpath();
  }
  return v;
}

}  // namespace minify
