// The subcommands of the minify CLI. Each one registers its options on the top-level app and
// returns the function that runs it; that function returns the process exit code. Only the CLI
// prints and picks exit codes (STYLE.md section 3).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "cli/print.hpp"
#include "minify/packages.hpp"
#include "minify/pipeline.hpp"
#include "minify/result.hpp"

namespace minify::cli {

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

// The sandbox launcher's hidden entry point: `minify __sandbox-exec ROOTFS [OPTIONS] -- CMD...`
// (main.cpp hands everything after it to sandbox_exec_main()).
inline constexpr const char* kSandboxExecCommand = "__sandbox-exec";
// This executable and kSandboxExecCommand: Job::sandbox_launcher.
std::vector<std::string> sandbox_launcher();

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

// --timeout and --grace into the job (empty: unset); a bad duration is an error.
Status parse_run_limits(const std::string& timeout, const std::string& grace, Job& job);
// SOURCE_DATE_EPOCH of minify's environment into the job, when set.
Status read_source_date_epoch(Job& job);

// A scratch directory for an unpacked image: `requested` (created, kept), or a fresh one under
// $TMPDIR (default /var/tmp) removed by WorkDir unless kept.
Result<std::string> make_work_dir(const std::string& requested);
struct WorkDir {
  std::string path;
  bool keep = false;
  ~WorkDir();
};

// verify's verdict: what is missing, exit status and probe differences, then ok or FAILED.
void print_verify(const VerifyReport& report, const std::string& root_desc);

}  // namespace minify::cli
