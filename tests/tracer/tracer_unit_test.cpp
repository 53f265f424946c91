// The parts of the tracer that need no tracee: the syscall tables, path arithmetic, durations,
// URLs and the JSON round trip.
#include <gtest/gtest.h>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "minify/trace.hpp"
#include "probe.hpp"
#include "syscalls.hpp"
#include "tracee_io.hpp"

namespace minify::tracer {
namespace {

void expect_table_sane(std::span<const SyscallRow> rows) {
  std::set<int> nrs;
  std::set<std::string_view> names;
  for (const SyscallRow& r : rows) {
    EXPECT_TRUE(nrs.insert(r.nr).second) << "duplicate number " << r.nr;
    EXPECT_TRUE(names.insert(r.name).second) << "duplicate name " << r.name;
  }
  // The calls the issue names, present on both architectures.
  for (std::string_view n : {"openat", "openat2", "execve", "execveat", "newfstatat", "statx", "faccessat",
                             "faccessat2", "readlinkat", "chdir", "fchdir", "truncate", "mkdirat", "renameat",
                             "renameat2", "unlinkat", "symlinkat", "linkat", "utimensat", "getxattr", "lgetxattr",
                             "listxattr", "inotify_add_watch", "bind", "connect"})
    EXPECT_TRUE(names.contains(n)) << n;
}

TEST(SyscallTable, X86_64TableHasEveryFileSyscallOnce) {
  expect_table_sane(x86_64_syscalls());
  std::set<std::string_view> names;
  for (const auto& r : x86_64_syscalls()) names.insert(r.name);
  for (std::string_view n : {"open", "creat", "stat", "lstat", "access", "readlink", "mkdir", "rename", "unlink",
                             "symlink", "link"})
    EXPECT_TRUE(names.contains(n)) << n;
}

TEST(SyscallTable, Aarch64TableHasNoLegacyCalls) {
  expect_table_sane(aarch64_syscalls());
  for (const auto& r : aarch64_syscalls()) {
    EXPECT_NE(r.name, "open");
    EXPECT_NE(r.name, "stat");
  }
}

int nr_in(std::span<const SyscallRow> rows, std::string_view name) {
  for (const auto& r : rows)
    if (r.name == name) return r.nr;
  return -1;
}

// A few numbers from each architecture's kernel table, so the table that isn't native here is
// checked too (the native one is also checked against <sys/syscall.h> at compile time).
TEST(SyscallTable, NumbersMatchTheKernelTables) {
  EXPECT_EQ(nr_in(x86_64_syscalls(), "open"), 2);
  EXPECT_EQ(nr_in(x86_64_syscalls(), "openat"), 257);
  EXPECT_EQ(nr_in(x86_64_syscalls(), "execve"), 59);
  EXPECT_EQ(nr_in(x86_64_syscalls(), "newfstatat"), 262);
  EXPECT_EQ(nr_in(x86_64_syscalls(), "openat2"), 437);
  EXPECT_EQ(nr_in(aarch64_syscalls(), "openat"), 56);
  EXPECT_EQ(nr_in(aarch64_syscalls(), "execve"), 221);
  EXPECT_EQ(nr_in(aarch64_syscalls(), "newfstatat"), 79);
  EXPECT_EQ(nr_in(aarch64_syscalls(), "execveat"), 281);
  EXPECT_EQ(nr_in(aarch64_syscalls(), "connect"), 203);
  EXPECT_EQ(nr_in(aarch64_syscalls(), "faccessat2"), 439);
}

TEST(SyscallTable, NativeTableMatchesBuildArchitecture) {
#if defined(__x86_64__)
  EXPECT_EQ(native_syscalls().data(), x86_64_syscalls().data());
#elif defined(__aarch64__)
  EXPECT_EQ(native_syscalls().data(), aarch64_syscalls().data());
#endif
}

TEST(PathArithmetic, LeadingDotDotPopsTheCanonicalBase) {
  EXPECT_EQ(join_under("/a/b", "../c"), "/a/c");
  EXPECT_EQ(join_under("/a/b", "../../../c"), "/c");
  EXPECT_EQ(join_under("/", ".."), "/");
}

TEST(PathArithmetic, LaterDotDotIsKeptBecauseOfSymlinks) {
  EXPECT_EQ(join_under("/a", "link/../x"), "/a/link/../x");
}

TEST(PathArithmetic, DotsAndRepeatedSlashesAreDropped) {
  EXPECT_EQ(join_under("/a", "./b//c/"), "/a/b/c");
  EXPECT_EQ(clean_absolute("//usr/./lib/"), "/usr/lib");
  EXPECT_EQ(clean_absolute("/"), "/");
}

TEST(PathArithmetic, InsideRootStripsThePrefix) {
  EXPECT_EQ(inside_root("/srv/r", "/srv/r/etc/x"), "/etc/x");
  EXPECT_EQ(inside_root("/srv/r", "/srv/r"), "/");
  EXPECT_EQ(inside_root("/srv/r", "/srv/rx/etc"), std::nullopt);
  EXPECT_EQ(inside_root("/", "/etc"), "/etc");
}

TEST(ProcIndirection, SelfThreadSelfPidAndDevFdNameTheirLinks) {
  auto link = [](std::string_view path) {
    auto ind = proc_indirection(path, 100, 101);
    return ind ? ind->link + "|" + ind->rest + "|" + std::to_string(ind->by_pid) : std::string("none");
  };
  EXPECT_EQ(link("/proc/self/fd/3/a/b"), "/proc/100/fd/3|/a/b|0");
  EXPECT_EQ(link("/proc/self/fd/3"), "/proc/100/fd/3||0");
  EXPECT_EQ(link("/proc/thread-self/fd/7/x"), "/proc/100/task/101/fd/7|/x|0");
  EXPECT_EQ(link("/proc/4242/fd/1"), "/proc/4242/fd/1||4242");
  EXPECT_EQ(link("/proc/4242/task/4243/cwd/x"), "/proc/4242/task/4243/cwd|/x|4242");
  EXPECT_EQ(link("/proc/self/cwd/src/main.c"), "/proc/100/cwd|/src/main.c|0");
  EXPECT_EQ(link("/proc/self/root/etc/hosts"), "/proc/100/root|/etc/hosts|0");
  EXPECT_EQ(link("/proc/self/exe"), "/proc/100/exe||0");
  EXPECT_EQ(link("/dev/fd/5/name"), "/proc/101/fd/5|/name|0");
  EXPECT_EQ(link("/dev/stdin"), "/proc/101/fd/0||0");
  EXPECT_EQ(link("/dev/stderr"), "/proc/101/fd/2||0");
}

TEST(ProcIndirection, OtherProcPathsAreNotIndirections) {
  for (std::string_view p : {"/proc/self/status", "/proc/self/fd", "/proc/selfish/fd/1", "/proc/12x/fd/1",
                             "/proc/self/fd/x", "/proc/self/exe/x", "/proc/cpuinfo", "/dev/fd", "/dev/fd/1x",
                             "/dev/stdinx", "/dev/null", "/etc/proc/self/fd/1", "/proc/self/cwdx"})
    EXPECT_EQ(proc_indirection(p, 100, 101), std::nullopt) << p;
}

TEST(ProcIndirection, TheLinkIsReadNowAndMappedIntoTheRoot) {
  // This process's own cwd, as a tracee's would be.
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  auto ind = proc_indirection("/proc/self/cwd/x/y", ::getpid(), ::getpid());
  ASSERT_TRUE(ind);
  EXPECT_EQ(resolve_proc_indirection("/", *ind), std::string(cwd) + "/x/y");
  // A pipe names no path; an fd that is not open cannot be read.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto pipe = proc_indirection("/dev/fd/" + std::to_string(fds[0]), ::getpid(), ::getpid());
  ASSERT_TRUE(pipe);
  EXPECT_EQ(resolve_proc_indirection("/", *pipe), std::nullopt);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(resolve_proc_indirection("/", *pipe), std::nullopt);
}

TEST(Duration, UnitsAndBareSeconds) {
  EXPECT_EQ(*parse_duration("2"), std::chrono::milliseconds(2000));
  EXPECT_EQ(*parse_duration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*parse_duration("2m"), std::chrono::milliseconds(120000));
  EXPECT_FALSE(parse_duration("soon").ok());
  EXPECT_FALSE(parse_duration("5 parsecs").ok());
  EXPECT_FALSE(parse_duration("-1").ok());
}

TEST(ProbeUrl, HostPortAndTarget) {
  auto u = parse_http_url("http://127.0.0.1:8080/a?b=c");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/a?b=c");
  auto v = parse_http_url("http://[::1]:99");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->host, "::1");
  EXPECT_EQ(v->target, "/");
  EXPECT_FALSE(parse_http_url("https://example.com/").ok());
}

TEST(TraceJson, RoundTrips) {
  TraceLog log;
  log.command = {"prog", "arg"};
  log.exit.signaled = true;
  log.exit.signal = 9;
  log.process_count = 3;
  log.paths["/etc/a"] = PathUse{{AccessKind::Read, AccessKind::Stat}, {AccessKind::Stat}};
  log.paths["/missing"] = PathUse{{AccessKind::Read}, {}};
  log.execs.push_back(ExecRecord{42, "/bin/sh", {"sh", "-c", "x"}, {}, true});
  log.stats.seccomp_stops = 12;
  log.stats.io_uring_refused = 2;
  log.tracer = "bpf";
  log.notes = {"a note"};
  nlohmann::json j = to_json(log);
  EXPECT_EQ(j["exit"]["status"], 137);
  EXPECT_EQ(j["paths"]["/etc/a"]["succeeded"], true);
  EXPECT_EQ(j["paths"]["/missing"]["succeeded"], false);
  auto back = trace_log_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->command, log.command);
  EXPECT_EQ(back->exit, log.exit);
  EXPECT_EQ(back->paths, log.paths);
  EXPECT_EQ(back->execs, log.execs);
  EXPECT_EQ(back->stats, log.stats);
  EXPECT_EQ(back->tracer, "bpf");
  EXPECT_EQ(back->notes, log.notes);
  EXPECT_EQ(back->process_count, 3);
}

TEST(TraceJson, StreamedWriterMatchesTheDump) {
  TraceLog log;
  log.command = {"prog"};
  log.exit.code = 3;
  log.notes = {"n"};
  for (std::string p : {"/etc/a", "/usr/lib/\xff-not-utf8", "/q\"uote", "/x/y"})
    log.paths[p] = PathUse{{AccessKind::Read, AccessKind::Stat}, {AccessKind::Stat}};
  log.paths["/missing"] = PathUse{{AccessKind::Read}, {}};
  log.execs.push_back(ExecRecord{42, "/bin/sh", {"sh"}, {"/lib64/ld-linux-x86-64.so.2"}, true});
  constexpr auto replace = nlohmann::json::error_handler_t::replace;
  for (bool empty : {false, true}) {
    if (empty) log.paths.clear();
    std::string out;
    write_json(log, [&](std::string_view piece) { out += piece; });
    EXPECT_EQ(out, to_json(log).dump(2, ' ', false, replace) + "\n");
  }
}

}  // namespace
}  // namespace minify::tracer
