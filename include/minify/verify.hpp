// Verification: run the command again in the minimized root, inside the sandbox and
// traced, and compare with the original run: every path the original run opened successfully
// and the minimized run tried and could not is missing; the exit status and the probe answers
// must match. Nothing is printed here; the CLI prints the VerifyReport.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "minify/result.hpp"
#include "minify/sandbox.hpp"
#include "minify/trace.hpp"

namespace minify {

struct VerifyOptions {
  // The minimized root, the command (argv; a name without "/" is looked up in the sandbox's
  // PATH) and how the program runs there.
  SandboxOptions sandbox;
  std::vector<std::string> command;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds grace{3000};
  std::vector<std::string> probe_urls;
  TracerBackend tracer = TracerBackend::Ptrace;
  // The original run (trace.json of the pack or image command). Without it only the new run's
  // own failure (exit status != 0, probes unanswered) is reported.
  std::optional<TraceLog> original;
  // As TraceOptions::cancelled: set, the caller's signal handlers abort the run.
  std::function<bool()> cancelled;
};

struct VerifyReport {
  TraceLog run;                       // the minimized run
  std::vector<std::string> missing;   // opened by the original run, not openable now (sorted)
  // Every call of the minimized run that failed on a path, with its errno (the last one): what
  // repair looks at, and how a missing path is told from one the image's user may not open.
  std::map<std::string, int> errors;
  bool exit_matches = true;
  ExitStatus original_exit;
  std::vector<std::string> probe_mismatches;  // "URL: 200 before, 0 now (connection refused)"
  bool ok() const { return missing.empty() && exit_matches && probe_mismatches.empty(); }
};

// Paths the container runtime provides (/proc, /dev, /sys, /etc/resolv.conf, /etc/hosts,
// /etc/hostname) are never reported missing.
Result<VerifyReport> verify(const VerifyOptions& options);

// The comparison alone, for callers that already have both traces.
VerifyReport compare_runs(const TraceLog& original, TraceLog run);

}  // namespace minify
