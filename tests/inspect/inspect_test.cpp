// minify inspect on C programs compiled at test time: dlopen recovery (literal, computed, through
// the PLT and the GOT, RUNPATH, .note.dlopen, AArch64), runtime needs from imports, static and
// static-pie files, scripts. One test per rule, named after it.
#include <gtest/gtest.h>

#include <algorithm>

#include "inspect_support.hpp"
#include "minify/elf_detail.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::dlopen_in;
using testing::inspect_host;
using testing::TempDir;
using testing::write_file;

constexpr const char* kDlopenLiteral = R"(
#include <dlfcn.h>
#include <stdio.h>
int main(void) {
  void* h = dlopen("libz.so.1", RTLD_NOW);
  printf("%p\n", h);
  return 0;
}
)";

bool has_path(const std::vector<std::string>& v, const std::string& p) { return std::find(v.begin(), v.end(), p) != v.end(); }

class Inspect : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_program("cc")) GTEST_SKIP() << "no cc";
  }
  TempDir tmp_;
};

TEST_F(Inspect, DlopenLiteralIsRecoveredAndResolvedLikeDtNeeded) {
  for (const char* opt : {"-O0", "-O2"}) {
    auto bin = tmp_ / (std::string("prog") + opt);
    ASSERT_EQ(compile_c(bin, kDlopenLiteral, {opt}), "");
    FileReport r = inspect_host(bin);
    auto t = dlopen_in(r, bin);
    ASSERT_EQ(t.size(), 1u) << opt;
    EXPECT_EQ(t[0].name, "libz.so.1");
    EXPECT_EQ(t[0].function, "dlopen");
    EXPECT_EQ(t[0].source, DlopenSource::CallSite);
    EXPECT_NE(t[0].call_site, 0u);
    EXPECT_TRUE(t[0].resolved);
    EXPECT_EQ(t[0].how, FoundBy::LdSoCache);
    EXPECT_EQ(testing::fs::path(t[0].path).filename(), "libz.so.1");
  }
}

TEST_F(Inspect, DlopenThroughGotWithNoPltIsRecovered) {
  auto bin = tmp_ / "noplt";
  ASSERT_EQ(compile_c(bin, kDlopenLiteral, {"-O2", "-fno-plt"}), "");
  auto t = dlopen_in(inspect_host(bin), bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "libz.so.1");
}

TEST_F(Inspect, DlopenWithoutSectionHeadersStillRecovered) {
  auto bin = tmp_ / "nosections";
  ASSERT_EQ(compile_c(bin, kDlopenLiteral, {"-O2"}), "");
  testing::drop_section_headers(bin);
  FileReport r = inspect_host(bin);
  auto t = dlopen_in(r, bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "libz.so.1");
}

TEST_F(Inspect, DlopenComputedNameIsUnknownNotGuessed) {
  auto bin = tmp_ / "computed";
  ASSERT_EQ(compile_c(bin, R"(
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char** argv) {
  char name[64];
  snprintf(name, sizeof name, "lib%s.so.1", argc > 1 ? argv[1] : "z");
  return dlopen(name, RTLD_NOW) == 0;
}
)", {"-O2"}), "");
  auto t = dlopen_in(inspect_host(bin), bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_TRUE(t[0].name.empty());
  EXPECT_FALSE(t[0].resolved);
  EXPECT_FALSE(t[0].unknown_reason.empty());
}

TEST_F(Inspect, DlopenNullIsTheProgramItselfAndNotReported) {
  auto bin = tmp_ / "self";
  ASSERT_EQ(compile_c(bin, "#include <dlfcn.h>\nint main(void) { return dlopen(0, RTLD_NOW) == 0; }", {"-O2"}), "");
  EXPECT_TRUE(dlopen_in(inspect_host(bin), bin).empty());
}

TEST_F(Inspect, DlopenTargetFoundThroughCallersRunpath) {
  ASSERT_EQ(compile_c(tmp_ / "plug/libplug.so", "int plug(void) { return 1; }", {"-shared", "-fPIC", "-Wl,-soname,libplug.so"}), "");
  auto bin = tmp_ / "host";
  ASSERT_EQ(compile_c(bin, "#include <dlfcn.h>\nint main(void) { return dlopen(\"libplug.so\", RTLD_NOW) == 0; }",
                      {"-Wl,--enable-new-dtags", "-Wl,-rpath," + (tmp_ / "plug").string()}),
            "");
  auto t = dlopen_in(inspect_host(bin), bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_TRUE(t[0].resolved);
  EXPECT_EQ(t[0].how, FoundBy::Runpath);
  EXPECT_EQ(t[0].path, (tmp_ / "plug/libplug.so").string());
}

TEST_F(Inspect, DlopenAbsolutePathIsOpenedAsWritten) {
  ASSERT_EQ(compile_c(tmp_ / "libabs.so", "int f(void) { return 1; }", {"-shared", "-fPIC"}), "");
  auto bin = tmp_ / "abs";
  ASSERT_EQ(compile_c(bin, "#include <dlfcn.h>\nint main(void) { return dlopen(\"" + (tmp_ / "libabs.so").string() +
                               "\", RTLD_LAZY) == 0; }"),
            "");
  auto t = dlopen_in(inspect_host(bin), bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].how, FoundBy::Path);
  EXPECT_TRUE(t[0].resolved);
}

TEST_F(Inspect, DlopenMissingLibraryIsUnresolvedWithSearchedDirs) {
  auto bin = tmp_ / "missing";
  ASSERT_EQ(compile_c(bin, "#include <dlfcn.h>\nint main(void) { return dlopen(\"libnot-there-minify.so.7\", RTLD_NOW) == 0; }"), "");
  auto t = dlopen_in(inspect_host(bin), bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "libnot-there-minify.so.7");
  EXPECT_FALSE(t[0].resolved);
  EXPECT_TRUE(has_path(t[0].searched, "ld.so.cache"));
}

TEST_F(Inspect, DlmopenNameIsTheSecondArgument) {
  auto bin = tmp_ / "dlmopen";
  ASSERT_EQ(compile_c(bin, "#define _GNU_SOURCE\n#include <dlfcn.h>\nint main(void) { return dlmopen(LM_ID_NEWLM, \"libz.so.1\", RTLD_NOW) == 0; }", {"-O2"}), "");
  auto t = dlopen_in(inspect_host(bin), bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].function, "dlmopen");
  EXPECT_EQ(t[0].name, "libz.so.1");
}

TEST_F(Inspect, NoteDlopenDeclaresOptionalDependencies) {
  auto lib = tmp_ / "libnoted.so";
  ASSERT_EQ(compile_c(lib, R"(
__asm__(".pushsection .note.dlopen,\"a\",@note\n"
        ".balign 4\n"
        ".long 4\n"
        ".long 2f-1f\n"
        ".long 0x407c0c0a\n"
        ".asciz \"FDO\"\n"
        "1: .asciz \"[{\\\"feature\\\":\\\"compression\\\",\\\"description\\\":\\\"zlib\\\",\\\"priority\\\":\\\"recommended\\\",\\\"soname\\\":[\\\"libz.so.1\\\"]}]\"\n"
        "2: .balign 4\n"
        ".popsection\n");
int noted(void) { return 1; }
)", {"-shared", "-fPIC", "-Wl,-soname,libnoted.so"}), "");
  FileReport r = inspect_host(lib);
  auto t = dlopen_in(r, lib);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].source, DlopenSource::Note);
  EXPECT_EQ(t[0].name, "libz.so.1");
  EXPECT_EQ(t[0].feature, "compression");
  EXPECT_EQ(t[0].priority, "recommended");
  EXPECT_TRUE(t[0].resolved);
}

TEST_F(Inspect, GetaddrinfoNeedsResolverFilesAndNssModules) {
  auto bin = tmp_ / "gai";
  ASSERT_EQ(compile_c(bin, R"(
#include <netdb.h>
#include <stddef.h>
int main(void) { struct addrinfo* ai; return getaddrinfo("localhost", NULL, NULL, &ai); }
)"), "");
  FileReport r = inspect_host(bin);
  const RuntimeNeed* hr = r.need(NeedKind::HostResolver);
  ASSERT_NE(hr, nullptr);
  EXPECT_FALSE(hr->optional);
  EXPECT_TRUE(has_path(hr->paths, "/etc/hosts"));
  EXPECT_TRUE(has_path(hr->paths, "/etc/resolv.conf"));
  ASSERT_FALSE(hr->evidence.empty());
  EXPECT_EQ(hr->evidence[0].object, bin.string());
  EXPECT_EQ(hr->evidence[0].detail.rfind("imports getaddrinfo", 0), 0u);
  const RuntimeNeed* nss = r.need(NeedKind::Nss);
  ASSERT_NE(nss, nullptr);
  EXPECT_TRUE(has_path(nss->paths, "/etc/nsswitch.conf"));
  EXPECT_TRUE(std::any_of(r.nss_modules.begin(), r.nss_modules.end(), [](const NssModule& m) { return m.database == "hosts"; }));
  EXPECT_EQ(r.need(NeedKind::UserDatabase), nullptr);
}

TEST_F(Inspect, GetpwnamNeedsPasswdAndPasswdNssModules) {
  auto bin = tmp_ / "pw";
  ASSERT_EQ(compile_c(bin, "#include <pwd.h>\nint main(void) { return getpwnam(\"root\") == 0; }"), "");
  FileReport r = inspect_host(bin);
  const RuntimeNeed* u = r.need(NeedKind::UserDatabase);
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(has_path(u->paths, "/etc/passwd"));
  EXPECT_TRUE(std::all_of(r.nss_modules.begin(), r.nss_modules.end(), [](const NssModule& m) { return m.database == "passwd"; }));
  EXPECT_FALSE(r.nss_modules.empty());
  EXPECT_EQ(r.need(NeedKind::HostResolver), nullptr);
}

TEST_F(Inspect, IconvOpenNeedsGconvModules) {
  auto bin = tmp_ / "iconv";
  ASSERT_EQ(compile_c(bin, "#include <iconv.h>\nint main(void) { return iconv_open(\"UTF-8\", \"LATIN1\") == (iconv_t)-1; }"), "");
  FileReport r = inspect_host(bin);
  const RuntimeNeed* g = r.need(NeedKind::Gconv);
  ASSERT_NE(g, nullptr);
  ASSERT_FALSE(g->paths.empty());
  EXPECT_TRUE(std::all_of(g->paths.begin(), g->paths.end(), [](const std::string& p) { return p.find("/gconv/") != std::string::npos; }));
}

TEST_F(Inspect, PthreadCancelNeedsLibgccS) {
  auto bin = tmp_ / "cancel";
  ASSERT_EQ(compile_c(bin, "#include <pthread.h>\nint main(void) { return pthread_cancel(pthread_self()); }", {"-pthread"}), "");
  FileReport r = inspect_host(bin);
  const RuntimeNeed* n = r.need(NeedKind::LibgccS);
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->paths.size(), 1u);
  EXPECT_EQ(testing::fs::path(n->paths[0]).filename(), "libgcc_s.so.1");
}

TEST_F(Inspect, DynamicGlibcProgramReportsNewestGlibcVersion) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }"), "");
  FileReport r = inspect_host(bin);
  EXPECT_EQ(r.kind, FileKind::Dynamic);
  EXPECT_EQ(r.libc, LoaderFamily::Glibc);
  ASSERT_EQ(r.newest_glibc.rfind("GLIBC_2.", 0), 0u) << r.newest_glibc;
  EXPECT_FALSE(r.newest_glibc_closure.empty());
  EXPECT_FALSE(r.truly_static());
  EXPECT_TRUE(std::any_of(r.not_static_reasons.begin(), r.not_static_reasons.end(),
                          [](const std::string& s) { return s.find("PT_INTERP") != std::string::npos; }));
  EXPECT_EQ(r.base.base, Base::DistrolessBase);
  EXPECT_TRUE(r.base.extra_libraries.empty());
}

TEST_F(Inspect, StaticPieIsTrulyStaticAndFitsScratch) {
  auto bin = tmp_ / "spie";
  std::string err = compile_c(bin, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }", {"-static-pie"});
  if (!err.empty()) GTEST_SKIP() << "no static-pie support: " << err;
  FileReport r = inspect_host(bin);
  EXPECT_EQ(r.kind, FileKind::StaticPie);
  EXPECT_TRUE(r.truly_static());
  EXPECT_EQ(r.libc, LoaderFamily::Glibc);
  EXPECT_TRUE(r.closure.empty());
  EXPECT_EQ(r.base.base, Base::Scratch);
}

TEST_F(Inspect, StaticGlibcWithGetaddrinfoStillNeedsGlibcForNss) {
  auto bin = tmp_ / "static-gai";
  std::string err = compile_c(bin, R"(
#include <netdb.h>
#include <stddef.h>
int main(void) { struct addrinfo* ai; return getaddrinfo("localhost", NULL, NULL, &ai); }
)", {"-static"});
  if (!err.empty()) GTEST_SKIP() << "no static glibc: " << err;
  FileReport r = inspect_host(bin);
  EXPECT_EQ(r.kind, FileKind::Static);
  EXPECT_TRUE(r.truly_static());
  const RuntimeNeed* hr = r.need(NeedKind::HostResolver);
  ASSERT_NE(hr, nullptr);
  EXPECT_NE(hr->evidence.at(0).detail.find("statically"), std::string::npos);
  ASSERT_NE(r.need(NeedKind::Nss), nullptr);
  EXPECT_EQ(r.base.base, Base::DistrolessBase);
}

TEST_F(Inspect, MuslProgramIsMusl) {
  if (!testing::have_program("musl-gcc")) GTEST_SKIP() << "no musl-gcc";
  auto dyn = tmp_ / "musl-dyn", st = tmp_ / "musl-static";
  ASSERT_EQ(compile_c(dyn, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }", {}, "musl-gcc"), "");
  ASSERT_EQ(compile_c(st, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }", {"-static"}, "musl-gcc"), "");
  FileReport d = inspect_host(dyn);
  EXPECT_EQ(d.libc, LoaderFamily::Musl);
  EXPECT_TRUE(d.newest_glibc.empty());
  FileReport s = inspect_host(st);
  EXPECT_EQ(s.kind, FileKind::Static);
  EXPECT_EQ(s.libc, LoaderFamily::Musl);
  EXPECT_EQ(s.base.base, Base::Scratch);
}

TEST_F(Inspect, ShellScriptReportsItsInterpreter) {
  auto script = tmp_ / "run.sh";
  write_file(script, "#!/bin/sh -e\necho hi\n");
  FileReport r = inspect_host(script);
  EXPECT_EQ(r.kind, FileKind::Script);
  ASSERT_TRUE(r.script.has_value());
  EXPECT_EQ(r.script->interpreter, "/bin/sh");
  EXPECT_EQ(r.script->args, std::vector<std::string>{"-e"});
  ASSERT_TRUE(r.script->resolved.has_value());
  ASSERT_TRUE(r.ident.has_value());  // the interpreter's ELF facts
  EXPECT_EQ(r.libc, LoaderFamily::Glibc);
  EXPECT_FALSE(r.truly_static());
}

TEST_F(Inspect, PythonScriptThroughEnvFindsPython) {
  if (!testing::have_program("python3")) GTEST_SKIP() << "no python3";
  auto script = tmp_ / "tool.py";
  write_file(script, "#!/usr/bin/env python3\nprint('hi')\n");
  FileReport r = inspect_host(script);
  EXPECT_EQ(r.kind, FileKind::Script);
  ASSERT_TRUE(r.script.has_value());
  EXPECT_EQ(r.script->interpreter, "/usr/bin/env");
  EXPECT_EQ(r.script->program, "python3");
  ASSERT_TRUE(r.script->resolved.has_value());
  EXPECT_EQ(testing::fs::path(*r.script->resolved).filename(), "python3");
  EXPECT_FALSE(r.closure.empty());
}

TEST_F(Inspect, TextFileIsNotElf) {
  write_file(tmp_ / "notes.txt", "hello\n");
  FileReport r = inspect_host(tmp_ / "notes.txt");
  EXPECT_EQ(r.kind, FileKind::NotElf);
  EXPECT_FALSE(r.truly_static());
}

TEST_F(Inspect, TruncatedElfIsAnErrorNotACrash) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, "int main(void) { return 0; }"), "");
  std::string bytes = testing::read_file(bin);
  write_file(tmp_ / "cut", bytes.substr(0, 100));
  auto root = Root::open("/");
  ASSERT_TRUE(root.ok());
  Inspector in(*root, {});
  EXPECT_FALSE(in.inspect((tmp_ / "cut").string()).ok());
}

TEST(InspectAarch64, DlopenLiteralIsRecoveredFromAarch64Code) {
  if (!testing::have_program("aarch64-linux-gnu-gcc")) GTEST_SKIP() << "no aarch64 cross compiler";
  TempDir tmp;
  for (const char* opt : {"-O0", "-O2"}) {
    auto bin = tmp / (std::string("prog") + opt);
    ASSERT_EQ(compile_c(bin, kDlopenLiteral, {opt}, "aarch64-linux-gnu-gcc"), "");
    std::string image = testing::read_file(bin);
    auto d = read_elf_detail(image, bin.string());
    ASSERT_TRUE(d.ok());
    auto calls = scan_dlopen_calls(*d, image, {});
    ASSERT_EQ(calls.size(), 1u) << opt;
    ASSERT_TRUE(calls[0].name.has_value());
    EXPECT_EQ(*calls[0].name, "libz.so.1");
  }
}

TEST(InspectAarch64, ComputedNameIsUnknownInAarch64Code) {
  if (!testing::have_program("aarch64-linux-gnu-gcc")) GTEST_SKIP() << "no aarch64 cross compiler";
  TempDir tmp;
  auto bin = tmp / "computed";
  ASSERT_EQ(compile_c(bin, "#include <dlfcn.h>\nint main(int c, char** v) { return dlopen(v[c - 1], RTLD_NOW) == 0; }",
                      {"-O2"}, "aarch64-linux-gnu-gcc"),
            "");
  std::string image = testing::read_file(bin);
  auto d = read_elf_detail(image, bin.string());
  ASSERT_TRUE(d.ok());
  auto calls = scan_dlopen_calls(*d, image, {});
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].name.has_value());
  EXPECT_FALSE(calls[0].unknown_reason.empty());
}

TEST(NsswitchServices, ActionsAreSkippedAndLastLineWins) {
  std::string conf = "# comment\nhosts: files dns\npasswd: files\nhosts:  files [NOTFOUND=return] mdns4_minimal dns # x\n";
  EXPECT_EQ(nsswitch_services(conf, "hosts"), (std::vector<std::string>{"files", "mdns4_minimal", "dns"}));
  EXPECT_EQ(nsswitch_services(conf, "passwd"), std::vector<std::string>{"files"});
  EXPECT_TRUE(nsswitch_services(conf, "group").empty());
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

using testing::compile_c;
using testing::TempDir;
using testing::write_file;

TEST(InspectStatic, DlopenInStaticGlibcIsFoundThroughSymtabAndNeedsGlibc) {
  if (!testing::have_program("cc")) GTEST_SKIP() << "no cc";
  TempDir tmp;
  auto bin = tmp / "sdl";
  std::string err = compile_c(bin, "#include <dlfcn.h>\nint main(void) { return dlopen(\"libz.so.1\", RTLD_NOW) == 0; }", {"-static", "-O2"});
  if (!err.empty()) GTEST_SKIP() << "no static glibc: " << err;
  FileReport r = testing::inspect_host(bin);
  EXPECT_EQ(r.kind, FileKind::Static);
  std::vector<DlopenTarget> t;
  for (const auto& x : testing::dlopen_in(r, bin)) {
    if (x.function == "dlopen") t.push_back(x);
    // glibc's internal loads with computed names are left to the NSS and gconv rules.
    if (x.function == "__libc_dlopen_mode") {
      EXPECT_FALSE(x.name.empty());
    }
  }
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "libz.so.1");
  EXPECT_TRUE(t[0].resolved);
  EXPECT_EQ(r.base.base, Base::DistrolessBase);
}

// A root whose nsswitch.conf names a module of its own: the module is found inside the root and
// the built-in services are not looked for.
TEST(InspectRoot, NssModulesNamedByTheRootsNsswitchConfResolveInsideIt) {
  if (!testing::have_program("cc")) GTEST_SKIP() << "no cc";
  TempDir tmp;
  auto root = tmp / "root";
  std::string err = compile_c(root / "bin/gai", R"(
#include <netdb.h>
#include <stddef.h>
int main(void) { struct addrinfo* ai; return getaddrinfo("localhost", NULL, NULL, &ai); }
)", {"-static"});
  if (!err.empty()) GTEST_SKIP() << "no static glibc: " << err;
  auto libc = Root::open("/");
  ASSERT_TRUE(libc.ok());
  auto host_libc = libc->resolve("/lib/x86_64-linux-gnu/libc.so.6");
  if (!host_libc.ok()) GTEST_SKIP() << "no x86-64 multiarch libc on the host";
  testing::fs::create_directories(root / "lib/x86_64-linux-gnu");
  testing::fs::copy_file(host_libc->path, root / "lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_EQ(compile_c(root / "lib/x86_64-linux-gnu/libnss_minifytest.so.2", "int _nss_minifytest_x(void) { return 0; }",
                      {"-shared", "-fPIC", "-Wl,-soname,libnss_minifytest.so.2"}),
            "");
  write_file(root / "etc/nsswitch.conf", "passwd: files\nhosts: files minifytest [NOTFOUND=return] dns\n");

  auto r_root = Root::open((root).string());
  ASSERT_TRUE(r_root.ok());
  Inspector in(*r_root, {});
  auto r = in.inspect("/bin/gai");
  ASSERT_TRUE(r.ok()) << r.error().message();
  std::vector<NssModule> hosts;
  for (const auto& m : r->nss_modules)
    if (m.database == "hosts") hosts.push_back(m);
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[0].service, "files");
  EXPECT_TRUE(hosts[0].builtin);
  EXPECT_EQ(hosts[1].service, "minifytest");
  EXPECT_FALSE(hosts[1].builtin);
  ASSERT_TRUE(hosts[1].path.has_value());
  EXPECT_EQ(*hosts[1].path, "/lib/x86_64-linux-gnu/libnss_minifytest.so.2");
  EXPECT_EQ(hosts[2].service, "dns");
  EXPECT_TRUE(hosts[2].builtin);
  // passwd is not consulted by getaddrinfo.
  EXPECT_TRUE(std::none_of(r->nss_modules.begin(), r->nss_modules.end(), [](const NssModule& m) { return m.database == "passwd"; }));
  const RuntimeNeed* nss = r->need(NeedKind::Nss);
  ASSERT_NE(nss, nullptr);
  EXPECT_TRUE(std::find(nss->paths.begin(), nss->paths.end(), "/lib/x86_64-linux-gnu/libnss_minifytest.so.2") != nss->paths.end());
  EXPECT_EQ(r->base.base, Base::DistrolessBase);
}

TEST(InspectScript, MissingInterpreterIsAWarningNotAnError) {
  TempDir tmp;
  write_file(tmp / "x.pl", "#!/usr/bin/no-such-interpreter-minify -w\n");
  auto root = Root::open("/");
  ASSERT_TRUE(root.ok());
  Inspector in(*root, {});
  Context ctx;
  auto r = in.inspect((tmp / "x.pl").string(), &ctx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, FileKind::Script);
  ASSERT_TRUE(r->script.has_value());
  EXPECT_FALSE(r->script->resolved.has_value());
  ASSERT_EQ(ctx.diagnostics().size(), 1u);
  EXPECT_EQ(ctx.diagnostics()[0].severity, Severity::Warning);
  EXPECT_EQ(ctx.diagnostics()[0].source, (tmp / "x.pl").string());
  EXPECT_NE(ctx.diagnostics()[0].message.find("no-such-interpreter-minify"), std::string::npos);
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

TEST(InspectRust, RustBinaryIsRecognisedFromComment) {
  if (!testing::have_program("rustc")) GTEST_SKIP() << "no rustc";
  testing::TempDir tmp;
  testing::write_file(tmp / "main.rs", "fn main() { println!(\"hi\"); }\n");
  auto bin = tmp / "hello-rs";
  auto r = testing::run({"rustc", "-O", "-C", "strip=symbols", "-o", bin.string(), (tmp / "main.rs").string()});
  if (r.status != 0) GTEST_SKIP() << "rustc failed: " << r.err;
  FileReport rep = testing::inspect_host(bin);
  EXPECT_TRUE(rep.rust);
  EXPECT_EQ(rep.rustc_version.rfind("rustc version ", 0), 0u) << rep.rustc_version;
  EXPECT_FALSE(rep.go.has_value());
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

// GLib's loader: no headers needed, the prototype is declared here and the runtime library linked
// by path.
TEST(InspectGModule, GModuleOpenLiteralIsRecovered) {
  const std::string lib = "/usr/lib/x86_64-linux-gnu/libgmodule-2.0.so.0";
  if (!testing::have_program("cc") || !testing::fs::exists(lib)) GTEST_SKIP() << "no cc or no libgmodule";
  testing::TempDir tmp;
  auto bin = tmp / "gmod";
  ASSERT_EQ(compile_c(bin, "void* g_module_open(const char*, int);\nint main(void) { return g_module_open(\"libz.so.1\", 0) == 0; }",
                      {"-O2", lib}),
            "");
  auto t = testing::dlopen_in(testing::inspect_host(bin), bin);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].function, "g_module_open");
  EXPECT_EQ(t[0].name, "libz.so.1");
  EXPECT_TRUE(t[0].resolved);
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

TEST(ImplicitFiles, NeedsNssAndDlopenTargetsBecomeFilesWithReasons) {
  FileReport r;
  r.path = "/usr/bin/app";
  RuntimeNeed ca;
  ca.kind = NeedKind::CaCertificates;
  ca.evidence.push_back({"/usr/lib/libssl.so.3", "links libssl.so.3 (OpenSSL)"});
  ca.paths = {"/etc/ssl/certs/", "/etc/ssl/certs/ca-certificates.crt"};
  RuntimeNeed gconv;
  gconv.kind = NeedKind::Gconv;
  gconv.paths = {"/usr/lib/gconv/*.so"};
  RuntimeNeed gcc;
  gcc.kind = NeedKind::LibgccS;
  gcc.paths = {"libgcc_s.so.1"};  // unresolved: a name, not a path
  RuntimeNeed tz;
  tz.kind = NeedKind::Zoneinfo;
  tz.optional = true;
  tz.paths = {"/etc/localtime"};
  r.needs = {ca, gconv, gcc, tz};
  r.nss_modules.push_back({"hosts", "files", "libnss_files.so.2", true, std::nullopt});
  r.nss_modules.push_back({"hosts", "mdns", "libnss_mdns.so.2", false, std::string("/lib/libnss_mdns.so.2")});
  DlopenTarget t;
  t.name = "libz.so.1";
  t.function = "dlopen";
  t.object = "/usr/bin/app";
  t.resolved = true;
  t.path = "/lib/libz.so.1";
  t.closure = {"/lib/libc.so.6"};
  DlopenTarget unresolved;
  unresolved.name = "libnope.so";
  r.dlopen = {t, unresolved};

  auto files = implicit_files(r);
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/etc/ssl/certs", "/etc/ssl/certs/ca-certificates.crt", "/usr/lib/gconv/*.so",
                                             "/etc/localtime", "/lib/libnss_mdns.so.2", "/lib/libz.so.1", "/lib/libc.so.6"}));
  EXPECT_EQ(files[0].kind, ImplicitFile::Kind::Tree);
  EXPECT_EQ(files[1].kind, ImplicitFile::Kind::File);
  EXPECT_EQ(files[2].kind, ImplicitFile::Kind::Glob);
  EXPECT_TRUE(files[3].optional);
  EXPECT_FALSE(files[0].optional);
  EXPECT_NE(files[0].reason.find("links libssl.so.3"), std::string::npos);
  EXPECT_NE(files[4].reason.find("mdns"), std::string::npos);
  EXPECT_NE(files[5].reason.find("dlopen libz.so.1"), std::string::npos);
  EXPECT_NE(files[6].reason.find("needed by /lib/libz.so.1"), std::string::npos);
}

}  // namespace
}  // namespace minify

namespace minify {
namespace {

// A name behind a pointer is constant only when the pointer itself is: a `const char *const` in
// RELRO data is followed (through its RELATIVE relocation in a PIE); a writable one is not.
// The pointers live in another translation unit, so the compiler cannot fold them into the call.
constexpr const char* kPointerMain = R"(
#include <dlfcn.h>
extern const char* const kConstName;
extern const char* writable_name;
int main(void) { return dlopen(kConstName, RTLD_NOW) == dlopen(writable_name, RTLD_NOW); }
)";
constexpr const char* kPointerData = "const char* const kConstName = \"libz.so.1\";\nconst char* writable_name = \"libm.so.6\";\n";

void expect_pointer_rules(const std::vector<DlopenCall>& calls) {
  ASSERT_EQ(calls.size(), 2u);
  ASSERT_TRUE(calls[0].name.has_value()) << calls[0].unknown_reason;
  EXPECT_EQ(*calls[0].name, "libz.so.1");
  EXPECT_FALSE(calls[1].name.has_value());
  EXPECT_FALSE(calls[1].unknown_reason.empty());
}

TEST(DlopenPointer, ConstPointerIsFollowedWritableIsNot) {
  if (!testing::have_program("cc")) GTEST_SKIP() << "no cc";
  TempDir tmp;
  write_file(tmp / "names.c", kPointerData);
  for (std::vector<std::string> args : {std::vector<std::string>{"-O0"}, {"-O2"}, {"-O0", "-no-pie"}, {"-O2", "-fno-pie", "-no-pie"}}) {
    auto bin = tmp / ("p" + std::to_string(args.size()) + args[0] + (args.size() > 1 ? "np" : ""));
    args.push_back((tmp / "names.c").string());
    ASSERT_EQ(compile_c(bin, kPointerMain, args), "");
    std::string image = testing::read_file(bin);
    auto d = read_elf_detail(image, bin.string());
    ASSERT_TRUE(d.ok());
    SCOPED_TRACE(args[0] + (args.size() > 1 ? " no-pie" : ""));
    expect_pointer_rules(scan_dlopen_calls(*d, image, {}));
  }
}

TEST(DlopenPointer, ConstPointerIsFollowedInAarch64Code) {
  if (!testing::have_program("aarch64-linux-gnu-gcc")) GTEST_SKIP() << "no aarch64 cross compiler";
  TempDir tmp;
  write_file(tmp / "names.c", kPointerData);
  for (const char* opt : {"-O0", "-O2"}) {
    auto bin = tmp / (std::string("a") + opt);
    ASSERT_EQ(compile_c(bin, kPointerMain, {opt, (tmp / "names.c").string()}, "aarch64-linux-gnu-gcc"), "");
    std::string image = testing::read_file(bin);
    auto d = read_elf_detail(image, bin.string());
    ASSERT_TRUE(d.ok());
    SCOPED_TRACE(opt);
    expect_pointer_rules(scan_dlopen_calls(*d, image, {}));
  }
}

}  // namespace
}  // namespace minify
