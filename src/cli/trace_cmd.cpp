// `minify trace`: runs a command under the tracer and writes what it touched to trace.json (and
// every syscall record to --events as JSON Lines). minify behaves like the program it wraps: its
// stdio passes through, SIGINT/SIGTERM/SIGHUP are forwarded, and it exits with the program's
// status (128+N when the program died of signal N).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/print.hpp"
#include "cli/progress.hpp"
#include "minify/atomic.hpp"
#include "minify/pipeline.hpp"
#include "minify/rootfs.hpp"
#include "minify/trace.hpp"

namespace minify::cli {

namespace {

// Shell conventions for a command that could not be run.
constexpr int kExitCannotExecute = 126;
constexpr int kExitNotFound = 127;

struct TraceCliOptions {
  std::string output = "trace.json";
  std::string events;
  std::string timeout;
  std::string grace;
  std::vector<std::string> probes;
  std::string root;
  std::string user;
  bool exact = false;
  bool record_syscalls = false;
  std::string tracer = "auto";
  std::vector<std::string> command;
};


// Linux paths are bytes; JSON strings are UTF-8. A name that isn't valid UTF-8 is written with
// U+FFFD in place of the bad bytes rather than failing the whole trace.
constexpr auto kInvalidUtf8 = nlohmann::json::error_handler_t::replace;

int exit_code_for(const Error& e) {
  if (e.op == "exec") return e.err == ENOENT ? kExitNotFound : kExitCannotExecute;
  return e.err == 0 ? kExitBadInput : kExitMissing;
}

int run_trace_command(const TraceCliOptions& o) {
  TraceOptions topt;
  topt.tracer = *tracer_backend_from_name(o.tracer);  // checked by CLI11
  topt.command = o.command;
  topt.root = o.root;
  topt.probe_urls = o.probes;
  topt.exact_results = o.exact;
  topt.record_syscalls = o.record_syscalls;
  if (!o.user.empty()) {
    // Named accounts are the traced root's (the program looks itself up there), else the host's.
    auto root = Root::open(o.root.empty() ? "/" : o.root);
    if (!root) {
      print_error(root.error().message());
      return kExitBadInput;
    }
    auto user = run_as_credentials(*root, o.user);
    if (!user) {
      print_error(bad_input("--user", o.user, user.error().context).message());
      return kExitBadInput;
    }
    topt.user = *user;
  }
  if (!o.timeout.empty()) {
    auto d = parse_duration(o.timeout);
    if (!d) {
      print_error("--timeout: " + d.error().message());
      return kExitBadInput;
    }
    topt.timeout = *d;
  }
  if (!o.grace.empty()) {
    auto d = parse_duration(o.grace);
    if (!d) {
      print_error("--grace: " + d.error().message());
      return kExitBadInput;
    }
    topt.grace = *d;
  }

  std::optional<AtomicFile> events;
  std::string event_buffer;
  Status event_status = Ok{};
  if (!o.events.empty()) {
    auto f = AtomicFile::create(o.events);
    if (!f) {
      print_error(f.error().message());
      return kExitBadInput;
    }
    events.emplace(std::move(*f));
    topt.on_event = [&](const TraceEvent& ev) {
      event_buffer += to_json(ev).dump(-1, ' ', false, kInvalidUtf8);
      event_buffer += '\n';
      if (event_buffer.size() >= (1 << 16) && event_status) {
        event_status = events->write(event_buffer);
        event_buffer.clear();
      }
    };
  }
  // Check -o is writable before running anything, so a long trace isn't lost at the end.
  std::optional<AtomicFile> out;
  if (o.output != "-") {
    auto f = AtomicFile::create(o.output);
    if (!f) {
      print_error(f.error().message());
      return kExitBadInput;
    }
    out.emplace(std::move(*f));
  }

  // A long trace shows its elapsed time on a terminal (after a second, as pack's does); the line
  // is erased before anything else is printed.
  Result<TraceLog> log = [&] {
    Context ctx;
    ProgressLine progress(ctx, print_diagnostic);
    ctx.progress({"trace", topt.command.empty() ? std::string() : topt.command.front(), 0, 0, false});
    auto r = run_trace(topt);
    ctx.progress({"trace", topt.command.empty() ? std::string() : topt.command.front(), 0, 0, true});
    return r;
  }();
  if (!log) {
    print_error(log.error().message());
    return exit_code_for(log.error());
  }
  if (!log->fallback.empty()) std::cerr << "minify: trace: using ptrace: the eBPF tracer is not available: " << log->fallback << "\n";

  if (out) {
    Status st = Ok{};
    write_json(*log, [&](std::string_view piece) {
      if (st) st = out->write(piece);
    });
    if (st) st = out->commit();
    if (!st) {
      print_error(st.error().message());
      return kExitMissing;
    }
  } else {
    write_json(*log, [](std::string_view piece) { std::cout << piece; });
    std::cout << std::flush;
  }
  if (events) {
    if (event_status) event_status = events->write(event_buffer);
    if (event_status) event_status = events->commit();
    if (!event_status) {
      print_error(event_status.error().message());
      return kExitMissing;
    }
  }

  // When minify stopped the program (--timeout, --probe), its death by our signal is the
  // expected end of the run, not a failure.
  int probe_failures = 0;
  for (const auto& p : log->probes)
    if (!p.error.empty()) {
      print_error("probe `" + p.url + "`: " + p.error);
      ++probe_failures;
    }
  if (log->stopped_by != StopReason::None) return probe_failures ? kExitMissing : kExitOk;
  if (log->exit.signaled) {
    const char* name = ::sigabbrev_np(log->exit.signal);
    print_error("`" + o.command[0] + "` was killed by signal " + std::to_string(log->exit.signal) + " (SIG" +
                (name ? name : "?") + ")" + (log->exit.core_dumped ? ", core dumped" : ""));
  }
  int status = log->exit.shell_status();
  return status == 0 && probe_failures ? kExitMissing : status;
}

}  // namespace

Command add_trace_command(CLI::App& app) {
  auto opt = std::make_shared<TraceCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "trace",
      "Run a command and record every file it and its descendants touch (eBPF, or ptrace + seccomp-bpf); waits until "
      "every traced process has exited (use --timeout or --probe for servers)");
  sub->add_option("-o,--output", opt->output, "Write the trace here (default trace.json; - for stdout)");
  sub->add_option("--events", opt->events, "Also write every traced syscall as JSON Lines (for debugging)");
  sub->add_option("--timeout", opt->timeout,
                  "Stop the program after this long (e.g. 30s, 500ms, 2m): SIGTERM to every process, then "
                  "SIGKILL after --grace");
  sub->add_option("--grace", opt->grace, "Delay between SIGTERM and SIGKILL when stopping the program (default 3s)");
  sub->add_option("--probe", opt->probes,
                  "Wait until this URL answers, GET it (HTTP/1.1, http:// only), then stop the program; "
                  "repeatable (fetched in order)");
  sub->add_option("--root", opt->root, "Run the command chrooted into DIR; paths are recorded as seen inside")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--user", opt->user,
                  "Run the command as USER[:GROUP] (a name or uid[:gid], looked up in --root's /etc/passwd and "
                  "/etc/group, else the host's) with its supplementary groups; minify itself stays root");
  sub->add_option("--tracer", opt->tracer,
                  "Which tracer: bpf (the kernel reports what the program does; needs root and a kernel with BTF; "
                  "sees io_uring), ptrace (works anywhere; io_uring is refused so programs fall back to plain "
                  "syscalls), or auto (default: bpf when it can be used, else ptrace with a line saying why)")
      ->check(CLI::IsMember({"auto", "bpf", "ptrace"}));
  sub->add_flag("--exact", opt->exact,
                "ptrace: take every traced syscall's real return value (one more ptrace stop per call) instead of "
                "checking lookups in the tracer (the eBPF tracer always has them)");
  sub->add_flag("--record-syscalls", opt->record_syscalls,
                "Record the name of every syscall the program used (trace.json \"syscalls\"), as a seccomp profile "
                "needs (eBPF: noted in the kernel; ptrace: one stop per syscall)");
  sub->add_option("command", opt->command, "The command to trace and its arguments (after --)")->required();
  sub->positionals_at_end();
  return {sub, [opt] { return run_trace_command(*opt); }};
}

}  // namespace minify::cli
