// `minify [pack]` and `minify why` end to end on programs compiled at test time: the minimal
// root must run the program under chroot with the same output as on the host.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "minify/base.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::minify_bin;
using testing::run;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

class PackCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
    // Resolves a name through NSS and reads the CA bundle: the files a scratch image forgets.
    ASSERT_EQ(compile_c(tmp_ / "app/hello", R"(
#include <netdb.h>
#include <stdio.h>
int main(int argc, char** argv) {
  struct addrinfo* r = 0;
  int e = getaddrinfo("localhost", "80", 0, &r);
  FILE* f = fopen("/etc/ssl/certs/ca-certificates.crt", "r");
  printf("hello %s resolve=%d ca=%s\n", argc > 1 ? argv[1] : "", e, f ? "yes" : "no");
  FILE* out = fopen("/tmp/minify-pack-test-output", "w");
  if (out) fclose(out);
  return 0;
}
)"),
              "");
    out_ = tmp_ / "out";
  }
  testing::RunResult pack(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {minify_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, env);
  }
  // Runs a command in the minimal root, with the /dev/null a container runtime would provide.
  testing::RunResult in_chroot(const std::vector<std::string>& cmd) {
    fs::create_directories(out_ / "rootfs/dev");
    if (!fs::exists(out_ / "rootfs/dev/null")) run({"mknod", "-m", "666", (out_ / "rootfs/dev/null").string(), "c", "1", "3"});
    std::vector<std::string> argv = {"chroot", (out_ / "rootfs").string()};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return run(argv);
  }
  TempDir tmp_;
  fs::path out_;
};

TEST_F(PackCli, MinimalRootRunsTheProgramLikeTheHost) {
  std::string prog = (tmp_ / "app/hello").string();
  auto host = run({prog, "world"});
  ASSERT_EQ(host.status, 0);
  auto r = pack({"-o", out_.string(), "--base", "scratch", prog, "world"});
  ASSERT_EQ(r.status, 0) << r.err;
  // Every output is there; the program's own output file is not shipped.
  for (const char* f : {"Dockerfile", "report.json", "trace.json", "generated/etc/passwd"})
    EXPECT_TRUE(fs::exists(out_ / f)) << f;
  EXPECT_FALSE(fs::exists(out_ / "rootfs/tmp/minify-pack-test-output"));
  auto c = in_chroot({prog, "world"});
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, host.out);
  EXPECT_NE(c.out.find("resolve=0 ca=yes"), std::string::npos) << c.out;
  // The loader is kept under the name the program asks for, through its symlinks.
  EXPECT_TRUE(fs::is_symlink(out_ / "rootfs/lib64") || fs::exists(out_ / "rootfs/lib64/ld-linux-x86-64.so.2"));
  EXPECT_NE(r.err.find("minify: base: scratch"), std::string::npos) << r.err;
  // pack started the program once in the minimal root (sandboxed) before saying it is done.
  EXPECT_NE(r.err.find("minify: verify: ok"), std::string::npos) << r.err;
}

TEST_F(PackCli, StaticOnlyRootRunsToo) {
  std::string prog = (tmp_ / "app/hello").string();
  auto r = pack({"--static-only", "-o", out_.string(), prog});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(out_ / "trace.json"));
  auto c = in_chroot({prog, "x"});
  EXPECT_EQ(c.status, 0) << c.err;
  // Without the trace, the headers still say getaddrinfo needs nsswitch.conf and /etc/hosts; a
  // CA bundle opened by name, with no TLS library, only a trace can find.
  EXPECT_NE(c.out.find("resolve=0 ca=no"), std::string::npos) << c.out;
}

// The runner stage's FROM: pinned by a digest of minify's table, which stderr dates; where the
// table has none for the base, the tag alone, said in the Dockerfile and warned on stderr (the
// README's "Pinned" paragraph).
TEST_F(PackCli, FromIsPinnedOrTheTagIsWrittenWithAWarning) {
  std::string prog = (tmp_ / "app/hello").string();
  for (Base b : {Base::DistrolessCc, Base::DistrolessBase}) {
    fs::path out = tmp_ / ("out-" + std::string(base_name(b)));
    auto r = pack({"--static-only", "--no-verify", "--base", std::string(base_name(b)), "-o", out.string(), prog});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string df = testing::read_file(out / "Dockerfile");
    std::string from = df.substr(df.find("\nFROM ") + 6);
    from = from.substr(0, from.find('\n'));
    std::string image = base_image(b);
    if (auto k = known_digest(b)) {
      EXPECT_EQ(from, image + "@" + std::string(k->digest));
      EXPECT_NE(r.err.find("the digest its tag had on " + std::string(k->taken)), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("no digest of"), std::string::npos) << r.err;
    } else {
      EXPECT_EQ(from, image);
      EXPECT_NE(df.find("# The base is not pinned: no digest of " + image + " is known"), std::string::npos) << df;
      EXPECT_NE(r.err.find("no digest of " + image + " is known: the FROM line carries the tag alone"), std::string::npos)
          << r.err;
    }
  }
}

TEST_F(PackCli, ScriptsBringTheirInterpreterAndWhatTheyExec) {
  write_file(tmp_ / "app/run.sh", "#!/bin/sh\necho \"script: $(cat /etc/hostname-test 2>/dev/null || echo none)\"\nls / > /dev/null\n");
  fs::permissions(tmp_ / "app/run.sh", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                         fs::perms::others_read | fs::perms::others_exec);
  std::string prog = (tmp_ / "app/run.sh").string();
  auto host = run({prog});
  auto r = pack({"-o", out_.string(), prog});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(out_ / "rootfs/bin/sh") || fs::exists(out_ / "rootfs/usr/bin/sh"));
  auto c = in_chroot({prog});
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, host.out);
  auto why = run({minify_bin(), "why", "-o", out_.string(), "/usr/bin/ls"});
  EXPECT_EQ(why.status, 0) << why.err;
  EXPECT_NE(why.out.find("exec"), std::string::npos) << why.out;
}

// The eBPF tracer records the same files as ptrace: pack ships the same set either way, and the
// verify run (in the sandbox) works under it too.
TEST_F(PackCli, EbpfTracerShipsWhatPtraceShips) {
  auto probe = run({minify_bin(), "trace", "--tracer", "bpf", "-o", "/dev/null", "--", "/bin/true"});
  if (probe.status != 0) GTEST_SKIP() << "the eBPF tracer cannot run here: " << probe.err;
  write_file(tmp_ / "app/run.sh", "#!/bin/sh\n" + (tmp_ / "app/hello").string() +
                                      " x\ncat /etc/hostname > /dev/null\nls / > /dev/null\n");
  fs::permissions(tmp_ / "app/run.sh", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                         fs::perms::others_read | fs::perms::others_exec);
  std::string prog = (tmp_ / "app/run.sh").string();
  std::map<std::string, std::set<std::string>> shipped;
  for (std::string tracer : {"bpf", "ptrace"}) {
    fs::path out = tmp_ / ("out-" + tracer);
    auto r = pack({"--tracer", tracer, "-o", out.string(), "--base", "scratch", prog});
    ASSERT_EQ(r.status, 0) << tracer << ": " << r.err;
    EXPECT_NE(r.err.find("minify: verify: ok"), std::string::npos) << tracer << ": " << r.err;
    EXPECT_EQ(r.err.find("using ptrace"), std::string::npos) << tracer << ": " << r.err;
    auto trace = nlohmann::json::parse(testing::read_file(out / "trace.json"));
    EXPECT_EQ(trace.value("tracer", ""), tracer);
    auto report = nlohmann::json::parse(testing::read_file(out / "report.json"));
    for (const auto& e : report["entries"]) shipped[tracer].insert(e["path"].get<std::string>());
  }
  EXPECT_EQ(shipped["bpf"], shipped["ptrace"]);
  // The program's own files and what it exec'd are in both.
  for (const char* p : {"/etc/ssl/certs/ca-certificates.crt", "/usr/bin/ls", "/usr/bin/cat"})
    EXPECT_TRUE(shipped["bpf"].contains(p)) << p;
}

TEST_F(PackCli, WhyNamesWhoNeededALibrary) {
  std::string prog = (tmp_ / "app/hello").string();
  ASSERT_EQ(pack({"-o", out_.string(), prog}).status, 0);
  auto why = run({minify_bin(), "why", "-o", out_.string(), "/usr/lib/x86_64-linux-gnu/libc.so.6"});
  EXPECT_EQ(why.status, 0) << why.err;
  EXPECT_NE(why.out.find("needed by " + prog), std::string::npos) << why.out;
  auto absent = run({minify_bin(), "why", "-o", out_.string(), "/usr/bin/python3"});
  EXPECT_EQ(absent.status, 1);
  auto report = nlohmann::json::parse(testing::read_file(out_ / "report.json"));
  EXPECT_FALSE(report.empty());
}

TEST_F(PackCli, KeepAndExclude) {
  write_file(tmp_ / "app/data/a.txt", "a");
  write_file(tmp_ / "app/data/b.log", "b");
  std::string prog = (tmp_ / "app/hello").string();
  auto r = pack({"-o", out_.string(), "--keep", (tmp_ / "app/data").string(), "--exclude", "*.log",
                 "--exclude", "/etc/hosts", prog});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(out_ / ("rootfs" + (tmp_ / "app/data/a.txt").string())));
  EXPECT_FALSE(fs::exists(out_ / ("rootfs" + (tmp_ / "app/data/b.log").string())));
  EXPECT_FALSE(fs::exists(out_ / "rootfs/etc/hosts"));
}

TEST_F(PackCli, NonAsciiNamesGoIntoTheTar) {
  // Debian's /etc/ssl/certs links to "NetLock_Arany_=Class_Gold=_Főtanúsítvány.pem".
  write_file(tmp_ / "app/certs/F\xc5\x91t.pem", "cert");
  fs::create_symlink("F\xc5\x91t.pem", tmp_ / "app/certs/988a38cb.0");
  auto r = pack({"--static-only", "-o", out_.string(), "--keep", (tmp_ / "app/certs").string(), "--tar",
                 (tmp_ / "t.tar").string(), (tmp_ / "app/hello").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto list = run({"tar", "tvf", (tmp_ / "t.tar").string()});
  EXPECT_NE(list.out.find("certs/F\xc5\x91t.pem"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("988a38cb.0 -> F\xc5\x91t.pem"), std::string::npos) << list.out;
}

TEST_F(PackCli, TarAndOciAreReproducible) {
  std::string prog = (tmp_ / "app/hello").string();
  std::vector<std::string> env = {"SOURCE_DATE_EPOCH=1700000000"};
  for (int i : {1, 2}) {
    auto r = pack({"--static-only", "-o", (tmp_ / ("o" + std::to_string(i))).string(), "--tar",
                   (tmp_ / ("t" + std::to_string(i) + ".tar")).string(), "--oci",
                   (tmp_ / ("i" + std::to_string(i) + ".tar")).string(), prog},
                  env);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  EXPECT_EQ(testing::read_file(tmp_ / "t1.tar"), testing::read_file(tmp_ / "t2.tar"));
  EXPECT_EQ(testing::read_file(tmp_ / "i1.tar"), testing::read_file(tmp_ / "i2.tar"));
  if (testing::have_program("skopeo")) {
    auto s = run({"skopeo", "inspect", "oci-archive:" + (tmp_ / "i1.tar").string()});
    EXPECT_EQ(s.status, 0) << s.err;
    EXPECT_NE(s.out.find("\"Architecture\": \"amd64\""), std::string::npos) << s.out;
  }
}

// The program keeps its mtime in rootfs/ and the tar; SOURCE_DATE_EPOCH clamps it when the
// file is newer; set but empty, it is unset (it once meant 0: every .pyc stale).
TEST_F(PackCli, MtimesAreKeptAndClampedBySourceDateEpoch) {
  fs::path prog = tmp_ / "app/hello";
  struct timespec ts[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, prog.c_str(), ts, 0), 0);
  std::string name = prog.relative_path().string();
  auto tar_mtime = [&](const fs::path& tar) {
    auto l = run({"tar", "--utc", "--full-time", "-tvf", tar.string(), name});
    EXPECT_EQ(l.status, 0) << l.err;
    EXPECT_EQ(l.err, "");
    return l.out;
  };
  for (const char* sde : {"", "1700000000"}) {
    auto r = pack({"--static-only", "-o", out_.string(), "--tar", (tmp_ / "t.tar").string(), prog.string()},
                  {std::string("SOURCE_DATE_EPOCH=") + sde});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(fs::last_write_time(out_ / "rootfs" / name), fs::last_write_time(prog)) << sde;
    EXPECT_NE(tar_mtime(tmp_ / "t.tar").find("2020-09-13 12:26:40"), std::string::npos) << sde;
  }
  auto r = pack({"--static-only", "-o", out_.string(), "--tar", (tmp_ / "t.tar").string(), prog.string()},
                {"SOURCE_DATE_EPOCH=1500000000"});
  ASSERT_EQ(r.status, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat((out_ / "rootfs" / name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 1500000000);
  EXPECT_NE(tar_mtime(tmp_ / "t.tar").find("2017-07-14 02:40:00"), std::string::npos);
}

TEST_F(PackCli, PackIsTheDefaultCommand) {
  std::string prog = (tmp_ / "app/hello").string();
  auto r = pack({"--static-only", "-o", out_.string(), prog});
  ASSERT_EQ(r.status, 0) << r.err;
  auto r2 = pack({"pack", "--static-only", "-o", (tmp_ / "out2").string(), prog});
  ASSERT_EQ(r2.status, 0) << r2.err;
  // The same report, but for the phase times and the mtimes of directories (/tmp, the test's
  // own), which the machine and the first run's output change in between.
  auto report = [](const fs::path& file) {
    auto j = nlohmann::json::parse(testing::read_file(file));
    EXPECT_TRUE(j.contains("times")) << file;
    j.erase("times");
    for (auto& e : j["entries"])
      if (e["type"] == "directory") e.erase("mtime");
    return j;
  };
  EXPECT_EQ(report(out_ / "report.json"), report(tmp_ / "out2/report.json"));
}

TEST_F(PackCli, PhaseTimesInReportAndOnStderr) {
  std::string prog = (tmp_ / "app/hello").string();
  auto r = pack({"--no-verify", "-o", out_.string(), prog});
  ASSERT_EQ(r.status, 0) << r.err;
  auto t = nlohmann::json::parse(testing::read_file(out_ / "report.json")).at("times");
  for (const char* phase : {"trace", "analyze", "packages", "pack"}) {
    ASSERT_TRUE(t.contains(phase)) << t.dump();
    EXPECT_GE(t[phase].get<double>(), 0.0) << phase;
  }
  // The program ran, and the package step is part of the analysis.
  EXPECT_GT(t["trace"].get<double>(), 0.0);
  EXPECT_LE(t["packages"].get<double>(), t["analyze"].get<double>());
  EXPECT_FALSE(t.contains("verify")) << "verify did not run";
  EXPECT_NE(r.err.find("minify: time: trace "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(", verify skipped\n"), std::string::npos) << r.err;

  auto v = pack({"-o", out_.string(), prog});
  ASSERT_EQ(v.status, 0) << v.err;
  auto tv = nlohmann::json::parse(testing::read_file(out_ / "report.json")).at("times");
  ASSERT_TRUE(tv.contains("verify")) << tv.dump();
  EXPECT_GT(tv["verify"].get<double>(), 0.0);
}

TEST_F(PackCli, FailureLeavesNoOutputAndKeepsTheOldOne) {
  auto r = pack({"-o", out_.string(), (tmp_ / "app/nonexistent").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out_));
  // A good run, then a failing one: the good output stays.
  ASSERT_EQ(pack({"--static-only", "-o", out_.string(), (tmp_ / "app/hello").string()}).status, 0);
  write_file(tmp_ / "app/notelf", "plain text");
  fs::permissions(tmp_ / "app/notelf", fs::perms::owner_all);
  auto bad = pack({"--static-only", "-o", out_.string(), (tmp_ / "app/notelf").string()});
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_TRUE(fs::exists(out_ / "rootfs" / (tmp_ / "app/hello").relative_path()));
  for (const auto& e : fs::directory_iterator(tmp_.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST_F(PackCli, MissingLibraryExitsOne) {
  ASSERT_EQ(compile_c(tmp_ / "lib/libgone.so", "int gone(void) { return 0; }", {"-shared", "-fPIC", "-Wl,-soname,libgone.so"}), "");
  ASSERT_EQ(compile_c(tmp_ / "app/needs", "int gone(void); int main(void) { return gone(); }",
                      {"-Wl,--no-as-needed", (tmp_ / "lib/libgone.so").string()}),
            "");
  fs::remove(tmp_ / "lib/libgone.so");
  auto r = pack({"--static-only", "-o", out_.string(), (tmp_ / "app/needs").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("libgone.so (needed by " + (tmp_ / "app/needs").string() + "): not found"), std::string::npos) << r.err;
}

TEST_F(PackCli, MissingSymbolVersionExitsOne) {
  // Linked against a libv.so.1 defining V1 and V2; the one beside it defines only V1: ld.so
  // would refuse to start it, so the minimal root is not a success.
  write_file(tmp_ / "v1.map", "V1 { global: f1; local: *; };\n");
  write_file(tmp_ / "v2.map", "V1 { global: f1; local: *; };\nV2 { global: f2; } V1;\n");
  ASSERT_EQ(compile_c(tmp_ / "build/libv.so.1", "int f1(void) { return 1; } int f2(void) { return 2; }",
                      {"-shared", "-fPIC", "-Wl,-soname,libv.so.1", "-Wl,--version-script=" + (tmp_ / "v2.map").string()}),
            "");
  ASSERT_EQ(compile_c(tmp_ / "app/lib/libv.so.1", "int f1(void) { return 1; }",
                      {"-shared", "-fPIC", "-Wl,-soname,libv.so.1", "-Wl,--version-script=" + (tmp_ / "v1.map").string()}),
            "");
  ASSERT_EQ(compile_c(tmp_ / "app/versioned", "int f2(void); int main(void) { return f2() - 2; }",
                      {"-Wl,--no-as-needed", (tmp_ / "build/libv.so.1").string(), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib"}),
            "");
  auto r = pack({"--static-only", "-o", out_.string(), (tmp_ / "app/versioned").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("version `V2' of libv.so.1 (needed by " + (tmp_ / "app/versioned").string() + "; " +
                       (tmp_ / "app/lib/libv.so.1").string() + " does not define it): not found"),
            std::string::npos)
      << r.err;
}

TEST_F(PackCli, BaseWithAnOlderGlibcIsRefused) {
  // A root whose libc.so.6 (a stand-in built here) defines GLIBC_2.38, and a program that needs it:
  // the distroless bases carry glibc 2.36, where ld.so would refuse to start it.
  fs::path root = tmp_ / "root";
  fs::create_directories(root / "lib64");
  fs::copy_file("/lib64/ld-linux-x86-64.so.2", root / "lib64/ld-linux-x86-64.so.2");
  write_file(tmp_ / "glibc.map", "GLIBC_2.2.5 { local: *; };\nGLIBC_2.38 { global: newer; } GLIBC_2.2.5;\n");
  ASSERT_EQ(compile_c(root / "lib/x86_64-linux-gnu/libc.so.6", "int newer(void) { return 0; }",
                      {"-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libc.so.6", "-Wl,--version-script=" + (tmp_ / "glibc.map").string()}),
            "");
  ASSERT_EQ(compile_c(root / "app/server", "int newer(void); void _start(void) { newer(); for (;;) {} }",
                      {"-nostdlib", "-Wl,--no-as-needed", (root / "lib/x86_64-linux-gnu/libc.so.6").string(),
                       "-Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2"}),
            "");
  for (const char* base : {"distroless-base", "distroless-cc"}) {
    auto r = pack({"--root", root.string(), "--static-only", "--base", base, "-o", out_.string(), "/app/server"});
    EXPECT_EQ(r.status, 2) << base;
    EXPECT_NE(r.err.find("its glibc 2.36 is older than /app/server needs (GLIBC_2.38 from libc.so.6"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--base scratch"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out_)) << "a refused base leaves no output";
  }
  // Scratch ships the closure's own glibc; left to itself minify picks scratch too.
  auto scratch = pack({"--root", root.string(), "--static-only", "--base", "scratch", "-o", out_.string(), "/app/server"});
  EXPECT_EQ(scratch.status, 0) << scratch.err;
  EXPECT_TRUE(fs::exists(out_ / "rootfs/lib/x86_64-linux-gnu/libc.so.6"));
  auto chosen = pack({"--root", root.string(), "--static-only", "-o", out_.string(), "/app/server"});
  EXPECT_EQ(chosen.status, 0) << chosen.err;
  EXPECT_NE(testing::read_file(out_ / "Dockerfile").find("FROM scratch"), std::string::npos) << testing::read_file(out_ / "Dockerfile");
}

}  // namespace
}  // namespace minify
