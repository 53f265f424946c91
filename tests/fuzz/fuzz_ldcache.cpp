// libFuzzer target: the /etc/ld.so.cache reader, in both byte-order assumptions.
#include <cstdint>
#include <string_view>

#include "minify/resolve.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)minify::parse_ld_cache(bytes, false);
  (void)minify::parse_ld_cache(bytes, true);
  return 0;
}
