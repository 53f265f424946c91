// libFuzzer target: "#!" line parsing.
#include <cstdint>
#include <string_view>

#include "inspect/inspect_internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string_view line = text.substr(0, text.find('\n'));
  if (line.substr(0, 2) == "#!") (void)minify::inspect_internal::parse_shebang(line);
  return 0;
}
