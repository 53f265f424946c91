// The subcommands of the minify CLI. Each one registers its options on the top-level app and
// returns the function that runs it; that function returns the process exit code. Only the CLI
// prints and picks exit codes (STYLE.md section 3).
#pragma once

#include <CLI/CLI.hpp>
#include <signal.h>

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
void add_package_flags(CLI::App* sub, PackageFlags& flags);  // in kGroupKeep
PackageSelection package_selection(const PackageFlags& flags);
// "3 of 866 dpkg packages ship files (...)": empty when the root has no package database.
std::string package_summary(const PackageReport& report, double seconds);

// pack's --help groups (image and verify use the same names), in the order they are shown.
inline constexpr const char* kGroupTracing = "Tracing";
inline constexpr const char* kGroupKeep = "What to keep";
inline constexpr const char* kGroupOutputs = "Outputs";
inline constexpr const char* kGroupConfig = "The image's config";
inline constexpr const char* kGroupVerify = "Verify";
// Registers -h,--help last, in its own group, so that it does not open the list.
void add_help_last(CLI::App* sub);

// The options of the commands that run the program: registered once, with the wording and
// group each command needs (run_support.cpp), then put into the Job by apply_run_options.
enum class RunCommand { Pack, Image, Verify };
// Registered in the section a command's --help shows them in (CLI11 orders the groups by their
// first option): --timeout --grace --probe; --env --workdir --user; --network and verify's
// options; --force.
enum class RunSection { Running, Config, Verify, Outputs };
struct RunOptions {
  std::string timeout, grace, network;
  std::vector<std::string> probes, env;
  std::string workdir, user;                                  // pack, verify
  bool no_verify = false, no_repair = false, force = false;  // pack, image
  int repair_rounds = 3, expect_exit = 0;                     // pack, image
  std::string tracer = "auto";
};
void add_run_options(CLI::App* sub, RunOptions& o, RunCommand which, RunSection section);
// --timeout, --grace, --probe, --network, --expect-exit, --repair-rounds, --no-repair,
// --no-verify and --force into the job; a bad value is an error naming its option.
Status apply_run_options(const RunOptions& o, RunCommand which, Job& job);

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

// SIGINT, SIGTERM and SIGHUP abort a run (Job::interrupted) instead of killing minify or going
// to the traced program alone: installed for the object's lifetime.
class AbortOnSignals {
 public:
  AbortOnSignals();
  ~AbortOnSignals();
  AbortOnSignals(const AbortOnSignals&) = delete;
  AbortOnSignals& operator=(const AbortOnSignals&) = delete;
  static int caught();  // the signal, or 0
  // Says the run was interrupted; 128 + the signal.
  int exit_status() const;

 private:
  std::vector<std::pair<int, struct sigaction>> saved_;
};

// verify's findings, one line each.
void print_findings(const std::vector<VerifyFinding>& findings);
// What verify and repair found, where a failed run's outputs went, the program's own failure;
// returns the exit status.
int print_outcome(const Minimized& m, const Job& job);

}  // namespace minify::cli
