// One test per loader rule (libtree's tests/ directory names), on libraries and programs compiled
// at test time. Expectations name the exact file and the rule that found it.
#include <gtest/gtest.h>

#include <algorithm>

#include "minify/resolve.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::have_program;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

constexpr const char* kOldTags = "-Wl,--disable-new-dtags";  // DT_RPATH
constexpr const char* kNewTags = "-Wl,--enable-new-dtags";   // DT_RUNPATH

class LoaderTest : public ::testing::Test {
 protected:
  // A shared library with no libc and no code dependencies, so that only the DT_NEEDED
  // entries we give it matter. `link_with` are library files whose sonames become DT_NEEDED.
  fs::path lib(const std::string& rel, const std::string& soname, const std::vector<fs::path>& link_with = {},
               std::vector<std::string> extra = {}, const std::string& compiler = "cc") {
    fs::path out = tmp_ / rel;
    fs::create_directories(out.parent_path());
    // Debian's gcc links --as-needed by default, which would drop the unused libraries.
    std::vector<std::string> args = {"-shared", "-fPIC", "-nostdlib", "-Wl,-soname," + soname, "-Wl,--no-as-needed"};
    for (const auto& l : link_with) args.push_back(l.string());
    args.insert(args.end(), extra.begin(), extra.end());
    std::string fn = "f_" + std::to_string(counter_++);
    std::string err = compile_c(out, "int " + fn + "(void) { return 0; }", args, compiler);
    EXPECT_EQ(err, "") << "building " << rel;
    return out;
  }
  // A program linked with libc and `link_with`.
  fs::path exe(const std::string& rel, const std::vector<fs::path>& link_with, std::vector<std::string> extra = {}) {
    fs::path out = tmp_ / rel;
    fs::create_directories(out.parent_path());
    std::vector<std::string> args = {"-Wl,--no-as-needed"};
    for (const auto& l : link_with) args.push_back(l.string());
    args.insert(args.end(), extra.begin(), extra.end());
    std::string err = compile_c(out, "int main(void) { return 0; }", args);
    EXPECT_EQ(err, "") << "building " << rel;
    return out;
  }
  Closure closure(const fs::path& file, LoaderEnv env = {}, const std::string& root_dir = "/") {
    auto root = Root::open(root_dir);
    EXPECT_TRUE(root);
    Resolver r(*root, std::move(env));
    auto c = r.closure(file.string());
    EXPECT_TRUE(c) << c.error().message();
    return c ? std::move(*c) : Closure{};
  }
  static const LoadedObject* find(const Closure& c, const std::string& name) {
    for (const auto& o : c.objects)
      if (o.name == name) return &o;
    return nullptr;
  }
  static const MissingLibrary* missing(const Closure& c, const std::string& name) {
    for (const auto& m : c.missing)
      if (m.name == name) return &m;
    return nullptr;
  }
  std::string dir(const std::string& rel) const { return (tmp_ / rel).string(); }

  TempDir tmp_;
  int counter_ = 0;
};

TEST_F(LoaderTest, RpathBeatsLdLibraryPath) {
  auto first = lib("first/libx.so", "libx.so");
  lib("second/libx.so", "libx.so");
  auto prog = exe("bin/prog", {first}, {kOldTags, "-Wl,-rpath," + dir("first")});
  auto c = closure(prog, {.ld_library_path = {dir("second")}});
  auto* x = find(c, "libx.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->path, dir("first") + "/libx.so");
  EXPECT_EQ(x->how, FoundBy::Rpath);
  EXPECT_EQ(x->search_dir, dir("first"));
  EXPECT_TRUE(c.missing.empty());
}

TEST_F(LoaderTest, LdLibraryPathBeatsRunpath) {
  auto first = lib("first/libx.so", "libx.so");
  lib("second/libx.so", "libx.so");
  auto prog = exe("bin/prog", {first}, {kNewTags, "-Wl,-rpath," + dir("first")});
  auto c = closure(prog, {.ld_library_path = {dir("second")}});
  auto* x = find(c, "libx.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->path, dir("second") + "/libx.so");
  EXPECT_EQ(x->how, FoundBy::LdLibraryPath);
}

TEST_F(LoaderTest, RunpathBeatsLdSoCache) {
  // A private libz.so.1 next to the program wins over the system's, found through the cache.
  auto mine = lib("vendor/libz.so.1", "libz.so.1");
  auto prog = exe("bin/prog", {mine}, {kNewTags, "-Wl,-rpath," + dir("vendor")});
  auto c = closure(prog);
  auto* z = find(c, "libz.so.1");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->path, dir("vendor") + "/libz.so.1");
  EXPECT_EQ(z->how, FoundBy::Runpath);
  auto* libc = find(c, "libc.so.6");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc->how, FoundBy::LdSoCache);
}

TEST_F(LoaderTest, RpathIsInheritedByDependencies) {
  auto libb = lib("deps/libb.so", "libb.so");
  auto liba = lib("deps/liba.so", "liba.so", {libb});
  auto prog = exe("bin/prog", {liba}, {kOldTags, "-Wl,-rpath," + dir("deps")});
  auto c = closure(prog);
  auto* b = find(c, "libb.so");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->path, dir("deps") + "/libb.so");
  EXPECT_EQ(b->how, FoundBy::Rpath);
  EXPECT_EQ(c.objects[static_cast<size_t>(b->loader)].name, "liba.so");
}

TEST_F(LoaderTest, RunpathIsNotInheritedByDependencies) {
  auto libb = lib("deps/libb.so", "libb.so");
  auto liba = lib("deps/liba.so", "liba.so", {libb});
  auto prog = exe("bin/prog", {liba}, {kNewTags, "-Wl,-rpath," + dir("deps")});
  auto c = closure(prog);
  ASSERT_NE(find(c, "liba.so"), nullptr);
  EXPECT_EQ(find(c, "liba.so")->how, FoundBy::Runpath);
  EXPECT_EQ(find(c, "libb.so"), nullptr);
  auto* m = missing(c, "libb.so");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(c.objects[static_cast<size_t>(m->needed_by)].name, "liba.so");
  EXPECT_EQ(m->reason, "not found");
  EXPECT_NE(std::find(m->searched.begin(), m->searched.end(), "ld.so.cache"), m->searched.end());
  EXPECT_EQ(std::find(m->searched.begin(), m->searched.end(), dir("deps")), m->searched.end());
}

TEST_F(LoaderTest, RunpathOfDependencyDisablesInheritedRpath) {
  // liba has a DT_RUNPATH of its own, so the program's DT_RPATH no longer applies to its needs.
  auto libb = lib("deps/libb.so", "libb.so");
  fs::create_directories(tmp_ / "empty");
  auto liba = lib("a/liba.so", "liba.so", {libb}, {kNewTags, "-Wl,-rpath," + dir("empty")});
  auto prog = exe("bin/prog", {liba}, {kOldTags, "-Wl,-rpath," + dir("a") + ":" + dir("deps")});
  auto c = closure(prog);
  ASSERT_NE(find(c, "liba.so"), nullptr);
  EXPECT_NE(missing(c, "libb.so"), nullptr);
}

TEST_F(LoaderTest, OriginInRpath) {
  auto libx = lib("lib/libx.so", "libx.so");
  auto prog = exe("bin/prog", {libx}, {kOldTags, "-Wl,-rpath,$ORIGIN/../lib"});
  auto c = closure(prog);
  auto* x = find(c, "libx.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->path, dir("bin") + "/../lib/libx.so");
  EXPECT_EQ(x->real_path, dir("lib") + "/libx.so");
  EXPECT_EQ(x->how, FoundBy::Rpath);
  ASSERT_EQ(c.objects[0].rpath.size(), 1u);
  EXPECT_EQ(c.objects[0].rpath[0], dir("bin") + "/../lib");
}

TEST_F(LoaderTest, OriginInRunpathWithBraces) {
  auto libx = lib("lib/libx.so", "libx.so");
  auto prog = exe("bin/prog", {libx}, {kNewTags, "-Wl,-rpath,${ORIGIN}/../lib"});
  auto c = closure(prog);
  auto* x = find(c, "libx.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->real_path, dir("lib") + "/libx.so");
  EXPECT_EQ(x->how, FoundBy::Runpath);
}

TEST_F(LoaderTest, OriginOfProgramIsItsRealLocation) {
  // The kernel resolves /proc/self/exe, so a program started through a symlink still finds
  // libraries next to its real file.
  auto libx = lib("real/lib/libx.so", "libx.so");
  auto prog = exe("real/prog", {libx}, {kOldTags, "-Wl,-rpath,$ORIGIN/lib"});
  fs::create_directories(tmp_ / "link");
  fs::create_symlink(prog, tmp_ / "link/prog");
  auto c = closure(tmp_ / "link/prog");
  auto* x = find(c, "libx.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->real_path, dir("real/lib") + "/libx.so");
}

TEST_F(LoaderTest, OriginIsSymlinkLocationNotRealpath) {
  // A library's $ORIGIN is the directory of the name it was opened by, links left in.
  auto dep = lib("a/deps/libdep.so", "libdep.so");
  auto liba = lib("b/liba.so", "liba.so", {dep}, {kOldTags, "-Wl,-rpath,$ORIGIN/deps"});
  fs::create_symlink(liba, tmp_ / "a/liba.so");
  auto prog = exe("bin/prog", {liba}, {kNewTags, "-Wl,-rpath," + dir("a")});
  auto c = closure(prog);
  auto* a = find(c, "liba.so");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->path, dir("a") + "/liba.so");
  EXPECT_EQ(a->real_path, dir("b") + "/liba.so");
  auto* d = find(c, "libdep.so");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->path, dir("a") + "/deps/libdep.so");
}

TEST_F(LoaderTest, LibraryFoundOnlyThroughLdLibraryPath) {
  auto libx = lib("private/libonly.so", "libonly.so");
  auto prog = exe("bin/prog", {libx});
  EXPECT_NE(missing(closure(prog), "libonly.so"), nullptr);
  auto c = closure(prog, {.ld_library_path = {"/nonexistent", dir("private")}});
  auto* x = find(c, "libonly.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->how, FoundBy::LdLibraryPath);
  EXPECT_EQ(x->search_dir, dir("private"));
}

TEST_F(LoaderTest, WrongMachineCandidateIsSkipped) {
  if (!have_program("aarch64-linux-gnu-gcc")) GTEST_SKIP() << "no aarch64 cross compiler";
  lib("arm/libx.so", "libx.so", {}, {}, "aarch64-linux-gnu-gcc");
  auto good = lib("x86/libx.so", "libx.so");
  auto prog = exe("bin/prog", {good}, {kOldTags, "-Wl,-rpath," + dir("arm") + ":" + dir("x86")});
  auto c = closure(prog);
  auto* x = find(c, "libx.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->path, dir("x86") + "/libx.so");
}

TEST_F(LoaderTest, WrongClassCandidateIsSkipped) {
  fs::path l32 = tmp_ / "lib32/libx.so";
  fs::create_directories(l32.parent_path());
  std::string err = compile_c(l32, "int f(void) { return 0; }", {"-m32", "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libx.so"});
  if (!err.empty()) GTEST_SKIP() << "cc cannot build 32-bit objects: " << err;
  auto good = lib("lib64/libx.so", "libx.so");
  auto prog = exe("bin/prog", {good}, {kOldTags, "-Wl,-rpath," + dir("lib32") + ":" + dir("lib64")});
  auto c = closure(prog);
  auto* x = find(c, "libx.so");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->path, dir("lib64") + "/libx.so");
  // With only the 32-bit copy, the reason says so.
  auto prog2 = exe("bin/prog2", {good}, {kOldTags, "-Wl,-rpath," + dir("lib32")});
  auto c2 = closure(prog2);
  auto* m = missing(c2, "libx.so");
  ASSERT_NE(m, nullptr);
  EXPECT_NE(m->reason.find("another ELF class"), std::string::npos) << m->reason;
}

TEST_F(LoaderTest, NodeflibSkipsDefaultPathsAndCache) {
  auto mine = lib("vendor/libmine.so", "libmine.so");
  auto prog = exe("bin/prog", {mine, "/lib/x86_64-linux-gnu/libz.so.1"},
                  {kOldTags, "-Wl,-rpath," + dir("vendor"), "-Wl,-z,nodefaultlib"});
  auto c = closure(prog);
  ASSERT_TRUE(c.objects[0].elf->nodeflib());
  EXPECT_NE(find(c, "libmine.so"), nullptr);
  auto* z = missing(c, "libz.so.1");
  ASSERT_NE(z, nullptr);
  for (const auto& d : c.default_dirs)
    EXPECT_EQ(std::find(z->searched.begin(), z->searched.end(), d), z->searched.end()) << d;
  EXPECT_NE(missing(c, "libc.so.6"), nullptr);
}

TEST_F(LoaderTest, MissingLibraryNamesWhoNeededIt) {
  auto ghost = lib("gone/libghost.so.3", "libghost.so.3");
  auto prog = exe("bin/prog", {ghost});
  fs::remove(ghost);
  auto c = closure(prog);
  auto* m = missing(c, "libghost.so.3");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->needed_by, 0);
  EXPECT_EQ(m->reason, "not found");
  // Everything else still resolves.
  EXPECT_NE(find(c, "libc.so.6"), nullptr);
  EXPECT_EQ(c.missing.size(), 1u);
}

TEST_F(LoaderTest, DependencyCycleTerminates) {
  auto stub_b = lib("stub/libb.so", "libb.so");
  auto liba = lib("deps/liba.so", "liba.so", {stub_b});
  lib("deps/libb.so", "libb.so", {liba});
  auto prog = exe("bin/prog", {liba}, {kOldTags, "-Wl,-rpath," + dir("deps")});
  auto c = closure(prog);
  auto* a = find(c, "liba.so");
  auto* b = find(c, "libb.so");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(std::count_if(c.objects.begin(), c.objects.end(), [](const LoadedObject& o) { return o.name == "liba.so"; }), 1);
  ASSERT_EQ(b->deps.size(), 1u);
  EXPECT_EQ(&c.objects[static_cast<size_t>(b->deps[0])], a);
}

TEST_F(LoaderTest, LibraryGivenByPath) {
  // Without a soname, the linker records the path it was given in DT_NEEDED.
  fs::path p = tmp_ / "p/libp.so";
  fs::create_directories(p.parent_path());
  ASSERT_EQ(compile_c(p, "int p(void) { return 0; }", {"-shared", "-fPIC", "-nostdlib"}), "");
  auto prog = exe("bin/prog", {p});
  auto c = closure(prog);
  auto* o = find(c, p.string());
  ASSERT_NE(o, nullptr) << "DT_NEEDED should be the path";
  EXPECT_EQ(o->how, FoundBy::Path);
  EXPECT_EQ(o->path, p.string());
}

TEST_F(LoaderTest, FirstLoadedCopyAnswersLaterNeeds) {
  // Breadth-first: liba's RUNPATH finds libz2 in x/; libb's RUNPATH would find the copy in y/,
  // but ld.so reuses the object already loaded under that soname.
  auto zx = lib("x/libz2.so", "libz2.so");
  lib("y/libz2.so", "libz2.so");
  auto liba = lib("a/liba.so", "liba.so", {zx}, {kNewTags, "-Wl,-rpath," + dir("x")});
  auto libb = lib("b/libb.so", "libb.so", {zx}, {kNewTags, "-Wl,-rpath," + dir("y")});
  auto prog = exe("bin/prog", {liba, libb}, {kNewTags, "-Wl,-rpath," + dir("a") + ":" + dir("b")});
  auto c = closure(prog);
  auto* z = find(c, "libz2.so");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->path, dir("x") + "/libz2.so");
  EXPECT_EQ(std::count_if(c.objects.begin(), c.objects.end(), [](const LoadedObject& o) { return o.name == "libz2.so"; }), 1);
  auto* b = find(c, "libb.so");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->deps.size(), 1u);
  EXPECT_EQ(&c.objects[static_cast<size_t>(b->deps[0])], z);
  EXPECT_EQ(z->needed_by.size(), 2u);
}

TEST_F(LoaderTest, HwcapsVariantsAreAllReported) {
  auto base = lib("h/libh.so", "libh.so");
  lib("h/glibc-hwcaps/x86-64-v3/libh.so", "libh.so");
  lib("h/glibc-hwcaps/x86-64-v2/libh.so", "libh.so");
  auto prog = exe("bin/prog", {base}, {kOldTags, "-Wl,-rpath," + dir("h")});
  auto c = closure(prog);
  auto* h = find(c, "libh.so");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->path, dir("h") + "/libh.so");
  std::vector<std::string> want = {dir("h") + "/glibc-hwcaps/x86-64-v3/libh.so", dir("h") + "/glibc-hwcaps/x86-64-v2/libh.so"};
  EXPECT_EQ(h->hwcaps, want);
}

TEST_F(LoaderTest, OnlyHwcapsVariantStillResolves) {
  auto v2 = lib("h/glibc-hwcaps/x86-64-v2/libh.so", "libh.so");
  auto prog = exe("bin/prog", {v2}, {kOldTags, "-Wl,-rpath," + dir("h")});
  auto c = closure(prog);
  auto* h = find(c, "libh.so");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->path, dir("h") + "/glibc-hwcaps/x86-64-v2/libh.so");
  EXPECT_TRUE(h->hwcaps.empty());
}

// dlopen(name) from an object of the map: the requester's RPATH, glibc-hwcaps variants, a copy of
// the wrong class skipped, and only what the program does not have yet is added.
TEST_F(LoaderTest, LoadExtraSearchesLikeDlopenFromTheRequester) {
  auto dep = lib("plugins/libdep.so", "libdep.so");
  lib("plugins/libplug.so", "libplug.so", {dep});
  lib("plugins/glibc-hwcaps/x86-64-v3/libplug.so", "libplug.so", {dep});
  auto shared = lib("lib/libshared.so", "libshared.so");
  auto prog = exe("bin/prog", {shared}, {kOldTags, "-Wl,-rpath," + dir("plugins") + ":" + dir("lib")});
  auto root = Root::open("/");
  ASSERT_TRUE(root);
  Resolver r(*root, {});
  auto c = r.closure(prog.string());
  ASSERT_TRUE(c) << c.error().message();
  auto x = r.load_extra(*c, 0, "libplug.so");
  ASSERT_TRUE(x) << x.error().message();
  ASSERT_GE(x->object, static_cast<int>(c->objects.size()));
  const LoadedObject& plug = x->map.objects[static_cast<size_t>(x->object)];
  EXPECT_EQ(plug.path, dir("plugins") + "/libplug.so");
  EXPECT_EQ(plug.how, FoundBy::Rpath);
  EXPECT_EQ(plug.hwcaps, std::vector<std::string>{dir("plugins") + "/glibc-hwcaps/x86-64-v3/libplug.so"});
  // Its own dependency is added after it; the program's map is unchanged.
  ASSERT_EQ(x->map.objects.size(), c->objects.size() + 2);
  EXPECT_EQ(x->map.objects.back().path, dir("plugins") + "/libdep.so");
  // A name the program already has binds to the loaded object.
  auto again = r.load_extra(*c, 0, "libshared.so");
  ASSERT_TRUE(again);
  ASSERT_GE(again->object, 0);
  EXPECT_LT(again->object, static_cast<int>(c->objects.size()));
  EXPECT_EQ(again->map.objects.size(), c->objects.size());
  // A missing name is data: what was searched.
  auto none = r.load_extra(*c, 0, "libnothere.so");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->object, -1);
  ASSERT_TRUE(none->missing.has_value());
  EXPECT_EQ(none->missing->searched.front(), dir("plugins"));
  // A requester outside the map is bad input, not a crash.
  EXPECT_FALSE(r.load_extra(*c, 99, "libplug.so"));
}

TEST_F(LoaderTest, LoadExtraSkipsWrongClassCandidates) {
  fs::path l32 = tmp_ / "a/libq.so";
  fs::create_directories(l32.parent_path());
  std::string err = compile_c(l32, "int f(void) { return 0; }", {"-m32", "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libq.so"});
  if (!err.empty()) GTEST_SKIP() << "cc cannot build 32-bit objects: " << err;
  lib("b/libq.so", "libq.so");
  auto prog = exe("bin/prog", {}, {kOldTags, "-Wl,-rpath," + dir("a") + ":" + dir("b")});
  auto root = Root::open("/");
  ASSERT_TRUE(root);
  Resolver r(*root, {});
  auto c = r.closure(prog.string());
  ASSERT_TRUE(c);
  auto x = r.load_extra(*c, 0, "libq.so");
  ASSERT_TRUE(x);
  ASSERT_GE(x->object, 0);
  EXPECT_EQ(x->map.objects[static_cast<size_t>(x->object)].path, dir("b") + "/libq.so");
}

// A file that is not ELF stops the search there, as in ld.so ("invalid ELF header").
TEST_F(LoaderTest, LoadExtraStopsAtAFileThatIsNotElf) {
  auto prog = exe("bin/prog", {}, {kOldTags, "-Wl,-rpath," + dir("a") + ":" + dir("b")});
  auto root = Root::open("/");
  ASSERT_TRUE(root);
  Resolver r(*root, {});
  auto c = r.closure(prog.string());
  ASSERT_TRUE(c);
  write_file(tmp_ / "a/libbad.so", "not an ELF file");
  lib("b/libbad.so", "libbad.so");
  auto bad = r.load_extra(*c, 0, "libbad.so");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->object, -1);
  ASSERT_TRUE(bad->missing.has_value());
  EXPECT_NE(bad->missing->reason.find(dir("a") + "/libbad.so"), std::string::npos) << bad->missing->reason;
}

TEST_F(LoaderTest, LibAndPlatformTokensExpand) {
  auto libx = lib("t/libx.so", "libx.so");
  auto prog = exe("bin/prog", {libx}, {kOldTags, "-Wl,-rpath,/opt/$LIB/${PLATFORM}:$ORIGINX"});
  auto c = closure(prog);
  ASSERT_EQ(c.objects[0].rpath.size(), 2u);
  // $LIB is the loader's first system directory; on Debian that is lib/x86_64-linux-gnu.
  EXPECT_EQ(c.objects[0].rpath[0], "/opt" + c.default_dirs.front() + "/x86_64");
  // "$ORIGINX" is no token: glibc keeps it as written (relative, so under the working directory).
  EXPECT_EQ(c.objects[0].rpath[1], "/$ORIGINX");
}

TEST_F(LoaderTest, StaticProgramNeedsNothing) {
  auto prog = tmp_ / "static";
  ASSERT_EQ(compile_c(prog, "int main(void) { return 0; }", {"-static"}), "");
  auto c = closure(prog);
  EXPECT_EQ(c.family, LoaderFamily::None);
  EXPECT_EQ(c.objects.size(), 1u);
  EXPECT_TRUE(c.missing.empty());
}

TEST_F(LoaderTest, ProgramInterpreterIsLoaded) {
  auto prog = exe("bin/prog", {});
  auto c = closure(prog);
  EXPECT_EQ(c.family, LoaderFamily::Glibc);
  auto* ld = find(c, "/lib64/ld-linux-x86-64.so.2");
  ASSERT_NE(ld, nullptr);
  EXPECT_EQ(ld->how, FoundBy::Interpreter);
  auto* libc = find(c, "libc.so.6");
  ASSERT_NE(libc, nullptr);
  // libc.so.6 needs ld-linux-x86-64.so.2: the interpreter answers to its soname.
  ASSERT_FALSE(libc->deps.empty());
  EXPECT_EQ(&c.objects[static_cast<size_t>(libc->deps.back())], ld);
}

TEST_F(LoaderTest, NotElfIsBadInput) {
  write_file(tmp_ / "script", "#!/bin/sh\n");
  auto root = Root::open("/");
  Resolver r(*root, {});
  auto c = r.closure((tmp_ / "script").string());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().err, 0);
  auto missing_file = r.closure((tmp_ / "nope").string());
  ASSERT_FALSE(missing_file);
  EXPECT_EQ(missing_file.error().err, ENOENT);
}

// ---- sysroots: everything is looked up inside the root ---------------------------------------

class SysrootTest : public LoaderTest {
 protected:
  void SetUp() override { root_ = tmp_ / "root"; }
  void copy_in(const fs::path& host, const std::string& inner) {
    fs::create_directories((root_ / inner.substr(1)).parent_path());
    fs::copy_file(host, root_ / inner.substr(1), fs::copy_options::overwrite_existing);
  }
  void link_in(const std::string& target, const std::string& inner) {
    fs::create_directories((root_ / inner.substr(1)).parent_path());
    fs::create_symlink(target, root_ / inner.substr(1));
  }
  fs::path root_;
};

TEST_F(SysrootTest, AbsoluteSymlinksStayInsideTheRoot) {
  // A merged-/usr root whose links are absolute, as in images: /lib64/ld-linux... -> /usr/lib/...
  const std::string multi = "/usr/lib/x86_64-linux-gnu";
  copy_in("/lib/x86_64-linux-gnu/libc.so.6", multi + "/libc.so.6");
  copy_in("/lib64/ld-linux-x86-64.so.2", multi + "/ld-linux-x86-64.so.2");
  link_in(multi + "/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2");
  link_in("usr/lib", "/lib");
  auto foo = lib("build/libfoo.so.1", "libfoo.so.1");
  copy_in(foo, "/opt/vendor-only-in-root/libfoo.so.1.0");
  link_in("/opt/vendor-only-in-root/libfoo.so.1.0", multi + "/libfoo.so.1");
  auto prog = exe("build/prog", {foo});
  copy_in(prog, "/app/prog");
  ASSERT_FALSE(fs::exists("/opt/vendor-only-in-root"));

  auto c = closure("/app/prog", {}, root_.string());
  EXPECT_TRUE(c.missing.empty());
  ASSERT_FALSE(c.default_dirs.empty());
  EXPECT_EQ(c.default_dirs.front(), "/lib/x86_64-linux-gnu");
  auto* f = find(c, "libfoo.so.1");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->how, FoundBy::DefaultPath);  // the root has no ld.so.cache
  EXPECT_EQ(f->path, "/lib/x86_64-linux-gnu/libfoo.so.1");
  EXPECT_EQ(f->real_path, "/opt/vendor-only-in-root/libfoo.so.1.0");
  auto* ld = find(c, "/lib64/ld-linux-x86-64.so.2");
  ASSERT_NE(ld, nullptr);
  EXPECT_EQ(ld->real_path, multi + "/ld-linux-x86-64.so.2");
  auto* libc = find(c, "libc.so.6");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc->real_path, multi + "/libc.so.6");
}

TEST_F(SysrootTest, LinkPointingOutOfTheRootDoesNotReachTheHost) {
  // The host has /lib/x86_64-linux-gnu/libz.so.1; the root's link to it must not find it.
  copy_in("/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6");
  copy_in("/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2");
  link_in("../../../../../../../../lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1");
  auto prog = exe("build/prog", {"/lib/x86_64-linux-gnu/libz.so.1"});
  copy_in(prog, "/app/prog");
  auto c = closure("/app/prog", {}, root_.string());
  EXPECT_NE(missing(c, "libz.so.1"), nullptr);
  EXPECT_EQ(find(c, "libz.so.1"), nullptr);
}

TEST_F(SysrootTest, LdSoCacheOfTheRootInEveryFormat) {
  if (!have_program("ldconfig") && !fs::exists("/sbin/ldconfig")) GTEST_SKIP() << "no ldconfig";
  copy_in("/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6");
  copy_in("/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2");
  auto cust = lib("build/libcust.so.1", "libcust.so.1");
  copy_in(cust, "/opt/custom/lib/libcust.so.1");
  auto prog = exe("build/prog", {cust});
  copy_in(prog, "/app/prog");
  write_file(root_ / "etc/ld.so.conf", "/opt/custom/lib\n");
  for (std::string format : {"new", "compat", "old"}) {
    SCOPED_TRACE(format);
    auto r = testing::run({"/sbin/ldconfig", "-r", root_.string(), "-c", format});
    ASSERT_EQ(r.status, 0) << r.err;
    auto c = closure("/app/prog", {}, root_.string());
    auto* f = find(c, "libcust.so.1");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->how, FoundBy::LdSoCache);
    EXPECT_EQ(f->path, "/opt/custom/lib/libcust.so.1");
    EXPECT_TRUE(c.missing.empty());
  }
}

TEST_F(SysrootTest, Arm64ProgramInCrossSysroot) {
  if (!have_program("aarch64-linux-gnu-gcc") || !fs::exists("/usr/aarch64-linux-gnu/lib/libc.so.6"))
    GTEST_SKIP() << "no aarch64 cross toolchain";
  auto mylib = lib("build/libarm.so", "libarm.so", {}, {}, "aarch64-linux-gnu-gcc");
  fs::path prog = tmp_ / "build/prog-arm64";
  ASSERT_EQ(compile_c(prog, "int f_0(void); int main(void) { return f_0(); }", {mylib.string()}, "aarch64-linux-gnu-gcc"), "");
  copy_in("/usr/aarch64-linux-gnu/lib/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6");
  copy_in("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1", "/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1");
  link_in("usr/lib", "/lib");
  link_in("aarch64-linux-gnu/ld-linux-aarch64.so.1", "/usr/lib/ld-linux-aarch64.so.1");
  copy_in(mylib, "/usr/local/lib/libarm.so");
  copy_in(prog, "/usr/bin/prog");
  auto c = closure("/usr/bin/prog", {}, root_.string());
  EXPECT_EQ(c.objects[0].elf->ident.machine, 183);  // EM_AARCH64
  EXPECT_EQ(c.family, LoaderFamily::Glibc);
  // The system directories come from the root's own arm64 ld.so.
  std::vector<std::string> want_dirs = {"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib"};
  EXPECT_EQ(c.default_dirs, want_dirs);
  auto* libc = find(c, "libc.so.6");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc->path, "/lib/aarch64-linux-gnu/libc.so.6");
  EXPECT_EQ(libc->real_path, "/usr/lib/aarch64-linux-gnu/libc.so.6");
  auto* ld = find(c, "/lib/ld-linux-aarch64.so.1");
  ASSERT_NE(ld, nullptr);
  EXPECT_EQ(ld->real_path, "/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1");
  // libarm.so sits in /usr/local/lib, which is not a system directory: missing, as on the device.
  EXPECT_NE(missing(c, "libarm.so"), nullptr);
  auto c2 = closure("/usr/bin/prog", {.ld_library_path = {"/usr/local/lib"}}, root_.string());
  EXPECT_TRUE(c2.missing.empty());
}

// ---- musl ---------------------------------------------------------------------------------------

TEST_F(SysrootTest, MuslProgramFollowsMuslRules) {
  if (!have_program("musl-gcc")) GTEST_SKIP() << "no musl-gcc";
  auto mlib = tmp_ / "build/libm1.so";
  fs::create_directories(mlib.parent_path());
  ASSERT_EQ(compile_c(mlib, "int m1(void) { return 1; }", {"-shared", "-fPIC", "-Wl,-soname,libm1.so"}, "musl-gcc"), "");
  auto prog = tmp_ / "build/mprog";
  ASSERT_EQ(compile_c(prog, "int m1(void); int main(void) { return m1(); }", {mlib.string()}, "musl-gcc"), "");
  copy_in(fs::canonical("/lib/ld-musl-x86_64.so.1"), "/usr/lib/x86_64-linux-musl/libc.so");
  link_in("/usr/lib/x86_64-linux-musl/libc.so", "/lib/ld-musl-x86_64.so.1");
  copy_in(mlib, "/opt/m/libm1.so");
  copy_in(prog, "/app/mprog");

  // musl's default path does not include /opt/m.
  auto c = closure("/app/mprog", {}, root_.string());
  EXPECT_EQ(c.family, LoaderFamily::Musl);
  std::vector<std::string> musl_default = {"/lib", "/usr/local/lib", "/usr/lib"};
  EXPECT_EQ(c.default_dirs, musl_default);
  EXPECT_NE(missing(c, "libm1.so"), nullptr);
  // libc.so is the loader itself.
  auto* libc_dep = &c.objects[static_cast<size_t>(c.objects[0].deps.back())];
  EXPECT_EQ(c.objects[0].elf->needed.back(), "libc.so");
  EXPECT_EQ(libc_dep->how, FoundBy::Interpreter);
  EXPECT_EQ(libc_dep->real_path, "/usr/lib/x86_64-linux-musl/libc.so");

  // /etc/ld-musl-x86_64.path replaces the default path.
  write_file(root_ / "etc/ld-musl-x86_64.path", "/opt/m\n/usr/lib\n");
  auto c2 = closure("/app/mprog", {}, root_.string());
  auto* m1 = find(c2, "libm1.so");
  ASSERT_NE(m1, nullptr);
  EXPECT_EQ(m1->how, FoundBy::DefaultPath);
  EXPECT_EQ(m1->path, "/opt/m/libm1.so");
  EXPECT_TRUE(c2.missing.empty());
}

TEST_F(LoaderTest, MuslOnTheHost) {
  if (!have_program("musl-gcc")) GTEST_SKIP() << "no musl-gcc";
  auto prog = tmp_ / "mhello";
  ASSERT_EQ(compile_c(prog, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }", {}, "musl-gcc"), "");
  auto c = closure(prog);
  EXPECT_EQ(c.family, LoaderFamily::Musl);
  EXPECT_TRUE(c.missing.empty());
  ASSERT_EQ(c.objects.size(), 2u);  // the program and the loader, which is also libc
  EXPECT_EQ(c.objects[1].path, "/lib/ld-musl-x86_64.so.1");
}

}  // namespace
}  // namespace minify
