// print.hpp: the CLI's stderr lines.
#include "cli/print.hpp"

#include <cstdio>
#include <iostream>

namespace minify::cli {

void print_error(const std::string& message) { std::cerr << "minify: error: " << message << "\n"; }
void print_warning(const std::string& message) { std::cerr << "minify: warning: " << message << "\n"; }

void print_diagnostic(const Diagnostic& d) {
  switch (d.severity) {
    case Severity::Note: std::cerr << "minify: " << d.message << "\n"; break;
    case Severity::Warning: print_warning(d.message); break;
    case Severity::Error: print_error(d.message); break;
  }
}

void print_diagnostics(const Context& ctx) {
  for (const auto& d : ctx.diagnostics()) print_diagnostic(d);
}

std::string format_bytes(uint64_t b) {
  char buf[32];
  if (b >= 10ull << 20) std::snprintf(buf, sizeof buf, "%.0f MB", static_cast<double>(b) / 1048576.0);
  else if (b >= 1ull << 20) std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.0f KB", static_cast<double>(b) / 1024.0);
  return buf;
}

}  // namespace minify::cli
