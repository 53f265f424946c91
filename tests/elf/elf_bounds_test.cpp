// Resource bounds of the ELF readers: an ELF that claims 2^32 - 1 program headers fails
// fast, with a one-line error, in bounded memory, through both readers (libelf on a descriptor,
// the byte reader of elf_detail) and through `minify deps`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <elf.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "minify/elf.hpp"
#include "minify/elf_detail.hpp"
#include "minify/rootfs.hpp"
#include "support/bounded.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::BoundedRun;
using testing::TempDir;

// /bin/true with e_phnum = PN_XNUM, which sends readers to section 0's sh_info for the real
// count (gABI "Extended Program Header Numbering"), set to 2^32 - 1: 240 GB of headers.
std::string four_billion_phdrs() {
  std::string b = testing::read_file("/bin/true");
  uint16_t xnum = PN_XNUM;
  std::memcpy(&b[offsetof(Elf64_Ehdr, e_phnum)], &xnum, 2);
  uint64_t shoff;
  std::memcpy(&shoff, &b[offsetof(Elf64_Ehdr, e_shoff)], 8);
  uint32_t huge = 0xffffffff;
  std::memcpy(&b[shoff + offsetof(Elf64_Shdr, sh_info)], &huge, 4);
  return b;
}

void expect_fast_one_line_error(const BoundedRun& r, const std::string& want) {
  ASSERT_TRUE(r.finished) << r.failure;
  EXPECT_NE(r.result.find(want), std::string::npos) << r.result;
  EXPECT_EQ(r.result.find('\n'), std::string::npos) << r.result;
  EXPECT_LT(r.seconds, 5.0);
  EXPECT_LT(r.max_rss_mib, testing::bounded_rss_limit_mib());
}

TEST(ElfBounds, FourBillionProgramHeadersFailFastThroughLibelf) {
  TempDir t;
  testing::write_file(t / "huge", four_billion_phdrs());
  auto r = testing::run_bounded([&]() -> std::string {
    UniqueFd fd(::open((t / "huge").c_str(), O_RDONLY | O_CLOEXEC));
    auto info = read_elf_info(fd.get(), (t / "huge").string());
    return info ? "read" : info.error().message();
  });
  expect_fast_one_line_error(r, (t / "huge").string());
}

TEST(ElfBounds, FourBillionProgramHeadersFailFastThroughTheByteReader) {
  std::string image = four_billion_phdrs();
  auto r = testing::run_bounded([&]() -> std::string {
    auto d = read_elf_detail(image, "huge");
    return d ? "read" : d.error().message();
  });
  expect_fast_one_line_error(r, "huge");
}

TEST(ElfBounds, FourBillionProgramHeadersFailFastThroughTheCli) {
  TempDir t;
  testing::write_file(t / "huge", four_billion_phdrs());
  auto start = std::chrono::steady_clock::now();
  auto r = testing::run({testing::minify_bin(), "deps", "--list", (t / "huge").string()});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("minify: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find((t / "huge").string()), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace minify
