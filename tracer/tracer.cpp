// The ptrace loop behind run_trace(): starts the command under PTRACE_SEIZE with a seccomp-bpf
// filter that stops only the syscalls in the syscall table, follows every fork, vfork, clone and
// exec, and turns each stop into records in the TraceLog.
//
// Where the stops go is the whole cost of tracing (a stop is ~4 us when tracer and tracee share a
// CPU and ~50-75 us when they don't), so:
//  - a traced syscall costs one stop (PTRACE_EVENT_SECCOMP). Arguments come from
//    PTRACE_GET_SYSCALL_INFO and strings from process_vm_readv; for lookups the tracer checks the
//    path itself instead of stopping again at the syscall exit. Only calls that change the
//    filesystem (and chdir, which moves the cwd cache) take the extra exit stop;
//  - execve success is taken from PTRACE_EVENT_EXEC, failure from the thread's next stop;
//  - fstat() spelled newfstatat(fd, "", AT_EMPTY_PATH) never stops (filtered in BPF);
//  - the tracer and the tracees share one CPU while the trace is stop-bound: from the start, and
//    then while stops come faster than kPinStopsPerSecond (a tenth of that for one thread). A
//    tick re-checks every kTick, so a parallel program that stops rarely gets its CPUs back
//    and a single-threaded one that has stopped stopping can move away from other load. When
//    other work keeps every CPU busy (/proc/loadavg's runnable count), nothing is pinned.
//
// Per-thread state machine (Thread below):
//  - running: resumed with PTRACE_CONT, stops only at seccomp events, signals and ptrace events;
//  - awaiting_exit: resumed with PTRACE_SYSCALL after a seccomp stop; the next syscall-exit stop
//    completes `pending`;
//  - exec_pending: an execve was seen; PTRACE_EVENT_EXEC marks it succeeded, the thread's next
//    syscall or its death marks it failed;
//  - group-stopped: PTRACE_LISTEN'ed until SIGCONT (the PTRACE_SEIZE group-stop protocol).
#include "minify/version.hpp"
#include <elf.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/ptrace.h>  // struct ptrace_syscall_info, PTRACE_GET_SYSCALL_INFO
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/user.h>
#include <sys/uio.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <unordered_set>

// <sys/ptrace.h> and <linux/ptrace.h> clash; declare the one libc function we need.
extern "C" long ptrace(int request, ...);

#include "backends.hpp"
#include "control.hpp"
#include "describe.hpp"
#include "minify/trace.hpp"
#include "syscalls.hpp"
#include "tracee_io.hpp"

namespace minify {
namespace tracer {
namespace {

// SECCOMP_RET_DATA values: row index + 1 for table rows, this for a syscall from another ABI.
constexpr std::uint32_t kBadArchData = 0xffff;
// SECCOMP_RET_DATA of the calls that change a thread's credentials (setuid() and friends).
constexpr std::uint32_t kCredsData = 0xfffe;
// SECCOMP_RET_DATA of io_uring_setup, which the tracer refuses (see refuse_syscall()).
constexpr std::uint32_t kIoUringData = 0xfffd;
// SECCOMP_RET_DATA of every other syscall when TraceOptions::record_syscalls asks for them all.
constexpr std::uint32_t kRecordData = 0xfffc;
constexpr std::uint32_t kNativeAuditArch =
#if defined(__x86_64__)
    AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    AUDIT_ARCH_AARCH64;
#endif

constexpr long kSeizeOptions = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK |
                               PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
                               PTRACE_O_EXITKILL;
constexpr std::size_t kMaxArgv = 256;
// Above this many stops a second the tracer is the bottleneck and sharing a CPU with every
// tracee is cheaper than running them in parallel (a stop costs ~4 us on one CPU, ~50-75 us
// across two on the benchmark VM).
constexpr double kPinStopsPerSecond = 2000;
constexpr std::chrono::milliseconds kTick{20};
constexpr int kFdCwd = AT_FDCWD;

// ---- The seccomp filter ------------------------------------------------------------------

// Builds the filter in the parent and exports it as BPF, so the forked child only has to load it
// with async-signal-safe calls. `tracer` lists the tracer's own pid and tid: see below.
// With `record_all`, every syscall no rule stops stops too (the default action), to be counted.
Result<std::vector<sock_filter>> build_filter(std::span<const SyscallRow> rows, std::span<const pid_t> tracer,
                                              bool record_all) {
  scmp_filter_ctx ctx = seccomp_init(record_all ? SCMP_ACT_TRACE(kRecordData) : SCMP_ACT_ALLOW);
  if (ctx == nullptr) return bad_input("seccomp_init", "", "libseccomp failed to initialise");
  std::unique_ptr<void, void (*)(void*)> guard(ctx, [](void* c) { seccomp_release(c); });
  // Another ABI (i386 or x32 on x86-64) stops too, so it can be refused with a clear message.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRACE(kBadArchData)); rc < 0)
    return sys_error("seccomp_attr_set", "", -rc);
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);  // binary search over syscall numbers
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SyscallRow& row = rows[i];
    std::uint32_t action = SCMP_ACT_TRACE(static_cast<std::uint32_t>(i + 1));
    int rc;
    // glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH) (statx likewise): a stat of an open
    // fd, not a path lookup. Letting it through unstopped saves a stop per fstat.
    if (row.op == Op::FstatAt || row.op == Op::Statx) {
      unsigned flags_arg = row.op == Op::FstatAt ? 3 : 2;
      rc = seccomp_rule_add(ctx, action, row.nr, 1,
                            SCMP_CMP(flags_arg, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
    } else {
      rc = seccomp_rule_add(ctx, action, row.nr, 0);
    }
    if (rc < 0) return sys_error("seccomp_rule_add", std::string(row.name), -rc);
  }
  // A thread that changes its credentials may lose access the tracer has: see Thread::creds.
  for (int nr : {SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setreuid), SCMP_SYS(setregid), SCMP_SYS(setresuid),
                 SCMP_SYS(setresgid), SCMP_SYS(setfsuid), SCMP_SYS(setfsgid), SCMP_SYS(setgroups), SCMP_SYS(capset)}) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_TRACE(kCredsData), nr, 0); rc < 0)
      return sys_error("seccomp_rule_add", "set*id", -rc);
  }
  // io_uring runs opens, stats and renames from a ring in memory, with no syscall naming the
  // path: under ptrace they would go unseen. Failed with ENOSYS (as on a kernel built without
  // io_uring, or with io_uring_disabled=2), liburing, glib, Node's libuv and Rust's tokio-uring
  // fall back to plain syscalls. The tracer stops the call to refuse it and count it in the trace.
  if (int rc = seccomp_rule_add(ctx, SCMP_ACT_TRACE(kIoUringData), SCMP_SYS(io_uring_setup), 0); rc < 0)
    return sys_error("seccomp_rule_add", "io_uring_setup", -rc);
  // A tracee that attaches to the tracer (`gdb -p $PPID`; root may) stops it, and a stopped
  // tracer never lets the tracee past its next traced syscall: both wait forever. Refuse it with
  // the EPERM any already-traced target gives. The pid is compared as the kernel reads it, an int.
  for (long request : {PTRACE_ATTACH, PTRACE_SEIZE}) {
    for (pid_t pid : tracer) {
      int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ptrace), 2,
                                SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(request), 0),
                                SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, static_cast<scmp_datum_t>(pid)));
      if (rc < 0 && rc != -EEXIST) return sys_error("seccomp_rule_add", "ptrace", -rc);
    }
  }
  UniqueFd mem(::memfd_create("minify-seccomp", MFD_CLOEXEC));
  if (mem.get() < 0) return sys_error("memfd_create", "");
  if (int rc = seccomp_export_bpf(ctx, mem.get()); rc < 0) return sys_error("seccomp_export_bpf", "", -rc);
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return bad_input("seccomp_export_bpf", "", "bad program size");
  std::vector<sock_filter> prog(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), prog.data(), static_cast<std::size_t>(size), 0) != size) return sys_error("read BPF", "");
  return prog;
}

// ---- Per-thread state ----------------------------------------------------------------------

struct Thread {
  pid_t tgid = 0;
  bool awaiting_exit = false;
  std::string_view pending_syscall;
  std::vector<Access> pending;  // completed at the syscall-exit stop
  bool pending_chdir = false;
  std::optional<SocketCall> pending_socket;  // listen/bind: read the socket's port at the exit
  std::optional<std::size_t> exec_index;  // into TraceLog::execs
  std::string_view exec_syscall;          // "execve" or "execveat"
  std::string cwd;                        // cached /proc/TID/cwd, valid while cwd_gen matches
  std::uint64_t cwd_gen = 0;
  // Whether the thread's filesystem credentials are the tracer's: only then does the tracer's own
  // check of a lookup tell what the thread's call did (a thread that dropped to another user gets
  // EACCES where root succeeds). Unknown after a set*id call or an exec (setuid programs) and in a
  // new task, read from /proc when next needed; other threads take the real result at the exit.
  enum class Creds : std::uint8_t { Unknown, Same, Other } creds = Creds::Unknown;
};

// Runnable tasks on the system besides the caller: the "R" of /proc/loadavg's "R/T" field.
int others_runnable() {
  int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* p = buf;
  for (int field = 0; field < 3 && p; ++field) {
    p = std::strchr(p, ' ');
    if (p) ++p;
  }
  return p ? std::max(0, std::atoi(p) - 1) : 0;
}

// The lines of a /proc/TID/status that decide file access: the filesystem uid and gid (the last
// of real, effective, saved, filesystem), the supplementary groups and the effective capabilities.
std::string file_creds(const std::string& status_path) {
  std::string out;
  FILE* f = std::fopen(status_path.c_str(), "re");
  if (f == nullptr) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) {
    std::string_view line = buf;
    if (line.starts_with("Uid:") || line.starts_with("Gid:")) {
      if (line.ends_with('\n')) line.remove_suffix(1);
      out.append(line.substr(0, 4)).append(line.substr(line.find_last_of(" \t") + 1)).push_back('\n');
    } else if (line.starts_with("Groups:") || line.starts_with("CapEff:")) {
      out.append(line);
    }
  }
  std::fclose(f);
  return out;
}

// The socket open as `fd` in thread group `tgid` (stopped at a syscall exit): a duplicate taken
// with pidfd_getfd(2) (Linux 5.6; the tracer passes its PTRACE_MODE_ATTACH check) answers
// getsockopt and getsockname as the program's own fd would. nullopt when it is gone.
std::optional<SocketState> socket_state(pid_t tgid, int fd) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, tgid, 0)));
  if (pidfd.get() < 0) return std::nullopt;
  UniqueFd sock(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
  if (sock.get() < 0) return std::nullopt;
  SocketState st;
  socklen_t len = sizeof st.family;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_DOMAIN, &st.family, &len) != 0) return std::nullopt;
  len = sizeof st.type;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_TYPE, &st.type, &len) != 0) return std::nullopt;
  sockaddr_storage sa{};
  len = sizeof sa;
  if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) return std::nullopt;
  if (sa.ss_family == AF_INET) st.port = ntohs(reinterpret_cast<const sockaddr_in&>(sa).sin_port);
  else if (sa.ss_family == AF_INET6) st.port = ntohs(reinterpret_cast<const sockaddr_in6&>(sa).sin6_port);
  return st;
}

Thread new_thread(pid_t tgid) {
  Thread t;
  t.tgid = tgid;
  return t;
}

// ---- The tracer ----------------------------------------------------------------------------

class Tracer {
 public:
  Tracer(const TraceOptions& opt, TraceLog& log)
      : opt_(opt), log_(log), rows_(native_syscalls()), recorder_(opt, log), stopper_(opt, log) {}
  ~Tracer() {
    stopper_.join();
    kill_all_and_reap();
  }

  Status run();

 private:
  Status prepare();
  Status start_child();
  Status loop();

  void handle_exit(pid_t tid, int status);
  void handle_stop(pid_t tid, int status);
  void handle_seccomp(pid_t tid, Thread& t);
  void handle_syscall_exit(pid_t tid, Thread& t);
  bool refuse_syscall(pid_t tid);
  void handle_exec_event(pid_t tid);
  void handle_new_task(pid_t tid);

  Thread& thread(pid_t tid);
  void forget_thread(pid_t tid);
  void resume(pid_t tid, int sig = 0);

  friend class TraceeArgs;
  std::optional<std::string> resolve_at(pid_t tid, Thread& t, long dirfd, const std::string& path, bool follow,
                                        std::string& note);
  std::optional<std::string> fd_path(pid_t tid, long fd, std::string& note);
  std::string through_proc(pid_t tid, const Thread& t, std::string path, bool follow);
  const std::string* cwd_of(pid_t tid, Thread& t);
  bool check_lookup(pid_t tid, const Thread& t, const std::string& path, Lookup lookup);
  bool same_creds(pid_t tid, Thread& t);
  void record(pid_t tid, const Thread& t, std::string_view syscall, const Access& a, bool ok, bool known, int err) {
    recorder_.record(tid, t.tgid, syscall, a, ok, known, err);
  }
  void finish_exec(pid_t tid, Thread& t, bool succeeded);

  void name_syscalls();
  void tick();
  void signal_tree(int sig);
  void kill_all_and_reap();
  void update_affinity();

  const TraceOptions& opt_;
  TraceLog& log_;
  std::span<const SyscallRow> rows_;
  Recorder recorder_;
  Stopper stopper_;
  Launch launch_;
  std::vector<sock_filter> filter_;

  Child child_;
  pid_t root_pid_ = 0;
  bool root_exited_ = false;
  std::unordered_map<pid_t, Thread> threads_;
  std::unordered_map<pid_t, int> live_per_tgid_;
  std::unordered_set<pid_t> all_tgids_;
  std::uint64_t cwd_gen_ = 1;
  std::optional<Error> fatal_;
  std::string tracer_creds_;  // see same_creds()
  std::vector<bool> syscalls_seen_;  // TraceOptions::record_syscalls, indexed by number
  std::unordered_set<pid_t> syscall_tgids_;  // TraceOptions::record_syscalls_after: recorded ones

  // CPU pinning while there is one tracee thread.
  cpu_set_t original_cpus_{};
  bool have_original_cpus_ = false;
  bool pinned_ = false;
  int pin_cpu_ = -1;
  Clock::time_point window_start_;
  std::uint64_t window_stops_ = 0;  // log_.stats.ptrace_stops at window_start_
  double others_runnable_ = 0;      // smoothed count of other runnable tasks on the system
  bool crowded_ = false;            // no CPU to spare: don't pin
};

Status Tracer::prepare() {
  auto launch = prepare_launch(opt_);
  if (!launch) return launch.error();
  launch_ = std::move(*launch);
  log_.root = launch_.root;
  log_.command = opt_.command;
  log_.tracer = "ptrace";
  const pid_t self[] = {::getpid(), static_cast<pid_t>(::syscall(SYS_gettid))};
  auto filter = build_filter(rows_, self, opt_.record_syscalls);
  if (!filter) return filter.error();
  filter_ = std::move(*filter);
  return Ok{};
}

Status Tracer::start_child() {
  sock_fprog prog{static_cast<unsigned short>(filter_.size()), filter_.data()};
  ChildSetup setup;
  setup.seccomp = &prog;
  if (auto st = child_.start(opt_, launch_, setup); !st) return st;
  pid_t pid = child_.pid();
  root_pid_ = pid;
  if (::ptrace(PTRACE_SEIZE, pid, nullptr, kSeizeOptions) != 0) {
    int err = errno;
    root_pid_ = 0;
    return sys_error("ptrace(PTRACE_SEIZE)", opt_.command[0], err);  // ~Child kills and reaps it
  }
  child_.forget();  // reaped by the loop from now on
  threads_[pid] = new_thread(pid);
  live_per_tgid_[pid] = 1;
  all_tgids_.insert(pid);
  log_.process_count = 1;
  log_.thread_count = 1;
  g_forward_pid = pid;
  child_.release();
  return Ok{};
}

Status Tracer::run() {
  if (auto st = prepare(); !st) return st;
  SignalScope signals(opt_.forward_signals, true);
  TickTimer timer;

  // Pin the tracer (and so the child, which inherits it) to the CPU it is on: a ptrace stop is
  // an order of magnitude cheaper when both sides share a CPU. update_affinity() decides later.
  if (::sched_getaffinity(0, sizeof original_cpus_, &original_cpus_) == 0 && CPU_COUNT(&original_cpus_) > 1) {
    have_original_cpus_ = true;
    pin_cpu_ = ::sched_getcpu();
    others_runnable_ = others_runnable();
    crowded_ = others_runnable_ >= CPU_COUNT(&original_cpus_);
    if (pin_cpu_ >= 0 && CPU_ISSET(pin_cpu_, &original_cpus_) && !crowded_) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(pin_cpu_, &one);
      pinned_ = ::sched_setaffinity(0, sizeof one, &one) == 0;
    }
  }
  window_start_ = Clock::now();
  stopper_.start();
  Status started = start_child();
  if (!started) {
    if (pinned_) ::sched_setaffinity(0, sizeof original_cpus_, &original_cpus_);
    return started;
  }

  Status looped = loop();
  stopper_.join();
  if (pinned_ || have_original_cpus_) ::sched_setaffinity(0, sizeof original_cpus_, &original_cpus_);
  if (!looped) return looped;
  if (fatal_) return *fatal_;

  // Did the child fail before or at execve?
  if (auto st = child_.failure(opt_, launch_); !st) return st;
  if (opt_.record_syscalls) name_syscalls();
  if (std::uint64_t n = log_.stats.io_uring_refused; n > 0)
    log_.notes.push_back("io_uring_setup was refused with ENOSYS " + std::to_string(n) + (n == 1 ? " time" : " times") +
                         ": ptrace cannot see io_uring operations, so the program fell back to plain syscalls");
  return Ok{};
}

Status Tracer::loop() {
  for (;;) {
    if (opt_.cancelled && opt_.cancelled()) {
      kill_all_and_reap();
      return sys_error("trace", opt_.command.empty() ? "" : opt_.command[0], ECANCELED);
    }
    if (g_tick) {
      g_tick = 0;
      tick();
    }
    // The program is gone but its descendants are not: they get the signal instead.
    forward_pending([this](int sig) { signal_tree(sig); });
    int status = 0;
    pid_t tid = ::waitpid(-1, &status, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return Ok{};
      return sys_error("waitpid", "");
    }
    ++log_.stats.ptrace_stops;
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      handle_exit(tid, status);
    } else if (WIFSTOPPED(status)) {
      handle_stop(tid, status);
    }
  }
}

Thread& Tracer::thread(pid_t tid) {
  auto it = threads_.find(tid);
  if (it != threads_.end()) return it->second;
  handle_new_task(tid);
  return threads_[tid];
}

// A task we have not seen: a new thread or process, reported before or after its creator's
// PTRACE_EVENT_FORK/VFORK/CLONE (the order is not defined).
void Tracer::handle_new_task(pid_t tid) {
  pid_t tgid = tid, ppid = 0;
  std::string status_path = "/proc/" + std::to_string(tid) + "/status";
  if (FILE* f = std::fopen(status_path.c_str(), "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "Tgid:", 5) == 0) tgid = static_cast<pid_t>(std::atoi(line + 5));
      if (std::strncmp(line, "PPid:", 5) == 0) {
        ppid = static_cast<pid_t>(std::atoi(line + 5));
        break;  // after Tgid in every kernel's status
      }
    }
    std::fclose(f);
  }
  // Read here, not at the creator's fork event: the order of the two reports is not defined,
  // and the new task may run (and make syscalls) before its creator's event is seen.
  if (!opt_.record_syscalls_after.empty() && syscall_tgids_.contains(ppid)) syscall_tgids_.insert(tgid);
  threads_[tid] = new_thread(tgid);
  ++log_.thread_count;
  bool new_process = live_per_tgid_[tgid]++ == 0 && all_tgids_.insert(tgid).second;
  if (new_process) ++log_.process_count;
  // A task born while the program is being stopped was forked before its parent took the signal
  // (the kernel fails a fork once a fatal signal is pending) but missed the signal_tree() sweep:
  // it gets what the sweep sent, or after the last sweep it would run on with nothing to stop it.
  if (fatal_ || stopper_.phase() == Stopper::Phase::KillSent) {
    ::kill(tid, SIGKILL);
  } else if (stopper_.phase() == Stopper::Phase::TermSent && new_process) {
    ::kill(tid, SIGTERM);
  }
  update_affinity();
}

void Tracer::forget_thread(pid_t tid) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return;
  pid_t tgid = it->second.tgid;
  threads_.erase(it);
  if (auto lt = live_per_tgid_.find(tgid); lt != live_per_tgid_.end() && --lt->second <= 0) live_per_tgid_.erase(lt);
  update_affinity();
}

void Tracer::resume(pid_t tid, int sig) {
  auto it = threads_.find(tid);
  int req = it != threads_.end() && it->second.awaiting_exit ? PTRACE_SYSCALL : PTRACE_CONT;
  // ESRCH: killed meanwhile (SIGKILL needs no stop); its exit will be reported.
  ::ptrace(req, tid, nullptr, static_cast<long>(sig));
}

void Tracer::handle_exit(pid_t tid, int status) {
  if (auto it = threads_.find(tid); it != threads_.end()) {
    if (it->second.exec_index) finish_exec(tid, it->second, false);
  }
  forget_thread(tid);
  if (tid == root_pid_) {
    root_exited_ = true;
    g_forward_pid = 0;
    log_.exit.signaled = WIFSIGNALED(status);
    log_.exit.code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    log_.exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    log_.exit.core_dumped = WIFSIGNALED(status) && WCOREDUMP(status);
  }
}

void Tracer::handle_stop(pid_t tid, int status) {
  Thread& t = thread(tid);
  int sig = WSTOPSIG(status);
  int event = status >> 16;
  if (sig == (SIGTRAP | 0x80)) {
    ++log_.stats.exit_stops;
    handle_syscall_exit(tid, t);
    resume(tid);
    return;
  }
  switch (event) {
    case 0:
      // Signal-delivery-stop: hand the signal on.
      ++log_.stats.signal_stops;
      resume(tid, sig);
      return;
    case PTRACE_EVENT_SECCOMP:
      ++log_.stats.seccomp_stops;
      handle_seccomp(tid, t);
      resume(tid);
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      unsigned long child = 0;
      if (::ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child) == 0 && child != 0 &&
          !threads_.contains(static_cast<pid_t>(child)))
        handle_new_task(static_cast<pid_t>(child));
      resume(tid);
      return;
    }
    case PTRACE_EVENT_EXEC:
      handle_exec_event(tid);
      resume(tid);
      return;
    case PTRACE_EVENT_STOP:
      // With PTRACE_SEIZE a group-stop is a PTRACE_EVENT_STOP carrying the stop signal: LISTEN
      // keeps the tracee stopped but lets SIGCONT wake it. Anything else (a new task's initial
      // stop, the wake-up after SIGCONT) is resumed.
      if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
        ::ptrace(PTRACE_LISTEN, tid, nullptr, nullptr);
      } else {
        resume(tid);
      }
      return;
    default:
      resume(tid);
      return;
  }
}

void Tracer::handle_exec_event(pid_t tid) {
  unsigned long former = 0;
  ::ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &former);
  pid_t old_tid = static_cast<pid_t>(former);
  if (old_tid != 0 && old_tid != tid) {
    // A non-leader thread exec'd: it now has the leader's tid and the old leader is gone without
    // an exit report (ptrace(2), "execve(2) under ptrace").
    auto it = threads_.find(old_tid);
    if (it != threads_.end()) {
      Thread moved = std::move(it->second);
      forget_thread(old_tid);
      Thread& leader = thread(tid);
      leader.exec_index = moved.exec_index;
      leader.exec_syscall = moved.exec_syscall;
      leader.awaiting_exit = false;
      leader.pending.clear();
    }
  }
  Thread& t = thread(tid);
  t.cwd_gen = 0;
  t.creds = Thread::Creds::Unknown;
  if (t.exec_index) finish_exec(tid, t, true);
}

void Tracer::finish_exec(pid_t tid, Thread& t, bool succeeded) {
  std::size_t idx = *t.exec_index;
  t.exec_index.reset();
  recorder_.finish_exec(tid, t.tgid, idx, t.exec_syscall, succeeded, ENOENT, launch_);
}

// Names that mean the caller itself must be checked as the tracee, not as the tracer:
// /proc/self/fd/3 is the tracee's fd 3. Returns the path to check.
std::string as_tracee(const std::string& path, pid_t tid, pid_t tgid) {
  struct Alias {
    std::string_view prefix;
    int kind;  // 0: /proc/TGID, 1: /proc/TGID/task/TID, 2: /proc/TID/fd, 3..5: fd 0..2
  };
  static constexpr Alias kAliases[] = {{"/proc/self", 0}, {"/proc/thread-self", 1}, {"/dev/fd", 2},
                                       {"/dev/stdin", 3}, {"/dev/stdout", 4},       {"/dev/stderr", 5}};
  for (const Alias& a : kAliases) {
    if (path.compare(0, a.prefix.size(), a.prefix) != 0) continue;
    if (path.size() > a.prefix.size() && path[a.prefix.size()] != '/') continue;
    std::string rest = path.substr(a.prefix.size());
    std::string proc = "/proc/" + std::to_string(a.kind == 0 ? tgid : tid);
    switch (a.kind) {
      case 0: return proc + rest;
      case 1: return "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid) + rest;
      case 2: return proc + "/fd" + rest;
      default: return proc + "/fd/" + std::to_string(a.kind - 3) + rest;
    }
  }
  return path;
}

bool Tracer::check_lookup(pid_t tid, const Thread& t, const std::string& named, Lookup lookup) {
  bool nofollow = lookup == Lookup::NoFollow || lookup == Lookup::NoFollowNotLink || lookup == Lookup::Symlink;
  std::string path = as_tracee(named, tid, t.tgid);
  struct stat st {};
  if (launch_.root == "/") {
    if (::fstatat(AT_FDCWD, path.c_str(), &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) != 0) return false;
  } else {
    UniqueFd fd = open_in_root(launch_, path, O_PATH | (nofollow ? O_NOFOLLOW : 0));
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) return false;
  }
  switch (lookup) {
    case Lookup::Follow:
    case Lookup::NoFollow: return true;
    case Lookup::NoFollowNotLink: return !S_ISLNK(st.st_mode);
    case Lookup::Directory: return S_ISDIR(st.st_mode);
    case Lookup::Symlink: return S_ISLNK(st.st_mode);
    case Lookup::Regular: return S_ISREG(st.st_mode);
  }
  return false;
}

// Does the thread access files as the tracer does: the same fsuid, fsgid, groups and capabilities?
bool Tracer::same_creds(pid_t tid, Thread& t) {
  if (t.creds == Thread::Creds::Unknown) {
    if (tracer_creds_.empty()) tracer_creds_ = file_creds("/proc/thread-self/status");
    std::string mine = file_creds("/proc/" + std::to_string(tid) + "/status");
    t.creds = !mine.empty() && mine == tracer_creds_ ? Thread::Creds::Same : Thread::Creds::Other;
  }
  return t.creds == Thread::Creds::Same;
}

const std::string* Tracer::cwd_of(pid_t tid, Thread& t) {
  if (t.cwd_gen != cwd_gen_) {
    auto link = read_link("/proc/" + std::to_string(tid) + "/cwd");
    if (!link) return nullptr;
    auto inside = inside_root(launch_.root, *link);
    if (!inside) return nullptr;
    t.cwd = std::move(*inside);
    t.cwd_gen = cwd_gen_;
  }
  return &t.cwd;
}

std::optional<std::string> Tracer::fd_path(pid_t tid, long fd, std::string& note) {
  auto link = read_link("/proc/" + std::to_string(tid) + "/fd/" + std::to_string(static_cast<int>(fd)));
  if (!link) {
    note = "fd " + std::to_string(static_cast<int>(fd)) + ": " + errno_text(link.error().err);
    return std::nullopt;
  }
  if (link->empty() || (*link)[0] != '/') {
    note = "fd " + std::to_string(static_cast<int>(fd)) + " is not a path: " + *link;
    return std::nullopt;
  }
  auto inside = inside_root(launch_.root, *link);
  if (!inside) note = "fd " + std::to_string(static_cast<int>(fd)) + " is outside the root: " + *link;
  return inside;
}

std::optional<std::string> Tracer::resolve_at(pid_t tid, Thread& t, long dirfd, const std::string& path, bool follow,
                                              std::string& note) {
  if (!path.empty() && path[0] == '/') return through_proc(tid, t, clean_absolute(path), follow);
  if (static_cast<int>(dirfd) == kFdCwd) {
    const std::string* cwd = cwd_of(tid, t);
    if (!cwd) {
      note = "cannot read the cwd of " + std::to_string(tid);
      return std::nullopt;
    }
    return through_proc(tid, t, join_under(*cwd, path), follow);
  }
  auto dir = fd_path(tid, dirfd, note);
  if (!dir) return std::nullopt;
  return through_proc(tid, t, join_under(*dir, path), follow);
}

// /proc/self/fd/3/name and the like name a file through the tracee's own tables: record the file
// they reach now, at the call (the fd may be closed or reused by the time anything reads the
// trace), not a /proc path the packer could never ship. /proc/PID is followed only for a traced
// process seen from the tracer's own pid namespace: a number means another process elsewhere.
// The link itself, as the last component of a lookup that does not follow it, is left as named.
std::string Tracer::through_proc(pid_t tid, const Thread& t, std::string path, bool follow) {
  if (!launch_.proc_visible || (!path.starts_with("/proc/") && !path.starts_with("/dev/"))) return path;
  auto ind = proc_indirection(path, t.tgid, tid);
  if (!ind || (!follow && ind->rest.empty())) return path;
  if (ind->by_pid != 0) {
    if (!threads_.contains(ind->by_pid) && !live_per_tgid_.contains(ind->by_pid)) return path;
    struct stat mine {}, theirs {};
    if (::stat("/proc/self/ns/pid", &mine) != 0 ||
        ::stat(("/proc/" + std::to_string(tid) + "/ns/pid").c_str(), &theirs) != 0 || mine.st_ino != theirs.st_ino)
      return path;
  }
  auto real = resolve_proc_indirection(launch_.root, *ind);
  return real ? std::move(*real) : path;
}

// The arguments of a syscall a thread is stopped in, read from its memory and /proc.
class TraceeArgs final : public ArgSource {
 public:
  TraceeArgs(Tracer& tracer, pid_t tid, Thread& t, const ptrace_syscall_info& info)
      : tracer_(tracer), tid_(tid), t_(t), args_(info.seccomp.args) {}

  std::optional<std::string> path(int di, int pi, bool empty_means_fd, bool follow, std::string& note) override {
    long dirfd = di >= 0 ? static_cast<long>(args_[di]) : kFdCwd;
    if (pi < 0) return tracer_.fd_path(tid_, dirfd, note);
    if (args_[pi] == 0) {
      note = "null path";
      return std::nullopt;
    }
    auto s = read_string(tid_, args_[pi]);
    if (!s) {
      note = "read path: " + errno_text(s.error().err);
      return std::nullopt;
    }
    if (s->empty()) {
      if (empty_means_fd && static_cast<int>(dirfd) != kFdCwd) return tracer_.fd_path(tid_, dirfd, note);
      note = "empty path";
      return std::nullopt;
    }
    return tracer_.resolve_at(tid_, t_, dirfd, *s, follow, note);
  }

  std::optional<std::uint64_t> open_how_flags() override {
    open_how how{};
    if (args_[3] < sizeof(std::uint64_t) || !read_bytes(tid_, args_[2], &how, sizeof how.flags)) return std::nullopt;
    return how.flags;
  }

  std::optional<std::string> socket_path(std::string& note) override {
    sockaddr_un sa{};
    std::size_t len = std::min<std::size_t>(static_cast<std::size_t>(args_[2]), sizeof sa);
    if (len <= offsetof(sockaddr_un, sun_path) || !read_bytes(tid_, args_[1], &sa, len)) return std::nullopt;
    if (sa.sun_family != AF_UNIX || sa.sun_path[0] == 0) return std::nullopt;
    std::string p(sa.sun_path, strnlen(sa.sun_path, len - offsetof(sockaddr_un, sun_path)));
    return tracer_.resolve_at(tid_, t_, kFdCwd, p, true, note);
  }

  std::vector<std::string> argv(int arg) override {
    auto av = read_string_array(tid_, args_[arg], kMaxArgv);
    return av ? std::move(*av) : std::vector<std::string>{};
  }

  int sockaddr_family() override {
    sa_family_t family = 0;
    if (args_[2] < sizeof family || !read_bytes(tid_, args_[1], &family, sizeof family)) return 0;
    return family;
  }

 private:
  Tracer& tracer_;
  pid_t tid_;
  Thread& t_;
  const decltype(ptrace_syscall_info{}.seccomp.args)& args_;
};

void Tracer::handle_seccomp(pid_t tid, Thread& t) {
  ptrace_syscall_info info{};
  long n = ::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
  if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP) return;
  if (opt_.record_syscalls && info.arch == kNativeAuditArch && info.seccomp.nr < 4096 &&
      (opt_.record_syscalls_after.empty() || syscall_tgids_.contains(t.tgid))) {
    auto nr = static_cast<std::size_t>(info.seccomp.nr);
    if (syscalls_seen_.size() <= nr) syscalls_seen_.resize(nr + 1);
    syscalls_seen_[nr] = true;
  }
  // A thread whose execve didn't produce PTRACE_EVENT_EXEC is making another syscall: it failed.
  if (t.exec_index) finish_exec(tid, t, false);
  std::uint32_t data = info.seccomp.ret_data;
  if (data == kBadArchData || info.arch != kNativeAuditArch) {
    if (!fatal_) {
      auto link = read_link("/proc/" + std::to_string(tid) + "/exe");
      std::string exe = link ? *link : std::string();
      fatal_ = bad_input("trace", exe,
                         info.arch == AUDIT_ARCH_I386 || info.arch == AUDIT_ARCH_ARM
                             ? "32-bit programs are not supported (a syscall used the 32-bit ABI); "
                               "the traced program was stopped"
                             : "a syscall used a foreign ABI (x32?) that cannot be traced; "
                               "the traced program was stopped");
      signal_tree(SIGKILL);
    }
    ::kill(tid, SIGKILL);
    return;
  }
  if (data == kRecordData) return;
  if (data == kCredsData) {
    t.creds = Thread::Creds::Unknown;  // changed by the time the thread next stops
    return;
  }
  if (data == kIoUringData) {
    ++log_.stats.io_uring_refused;
    if (!refuse_syscall(tid)) {
      // Leaving it running would lose its io_uring opens without a word: fail the trace instead.
      if (!fatal_) fatal_ = sys_error("refuse io_uring_setup of", std::to_string(tid));
      signal_tree(SIGKILL);
      return;
    }
    recorder_.note(tid, t.tgid, "io_uring_setup", "refused with ENOSYS: io_uring operations are invisible to ptrace");
    return;
  }
  if (data == 0 || data > rows_.size()) return;
  const SyscallRow& row = rows_[data - 1];
  std::array<std::uint64_t, 6> args;
  std::copy(std::begin(info.seccomp.args), std::end(info.seccomp.args), args.begin());
  TraceeArgs source(*this, tid, t, info);
  Described d = describe(row, args, source);
  if (!opt_.record_syscalls_after.empty())
    for (const Access& a : d.accesses)
      if (a.path == opt_.record_syscalls_after) syscall_tgids_.insert(t.tgid);
  if (!d.note.empty()) recorder_.note(tid, t.tgid, row.name, std::move(d.note));
  if (d.exec) {
    // Recorded when PTRACE_EVENT_EXEC (or the thread's next stop) settles it.
    t.exec_index = recorder_.begin_exec(t.tgid, std::move(*d.exec));
    t.exec_syscall = row.name;
    return;
  }
  if (d.chdir) t.pending_chdir = true;
  t.pending_socket = d.socket;
  if (d.needs_exit || opt_.exact_results || !same_creds(tid, t)) {
    t.awaiting_exit = true;
    t.pending_syscall = row.name;
    t.pending = std::move(d.accesses);
    return;
  }
  for (const Access& a : d.accesses) record(tid, t, row.name, a, check_lookup(tid, t, a.path, a.lookup), false, 0);
}

// Makes the syscall a stopped thread is entering fail with ENOSYS without running it: at a
// seccomp stop the tracer may change the syscall number (seccomp(2), SECCOMP_RET_TRACE), and one
// past the end of the table is the kernel's own "no such syscall". The filter runs again on the
// new number and lets it through.
bool Tracer::refuse_syscall(pid_t tid) {
  constexpr long kNoSuchSyscall = 0xfffff;
#if defined(__x86_64__)
  return ::ptrace(PTRACE_POKEUSR, tid, offsetof(struct user_regs_struct, orig_rax), kNoSuchSyscall) == 0;
#elif defined(__aarch64__)
  int nr = static_cast<int>(kNoSuchSyscall);
  iovec iov{&nr, sizeof nr};
  return ::ptrace(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, &iov) == 0;
#endif
}

void Tracer::handle_syscall_exit(pid_t tid, Thread& t) {
  if (!t.awaiting_exit) return;
  t.awaiting_exit = false;
  ptrace_syscall_info info{};
  long n = ::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
  std::vector<Access> pending = std::move(t.pending);
  t.pending.clear();
  std::optional<SocketCall> socket = std::exchange(t.pending_socket, std::nullopt);
  if (t.pending_chdir) {
    t.pending_chdir = false;
    ++cwd_gen_;  // every thread sharing this cwd re-reads it
  }
  if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_EXIT) return;
  int err = info.exit.is_error ? static_cast<int>(-info.exit.rval) : 0;
  // -ERESTARTSYS and friends: interrupted by a signal and restarted, which stops again.
  if (err >= 512 && err <= 516) return;
  for (const Access& a : pending) record(tid, t, t.pending_syscall, a, err == 0, true, err);
  if (socket && err == 0) {
    if (auto state = socket_state(t.tgid, socket->fd)) recorder_.socket(*socket, *state);
  }
}

void Tracer::name_syscalls() { name_recorded_syscalls(syscalls_seen_, log_.syscalls, log_.syscall_arch); }

void Tracer::tick() {
  update_affinity();
  stopper_.tick([this](int sig) { signal_tree(sig); });
}

void Tracer::signal_tree(int sig) {
  for (const auto& [tgid, count] : live_per_tgid_) ::kill(tgid, sig);
  if (!root_exited_ && root_pid_ > 0) ::kill(root_pid_, sig);
}

// Never leave a tracee behind: on every way out of run_trace, kill what is left and reap it.
void Tracer::kill_all_and_reap() {
  if (root_pid_ == 0) return;
  signal_tree(SIGKILL);
  for (;;) {
    int st;
    pid_t tid = ::waitpid(-1, &st, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (WIFSTOPPED(st)) ::kill(tid, SIGKILL);  // a task we had not seen yet
  }
  threads_.clear();
  live_per_tgid_.clear();
  root_pid_ = 0;
}

// Pinned or not (see the file comment). Called when the thread count changes and on every tick.
void Tracer::update_affinity() {
  if (!have_original_cpus_ || pin_cpu_ < 0) return;
  auto now = Clock::now();
  bool want = pinned_;
  if (now - window_start_ >= kTick) {
    double secs = std::chrono::duration<double>(now - window_start_).count();
    double rate = static_cast<double>(log_.stats.ptrace_stops - window_stops_) / secs;
    // One thread loses no parallelism by sharing the tracer's CPU, so it pins at a lower rate;
    // without stops it is left free to move away from other load. Hysteresis, so a
    // borderline rate doesn't flip the pin every tick.
    double pin_at = threads_.size() <= 1 ? kPinStopsPerSecond / 10 : kPinStopsPerSecond;
    if (rate >= pin_at) want = true;
    if (rate < pin_at / 4) want = false;
    // On a machine busy with other work, a pinned tracer waits for its CPU behind that work
    // while another CPU may be free: measured slower than not pinning, so don't.
    int cpus = CPU_COUNT(&original_cpus_);
    others_runnable_ = 0.5 * others_runnable_ + 0.5 * others_runnable();
    if (others_runnable_ >= cpus + 0.5) crowded_ = true;
    if (others_runnable_ < cpus - 0.5) crowded_ = false;
    if (crowded_) want = false;
  }
  if (now - window_start_ >= kTick) {
    window_start_ = now;
    window_stops_ = log_.stats.ptrace_stops;
  }
  if (want == pinned_) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(pin_cpu_, &one);
  const cpu_set_t& mask = want ? one : original_cpus_;
  ::sched_setaffinity(0, sizeof mask, &mask);
  for (const auto& [tid, t] : threads_) ::sched_setaffinity(tid, sizeof mask, &mask);
  pinned_ = want;
}

}  // namespace

Result<TraceLog> run_ptrace(const TraceOptions& options) {
  TraceLog log;
  Status st = Ok{};
  {
    Tracer t(options, log);
    st = t.run();
  }  // ~Tracer kills and reaps anything left
  if (!st) return st.error();
  return log;
}

}  // namespace tracer
LibraryVersion libseccomp_version() {
  LibraryVersion v{"libseccomp", std::to_string(SCMP_VER_MAJOR) + "." + std::to_string(SCMP_VER_MINOR) + "." +
                                     std::to_string(SCMP_VER_MICRO), {}, {}};
  if (const scmp_version* r = seccomp_version(); r != nullptr)
    v.running = std::to_string(r->major) + "." + std::to_string(r->minor) + "." + std::to_string(r->micro);
  return v;
}

}  // namespace minify
