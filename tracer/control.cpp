// See control.hpp.
#include "control.hpp"

#include <elf.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "probe.hpp"
#include "tracee_io.hpp"

extern char** environ;

namespace minify::tracer {

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string errno_text(int err) { return std::strerror(err); }

// ---- Signals -------------------------------------------------------------------------------

std::atomic<pid_t> g_forward_pid{0};
volatile sig_atomic_t g_forwarded = 0;  // bit per forwarded signal not yet sent to the whole tree
volatile sig_atomic_t g_tick = 0;

namespace {

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

}  // namespace

SignalScope::SignalScope(bool forward, bool tick) {
  g_forwarded = 0;
  g_tick = 0;
  auto install = [this](int sig, void (*fn)(int, siginfo_t*, void*)) {
    struct sigaction sa {};
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: a blocked wait returns EINTR so the loop can act
    sigemptyset(&sa.sa_mask);
    struct sigaction old {};
    if (::sigaction(sig, &sa, &old) == 0) saved_.push_back({sig, old});
  };
  if (forward)
    for (int sig : kForwardedSignals) install(sig, on_forwarded_signal);
  if (tick) install(SIGALRM, on_tick);
}

SignalScope::~SignalScope() {
  for (auto& [sig, old] : saved_) ::sigaction(sig, &old, nullptr);
  g_forward_pid = 0;
}

TickTimer::TickTimer() {
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

TickTimer::~TickTimer() {
  if (armed_) ::timer_delete(timer_);
}

void forward_pending(const std::function<void(int)>& signal_tree) {
  if (!g_forwarded) return;
  int pending = g_forwarded;
  g_forwarded = 0;
  for (int sig : kForwardedSignals)
    if (pending & (1 << sig)) signal_tree(sig);
}

// ---- Starting the command ------------------------------------------------------------------

namespace {

// execvp's PATH search, done in the parent (inside the root) so the child only calls execve.
Result<std::string> find_program(const std::string& root, const std::string& name) {
  auto usable = [&](const std::string& inside) {
    std::string host = root == "/" ? inside : root + inside;
    struct stat st {};
    return ::stat(host.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(host.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    // Relative to our cwd without a root, to the root's "/" with one (the child chdirs there).
    std::string inside = name;
    if (name[0] != '/') {
      if (root == "/") {
        char cwd[PATH_MAX];
        if (::getcwd(cwd, sizeof cwd) == nullptr) return sys_error("getcwd", "");
        inside = join_under(cwd, name);
      } else {
        inside = join_under("/", name);
      }
    }
    std::string host = root == "/" ? inside : root + inside;
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
    if (cand[0] != '/' && root != "/") cand = "/" + cand;
    if (usable(cand[0] == '/' ? cand : join_under(".", cand))) return cand;
  }
  return Error{ENOENT, "exec", name, "not found in PATH"};
}

struct ChildReport {
  int stage;  // 0 chroot, 1 chdir, 2 seccomp, 3 execve, 4 setgroups/setgid/setuid
  int err;
};

}  // namespace

Result<Launch> prepare_launch(const TraceOptions& opt) {
  if (opt.command.empty() || opt.command[0].empty()) return bad_input("trace", "", "no command given");
  Launch l;
  if (!opt.root.empty()) {
    char buf[PATH_MAX];
    if (::realpath(opt.root.c_str(), buf) == nullptr) return sys_error("resolve root", opt.root);
    l.root = buf;
    struct stat st {};
    if (::stat(l.root.c_str(), &st) != 0) return sys_error("stat", l.root);
    if (!S_ISDIR(st.st_mode)) return sys_error("use as root", opt.root, ENOTDIR);
    l.root_fd = UniqueFd(::open(l.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (l.root_fd.get() < 0) return sys_error("open", l.root);
    struct statfs fs {};
    l.proc_visible = ::statfs((l.root + "/proc").c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
  }
  auto prog = find_program(l.root, opt.command[0]);
  if (!prog) return prog.error();
  l.program = *prog;
  for (const auto& url : opt.probe_urls)
    if (auto u = parse_http_url(url); !u) return u.error();
  return l;
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, __WALL) < 0 && errno == EINTR) {
    }
  }
}

Status Child::start(const TraceOptions& opt, const Launch& launch, const ChildSetup& setup) {
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> args = opt.command;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string& root = launch.root;
  const char* program = launch.program.c_str();
  const sock_fprog* prog = setup.seccomp;
  std::string workdir = opt.workdir;
  std::vector<std::string> env_strings = opt.env ? *opt.env : std::vector<std::string>{};
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  char** child_env = opt.env ? envp.data() : environ;
  const TraceOptions::Credentials* user = opt.user ? &*opt.user : nullptr;

  int sync[2], ready[2], report[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return sys_error("pipe", "");
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    ::close(sync[0]);
    ::close(sync[1]);
    return sys_error("pipe", "");
  }
  if (::pipe2(report, O_CLOEXEC) != 0) {
    for (int fd : {sync[0], sync[1], ready[0], ready[1]}) ::close(fd);
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
    ::close(ready[0]);
    ::close(report[0]);
    auto fail = [&](int stage) {
      ChildReport r{stage, errno};
      [[maybe_unused]] ssize_t n = ::write(report[1], &r, sizeof r);
      ::_exit(127);
    };
    char c;
    auto enter_root = [&] {
      if (root != "/") {
        if (::chroot(root.c_str()) != 0) fail(0);
        if (::chdir("/") != 0) fail(1);
      }
      if (!workdir.empty() && ::chdir(workdir.c_str()) != 0) fail(1);
    };
    // Groups first: after setresuid the process may no longer change them. The ptrace tracer's
    // filter stops these calls (they change the thread's credentials, see Thread::creds).
    auto drop_privileges = [&] {
      if (user == nullptr) return;
      // Raw syscalls: glibc's wrappers would signal the parent's other threads, which the child
      // of a fork does not have (and only async-signal-safe calls belong here).
      if (::syscall(SYS_setgroups, user->groups.size(), user->groups.data()) != 0 ||
          ::syscall(SYS_setresgid, user->gid, user->gid, user->gid) != 0 ||
          ::syscall(SYS_setresuid, user->uid, user->uid, user->uid) != 0)
        fail(4);
    };
    if (prog != nullptr) {
      // Wait until the parent has seized us: a SECCOMP_RET_TRACE with no tracer fails the syscall.
      if (::read(sync[0], &c, 1) != 1) ::_exit(127);
      enter_root();
      // SPEC_ALLOW: this filter observes, it doesn't sandbox, so it must not switch on the
      // Speculative Store Bypass mitigation that kernels booted with spec_store_bypass_disable=
      // seccomp apply to every filtered task (a large slowdown for the whole program).
      unsigned flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
      auto install = [&] {
        if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog) == 0) return true;
        if (errno != EINVAL) return false;
        flags = 0;  // kernels before 4.17
        return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog) == 0;
      };
      if (!install()) {
        // Without CAP_SYS_ADMIN a filter needs no_new_privs.
        if (errno != EACCES || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !install()) fail(2);
      }
      drop_privileges();
    } else {
      // The eBPF tracer records from the moment the parent adds this process to its map: set
      // up first, so only the execve on is seen, as under ptrace.
      enter_root();
      drop_privileges();
      if (::write(ready[1], "r", 1) != 1 || ::read(sync[0], &c, 1) != 1) ::_exit(127);
    }
    ::execve(program, argv.data(), child_env);
    fail(3);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(sync[0]);
  ::close(ready[1]);
  ::close(report[1]);
  sync_ = UniqueFd(sync[1]);
  ready_ = UniqueFd(ready[0]);
  report_ = UniqueFd(report[0]);
  if (pid < 0) return sys_error("fork", "", fork_errno);
  pid_ = pid;
  if (prog == nullptr) {
    // Wait for the child to be set up (or to fail doing it: EOF).
    char c;
    ssize_t n;
    while ((n = ::read(ready_.get(), &c, 1)) < 0 && errno == EINTR) {
    }
  }
  return Ok{};
}

void Child::release() {
  [[maybe_unused]] ssize_t n = ::write(sync_.get(), "x", 1);
  sync_.reset();
}

Status Child::failure(const TraceOptions& opt, const Launch& launch) {
  ChildReport rep{};
  if (report_.get() >= 0 && ::read(report_.get(), &rep, sizeof rep) == static_cast<ssize_t>(sizeof rep)) {
    static constexpr const char* kStage[] = {"chroot", "chdir", "install seccomp filter for", "exec", "run as"};
    const char* what = rep.stage >= 0 && rep.stage < static_cast<int>(std::size(kStage)) ? kStage[rep.stage] : "start";
    std::string where = rep.stage == 0 ? launch.root : rep.stage == 1 ? (opt.workdir.empty() ? launch.root : opt.workdir) : opt.command[0];
    if (rep.stage == 4 && opt.user) where = "uid " + std::to_string(opt.user->uid) + " gid " + std::to_string(opt.user->gid);
    return sys_error(what, where, rep.err);
  }
  return Ok{};
}

// ---- What the kernel ran without a syscall naming it ---------------------------------------

UniqueFd open_in_root(const Launch& launch, const std::string& path, int flags) {
  if (launch.root == "/") return UniqueFd(::open(path.c_str(), flags | O_CLOEXEC));
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, launch.root_fd.get(), path.c_str(), &how, sizeof how)));
}

namespace {

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

}  // namespace

// The kernel itself runs a script's "#!" interpreter and maps a dynamic ELF program's PT_INTERP
// (ld.so): no syscall names them, so read them from the files.
std::vector<std::string> interpreters_of(const Launch& launch, const std::string& path) {
  std::vector<std::string> out;
  std::string current = path;
  for (int depth = 0; depth < 5; ++depth) {  // binfmt_script allows a few levels of nesting
    UniqueFd fd = open_in_root(launch, current, O_RDONLY);
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

// ---- Recording -----------------------------------------------------------------------------

void Recorder::record(pid_t tid, pid_t tgid, std::string_view syscall, const Access& a, bool ok, bool known,
                      int err) {
  PathUse& use = log_.paths[a.path];
  // Found by listing only while every access is: one access by a process that had not listed
  // the directory means some program named the path.
  bool found = false;
  if (auto it = listed_.find(tgid); it != listed_.end()) {
    std::size_t slash = a.path.rfind('/');
    found = slash != std::string::npos && it->second.contains(slash == 0 ? std::string("/") : a.path.substr(0, slash));
  }
  use.found_by_listing = use.access.empty() ? found : use.found_by_listing && found;
  if (a.lists && ok) listed_[tgid].insert(a.path);
  use.access.add(a.kinds);
  if (ok) use.succeeded.add(a.kinds);
  if (opt_.on_event) {
    TraceEvent ev;
    ev.tid = tid;
    ev.pid = tgid;
    ev.syscall = syscall;
    ev.access = a.kinds;
    ev.path = a.path;
    ev.succeeded = ok;
    ev.result_known = known;
    ev.err = ok ? 0 : err;
    opt_.on_event(ev);
  }
}

void Recorder::note(pid_t tid, pid_t tgid, std::string_view syscall, std::string note) {
  ++log_.stats.unhandled;
  if (!opt_.on_event) return;
  TraceEvent ev;
  ev.tid = tid;
  ev.pid = tgid;
  ev.syscall = syscall;
  ev.note = std::move(note);
  opt_.on_event(ev);
}

void Recorder::socket(const SocketCall& call, const SocketState& state) {
  auto rec = listen_record(call, state);
  if (!rec) return;
  auto at = std::lower_bound(log_.listens.begin(), log_.listens.end(), *rec);
  if (at == log_.listens.end() || *at != *rec) log_.listens.insert(at, std::move(*rec));
}

std::size_t Recorder::begin_exec(pid_t tgid, ExecRecord e) {
  e.pid = tgid;
  log_.paths[e.path].access.add(AccessKind::Exec);  // recorded as it is settled
  log_.execs.push_back(std::move(e));
  return log_.execs.size() - 1;
}

void Recorder::finish_exec(pid_t tid, pid_t tgid, std::size_t index, std::string_view syscall, bool succeeded,
                           int err, const Launch& launch) {
  if (index >= log_.execs.size()) return;
  ExecRecord& e = log_.execs[index];
  e.succeeded = succeeded;
  if (succeeded) listed_.erase(tgid);  // the new program knows nothing the old one listed
  if (succeeded) e.interpreters = interpreters_of(launch, e.path);
  std::string path = e.path;
  std::vector<std::string> interpreters = e.interpreters;
  record(tid, tgid, syscall, Access{path, AccessSet{AccessKind::Exec}, Lookup::Regular}, succeeded, true,
         succeeded ? 0 : err);
  for (const auto& interp : interpreters)
    record(tid, tgid, syscall, Access{interp, AccessSet{AccessKind::Exec}, Lookup::Regular}, true, true, 0);
}

// ---- Stopping the program ------------------------------------------------------------------

void Stopper::start() {
  started_ = Clock::now();
  if (opt_.probe_urls.empty()) return;
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
    probes_ = std::move(results);  // read only after join()
    probe_done_ = true;
  });
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void Stopper::join() {
  probe_cancel_ = true;
  if (prober_.joinable()) {
    prober_.join();
    log_.probes = std::move(probes_);
  }
}

void Stopper::tick(const std::function<void(int)>& signal_tree) {
  auto now = Clock::now();
  switch (phase_) {
    case Phase::Running:
      if (opt_.timeout && now - started_ >= *opt_.timeout) {
        begin(StopReason::Timeout, signal_tree);
      } else if (probe_done_.load()) {
        begin(StopReason::Probe, signal_tree);
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

void Stopper::begin(StopReason why, const std::function<void(int)>& signal_tree) {
  log_.stopped_by = why;
  signal_tree(SIGTERM);
  signal_tree(SIGCONT);  // a stopped process acts on SIGTERM only once continued
  phase_ = Phase::TermSent;
  kill_at_ = Clock::now() + opt_.grace;
}

}  // namespace minify::tracer
