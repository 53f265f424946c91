// Verification: a second, sandboxed and traced run in the minimized root, compared with the
// original trace (see verify.hpp). "Opened" means a successful read, exec, directory listing,
// readlink or chdir; a stat that succeeded before and fails now is a behaviour change too,
// but optional lookups (a config file probed in three places) make it noisy, so only the
// opening kinds count.
#include "minify/verify.hpp"

#include <algorithm>

namespace minify {

namespace {

// What a container runtime mounts into every container (and the sandbox does too).
bool provided_by_sandbox(const std::string& p) {
  for (const char* prefix : {"/proc", "/dev", "/sys"})
    if (p == prefix || p.rfind(std::string(prefix) + "/", 0) == 0) return true;
  return p == "/etc/resolv.conf" || p == "/etc/hosts" || p == "/etc/hostname" || p == "/.minify-sandbox-exec";
}

bool opened(AccessSet s) {
  for (AccessKind k : {AccessKind::Read, AccessKind::Exec, AccessKind::List, AccessKind::Readlink, AccessKind::Chdir})
    if (s.has(k)) return true;
  return false;
}

}  // namespace

VerifyReport compare_runs(const TraceLog& original, TraceLog run) {
  VerifyReport r;
  r.original_exit = original.exit;
  // A program stopped by the timeout or a probe ends by our signal either way.
  bool stopped = original.stopped_by != StopReason::None && run.stopped_by != StopReason::None;
  r.exit_matches = stopped || original.exit == run.exit ||
                   original.exit.shell_status() == run.exit.shell_status();
  for (const auto& [path, use] : original.paths) {
    if (!opened(use.succeeded) || provided_by_sandbox(path)) continue;
    // Made or changed by the original run (a .pyc rewritten through a temporary name and a
    // rename): not something the root had to carry, and not shipped (build_fileset's outputs).
    bool output = false;
    for (AccessKind k : {AccessKind::Write, AccessKind::Create, AccessKind::Remove, AccessKind::Rename, AccessKind::Link,
                         AccessKind::Symlink})
      output = output || use.access.has(k);
    if (output) continue;
    auto it = run.paths.find(path);
    if (it == run.paths.end()) continue;  // not reached this time: the exit status and probes tell
    if (!opened(it->second.succeeded) && opened(it->second.access)) r.missing.push_back(path);
  }
  for (const auto& before : original.probes) {
    auto now = std::find_if(run.probes.begin(), run.probes.end(), [&](const ProbeResult& p) { return p.url == before.url; });
    int status_now = now == run.probes.end() ? 0 : now->http_status;
    if (status_now != before.http_status)
      r.probe_mismatches.push_back(before.url + ": " + std::to_string(before.http_status) + " before, " +
                                   std::to_string(status_now) + " now" +
                                   (now != run.probes.end() && !now->error.empty() ? " (" + now->error + ")" : ""));
  }
  r.run = std::move(run);
  return r;
}

Result<VerifyReport> verify(const VerifyOptions& options) {
  TraceOptions t;
  t.tracer = options.tracer;
  t.command = options.command;
  t.timeout = options.timeout;
  t.grace = options.grace;
  t.probe_urls = options.probe_urls;
  t.cancelled = options.cancelled;
  t.forward_signals = !options.cancelled;
  std::map<std::string, int> errors;
  t.on_event = [&](const TraceEvent& ev) {
    if (ev.result_known && !ev.succeeded && ev.err != 0 && !ev.path.empty()) errors[ev.path] = ev.err;
  };
  auto run = run_sandboxed(options.sandbox, t);
  if (!run) return run.error();
  VerifyReport r;
  if (options.original) {
    r = compare_runs(*options.original, std::move(*run));
  } else {
    TraceLog empty;
    empty.exit = ExitStatus{};
    for (const auto& u : options.probe_urls) empty.probes.push_back({u, 200, {}});
    r = compare_runs(empty, std::move(*run));
  }
  r.errors = std::move(errors);
  return r;
}

}  // namespace minify
