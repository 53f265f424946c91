// The eBPF tracer's user side: loads the kernel side (trace.bpf.c) with the syscall table, starts
// the command, adds its process to the map of traced thread groups and turns the records of the
// ring buffer into the same TraceLog the ptrace tracer makes, through the same describe(). The
// program is never stopped: it runs at full speed while the kernel records, and this process only
// reads. Process control is the ptrace tracer's (control.hpp): signals forwarded, --timeout and
// --probe, SIGTERM then SIGKILL to every traced process (listed by the kernel's map).
//
// A traced tree must not outlive minify. ptrace gets that from PTRACE_O_EXITKILL; here a guardian
// process, forked before the command, waits for minify's death (PR_SET_PDEATHSIG) and then kills
// every process in the map until it is empty; it holds the programs attached meanwhile, so
// processes forked during the sweep are added and killed too.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <fstream>
#include <unordered_map>

#include "../backends.hpp"
#include "../control.hpp"
#include "../describe.hpp"
#include "../syscalls.hpp"
#include "../tracee_io.hpp"
#include "minify/version.hpp"
#include "skeleton.h"

namespace minify::tracer {
namespace {

constexpr int kFdCwd = AT_FDCWD;
constexpr std::size_t kMaxArgv = 256;

// The descriptors the kernel side needs, from the ptrace tracer's table.
std::vector<sc_desc> descriptor_table(std::span<const SyscallRow> rows) {
  std::vector<sc_desc> table(MINIFY_BPF_MAX_NR);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SyscallRow& row = rows[i];
    if (row.nr < 0 || row.nr >= MINIFY_BPF_MAX_NR) continue;
    OpLayout lay = op_layout(row.op);
    sc_desc& d = table[static_cast<std::size_t>(row.nr)];
    d.row = static_cast<__u8>(i + 1);
    d.kind = SC_PLAIN;
    d.dirfd = static_cast<signed char>(lay.dirfd);
    d.path = static_cast<signed char>(lay.path);
    d.dirfd2 = static_cast<signed char>(lay.dirfd2);
    d.path2 = static_cast<signed char>(lay.path2);
    d.aux = -1;
    if (row.op == Op::Execve || row.op == Op::Execveat) {
      d.kind = SC_EXEC;
      d.aux = row.op == Op::Execve ? 1 : 2;  // argv
    } else if (row.op == Op::OpenAt2) {
      d.kind = SC_OPENAT2;
    } else if (row.op == Op::Bind || row.op == Op::Connect) {
      // No path argument: the kernel side copies the sockaddr instead, and after a bind the
      // socket's port.
      d.kind = SC_SOCKADDR;
      d.path = -1;
      if (row.op == Op::Bind) d.aux = 0;
    } else if (row.op == Op::Listen) {
      d.kind = SC_SOCKET;
      d.aux = 0;
    } else if (row.op == Op::FstatAt || row.op == Op::Statx) {
      // fstat() as newfstatat(fd, "", AT_EMPTY_PATH) is no lookup; the ptrace tracer's filter
      // lets it through unstopped, and so does this.
      d.kind = SC_SKIP_EMPTY;
      d.aux = static_cast<signed char>(lay.flags);
    }
  }
  return table;
}

// Why this process cannot use eBPF here, before trying to load anything; "" when it may.
std::string precheck() {
  struct stat st {};
  if (::stat("/sys/kernel/btf/vmlinux", &st) != 0)
    return "the kernel has no BTF (/sys/kernel/btf/vmlinux), which the eBPF tracer's relocations need";
  // The kernel side reports pids as the initial pid namespace numbers them.
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("NSpid:") && line.find_first_of(" \t", line.find_first_not_of(" \t", 6)) != std::string::npos)
      return "minify runs in a PID namespace of its own, and the kernel reports the initial namespace's pids";
  return "";
}

// ---- One traced syscall, from its two records ------------------------------------------------

struct Field {
  std::uint8_t tag;
  std::uint8_t slot;
  std::string_view data;
};

std::vector<Field> parse_fields(std::string_view rest) {
  std::vector<Field> out;
  while (rest.size() >= sizeof(ev_field)) {
    ev_field f;
    std::memcpy(&f, rest.data(), sizeof f);
    rest.remove_prefix(sizeof f);
    if (f.len > rest.size()) break;
    out.push_back(Field{f.tag, f.slot, rest.substr(0, f.len)});
    rest.remove_prefix(f.len);
  }
  return out;
}

// What the kernel side recorded for the path arguments of one call.
struct Slot {
  std::optional<std::string> path;
  bool fault = false;
  std::optional<std::string> base;
  bool base_outside = false;
  std::optional<std::string> proc;  // the file a /proc indirection reaches
  std::size_t proc_rest = 0;        // where the rest of `path` starts
};

class RecordArgs final : public ArgSource {
 public:
  RecordArgs(const SyscallRow& row, const std::array<std::uint64_t, 6>& args, std::uint64_t how_flags)
      : lay_(op_layout(row.op)), args_(args), how_flags_(how_flags) {}

  void add(const Field& f) {
    if (f.slot > 1) return;
    Slot& s = slots_[f.slot];
    switch (f.tag) {
      case F_PATH: s.path = std::string(f.data), s.fault = false; break;
      case F_PATH_FAULT: s.fault = true; break;
      case F_BASE: s.base = std::string(f.data); break;
      case F_BASE_OUTSIDE: s.base_outside = true; break;
      case F_PROC:
        if (f.data.size() >= 2) {
          s.proc_rest = static_cast<std::uint8_t>(f.data[0]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(f.data[1])) << 8);
          s.proc = std::string(f.data.substr(2));
        }
        break;
      case F_ARGV: argv_ = std::string(f.data); break;
      case F_SOCKADDR: sockaddr_ = std::string(f.data); break;
      case F_TRUNCATED: truncated_ = true; break;
      case F_SOCKET:
        if (f.data.size() >= sizeof(ev_socket)) {
          ev_socket e;
          std::memcpy(&e, f.data.data(), sizeof e);
          socket_ = SocketState{e.family, e.type, e.port};
        }
        break;
      case F_ARGV_HOLES:
        for (std::size_t i = 0; i < f.data.size() && i < sizeof holes_; ++i)
          holes_[i] = static_cast<std::uint8_t>(f.data[i]);
        break;
      default: break;
    }
  }

  std::optional<std::string> path(int di, int pi, bool empty_means_fd, bool follow, std::string& note) override {
    const Slot& s = slots_[pi >= 0 && pi == lay_.path2 ? 1 : 0];
    long dirfd = di >= 0 ? static_cast<long>(args_[di]) : kFdCwd;
    if (pi < 0) return base_of(s, dirfd, note);
    if (!s.path) {
      note = args_[pi] == 0 ? "null path" : "read path: " + errno_text(EFAULT);
      return std::nullopt;
    }
    const std::string& p = *s.path;
    // The link itself, as the last component of a lookup that does not follow it, stays as named.
    if (s.proc && s.proc_rest <= p.size() && (follow || s.proc_rest < p.size()))
      return join_under(*s.proc, std::string_view(p).substr(s.proc_rest));
    if (p.empty()) {
      if (empty_means_fd && static_cast<int>(dirfd) != kFdCwd) return base_of(s, dirfd, note);
      note = "empty path";
      return std::nullopt;
    }
    if (p[0] == '/') return clean_absolute(p);
    auto base = base_of(s, dirfd, note);
    if (!base) return std::nullopt;
    return join_under(*base, p);
  }

  std::optional<std::uint64_t> open_how_flags() override {
    if (args_[3] < sizeof(std::uint64_t)) return std::nullopt;
    return how_flags_;
  }

  std::optional<std::string> socket_path(std::string& note) override {
    if (!sockaddr_ || sockaddr_->size() <= offsetof(sockaddr_un, sun_path)) return std::nullopt;
    sockaddr_un sa{};
    std::memcpy(&sa, sockaddr_->data(), std::min(sockaddr_->size(), sizeof sa));
    std::size_t len = std::min(sockaddr_->size(), sizeof sa);
    if (sa.sun_family != AF_UNIX || sa.sun_path[0] == 0) return std::nullopt;
    std::string p(sa.sun_path, strnlen(sa.sun_path, len - offsetof(sockaddr_un, sun_path)));
    if (p[0] == '/') return clean_absolute(p);
    auto base = base_of(slots_[0], kFdCwd, note);
    if (!base) return std::nullopt;
    return join_under(*base, p);
  }

  int sockaddr_family() override {
    sa_family_t family = 0;
    if (!sockaddr_ || sockaddr_->size() < sizeof family) return 0;
    std::memcpy(&family, sockaddr_->data(), sizeof family);
    return family;
  }

  // bind/listen: the socket after the call (the exit record's F_SOCKET).
  const std::optional<SocketState>& socket() const { return socket_; }

  // A successful exec, from the kernel's exec record: the argv as the new program has it (the
  // strings passed to execve may not have been readable at the call), and the name it executed
  // when the call's own path argument was not readable. execveat's name is "/dev/fd/N" (fd only)
  // or "/dev/fd/N/name", the name relative to the dirfd whose path the call's record has.
  void exec_done(const std::string& filename, std::string argv, bool fd_only) {
    exec_argv_ = std::move(argv);
    Slot& s = slots_[0];
    if (s.path || filename.empty()) return;
    if (fd_only) {
      s.path = "";
    } else if (filename.starts_with("/dev/fd/") && static_cast<int>(args_[0]) != kFdCwd && lay_.dirfd == 0) {
      std::size_t slash = filename.find('/', 8);
      s.path = slash == std::string::npos ? "" : filename.substr(slash + 1);
    } else {
      s.path = filename;
    }
  }

  // The argv passed to execve. The strings the call's record could not read come from the new
  // program's argv, which ends with them: the kernel puts a script's interpreter (and its
  // argument) and the script's path in front of the passed argv[1...] (binfmt_script).
  std::vector<std::string> argv(int) override {
    std::vector<std::string> out = split(argv_);
    std::vector<std::string> now = split(exec_argv_);
    if (!argv_) return now;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!(holes_[i / 8] & (1u << (i % 8)))) continue;
      std::size_t from_end = out.size() - i;
      if (now.size() >= from_end) out[i] = now[now.size() - from_end];
    }
    return out;
  }

 private:
  static std::vector<std::string> split(const std::optional<std::string>& argv) {
    std::vector<std::string> out;
    if (!argv || argv->empty()) return out;
    std::string_view rest = *argv;
    while (!rest.empty() && out.size() < kMaxArgv) {
      std::size_t nul = rest.find('\0');
      out.emplace_back(rest.substr(0, nul));
      if (nul == std::string_view::npos) break;
      rest.remove_prefix(nul + 1);
    }
    return out;
  }

  std::optional<std::string> base_of(const Slot& s, long dirfd, std::string& note) const {
    if (s.base) return s.base;
    if (static_cast<int>(dirfd) == kFdCwd)
      note = s.base_outside ? "the cwd is outside the root" : "cannot read the cwd";
    else
      note = "fd " + std::to_string(static_cast<int>(dirfd)) +
             (s.base_outside ? " is outside the root or not open" : ": not recorded");
    return std::nullopt;
  }

  OpLayout lay_;
  const std::array<std::uint64_t, 6>& args_;
  std::uint64_t how_flags_;
  Slot slots_[2];
  std::optional<std::string> argv_;
  std::optional<std::string> sockaddr_;
  std::optional<SocketState> socket_;
  bool truncated_ = false;
  std::uint8_t holes_[kMaxArgv / 8] = {};  // argv strings the call's record could not read
  std::optional<std::string> exec_argv_;    // the new program's argv, after a successful exec
};

// ---- The tracer --------------------------------------------------------------------------------

class BpfTracer {
 public:
  BpfTracer(const TraceOptions& opt, TraceLog& log)
      : opt_(opt), log_(log), rows_(native_syscalls()), recorder_(opt, log), stopper_(opt, log) {}
  ~BpfTracer();

  // Loads the kernel side; an error here means eBPF is unavailable (*why says why).
  Status load(std::string* why);
  Status run();

 private:
  void start_guardian();
  void stop_guardian();
  Status loop();
  void signal_tree(int sig);
  bool tree_empty() const;
  void kill_all();

  static int on_record(void* ctx, void* data, std::size_t size);
  void handle(std::string_view rec);
  void handle_exit(const ev_exit& e, std::string_view fields);
  void handle_uring_done(const ev_uring_done& e);
  struct ExecInfo {
    std::string filename;
    std::string argv;
    std::size_t argv_len = 0;
  };
  void complete(pid_t tid, pid_t tgid, const SyscallRow& row, std::string_view name,
                const std::array<std::uint64_t, 6>& args, std::uint64_t how, std::string_view fields,
                std::string_view exit_fields, long ret, const ExecInfo* exec = nullptr);

  const TraceOptions& opt_;
  TraceLog& log_;
  std::span<const SyscallRow> rows_;
  Recorder recorder_;
  Stopper stopper_;
  Launch launch_;
  minify_bpf* bpf_ = nullptr;
  ring_buffer* ring_ = nullptr;
  pid_t guardian_ = 0;
  Child child_;
  pid_t root_pid_ = 0;
  bool root_exited_ = false;
  std::optional<Error> fatal_;
  // Syscalls entered and not yet returned, by thread: their EV_ENTER record.
  std::unordered_map<pid_t, std::string> pending_;
  // io_uring requests submitted and not yet completed.
  std::unordered_map<std::uint64_t, std::string> uring_;
  // Successful execs, by the thread that returns from them, until that return.
  std::unordered_map<pid_t, ExecInfo> execs_;
  std::optional<std::size_t> openat_row_, statx_row_;
  std::vector<std::size_t> row_of_nr_;  // syscall number -> index in rows_ (rows_.size(): none)
};

BpfTracer::~BpfTracer() {
  stopper_.join();
  kill_all();
  stop_guardian();
  if (ring_) ring_buffer__free(ring_);
  minify_bpf_close(bpf_);
}

Status BpfTracer::load(std::string* why) {
  auto launch = prepare_launch(opt_);
  if (!launch) return launch.error();
  launch_ = std::move(*launch);
  log_.root = launch_.root;
  log_.command = opt_.command;
  log_.tracer = "bpf";
  row_of_nr_.assign(MINIFY_BPF_MAX_NR, rows_.size());
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    if (rows_[i].nr >= 0 && rows_[i].nr < MINIFY_BPF_MAX_NR) row_of_nr_[static_cast<std::size_t>(rows_[i].nr)] = i;
    if (rows_[i].name == "openat") openat_row_ = i;
    if (rows_[i].name == "statx") statx_row_ = i;
  }
  if (std::string reason = precheck(); !reason.empty()) {
    *why = reason;
    return bad_input("trace with", "eBPF", reason);
  }
  std::vector<sc_desc> table = descriptor_table(rows_);
  minify_bpf_config config{};
  config.table = table.data();
  config.proc_visible = launch_.proc_visible;
  config.count_syscalls = opt_.record_syscalls;
  config.count_after = opt_.record_syscalls_after.c_str();
  const char* stage = "";
  int err = minify_bpf_open(&config, &bpf_, &stage);
  if (err == -ENAMETOOLONG) {
    *why = "the path that starts the syscall recording is longer than " + std::to_string(MINIFY_BPF_MARKER_MAX - 1) +
           " bytes: " + opt_.record_syscalls_after;
    return bad_input("trace with", "eBPF", *why);
  }
  if (err != 0) {
    *why = std::string("the kernel refused to ") + stage + " the eBPF programs: " + errno_text(-err) +
           (-err == EPERM ? " (they need CAP_BPF and CAP_PERFMON, e.g. root)" : "");
    return bad_input("trace with", "eBPF", *why);
  }
  ring_ = ring_buffer__new(minify_bpf_events_fd(bpf_), &BpfTracer::on_record, this, nullptr);
  if (!ring_) {
    *why = "cannot map the eBPF ring buffer: " + errno_text(errno);
    return bad_input("trace with", "eBPF", *why);
  }
  return Ok{};
}

void BpfTracer::start_guardian() {
  int map = minify_bpf_tgids_fd(bpf_);
  pid_t parent = ::getpid();
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Async-signal-safe calls only from here. Every signal stays blocked; sigwait takes ours.
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);  // hold no pipe of the caller open
    ::prctl(PR_SET_NAME, "minify-guard", 0, 0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
    sigset_t wait_for;
    sigemptyset(&wait_for);
    sigaddset(&wait_for, SIGUSR1);
    sigaddset(&wait_for, SIGTERM);
    int sig = 0;
    if (::getppid() == parent) ::sigwait(&wait_for, &sig);
    else sig = SIGUSR1;  // minify died before PR_SET_PDEATHSIG took effect
    if (sig != SIGUSR1) ::_exit(0);
    // minify is gone: kill every traced process until none is left (10 s at most).
    for (int round = 0; round < 1000; ++round) {
      std::uint32_t key = 0, next = 0;
      bool any = false;
      const void* cur = nullptr;
      while (::bpf_map_get_next_key(map, cur, &next) == 0) {
        any = true;
        ::kill(static_cast<pid_t>(next), SIGKILL);
        key = next;
        cur = &key;
      }
      if (!any) break;
      struct timespec ts {0, 10'000'000};
      ::nanosleep(&ts, nullptr);
    }
    ::_exit(0);
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid > 0) guardian_ = pid;
}

void BpfTracer::stop_guardian() {
  if (guardian_ <= 0) return;
  ::kill(guardian_, SIGTERM);
  while (::waitpid(guardian_, nullptr, 0) < 0 && errno == EINTR) {
  }
  guardian_ = 0;
}

void BpfTracer::signal_tree(int sig) {
  if (!bpf_) return;
  int map = minify_bpf_tgids_fd(bpf_);
  std::uint32_t key = 0, next = 0;
  const void* cur = nullptr;
  while (::bpf_map_get_next_key(map, cur, &next) == 0) {
    ::kill(static_cast<pid_t>(next), sig);
    key = next;
    cur = &key;
  }
  if (!root_exited_ && root_pid_ > 0) ::kill(root_pid_, sig);
}

bool BpfTracer::tree_empty() const {
  std::uint32_t next = 0;
  return ::bpf_map_get_next_key(minify_bpf_tgids_fd(bpf_), nullptr, &next) != 0;
}

// Never leave a tracee behind: kill what is left and reap the command's own process. The other
// processes are not our children; they are gone once the map is empty (their last thread exited).
void BpfTracer::kill_all() {
  if (!bpf_) return;
  for (int round = 0; round < 500; ++round) {
    signal_tree(SIGKILL);
    if (!root_exited_ && root_pid_ > 0) {
      int st;
      if (::waitpid(root_pid_, &st, __WALL | WNOHANG) == root_pid_) root_exited_ = true;
    }
    if ((root_exited_ || root_pid_ == 0) && tree_empty()) break;
    struct timespec ts {0, 5'000'000};
    ::nanosleep(&ts, nullptr);
  }
  if (!root_exited_ && root_pid_ > 0) {
    while (::waitpid(root_pid_, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    root_exited_ = true;
  }
  child_.forget();
}

Status BpfTracer::run() {
  SignalScope signals(opt_.forward_signals, true);
  TickTimer timer;
  start_guardian();
  stopper_.start();
  if (auto st = child_.start(opt_, launch_, ChildSetup{}); !st) return st;
  root_pid_ = child_.pid();
  std::uint32_t key = static_cast<std::uint32_t>(root_pid_);
  // Counted from the start unless a marker path starts the counting (see trace.bpf.c).
  std::uint8_t value = TGID_TRACED;
  if (opt_.record_syscalls && opt_.record_syscalls_after.empty()) value |= TGID_COUNTED;
  if (::bpf_map_update_elem(minify_bpf_tgids_fd(bpf_), &key, &value, BPF_ANY) != 0)
    return sys_error("add the command to the eBPF map", opt_.command[0]);
  log_.process_count = 1;
  log_.thread_count = 1;
  g_forward_pid = root_pid_;
  child_.release();

  Status looped = loop();
  stopper_.join();
  if (!looped) return looped;
  if (fatal_) return *fatal_;
  if (auto st = child_.failure(opt_, launch_); !st) return st;
  if (opt_.record_syscalls) {
    std::vector<unsigned char> bytes(MINIFY_BPF_COUNT_NR);
    minify_bpf_syscalls_seen(bpf_, bytes.data());
    std::vector<bool> seen(bytes.begin(), bytes.end());
    name_recorded_syscalls(seen, log_.syscalls, log_.syscall_arch);
  }
  std::uint64_t lost = minify_bpf_dropped(bpf_) + minify_bpf_misses(bpf_);
  if (lost > 0)
    return Error{0, "trace", opt_.command[0],
                 "the eBPF tracer lost " + std::to_string(lost) +
                     " records (its ring buffer was full, or the kernel skipped a program): the trace is incomplete"};
  return Ok{};
}

Status BpfTracer::loop() {
  int ring_fd = ring_buffer__epoll_fd(ring_);
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, root_pid_, 0)));
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (ep.get() < 0) return sys_error("epoll_create1", "");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = 1;
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, ring_fd, &ev) != 0) return sys_error("epoll_ctl", "");
  if (pidfd.get() >= 0) {
    ev.data.u32 = 2;
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, pidfd.get(), &ev);
  }
  auto tree = [this](int sig) { signal_tree(sig); };
  for (;;) {
    if (g_tick) {
      g_tick = 0;
      stopper_.tick(tree);
      if (fatal_) signal_tree(SIGKILL);
    }
    forward_pending(tree);
    ring_buffer__consume(ring_);
    if (!root_exited_) {
      int st = 0;
      pid_t r = ::waitpid(root_pid_, &st, __WALL | WNOHANG);
      if (r == root_pid_) {
        root_exited_ = true;
        g_forward_pid = 0;
        child_.forget();
        log_.exit.signaled = WIFSIGNALED(st);
        log_.exit.code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
        log_.exit.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        log_.exit.core_dumped = WIFSIGNALED(st) && WCOREDUMP(st);
        if (pidfd.get() >= 0) ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, pidfd.get(), nullptr);
      }
    }
    if (root_exited_ && tree_empty()) {
      // Every traced thread group has exited: what they did is in the ring buffer by now.
      ring_buffer__consume(ring_);
      return Ok{};
    }
    epoll_event got[4];
    int n = ::epoll_wait(ep.get(), got, 4, static_cast<int>(kTick.count()));
    if (n < 0 && errno != EINTR) return sys_error("epoll_wait", "");
  }
}

int BpfTracer::on_record(void* ctx, void* data, std::size_t size) {
  static_cast<BpfTracer*>(ctx)->handle(std::string_view(static_cast<const char*>(data), size));
  return 0;
}

void BpfTracer::handle(std::string_view rec) {
  ++log_.stats.events;
  ev_header h;
  if (rec.size() < sizeof h) return;
  std::memcpy(&h, rec.data(), sizeof h);
  if (h.size < rec.size()) rec = rec.substr(0, h.size);
  pid_t tid = static_cast<pid_t>(h.tid), tgid = static_cast<pid_t>(h.tgid);
  switch (h.type) {
    case EV_ENTER:
      if (rec.size() >= sizeof(ev_enter)) pending_[tid] = std::string(rec);
      break;
    case EV_EXIT: {
      ev_exit e;
      if (rec.size() < sizeof e) return;
      std::memcpy(&e, rec.data(), sizeof e);
      handle_exit(e, rec.substr(sizeof e));
      break;
    }
    case EV_FORK: {
      ev_fork e;
      if (rec.size() < sizeof e) return;
      std::memcpy(&e, rec.data(), sizeof e);
      ++log_.thread_count;
      if (e.child_tgid != h.tgid) ++log_.process_count;
      // A task born while the program is being stopped missed the sweep: it gets what the sweep
      // sent (the ptrace tracer does the same).
      if (fatal_ || stopper_.phase() == Stopper::Phase::KillSent) {
        ::kill(static_cast<pid_t>(e.child_tid), SIGKILL);
      } else if (stopper_.phase() == Stopper::Phase::TermSent && e.child_tgid != h.tgid) {
        ::kill(static_cast<pid_t>(e.child_tgid), SIGTERM);
      }
      break;
    }
    case EV_EXEC: {
      ev_exec e;
      if (rec.size() < sizeof e) return;
      std::memcpy(&e, rec.data(), sizeof e);
      // A non-leader thread exec'd: it now has the leader's tid (ptrace(2), "execve(2) under
      // ptrace"), and its execve returns under that tid.
      pid_t old_tid = static_cast<pid_t>(e.old_tid);
      if (old_tid != tid) {
        auto it = pending_.find(old_tid);
        if (it != pending_.end()) {
          std::string enter = std::move(it->second);
          pending_.erase(it);
          ev_header eh;
          std::memcpy(&eh, enter.data(), sizeof eh);
          eh.tid = h.tid;
          std::memcpy(enter.data(), &eh, sizeof eh);
          pending_[tid] = std::move(enter);
        }
      }
      ExecInfo info;
      info.argv_len = e.argv_len;
      for (const Field& f : parse_fields(rec.substr(sizeof e)))
        if (f.tag == F_PATH) info.filename = std::string(f.data);
      execs_[tid] = std::move(info);
      break;
    }
    case EV_ARGV: {
      ev_argv a;
      if (rec.size() < sizeof a) return;
      std::memcpy(&a, rec.data(), sizeof a);
      auto it = execs_.find(tid);
      if (it == execs_.end()) return;
      std::string_view piece = rec.substr(sizeof a);
      std::string& argv = it->second.argv;
      if (argv.size() < a.offset + piece.size()) argv.resize(a.offset + piece.size());
      argv.replace(a.offset, piece.size(), piece);
      break;
    }
    case EV_TASK_EXIT:
      // A call the thread never returned from (killed in it) did not complete.
      pending_.erase(tid);
      execs_.erase(tid);
      break;
    case EV_URING: {
      ev_uring e;
      if (rec.size() < sizeof e) return;
      std::memcpy(&e, rec.data(), sizeof e);
      uring_[e.req] = std::string(rec);
      break;
    }
    case EV_URING_DONE: {
      ev_uring_done e;
      if (rec.size() < sizeof e) return;
      std::memcpy(&e, rec.data(), sizeof e);
      handle_uring_done(e);
      break;
    }
    case EV_COMPAT:
      if (!fatal_) {
        auto link = read_link("/proc/" + std::to_string(tid) + "/exe");
        fatal_ = bad_input("trace", link ? *link : std::string(),
                           "32-bit programs are not supported (a syscall used the 32-bit ABI); "
                           "the traced program was stopped");
        signal_tree(SIGKILL);
      }
      (void)tgid;
      break;
    default:
      break;
  }
}

void BpfTracer::handle_exit(const ev_exit& e, std::string_view exit_fields) {
  pid_t tid = static_cast<pid_t>(e.h.tid);
  auto it = pending_.find(tid);
  if (it == pending_.end()) return;
  std::string enter = std::move(it->second);
  pending_.erase(it);
  ev_enter en;
  std::memcpy(&en, enter.data(), sizeof en);
  // -ERESTARTSYS and friends: interrupted by a signal; the call is made again and recorded then.
  if (e.ret <= -512 && e.ret >= -516) return;
  if (en.nr >= row_of_nr_.size()) return;
  std::size_t row_index = row_of_nr_[en.nr];
  if (row_index == rows_.size()) return;
  // The exit of the call entered. (A successful execveat returns as execve on x86-64.)
  bool is_exec = rows_[row_index].op == Op::Execve || rows_[row_index].op == Op::Execveat;
  if (en.nr != e.nr && !(is_exec && execs_.contains(tid))) return;
  std::array<std::uint64_t, 6> args;
  std::copy(std::begin(en.args), std::end(en.args), args.begin());
  const SyscallRow& row = rows_[row_index];
  std::optional<ExecInfo> exec;
  if (is_exec) {
    auto found = execs_.find(tid);
    if (found != execs_.end()) {
      if (e.ret == 0) exec = std::move(found->second);
      execs_.erase(found);
    }
  }
  complete(tid, static_cast<pid_t>(e.h.tgid), row, row.name, args, en.aux,
           std::string_view(enter).substr(sizeof en), exit_fields, static_cast<long>(e.ret), exec ? &*exec : nullptr);
}

void BpfTracer::handle_uring_done(const ev_uring_done& done) {
  auto it = uring_.find(done.req);
  if (it == uring_.end()) return;
  std::string rec = std::move(it->second);
  uring_.erase(it);
  ev_uring u;
  std::memcpy(&u, rec.data(), sizeof u);
  bool statx = u.opcode == 21;  // IORING_OP_STATX
  std::optional<std::size_t> row = statx ? statx_row_ : openat_row_;
  if (!row) return;
  // The request as the syscall it stands for: openat(dfd, path, flags), statx(dfd, path, flags).
  std::array<std::uint64_t, 6> args{};
  args[0] = static_cast<std::uint64_t>(u.dfd);
  args[1] = 1;  // a path was given (the kernel side copied it)
  args[2] = u.flags;
  static constexpr std::string_view kOpenat = "io_uring_openat", kStatx = "io_uring_statx";
  complete(static_cast<pid_t>(u.h.tid), static_cast<pid_t>(u.h.tgid), rows_[*row], statx ? kStatx : kOpenat, args, 0,
           std::string_view(rec).substr(sizeof u), {}, static_cast<long>(done.res));
}

void BpfTracer::complete(pid_t tid, pid_t tgid, const SyscallRow& row, std::string_view name,
                         const std::array<std::uint64_t, 6>& args, std::uint64_t how, std::string_view fields,
                         std::string_view exit_fields, long ret, const ExecInfo* exec) {
  RecordArgs source(row, args, how);
  for (const Field& f : parse_fields(fields)) source.add(f);
  for (const Field& f : parse_fields(exit_fields)) source.add(f);
  if (exec) {
    std::string argv = exec->argv.substr(0, exec->argv_len);
    if (!argv.empty() && argv.back() == '\0') argv.pop_back();
    source.exec_done(exec->filename, std::move(argv), row.op == Op::Execveat && (args[4] & AT_EMPTY_PATH));
  }
  Described d = describe(row, args, source);
  if (!d.note.empty()) recorder_.note(tid, tgid, name, std::move(d.note));
  bool ok = ret >= 0;
  int err = ok ? 0 : static_cast<int>(-ret);
  if (d.exec) {
    std::size_t idx = recorder_.begin_exec(tgid, std::move(*d.exec));
    recorder_.finish_exec(tid, tgid, idx, name, ok, err, launch_);
    return;
  }
  for (const Access& a : d.accesses) recorder_.record(tid, tgid, name, a, ok, true, err);
  if (d.socket && ok && source.socket()) recorder_.socket(*d.socket, *source.socket());
}

}  // namespace

Result<TraceLog> run_bpf(const TraceOptions& options, std::string* unavailable) {
  TraceLog log;
  Status st = Ok{};
  {
    BpfTracer t(options, log);
    std::string why;
    st = t.load(&why);
    if (!st) {
      *unavailable = why;
      return st.error();
    }
    st = t.run();
  }  // ~BpfTracer kills what is left and detaches
  if (!st) return st.error();
  return log;
}

}  // namespace minify::tracer

namespace minify {

std::optional<LibraryVersion> libbpf_version() {
  return LibraryVersion{"libbpf", std::to_string(LIBBPF_MAJOR_VERSION) + "." + std::to_string(LIBBPF_MINOR_VERSION),
                        libbpf_version_string(), {}};
}

}  // namespace minify
