// ld.so's symbol-version check (glibc elf/dl-version.c), one test per rule, on a two-version
// library pair built at test time: the program links against the build that defines V1 and V2
// and runs against the one that defines only V1. Where the rule shows at run time, the test runs
// the program and checks that ld.so itself says what minify says.
#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "minify/resolve.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::run;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

// The SysV ELF hash (gABI "Hash Table"), which vna_hash and vd_hash hold.
uint32_t elf_hash(std::string_view name) {
  uint32_t h = 0;
  for (unsigned char c : name) {
    h = (h << 4) + c;
    uint32_t g = h & 0xf0000000;
    if (g != 0) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

class VersionTest : public ::testing::Test {
 protected:
  // libx.so.1 defining f1@V1 and, in the "v2" build, f2@V2 too.
  fs::path libx(const std::string& rel, bool with_v2, bool versioned = true) {
    fs::path out = tmp_ / rel;
    fs::create_directories(out.parent_path());
    std::string script = with_v2 ? "V1 { global: f1; local: *; };\nV2 { global: f2; } V1;\n" : "V1 { global: f1; local: *; };\n";
    write_file(out.string() + ".map", script);
    std::vector<std::string> args = {"-shared", "-fPIC", "-Wl,-soname,libx.so.1"};
    if (versioned) args.push_back("-Wl,--version-script=" + out.string() + ".map");
    std::string src = with_v2 || !versioned ? "int f1(void) { return 1; } int f2(void) { return 2; }" : "int f1(void) { return 1; }";
    EXPECT_EQ(compile_c(out, src, args), "") << rel;
    return out;
  }
  // bin/prog, linked against the V2 build, finding libx.so.1 in bin/lib (DT_RUNPATH $ORIGIN/lib).
  fs::path prog(const std::string& source) {
    fs::path v2 = libx("build/libx.so.1", true);
    fs::path out = tmp_ / "bin/prog";
    fs::create_directories(out.parent_path());
    EXPECT_EQ(compile_c(out, source, {"-Wl,--no-as-needed", v2.string(), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib"}), "");
    return out;
  }
  void install(const fs::path& lib) {
    fs::create_directories(tmp_ / "bin/lib");
    fs::copy_file(lib, tmp_ / "bin/lib/libx.so.1", fs::copy_options::overwrite_existing);
  }
  Closure closure(const fs::path& file, const std::string& root_dir = "/") {
    auto root = Root::open(root_dir);
    EXPECT_TRUE(root);
    Resolver r(*root, {});
    auto c = r.closure(file.string());
    EXPECT_TRUE(c) << c.error().message();
    return c ? std::move(*c) : Closure{};
  }
  static std::vector<std::string> messages(const Closure& c, bool fatal) {
    std::vector<std::string> out;
    for (const auto& p : c.version_problems)
      if (p.fatal == fatal) out.push_back(version_problem_message(c, p));
    return out;
  }
  std::string lib_path() const { return (tmp_ / "bin/lib/libx.so.1").string(); }

  TempDir tmp_;
};

constexpr const char* kCallsF2 = "int f2(void); int main(void) { return f2() - 2; }";

TEST_F(VersionTest, MissingVersionIsFatalAsLdSoSaysIt) {
  fs::path p = prog(kCallsF2);
  install(libx("v1/libx.so.1", false));
  Closure c = closure(p);
  ASSERT_EQ(c.version_problems.size(), 1u) << ::testing::PrintToString(messages(c, false));
  const VersionProblem& v = c.version_problems[0];
  EXPECT_TRUE(v.fatal);
  EXPECT_EQ(v.object, 0);
  EXPECT_EQ(v.file, "libx.so.1");
  EXPECT_EQ(v.version, "V2");
  ASSERT_GE(v.provider, 0);
  EXPECT_EQ(c.objects[static_cast<size_t>(v.provider)].path, lib_path());
  std::string want = lib_path() + ": version `V2' not found (required by " + p.string() + ")";
  EXPECT_EQ(version_problem_message(c, v), want);
  EXPECT_TRUE(c.incomplete());
  EXPECT_TRUE(c.missing.empty());

  // ld.so refuses to start it, with the same line after its "program: " prefix (rtld.c
  // print_missing_version), and exits 1 (version_check_doit).
  auto r = run({p.string()});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err, p.string() + ": " + want + "\n");
}

TEST_F(VersionTest, PresentVersionPasses) {
  fs::path p = prog(kCallsF2);
  install(libx("v2/libx.so.1", true));
  Closure c = closure(p);
  EXPECT_TRUE(c.version_problems.empty()) << ::testing::PrintToString(messages(c, true));
  EXPECT_FALSE(c.incomplete());
  auto r = run({p.string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

// Sets vna_flags of the Vernaux named `version` in an ELF64 little-endian file, through its
// .gnu.version_r section. Returns false when there is none.
bool set_vernaux_flags(const fs::path& file, const std::string& version, uint16_t flags) {
  std::string b = testing::read_file(file);
  Elf64_Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh, strsh;
    std::memcpy(&sh, b.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
    if (sh.sh_type != SHT_GNU_verneed) continue;
    std::memcpy(&strsh, b.data() + eh.e_shoff + sh.sh_link * sizeof sh, sizeof strsh);
    for (size_t ent = sh.sh_offset;;) {
      Elf64_Verneed vn;
      std::memcpy(&vn, b.data() + ent, sizeof vn);
      for (size_t aux = ent + vn.vn_aux;;) {
        Elf64_Vernaux va;
        std::memcpy(&va, b.data() + aux, sizeof va);
        if (std::string(b.data() + strsh.sh_offset + va.vna_name) == version) {
          va.vna_flags = flags;
          std::memcpy(b.data() + aux, &va, sizeof va);
          write_file(file, b);
          return true;
        }
        if (va.vna_next == 0) break;
        aux += va.vna_next;
      }
      if (vn.vn_next == 0) break;
      ent += vn.vn_next;
    }
  }
  return false;
}

TEST_F(VersionTest, WeakVersionReferenceIsNotFatal) {
  // VER_FLG_WEAK on a Vernaux; GNU ld 2.40 does not write it for C code, so it is set here.
  fs::path p = prog("int f2(void) __attribute__((weak)); int main(void) { return f2 ? 3 : 0; }");
  ASSERT_TRUE(set_vernaux_flags(p, "V2", VER_FLG_WEAK));
  {
    Closure with_v2 = closure(p);
    const auto& vn = with_v2.objects[0].elf->verneed;
    auto need = std::find_if(vn.begin(), vn.end(), [](const ElfVerneed& n) { return n.file == "libx.so.1"; });
    ASSERT_NE(need, vn.end());
    ASSERT_EQ(need->versions.size(), 1u);
    EXPECT_TRUE(need->versions[0].weak());
  }
  install(libx("v1/libx.so.1", false));
  Closure c = closure(p);
  ASSERT_EQ(c.version_problems.size(), 1u);
  EXPECT_FALSE(c.version_problems[0].fatal);
  std::string want = lib_path() + ": weak version `V2' not found (required by " + p.string() + ")";
  EXPECT_EQ(version_problem_message(c, c.version_problems[0]), want);
  EXPECT_FALSE(c.incomplete());

  // ld.so warns the same way and starts the program, with f2 unbound; without the flag the same
  // program does not start.
  auto r = run({p.string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, p.string() + ": " + want + "\n");
  ASSERT_TRUE(set_vernaux_flags(p, "V2", 0));
  EXPECT_EQ(run({p.string()}).status, 1);
  EXPECT_TRUE(closure(p).incomplete());
}

TEST_F(VersionTest, LibraryWithoutVersionsIsOnlyAWarning) {
  // match_symbol: "the file has no symbol versioning", reported only in verbose mode, which
  // ld.so's start-up check is. The program starts; f2 is never called, so never bound.
  fs::path p = prog("int f2(void); int main(int argc, char** argv) { (void)argv; return argc > 5 ? f2() : 0; }");
  install(libx("plain/libx.so.1", true, false));
  Closure c = closure(p);
  ASSERT_EQ(c.version_problems.size(), 1u);
  EXPECT_FALSE(c.version_problems[0].fatal);
  std::string want = lib_path() + ": no version information available (required by " + p.string() + ")";
  EXPECT_EQ(version_problem_message(c, c.version_problems[0]), want);
  EXPECT_FALSE(c.incomplete());

  auto r = run({p.string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, p.string() + ": " + want + "\n");
  // Binding f2@V2 to the unversioned library later trips an assertion in ld.so's symbol lookup
  // (dl-lookup.c check_match): the warning is worth reading, but it is not the version check's.
  auto now = run({p.string()}, {"LD_BIND_NOW=1"});
  EXPECT_EQ(now.status, 127) << now.err;
}

TEST_F(VersionTest, InterpreterVersionsCount) {
  // A program that needs GLIBC_2.35 from its interpreter, in a root whose ld-linux-x86-64.so.2
  // defines only GLIBC_2.2.5. Both loaders are stand-ins built here: what matters is that the
  // interpreter, loaded by PT_INTERP and named by soname in DT_NEEDED, is the one checked.
  auto loader = [&](const std::string& rel, const std::string& script) {
    fs::path out = tmp_ / rel;
    write_file(out.string() + ".map", script);
    EXPECT_EQ(compile_c(out, "int probe(void) { return 0; }",
                        {"-shared", "-fPIC", "-nostdlib", "-Wl,-soname,ld-linux-x86-64.so.2",
                         "-Wl,--version-script=" + out.string() + ".map"}),
              "");
    return out;
  };
  fs::path newer = loader("build/ld-new.so", "GLIBC_2.2.5 { local: *; };\nGLIBC_2.35 { global: probe; } GLIBC_2.2.5;\n");
  fs::path older = loader("build/ld-old.so", "GLIBC_2.2.5 { global: probe; local: *; };\n");
  fs::path root = tmp_ / "root";
  fs::create_directories(root / "lib64");
  ASSERT_EQ(compile_c(root / "prog", "int probe(void); void _start(void) { probe(); for (;;) {} }",
                      {"-nostdlib", "-Wl,--no-as-needed", newer.string(), "-Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2"}),
            "");

  fs::copy_file(older, root / "lib64/ld-linux-x86-64.so.2");
  Closure c = closure("/prog", root.string());
  ASSERT_EQ(c.version_problems.size(), 1u);
  const VersionProblem& v = c.version_problems[0];
  EXPECT_TRUE(v.fatal);
  ASSERT_GE(v.provider, 0);
  EXPECT_EQ(c.objects[static_cast<size_t>(v.provider)].how, FoundBy::Interpreter);
  EXPECT_EQ(version_problem_message(c, v), "/lib64/ld-linux-x86-64.so.2: version `GLIBC_2.35' not found (required by /prog)");

  fs::copy_file(newer, root / "lib64/ld-linux-x86-64.so.2", fs::copy_options::overwrite_existing);
  Closure ok = closure("/prog", root.string());
  EXPECT_TRUE(ok.version_problems.empty()) << ::testing::PrintToString(messages(ok, true));
}

TEST_F(VersionTest, VersionsOfDlopenedLibrariesAreChecked) {
  // dl-open.c checks what dlopen adds; a missing version makes that dlopen fail.
  fs::path p = prog("int main(void) { return 0; }");
  fs::path user = tmp_ / "bin/lib/libuser.so";
  ASSERT_EQ(compile_c(user, "int f2(void); int u(void) { return f2(); }",
                      {"-shared", "-fPIC", "-Wl,--no-as-needed", (tmp_ / "build/libx.so.1").string(), "-Wl,-soname,libuser.so"}),
            "");
  install(libx("v1/libx.so.1", false));
  auto root = Root::open("/");
  ASSERT_TRUE(root);
  Resolver r(*root, {});
  auto c = r.closure(p.string());
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->version_problems.empty());
  auto x = r.load_extra(*c, 0, user.string());
  ASSERT_TRUE(x);
  ASSERT_EQ(x->map.version_problems.size(), 1u);
  EXPECT_EQ(version_problem_message(x->map, x->map.version_problems[0]),
            lib_path() + ": version `V2' not found (required by " + user.string() + ")");
}

// ---- rules that need records no linker writes: synthetic link maps -----------------------------

class SyntheticMap : public ::testing::Test {
 protected:
  SyntheticMap() { c_.family = LoaderFamily::Glibc; }
  // Object `name` (soname and path) whose DT_NEEDED entries resolve to the objects added before.
  ElfInfo& add(const std::string& name) {
    auto e = std::make_shared<ElfInfo>();
    e->soname = name;
    e->has_strtab = true;
    LoadedObject o;
    o.name = o.path = name;
    o.elf = e;
    c_.objects.push_back(std::move(o));
    infos_.push_back(e);
    return *e;
  }
  static ElfVernaux need(const std::string& v, uint16_t flags = 0) { return {v, elf_hash(v), flags, 2}; }
  static ElfVerdef def(const std::string& v, uint16_t flags = 0) { return {1, flags, 1, elf_hash(v), v}; }
  std::vector<std::string> check() {
    c_.version_problems.clear();
    check_versions(c_);
    std::vector<std::string> out;
    for (const auto& p : c_.version_problems) out.push_back((p.fatal ? "fatal: " : "warning: ") + version_problem_message(c_, p));
    return out;
  }
  Closure c_;
  std::vector<std::shared_ptr<ElfInfo>> infos_;
};

TEST_F(SyntheticMap, BaseDefinitionTakesPartInTheCheck) {
  // VER_FLG_BASE keeps the file's own name out of the table that binds symbols, not out of
  // match_symbol, which walks every Verdef.
  ElfInfo& prog = add("prog");
  ElfInfo& lib = add("libx.so.1");
  lib.has_verdef = true;
  lib.verdef = {def("libx.so.1", VER_FLG_BASE), def("V1")};
  prog.verneed = {{1, "libx.so.1", {need("libx.so.1")}}};
  EXPECT_TRUE(check().empty());
}

TEST_F(SyntheticMap, HashIsComparedBeforeTheName) {
  ElfInfo& prog = add("prog");
  ElfInfo& lib = add("libx.so.1");
  lib.has_verdef = true;
  lib.verdef = {def("libx.so.1", VER_FLG_BASE), def("V1")};
  ElfVernaux v = need("V1");
  v.hash ^= 1;
  prog.verneed = {{1, "libx.so.1", {v}}};
  EXPECT_EQ(check(), std::vector<std::string>{"fatal: libx.so.1: version `V1' not found (required by prog)"});
}

TEST_F(SyntheticMap, UnsupportedRecordVersions) {
  ElfInfo& prog = add("prog");
  ElfInfo& lib = add("libx.so.1");
  lib.has_verdef = true;
  lib.verdef = {def("libx.so.1", VER_FLG_BASE), def("V1")};
  lib.verdef[0].version = 2;
  prog.verneed = {{1, "libx.so.1", {need("V1")}}};
  EXPECT_EQ(check(), std::vector<std::string>{"fatal: libx.so.1: unsupported version 2 of Verdef record"});
  lib.verdef[0].version = 1;
  prog.verneed[0].version = 3;
  EXPECT_EQ(check(), std::vector<std::string>{"fatal: prog: unsupported version 3 of Verneed record"});
}

TEST_F(SyntheticMap, RelrWithoutItsAbiVersion) {
  // glibc 2.36: an object with DT_RELR, DT_VERNEED and a libc.so.* DT_NEEDED must require
  // GLIBC_ABI_DT_RELR, or older loaders would misrelocate it silently.
  ElfInfo& prog = add("prog");
  ElfInfo& libc = add("libc.so.6");
  libc.has_verdef = true;
  libc.verdef = {def("libc.so.6", VER_FLG_BASE), def("GLIBC_2.2.5"), def("GLIBC_ABI_DT_RELR")};
  prog.needed = {"libc.so.6"};
  prog.has_relr = true;
  prog.verneed = {{1, "libc.so.6", {need("GLIBC_2.2.5")}}};
  EXPECT_EQ(check(), std::vector<std::string>{"fatal: prog: DT_RELR without GLIBC_ABI_DT_RELR dependency"});
  prog.verneed[0].versions.push_back(need("GLIBC_ABI_DT_RELR"));
  EXPECT_TRUE(check().empty());
}

TEST_F(SyntheticMap, MuslChecksNoVersions) {
  ElfInfo& prog = add("prog");
  ElfInfo& lib = add("libx.so.1");
  lib.has_verdef = true;
  lib.verdef = {def("libx.so.1", VER_FLG_BASE)};
  prog.verneed = {{1, "libx.so.1", {need("V9")}}};
  c_.family = LoaderFamily::Musl;
  EXPECT_TRUE(check().empty());
}

// ---- is a base image's glibc new enough ------------------------------------------------------

TEST_F(SyntheticMap, BaseGlibcCheckNamesWhatIsTooNew) {
  ElfInfo& prog = add("/app/server");
  ElfInfo& ssl = add("libssl.so.3");
  ElfInfo& libc = add("libc.so.6");
  libc.has_verdef = true;
  libc.verdef = {def("libc.so.6", VER_FLG_BASE), def("GLIBC_2.2.5"), def("GLIBC_2.34"), def("GLIBC_2.38"), def("GLIBC_PRIVATE")};
  ElfInfo& ld = add("ld-linux-x86-64.so.2");
  ld.verneed = {{1, "libc.so.6", {need("GLIBC_PRIVATE")}}};  // glibc's own: comes with the base
  prog.verneed = {{1, "libc.so.6", {need("GLIBC_2.2.5"), need("GLIBC_2.34")}},
                  {1, "libssl.so.3", {need("OPENSSL_3.0.0")}}};
  ssl.verneed = {{1, "libc.so.6", {need("GLIBC_2.38"), need("GLIBC_2.39", VER_FLG_WEAK)}}};

  GlibcNeeds needs = glibc_needs(c_);
  EXPECT_EQ(needs.newest, "GLIBC_2.38");  // the weak GLIBC_2.39 is not needed to start
  EXPECT_EQ(needs.root_glibc, "2.38");
  EXPECT_EQ(needs.requirements.size(), 4u);  // nothing from ld.so's own, nothing on libssl

  BaseGlibcCheck on_debian12 = check_base_glibc(c_, kDistrolessGlibc);
  EXPECT_FALSE(on_debian12.ok);
  // The weak GLIBC_2.39 does not stop ld.so; GLIBC_2.38 does.
  EXPECT_EQ(on_debian12.too_new,
            std::vector<std::string>{"GLIBC_2.38 from libc.so.6 (required by libssl.so.3): needs glibc 2.38 or newer"});
  EXPECT_TRUE(check_base_glibc(c_, "2.38").ok);
  EXPECT_TRUE(check_base_glibc(c_, "2.40").ok);

  prog.verneed[0].versions.push_back(need("GLIBC_PRIVATE"));
  EXPECT_FALSE(check_base_glibc(c_, "2.40").ok);  // only the same release has GLIBC_PRIVATE
  EXPECT_TRUE(check_base_glibc(c_, "2.38").ok);
}

TEST(GlibcVersions, CompareNumerically) {
  EXPECT_LT(compare_glibc_versions("2.4", "2.34"), 0);
  EXPECT_LT(compare_glibc_versions("2.2.5", "2.3"), 0);
  EXPECT_EQ(compare_glibc_versions("2.36", "2.36"), 0);
  EXPECT_GT(compare_glibc_versions("2.36.1", "2.36"), 0);
  EXPECT_TRUE(is_glibc_library("libc.so.6"));
  EXPECT_TRUE(is_glibc_library("ld-linux-x86-64.so.2"));
  EXPECT_FALSE(is_glibc_library("libstdc++.so.6"));
}

TEST_F(VersionTest, ThisMachinesProgramsFitItsOwnGlibc) {
  // Every program here was built for this glibc: checking a closure against the glibc the
  // closure itself carries passes, and against a much older one names versions.
  Closure c = closure("/usr/bin/ls");
  GlibcNeeds needs = glibc_needs(c);
  ASSERT_FALSE(needs.root_glibc.empty());
  ASSERT_FALSE(needs.newest.empty());
  EXPECT_TRUE(check_base_glibc(c, needs.root_glibc).ok);
  BaseGlibcCheck old = check_base_glibc(c, "2.2");
  EXPECT_FALSE(old.ok);
  EXPECT_FALSE(old.too_new.empty());
}

}  // namespace
}  // namespace minify
