// The runtime tracer: runs a command under ptrace and records every file it and all of
// its descendants touch. A seccomp-bpf filter makes only file-related syscalls stop, so the rest
// of the program runs at full speed. The result is a TraceLog, a plain value the packer consumes.
//
// Paths are absolute, exactly as the process named them after resolving relative paths against
// the calling thread's cwd or dirfd; symlinks are not resolved (the packer resolves links). With
// TraceOptions::root they are the paths seen inside the root. A path through the caller's /proc
// tables (/proc/self/fd/3/name, /dev/fd/3, /proc/self/cwd/x, /proc/self/root/x, /proc/self/exe)
// is recorded as the file it reached at the time of the call.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "minify/result.hpp"

namespace minify {

// How a syscall used a path. One syscall may record several kinds (open O_RDWR: Read and Write).
enum class AccessKind : std::uint8_t {
  Read,      // open for reading
  Write,     // open for writing, truncate, utimensat, xattr changes
  Create,    // open O_CREAT, creat, mkdir, mknod: the path may not have existed before
  Exec,      // execve/execveat of the path, or an interpreter the kernel ran for it (#!, ld.so)
  Stat,      // stat, lstat, access, statx, getxattr, listxattr: metadata or existence only
  Readlink,  // readlink: the link itself, not its target
  List,      // open O_DIRECTORY: the directory's entries
  Chdir,     // chdir, fchdir
  Remove,    // unlink, rmdir
  Rename,    // either side of a rename
  Link,      // either side of a hard link
  Symlink,   // the link created by symlink (its target is data, not a path access)
  Watch,     // inotify_add_watch
  Socket,    // bind/connect to an AF_UNIX socket path
};
inline constexpr int kAccessKindCount = 14;

std::string_view access_kind_name(AccessKind kind);
std::optional<AccessKind> access_kind_from_name(std::string_view name);

// A small set of AccessKind.
class AccessSet {
 public:
  AccessSet() = default;
  AccessSet(std::initializer_list<AccessKind> kinds) {
    for (AccessKind k : kinds) add(k);
  }
  void add(AccessKind k) { bits_ |= bit(k); }
  void add(AccessSet s) { bits_ |= s.bits_; }
  bool has(AccessKind k) const { return (bits_ & bit(k)) != 0; }
  bool empty() const { return bits_ == 0; }
  std::vector<AccessKind> kinds() const;
  friend bool operator==(AccessSet, AccessSet) = default;

 private:
  static std::uint32_t bit(AccessKind k) { return 1u << static_cast<unsigned>(k); }
  std::uint32_t bits_ = 0;
};

// Everything the traced processes did to one path.
struct PathUse {
  AccessSet access;     // every kind of access attempted
  AccessSet succeeded;  // the kinds of access of which at least one succeeded
  // How the program came to the path: true when every access was made by a thread group that
  // had already read the entries of the path's directory (getdents64; `list` in `succeeded` of
  // that directory): the name came out of a listing, as when find or du walk a tree. False when
  // any access came first or from a process that named the path itself (a new process, and
  // the same one after an exec, starts with no listing).
  bool found_by_listing = false;
  bool any_succeeded() const { return !succeeded.empty(); }
  friend bool operator==(const PathUse&, const PathUse&) = default;
};

// One execve/execveat attempt.
struct ExecRecord {
  pid_t pid = 0;                          // the thread group that exec'd
  std::string path;                       // absolute, as named (for execveat, dirfd + name)
  std::vector<std::string> argv;          // as passed (capped at 256 entries)
  // What the kernel ran for it without a syscall naming them: #! interpreters, outermost first,
  // then the final program's ELF interpreter (PT_INTERP, ld.so) if it is dynamic.
  std::vector<std::string> interpreters;
  bool succeeded = false;
  friend bool operator==(const ExecRecord&, const ExecRecord&) = default;
};

// A port the program listened on: a successful listen() on an AF_INET/AF_INET6 stream socket
// ("tcp"), or a successful bind() of an AF_INET/AF_INET6 datagram socket ("udp"). The port is the
// socket's local port after the call (getsockname), so a listen on port 0 records the port the
// kernel picked. The runner stage EXPOSEs these; a policy grants binding below 1024 from them.
struct ListenRecord {
  std::uint16_t port = 0;
  std::string proto;  // "tcp" or "udp"
  friend auto operator<=>(const ListenRecord&, const ListenRecord&) = default;
};

// One traced syscall, for --events and debugging.
struct TraceEvent {
  pid_t tid = 0;
  pid_t pid = 0;                 // thread group id
  std::string_view syscall;      // verbatim name: "openat", "newfstatat", ...
  AccessSet access;
  std::string path;              // absolute; empty when the path could not be read
  bool succeeded = false;
  bool result_known = false;     // true: from the syscall's return value; false: inferred, see below
  int err = 0;                   // errno when the result is known and the call failed
  std::string note;              // why no path was recorded, for unhandled arguments
};

// How the traced command ended.
struct ExitStatus {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
  bool core_dumped = false;
  // The shell convention: the code, or 128+signal.
  int shell_status() const { return signaled ? 128 + signal : code; }
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

// Why the tracer stopped the program, if it did.
enum class StopReason : std::uint8_t { None, Timeout, Probe };

struct ProbeResult {
  std::string url;
  int http_status = 0;  // 0 when no answer
  std::string error;    // empty on success
  friend bool operator==(const ProbeResult&, const ProbeResult&) = default;
};

// Counters, so tests and benchmarks can see where the ptrace stops (or eBPF records) go.
struct TraceStats {
  std::uint64_t ptrace_stops = 0;   // every waitpid report: stops and exits
  std::uint64_t seccomp_stops = 0;  // PTRACE_EVENT_SECCOMP: one per traced syscall entry
  std::uint64_t exit_stops = 0;     // syscall-exit stops, requested only where the result matters
  std::uint64_t signal_stops = 0;   // signal-delivery stops (signals forwarded to the tracee)
  std::uint64_t unhandled = 0;      // traced syscalls whose path could not be recorded
  std::uint64_t io_uring_refused = 0;  // io_uring_setup calls failed with ENOSYS (ptrace; see notes)
  std::uint64_t events = 0;         // records read from the eBPF tracer's ring buffer
  friend bool operator==(const TraceStats&, const TraceStats&) = default;
};

struct TraceLog {
  std::vector<std::string> command;
  std::string tracer = "ptrace";    // the backend that recorded it: "ptrace" or "bpf"
  std::string fallback;             // TracerBackend::Auto only: why eBPF was not used
  std::string root = "/";           // the root the paths are relative to
  ExitStatus exit;
  int process_count = 0;            // thread groups seen, the first one included
  int thread_count = 0;             // threads seen, every thread group leader included
  StopReason stopped_by = StopReason::None;
  std::vector<ProbeResult> probes;
  std::map<std::string, PathUse> paths;  // sorted by path
  std::vector<ExecRecord> execs;         // in the order they happened
  std::vector<ListenRecord> listens;     // sorted, each once
  // What the tracer did to the program that a reader of the trace should know, a sentence each
  // (the ptrace tracer refuses io_uring_setup, so the program ran without io_uring).
  std::vector<std::string> notes;
  TraceStats stats;
  // TraceOptions::record_syscalls: every syscall the traced processes entered, by libseccomp's
  // name, sorted, and the architecture they are numbered for ("x86_64", "aarch64"). Numbers
  // libseccomp cannot name are kept as "#NR". Empty when not recorded.
  std::vector<std::string> syscalls;
  std::string syscall_arch;

  // Did any access of any kind to `path` succeed?
  bool used(const std::string& path) const {
    auto it = paths.find(path);
    return it != paths.end() && it->second.any_succeeded();
  }
};

// Which tracer records the program.
enum class TracerBackend : std::uint8_t {
  // eBPF when minify was built with it and the kernel and the privileges allow it, else ptrace;
  // TraceLog::fallback then says why.
  Auto,
  // The eBPF tracer (tracer/bpf): the kernel reports what the program does as it runs, without
  // stopping it, from raw tracepoints; it also sees io_uring. Needs CAP_BPF and CAP_PERFMON
  // (root), a kernel with BTF, and minify in the initial PID namespace.
  Bpf,
  // ptrace + seccomp: works unprivileged and in containers; io_uring is refused (see notes).
  Ptrace,
};
std::string_view tracer_backend_name(TracerBackend backend);
std::optional<TracerBackend> tracer_backend_from_name(std::string_view name);

struct TraceOptions {
  // ptrace unless asked: the sandboxed runs (verify, the trace of an image) depend on the order
  // and pids of on_event records and have been checked under ptrace only. `minify trace` asks
  // for Auto.
  TracerBackend tracer = TracerBackend::Ptrace;
  std::vector<std::string> command;  // argv; argv[0] is looked up in PATH (inside root)
  std::string root;                  // empty: no chroot
  // The program's whole environment ("K=V"); unset: this process's. argv[0] is still looked up
  // in this process's PATH.
  std::optional<std::vector<std::string>> env;
  std::string workdir;               // the program's working directory (inside root); empty: ours
  // Set: the program runs as this user (minify stays root). The child drops to it after the
  // chroot, the chdir and the seccomp filter (all of which need root), right before its execve:
  // setgroups(groups), setresgid(gid), setresuid(uid), as su and container runtimes do. The
  // environment stays as given (no HOME or USER is made up). Needs CAP_SETUID/CAP_SETGID.
  struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups
    friend bool operator==(const Credentials&, const Credentials&) = default;
  };
  std::optional<Credentials> user;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds grace{3000};  // SIGTERM -> SIGKILL delay when stopping the program
  std::vector<std::string> probe_urls;    // http://host[:port]/path
  // ptrace only (the eBPF tracer always has them): when set, stop on every syscall exit too and
  // record real return values for every call.
  // By default lookups (open for reading, stat, access, readlink, exec...) are marked succeeded
  // when the path resolved in the tracee's root at the time of the call, checked by the tracer,
  // which saves a ptrace stop per call; calls that change the filesystem always wait for the
  // result.
  bool exact_results = false;
  // Record the set of syscalls the program used (TraceLog::syscalls), for a seccomp profile.
  // Under ptrace this makes every syscall stop once (the filter's default action becomes
  // SECCOMP_RET_TRACE: a loaded filter cannot be changed to stop only unseen ones), ~4 us a call,
  // so it is asked for only when a policy is wanted.
  bool record_syscalls = false;
  // Set: only the syscalls of the process that looks this path up (any traced lookup) and of
  // the processes it starts from then on are recorded (the sandbox's launcher is not the program).
  std::string record_syscalls_after;
  // Forward SIGINT, SIGTERM and SIGHUP sent to this process to the traced command while it runs.
  bool forward_signals = true;
  // Polled while the program runs (at least every tick, and whenever a signal interrupts the
  // tracer's wait): once it returns true the whole traced tree is killed and run_trace() fails
  // with ECANCELED. For callers whose own signal handlers abort the run (Ctrl-C stops minify,
  // not only the program): they set forward_signals = false and install handlers without
  // SA_RESTART that this reads.
  std::function<bool()> cancelled;
  // Called for every syscall record as it completes (--events).
  std::function<void(const TraceEvent&)> on_event;
};

// Runs options.command to completion under the tracer (options.tracer): until every traced
// process has exited (daemons included; --timeout/--probe stop them), killing whatever is left on
// any error and when the caller dies. Both tracers record the same paths for the same program
// (the same TraceLog; the eBPF one also sees io_uring, which ptrace refuses).
// Errors are failures to run or trace it (bad command, program not found, ptrace/seccomp or eBPF
// unavailable, 32-bit tracee); how the program itself ended is data in TraceLog::exit.
// The program runs with the privileges it would have untraced when the caller is root: the
// kernel honours setuid/setgid bits for a tracee whose tracer has CAP_SYS_PTRACE (and the eBPF
// tracer does not trace). An unprivileged caller's seccomp filter needs no_new_privs, so setuid
// bits are ignored then and the program runs as the caller. Under ptrace a traced program cannot
// trace: PTRACE_TRACEME, and PTRACE_ATTACH/PTRACE_SEIZE of another traced process or of the
// tracer itself, fail with EPERM; under eBPF it can (gdb, strace run as they do untraced).
// Requires: no other run_trace() in this process at the same time, and no other children of the
// calling process to be waited for meanwhile (the tracer waits for any child, waitpid(-1), and
// briefly owns the SIGINT/SIGTERM/SIGHUP/SIGALRM handlers).
Result<TraceLog> run_trace(const TraceOptions& options);

// Parses "10", "1.5s", "250ms", "2m", "1h" (a bare number means seconds).
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

std::string_view stop_reason_name(StopReason reason);

// JSON form of trace.json and of one --events line.
nlohmann::json to_json(const TraceLog& log);
// Writes trace.json as to_json(log).dump(2) would, plus a newline, in pieces of about 64 KiB
// passed to `write`, without building the JSON of every path first (a trace of 100,000 files
// takes more memory as JSON than as a TraceLog). Names that are not valid UTF-8 get U+FFFD in
// place of the bad bytes.
void write_json(const TraceLog& log, const std::function<void(std::string_view)>& write);
Result<TraceLog> trace_log_from_json(const nlohmann::json& j);
nlohmann::json to_json(const TraceEvent& event);

}  // namespace minify
