// minify inspect on Go programs built at test time with the system Go toolchain (standard
// library only, no network): plain static, cgo with net, crypto/tls, embedded time/tzdata,
// -trimpath with -ldflags=-s -w, section headers removed, and a corrupt .go.buildinfo.
// Each program is built once per build tree (tests/inspect/inspect_support.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "inspect_support.hpp"
#include "minify/elf_detail.hpp"

namespace minify {
namespace {

using testing::fs::path;
using testing::inspect_host;

constexpr const char* kPlain = R"(package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
)";

constexpr const char* kNet = R"(package main

import (
	"fmt"
	"net"
)

func main() {
	addrs, err := net.LookupHost("localhost")
	fmt.Println(addrs, err)
}
)";

constexpr const char* kTls = R"(package main

import (
	"crypto/tls"
	"fmt"
	"time"
)

func main() {
	c, err := tls.Dial("tcp", "localhost:443", nil)
	fmt.Println(c, err)
	loc, err := time.LoadLocation("Europe/Paris")
	fmt.Println(loc, err)
}
)";

constexpr const char* kTzdata = R"(package main

import (
	"fmt"
	"time"
	_ "time/tzdata"
)

func main() {
	loc, err := time.LoadLocation("Europe/Paris")
	fmt.Println(loc, err)
}
)";

class GoInspect : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_program("go")) GTEST_SKIP() << "no go toolchain";
  }
  // Requires: the fixture builds (asserted by the caller).
  path build(const std::string& name, const char* src, std::vector<std::string> flags, std::vector<std::string> env) {
    std::string err;
    path p = testing::go_fixture(name, src, flags, env, err);
    EXPECT_FALSE(p.empty()) << err;
    return p;
  }
  // A private copy to patch.
  path copy_of(const path& p) {
    path out = tmp_ / p.filename();
    testing::fs::copy_file(p, out);
    return out;
  }
  testing::TempDir tmp_;
};

TEST_F(GoInspect, PlainGoIsTrulyStaticAndFitsScratch) {
  path bin = build("plain", kPlain, {}, {"CGO_ENABLED=0"});
  ASSERT_FALSE(bin.empty());
  FileReport r = inspect_host(bin);
  EXPECT_EQ(r.kind, FileKind::Static);
  ASSERT_TRUE(r.go.has_value());
  EXPECT_EQ(r.go->go_version.rfind("go1.", 0), 0u);
  EXPECT_EQ(r.go->path, "example.com/plain");
  ASSERT_TRUE(r.go->main.has_value());
  EXPECT_EQ(r.go->main->path, "example.com/plain");
  EXPECT_EQ(r.go->setting("CGO_ENABLED"), "0");
  EXPECT_EQ(r.go->setting("GOOS"), "linux");
  EXPECT_EQ(r.go->found_in, ".go.buildinfo");
  EXPECT_FALSE(r.cgo);
  EXPECT_EQ(r.libc, LoaderFamily::None);
  EXPECT_TRUE(r.truly_static());
  EXPECT_EQ(r.need(NeedKind::CaCertificates), nullptr);
  EXPECT_EQ(r.base.base, Base::Scratch);
}

TEST_F(GoInspect, CgoNetLinksLibcAndNeedsNss) {
  if (!testing::have_program("cc")) GTEST_SKIP() << "no cc for cgo";
  path bin = build("cgonet", kNet, {}, {"CGO_ENABLED=1"});
  ASSERT_FALSE(bin.empty());
  FileReport r = inspect_host(bin);
  ASSERT_TRUE(r.go.has_value());
  EXPECT_EQ(r.go->setting("CGO_ENABLED"), "1");
  EXPECT_TRUE(r.cgo);
  EXPECT_EQ(r.kind, FileKind::Dynamic);
  EXPECT_EQ(r.libc, LoaderFamily::Glibc);
  EXPECT_FALSE(r.newest_glibc.empty());
  EXPECT_FALSE(r.truly_static());
  EXPECT_TRUE(std::any_of(r.not_static_reasons.begin(), r.not_static_reasons.end(),
                          [](const std::string& s) { return s.find("cgo") != std::string::npos; }));
  EXPECT_NE(r.need(NeedKind::Nss), nullptr);
  EXPECT_NE(r.need(NeedKind::HostResolver), nullptr);
  EXPECT_FALSE(r.nss_modules.empty());
  EXPECT_NE(r.base.base, Base::Scratch);
}

TEST_F(GoInspect, PureGoNetReadsResolverFilesWithoutNssModules) {
  path bin = build("purenet", kNet, {}, {"CGO_ENABLED=0"});
  ASSERT_FALSE(bin.empty());
  FileReport r = inspect_host(bin);
  EXPECT_FALSE(r.cgo);
  EXPECT_TRUE(r.truly_static());
  const RuntimeNeed* hr = r.need(NeedKind::HostResolver);
  ASSERT_NE(hr, nullptr);
  EXPECT_TRUE(std::find(hr->paths.begin(), hr->paths.end(), "/etc/nsswitch.conf") != hr->paths.end());
  EXPECT_TRUE(r.nss_modules.empty());
  EXPECT_EQ(r.base.base, Base::DistrolessStatic);
}

TEST_F(GoInspect, TlsNeedsCaCertificatesAndLoadLocationNeedsZoneinfo) {
  path bin = build("tls", kTls, {}, {"CGO_ENABLED=0"});
  ASSERT_FALSE(bin.empty());
  FileReport r = inspect_host(bin);
  const RuntimeNeed* ca = r.need(NeedKind::CaCertificates);
  ASSERT_NE(ca, nullptr);
  EXPECT_FALSE(ca->optional);
  EXPECT_TRUE(std::find(ca->paths.begin(), ca->paths.end(), "/etc/ssl/certs/ca-certificates.crt") != ca->paths.end());
  ASSERT_FALSE(ca->evidence.empty());
  EXPECT_EQ(ca->evidence[0].detail.rfind("Go: crypto/x509", 0), 0u);
  const RuntimeNeed* tz = r.need(NeedKind::Zoneinfo);
  ASSERT_NE(tz, nullptr);
  EXPECT_FALSE(tz->optional);
  EXPECT_TRUE(std::find(tz->paths.begin(), tz->paths.end(), "/usr/share/zoneinfo/") != tz->paths.end());
  EXPECT_TRUE(r.truly_static());
  EXPECT_EQ(r.base.base, Base::DistrolessStatic);
}

TEST_F(GoInspect, EmbeddedTzdataNeedsNoZoneinfoDirectory) {
  path bin = build("tzdata", kTzdata, {}, {"CGO_ENABLED=0"});
  ASSERT_FALSE(bin.empty());
  FileReport r = inspect_host(bin);
  const RuntimeNeed* tz = r.need(NeedKind::Zoneinfo);
  if (tz != nullptr) {
    EXPECT_TRUE(tz->optional);
    EXPECT_TRUE(std::find(tz->paths.begin(), tz->paths.end(), "/usr/share/zoneinfo/") == tz->paths.end());
    EXPECT_NE(tz->note.find("tzdata"), std::string::npos);
  }
  EXPECT_EQ(r.base.base, Base::Scratch);
}

TEST_F(GoInspect, TrimpathStrippedStillReportsBuildInfoAndNeeds) {
  path bin = build("stripped", kTls, {"-trimpath", "-ldflags=-s -w"}, {"CGO_ENABLED=0"});
  ASSERT_FALSE(bin.empty());
  FileReport r = inspect_host(bin);
  ASSERT_TRUE(r.go.has_value());
  EXPECT_EQ(r.go->setting("-trimpath"), "true");
  EXPECT_EQ(r.go->path, "example.com/stripped");
  EXPECT_NE(r.need(NeedKind::CaCertificates), nullptr);
  EXPECT_NE(r.need(NeedKind::Zoneinfo), nullptr);
  EXPECT_TRUE(r.truly_static());
}

TEST_F(GoInspect, BuildInfoIsFoundInTheDataSegmentWithoutSections) {
  path bin = copy_of(build("stripped", kTls, {"-trimpath", "-ldflags=-s -w"}, {"CGO_ENABLED=0"}));
  testing::drop_section_headers(bin);
  FileReport r = inspect_host(bin);
  ASSERT_TRUE(r.go.has_value());
  EXPECT_EQ(r.go->found_in.rfind("data segment", 0), 0u) << r.go->found_in;
  EXPECT_EQ(r.go->setting("CGO_ENABLED"), "0");
  EXPECT_NE(r.need(NeedKind::CaCertificates), nullptr);
}

TEST_F(GoInspect, CorruptBuildInfoDoesNotCrashTheReader) {
  path good = build("plain", kPlain, {}, {"CGO_ENABLED=0"});
  ASSERT_FALSE(good.empty());
  std::string image = testing::read_file(good);
  auto d = read_elf_detail(image, good.string());
  ASSERT_TRUE(d.ok());
  const ElfSection* s = d->section(".go.buildinfo");
  ASSERT_NE(s, nullptr);
  // Each damage pattern: huge varint lengths, a bad pointer size, old-style pointers to nowhere,
  // a truncated header, garbage over the module text.
  std::vector<std::pair<uint64_t, std::string>> damage = {
      {32, std::string(10, '\xff')},
      {14, std::string("\x03\x00", 2)},
      {15, std::string("\x00", 1) + std::string(16, '\x7f')},
      {32, std::string("\x05go1", 4)},
      {33, std::string(64, '\x80')},
      {40, std::string(200, '\x09')},
  };
  for (const auto& [off, bytes] : damage) {
    path bin = tmp_ / ("corrupt-" + std::to_string(off) + "-" + std::to_string(bytes.size()));
    testing::fs::copy_file(good, bin);
    testing::patch_file(bin, s->offset + off, bytes);
    std::string bad = testing::read_file(bin);
    auto bd = read_elf_detail(bad, bin.string());
    ASSERT_TRUE(bd.ok());
    auto bi = read_go_buildinfo(*bd, bad, bin.string());  // an Error or a value, never a crash
    if (bi.ok() && bi->has_value()) {
      EXPECT_EQ((*bi)->go_version.rfind("go", 0), 0u);
    }
    FileReport r = inspect_host(bin);  // the report still comes back, with a warning
    EXPECT_EQ(r.kind, FileKind::Static);
  }
}

}  // namespace
}  // namespace minify
