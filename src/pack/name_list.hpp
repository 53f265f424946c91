// name_list: a short list of names for the runner stage's comments and notes, shared by the
// Dockerfile writer and the runner plan.
#pragma once

#include <set>
#include <string>

namespace minify {

// "a, b, c and 4 more".
inline std::string name_list(const std::set<std::string>& names, size_t max = 4) {
  std::string out;
  size_t i = 0;
  for (const auto& n : names) {
    if (i == max) return out + " and " + std::to_string(names.size() - max) + " more";
    out += (i++ ? ", " : "") + n;
  }
  return out;
}

}  // namespace minify
