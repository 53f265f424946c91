// The ELF detail readers: dynamic symbols with versions (with and without section headers),
// import slots, notes, .eh_frame_hdr function starts, .symtab, and damaged input.
#include <gtest/gtest.h>

#include <elf.h>

#include <algorithm>

#include "inspect_support.hpp"
#include "minify/elf_detail.hpp"

namespace minify {
namespace {

using testing::compile_c;
using testing::TempDir;

constexpr const char* kHello = R"(
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) { printf("%d\n", argc); return argc > 5 ? atoi(argv[1]) : 0; }
)";

const ElfSymbol* find_sym(const std::vector<ElfSymbol>& syms, std::string_view name) {
  for (const auto& s : syms)
    if (s.name == name) return &s;
  return nullptr;
}

class ElfDetailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_program("cc")) GTEST_SKIP() << "no cc";
  }
  Result<ElfDetail> read(const testing::fs::path& p) {
    image_ = testing::read_file(p);
    return read_elf_detail(image_, p.string());
  }
  TempDir tmp_;
  std::string image_;
};

TEST_F(ElfDetailTest, ImportsCarryTheirVersionAndLibrary) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, kHello), "");
  auto d = read(bin);
  ASSERT_TRUE(d.ok()) << d.error().message();
  const ElfSymbol* printf_sym = find_sym(d->dynsym, "printf");
  ASSERT_NE(printf_sym, nullptr);
  EXPECT_FALSE(printf_sym->defined);
  EXPECT_EQ(printf_sym->version.rfind("GLIBC_2.", 0), 0u);
  EXPECT_EQ(printf_sym->version_file, "libc.so.6");
  auto need = std::find_if(d->version_needs.begin(), d->version_needs.end(),
                           [](const ElfVersionNeed& n) { return n.file == "libc.so.6"; });
  ASSERT_NE(need, d->version_needs.end());
  EXPECT_TRUE(std::find(need->versions.begin(), need->versions.end(), printf_sym->version) != need->versions.end());
  EXPECT_TRUE(std::any_of(d->import_slots.begin(), d->import_slots.end(),
                          [](const ElfImportSlot& s) { return s.symbol == "printf" && s.slot != 0; }));
  EXPECT_FALSE(d->sections.empty());
  EXPECT_NE(d->section(".dynsym"), nullptr);
}

TEST_F(ElfDetailTest, DynamicSymbolsReadWithoutSectionHeaders) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, kHello), "");
  auto with = read(bin);
  ASSERT_TRUE(with.ok());
  testing::drop_section_headers(bin);
  auto without = read(bin);
  ASSERT_TRUE(without.ok()) << without.error().message();
  EXPECT_TRUE(without->sections.empty());
  // DT_GNU_HASH sizes the table exactly as the section header did.
  ASSERT_EQ(without->dynsym.size(), with->dynsym.size());
  for (size_t i = 0; i < with->dynsym.size(); ++i) {
    EXPECT_EQ(without->dynsym[i].name, with->dynsym[i].name);
    EXPECT_EQ(without->dynsym[i].version, with->dynsym[i].version);
  }
  EXPECT_EQ(without->import_slots.size(), with->import_slots.size());
}

TEST_F(ElfDetailTest, SharedLibraryDefinesItsVersions) {
  auto map = tmp_ / "lib.map";
  testing::write_file(map, "MINIFY_1.0 { global: f1; local: *; };\nMINIFY_2.0 { global: f2; } MINIFY_1.0;\n");
  auto lib = tmp_ / "libv.so";
  ASSERT_EQ(compile_c(lib, "int f1(void) { return 1; }\nint f2(void) { return 2; }",
                      {"-shared", "-fPIC", "-Wl,-soname,libv.so", "-Wl,--version-script," + map.string()}),
            "");
  auto d = read(lib);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(std::find(d->version_defs.begin(), d->version_defs.end(), "MINIFY_2.0") != d->version_defs.end());
  const ElfSymbol* f2 = find_sym(d->dynsym, "f2");
  ASSERT_NE(f2, nullptr);
  EXPECT_TRUE(f2->defined);
  EXPECT_EQ(f2->version, "MINIFY_2.0");
  EXPECT_EQ(f2->type, STT_FUNC);
}

TEST_F(ElfDetailTest, NotesIncludeTheGnuBuildId) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, kHello, {"-Wl,--build-id=sha1"}), "");
  auto d = read(bin);
  ASSERT_TRUE(d.ok());
  auto id = std::find_if(d->notes.begin(), d->notes.end(), [](const ElfNote& n) { return n.owner == "GNU" && n.type == 3; });
  ASSERT_NE(id, d->notes.end());
  EXPECT_EQ(id->desc.size(), 20u);
}

TEST_F(ElfDetailTest, EhFrameHdrListsFunctionStarts) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, kHello), "");
  auto d = read(bin);
  ASSERT_TRUE(d.ok());
  std::vector<uint64_t> starts = read_function_starts(*d, image_);
  ASSERT_FALSE(starts.empty());
  EXPECT_TRUE(std::is_sorted(starts.begin(), starts.end()));
  auto symtab = read_elf_symtab(image_, bin.string());
  ASSERT_TRUE(symtab.ok());
  const ElfSymbol* main_sym = find_sym(*symtab, "main");
  ASSERT_NE(main_sym, nullptr);
  EXPECT_TRUE(std::binary_search(starts.begin(), starts.end(), main_sym->value));
}

TEST_F(ElfDetailTest, SymtabFilterKeepsOnlyWantedNames) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, kHello), "");
  image_ = testing::read_file(bin);
  auto all = read_elf_symtab(image_, bin.string());
  auto only_main = read_elf_symtab(image_, bin.string(), [](std::string_view n) { return n == "main"; });
  ASSERT_TRUE(all.ok() && only_main.ok());
  EXPECT_GT(all->size(), 1u);
  ASSERT_EQ(only_main->size(), 1u);
  EXPECT_TRUE((*only_main)[0].defined);
}

TEST_F(ElfDetailTest, BytesAtMapsVirtualAddressesThroughPtLoad) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, kHello), "");
  auto d = read(bin);
  ASSERT_TRUE(d.ok());
  const ElfSection* ro = d->section(".rodata");
  ASSERT_NE(ro, nullptr);
  std::string_view b = bytes_at(*d, image_, ro->addr, ro->size);
  EXPECT_EQ(b.size(), ro->size);
  EXPECT_NE(b.find("%d\n"), std::string_view::npos);
  EXPECT_TRUE(bytes_at(*d, image_, 0x7fffffff0000, 16).empty());
}

TEST_F(ElfDetailTest, GarbageAfterTheMagicIsAnErrorOrProblemsNeverACrash) {
  auto bin = tmp_ / "hello";
  ASSERT_EQ(compile_c(bin, kHello), "");
  std::string good = testing::read_file(bin);
  // Flip bytes across the headers and dynamic tables: each read must return, not crash.
  for (size_t off = 16; off < std::min<size_t>(good.size(), 0x4000); off += 7) {
    std::string bad = good;
    bad[off] = static_cast<char>(bad[off] ^ 0xa5);
    bad[off + 1] = static_cast<char>(0xff);
    auto d = read_elf_detail(bad, "bad");
    if (d.ok()) {
      auto st = read_elf_symtab(bad, "bad");
      (void)st;
      scan_dlopen_calls(*d, bad, {});
      read_function_starts(*d, bad);
    }
  }
  EXPECT_FALSE(read_elf_detail("\x7f" "ELF", "short").ok());
  EXPECT_FALSE(read_elf_detail("#!/bin/sh\n", "script").ok());
}

}  // namespace
}  // namespace minify
