// Tracer tests on real programs: each one compiles a small C program at test time (STYLE.md
// section 6, after ReproZip's tests/*.c), traces it with run_trace() and checks the TraceLog.
// Every test runs under both tracers (ptrace, eBPF); the eBPF runs skip where it cannot run.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "backend_param.hpp"
#include "minify/trace.hpp"
#include "support/fixture.hpp"
#include "support/net.hpp"

namespace minify {
namespace {

using namespace minify::testing;
using std::chrono::milliseconds;

// Opens argv[1] for reading; exits 0 when that worked.
constexpr const char* kOpener = R"(
#include <fcntl.h>
int main(int argc, char** argv) { return argc > 1 && open(argv[1], O_RDONLY) >= 0 ? 0 : 1; }
)";

class TracerTest : public ::testing::TestWithParam<TracerBackend> {
 protected:
  void SetUp() override {
    MINIFY_SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
    if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
    dir_ = fs::canonical(tmp_.path());
  }

  bool ptrace() const { return GetParam() == TracerBackend::Ptrace; }

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

  TraceLog trace(const std::vector<std::string>& argv, TraceOptions opt = {}) {
    opt.command = argv;
    opt.tracer = GetParam();
    if (!opt.timeout) opt.timeout = milliseconds(60'000);  // hang guard only
    auto r = run_trace(opt);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? std::move(*r) : TraceLog{};
  }

  static bool has(const TraceLog& log, const std::string& path, AccessKind kind, bool succeeded = true) {
    auto it = log.paths.find(path);
    if (it == log.paths.end()) return false;
    return succeeded ? it->second.succeeded.has(kind) : it->second.access.has(kind);
  }

  static std::string dump(const TraceLog& log) {
    std::string s;
    for (const auto& [p, u] : log.paths) {
      s += p + " [";
      for (auto k : u.access.kinds()) s += std::string(access_kind_name(k)) + (u.succeeded.has(k) ? "+ " : "- ");
      s += "]\n";
    }
    return s;
  }

  TempDir tmp_;
  fs::path dir_;
};

TEST_P(TracerTest, OpenRelativeToCwd) {
  std::string data = file("sub/data.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char** argv) { chdir(argv[1]); return open("sub/data.txt", O_RDONLY) < 0; }
)");
  TraceLog log = trace({prog, dir_.string()});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_TRUE(has(log, dir_.string(), AccessKind::Chdir)) << dump(log);
}

TEST_P(TracerTest, OpenRelativeToDirfd) {
  std::string data = file("d/data.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
int main(int argc, char** argv) {
  int d = open(argv[1], O_RDONLY | O_DIRECTORY);
  return openat(d, "data.txt", O_RDONLY) < 0;
}
)");
  TraceLog log = trace({prog, (dir_ / "d").string()});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_TRUE(has(log, (dir_ / "d").string(), AccessKind::List)) << dump(log);
}

TEST_P(TracerTest, ChdirAndFchdirMoveTheCwd) {
  std::string a = file("a.txt");
  std::string b = file("sub/b.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int d = open(argv[1], O_RDONLY | O_DIRECTORY);
  chdir("/");
  fchdir(d);
  int bad = open("a.txt", O_RDONLY) < 0;
  chdir("sub");
  bad |= open("b.txt", O_RDONLY) < 0;
  bad |= open("../a.txt", O_RDONLY) < 0;
  return bad;
}
)");
  TraceLog log = trace({prog, dir_.string()});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, a, AccessKind::Read)) << dump(log);
  EXPECT_TRUE(has(log, b, AccessKind::Read)) << dump(log);
  EXPECT_TRUE(has(log, dir_.string(), AccessKind::Chdir)) << dump(log);
  EXPECT_TRUE(has(log, (dir_ / "sub").string(), AccessKind::Chdir)) << dump(log);
}

TEST_P(TracerTest, FileOpenedByChildAfterFork) {
  std::string data = file("child.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  pid_t pid = fork();
  if (pid == 0) _exit(open(argv[1], O_RDONLY) < 0);
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}
)");
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_EQ(log.process_count, 2);
}

TEST_P(TracerTest, FileOpenedByThread) {
  std::string data = file("thread.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <pthread.h>
static void* run(void* p) { return (void*)(long)(open((const char*)p, O_RDONLY) < 0); }
int main(int argc, char** argv) {
  pthread_t t;
  void* r;
  pthread_create(&t, 0, run, argv[1]);
  pthread_join(t, &r);
  return (int)(long)r;
}
)",
                           {"-pthread"});
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_EQ(log.process_count, 1);
  EXPECT_GE(log.thread_count, 2);
}

TEST_P(TracerTest, VforkThenExec) {
  std::string data = file("v.txt");
  std::string opener = build("opener", kOpener);
  std::string prog = build("prog", R"(
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  pid_t pid = vfork();
  if (pid == 0) { execl(argv[1], "opener", argv[2], (char*)0); _exit(127); }
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}
)");
  TraceLog log = trace({prog, opener, data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_TRUE(has(log, opener, AccessKind::Exec)) << dump(log);
  ASSERT_EQ(log.execs.size(), 2u);
  EXPECT_EQ(log.execs[1].path, opener);
  EXPECT_EQ(log.execs[1].argv, (std::vector<std::string>{"opener", data}));
  EXPECT_TRUE(log.execs[1].succeeded);
  // A dynamic executable: the kernel mapped its ld.so, which no syscall names.
  ASSERT_EQ(log.execs[1].interpreters.size(), 1u);
  EXPECT_NE(log.execs[1].interpreters[0].find("ld-"), std::string::npos) << log.execs[1].interpreters[0];
  EXPECT_TRUE(has(log, log.execs[1].interpreters[0], AccessKind::Exec)) << dump(log);
  EXPECT_EQ(log.process_count, 2);
}

TEST_P(TracerTest, ShellScriptRunsThroughItsInterpreter) {
  if (!fs::exists("/bin/sh")) GTEST_SKIP() << "no /bin/sh";
  std::string data = file("script-data.txt");
  std::string opener = build("opener", kOpener);
  std::string script = file("script.sh", "#!/bin/sh\n" + opener + " " + data + "\n");
  fs::permissions(script, fs::perms::owner_all);
  TraceLog log = trace({script});
  EXPECT_EQ(log.exit.shell_status(), 0);
  ASSERT_GE(log.execs.size(), 2u);
  EXPECT_EQ(log.execs[0].path, script);
  ASSERT_GE(log.execs[0].interpreters.size(), 1u);
  EXPECT_EQ(log.execs[0].interpreters[0], "/bin/sh");
  EXPECT_TRUE(has(log, "/bin/sh", AccessKind::Exec)) << dump(log);
  EXPECT_TRUE(has(log, script, AccessKind::Exec)) << dump(log);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
}

TEST_P(TracerTest, ProgramThatExecsItself) {
  std::string data = file("self.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc > 2) return open(argv[2], O_RDONLY) < 0;
  execl(argv[0], argv[0], "again", argv[1], (char*)0);
  return 3;
}
)");
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  ASSERT_EQ(log.execs.size(), 2u);
  EXPECT_EQ(log.execs[0].path, prog);
  EXPECT_EQ(log.execs[1].path, prog);
  EXPECT_TRUE(log.execs[1].succeeded);
  EXPECT_EQ(log.execs[1].argv, (std::vector<std::string>{prog, "again", data}));
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_EQ(log.process_count, 1);
}

TEST_P(TracerTest, ExecveatWithEmptyPathRecordsTheFdsFile) {
  std::string data = file("at.txt");
  std::string opener = build("opener", kOpener);
  std::string prog = build("prog", R"(
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
extern char** environ;
int main(int argc, char** argv) {
  int fd = open(argv[1], O_PATH);
  char* args[] = {"opener", argv[2], 0};
  syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
  return 3;
}
)");
  TraceLog log = trace({prog, opener, data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  ASSERT_EQ(log.execs.size(), 2u);
  EXPECT_EQ(log.execs[1].path, opener);
  EXPECT_TRUE(log.execs[1].succeeded);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
}

TEST_P(TracerTest, ExecFromNonLeaderThread) {
  std::string data = file("nl.txt");
  std::string opener = build("opener", kOpener);
  std::string prog = build("prog", R"(
#include <pthread.h>
#include <unistd.h>
static char** args;
static void* run(void* p) { execl(args[1], "opener", args[2], (char*)0); return p; }
int main(int argc, char** argv) {
  pthread_t t;
  args = argv;
  pthread_create(&t, 0, run, 0);
  pthread_join(t, 0);
  return 3;
}
)",
                           {"-pthread"});
  TraceLog log = trace({prog, opener, data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  ASSERT_EQ(log.execs.size(), 2u);
  EXPECT_EQ(log.execs[1].path, opener);
  EXPECT_TRUE(log.execs[1].succeeded);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_EQ(log.process_count, 1);
}

TEST_P(TracerTest, FailedExecsAreMarkedFailed) {
  std::string not_exec = file("not-executable", "data");
  std::string opener = build("opener", kOpener);
  std::string prog = build("prog", R"(
#include <unistd.h>
int main(int argc, char** argv) {
  execl(argv[1], "x", (char*)0);    /* ENOENT */
  execl(argv[2], "x", (char*)0);    /* EACCES */
  execl(argv[3], "opener", argv[3], (char*)0);
  return 3;
}
)");
  std::string missing = (dir_ / "no-such-program").string();
  TraceLog log = trace({prog, missing, not_exec, opener});
  EXPECT_EQ(log.exit.shell_status(), 0);
  ASSERT_EQ(log.execs.size(), 4u);
  EXPECT_FALSE(log.execs[1].succeeded);
  EXPECT_FALSE(log.execs[2].succeeded);
  EXPECT_TRUE(log.execs[3].succeeded);
  EXPECT_TRUE(has(log, missing, AccessKind::Exec, false)) << dump(log);
  EXPECT_FALSE(log.used(missing));
  EXPECT_FALSE(log.used(not_exec));
  EXPECT_TRUE(has(log, opener, AccessKind::Exec)) << dump(log);
}

// The trace lasts until every traced process has exited, not just the command.
TEST_P(TracerTest, OrphanedChildIsTracedUntilItExits) {
  std::string data = file("late.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (fork() == 0) {
    struct timespec t = {0, 200 * 1000 * 1000};
    nanosleep(&t, 0);          /* the parent is long gone by now */
    _exit(open(argv[1], O_RDONLY) < 0);
  }
  return 5;
}
)");
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.exit.code, 5);
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.process_count, 2);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
}

TEST_P(TracerTest, SymlinkIsRecordedByTheNameUsed) {
  std::string target = file("target.txt");
  fs::create_symlink("target.txt", dir_ / "link.txt");
  std::string prog = build("prog", kOpener);
  TraceLog log = trace({prog, (dir_ / "link.txt").string()});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, (dir_ / "link.txt").string(), AccessKind::Read)) << dump(log);
  EXPECT_FALSE(log.paths.contains(target)) << dump(log);
}

TEST_P(TracerTest, FailedOpensAreMarkedFailed) {
  std::string data = file("present.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char** argv) {
  struct stat st;
  open(argv[1], O_RDONLY);
  stat(argv[1], &st);
  access(argv[1], R_OK);
  open(argv[2], O_RDONLY);
  open(argv[2], O_RDONLY | O_DIRECTORY);  /* not a directory: fails */
  return 0;
}
)");
  std::string missing = (dir_ / "missing.txt").string();
  for (bool exact : {false, true}) {
    TraceOptions opt;
    opt.exact_results = exact;
    TraceLog log = trace({prog, missing, data}, opt);
    SCOPED_TRACE(exact ? "exact" : "inferred");
    ASSERT_TRUE(log.paths.contains(missing)) << dump(log);
    EXPECT_TRUE(log.paths[missing].access.has(AccessKind::Read));
    EXPECT_TRUE(log.paths[missing].access.has(AccessKind::Stat));
    EXPECT_FALSE(log.paths[missing].any_succeeded()) << dump(log);
    EXPECT_FALSE(log.used(missing));
    EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
    EXPECT_TRUE(has(log, data, AccessKind::List, false)) << dump(log);
    EXPECT_FALSE(has(log, data, AccessKind::List, true)) << dump(log);
    if (exact && ptrace()) {
      EXPECT_GT(log.stats.exit_stops, 0u);
    }
  }
}

// /dev/fd/N and /proc/self name the tracee's own fds and process: fd 57 is open there, not in the
// tracer, and the file it reaches is what gets recorded.
TEST_P(TracerTest, SelfReferencesAreCheckedAsTheTracee) {
  std::string data = file("fd-target.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char** argv) {
  dup2(open(argv[1], O_RDONLY), 57);
  int ok = open("/dev/fd/57", O_RDONLY) >= 0;
  ok &= open("/proc/self/fd/57", O_RDONLY) >= 0;
  ok &= open("/proc/thread-self/fd/57", O_RDONLY) >= 0;
  ok &= open("/dev/fd/58", O_RDONLY) < 0;
  return !ok;
}
)");
  for (bool exact : {false, true}) {
    SCOPED_TRACE(exact ? "exact" : "inferred");
    TraceOptions opt;
    opt.exact_results = exact;
    TraceLog log = trace({prog, data}, opt);
    EXPECT_EQ(log.exit.shell_status(), 0);
    EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
    EXPECT_FALSE(log.paths.contains("/dev/fd/57")) << dump(log);
    EXPECT_FALSE(log.paths.contains("/proc/self/fd/57")) << dump(log);
    // No fd 58: nothing to follow, so the name stays and the open failed.
    EXPECT_TRUE(has(log, "/dev/fd/58", AccessKind::Read, false)) << dump(log);
    EXPECT_FALSE(log.used("/dev/fd/58")) << dump(log);
  }
}

// /proc/self/fd/N/NAME, /proc/PID/fd/N, /proc/self/cwd, /proc/self/root and /proc/self/exe reach
// files through the caller's tables as they are at the time of the call: the same fd number
// names another directory after dup2, and the trace has the real file each time.
TEST_P(TracerTest, ProcIndirectionsRecordTheRealPathAtTheTimeOfTheCall) {
  std::string a = file("A/a.txt"), b = file("B/b.txt"), b2 = file("B/b2.txt"), c = file("C/c.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char** argv) {
  char p[4096];
  struct stat st;
  int ok = 1;
  int fd = open(argv[1], O_RDONLY | O_DIRECTORY);
  snprintf(p, sizeof p, "/proc/self/fd/%d/a.txt", fd);
  ok &= open(p, O_RDONLY) >= 0;
  dup2(open(argv[2], O_RDONLY | O_DIRECTORY), fd);       /* the same number now names B */
  snprintf(p, sizeof p, "/proc/self/fd/%d/b.txt", fd);
  ok &= open(p, O_RDONLY) >= 0;
  snprintf(p, sizeof p, "/proc/%d/fd/%d/b2.txt", (int)getpid(), fd);
  ok &= open(p, O_RDONLY) >= 0;
  snprintf(p, sizeof p, "/dev/fd/%d/missing.txt", fd);
  ok &= open(p, O_RDONLY) < 0;
  ok &= chdir(argv[3]) == 0;
  ok &= open("/proc/self/cwd/c.txt", O_RDONLY) >= 0;
  ok &= stat("/proc/thread-self/cwd/c.txt", &st) == 0;
  snprintf(p, sizeof p, "/proc/self/root%s/a.txt", argv[1]);
  ok &= access(p, R_OK) == 0;
  ok &= open("/proc/self/exe", O_RDONLY) >= 0;
  return !ok;
}
)");
  for (bool exact : {false, true}) {
    SCOPED_TRACE(exact ? "exact" : "inferred");
    TraceOptions opt;
    opt.exact_results = exact;
    TraceLog log = trace({prog, (dir_ / "A").string(), (dir_ / "B").string(), (dir_ / "C").string()}, opt);
    EXPECT_EQ(log.exit.shell_status(), 0);
    EXPECT_TRUE(has(log, a, AccessKind::Read)) << dump(log);
    EXPECT_TRUE(has(log, a, AccessKind::Stat)) << dump(log);
    EXPECT_TRUE(has(log, b, AccessKind::Read)) << dump(log);
    EXPECT_TRUE(has(log, b2, AccessKind::Read)) << dump(log);
    EXPECT_FALSE(log.paths.contains((dir_ / "A/b.txt").string())) << dump(log);
    EXPECT_TRUE(has(log, (dir_ / "B/missing.txt").string(), AccessKind::Read, false)) << dump(log);
    EXPECT_FALSE(log.used((dir_ / "B/missing.txt").string()));
    EXPECT_TRUE(has(log, c, AccessKind::Read)) << dump(log);
    EXPECT_TRUE(has(log, c, AccessKind::Stat)) << dump(log);
    EXPECT_TRUE(has(log, prog, AccessKind::Read)) << dump(log);
    for (const auto& [path, use] : log.paths)
      EXPECT_FALSE(path.starts_with("/proc/self") || path.starts_with("/proc/thread-self") ||
                   path.find("/fd/") != std::string::npos)
          << path;
  }
}

// Opens argv[1] (absolute) and argv[3] relative to the directory argv[2] through io_uring
// (IORING_OP_OPENAT), or with openat() when io_uring_setup fails with ENOSYS. Exits 0 when both
// opens went through the ring, 1 when both went through the fallback, more on any failure.
constexpr const char* kIoUringOpener = R"(
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#define AT(base, off) ((unsigned*)((char*)(base) + (off)))
int main(int argc, char** argv) {
  int dir = open(argv[2], O_RDONLY | O_DIRECTORY);
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int ring = syscall(__NR_io_uring_setup, 4, &p);
  if (ring < 0) {
    if (errno != ENOSYS) return 3;
    return open(argv[1], O_RDONLY) >= 0 && openat(dir, argv[3], O_RDONLY) >= 0 ? 1 : 4;
  }
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (sq_size < cq_size) sq_size = cq_size;  /* one mapping serves both (IORING_FEAT_SINGLE_MMAP) */
  void* sq = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  struct io_uring_sqe* sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  if (sq == MAP_FAILED || sqes == MAP_FAILED || !(p.features & IORING_FEAT_SINGLE_MMAP)) return 5;
  unsigned tail = *AT(sq, p.sq_off.tail), mask = *AT(sq, p.sq_off.ring_mask);
  for (int i = 0; i < 2; ++i) {
    unsigned idx = (tail + i) & mask;
    struct io_uring_sqe* e = &sqes[idx];
    memset(e, 0, sizeof *e);
    e->opcode = IORING_OP_OPENAT;
    e->fd = i == 0 ? AT_FDCWD : dir;
    e->addr = (unsigned long)(i == 0 ? argv[1] : argv[3]);
    e->open_flags = O_RDONLY;
    AT(sq, p.sq_off.array)[idx] = idx;
  }
  __atomic_store_n(AT(sq, p.sq_off.tail), tail + 2, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, ring, 2, 2, IORING_ENTER_GETEVENTS, 0, 0) < 0) return 6;
  unsigned head = *AT(sq, p.cq_off.head), cmask = *AT(sq, p.cq_off.ring_mask);
  struct io_uring_cqe* cqes = (struct io_uring_cqe*)((char*)sq + p.cq_off.cqes);
  for (int i = 0; i < 2; ++i)
    if (cqes[(head + i) & cmask].res < 0) return 7;
  return 0;
}
)";

// Under ptrace io_uring_setup fails with ENOSYS, the program falls back to openat() and the trace
// says so; under eBPF the ring is used and its opens are recorded from io_uring's tracepoints. The
// files are recorded either way.
TEST_P(TracerTest, IoUringOpenIsRecorded) {
  std::string abs = file("uring/abs.txt"), rel = file("uring/sub/rel.txt");
  std::string prog = build("uring-opener", kIoUringOpener);
  std::vector<std::string> cmd = {prog, abs, (dir_ / "uring").string(), "sub/rel.txt"};
  TraceLog log = trace(cmd);
  EXPECT_TRUE(has(log, abs, AccessKind::Read)) << dump(log);
  EXPECT_TRUE(has(log, rel, AccessKind::Read)) << dump(log);
  if (ptrace()) {
    EXPECT_EQ(log.exit.shell_status(), 1) << "the program did not fall back to openat()";
    EXPECT_EQ(log.stats.io_uring_refused, 1u);
    ASSERT_EQ(log.notes.size(), 1u);
    EXPECT_NE(log.notes[0].find("io_uring_setup was refused with ENOSYS 1 time"), std::string::npos) << log.notes[0];
    EXPECT_EQ(log.tracer, "ptrace");
  } else {
    if (run(cmd).status != 0) GTEST_SKIP() << "io_uring does not work here untraced";
    EXPECT_EQ(log.exit.shell_status(), 0) << "the opens did not go through io_uring";
    EXPECT_EQ(log.stats.io_uring_refused, 0u);
    EXPECT_TRUE(log.notes.empty());
    EXPECT_EQ(log.tracer, "bpf");
  }
}

// Lookups are checked by the ptrace tracer instead of waiting for the syscall's exit; on a real
// program both ways must agree on every path.
TEST_P(TracerTest, InferredResultsMatchExactResults) {
  if (!ptrace()) GTEST_SKIP() << "the eBPF tracer always has the real results";
  if (!fs::exists("/bin/sh")) GTEST_SKIP() << "no /bin/sh";
  std::vector<std::string> cmd = {"/bin/sh", "-c",
                                  "ls -la /etc /usr/lib >/dev/null; cat /etc/hostname /nonexistent >/dev/null 2>&1; "
                                  "test -e /etc/passwd; test -d /nonexistent/dir; true"};
  TraceOptions exact;
  exact.exact_results = true;
  TraceLog a = trace(cmd);
  TraceLog b = trace(cmd, exact);
  EXPECT_GT(b.stats.exit_stops, a.stats.exit_stops);
  EXPECT_GT(a.paths.size(), 20u);
  for (const auto& [path, use] : b.paths) {
    auto it = a.paths.find(path);
    ASSERT_NE(it, a.paths.end()) << path;
    EXPECT_EQ(it->second.access, use.access) << path;
    EXPECT_EQ(it->second.succeeded, use.succeeded) << path;
  }
  EXPECT_EQ(a.paths.size(), b.paths.size());
}

TEST_P(TracerTest, FilesystemChangesRecordRealResults) {
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char** argv) {
  chdir(argv[1]);
  mkdir("newdir", 0755);
  mkdir("newdir", 0755);                       /* EEXIST */
  close(creat("new.txt", 0644));
  rename("new.txt", "renamed.txt");
  symlink("renamed.txt", "sl");
  unlink("sl");
  unlink("never-there");
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, "sock");
  bind(s, (struct sockaddr*)&a, sizeof a);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  strcpy(a.sun_path, "nosock");
  connect(c, (struct sockaddr*)&a, sizeof a);  /* ENOENT */
  return 0;
}
)");
  TraceLog log = trace({prog, dir_.string()});
  auto p = [&](const char* rel) { return (dir_ / rel).string(); };
  EXPECT_TRUE(has(log, p("newdir"), AccessKind::Create)) << dump(log);
  EXPECT_TRUE(has(log, p("new.txt"), AccessKind::Create)) << dump(log);
  EXPECT_TRUE(has(log, p("new.txt"), AccessKind::Rename)) << dump(log);
  EXPECT_TRUE(has(log, p("renamed.txt"), AccessKind::Rename)) << dump(log);
  EXPECT_TRUE(has(log, p("sl"), AccessKind::Symlink)) << dump(log);
  EXPECT_TRUE(has(log, p("sl"), AccessKind::Remove)) << dump(log);
  EXPECT_TRUE(has(log, p("never-there"), AccessKind::Remove, false)) << dump(log);
  EXPECT_FALSE(log.used(p("never-there")));
  EXPECT_TRUE(has(log, p("sock"), AccessKind::Socket)) << dump(log);
  EXPECT_TRUE(has(log, p("nosock"), AccessKind::Socket, false)) << dump(log);
  EXPECT_FALSE(log.used(p("nosock")));
  EXPECT_FALSE(log.paths.contains(p("renamed.txt/sl")));
}

TEST_P(TracerTest, TraceeThatSegfaults) {
  std::string data = file("before-crash.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <sys/resource.h>
int main(int argc, char** argv) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  open(argv[1], O_RDONLY);
  *(volatile int*)0 = 1;
  return 0;
}
)");
  TraceLog log = trace({prog, data});
  EXPECT_TRUE(log.exit.signaled);
  EXPECT_EQ(log.exit.signal, SIGSEGV);
  EXPECT_EQ(log.exit.shell_status(), 128 + SIGSEGV);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  if (ptrace()) {
    EXPECT_GE(log.stats.signal_stops, 1u);
  }
}

TEST_P(TracerTest, TraceeKilledBySigkill) {
  std::string prog = build("prog", R"(
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char** argv) { open(argv[1], O_RDONLY); raise(SIGKILL); return 0; }
)");
  std::string data = file("before-kill.txt");
  TraceLog log = trace({prog, data});
  EXPECT_TRUE(log.exit.signaled);
  EXPECT_EQ(log.exit.signal, SIGKILL);
  EXPECT_EQ(log.exit.shell_status(), 137);
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
}

TEST_P(TracerTest, ExitStatusIsThePrograms) {
  std::string prog = build("prog", "int main(void) { return 7; }");
  TraceLog log = trace({prog});
  EXPECT_FALSE(log.exit.signaled);
  EXPECT_EQ(log.exit.code, 7);
  EXPECT_EQ(log.stopped_by, StopReason::None);
}

TEST_P(TracerTest, TimeoutEscalatesWhenSigtermIsIgnored) {
  std::string prog = build("prog", R"(
#include <signal.h>
#include <unistd.h>
int main(void) {
  signal(SIGTERM, SIG_IGN);
  if (fork() == 0) for (;;) pause();   /* a child that ignores it too */
  for (;;) pause();
}
)");
  TraceOptions opt;
  opt.timeout = milliseconds(300);
  opt.grace = milliseconds(300);
  auto t0 = std::chrono::steady_clock::now();
  TraceLog log = trace({prog}, opt);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(log.stopped_by, StopReason::Timeout);
  EXPECT_TRUE(log.exit.signaled);
  EXPECT_EQ(log.exit.signal, SIGKILL);
  EXPECT_EQ(log.process_count, 2);
  EXPECT_LT(took, std::chrono::seconds(20));  // hang guard, not a timing assertion
}

TEST_P(TracerTest, DeepForkTree) {
  std::string data = file("tree.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int depth = atoi(argv[2]);
  for (int i = 0; i < depth; ++i) {
    if (open(argv[1], O_RDONLY) < 0) return 1;
    pid_t pid = fork();
    if (pid > 0) {          /* every level waits for the one below and forwards failure */
      int st;
      waitpid(pid, &st, 0);
      return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
    }
  }
  return 0;
}
)");
  TraceLog log = trace({prog, data, "40"});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_EQ(log.process_count, 41);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
}

TEST_P(TracerTest, HundredThreadsAllOpeningFiles) {
  for (int i = 0; i < 100; ++i) file("t/" + std::to_string(i) + ".txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static const char* dir;
static void* run(void* p) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%ld.txt", dir, (long)p);
  int fd = open(path, O_RDONLY);
  if (fd >= 0) close(fd);
  return (void*)(long)(fd < 0);
}
int main(int argc, char** argv) {
  pthread_t t[100];
  dir = argv[1];
  for (long i = 0; i < 100; ++i) pthread_create(&t[i], 0, run, (void*)i);
  long bad = 0;
  for (int i = 0; i < 100; ++i) { void* r; pthread_join(t[i], &r); bad += (long)r; }
  return bad != 0;
}
)",
                           {"-pthread"});
  TraceLog log = trace({prog, (dir_ / "t").string()});
  EXPECT_EQ(log.exit.shell_status(), 0);
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(has(log, (dir_ / "t" / (std::to_string(i) + ".txt")).string(), AccessKind::Read)) << i;
  EXPECT_EQ(log.thread_count, 101);
  EXPECT_EQ(log.process_count, 1);
}

TEST_P(TracerTest, MillionNonFileSyscallsCauseNoStops) {
  std::string data = file("after.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char** argv) {
  for (long i = 0; i < 1000000; ++i) syscall(SYS_getppid);
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  for (int i = 0; i < 1000; ++i) fstat(fd, &st);   /* newfstatat(fd, "", AT_EMPTY_PATH): no stop */
  return fd < 0;
}
)");
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  // The dynamic loader's handful of opens and stats, nothing per getppid() or fstat().
  EXPECT_LT(log.stats.ptrace_stops, 200u);
  EXPECT_LT(log.stats.seccomp_stops, 100u);
  EXPECT_LT(log.stats.events, 200u);
}

// The tracer pins tracees to its CPU while stops are frequent; a program that computes without
// stopping must get all its CPUs back (the tracer re-checks every 20 ms).
TEST_P(TracerTest, ParallelProgramThatRarelyStopsGetsItsCpusBack) {
  cpu_set_t mine;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0 || CPU_COUNT(&mine) < 2) GTEST_SKIP() << "one CPU";
  std::string prog = build("prog", R"(
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <time.h>
static void* spin(void* p) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do clock_gettime(CLOCK_MONOTONIC, &t); while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
  return p;
}
int main(void) {
  pthread_t a, b;
  pthread_create(&a, 0, spin, 0);
  pthread_create(&b, 0, spin, 0);
  pthread_join(a, 0);
  pthread_join(b, 0);
  cpu_set_t s;
  sched_getaffinity(0, sizeof s, &s);
  return CPU_COUNT(&s);
}
)",
                           {"-pthread"});
  TraceLog log = trace({prog});
  EXPECT_EQ(log.exit.code, CPU_COUNT(&mine));
}

TEST_P(TracerTest, GroupStopAndContinue) {
  std::string data = file("after-stop.txt");
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  pid_t pid = fork();
  if (pid == 0) { raise(SIGSTOP); _exit(open(argv[1], O_RDONLY) < 0); }
  int st;
  if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) return 10;
  kill(pid, SIGCONT);
  if (waitpid(pid, &st, 0) != pid) return 11;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 12;
}
)");
  TraceLog log = trace({prog, data});
  EXPECT_EQ(log.stopped_by, StopReason::None);
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
}

TEST_P(TracerTest, EventsReportEverySyscall) {
  std::string prog = build("prog", kOpener);
  std::string missing = (dir_ / "nope").string();
  std::vector<TraceEvent> events;
  TraceOptions opt;
  opt.on_event = [&](const TraceEvent& e) { events.push_back(e); };
  TraceLog log = trace({prog, missing}, opt);
  auto it = std::find_if(events.begin(), events.end(), [&](const TraceEvent& e) { return e.path == missing; });
  ASSERT_NE(it, events.end());
  EXPECT_EQ(it->syscall, "openat");
  EXPECT_FALSE(it->succeeded);
  EXPECT_TRUE(it->access.has(AccessKind::Read));
  EXPECT_EQ(it->pid, log.execs.at(0).pid);
}

TEST_P(TracerTest, RootRecordsPathsInsideTheRoot) {
  fs::path root = dir_ / "root";
  fs::create_directories(root / "etc");
  write_file(root / "etc/conf", "c");
  std::string err = compile_c(root / "prog", R"(
#include <fcntl.h>
#include <unistd.h>
int main(void) {
  int ok = open("/etc/conf", O_RDONLY) >= 0;
  chdir("/etc");
  ok &= open("conf", O_RDONLY) >= 0;
  ok &= open("/etc/missing", O_RDONLY) < 0;
  return !ok;
}
)",
                              {"-static"});
  if (!err.empty()) GTEST_SKIP() << "no static libc: " << err;
  TraceOptions opt;
  opt.root = root.string();
  TraceLog log = trace({"/prog"}, opt);
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_EQ(log.root, root.string());
  EXPECT_TRUE(has(log, "/etc/conf", AccessKind::Read)) << dump(log);
  EXPECT_TRUE(has(log, "/etc/missing", AccessKind::Read, false)) << dump(log);
  EXPECT_FALSE(log.used("/etc/missing"));
  EXPECT_TRUE(has(log, "/prog", AccessKind::Exec)) << dump(log);
  ASSERT_EQ(log.execs.size(), 1u);
  EXPECT_TRUE(log.execs[0].interpreters.empty()) << "a static program has no PT_INTERP";
  for (const auto& [path, use] : log.paths) EXPECT_EQ(path.find(dir_.string()), std::string::npos) << path;
}

TEST_P(TracerTest, ThirtyTwoBitSyscallsAreRefused) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "x86-64 only";
#endif
  std::string prog = build("prog", R"(
int main(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L));   /* i386 getpid */
  return 0;
}
)");
  // Some kernels disable 32-bit syscalls at run time (ia32_emulation=0): the program is killed
  // by SIGSEGV before seccomp sees the call, so there is nothing for the tracer to refuse.
  if (int st = minify::testing::run({prog}).status; st != 0)
    GTEST_SKIP() << "int $0x80 does not run untraced on this kernel (status " << st << ")";
  TraceOptions opt;
  opt.tracer = GetParam();
  opt.command = {prog};
  auto r = run_trace(opt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("32-bit"), std::string::npos) << r.error().message();
}

TEST_P(TracerTest, MissingProgramIsAnError) {
  TraceOptions opt;
  opt.tracer = GetParam();
  opt.command = {(dir_ / "no-such-program").string()};
  auto r = run_trace(opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOENT);
  opt.command = {"no-such-program-in-path-xyz"};
  r = run_trace(opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOENT);
  opt.command = {};
  r = run_trace(opt);
  ASSERT_FALSE(r.ok());
}

TEST_P(TracerTest, PythonImportRecordsTheModule) {
  if (!have_program("python3")) GTEST_SKIP() << "no python3";
  std::string mod = file("minify_probe_mod.py", "VALUE = 42\n");
  TraceLog log = trace({"python3", "-c", "import sys; sys.path.insert(0, '" + dir_.string() +
                                             "'); import minify_probe_mod; assert minify_probe_mod.VALUE == 42"});
  EXPECT_EQ(log.exit.shell_status(), 0);
  EXPECT_TRUE(has(log, mod, AccessKind::Read) || has(log, mod, AccessKind::Stat)) << dump(log);
  EXPECT_TRUE(log.used(mod));
}

// A server that answers with Content-Length and keeps the connection open: the probe must not
// wait for EOF, and the server is stopped (it ignores nothing, SIGTERM ends it) right after.
TEST_P(TracerTest, ProbeOfKeepAliveServerDoesNotWaitForClose) {
  std::string data = file("served.txt", "ok");
  std::string prog = build("server", R"(
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr*)&a, sizeof a) || listen(s, 4)) return 1;
  for (;;) {
    int c = accept(s, 0, 0);
    char req[4096];
    read(c, req, sizeof req);
    char body[16] = {0};
    int fd = open(argv[2], O_RDONLY);   /* the request's work */
    read(fd, body, 2);
    close(fd);
    const char* head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    write(c, head, strlen(head));
    write(c, body, 2);                  /* ... and the connection stays open */
  }
}
)");
  int port = testing::free_port();
  TraceOptions opt;
  opt.probe_urls = {"http://127.0.0.1:" + std::to_string(port) + "/"};
  opt.timeout = milliseconds(30'000);
  opt.grace = milliseconds(1000);
  auto t0 = std::chrono::steady_clock::now();
  TraceLog log = trace({prog, std::to_string(port), data}, opt);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));  // hang guard
  EXPECT_EQ(log.stopped_by, StopReason::Probe);
  ASSERT_EQ(log.probes.size(), 1u);
  EXPECT_EQ(log.probes[0].http_status, 200) << log.probes[0].error;
  EXPECT_TRUE(has(log, data, AccessKind::Read)) << dump(log);
  EXPECT_TRUE(log.exit.signaled);
  EXPECT_EQ(log.exit.signal, SIGTERM);
}

TEST_P(TracerTest, ProbeRecordsWhatTheRequestTouched) {
  if (!have_program("python3")) GTEST_SKIP() << "no python3";
  std::string page = file("www/page.html", "<p>hello</p>");
  std::string untouched = file("www/other.html", "<p>other</p>");
  int port = testing::free_port();
  TraceOptions opt;
  opt.probe_urls = {"http://127.0.0.1:" + std::to_string(port) + "/page.html"};
  opt.timeout = milliseconds(60'000);
  opt.grace = milliseconds(2000);
  TraceLog log = trace({"python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1", "--directory",
                        (dir_ / "www").string()},
                       opt);
  EXPECT_EQ(log.stopped_by, StopReason::Probe);
  ASSERT_EQ(log.probes.size(), 1u);
  EXPECT_EQ(log.probes[0].http_status, 200) << log.probes[0].error;
  EXPECT_TRUE(has(log, page, AccessKind::Read)) << dump(log);
  EXPECT_FALSE(log.paths.contains(untouched));
}

// ---- Both tracers on the same programs -------------------------------------------------------

// A set of real programs, each traced by both tracers: the same paths with the same access and
// success, the same execs (path, argv, interpreters, result) and the same process and thread
// counts. The eBPF tracer may see more only through /proc (it follows /proc/PID only for the
// caller's own pid; ptrace also for other traced processes) and io_uring (which ptrace refuses;
// the programs here fall back to the same opens).
class TracerComparison : public TracerTest {};

TEST_P(TracerComparison, BothTracersRecordTheSameFilesAndExecs) {
  if (GetParam() != TracerBackend::Bpf) GTEST_SKIP() << "compares eBPF with ptrace";
  std::string src = file("cmp/unit.c", "#include <stdio.h>\n#include <stdlib.h>\nint f(void) { return puts(\"x\"); }\n");
  std::string proc_prog = build("proc-reader", R"(
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
static const char* dir;
static void* run(void* p) {
  char path[4096];
  snprintf(path, sizeof path, "%s/t.txt", dir);
  struct stat st;
  return (void*)(long)stat(path, &st);
}
int main(int argc, char** argv) {
  char p[4096];
  dir = argv[1];
  int fd = open(argv[1], O_RDONLY | O_DIRECTORY);
  snprintf(p, sizeof p, "/proc/self/fd/%d/t.txt", fd);
  close(open(p, O_RDONLY));
  fchdir(fd);
  close(open("/proc/self/cwd/t.txt", O_RDONLY));
  close(openat(fd, "missing", O_RDONLY));
  readlink("/proc/self/exe", p, sizeof p);
  pthread_t t;
  pthread_create(&t, 0, run, 0);
  pthread_join(t, 0);
  if (fork() == 0) { execl("/bin/sh", "sh", "-c", "cat t.txt >/dev/null; exit 0", (char*)0); _exit(9); }
  wait(0);
  return 0;
}
)",
                                {"-pthread"});
  file("cmp/t.txt");
  std::string uring = build("uring-opener", kIoUringOpener);
  std::string uring_file = file("cmp/u.txt");
  std::vector<std::vector<std::string>> programs = {
      {"/bin/sh", "-c",
       "ls -la /etc /usr/lib >/dev/null; cat /etc/hostname /nonexistent 2>/dev/null; test -e /etc/passwd; "
       "cd /usr && ls share >/dev/null; exit 0"},
      {"find", "/usr/include/linux", "-name", "*.h"},
      {proc_prog, (dir_ / "cmp").string()},
      {uring, uring_file, (dir_ / "cmp").string(), "t.txt"},
  };
  if (have_program("python3")) programs.push_back({"python3", "-c", "import json, email.parser, sqlite3, argparse"});
  if (have_program("gcc")) programs.push_back({"gcc", "-pipe", "-O1", "-c", src, "-o", (dir_ / "cmp/unit.o").string()});
  for (const auto& cmd : programs) {
    SCOPED_TRACE(cmd[0] + " " + (cmd.size() > 1 ? cmd[1] : ""));
    run(cmd);  // once untraced, so caches (.pyc) are as they will stay
    TraceOptions opt;
    opt.command = cmd;
    opt.timeout = milliseconds(60'000);
    opt.tracer = TracerBackend::Ptrace;
    auto p = run_trace(opt);
    opt.tracer = TracerBackend::Bpf;
    auto b = run_trace(opt);
    ASSERT_TRUE(p.ok()) << p.error().message();
    ASSERT_TRUE(b.ok()) << b.error().message();
    EXPECT_EQ(b->tracer, "bpf");
    EXPECT_GT(p->paths.size(), 3u);
    for (const auto& [path, use] : p->paths) {
      auto it = b->paths.find(path);
      if (it == b->paths.end()) {
        ADD_FAILURE() << "only ptrace recorded " << path;
        continue;
      }
      EXPECT_EQ(it->second.access, use.access) << path;
      EXPECT_EQ(it->second.succeeded, use.succeeded) << path;
    }
    for (const auto& [path, use] : b->paths) {
      if (!p->paths.contains(path)) {
        EXPECT_TRUE(path.starts_with("/proc/")) << "only eBPF recorded " << path;
      }
    }
    // Compared as sets: processes that run at once (gcc -pipe's cc1 and as) exec in either order.
    auto exec_key = [](const ExecRecord& e) { return std::tie(e.path, e.argv, e.interpreters, e.succeeded); };
    auto sorted_execs = [&](std::vector<ExecRecord> v) {
      std::sort(v.begin(), v.end(), [&](const ExecRecord& x, const ExecRecord& y) { return exec_key(x) < exec_key(y); });
      return v;
    };
    std::vector<ExecRecord> pe = sorted_execs(p->execs), be = sorted_execs(b->execs);
    ASSERT_EQ(be.size(), pe.size());
    for (std::size_t i = 0; i < pe.size(); ++i) {
      EXPECT_EQ(be[i].path, pe[i].path);
      EXPECT_EQ(be[i].argv, pe[i].argv);
      EXPECT_EQ(be[i].interpreters, pe[i].interpreters);
      EXPECT_EQ(be[i].succeeded, pe[i].succeeded);
    }
    EXPECT_EQ(b->process_count, p->process_count);
    EXPECT_EQ(b->thread_count, p->thread_count);
    if (cmd[0] == uring && run(cmd).status == 0) {
      EXPECT_EQ(b->exit.shell_status(), 0) << "eBPF: the opens went through the ring";
      EXPECT_EQ(p->exit.shell_status(), 1) << "ptrace: io_uring refused, the program fell back to openat()";
    } else {
      EXPECT_EQ(b->exit, p->exit);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tracers, TracerComparison, ::testing::Values(TracerBackend::Bpf), backend_test_name);

INSTANTIATE_TEST_SUITE_P(Tracers, TracerTest, ::testing::Values(TracerBackend::Ptrace, TracerBackend::Bpf),
                         backend_test_name);

}  // namespace
}  // namespace minify
