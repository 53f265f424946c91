// Tracer stress tests: many short-lived processes, many threads at once, a program that
// forks while it is being killed, group stops, setuid programs and programs that use ptrace
// themselves. Each scenario is a small C program compiled at test time and traced; each checks
// that no event was lost, the exit status is the program's, nothing the program started outlived
// the trace, and the trace ended (a watchdog fails the test instead of letting it hang CI).
//
// Every scenario runs under both tracers (ptrace, eBPF), the eBPF runs skipping where it cannot
// run; the ptrace-in-a-tracee scenarios have each tracer's own expectations.
//
// Leftovers are found by an environment tag: every traced program and its descendants inherit
// MINIFY_STRESS_TAG=<unique>, and after the trace no live process may carry it (pids alone could
// be reused meanwhile by the rest of the machine).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "backend_param.hpp"
#include "minify/trace.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using namespace minify::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kTagVar = "MINIFY_STRESS_TAG";

struct TaggedProcess {
  pid_t pid = 0;
  char state = '?';
  std::string comm;
};

// Live (not zombie) processes whose environment holds kTagVar=tag.
std::vector<TaggedProcess> tagged_processes(const std::string& tag) {
  std::string needle = std::string(kTagVar) + "=" + tag;
  std::vector<TaggedProcess> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = static_cast<pid_t>(std::atoi(name.c_str()));
    if (pid == ::getpid()) continue;
    std::string env = read_file(entry.path() / "environ");
    bool tagged = false;
    for (std::size_t i = 0; i < env.size();) {
      std::size_t end = env.find('\0', i);
      if (end == std::string::npos) end = env.size();
      if (env.compare(i, end - i, needle) == 0) tagged = true;
      i = end + 1;
    }
    if (!tagged) continue;
    std::string stat = read_file(entry.path() / "stat");
    std::size_t open = stat.find('('), close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;  // gone meanwhile
    char state = stat[close + 2];
    if (state == 'Z' || state == 'X') continue;
    out.push_back({pid, state, stat.substr(open + 1, close - open - 1)});
  }
  return out;
}

std::string describe(const std::vector<TaggedProcess>& procs) {
  std::string s;
  for (const auto& p : procs) s += std::to_string(p.pid) + " " + p.state + " " + p.comm + "\n";
  return s;
}

// Ends the test process (a failure) if the scenario is still running after `limit`, after
// listing and killing the tagged processes: a hang must fail the test, not stall CI until
// CTest's own timeout. Generous on purpose: it catches hangs, it doesn't time the tracer.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, std::string tag) : tag_(std::move(tag)) {
    // The watchdog thread must not take the tracer's signals (SIGALRM tick, forwarded SIGTERM).
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    thread_ = std::thread([this, limit] {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
      auto left = tagged_processes(tag_);
      std::fprintf(stderr, "watchdog: the scenario is still running after %lld s; its processes:\n%s",
                   static_cast<long long>(limit.count()), describe(left).c_str());
      for (const auto& p : left) ::kill(p.pid, SIGKILL);
      std::fflush(stderr);
      std::_Exit(124);
    });
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::string tag_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Opens argv[1] for reading; exits 0 when that worked.
constexpr const char* kOpener = R"(
#include <fcntl.h>
int main(int argc, char** argv) { return argc > 1 && open(argv[1], O_RDONLY) >= 0 ? 0 : 1; }
)";

class StressTest : public ::testing::TestWithParam<TracerBackend> {
 protected:
  void SetUp() override {
    MINIFY_SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
    if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
    dir_ = fs::canonical(tmp_.path());
    std::random_device rd;
    tag_ = std::to_string(::getpid()) + "-" + std::to_string(rd()) + std::to_string(rd());
  }

  void TearDown() override {
    // Whatever a failed scenario left running must not outlive it.
    for (const auto& p : tagged_processes(tag_)) ::kill(p.pid, SIGKILL);
  }

  std::string build(const std::string& name, const std::string& source, const std::vector<std::string>& args = {}) {
    fs::path out = dir_ / name;
    std::string err = compile_c(out, source, args);
    EXPECT_EQ(err, "") << "compiling " << name;
    return out.string();
  }

  std::string file(const std::string& rel, const std::string& contents = "x") {
    write_file(dir_ / rel, contents);
    return (dir_ / rel).string();
  }

  // Traces argv with the tag in its environment under a watchdog. opt.timeout, when the
  // scenario doesn't set one, is a second hang guard (the test then fails on stopped_by).
  bool ptrace() const { return GetParam() == TracerBackend::Ptrace; }
  std::string tracer_name() const { return std::string(tracer_backend_name(GetParam())); }

  TraceLog trace(const std::vector<std::string>& argv, TraceOptions opt = {}) {
    opt.command = argv;
    opt.tracer = GetParam();
    if (!opt.timeout) opt.timeout = milliseconds(60'000);
    Watchdog dog(seconds(90), tag_);
    ::setenv(kTagVar, tag_.c_str(), 1);
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_trace(opt);
    took_ = std::chrono::steady_clock::now() - t0;
    ::unsetenv(kTagVar);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? std::move(*r) : TraceLog{};
  }

  // `minify trace` itself, with the tag, under a watchdog.
  RunResult trace_cli(std::vector<std::string> args) {
    args.insert(args.begin(), {minify_bin(), "trace", "--tracer", tracer_name()});
    Watchdog dog(seconds(90), tag_);
    return run(args, {std::string(kTagVar) + "=" + tag_});
  }

  void expect_no_leftovers() {
    auto left = tagged_processes(tag_);
    EXPECT_TRUE(left.empty()) << "still running after the trace:\n" << describe(left);
  }

  static bool has(const TraceLog& log, const std::string& path, AccessKind kind, bool succeeded = true) {
    auto it = log.paths.find(path);
    if (it == log.paths.end()) return false;
    return succeeded ? it->second.succeeded.has(kind) : it->second.access.has(kind);
  }

  // Paths under dir_ that start with `prefix`, each with how many events named it.
  static std::map<std::string, int> count_events(const std::vector<TraceEvent>& events, const std::string& prefix) {
    std::map<std::string, int> n;
    for (const auto& e : events)
      if (e.path.compare(0, prefix.size(), prefix) == 0) ++n[e.path];
    return n;
  }

  double took_seconds() const { return std::chrono::duration<double>(took_).count(); }

  TempDir tmp_;
  fs::path dir_;
  std::string tag_;
  std::chrono::steady_clock::duration took_{};
};

// ---- Many processes, many threads ----------------------------------------------------------

TEST_P(StressTest, ThousandShortLivedProcessesEachOpenAFile) {
  constexpr int kChildren = 1000;
  for (int i = 0; i < kChildren; ++i) file("f/f-" + std::to_string(i));
  std::string opener = build("opener", kOpener);
  // Every 10th child execs the opener instead of opening the file itself. At most 64 children
  // live at once, like a build running short compiler processes.
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static int bad;
static void reap(void) {
  int st;
  if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) ++bad;
}
int main(int argc, char** argv) {
  int n = atoi(argv[2]), live = 0;
  for (int i = 0; i < n; ++i) {
    char path[4096];
    snprintf(path, sizeof path, "%s/f-%d", argv[1], i);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      if (i % 10 == 0) { execl(argv[3], argv[3], path, (char*)0); _exit(126); }
      int fd = open(path, O_RDONLY);
      _exit(fd < 0);
    }
    if (++live == 64) { reap(); --live; }
  }
  for (; live > 0; --live) reap();
  return bad ? 1 : 42;
}
)");
  std::vector<TraceEvent> events;
  TraceOptions opt;
  opt.on_event = [&](const TraceEvent& e) { events.push_back(e); };
  TraceLog log = trace({prog, (dir_ / "f").string(), std::to_string(kChildren), opener}, opt);
  std::printf("%d processes in %.2f s, %llu ptrace stops, %llu eBPF records\n", log.process_count, took_seconds(),
              static_cast<unsigned long long>(log.stats.ptrace_stops), static_cast<unsigned long long>(log.stats.events));
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.exit.shell_status(), 42);
  EXPECT_EQ(log.process_count, kChildren + 1);
  // Exactly one event per file: none lost, none doubled.
  auto seen = count_events(events, (dir_ / "f" / "f-").string());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kChildren));
  for (int i = 0; i < kChildren; ++i) {
    std::string path = (dir_ / "f" / ("f-" + std::to_string(i))).string();
    EXPECT_EQ(seen[path], 1) << path;
    EXPECT_TRUE(has(log, path, AccessKind::Read)) << path;
  }
  std::size_t opener_execs = std::count_if(log.execs.begin(), log.execs.end(), [&](const ExecRecord& e) {
    return e.path == opener && e.succeeded;
  });
  EXPECT_EQ(opener_execs, static_cast<std::size_t>(kChildren / 10));
  expect_no_leftovers();
}

TEST_P(StressTest, TwoHundredThreadsOpenFilesAtOnce) {
  constexpr int kThreads = 200;
  for (int i = 1; i < kThreads; i += 2) file("t/t-" + std::to_string(i));
  // A barrier releases every thread at once; odd threads open an existing file for reading
  // (recorded at the seccomp stop), even ones create a file (recorded at the syscall exit).
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#define N 200
static const char* dir;
static pthread_barrier_t go;
static void* run(void* p) {
  long i = (long)p;
  char path[4096];
  pthread_barrier_wait(&go);
  int fd;
  if (i % 2) {
    snprintf(path, sizeof path, "%s/t-%ld", dir, i);
    fd = open(path, O_RDONLY);
  } else {
    snprintf(path, sizeof path, "%s/new-%ld", dir, i);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  }
  if (fd >= 0) close(fd);
  return (void*)(long)(fd < 0);
}
int main(int argc, char** argv) {
  pthread_t t[N];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  dir = argv[1];
  pthread_barrier_init(&go, 0, N);
  for (long i = 0; i < N; ++i)
    if (pthread_create(&t[i], &attr, run, (void*)i) != 0) return 2;
  long bad = 0;
  for (int i = 0; i < N; ++i) { void* r; pthread_join(t[i], &r); bad += (long)r; }
  return bad ? 1 : 43;
}
)",
                           {"-pthread"});
  std::vector<TraceEvent> events;
  TraceOptions opt;
  opt.on_event = [&](const TraceEvent& e) { events.push_back(e); };
  TraceLog log = trace({prog, (dir_ / "t").string()}, opt);
  std::printf("%d threads in %.2f s\n", log.thread_count, took_seconds());
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.exit.shell_status(), 43);
  EXPECT_EQ(log.thread_count, kThreads + 1);
  EXPECT_EQ(log.process_count, 1);
  auto seen = count_events(events, (dir_ / "t").string() + "/");
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads));
  for (int i = 0; i < kThreads; ++i) {
    bool reader = i % 2 == 1;
    std::string path = (dir_ / "t" / ((reader ? "t-" : "new-") + std::to_string(i))).string();
    EXPECT_EQ(seen[path], 1) << path;
    EXPECT_TRUE(has(log, path, reader ? AccessKind::Read : AccessKind::Create)) << path;
  }
  expect_no_leftovers();
}

// ---- Forking while being killed ------------------------------------------------------------

// Five processes fork without end (a fork every 2 ms each, so the machine's pids last); every
// 4th child stays, ignoring SIGTERM like its parent. The timeout's SIGKILL lands while forks are
// in flight: a child the kernel created just before its parent died must not be left running
// (and the trace waiting for it).
TEST_P(StressTest, ForkLoopKilledByTimeout) {
  std::string prog = build("prog", R"(
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static void forker(void) {
  struct timespec pace = {0, 2000000};
  for (long i = 0;; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      if (i % 4 == 0) for (;;) pause();
      _exit(0);
    }
    while (waitpid(-1, 0, WNOHANG) > 0) {}
    nanosleep(&pace, 0);
  }
}
int main(void) {
  signal(SIGTERM, SIG_IGN);
  for (int i = 0; i < 4; ++i)
    if (fork() == 0) forker();
  forker();
}
)");
  TraceOptions opt;
  opt.timeout = milliseconds(500);
  opt.grace = milliseconds(300);
  TraceLog log = trace({prog}, opt);
  std::printf("%d processes, stopped after %.2f s\n", log.process_count, took_seconds());
  EXPECT_EQ(log.stopped_by, StopReason::Timeout);
  EXPECT_TRUE(log.exit.signaled);
  EXPECT_EQ(log.exit.signal, SIGKILL);
  EXPECT_GT(log.process_count, 5);
  expect_no_leftovers();
}

// The parent forks without end until its 100th child SIGKILLs it; the children that are still
// running then are orphans, traced until they exit.
TEST_P(StressTest, ParentKilledByItsChildWhileForking) {
  for (int i = 0; i <= 100; ++i) file("k/k-" + std::to_string(i));
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  pid_t parent = getpid();
  for (long i = 0;; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      char path[4096];
      snprintf(path, sizeof path, "%s/k-%ld", argv[1], i);
      int fd = open(path, O_RDONLY);
      if (i == 100) kill(parent, SIGKILL);
      _exit(fd < 0);
    }
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
}
)");
  std::vector<TraceEvent> events;
  TraceOptions opt;
  opt.on_event = [&](const TraceEvent& e) { events.push_back(e); };
  TraceLog log = trace({prog, (dir_ / "k").string()}, opt);
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_TRUE(log.exit.signaled);
  EXPECT_EQ(log.exit.signal, SIGKILL);
  EXPECT_EQ(log.exit.shell_status(), 137);
  EXPECT_GE(log.process_count, 102);
  auto seen = count_events(events, (dir_ / "k" / "k-").string());
  for (int i = 0; i <= 100; ++i) {
    std::string path = (dir_ / "k" / ("k-" + std::to_string(i))).string();
    EXPECT_EQ(seen[path], 1) << path;
  }
  expect_no_leftovers();
}

// The command line's statuses for the same two ends: 137 and a "killed" line for a program
// that died of SIGKILL, 0 when minify stopped it itself (--timeout).
TEST_P(StressTest, CliExitStatusWhenKilledWhileForking) {
  std::string prog = build("prog", R"(
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  pid_t parent = getpid();
  int killer = atoi(argv[1]);
  signal(SIGTERM, SIG_IGN);
  for (long i = 0;; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      if (i == killer) kill(parent, SIGKILL);
      _exit(0);
    }
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
}
)");
  RunResult killed = trace_cli({"-o", (dir_ / "a.json").string(), "--", prog, "50"});
  EXPECT_EQ(killed.status, 137) << killed.err;
  EXPECT_NE(killed.err.find("was killed by signal 9 (SIGKILL)"), std::string::npos) << killed.err;
  expect_no_leftovers();

  RunResult timed_out =
      trace_cli({"-o", (dir_ / "b.json").string(), "--timeout", "300ms", "--grace", "200ms", "--", prog, "-1"});
  EXPECT_EQ(timed_out.status, 0) << timed_out.err;
  auto j = nlohmann::json::parse(read_file(dir_ / "b.json"));
  EXPECT_EQ(j["stopped_by"], "timeout");
  expect_no_leftovers();
}

// ---- Group stops ---------------------------------------------------------------------------

// Twenty children each stop themselves ten times; the parent sees every stop with
// waitpid(WUNTRACED) and continues it. A swallowed stop shows as a wrong count, a stop the
// tracer never lets go of as a hang.
TEST_P(StressTest, ManyStopsAndContinuesAreAllSeenByTheParent) {
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#define KIDS 20
#define ROUNDS 10
int main(int argc, char** argv) {
  pid_t kids[KIDS];
  for (int c = 0; c < KIDS; ++c) {
    kids[c] = fork();
    if (kids[c] < 0) return 2;
    if (kids[c] == 0) {
      for (int r = 0; r < ROUNDS; ++r) {
        raise(SIGSTOP);
        char path[4096];
        snprintf(path, sizeof path, "%s/s-%d-%d", argv[1], c, r);
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        if (fd < 0) _exit(1);
        close(fd);
      }
      _exit(0);
    }
  }
  int stops[KIDS] = {0}, bad = 0, left = KIDS;
  while (left > 0) {
    int st;
    pid_t pid = waitpid(-1, &st, WUNTRACED | WCONTINUED);
    if (pid < 0) return 3;
    int c = 0;
    while (c < KIDS && kids[c] != pid) ++c;
    if (c == KIDS) return 4;
    if (WIFSTOPPED(st)) {
      if (WSTOPSIG(st) != SIGSTOP) ++bad;
      ++stops[c];
      kill(pid, SIGCONT);
    } else if (!WIFCONTINUED(st)) {
      --left;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++bad;
    }
  }
  for (int c = 0; c < KIDS; ++c)
    if (stops[c] != ROUNDS) ++bad;
  return bad ? 1 : 44;
}
)");
  fs::create_directories(dir_ / "s");
  std::vector<TraceEvent> events;
  TraceOptions opt;
  opt.on_event = [&](const TraceEvent& e) { events.push_back(e); };
  TraceLog log = trace({prog, (dir_ / "s").string()}, opt);
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.exit.shell_status(), 44);
  auto seen = count_events(events, (dir_ / "s" / "s-").string());
  EXPECT_EQ(seen.size(), 200u);
  for (const auto& [path, n] : seen) EXPECT_EQ(n, 1) << path;
  expect_no_leftovers();
}

// A group stop stops every thread: while the parent sees the child stopped, none of its four
// threads (busy opening a file, so busy stopping at seccomp events) may run, and after SIGCONT
// they all run again.
TEST_P(StressTest, GroupStopHoldsEveryThread) {
  std::string data = file("busy.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
struct shared { atomic_long count[4]; atomic_int quit; };
static struct shared* sh;
static const char* file;
static void* spin(void* p) {
  long i = (long)p;
  while (!atomic_load(&sh->quit)) {
    atomic_fetch_add(&sh->count[i], 1);
    int fd = open(file, O_RDONLY);
    if (fd >= 0) close(fd);
  }
  return p;
}
static void nap(long ms) { struct timespec ts = {ms / 1000, (ms % 1000) * 1000000}; nanosleep(&ts, 0); }
static long total(void) { long n = 0; for (int i = 0; i < 4; ++i) n += atomic_load(&sh->count[i]); return n; }
int main(int argc, char** argv) {
  file = argv[1];
  sh = mmap(0, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t t[4];
    for (long i = 0; i < 4; ++i) pthread_create(&t[i], 0, spin, (void*)i);
    for (int i = 0; i < 4; ++i) while (atomic_load(&sh->count[i]) < 10) nap(1);
    raise(SIGSTOP);
    for (int i = 0; i < 4; ++i) pthread_join(t[i], 0);
    _exit(0);
  }
  int st;
  if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) return 10;
  long before = total();
  nap(100);
  if (total() != before) return 11;              /* a thread ran during the group stop */
  kill(pid, SIGCONT);
  long seen[4];
  for (int i = 0; i < 4; ++i) seen[i] = atomic_load(&sh->count[i]);
  for (int i = 0; i < 4; ++i)                    /* every thread runs again (5 s at most) */
    for (int ms = 0; atomic_load(&sh->count[i]) == seen[i]; ++ms) {
      if (ms == 5000) return 12;
      nap(1);
    }
  atomic_store(&sh->quit, 1);
  if (waitpid(pid, &st, 0) != pid) return 13;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 45 : 14;
}
)",
                           {"-pthread"});
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.exit.shell_status(), 45);
  EXPECT_EQ(log.thread_count, 6);
  EXPECT_TRUE(has(log, data, AccessKind::Read));
  expect_no_leftovers();
}

// A process stopped with nobody to continue it (here: the root process itself, and a child
// whose parent waits without WUNTRACED) keeps the program alive; --timeout must still end it,
// which takes a SIGCONT after the SIGTERM.
TEST_P(StressTest, StoppedForeverEndsAtTheTimeout) {
  std::string prog = build("prog", R"(
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (strcmp(argv[1], "self") == 0) raise(SIGSTOP);
  pid_t pid = fork();
  if (pid == 0) { raise(SIGSTOP); _exit(0); }
  int st;
  waitpid(pid, &st, 0);
  return 0;
}
)");
  for (const char* who : {"self", "child"}) {
    TraceOptions opt;
    opt.timeout = milliseconds(300);
    opt.grace = milliseconds(2000);
    TraceLog log = trace({prog, who}, opt);
    EXPECT_EQ(log.stopped_by, StopReason::Timeout) << who;
    EXPECT_TRUE(log.exit.signaled) << who;
    EXPECT_EQ(log.exit.signal, SIGTERM) << who << ": SIGTERM reached the stopped process";
    expect_no_leftovers();
  }
}

// ---- Setuid programs -----------------------------------------------------------------------

// Exits 0 when running with effective uid argv[1] and argv[2] opens for reading.
constexpr const char* kIdProbe = R"(
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (geteuid() != (uid_t)atoi(argv[1])) return 2;
  return open(argv[2], O_RDONLY) < 0 ? 3 : 0;
}
)";

// Drops to uid and gid 65534 (opening argv[1] on the way), then execs argv[2...].
constexpr const char* kDropper = R"(
#include <fcntl.h>
#include <grp.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (setgroups(0, 0) || setgid(65534) || setuid(65534)) return 20;
  if (getuid() != 65534 || geteuid() != 65534) return 21;
  if (open(argv[1], O_RDONLY) < 0) return 23;
  execv(argv[2], argv + 2);
  return 22;
}
)";

class StressSetuidTest : public StressTest {
 protected:
  void SetUp() override {
    StressTest::SetUp();
    if (IsSkipped()) return;
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make setuid files";
    // uid 65534 must be able to reach the programs, also while its gid is still root's.
    fs::permissions(dir_, fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::add);
    for (fs::path p = dir_.parent_path(); p != p.root_path(); p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0 || !(st.st_mode & S_IXOTH)) {
        GTEST_SKIP() << p << " is not searchable by other users";
      }
    }
    probe_ = build("idprobe", kIdProbe);
  }

  // A copy of the probe owned by uid:uid with mode 4755.
  std::string setuid_copy(const std::string& name, uid_t uid) {
    fs::path p = dir_ / name;
    fs::copy_file(probe_, p);
    EXPECT_EQ(::chown(p.c_str(), uid, uid), 0);
    EXPECT_EQ(::chmod(p.c_str(), 04755), 0);
    return p.string();
  }

  std::string probe_;
};

// Traced by root, a setuid program runs with its owner's uid exactly as it would untraced
// (the kernel honours setuid for a tracee whose tracer has CAP_SYS_PTRACE), and its exec and
// files are recorded like any other.
TEST_P(StressSetuidTest, RootTraceeExecsSetuidProgramOfAnotherUser) {
  std::string suid = setuid_copy("suid-nobody", 65534);
  std::string data = file("public.txt");
  fs::permissions(data, fs::perms::others_read, fs::perm_options::add);
  RunResult untraced = run({suid, "65534", data});
  if (untraced.status == 2) GTEST_SKIP() << "setuid bits are not honoured here (nosuid mount?)";
  ASSERT_EQ(untraced.status, 0);
  TraceLog log = trace({suid, "65534", data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  ASSERT_EQ(log.execs.size(), 1u);
  EXPECT_TRUE(log.execs[0].succeeded);
  EXPECT_TRUE(has(log, suid, AccessKind::Exec));
  EXPECT_TRUE(has(log, data, AccessKind::Read));
  expect_no_leftovers();
}

// A tracee that dropped to an unprivileged user execs a setuid-root program: it gains root
// (it can read a root-only file) exactly as it would untraced.
TEST_P(StressSetuidTest, UnprivilegedTraceeExecsSetuidRootProgram) {
  std::string suid = setuid_copy("suid-root", 0);
  std::string dropper = build("dropper", kDropper);
  std::string secret = file("secret.txt");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  std::string public_file = file("public.txt");
  fs::permissions(public_file, fs::perms::others_read, fs::perm_options::add);
  RunResult untraced = run({dropper, public_file, suid, "0", secret});
  if (untraced.status == 2) GTEST_SKIP() << "setuid bits are not honoured here (nosuid mount?)";
  ASSERT_EQ(untraced.status, 0);
  TraceLog log = trace({dropper, public_file, suid, "0", secret});
  EXPECT_EQ(log.exit.shell_status(), 0);
  ASSERT_EQ(log.execs.size(), 2u);
  EXPECT_EQ(log.execs[1].path, suid);
  EXPECT_TRUE(log.execs[1].succeeded);
  EXPECT_TRUE(has(log, public_file, AccessKind::Read));  // opened as uid 65534
  EXPECT_TRUE(has(log, secret, AccessKind::Read));       // opened as root again
  expect_no_leftovers();
}

// The tracer decides whether a lookup succeeded by checking the path itself, as root; a tracee
// that dropped to uid 65534 gets EACCES on a root-only file, and that is what must be recorded.
TEST_P(StressSetuidTest, LookupsOfAnUnprivilegedTraceeAreItsOwn) {
  std::string dropper = build("dropper", kDropper);
  std::string secret = file("secret.txt");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  TraceLog log = trace({dropper, secret, "/bin/true"});
  EXPECT_EQ(log.exit.shell_status(), 23);  // the dropper's "open failed"
  EXPECT_TRUE(has(log, secret, AccessKind::Read, false));
  EXPECT_FALSE(has(log, secret, AccessKind::Read)) << "recorded as read though the open failed";
  expect_no_leftovers();
}

// minify run by an unprivileged user traces with no_new_privs set (a seccomp filter needs it
// without CAP_SYS_ADMIN) and as an unprivileged tracer: the kernel ignores setuid bits then, so
// the program runs with the caller's uid. The trace still completes and records the exec.
TEST_P(StressSetuidTest, UnprivilegedMinifyRunsSetuidProgramWithoutPrivilege) {
  if (!have_program("setpriv")) GTEST_SKIP() << "no setpriv";
  std::string suid = setuid_copy("suid-root", 0);
  std::string data = file("public.txt");
  fs::permissions(data, fs::perms::others_read, fs::perm_options::add);
  std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  auto with = [&](std::vector<std::string> tail) {
    std::vector<std::string> v = as_nobody;
    v.insert(v.end(), tail.begin(), tail.end());
    return v;
  };
  RunResult untraced = run(with({suid, "0", data}));
  if (untraced.status == 2) GTEST_SKIP() << "setuid bits are not honoured here (nosuid mount?)";
  ASSERT_EQ(untraced.status, 0) << untraced.err;
  RunResult traced = run(with({minify_bin(), "trace", "--tracer", tracer_name(), "-o", "-", "--", suid, "65534", data}),
                         {std::string(kTagVar) + "=" + tag_});
  if (!ptrace()) {
    // eBPF needs CAP_BPF and CAP_PERFMON: an unprivileged user is told so in one line.
    EXPECT_EQ(traced.status, 1) << traced.err;
    EXPECT_NE(traced.err.find("CAP_BPF"), std::string::npos) << traced.err;
    EXPECT_EQ(std::count(traced.err.begin(), traced.err.end(), '\n'), 1) << traced.err;
    RunResult fallback = run(with({minify_bin(), "trace", "-o", "-", "--", suid, "65534", data}),
                             {std::string(kTagVar) + "=" + tag_});
    EXPECT_EQ(fallback.status, 0) << fallback.err;
    EXPECT_NE(fallback.err.find("using ptrace: the eBPF tracer is not available"), std::string::npos) << fallback.err;
    return;
  }
  if (traced.status == 126 || traced.err.find("minify: error") != std::string::npos)
    GTEST_SKIP() << "minify cannot run as uid 65534 here: " << traced.err;
  EXPECT_EQ(traced.status, 0) << traced.err;
  auto j = nlohmann::json::parse(traced.out);
  EXPECT_EQ(j["paths"][data]["succeeded"], true);
  expect_no_leftovers();
}

// ---- Programs that use ptrace themselves ---------------------------------------------------

// What a debugger does, with minify already attached: PTRACE_TRACEME in itself and in a child,
// PTRACE_ATTACH and PTRACE_SEIZE on a child. Each gets EPERM (a task has one tracer) and the
// program's own error path runs.
TEST_P(StressTest, TraceeThatUsesPtraceGetsEperm) {
  if (!ptrace()) GTEST_SKIP() << "the eBPF tracer does not ptrace: a tracee's ptrace works as untraced";
  std::string data = file("after.txt");
  std::string prog = build("prog", R"(
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int bad = 0, p[2];
  errno = 0;
  if (ptrace(PTRACE_TRACEME, 0, 0, 0) != -1 || errno != EPERM) bad |= 1;
  if (pipe(p) != 0) return 2;
  pid_t kid = fork();
  if (kid == 0) {
    errno = 0;
    char ok = ptrace(PTRACE_TRACEME, 0, 0, 0) == -1 && errno == EPERM;
    write(p[1], &ok, 1);
    for (;;) pause();
  }
  char ok = 0;
  if (read(p[0], &ok, 1) != 1 || !ok) bad |= 2;
  errno = 0;
  if (ptrace(PTRACE_ATTACH, kid, 0, 0) != -1 || errno != EPERM) bad |= 4;
  errno = 0;
  if (ptrace(PTRACE_SEIZE, kid, 0, 0) != -1 || errno != EPERM) bad |= 8;
  kill(kid, SIGKILL);
  int st;
  if (waitpid(kid, &st, 0) != kid || !WIFSIGNALED(st)) bad |= 16;
  if (open(argv[1], O_RDONLY) < 0) bad |= 32;
  if (bad) fprintf(stderr, "bad %d\n", bad);
  return bad ? 1 : 46;
}
)");
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.exit.shell_status(), 46);
  EXPECT_TRUE(has(log, data, AccessKind::Read));
  expect_no_leftovers();
}

// A tracee that attaches to the tracer (gdb -p $PPID) would stop it, and the tracer could then
// never let the tracee past its next traced syscall: both would wait forever. It gets EPERM.
TEST_P(StressTest, TraceeCannotAttachToTheTracer) {
  if (!ptrace()) GTEST_SKIP() << "the eBPF tracer does not ptrace: nothing waits on a stopped tracer";
  std::string data = file("after.txt");
  std::string prog = build("prog", R"(
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  pid_t tracer = atoi(argv[2]);
  int bad = 0;
  for (int req = 0; req < 2; ++req) {
    errno = 0;
    long r = ptrace(req ? PTRACE_SEIZE : PTRACE_ATTACH, tracer, 0, 0);
    if (r == 0) {            /* it worked: let the tracer go again before anything else */
      waitpid(tracer, 0, __WALL);
      ptrace(PTRACE_DETACH, tracer, 0, 0);
      bad |= 1 << req;
    } else if (errno != EPERM) {
      bad |= 4 << req;
    }
  }
  if (open(argv[1], O_RDONLY) < 0) bad |= 16;
  if (bad) fprintf(stderr, "bad %d\n", bad);
  return bad ? 1 : 47;
}
)");
  TraceOptions opt;
  opt.timeout = milliseconds(20'000);
  TraceLog log = trace({prog, data, std::to_string(::getpid())}, opt);
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.exit.shell_status(), 47);
  EXPECT_TRUE(has(log, data, AccessKind::Read));
  expect_no_leftovers();
}

// Real debuggers under minify: under ptrace their PTRACE_TRACEME/PTRACE_SEIZE fails, they report
// it and exit; no stopped child may be left behind for the trace to wait on. Under eBPF they
// work as they do untraced, and what the debugged program did is in the trace too.
TEST_P(StressTest, StraceUnderTheTracerEnds) {
  if (!have_program("strace")) GTEST_SKIP() << "no strace";
  RunResult r = trace_cli({"-o", (dir_ / "trace.json").string(), "--", "strace", "-f", "-o", "/dev/null", "cat",
                           "/etc/hostname"});
  if (!ptrace()) {
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(read_file(dir_ / "trace.json"));
    EXPECT_EQ(j["paths"]["/etc/hostname"]["succeeded"], true);
    expect_no_leftovers();
    return;
  }
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_LT(r.status, 128) << "strace died of a signal: " << r.err;
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(read_file(dir_ / "trace.json"));
  EXPECT_FALSE(j["paths"].empty());
  expect_no_leftovers();
}

TEST_P(StressTest, GdbUnderTheTracerEnds) {
  if (!have_program("gdb")) GTEST_SKIP() << "no gdb";
  RunResult r = trace_cli({"-o", (dir_ / "trace.json").string(), "--", "gdb", "-nx", "-batch", "-ex", "run",
                           "--args", "true"});
  if (!ptrace()) {
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("exited normally"), std::string::npos) << r.out << r.err;
    expect_no_leftovers();
    return;
  }
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_LT(r.status, 128) << "gdb died of a signal: " << r.err;
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(read_file(dir_ / "trace.json"));
  EXPECT_EQ(j["stopped_by"], "none");
  expect_no_leftovers();
}

INSTANTIATE_TEST_SUITE_P(Tracers, StressTest, ::testing::Values(TracerBackend::Ptrace, TracerBackend::Bpf),
                         backend_test_name);
INSTANTIATE_TEST_SUITE_P(Tracers, StressSetuidTest, ::testing::Values(TracerBackend::Ptrace, TracerBackend::Bpf),
                         backend_test_name);

}  // namespace
}  // namespace minify
