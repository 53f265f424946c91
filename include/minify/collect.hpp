// The analysis stage and the merge into a file set: every program that runs (the one given, those
// exec'd during the trace, their #! interpreters) is analysed for its ld.so closure and for what
// its headers say it needs at run time; build_fileset() merges that with the trace into a FileSet
// where each entry remembers why it is in.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "minify/context.hpp"
#include "minify/fileset.hpp"
#include "minify/inspect.hpp"
#include "minify/packages.hpp"
#include "minify/resolve.hpp"
#include "minify/rootfs.hpp"
#include "minify/trace.hpp"

namespace minify {

struct AnalyzeOptions {
  LoaderEnv env;
  bool implicit = true;  // inspect each program for runtime needs, NSS modules and dlopen targets
};

// One program that runs: an ELF file (with its closure) or a script (with its interpreter).
struct ProgramAnalysis {
  std::string path;                  // inside the root, as named
  std::string why;                   // "the program", "exec'd during the trace", "#! of /app/x.py"
  std::optional<Closure> closure;    // ELF files
  std::optional<FileReport> report;  // what inspect found (when implicit)
  std::string error;                 // why it could not be analysed
};

struct Analysis {
  std::vector<ProgramAnalysis> programs;
};

// Analyses `programs` (paths inside the root, each with the reason it runs), following #!
// interpreters and the libraries that NSS and dlopen() would load. Problems that do not stop the
// analysis (an unreadable ld.so.cache, a part of a file inspect could not read) go to `ctx`.
Analysis analyze(const Root& root, const std::vector<std::pair<std::string, std::string>>& programs,
                 const AnalyzeOptions& options, Context& ctx);

// The programs a trace saw run, with why: every successful exec and the interpreters the kernel
// ran for it.
std::vector<std::pair<std::string, std::string>> traced_programs(const TraceLog& trace);

struct CollectOptions {
  std::vector<std::string> keep;           // --keep PATH|GLOB (a literal PATH also ships a secret)
  std::vector<std::string> exclude;        // --exclude GLOB
  std::vector<std::string> exclude_paths;  // the output itself, when inside the root
  bool implicit = true;
  PackageSelection packages;               // --keep-package, --with-docs, --granularity
  // The image's User ("uid[:gid]" or names): its account goes into the generated /etc/passwd.
  std::string image_user;
  // Owner ids of the root are shifted on disk by this much (an unpacked image).
  uid_t uid_shift = 0;
  // Paths verify found missing that repair adds, each with its reason.
  std::vector<std::pair<std::string, std::string>> repairs;
  // --keep-walked: also ship the regular files the program found by listing their directory
  // and only stat'ed (TraceLog PathUse::found_by_listing). Without it they are left out and
  // listed in the set's walked() (report.json "walked, not used"): a walk of the minimal root
  // sees only what is there, and a stat by name that now fails is a verify finding.
  bool keep_walked = false;
};

struct Collected {
  FileSet set;
  std::vector<std::string> missing;  // libraries that did not resolve: "libfoo.so.1 (needed by /app/x)"
  size_t traced_added = 0;           // trace paths that entered the set
  size_t traced_skipped = 0;         // trace paths left out (written by the program, gone, special)
  // The root's package database, and the set accounted against it. The set already carries the
  // metadata of the contributing packages (status.d / apk installed).
  PackageDb package_db;
  PackageReport packages;
  double package_seconds = 0;  // reading the database and accounting (for --verbose and tuning)
};

// Paths that could not be added, --keep globs that matched nothing and programs that could not be
// analysed are warnings in `ctx`; the main program not being analysable is an error (returned).
//
// Secrets and the builder's identity are withheld (FileSet::withheld(), with the reason) unless a
// literal --keep names them; /etc/passwd and /etc/group are rewritten with only the accounts the
// image needs, and a program that read /etc/shadow, /etc/gshadow or /etc/hosts gets generated
// ones (withhold_secrets(), write_accounts()).
Result<Collected> build_fileset(const Root& root, const Analysis& analysis, const TraceLog* trace,
                                const CollectOptions& options, Context& ctx);

// The withholding rules of a minimal root (src/fileset/identity.cpp). A literal path in `keep`
// that a rule covers is allowed through, with a warning in `ctx`.
void withhold_secrets(FileSet& set, const std::vector<std::string>& keep, Context& ctx);
// Rewrites the set's /etc/passwd and /etc/group from the root's own lines for the accounts the
// image needs (root, nobody, nonroot, `image_user`, the owners of its entries), unless `keep`
// names them; writes locked /etc/shadow and /etc/gshadow where the program read them, and a
// localhost-only /etc/hosts.
Status write_accounts(FileSet& set, const Root& root, const std::string& image_user, const std::vector<std::string>& keep,
                      uid_t uid_shift = 0);

}  // namespace minify
