// TraceOptions::record_syscalls, the syscall set a seccomp policy is made from, under both
// tracers: a real program's set has what it called, a marker path starts the counting (the
// sandbox's launcher is not the program), and both tracers record the same set for the same run.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "backend_param.hpp"
#include "minify/trace.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using namespace minify::testing;
using std::chrono::milliseconds;

// Calls a few syscalls few programs use, then starts a child that execs /bin/true and waits.
// argv[1], when given, is a marker path looked up (faccessat) after getpriority and before the
// rest: what comes before it is the "launcher's".
constexpr const char* kCaller = R"(
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char** argv) {
  getpriority(PRIO_PROCESS, 0);
  if (argc > 1) faccessat(AT_FDCWD, argv[1], F_OK, 0);
  personality(0xffffffff);
  static char page[4096];
  mlock(page, sizeof page);
  munlock(page, sizeof page);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/true", "true", (char*)0);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  return 0;
}
)";

class SyscallRecordTest : public ::testing::TestWithParam<TracerBackend> {
 protected:
  void SetUp() override {
    MINIFY_SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
    if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
    fs::path out = fs::canonical(tmp_.path()) / "caller";
    ASSERT_EQ(compile_c(out, kCaller), "");
    caller_ = out.string();
  }

  TraceLog trace(std::vector<std::string> argv, TracerBackend backend, std::string after = "") {
    TraceOptions opt;
    opt.command = std::move(argv);
    opt.tracer = backend;
    opt.timeout = milliseconds(60'000);  // hang guard only
    opt.record_syscalls = true;
    opt.record_syscalls_after = std::move(after);
    auto r = run_trace(opt);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? std::move(*r) : TraceLog{};
  }

  static bool has(const TraceLog& log, const std::string& name) {
    return std::binary_search(log.syscalls.begin(), log.syscalls.end(), name);
  }

  TempDir tmp_;
  std::string caller_;
};

TEST_P(SyscallRecordTest, RecordsWhatTheProgramAndItsChildrenCalled) {
  TraceLog log = trace({caller_}, GetParam());
  EXPECT_EQ(log.tracer, GetParam() == TracerBackend::Bpf ? "bpf" : "ptrace");
#if defined(__x86_64__)
  EXPECT_EQ(log.syscall_arch, "x86_64");
#elif defined(__aarch64__)
  EXPECT_EQ(log.syscall_arch, "aarch64");
#endif
  EXPECT_TRUE(std::is_sorted(log.syscalls.begin(), log.syscalls.end()));
  for (const char* name : {"execve", "getpriority", "personality", "mlock", "munlock", "wait4", "exit_group"})
    EXPECT_TRUE(has(log, name)) << name;
  // The child's own: fork is clone (glibc), and /bin/true's start-up.
  EXPECT_TRUE(has(log, "clone") || has(log, "clone3"));
  EXPECT_TRUE(has(log, "mmap"));
  EXPECT_FALSE(has(log, "faccessat")) << "the program never called it";
}

TEST_P(SyscallRecordTest, MarkerPathStartsTheCounting) {
  std::string marker = (fs::canonical(tmp_.path()) / "marker").string();
  TraceLog log = trace({caller_, marker}, GetParam(), marker);
  EXPECT_FALSE(has(log, "getpriority")) << "called before the marker";
  EXPECT_FALSE(has(log, "faccessat")) << "the marker's own lookup";
  for (const char* name : {"personality", "mlock", "wait4", "exit_group", "execve"}) EXPECT_TRUE(has(log, name)) << name;
}

TEST_P(SyscallRecordTest, NothingRecordedUnlessAsked) {
  TraceOptions opt;
  opt.command = {caller_};
  opt.tracer = GetParam();
  auto r = run_trace(opt);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->syscalls.empty());
  EXPECT_EQ(r->syscall_arch, "");
}

INSTANTIATE_TEST_SUITE_P(Backends, SyscallRecordTest, ::testing::Values(TracerBackend::Ptrace, TracerBackend::Bpf),
                         backend_test_name);

// Both tracers record the same set for the same program: ptrace counts at each syscall's seccomp
// stop, eBPF at its sys_enter, and both start at the command's execve. (Each run is its own: a
// program whose syscalls depend on timing, such as a futex wait in pthread_join, could differ
// between two runs under one tracer too; these programs' do not. Under ptrace io_uring_setup fails
// with ENOSYS, so a program using io_uring makes other syscalls there.)
TEST(SyscallRecordComparison, BothTracersRecordTheSameSet) {
  if (!bpf_unavailable().empty()) GTEST_SKIP() << "the eBPF tracer cannot run here: " << bpf_unavailable();
  if (!have_program("cc")) GTEST_SKIP() << "no C compiler";
  TempDir tmp;
  fs::path caller = fs::canonical(tmp.path()) / "caller";
  ASSERT_EQ(compile_c(caller, kCaller), "");
  std::vector<std::vector<std::string>> programs = {
      {caller.string()},
      {"/bin/ls", "-la", tmp.path().string()},
      {"/bin/cat", "/etc/hostname"},
  };
  for (const auto& cmd : programs) {
    SCOPED_TRACE(cmd[0]);
    TraceOptions opt;
    opt.command = cmd;
    opt.timeout = milliseconds(60'000);
    opt.record_syscalls = true;
    opt.tracer = TracerBackend::Ptrace;
    auto p = run_trace(opt);
    opt.tracer = TracerBackend::Bpf;
    auto b = run_trace(opt);
    ASSERT_TRUE(p.ok()) << p.error().message();
    ASSERT_TRUE(b.ok()) << b.error().message();
    EXPECT_EQ(b->syscall_arch, p->syscall_arch);
    EXPECT_EQ(b->syscalls, p->syscalls);
  }
}

}  // namespace
}  // namespace minify
