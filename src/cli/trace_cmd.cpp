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
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
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
  bool exact = false;
  std::vector<std::string> command;
};

// A file written under a temporary name and renamed into place on commit(), so a failed run
// never leaves a partial file behind. Something that exists and is not a regular file
// (/dev/null, a FIFO, /dev/stdout) is written in place: renaming over it would replace it.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    struct stat st {};
    in_place_ = ::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
    tmp_ = in_place_ ? path_ : path_ + ".tmp-" + std::to_string(::getpid());
  }
  ~AtomicFile() {
    if (!committed_ && !in_place_) std::remove(tmp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  bool open() {
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    return out_.is_open();
  }
  std::ofstream& stream() { return out_; }
  const std::string& path() const { return path_; }
  // Returns an error message, empty on success.
  std::string commit() {
    out_.flush();
    if (!out_) return "write `" + tmp_ + "`: " + std::strerror(errno);
    out_.close();
    if (in_place_) return "";
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return "rename `" + tmp_ + "`: " + std::strerror(errno);
    committed_ = true;
    return "";
  }

 private:
  std::string path_, tmp_;
  std::ofstream out_;
  bool in_place_ = false;
  bool committed_ = false;
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
  topt.command = o.command;
  topt.root = o.root;
  topt.probe_urls = o.probes;
  topt.exact_results = o.exact;
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

  std::unique_ptr<AtomicFile> events;
  if (!o.events.empty()) {
    events = std::make_unique<AtomicFile>(o.events);
    if (!events->open()) {
      print_error("open `" + o.events + "`: " + std::strerror(errno));
      return kExitBadInput;
    }
    topt.on_event = [&events](const TraceEvent& ev) {
      events->stream() << to_json(ev).dump(-1, ' ', false, kInvalidUtf8) << '\n';
    };
  }
  // Check -o is writable before running anything, so a long trace isn't lost at the end.
  std::unique_ptr<AtomicFile> out;
  if (o.output != "-") {
    out = std::make_unique<AtomicFile>(o.output);
    if (!out->open()) {
      print_error("open `" + o.output + "`: " + std::strerror(errno));
      return kExitBadInput;
    }
  }

  Result<TraceLog> log = run_trace(topt);
  if (!log) {
    print_error(log.error().message());
    return exit_code_for(log.error());
  }

  std::string doc = to_json(*log).dump(2, ' ', false, kInvalidUtf8) + "\n";
  if (out) {
    out->stream() << doc;
    if (std::string err = out->commit(); !err.empty()) {
      print_error(err);
      return kExitMissing;
    }
  } else {
    std::cout << doc << std::flush;
  }
  if (events) {
    if (std::string err = events->commit(); !err.empty()) {
      print_error(err);
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
      "Run a command and record every file it and its descendants touch (ptrace + seccomp-bpf); waits until "
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
  sub->add_flag("--exact", opt->exact,
                "Take every traced syscall's real return value (one more ptrace stop per call) instead of "
                "checking lookups in the tracer");
  sub->add_option("command", opt->command, "The command to trace and its arguments (after --)")->required();
  sub->positionals_at_end();
  return {sub, [opt] { return run_trace_command(*opt); }};
}

}  // namespace minify::cli
