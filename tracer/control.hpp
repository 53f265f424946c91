// What both tracers (ptrace, eBPF) do the same way around the program they trace: finding and
// starting the command, forwarding signals, --timeout and --probe with the SIGTERM -> SIGKILL
// escalation, the programs the kernel ran without a syscall naming them (#! interpreters and
// PT_INTERP), and recording accesses into the TraceLog. Only observing differs between them.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "describe.hpp"
#include "minify/result.hpp"
#include "minify/trace.hpp"

struct sock_fprog;

namespace minify::tracer {

using Clock = std::chrono::steady_clock;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void reset();

 private:
  int fd_ = -1;
};

// ---- Signals -------------------------------------------------------------------------------

inline constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP};
// The tick: a periodic SIGALRM so a blocked wait wakes up to check --timeout, --probe and
// whatever else the loop watches, even when the program makes no event.
inline constexpr std::chrono::milliseconds kTick{20};

// Set for the duration of one run (signal handlers can only reach globals): the process that
// forwarded signals go to, the signals that arrived after it was gone, and the tick.
extern std::atomic<pid_t> g_forward_pid;
extern volatile sig_atomic_t g_forwarded;
extern volatile sig_atomic_t g_tick;

// Installs the handlers for one run and restores the previous ones.
class SignalScope {
 public:
  SignalScope(bool forward, bool tick);
  ~SignalScope();
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  std::vector<std::pair<int, struct sigaction>> saved_;
};

// SIGALRM every kTick, aimed at the calling thread (SIGEV_THREAD_ID).
class TickTimer {
 public:
  TickTimer();
  ~TickTimer();
  TickTimer(const TickTimer&) = delete;
  TickTimer& operator=(const TickTimer&) = delete;

 private:
  timer_t timer_{};
  bool armed_ = false;
};

// ---- Starting the command ------------------------------------------------------------------

// The command, checked and resolved before anything is started.
struct Launch {
  std::string root = "/";     // canonical, no trailing slash
  UniqueFd root_fd;           // O_PATH of root when it is not "/"
  bool proc_visible = true;   // the program's /proc is a procfs (no root, or the root mounts one)
  std::string program;        // argv[0] resolved (execvp's PATH search, inside the root)
};
Result<Launch> prepare_launch(const TraceOptions& opt);

// How the child gets ready for the tracer before it execs the command.
struct ChildSetup {
  // ptrace: the child waits to be seized before anything else, then installs this filter.
  // eBPF: nullptr; the child chroots first and then waits, so that only the execve on is traced.
  const sock_fprog* seccomp = nullptr;
};

// A forked child stopped before execve, waiting for release().
class Child {
 public:
  Child() = default;
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  Status start(const TraceOptions& opt, const Launch& launch, const ChildSetup& setup);
  // Lets the child go on to execve. Without a seccomp filter, the child has chrooted by now.
  void release();
  pid_t pid() const { return pid_; }
  void forget() { pid_ = 0; }
  // After the child is gone: its failure to chroot, chdir, install the filter or exec, if any.
  Status failure(const TraceOptions& opt, const Launch& launch);

 private:
  pid_t pid_ = 0;
  UniqueFd sync_;    // the parent's end: one byte releases the child
  UniqueFd ready_;   // the child writes one byte when set up (eBPF)
  UniqueFd report_;  // the child reports a failed setup or execve here
};

// ---- What the kernel ran without a syscall naming it ---------------------------------------

UniqueFd open_in_root(const Launch& launch, const std::string& path, int flags);
// A script's "#!" interpreters, outermost first, then a dynamic ELF program's PT_INTERP (ld.so).
std::vector<std::string> interpreters_of(const Launch& launch, const std::string& path);

// ---- Recording -----------------------------------------------------------------------------

class Recorder {
 public:
  Recorder(const TraceOptions& opt, TraceLog& log) : opt_(opt), log_(log) {}
  void record(pid_t tid, pid_t tgid, std::string_view syscall, const Access& a, bool ok, bool known, int err);
  void note(pid_t tid, pid_t tgid, std::string_view syscall, std::string note);
  // A successful listen/bind on a socket now in `state`: into TraceLog::listens when it listens.
  void socket(const SocketCall& call, const SocketState& state);
  // An execve attempt: into TraceLog::execs; returns its index.
  std::size_t begin_exec(pid_t tgid, ExecRecord e);
  // Settles it: the path and the interpreters the kernel ran for it are recorded.
  void finish_exec(pid_t tid, pid_t tgid, std::size_t index, std::string_view syscall, bool succeeded, int err,
                   const Launch& launch);

 private:
  const TraceOptions& opt_;
  TraceLog& log_;
  // The directories each thread group has read the entries of (getdents64) since it started or
  // last exec'd: a path touched in one of them may have been found there (found_by_listing).
  std::unordered_map<pid_t, std::unordered_set<std::string>> listed_;
};

// ---- Stopping the program (--timeout, --probe) ---------------------------------------------

class Stopper {
 public:
  enum class Phase : std::uint8_t {
    Running,   // nothing sent
    TermSent,  // SIGTERM (and SIGCONT) sent to every process; SIGKILL at the end of the grace
    KillSent,  // SIGKILL sent
  };
  Stopper(const TraceOptions& opt, TraceLog& log) : opt_(opt), log_(log) {}
  ~Stopper() { join(); }
  Stopper(const Stopper&) = delete;
  Stopper& operator=(const Stopper&) = delete;

  // Starts the clock and the probe thread (which must not take the tracer's signals).
  void start();
  // On every tick: stops the program when --timeout has passed or the probes are done, and
  // escalates to SIGKILL after --grace. `signal_tree` signals every traced process.
  void tick(const std::function<void(int)>& signal_tree);
  Phase phase() const { return phase_; }
  // Ends the probe thread; its results go into the log.
  void join();

 private:
  void begin(StopReason why, const std::function<void(int)>& signal_tree);

  const TraceOptions& opt_;
  TraceLog& log_;
  Clock::time_point started_;
  Phase phase_ = Phase::Running;
  Clock::time_point kill_at_;
  std::atomic<bool> probe_done_{false};
  std::atomic<bool> probe_cancel_{false};
  std::vector<ProbeResult> probes_;
  std::thread prober_;
};

// The forwarded signals that arrived after the command's own process was gone go to the rest of
// the tree; call from the loop.
void forward_pending(const std::function<void(int)>& signal_tree);

std::string errno_text(int err);

}  // namespace minify::tracer
