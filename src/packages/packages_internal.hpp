// Helpers shared by the src/packages files.
#pragma once

#include <string>
#include <vector>

#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

// The names in a directory inside the root, sorted, without "." and "..".
Result<std::vector<std::string>> list_dir(const Root& root, const std::string& dir);

}  // namespace minify
