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

#include "minify/trace.hpp"
#include "probe.hpp"
#include "syscalls.hpp"
#include "tracee_io.hpp"

extern char** environ;

namespace minify {
namespace tracer {
namespace {

using Clock = std::chrono::steady_clock;

// SECCOMP_RET_DATA values: row index + 1 for table rows, this for a syscall from another ABI.
constexpr std::uint32_t kBadArchData = 0xffff;
// SECCOMP_RET_DATA of the calls that change a thread's credentials (setuid() and friends).
constexpr std::uint32_t kCredsData = 0xfffe;
// SECCOMP_RET_DATA of io_uring_setup, which the tracer refuses (see refuse_syscall()).
constexpr std::uint32_t kIoUringData = 0xfffd;
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
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// ---- The seccomp filter ------------------------------------------------------------------

// Builds the filter in the parent and exports it as BPF, so the forked child only has to load it
// with async-signal-safe calls. `tracer` lists the tracer's own pid and tid: see below.
Result<std::vector<sock_filter>> build_filter(std::span<const SyscallRow> rows, std::span<const pid_t> tracer) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
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

// ---- Signals: forwarding and the tick --------------------------------------------------------

// Signal handlers can only reach globals. These are set for the duration of one run_trace().
std::atomic<pid_t> g_forward_pid{0};
volatile sig_atomic_t g_forwarded = 0;  // bit per forwarded signal not yet sent to the whole tree
volatile sig_atomic_t g_tick = 0;

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP};

void on_forwarded_signal(int sig, siginfo_t* info, void*) {
  // A signal the kernel sent to the whole foreground process group (^C, terminal hangup) already
  // reached the tracees; forward only what a process sent to minify itself.
  if (info != nullptr && info->si_code == SI_KERNEL) return;
  pid_t pid = g_forward_pid.load();
  if (pid > 0) {
    ::kill(pid, sig);
  } else {
    g_forwarded = g_forwarded | (1 << sig);  // the program is gone: the loop signals what is left
  }
}

void on_tick(int, siginfo_t*, void*) { g_tick = 1; }

// Installs the handlers for one run and restores the previous ones.
class SignalScope {
 public:
  SignalScope(bool forward, bool tick) {
    g_forwarded = 0;
    g_tick = 0;
    if (forward)
      for (int sig : kForwardedSignals) install(sig, on_forwarded_signal);
    if (tick) install(SIGALRM, on_tick);
  }
  ~SignalScope() {
    for (auto& [sig, old] : saved_) ::sigaction(sig, &old, nullptr);
    g_forward_pid = 0;
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  void install(int sig, void (*fn)(int, siginfo_t*, void*)) {
    struct sigaction sa {};
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: waitpid() returns EINTR so the loop can act
    sigemptyset(&sa.sa_mask);
    struct sigaction old {};
    if (::sigaction(sig, &sa, &old) == 0) saved_.push_back({sig, old});
  }
  std::vector<std::pair<int, struct sigaction>> saved_;
};

// A periodic SIGALRM aimed at this thread (SIGEV_THREAD_ID) every kTick, so a blocked waitpid()
// wakes up to check --timeout, --probe and the CPU pinning even when no tracee stops.
class TickTimer {
 public:
  TickTimer() {
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGALRM;
    sev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (::timer_create(CLOCK_MONOTONIC, &sev, &timer_) != 0) return;
    armed_ = true;
    itimerspec its{};
    its.it_interval.tv_nsec = std::chrono::nanoseconds(kTick).count();
    its.it_value.tv_nsec = std::chrono::nanoseconds(kTick).count();
    ::timer_settime(timer_, 0, &its, nullptr);
  }
  ~TickTimer() {
    if (armed_) ::timer_delete(timer_);
  }
  TickTimer(const TickTimer&) = delete;
  TickTimer& operator=(const TickTimer&) = delete;

 private:
  timer_t timer_{};
  bool armed_ = false;
};

// ---- Per-thread state ----------------------------------------------------------------------

// How the tracer decides, without the exit stop, whether a lookup succeeded.
enum class Lookup : std::uint8_t {
  Follow,          // the path resolves (stat, access, open for reading)
  NoFollow,        // the path itself exists (lstat, AT_SYMLINK_NOFOLLOW)
  NoFollowNotLink, // exists and is not a symlink (open O_NOFOLLOW fails with ELOOP on a link)
  Directory,       // resolves to a directory (chdir, O_DIRECTORY)
  Symlink,         // is a symlink (readlink)
  Regular,         // resolves to a regular file (exec)
};

struct Access {
  std::string path;
  AccessSet kinds;
  Lookup lookup = Lookup::Follow;
};

struct Thread {
  pid_t tgid = 0;
  bool awaiting_exit = false;
  std::string_view pending_syscall;
  std::vector<Access> pending;  // completed at the syscall-exit stop
  bool pending_chdir = false;
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

Thread new_thread(pid_t tgid) {
  Thread t;
  t.tgid = tgid;
  return t;
}

std::string errno_text(int err) { return std::strerror(err); }

// ---- The tracer ----------------------------------------------------------------------------

class Tracer {
 public:
  Tracer(const TraceOptions& opt, TraceLog& log) : opt_(opt), log_(log), rows_(native_syscalls()) {}
  ~Tracer() {
    probe_cancel_ = true;
    if (prober_.joinable()) prober_.join();
    kill_all_and_reap();
  }

  Status run();

 private:
  Status prepare();
  Result<std::string> find_program(const std::string& name) const;
  Status start_child(const std::vector<sock_filter>& filter);
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

  std::vector<Access> describe(pid_t tid, Thread& t, const SyscallRow& row, const ptrace_syscall_info& info,
                               bool& needs_exit, std::string& note);
  std::optional<std::string> resolve_at(pid_t tid, Thread& t, long dirfd, const std::string& path,
                                        std::string& note);
  std::optional<std::string> fd_path(pid_t tid, long fd, std::string& note);
  std::string through_proc(pid_t tid, const Thread& t, std::string path);
  const std::string* cwd_of(pid_t tid, Thread& t);
  bool check_lookup(pid_t tid, const Thread& t, const std::string& path, Lookup lookup);
  bool same_creds(pid_t tid, Thread& t);
  void record(pid_t tid, const Thread& t, std::string_view syscall, const Access& a, bool ok, bool known, int err);
  void record_note(pid_t tid, const Thread& t, std::string_view syscall, std::string note);
  void finish_exec(pid_t tid, Thread& t, bool succeeded);
  std::vector<std::string> interpreters_of(const std::string& path);
  UniqueFd open_in_root(const std::string& path, int flags);

  void tick();
  void signal_tree(int sig);
  void begin_stop(StopReason why);
  void kill_all_and_reap();
  void update_affinity();

  const TraceOptions& opt_;
  TraceLog& log_;
  std::span<const SyscallRow> rows_;
  std::string root_ = "/";  // canonical, no trailing slash
  UniqueFd root_fd_;
  bool proc_visible_ = true;  // the tracee's /proc is a procfs (no root, or the root mounts one)
  std::string program_;    // argv[0] resolved, as seen inside the root
  std::vector<sock_filter> filter_;

  pid_t root_pid_ = 0;
  bool root_exited_ = false;
  UniqueFd exec_err_fd_;  // the child reports a failed setup or execve here
  std::unordered_map<pid_t, Thread> threads_;
  std::unordered_map<pid_t, int> live_per_tgid_;
  std::unordered_set<pid_t> all_tgids_;
  std::uint64_t cwd_gen_ = 1;
  std::optional<Error> fatal_;
  std::string tracer_creds_;  // see same_creds()

  // Stopping the program (--timeout, --probe).
  Clock::time_point started_;
  enum class Phase : std::uint8_t { Running, TermSent, KillSent } phase_ = Phase::Running;
  Clock::time_point kill_at_;
  std::atomic<bool> probe_done_{false};
  std::atomic<bool> probe_cancel_{false};
  std::thread prober_;

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
  if (opt_.command.empty() || opt_.command[0].empty())
    return bad_input("trace", "", "no command given");
  if (!opt_.root.empty()) {
    char buf[PATH_MAX];
    if (::realpath(opt_.root.c_str(), buf) == nullptr) return sys_error("resolve root", opt_.root);
    root_ = buf;
    struct stat st {};
    if (::stat(root_.c_str(), &st) != 0) return sys_error("stat", root_);
    if (!S_ISDIR(st.st_mode)) return sys_error("use as root", opt_.root, ENOTDIR);
    root_fd_ = UniqueFd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root_fd_.get() < 0) return sys_error("open", root_);
    struct statfs fs {};
    proc_visible_ = ::statfs((root_ + "/proc").c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
  }
  log_.root = root_;
  log_.command = opt_.command;
  log_.tracer = "ptrace";
  auto prog = find_program(opt_.command[0]);
  if (!prog) return prog.error();
  program_ = *prog;
  for (const auto& url : opt_.probe_urls)
    if (auto u = parse_http_url(url); !u) return u.error();
  const pid_t self[] = {::getpid(), static_cast<pid_t>(::syscall(SYS_gettid))};
  auto filter = build_filter(rows_, self);
  if (!filter) return filter.error();
  filter_ = std::move(*filter);
  return Ok{};
}

// execvp's PATH search, done in the parent (inside the root) so the child only calls execve.
Result<std::string> Tracer::find_program(const std::string& name) const {
  auto usable = [&](const std::string& inside) {
    std::string host = root_ == "/" ? inside : root_ + inside;
    struct stat st {};
    return ::stat(host.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(host.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    // Relative to our cwd without a root, to the root's "/" with one (the child chdirs there).
    std::string inside = name;
    if (name[0] != '/') {
      if (root_ == "/") {
        char cwd[PATH_MAX];
        if (::getcwd(cwd, sizeof cwd) == nullptr) return sys_error("getcwd", "");
        inside = join_under(cwd, name);
      } else {
        inside = join_under("/", name);
      }
    }
    std::string host = root_ == "/" ? inside : root_ + inside;
    if (::access(host.c_str(), F_OK) != 0) return sys_error("exec", name);
    if (!usable(inside)) return sys_error("exec", name, EACCES);
    return name;  // execve resolves it exactly as the user named it
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env && *path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    i = j + 1;
    if (dir.empty()) dir = ".";
    std::string cand = (dir.back() == '/' ? dir : dir + "/") + name;
    if (cand[0] != '/' && root_ != "/") cand = "/" + cand;
    if (usable(cand[0] == '/' ? cand : join_under(".", cand))) return cand;
  }
  return Error{ENOENT, "exec", name, "not found in PATH"};
}

struct ChildReport {
  int stage;  // 0 chroot, 1 chdir, 2 seccomp, 3 execve
  int err;
};

Status Tracer::start_child(const std::vector<sock_filter>& filter) {
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> args = opt_.command;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  sock_fprog prog{static_cast<unsigned short>(filter.size()), const_cast<sock_filter*>(filter.data())};
  std::string root = root_;
  const char* program = program_.c_str();

  int sync[2], report[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return sys_error("pipe", "");
  if (::pipe2(report, O_CLOEXEC) != 0) {
    ::close(sync[0]);
    ::close(sync[1]);
    return sys_error("pipe", "");
  }
  // Forwarded signals must not run our handler in the child before exec.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int sig : kForwardedSignals) ::signal(sig, SIG_DFL);
    ::signal(SIGALRM, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::close(sync[1]);
    ::close(report[0]);
    auto fail = [&](int stage) {
      ChildReport r{stage, errno};
      [[maybe_unused]] ssize_t n = ::write(report[1], &r, sizeof r);
      ::_exit(127);
    };
    char c;
    // Wait until the parent has seized us: a SECCOMP_RET_TRACE with no tracer fails the syscall.
    if (::read(sync[0], &c, 1) != 1) ::_exit(127);
    if (root != "/") {
      if (::chroot(root.c_str()) != 0) fail(0);
      if (::chdir("/") != 0) fail(1);
    }
    // SPEC_ALLOW: this filter observes, it doesn't sandbox, so it must not switch on the
    // Speculative Store Bypass mitigation that kernels booted with spec_store_bypass_disable=
    // seccomp apply to every filtered task (a large slowdown for the whole program).
    unsigned flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    auto install = [&] {
      if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) == 0) return true;
      if (errno != EINVAL) return false;
      flags = 0;  // kernels before 4.17
      return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) == 0;
    };
    if (!install()) {
      // Without CAP_SYS_ADMIN a filter needs no_new_privs.
      if (errno != EACCES || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !install()) fail(2);
    }
    ::execve(program, argv.data(), environ);
    fail(3);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(sync[0]);
  ::close(report[1]);
  exec_err_fd_ = UniqueFd(report[0]);
  if (pid < 0) {
    ::close(sync[1]);
    return sys_error("fork", "", fork_errno);
  }
  root_pid_ = pid;
  if (::ptrace(PTRACE_SEIZE, pid, nullptr, kSeizeOptions) != 0) {
    int err = errno;
    ::close(sync[1]);  // the child sees EOF and exits
    int st;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    root_pid_ = 0;
    return sys_error("ptrace(PTRACE_SEIZE)", opt_.command[0], err);
  }
  threads_[pid] = new_thread(pid);
  live_per_tgid_[pid] = 1;
  all_tgids_.insert(pid);
  log_.process_count = 1;
  log_.thread_count = 1;
  g_forward_pid = pid;
  [[maybe_unused]] ssize_t n = ::write(sync[1], "x", 1);
  ::close(sync[1]);
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
  started_ = Clock::now();
  window_start_ = started_;
  Status started = start_child(filter_);
  if (!started) {
    if (pinned_) ::sched_setaffinity(0, sizeof original_cpus_, &original_cpus_);
    return started;
  }

  if (!opt_.probe_urls.empty()) {
    // The probe thread must not take the tracer's signals.
    sigset_t block, old;
    sigemptyset(&block);
    for (int sig : kForwardedSignals) sigaddset(&block, sig);
    sigaddset(&block, SIGALRM);
    ::pthread_sigmask(SIG_BLOCK, &block, &old);
    auto deadline = started_ + (opt_.timeout ? *opt_.timeout : std::chrono::milliseconds(60'000));
    prober_ = std::thread([this, deadline] {
      std::vector<ProbeResult> results;
      for (const auto& url : opt_.probe_urls) results.push_back(fetch_url(url, deadline, probe_cancel_));
      log_.probes = std::move(results);  // read by the tracer thread only after join()
      probe_done_ = true;
    });
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  Status looped = loop();
  probe_cancel_ = true;
  if (prober_.joinable()) prober_.join();
  if (pinned_ || have_original_cpus_) ::sched_setaffinity(0, sizeof original_cpus_, &original_cpus_);
  if (!looped) return looped;
  if (fatal_) return *fatal_;

  // Did the child fail before or at execve?
  ChildReport rep{};
  if (::read(exec_err_fd_.get(), &rep, sizeof rep) == static_cast<ssize_t>(sizeof rep)) {
    static constexpr const char* kStage[] = {"chroot", "chdir", "install seccomp filter for", "exec"};
    const char* what = rep.stage >= 0 && rep.stage < 4 ? kStage[rep.stage] : "start";
    return sys_error(what, rep.stage <= 1 ? root_ : opt_.command[0], rep.err);
  }
  if (std::uint64_t n = log_.stats.io_uring_refused; n > 0)
    log_.notes.push_back("io_uring_setup was refused with ENOSYS " + std::to_string(n) + (n == 1 ? " time" : " times") +
                         ": ptrace cannot see io_uring operations, so the program fell back to plain syscalls");
  return Ok{};
}

Status Tracer::loop() {
  for (;;) {
    if (g_tick) {
      g_tick = 0;
      tick();
    }
    if (g_forwarded) {
      // The program is gone but its descendants are not: they get the signal instead.
      int pending = g_forwarded;
      g_forwarded = 0;
      for (int sig : kForwardedSignals)
        if (pending & (1 << sig)) signal_tree(sig);
    }
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
  pid_t tgid = tid;
  std::string status_path = "/proc/" + std::to_string(tid) + "/status";
  if (FILE* f = std::fopen(status_path.c_str(), "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "Tgid:", 5) == 0) {
        tgid = static_cast<pid_t>(std::atoi(line + 5));
        break;
      }
    std::fclose(f);
  }
  threads_[tid] = new_thread(tgid);
  ++log_.thread_count;
  bool new_process = live_per_tgid_[tgid]++ == 0 && all_tgids_.insert(tgid).second;
  if (new_process) ++log_.process_count;
  // A task born while the program is being stopped was forked before its parent took the signal
  // (the kernel fails a fork once a fatal signal is pending) but missed the signal_tree() sweep:
  // it gets what the sweep sent, or after the last sweep it would run on with nothing to stop it.
  if (fatal_ || phase_ == Phase::KillSent) {
    ::kill(tid, SIGKILL);
  } else if (phase_ == Phase::TermSent && new_process) {
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
  if (idx >= log_.execs.size()) return;
  ExecRecord& e = log_.execs[idx];
  e.succeeded = succeeded;
  Access a{e.path, AccessSet{AccessKind::Exec}, Lookup::Regular};
  if (succeeded) e.interpreters = interpreters_of(e.path);
  record(tid, t, t.exec_syscall, a, succeeded, true, succeeded ? 0 : ENOENT);
  for (const auto& interp : log_.execs[idx].interpreters)
    record(tid, t, t.exec_syscall, Access{interp, AccessSet{AccessKind::Exec}, Lookup::Regular}, true, true, 0);
}

template <typename Ehdr, typename Phdr>
std::optional<std::string> read_pt_interp(int fd) {
  Ehdr eh;
  if (::pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) return std::nullopt;
  if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0 || eh.e_phnum > 512) return std::nullopt;
  std::vector<Phdr> phdrs(eh.e_phnum);
  auto size = static_cast<ssize_t>(phdrs.size() * sizeof(Phdr));
  if (::pread(fd, phdrs.data(), static_cast<std::size_t>(size), static_cast<off_t>(eh.e_phoff)) != size)
    return std::nullopt;
  for (const Phdr& ph : phdrs) {
    if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) continue;
    std::string interp(ph.p_filesz, '\0');
    if (::pread(fd, interp.data(), interp.size(), static_cast<off_t>(ph.p_offset)) != static_cast<ssize_t>(interp.size()))
      return std::nullopt;
    interp.resize(std::strlen(interp.c_str()));
    return interp;
  }
  return std::nullopt;
}

// The kernel itself runs a script's "#!" interpreter and maps a dynamic ELF program's PT_INTERP
// (ld.so): no syscall names them, so read them from the files.
std::vector<std::string> Tracer::interpreters_of(const std::string& path) {
  std::vector<std::string> out;
  std::string current = path;
  for (int depth = 0; depth < 5; ++depth) {  // binfmt_script allows a few levels of nesting
    UniqueFd fd = open_in_root(current, O_RDONLY);
    if (fd.get() < 0) break;
    char buf[256];
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    if (n < 4) break;
    buf[n] = 0;
    if (std::memcmp(buf, ELFMAG, SELFMAG) == 0) {
      std::optional<std::string> interp;
      if (buf[EI_CLASS] == ELFCLASS64) interp = read_pt_interp<Elf64_Ehdr, Elf64_Phdr>(fd.get());
      if (buf[EI_CLASS] == ELFCLASS32) interp = read_pt_interp<Elf32_Ehdr, Elf32_Phdr>(fd.get());
      if (interp && !interp->empty() && (*interp)[0] == '/') out.push_back(clean_absolute(*interp));
      break;
    }
    if (buf[0] != '#' || buf[1] != '!') break;
    std::string line(buf + 2, std::strcspn(buf + 2, "\n"));
    std::size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) break;
    std::size_t e = line.find_first_of(" \t", b);
    std::string interp = line.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (interp.empty() || interp[0] != '/') break;
    interp = clean_absolute(interp);
    out.push_back(interp);
    current = interp;
  }
  return out;
}

UniqueFd Tracer::open_in_root(const std::string& path, int flags) {
  if (root_ == "/") return UniqueFd(::open(path.c_str(), flags | O_CLOEXEC));
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root_fd_.get(), path.c_str(), &how, sizeof how)));
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
  if (root_ == "/") {
    if (::fstatat(AT_FDCWD, path.c_str(), &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) != 0) return false;
  } else {
    UniqueFd fd = open_in_root(path, O_PATH | (nofollow ? O_NOFOLLOW : 0));
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
    auto inside = inside_root(root_, *link);
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
  auto inside = inside_root(root_, *link);
  if (!inside) note = "fd " + std::to_string(static_cast<int>(fd)) + " is outside the root: " + *link;
  return inside;
}

std::optional<std::string> Tracer::resolve_at(pid_t tid, Thread& t, long dirfd, const std::string& path,
                                              std::string& note) {
  if (!path.empty() && path[0] == '/') return through_proc(tid, t, clean_absolute(path));
  if (static_cast<int>(dirfd) == kFdCwd) {
    const std::string* cwd = cwd_of(tid, t);
    if (!cwd) {
      note = "cannot read the cwd of " + std::to_string(tid);
      return std::nullopt;
    }
    return through_proc(tid, t, join_under(*cwd, path));
  }
  auto dir = fd_path(tid, dirfd, note);
  if (!dir) return std::nullopt;
  return through_proc(tid, t, join_under(*dir, path));
}

// /proc/self/fd/3/name and the like name a file through the tracee's own tables: record the file
// they reach now, at the call (the fd may be closed or reused by the time anything reads the
// trace), not a /proc path the packer could never ship. /proc/PID is followed only for a traced
// process seen from the tracer's own pid namespace: a number means another process elsewhere.
std::string Tracer::through_proc(pid_t tid, const Thread& t, std::string path) {
  if (!proc_visible_ || (!path.starts_with("/proc/") && !path.starts_with("/dev/"))) return path;
  auto ind = proc_indirection(path, t.tgid, tid);
  if (!ind) return path;
  if (ind->by_pid != 0) {
    if (!threads_.contains(ind->by_pid) && !live_per_tgid_.contains(ind->by_pid)) return path;
    struct stat mine {}, theirs {};
    if (::stat("/proc/self/ns/pid", &mine) != 0 ||
        ::stat(("/proc/" + std::to_string(tid) + "/ns/pid").c_str(), &theirs) != 0 || mine.st_ino != theirs.st_ino)
      return path;
  }
  auto real = resolve_proc_indirection(root_, *ind);
  return real ? std::move(*real) : path;
}

// Turns one syscall's arguments into the path accesses it makes.
std::vector<Access> Tracer::describe(pid_t tid, Thread& t, const SyscallRow& row, const ptrace_syscall_info& info,
                                     bool& needs_exit, std::string& note) {
  const auto& args = info.seccomp.args;
  OpLayout lay = op_layout(row.op);
  std::vector<Access> out;
  auto arg = [&](int i) { return static_cast<long>(args[i]); };
  std::uint64_t flags = lay.flags >= 0 ? args[lay.flags] : 0;

  // Reads path argument `pi` relative to dirfd argument `di` (-1: AT_FDCWD). An empty path with
  // AT_EMPTY_PATH (or for fd-only calls, pi == -1) names dirfd itself.
  auto path_arg = [&](int di, int pi, bool empty_means_fd) -> std::optional<std::string> {
    long dirfd = di >= 0 ? arg(di) : kFdCwd;
    if (pi < 0) return fd_path(tid, dirfd, note);
    if (args[pi] == 0) {
      note = "null path";
      return std::nullopt;
    }
    auto s = read_string(tid, args[pi]);
    if (!s) {
      note = "read path: " + errno_text(s.error().err);
      return std::nullopt;
    }
    if (s->empty()) {
      if (empty_means_fd && static_cast<int>(dirfd) != kFdCwd) return fd_path(tid, dirfd, note);
      note = "empty path";
      return std::nullopt;
    }
    return resolve_at(tid, t, dirfd, *s, note);
  };
  auto add = [&](std::optional<std::string> p, AccessSet kinds, Lookup lookup) {
    if (p) out.push_back(Access{std::move(*p), kinds, lookup});
  };
  auto open_kinds = [&](std::uint64_t oflags, AccessSet& kinds, Lookup& lookup) {
    int acc = static_cast<int>(oflags & O_ACCMODE);
    lookup = Lookup::Follow;
    if (oflags & O_PATH) {
      kinds.add(AccessKind::Stat);
    } else if (oflags & O_DIRECTORY) {
      kinds.add(AccessKind::List);
      lookup = Lookup::Directory;
    } else if (acc == O_RDONLY) {
      kinds.add(AccessKind::Read);
    }
    if (!(oflags & O_PATH) && (acc == O_WRONLY || acc == O_RDWR)) {
      if (acc == O_RDWR) kinds.add(AccessKind::Read);
      kinds.add(AccessKind::Write);
      needs_exit = true;
    }
    if ((oflags & O_CREAT) || (oflags & __O_TMPFILE) == __O_TMPFILE) {
      kinds.add(AccessKind::Create);
      needs_exit = true;
    }
    if ((oflags & O_NOFOLLOW) && !(oflags & O_PATH) && lookup == Lookup::Follow) lookup = Lookup::NoFollowNotLink;
  };

  switch (row.op) {
    case Op::Open:
    case Op::OpenAt:
    case Op::OpenAt2: {
      if (row.op == Op::OpenAt2) {
        open_how how{};
        if (args[3] < sizeof(std::uint64_t) || !read_bytes(tid, args[2], &how, sizeof how.flags)) {
          note = "unreadable struct open_how";
          return out;
        }
        flags = how.flags;
      }
      AccessSet kinds;
      Lookup lookup;
      open_kinds(flags, kinds, lookup);
      add(path_arg(lay.dirfd, lay.path, false), kinds, lookup);
      break;
    }
    case Op::Creat:
      needs_exit = true;
      add(path_arg(-1, 0, false), {AccessKind::Create, AccessKind::Write}, Lookup::Follow);
      break;
    case Op::Execve:
    case Op::Execveat: {
      bool empty_fd = row.op == Op::Execveat && (flags & AT_EMPTY_PATH);
      auto p = path_arg(lay.dirfd, lay.path, empty_fd);
      if (!p) break;
      ExecRecord e;
      e.pid = t.tgid;
      e.path = *p;
      int argv_arg = row.op == Op::Execve ? 1 : 2;
      if (auto av = read_string_array(tid, args[argv_arg], kMaxArgv)) e.argv = std::move(*av);
      if (t.exec_index) finish_exec(tid, t, false);
      log_.execs.push_back(std::move(e));
      t.exec_index = log_.execs.size() - 1;
      t.exec_syscall = row.name;
      // Recorded when PTRACE_EVENT_EXEC (or the thread's next stop) settles it.
      log_.paths[*p].access.add(AccessKind::Exec);
      break;
    }
    case Op::Stat:
    case Op::Access:
    case Op::FaccessAt:
    case Op::GetXattr:
    case Op::Watch:
      add(path_arg(lay.dirfd, lay.path, false), {row.op == Op::Watch ? AccessKind::Watch : AccessKind::Stat},
          Lookup::Follow);
      break;
    case Op::Lstat:
    case Op::LGetXattr:
      add(path_arg(-1, 0, false), {AccessKind::Stat}, Lookup::NoFollow);
      break;
    case Op::ListXattr:
      add(path_arg(-1, 0, false), {AccessKind::Stat}, Lookup::Follow);
      break;
    case Op::LListXattr:
      add(path_arg(-1, 0, false), {AccessKind::Stat}, Lookup::NoFollow);
      break;
    case Op::FstatAt:
    case Op::Statx:
    case Op::FaccessAt2: {
      bool nofollow = flags & AT_SYMLINK_NOFOLLOW;
      add(path_arg(lay.dirfd, lay.path, flags & AT_EMPTY_PATH), {AccessKind::Stat},
          nofollow ? Lookup::NoFollow : Lookup::Follow);
      break;
    }
    case Op::Readlink:
    case Op::ReadlinkAt:
      add(path_arg(lay.dirfd, lay.path, true), {AccessKind::Readlink}, Lookup::Symlink);
      break;
    case Op::Chdir:
    case Op::Fchdir:
      needs_exit = true;
      t.pending_chdir = true;
      add(path_arg(lay.dirfd, lay.path, false), {AccessKind::Chdir}, Lookup::Directory);
      break;
    case Op::Truncate:
    case Op::SetAttr:
    case Op::SetAttrAt:
      if (lay.path >= 0 && args[lay.path] == 0) return out;  // utimensat(fd, NULL): futimens()
      needs_exit = true;
      add(path_arg(lay.dirfd, lay.path, true), {AccessKind::Write}, Lookup::Follow);
      break;
    case Op::Mkdir:
    case Op::MkdirAt:
      needs_exit = true;
      add(path_arg(lay.dirfd, lay.path, false), {AccessKind::Create}, Lookup::Follow);
      break;
    case Op::Rmdir:
    case Op::UnlinkAt:
      needs_exit = true;
      add(path_arg(lay.dirfd, lay.path, false), {AccessKind::Remove}, Lookup::NoFollow);
      break;
    case Op::Rename:
    case Op::RenameAt:
    case Op::Link:
    case Op::LinkAt: {
      needs_exit = true;
      AccessKind k = row.op == Op::Rename || row.op == Op::RenameAt ? AccessKind::Rename : AccessKind::Link;
      bool empty_fd = row.op == Op::LinkAt && (flags & AT_EMPTY_PATH);
      add(path_arg(lay.dirfd, lay.path, empty_fd), {k}, Lookup::NoFollow);
      add(path_arg(lay.dirfd2, lay.path2, false), {k}, Lookup::NoFollow);
      break;
    }
    case Op::Symlink:
    case Op::SymlinkAt:
      needs_exit = true;
      add(path_arg(lay.dirfd2, lay.path2, false), {AccessKind::Symlink}, Lookup::NoFollow);
      break;
    case Op::Bind:
    case Op::Connect: {
      // Only AF_UNIX sockets bound to a filesystem path are file accesses; the abstract
      // namespace (sun_path[0] == 0) and other families are not recorded.
      sockaddr_un sa{};
      std::size_t len = std::min<std::size_t>(static_cast<std::size_t>(args[2]), sizeof sa);
      if (len <= offsetof(sockaddr_un, sun_path) || !read_bytes(tid, args[1], &sa, len)) return out;
      if (sa.sun_family != AF_UNIX || sa.sun_path[0] == 0) return out;
      std::string p(sa.sun_path, strnlen(sa.sun_path, len - offsetof(sockaddr_un, sun_path)));
      needs_exit = true;
      add(resolve_at(tid, t, kFdCwd, p, note), {AccessKind::Socket}, Lookup::Follow);
      break;
    }
  }
  return out;
}

void Tracer::handle_seccomp(pid_t tid, Thread& t) {
  ptrace_syscall_info info{};
  long n = ::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
  if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP) return;
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
    record_note(tid, t, "io_uring_setup", "refused with ENOSYS: io_uring operations are invisible to ptrace");
    return;
  }
  if (data == 0 || data > rows_.size()) return;
  const SyscallRow& row = rows_[data - 1];
  bool needs_exit = opt_.exact_results || !same_creds(tid, t);
  std::string note;
  std::vector<Access> accesses = describe(tid, t, row, info, needs_exit, note);
  if (!note.empty() && !t.exec_index) record_note(tid, t, row.name, std::move(note));
  if (t.exec_index) return;  // execve: settled by PTRACE_EVENT_EXEC or the next stop
  if (needs_exit) {
    t.awaiting_exit = true;
    t.pending_syscall = row.name;
    t.pending = std::move(accesses);
    return;
  }
  for (const Access& a : accesses) record(tid, t, row.name, a, check_lookup(tid, t, a.path, a.lookup), false, 0);
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
  if (t.pending_chdir) {
    t.pending_chdir = false;
    ++cwd_gen_;  // every thread sharing this cwd re-reads it
  }
  if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_EXIT) return;
  int err = info.exit.is_error ? static_cast<int>(-info.exit.rval) : 0;
  // -ERESTARTSYS and friends: interrupted by a signal and restarted, which stops again.
  if (err >= 512 && err <= 516) return;
  for (const Access& a : pending) record(tid, t, t.pending_syscall, a, err == 0, true, err);
}

void Tracer::record(pid_t tid, const Thread& t, std::string_view syscall, const Access& a, bool ok, bool known,
                    int err) {
  PathUse& use = log_.paths[a.path];
  use.access.add(a.kinds);
  if (ok) use.succeeded.add(a.kinds);
  if (opt_.on_event) {
    TraceEvent ev;
    ev.tid = tid;
    ev.pid = t.tgid;
    ev.syscall = syscall;
    ev.access = a.kinds;
    ev.path = a.path;
    ev.succeeded = ok;
    ev.result_known = known;
    ev.err = ok ? 0 : err;
    opt_.on_event(ev);
  }
}

void Tracer::record_note(pid_t tid, const Thread& t, std::string_view syscall, std::string note) {
  ++log_.stats.unhandled;
  if (!opt_.on_event) return;
  TraceEvent ev;
  ev.tid = tid;
  ev.pid = t.tgid;
  ev.syscall = syscall;
  ev.note = std::move(note);
  opt_.on_event(ev);
}

void Tracer::tick() {
  auto now = Clock::now();
  update_affinity();
  switch (phase_) {
    case Phase::Running:
      if (opt_.timeout && now - started_ >= *opt_.timeout) {
        begin_stop(StopReason::Timeout);
      } else if (probe_done_.load()) {
        begin_stop(StopReason::Probe);
      }
      break;
    case Phase::TermSent:
      if (now >= kill_at_) {
        signal_tree(SIGKILL);
        phase_ = Phase::KillSent;
      }
      break;
    case Phase::KillSent:
      break;
  }
}

void Tracer::begin_stop(StopReason why) {
  log_.stopped_by = why;
  signal_tree(SIGTERM);
  signal_tree(SIGCONT);  // a stopped process acts on SIGTERM only once continued
  phase_ = Phase::TermSent;
  kill_at_ = Clock::now() + opt_.grace;
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
}  // namespace tracer

Result<TraceLog> run_trace(const TraceOptions& options) {
  TraceLog log;
  Status st = Ok{};
  {
    tracer::Tracer t(options, log);
    st = t.run();
  }  // ~Tracer kills and reaps anything left
  if (!st) return st.error();
  return log;
}

}  // namespace minify
