// Helpers for the inspect tests: inspecting a host file, building Go programs once per build tree,
// and patching bytes of a built binary.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "minify/inspect.hpp"
#include "support/fixture.hpp"

namespace minify::testing {

// Inspects a file of the host (the temp dirs are inside the host root).
FileReport inspect_host(const fs::path& file, InspectOptions opt = {});

// The dlopen targets of a report whose call site or note is in `object`.
std::vector<DlopenTarget> dlopen_in(const FileReport& r, const fs::path& object);

// Builds a Go main package (main.go source) with `go build` and the given flags and environment
// (CGO_ENABLED=..., ...), into a build-tree cache keyed by all of them. Returns the binary, or
// an empty path with `error` set.
fs::path go_fixture(const std::string& name, const std::string& main_go, const std::vector<std::string>& flags,
                    const std::vector<std::string>& env, std::string& error);

// The cached fixture directory for C programs that are expensive to rebuild (static ones).
fs::path fixture_dir();

// Overwrites bytes of a file in place.
void patch_file(const fs::path& file, uint64_t offset, const std::string& bytes);
// Zeroes e_shoff, e_shnum and e_shstrndx of a little-endian ELF64 file: no section headers.
void drop_section_headers(const fs::path& file);

}  // namespace minify::testing
