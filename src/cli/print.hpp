// What the CLI prints besides a command's own output: errors, warnings, diagnostics of a run and
// sizes, all on stderr, all prefixed "minify: ". Only src/cli prints (STYLE.md section 3).
#pragma once

#include <cstdint>
#include <string>

#include "minify/context.hpp"

namespace minify::cli {

// Exit codes shared by every command (`minify trace` passes the program's status through).
inline constexpr int kExitOk = 0;
inline constexpr int kExitMissing = 1;   // something needed is missing, or the check failed
inline constexpr int kExitBadInput = 2;  // bad input or usage

// "minify: error: <message>" / "minify: warning: <message>" on stderr.
void print_error(const std::string& message);
void print_warning(const std::string& message);
// One line per diagnostic, in the order they were reported.
void print_diagnostic(const Diagnostic& d);
void print_diagnostics(const Context& ctx);

// "512 KB", "3.4 MB", "27 MB".
std::string format_bytes(uint64_t bytes);

}  // namespace minify::cli
