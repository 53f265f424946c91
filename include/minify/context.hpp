// The diagnostics every stage reports to: warnings and errors with their source, collected in one
// place instead of a vector per stage. As in mold's Context (Warn/Error, checkpoint()), a stage
// reports what went wrong and carries on where it can, so that the user sees every problem of a
// run at once; the caller then stops at checkpoint() if any of them was an error. Long steps
// (writing hundreds of MB, unpacking an image, a long trace) also report their progress here;
// the CLI draws it on a terminal (library code never prints).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "minify/result.hpp"

namespace minify {

enum class Severity {
  Note,     // progress of a long run ("tracing /usr/bin/x"), for a person watching
  Warning,  // something is off, the run goes on
  Error,    // the stage failed; checkpoint() stops the run
};

struct Diagnostic {
  Severity severity = Severity::Warning;
  std::string source;   // the stage or input it came from: "resolve", "packages", a file path
  std::string message;  // one line, lowercase ``op `path`: reason`` style where it fits
  bool operator==(const Diagnostic&) const = default;
};

// How far a long step has got. Reported often (per file, per chunk); the receiver throttles.
struct Progress {
  std::string_view step;   // "pack", "unpack", "trace"
  std::string_view what;   // what is being made or run: "rootfs", "OCI archive", "layer 2 of 5"
  uint64_t done = 0;       // bytes so far
  uint64_t total = 0;      // bytes in all; 0: unknown (then only the time is shown)
  bool finished = false;   // the step ended (the last report of each step says so)
};
using ProgressFn = std::function<void(const Progress&)>;

class Context {
 public:
  void note(std::string_view source, std::string message) { report({Severity::Note, std::string(source), std::move(message)}); }
  void warn(std::string_view source, std::string message) { report({Severity::Warning, std::string(source), std::move(message)}); }
  void error(std::string_view source, std::string message) { report({Severity::Error, std::string(source), std::move(message)}); }
  void report(Diagnostic d) {
    if (d.severity == Severity::Error) ++errors_;
    if (on_report_) on_report_(d);
    diagnostics_.push_back(std::move(d));
  }

  // Called for each diagnostic as it is reported (the CLI prints them as they come).
  void on_report(std::function<void(const Diagnostic&)> f) { on_report_ = std::move(f); }

  // Progress of a long step (see Progress); nothing happens unless someone listens.
  void progress(const Progress& p) const {
    if (on_progress_) on_progress_(p);
  }
  void on_progress(ProgressFn f) { on_progress_ = std::move(f); }
  // For writers that take a plain callback in their options; empty when nobody listens.
  const ProgressFn& progress_fn() const { return on_progress_; }

  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  // The warning and error messages, in order (notes left out).
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const auto& d : diagnostics_)
      if (d.severity != Severity::Note) out.push_back(d.message);
    return out;
  }
  bool has_errors() const { return errors_ > 0; }

  // After a stage: an Error naming the first error reported (and how many more), Ok otherwise.
  Status checkpoint() const {
    if (errors_ == 0) return Ok{};
    for (const auto& d : diagnostics_)
      if (d.severity == Severity::Error) {
        std::string more = errors_ > 1 ? " (and " + std::to_string(errors_ - 1) + " more errors)" : "";
        return bad_input(d.source, "", d.message + more);
      }
    return Ok{};
  }

 private:
  std::vector<Diagnostic> diagnostics_;
  size_t errors_ = 0;
  std::function<void(const Diagnostic&)> on_report_;
  ProgressFn on_progress_;
};

}  // namespace minify
