// The ELF reader on fixtures compiled at test time, on corrupt files, and against LIEF, an
// independent second ELF reader, over the machine's own binaries.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "minify/elf.hpp"
#include "minify/rootfs.hpp"
#include "elf/lief_view.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

Result<ElfInfo> read_path(const fs::path& p) {
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", p.string());
  return read_elf_info(fd.get(), p.string());
}

class ElfFixture : public ::testing::Test {
 protected:
  TempDir tmp_;
};

TEST_F(ElfFixture, SharedLibraryDynamicSection) {
  auto lib = tmp_ / "liba.so";
  ASSERT_EQ(compile_c(lib, "int a(void) { return 1; }",
                      {"-shared", "-fPIC", "-nostdlib", "-Wl,-soname,liba.so.1", "-Wl,--disable-new-dtags",
                       "-Wl,-rpath,/opt/x:$ORIGIN/../lib", "-Wl,-z,nodefaultlib"}),
            "");
  auto info = read_path(lib);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->soname, "liba.so.1");
  EXPECT_EQ(info->rpath, "/opt/x:$ORIGIN/../lib");
  EXPECT_FALSE(info->runpath);
  EXPECT_TRUE(info->nodeflib());
  EXPECT_FALSE(info->interp);
  EXPECT_EQ(info->ident.type, ET_DYN);
  EXPECT_EQ(info->linkage, Linkage::Dynamic);
}

TEST_F(ElfFixture, ExecutableNeededAndRunpathInOrder) {
  auto libb = tmp_ / "libb.so";
  auto libc = tmp_ / "libc2.so";
  ASSERT_EQ(compile_c(libb, "int b(void) { return 1; }", {"-shared", "-fPIC", "-Wl,-soname,libb.so.2"}), "");
  ASSERT_EQ(compile_c(libc, "int c(void) { return 1; }", {"-shared", "-fPIC", "-Wl,-soname,libc2.so"}), "");
  auto exe = tmp_ / "prog";
  ASSERT_EQ(compile_c(exe, "int b(void); int c(void); int main(void) { return b() + c(); }",
                      {"-Wl,--no-as-needed", libb.string(), libc.string(), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN"}),
            "");
  auto info = read_path(exe);
  ASSERT_TRUE(info) << info.error().message();
  ASSERT_TRUE(info->interp);
  EXPECT_EQ(*info->interp, "/lib64/ld-linux-x86-64.so.2");
  ASSERT_GE(info->needed.size(), 3u);
  EXPECT_EQ(info->needed[0], "libb.so.2");
  EXPECT_EQ(info->needed[1], "libc2.so");
  EXPECT_NE(std::find(info->needed.begin(), info->needed.end(), "libc.so.6"), info->needed.end());
  EXPECT_EQ(info->runpath, "$ORIGIN");
  EXPECT_FALSE(info->rpath);
  EXPECT_EQ(info->linkage, Linkage::Dynamic);
  EXPECT_EQ(machine_name(info->ident.machine), "x86-64");
}

TEST_F(ElfFixture, StaticAndStaticPieAreTold) {
  auto st = tmp_ / "static";
  auto pie = tmp_ / "static-pie";
  const char* src = "int main(void) { return 0; }";
  ASSERT_EQ(compile_c(st, src, {"-static"}), "");
  ASSERT_EQ(compile_c(pie, src, {"-static-pie"}), "");
  auto a = read_path(st);
  auto b = read_path(pie);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->linkage, Linkage::Static);
  EXPECT_FALSE(a->interp);
  EXPECT_EQ(b->linkage, Linkage::StaticPie);
  EXPECT_FALSE(b->interp);
  EXPECT_TRUE(b->needed.empty());
  EXPECT_EQ(b->ident.type, ET_DYN);
}

TEST_F(ElfFixture, ForeignMachineIsRead) {
  if (!testing::have_program("aarch64-linux-gnu-gcc")) GTEST_SKIP() << "no aarch64 cross compiler";
  auto lib = tmp_ / "libarm.so";
  ASSERT_EQ(compile_c(lib, "int a(void) { return 1; }", {"-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libarm.so.1"},
                      "aarch64-linux-gnu-gcc"),
            "");
  auto info = read_path(lib);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->ident.machine, EM_AARCH64);
  EXPECT_EQ(info->ident.elf_class, ELFCLASS64);
  EXPECT_EQ(info->soname, "libarm.so.1");
}

TEST_F(ElfFixture, ThirtyTwoBitIsRead) {
  auto lib = tmp_ / "lib32.so";
  std::string err = compile_c(lib, "int a(void) { return 1; }", {"-m32", "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,lib32.so"});
  if (!err.empty()) GTEST_SKIP() << "cc cannot build 32-bit objects: " << err;
  auto info = read_path(lib);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->ident.elf_class, ELFCLASS32);
  EXPECT_EQ(info->ident.machine, EM_386);
  EXPECT_EQ(info->soname, "lib32.so");
}

// ---- bad input: every case is an Error with err == 0 (bad input), never a crash ----------------

class CorruptElf : public ElfFixture {
 protected:
  void SetUp() override {
    good_ = testing::read_file("/bin/true");
    ASSERT_GT(good_.size(), 1000u);
  }
  Result<ElfInfo> read_bytes(const std::string& bytes) {
    auto p = tmp_ / "corrupt";
    write_file(p, bytes);
    return read_path(p);
  }
  std::string good_;
};

TEST_F(CorruptElf, EmptyFile) {
  auto r = read_bytes("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, 0);
  EXPECT_NE(r.error().message().find("not an ELF file"), std::string::npos) << r.error().message();
}

TEST_F(CorruptElf, TextFile) {
  auto r = read_bytes("#!/bin/sh\necho hi\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not an ELF file"), std::string::npos);
}

TEST_F(CorruptElf, TruncatedAtEveryLength) {
  // Truncations inside the header, inside the program headers and inside the dynamic section.
  for (size_t n : {4ul, 16ul, 52ul, 63ul, 64ul, 100ul, 200ul, 500ul, 1000ul, good_.size() / 2}) {
    auto r = read_bytes(good_.substr(0, n));
    EXPECT_FALSE(r) << "truncated to " << n << " bytes was accepted";
    if (!r) {
      EXPECT_EQ(r.error().err, 0) << r.error().message();
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    }
  }
}

TEST_F(CorruptElf, ProgramHeaderTableOutsideFile) {
  std::string b = good_;
  uint64_t phoff = 0xfffffff0;
  std::memcpy(&b[32], &phoff, 8);  // e_phoff (ELF64)
  auto r = read_bytes(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, 0);
}

TEST_F(CorruptElf, ClaimsFourBillionProgramHeaders) {
  // e_phnum = PN_XNUM sends the reader to section 0's sh_info for the real count: 2^32 - 1.
  std::string b = good_;
  uint16_t xnum = PN_XNUM;
  std::memcpy(&b[56], &xnum, 2);
  uint64_t shoff;
  std::memcpy(&shoff, &b[40], 8);
  ASSERT_LT(shoff + 64, b.size());
  uint32_t huge = 0xffffffff;
  std::memcpy(&b[shoff + 44], &huge, 4);  // Elf64_Shdr.sh_info of section 0
  auto r = read_bytes(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, 0);
}

TEST_F(CorruptElf, RandomByteFlipsNeverCrash) {
  // A deterministic mutation sweep: the reader must return (either way) for each.
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  for (int i = 0; i < 300; ++i) {
    std::string b = good_.substr(0, 4096);
    for (int k = 0; k < 8; ++k) b[next() % b.size()] = static_cast<char>(next());
    (void)read_bytes(b);
  }
  SUCCEED();
}

TEST(ElfIdentTest, IdentOnlyNeedsTheHeader) {
  UniqueFd fd(::open("/bin/true", O_RDONLY | O_CLOEXEC));
  auto id = read_elf_ident(fd.get(), "/bin/true");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->elf_class, ELFCLASS64);
  EXPECT_EQ(id->machine, EM_X86_64);
}

// ---- a second opinion: LIEF reads the same dynamic information ---------------------------------

TEST(ElfAgainstLief, SameDynamicInformationForSystemBinaries) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator("/usr/bin")) {
    if (!e.is_regular_file() || e.is_symlink()) continue;
    std::string head = testing::read_file(e.path()).substr(0, 4);
    if (head == "\x7f" "ELF") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  // LIEF parses whole binaries (symbols, relocations) and is slow: a spread-out sample suffices.
  size_t step = std::max<size_t>(1, files.size() / 120);
  int compared = 0;
  for (size_t i = 0; i < files.size(); i += step) {
    const auto& f = files[i];
    auto ours = read_path(f);
    ASSERT_TRUE(ours) << f << ": " << ours.error().message();
    LiefView theirs;
    try {
      theirs = lief_read(f);
    } catch (const std::exception& ex) {
      continue;  // LIEF 0.9 gives up on some binaries; ours must not
    }
    EXPECT_EQ(ours->interp, theirs.interp) << f;
    EXPECT_EQ(ours->needed, theirs.needed) << f;
    EXPECT_EQ(ours->soname, theirs.soname) << f;
    EXPECT_EQ(ours->rpath, theirs.rpath) << f;
    EXPECT_EQ(ours->runpath, theirs.runpath) << f;
    ++compared;
  }
  EXPECT_GT(compared, 50);
  RecordProperty("compared", compared);
}

}  // namespace
}  // namespace minify
