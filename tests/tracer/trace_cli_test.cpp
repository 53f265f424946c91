// `minify trace` as a user runs it: output files, exit statuses, error lines, passthrough of
// stdio and forwarding of signals, with each tracer (--tracer ptrace, --tracer bpf).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <tuple>

#include "backend_param.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using namespace minify::testing;

class CliFixture {
 protected:
  void set_up() { dir_ = fs::canonical(tmp_.path()); }
  std::string build(const std::string& name, const std::string& source) {
    fs::path out = dir_ / name;
    EXPECT_EQ(compile_c(out, source), "");
    return out.string();
  }
  static int count_lines(const std::string& s) {
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }
  TempDir tmp_;
  fs::path dir_;
};

class TraceCliTest : public ::testing::TestWithParam<TracerBackend>, public CliFixture {
 protected:
  void SetUp() override {
    MINIFY_SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
    if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
    set_up();
  }
  std::string tracer() const { return std::string(tracer_backend_name(GetParam())); }
  // `minify trace --tracer T ARGS...`
  std::vector<std::string> command(std::vector<std::string> args) const {
    args.insert(args.begin(), {minify_bin(), "trace", "--tracer", tracer()});
    return args;
  }
  RunResult trace(std::vector<std::string> args) { return run(command(std::move(args))); }
  pid_t spawn(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    return pid;
  }
};

class PackTraceTest : public ::testing::Test, public CliFixture {
 protected:
  void SetUp() override {
    if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
    set_up();
  }
};

TEST_P(TraceCliTest, StdoutPassesThroughAndTraceIsWritten) {
  std::string out = (dir_ / "trace.json").string();
  RunResult r = trace({"-o", out, "--", "sh", "-c", "echo hello; cat /etc/hostname >/dev/null; exit 3"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "");
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_EQ(j["exit"]["code"], 3);
  EXPECT_EQ(j["command"][0], "sh");
  EXPECT_TRUE(j["paths"].contains("/etc/hostname"));
  EXPECT_EQ(j["paths"]["/etc/hostname"]["succeeded"], true);
  EXPECT_GE(j["process_count"].get<int>(), 2);
  EXPECT_GE(j["execs"].size(), 2u);
}

TEST_P(TraceCliTest, CommandWithoutDoubleDash) {
  std::string out = (dir_ / "t.json").string();
  RunResult r = trace({"-o", out, "sh", "-c", "exit 0"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(out));
}

TEST_P(TraceCliTest, MissingCommandIsAUsageError) {
  RunResult r = trace({"-o", (dir_ / "t.json").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("minify: error:"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "t.json"));
}

TEST_P(TraceCliTest, NonexistentProgramExits127WithoutOutput) {
  std::string out = (dir_ / "t.json").string();
  RunResult r = trace({"-o", out, "--", "no-such-program-xyz", "arg"});
  EXPECT_EQ(r.status, 127);
  EXPECT_EQ(r.err, "minify: error: exec `no-such-program-xyz`: not found in PATH: No such file or directory\n");
  EXPECT_TRUE(fs::is_empty(dir_)) << "no partial or temporary output file";
}

TEST_P(TraceCliTest, BadTimeoutIsAUsageError) {
  RunResult r = trace({"--timeout", "soon", "--", "true"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST_P(TraceCliTest, KilledTraceeExits137WithOneLine) {
  std::string prog = build("prog", "#include <signal.h>\nint main(void) { raise(SIGKILL); return 0; }\n");
  std::string out = (dir_ / "t.json").string();
  RunResult r = trace({"-o", out, "--", prog});
  EXPECT_EQ(r.status, 137);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("killed by signal 9 (SIGKILL)"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_EQ(j["exit"]["signal"], 9);
}

TEST_P(TraceCliTest, ThirtyTwoBitSyscallIsRefusedWithOneLine) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "x86-64 only";
#endif
  std::string prog = build("prog", R"(
int main(void) { long r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L)); return 0; }
)");
  // Kernels with 32-bit syscalls disabled at run time kill the program before seccomp sees it.
  if (int st = run({prog}).status; st != 0)
    GTEST_SKIP() << "int $0x80 does not run untraced on this kernel (status " << st << ")";
  std::string out = (dir_ / "t.json").string();
  RunResult r = trace({"-o", out, "--", prog});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("32-bit programs are not supported"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST_P(TraceCliTest, EventsAreJsonLines) {
  std::string out = (dir_ / "t.json").string();
  std::string events = (dir_ / "e.jsonl").string();
  RunResult r = trace({"-o", out, "--events", events, "--", "cat", "/etc/hostname", (dir_ / "absent").string()});
  EXPECT_EQ(r.status, 1);
  std::istringstream in(read_file(events));
  std::string line;
  int n = 0;
  bool saw_absent = false;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ++n;
    if (j["path"] == (dir_ / "absent").string()) {
      saw_absent = true;
      EXPECT_EQ(j["succeeded"], false);
    }
  }
  EXPECT_GT(n, 3);
  EXPECT_TRUE(saw_absent);
}

TEST_P(TraceCliTest, TimeoutStopsTheProgramAndExitsZero) {
  std::string out = (dir_ / "t.json").string();
  RunResult r = trace({"-o", out, "--timeout", "300ms", "--", "sleep", "30"});
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_EQ(j["stopped_by"], "timeout");
  EXPECT_EQ(j["exit"]["signal"], SIGTERM);
}

TEST_P(TraceCliTest, ProbeThatNeverConnectsFailsWithOneLine) {
  std::string out = (dir_ / "t.json").string();
  // Port 1 on loopback: nothing listens there.
  RunResult r = trace({"-o", out, "--timeout", "700ms", "--probe", "http://127.0.0.1:1/", "--", "sleep", "30"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("minify: error: probe `http://127.0.0.1:1/`"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_NE(j["stopped_by"], "none");
  EXPECT_EQ(j["probes"][0]["http_status"], 0);
}

TEST_P(TraceCliTest, HttpsProbeIsRefusedUpFront) {
  RunResult r = trace({"--probe", "https://example.com/", "--", "true"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("only http:// URLs are supported"), std::string::npos) << r.err;
}

TEST_P(TraceCliTest, PathThatIsNotUtf8IsWrittenWithReplacement) {
  std::string prog = build("prog", R"(
#include <fcntl.h>
int main(void) { open("/tmp/minify-\xff\xfe-not-utf8", O_RDONLY); return 0; }
)");
  std::string out = (dir_ / "t.json").string();
  std::string events = (dir_ / "e.jsonl").string();
  RunResult r = trace({"-o", out, "--events", events, "--", prog});
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_TRUE(j["paths"].contains("/tmp/minify-\uFFFD\uFFFD-not-utf8")) << j["paths"].dump();
}

TEST_P(TraceCliTest, StdoutTraceWithDash) {
  RunResult r = trace({"-o", "-", "--", "true"});
  EXPECT_EQ(r.status, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["command"][0], "true");
}

// -o onto something that is not a regular file (/dev/null, a FIFO) writes into it: renaming a
// temporary file over it would replace it. Checked with a FIFO, never with /dev/null itself.
TEST_P(TraceCliTest, NonRegularOutputIsWrittenInPlaceNotReplaced) {
  fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] {
    std::ifstream in(fifo);
    std::stringstream ss;
    ss << in.rdbuf();
    received = ss.str();
  });
  RunResult r = trace({"-o", fifo.string(), "--", "true"});
  reader.join();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(nlohmann::json::parse(received)["command"][0], "true");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1) << "no temporary file left";
}

// SIGTERM sent to minify reaches the program, which reports it through its exit status.
TEST_P(TraceCliTest, ForwardsSigtermToTheProgram) {
  std::string ready = (dir_ / "ready").string();
  std::string prog = build("prog", R"(
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
static void on_term(int sig) { (void)sig; _exit(42); }
int main(int argc, char** argv) {
  signal(SIGTERM, on_term);
  close(open(argv[1], O_CREAT | O_WRONLY, 0644));
  for (;;) pause();
}
)");
  std::string out = (dir_ / "t.json").string();
  pid_t pid = spawn(command({"-o", out, "--", prog, ready}));
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 2000 && !fs::exists(ready); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fs::exists(ready));
  kill(pid, SIGTERM);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 42);
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_EQ(j["exit"]["code"], 42);
  EXPECT_EQ(j["paths"][ready]["succeeded"], true);
}

// If minify itself dies, the whole traced tree dies with it instead of running on (or staying
// stopped) untraced: ptrace's PTRACE_O_EXITKILL, the eBPF tracer's guardian process.
TEST_P(TraceCliTest, TraceesDieWhenMinifyIsKilled) {
  std::string pidfile = (dir_ / "pid").string();
  std::string prog = build("prog", R"(
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) {
  pid_t kid = fork();                 /* the tree: this process and a child */
  if (kid == 0) for (;;) pause();
  FILE* f = fopen(argv[1], "w");
  fprintf(f, "%d %d\n", (int)getpid(), (int)kid);
  fclose(f);
  for (;;) pause();
}
)");
  pid_t pid = spawn(command({"-o", (dir_ / "t.json").string(), "--", prog, pidfile}));
  ASSERT_GT(pid, 0);
  pid_t tracee = 0, kid = 0;
  for (int i = 0; i < 2000 && tracee == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::string s = read_file(pidfile);
    if (!s.empty() && s.back() == '\n') std::sscanf(s.c_str(), "%d %d", &tracee, &kid);
  }
  ASSERT_GT(tracee, 0);
  ASSERT_GT(kid, 0);
  kill(pid, SIGKILL);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  // Gone, or a zombie waiting for init to reap it.
  auto alive = [&](pid_t p) {
    std::string stat = read_file("/proc/" + std::to_string(p) + "/stat");
    std::size_t close = stat.rfind(')');
    return !stat.empty() && close != std::string::npos && stat.substr(close + 2, 1) != "Z";
  };
  for (int i = 0; i < 1000 && (alive(tracee) || alive(kid)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(alive(tracee));
  EXPECT_FALSE(alive(kid));
  EXPECT_FALSE(fs::exists(dir_ / "t.json"));
}

// The tracer is the one asked for and trace.json says which; a tracer that does not exist is a
// usage error.
TEST_P(TraceCliTest, TracerOptionPicksTheTracer) {
  std::string out = (dir_ / "t.json").string();
  RunResult r = trace({"-o", out, "--", "true"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(nlohmann::json::parse(read_file(out))["tracer"], tracer());
  RunResult bad = run({minify_bin(), "trace", "--tracer", "dtrace", "-o", out, "--", "true"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
}

// Two traces at once, of different programs each opening its own files as fast as it can: no
// record of one ends up in the other (each eBPF tracer has its own map of traced processes).
TEST_P(TraceCliTest, TwoTracesAtOnceNeverSeeEachOthersEvents) {
  std::string prog = build("opener", R"(
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int n = atoi(argv[2]);
  if (fork() == 0) n /= 2;            /* a child doing the same: the tree, not one process */
  for (int i = 0; i < n; ++i) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%d", argv[1], i % 50);
    close(open(path, O_RDONLY));
  }
  while (wait(0) > 0) {}
  return 0;
}
)");
  for (const char* side : {"a", "b"})
    for (int i = 0; i < 50; ++i) write_file(dir_ / side / std::to_string(i), "x");
  std::string a_out = (dir_ / "a.json").string(), b_out = (dir_ / "b.json").string();
  pid_t a = spawn(command({"-o", a_out, "--", prog, (dir_ / "a").string(), "20000"}));
  pid_t b = spawn(command({"-o", b_out, "--", prog, (dir_ / "b").string(), "20000"}));
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  for (pid_t p : {a, b}) {
    int st = 0;
    ASSERT_EQ(waitpid(p, &st, 0), p);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  auto ja = nlohmann::json::parse(read_file(a_out)), jb = nlohmann::json::parse(read_file(b_out));
  for (auto [mine, theirs, j] : {std::tuple{"a", "b", &ja}, std::tuple{"b", "a", &jb}}) {
    SCOPED_TRACE(mine);
    EXPECT_EQ((*j)["process_count"], 2);
    std::string own = (dir_ / mine).string() + "/", other = (dir_ / theirs).string() + "/";
    int own_files = 0;
    for (const auto& [path, use] : (*j)["paths"].items()) {
      EXPECT_EQ(path.rfind(other, 0), std::string::npos) << path << " of the other trace";
      if (path.rfind(own, 0) == 0) ++own_files;
    }
    EXPECT_EQ(own_files, 50);
    EXPECT_EQ((*j)["execs"].size(), 1u);
  }
}

// What a program reaches through /proc/self/fd/N/NAME and through io_uring is shipped: `minify
// pack` puts both files in the minimal root, which runs the program like the host. (Under ptrace
// the io_uring open falls back to openat(), which ships the file just the same.)
TEST_F(PackTraceTest, PackShipsFilesReachedThroughProcFdAndIoUring) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  write_file(dir_ / "data/conf.txt", "conf\n");
  write_file(dir_ / "data/ring.txt", "ring\n");
  std::string prog = build("reader", R"(
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#define AT(base, off) ((unsigned*)((char*)(base) + (off)))
static int uring_open(const char* path) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int ring = syscall(__NR_io_uring_setup, 2, &p);
  if (ring < 0) return errno == ENOSYS ? open(path, O_RDONLY) : -1;
  void* sq = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  struct io_uring_sqe* sqes = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  if (sq == MAP_FAILED || sqes == MAP_FAILED) return -1;
  unsigned tail = *AT(sq, p.sq_off.tail), idx = tail & *AT(sq, p.sq_off.ring_mask);
  memset(&sqes[idx], 0, sizeof sqes[idx]);
  sqes[idx].opcode = IORING_OP_OPENAT;
  sqes[idx].fd = AT_FDCWD;
  sqes[idx].addr = (unsigned long)path;
  AT(sq, p.sq_off.array)[idx] = idx;
  __atomic_store_n(AT(sq, p.sq_off.tail), tail + 1, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, 0, 0) < 0) return -1;
  struct io_uring_cqe* cqes = (struct io_uring_cqe*)((char*)sq + p.cq_off.cqes);
  return cqes[*AT(sq, p.cq_off.head) & *AT(sq, p.cq_off.ring_mask)].res;
}
int main(int argc, char** argv) {
  char path[4096], buf[64] = {0};
  int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
  snprintf(path, sizeof path, "/proc/self/fd/%d/conf.txt", dir);
  int a = open(path, O_RDONLY), b = uring_open(argv[2]);
  if (a < 0 || b < 0 || read(a, buf, 5) != 5 || read(b, buf + 5, 5) != 5) return 10;
  fputs(buf, stdout);
  return 0;
}
)");
  std::vector<std::string> cmd = {prog, (dir_ / "data").string(), (dir_ / "data/ring.txt").string()};
  RunResult host = run(cmd);
  ASSERT_EQ(host.status, 0) << host.err;
  fs::path out = dir_ / "out";
  std::vector<std::string> argv = {minify_bin(), "pack", "-o", out.string(), "--base", "scratch"};
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  RunResult packed = run(argv);
  ASSERT_EQ(packed.status, 0) << packed.err;
  EXPECT_TRUE(fs::exists(out / "rootfs" / fs::path(dir_ / "data/conf.txt").relative_path()));
  EXPECT_TRUE(fs::exists(out / "rootfs" / fs::path(dir_ / "data/ring.txt").relative_path()));
  EXPECT_NE(packed.err.find("minify: verify: ok"), std::string::npos) << packed.err;
  // The root as a container runtime starts it: with a /proc of its own.
  fs::create_directories(out / "rootfs/proc");
  std::vector<std::string> in_root = {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                                      "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" \"$@\"",
                                      (out / "rootfs").string()};
  in_root.insert(in_root.end(), cmd.begin(), cmd.end());
  RunResult c = run(in_root);
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, host.out);
}

// --user: the program runs as that user (its groups, its supplementary groups) while minify stays
// root and traces it: the program refuses to run as root, writes its ids, and the write is traced.
TEST_P(TraceCliTest, UserRunsTheProgramAsThatUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "dropping to another user needs root";
  std::string prog = build("whoami", R"(
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (getuid() == 0 || geteuid() == 0 || getgid() == 0) { fputs("running as root\n", stderr); return 3; }
  gid_t groups[64];
  int n = getgroups(64, groups);
  FILE* f = fopen(argv[1], "w");
  if (!f) { perror(argv[1]); return 1; }
  fprintf(f, "%u:%u", getuid(), getgid());
  for (int i = 0; i < n; i++) fprintf(f, " %u", groups[i]);
  fputc('\n', f);
  return fclose(f) == 0 ? 0 : 1;
}
)");
  fs::create_directories(dir_ / "data");
  fs::permissions(dir_, fs::perms::all, fs::perm_options::add);
  fs::permissions(dir_ / "data", fs::perms::all, fs::perm_options::add);
  std::string ids = (dir_ / "data/ids.txt").string();
  RunResult r = trace({"--user", "nobody", "-o", (dir_ / "t.json").string(), "--", prog, ids});
  ASSERT_EQ(r.status, 0) << r.err;
  // nobody is 65534 in Debian's base-passwd, with nogroup (65534) and no other group.
  EXPECT_EQ(read_file(ids), "65534:65534 65534\n");
  auto t = nlohmann::json::parse(read_file(dir_ / "t.json"));
  ASSERT_TRUE(t["paths"].contains(ids)) << t["paths"].dump();
  EXPECT_NE(t["paths"][ids].dump().find("write"), std::string::npos) << t["paths"][ids].dump();
  // uid:gid given as numbers, and without --user the same program runs as root and refuses.
  fs::remove(ids);
  fs::permissions(dir_ / "data", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                     fs::perms::others_read | fs::perms::others_exec);
  r = trace({"--user", "1234:4321", "-o", (dir_ / "t.json").string(), "--", prog, ids});
  ASSERT_EQ(r.status, 1) << "1234 cannot write into a directory of root's: " << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  fs::permissions(dir_ / "data", fs::perms::all);
  r = trace({"--user", "1234:4321", "-o", (dir_ / "t.json").string(), "--", prog, ids});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(ids), "1234:4321 4321\n");
  r = trace({"-o", (dir_ / "t.json").string(), "--", prog, ids});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("running as root"), std::string::npos) << r.err;
}

TEST_P(TraceCliTest, UnknownUserIsOneLineExit2) {
  RunResult r = trace({"--user", "no-such-user-minify", "-o", (dir_ / "t.json").string(), "--", "/bin/true"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--user `no-such-user-minify`"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "t.json"));
  r = trace({"--user", "nobody:no-such-group-minify", "--", "/bin/true"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Tracers, TraceCliTest, ::testing::Values(TracerBackend::Ptrace, TracerBackend::Bpf),
                         backend_test_name);

}  // namespace
}  // namespace minify
