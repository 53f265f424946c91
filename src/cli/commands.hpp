// The subcommands of the minify CLI. Each one registers its options on the top-level app and
// returns the function that runs it; that function returns the process exit code. Only the CLI
// prints and picks exit codes (STYLE.md section 3).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "minify/collect.hpp"
#include "minify/packages.hpp"
#include "minify/sbom.hpp"
#include "minify/result.hpp"
#include <string>

namespace minify::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitMissing = 1;   // something needed was not found
inline constexpr int kExitBadInput = 2;  // bad input or usage

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_deps_command(CLI::App& app);
Command add_inspect_command(CLI::App& app);
Command add_trace_command(CLI::App& app);
Command add_pack_command(CLI::App& app);
Command add_why_command(CLI::App& app);
Command add_image_command(CLI::App& app);
Command add_verify_command(CLI::App& app);

// --keep-package NAME, --with-docs, --granularity file|package|module (package_flags.cpp).
struct PackageFlags {
  std::vector<std::string> keep;
  bool with_docs = false;
  std::string granularity = "file";
};
void add_package_flags(CLI::App* sub, PackageFlags& flags);
PackageSelection package_selection(const PackageFlags& flags);
// "3 of 866 dpkg packages ship files (...)": empty when the root has no package database.
std::string package_summary(const PackageReport& report, double seconds);
// --sbom FILE of `minify pack` and `minify image`: the SBOM of the minimal root, with the packages
// that ship files, written to `out_file`. Warnings are printed; returns the SBOM's digest (the
// image label). `timestamp`: SOURCE_DATE_EPOCH when it is set.
Result<std::string> write_cli_sbom(const FileSet& set, const Root& root, const Collected& collected, SbomOptions options,
                                   SbomFormat format, std::optional<int64_t> timestamp, const std::string& out_file);

// Writes a whole text file (Dockerfile, trace.json, ...).
Status write_text(const std::string& path, const std::string& text);

// "minify: error: <message>" on stderr.
void print_error(const std::string& message);
void print_warning(const std::string& message);

}  // namespace minify::cli
