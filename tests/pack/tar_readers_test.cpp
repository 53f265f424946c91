// minify's tar read by the readers people use: GNU tar and bsdtar (extracting), Python's tarfile
// and Go's archive/tar (skopeo, containerd, umoci; a small reader compiled at test time). Each
// must read every entry with no warning on stderr and give back the same names (non-ASCII, past
// the 100 and 255 bytes of ustar), contents (a sparse file with its holes), link targets and
// mtimes. A name that is not UTF-8 is the one exception, pinned down below.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "minify/digest.hpp"
#include "minify/pack.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using testing::RunResult;
using testing::TempDir;
using testing::write_file;

// Python: one line per member, "type<TAB>mtime<TAB>size<TAB>sha256<TAB>link<TAB>name", with the
// name's bytes as they are (surrogateescape); warnings are errors.
constexpr const char* kPythonReader = R"PY(
import hashlib, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        h, n = hashlib.sha256(), 0
        if m.isreg():
            f = t.extractfile(m)
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
        kind = 'f' if m.isreg() else 'd' if m.isdir() else 'l' if m.issym() else '?'
        line = '%s\t%d\t%d\t%s\t%s\t%s\n' % (kind, int(m.mtime), n, h.hexdigest(), m.linkname, m.name.rstrip('/'))
        sys.stdout.buffer.write(line.encode('utf-8', 'surrogateescape'))
)PY";

// Go: the same lines. archive/tar reports problems as errors, which end the program.
constexpr const char* kGoReader = R"GO(package main

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sum := sha256.New()
		n, err := io.Copy(sum, tr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		kind := "?"
		switch h.Typeflag {
		case tar.TypeReg:
			kind = "f"
		case tar.TypeDir:
			kind = "d"
		case tar.TypeSymlink:
			kind = "l"
		}
		fmt.Printf("%s\t%d\t%d\t%x\t%s\t%s\n", kind, h.ModTime.Unix(), n, sum.Sum(nil), h.Linkname, strings.TrimSuffix(h.Name, "/"))
	}
}
)GO";

std::string sha256_hex_of(const std::string& data) { return digest_hex(DigestKind::Sha256, data); }

std::string line(char kind, int64_t mtime, const std::string& data, const std::string& link, const std::string& name) {
  return std::string(1, kind) + "\t" + std::to_string(mtime) + "\t" + std::to_string(data.size()) + "\t" +
         sha256_hex_of(data) + "\t" + link + "\t" + name;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string::npos) j = text.size();
    if (j > i) out.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The lines of a tree extracted by tar, for comparison with the readers' own listings.
std::vector<std::string> tree_lines(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& p = it->path();
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    std::string name = fs::relative(p, dir).string();
    if (S_ISDIR(st.st_mode)) out.push_back(line('d', st.st_mtime, "", "", name));
    else if (S_ISLNK(st.st_mode)) out.push_back(line('l', st.st_mtime, "", fs::read_symlink(p).string(), name));
    else out.push_back(line('f', st.st_mtime, testing::read_file(p), "", name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Builds the Go reader once per run of the suite (its build cache is kept in the build tree).
std::optional<fs::path> go_reader(std::string& why) {
  static std::optional<fs::path> built;
  static std::string error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (!testing::have_program("go")) {
      error = "no Go toolchain";
    } else {
      fs::path dir = fs::path(MINIFY_PACK_FIXTURES) / "tar-reader";
      write_file(dir / "go.mod", "module example.com/tarreader\n\ngo 1.19\n");
      write_file(dir / "main.go", kGoReader);
      auto r = testing::run({"sh", "-c", "cd '" + dir.string() + "' && go build -buildvcs=false -o tar-reader ."},
                            {"GOCACHE=" + (fs::path(MINIFY_PACK_FIXTURES) / "gocache").string(),
                             "GOPATH=" + (dir / "gopath").string(), "HOME=" + dir.string(), "GO111MODULE=on",
                             "GOPROXY=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0"});
      if (r.status == 0) built = dir / "tar-reader";
      else error = r.err;
    }
  }
  why = error;
  return built;
}

class TarReaders : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path& r = src_.path();
    names_ = {
        "etc/ssl/certs/F\u0151tan\u00fas\u00edtv\u00e1ny.pem",                       // non-ASCII, short
        "opt/" + std::string(120, 'd') + "/" + std::string(90, 'e') + "/long-named-file.txt",  // no ustar split
        "opt/" + [] { std::string s; for (int i = 0; i < 80; ++i) s += "\u0171"; return s; }() + "/f\u0151.txt",
        "srv/" + [] { std::string s; for (int i = 0; i < 6; ++i) s += std::string(50, 'a' + i) + "/"; return s; }() + "deep.txt",
    };
    int64_t t = 1600000000;
    for (const auto& n : names_) {
      write_file(r / n, "content of " + n + "\n");
      stamp(r / n, t++);
    }
    // A symlink whose target does not fit ustar's 100 bytes (kept dangling, as in the source).
    fs::create_symlink("../" + std::string(150, 'x'), r / "opt/long-link");
    stamp(r / "opt/long-link", 1500000000);
    // 8 MiB with three short runs of data: stored sparse.
    fs::create_directories(r / "var/lib");
    {
      int fd = ::open((r / "var/lib/sparse.img").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::ftruncate(fd, 8 << 20), 0);
      ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
      ASSERT_EQ(::pwrite(fd, "middle", 6, 4 << 20), 6);
      ASSERT_EQ(::pwrite(fd, "tail", 4, (8 << 20) - 4), 4);
      ::close(fd);
    }
    stamp(r / "var/lib/sparse.img", 1400000000);
    // 2 MiB of nothing: a sparse entry with no data at all.
    {
      int fd = ::open((r / "var/lib/empty.img").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::ftruncate(fd, 2 << 20), 0);
      ::close(fd);
    }
    for (const char* d : {"etc", "opt", "srv", "var"}) stamp(r / d, 1300000000);

    auto root = Root::open(r.string());
    ASSERT_TRUE(root);
    root_.emplace(std::move(*root));
    for (const char* d : {"/etc", "/opt", "/srv", "/var"}) {
      auto k = set_.keep(*root_, d, {ReasonKind::Kept, "test"});
      ASSERT_TRUE(k) << k.error().message();
    }
    tar_ = out_ / "out.tar";
    auto w = write_tar(set_, *root_, tar_.string());
    ASSERT_TRUE(w) << w.error().message();

    // What every reader must give back, from the set and the source.
    for (const auto& [path, e] : set_) {
      std::string name = path.substr(1);
      switch (e.type) {
        case EntryType::Directory: want_.push_back(line('d', e.mtime.tv_sec, "", "", name)); break;
        case EntryType::Symlink: want_.push_back(line('l', e.mtime.tv_sec, "", e.link_target, name)); break;
        case EntryType::File: want_.push_back(line('f', e.mtime.tv_sec, testing::read_file(r / name), "", name)); break;
      }
    }
    std::sort(want_.begin(), want_.end());
  }

  static void stamp(const fs::path& p, int64_t sec) {
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
  }

  // Extracts with `argv` + the archive into a fresh directory; stderr must stay empty.
  void expect_extracts(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    fs::path dir = out_ / ("x-" + std::to_string(extracted_++));
    fs::create_directories(dir);
    std::vector<std::string> cmd = argv;
    cmd.push_back(tar_.string());
    cmd.push_back("-C");
    cmd.push_back(dir.string());
    RunResult x = testing::run(cmd, env);
    EXPECT_EQ(x.status, 0) << x.err;
    EXPECT_EQ(x.err, "") << argv[0] << " warned";
    EXPECT_EQ(tree_lines(dir), want_) << argv[0];
  }

  TempDir src_, out_;
  std::optional<Root> root_;
  FileSet set_;
  fs::path tar_;
  std::vector<std::string> names_;
  std::vector<std::string> want_;
  int extracted_ = 0;
};

TEST_F(TarReaders, NamesFitUstarOrTakeAPaxPathAndNoHdrcharset) {
  std::string bytes = testing::read_file(tar_);
  EXPECT_EQ(bytes.find("hdrcharset"), std::string::npos);
  // Holes take no room: 10 MiB of files, four 64 KiB blocks of data.
  EXPECT_LT(bytes.size(), 384u << 10);
  EXPECT_NE(bytes.find("GNU.sparse.major=1"), std::string::npos);
}

TEST_F(TarReaders, GnuTarExtractsEverythingWithoutAWarning) {
  if (!testing::have_program("tar")) GTEST_SKIP() << "no GNU tar";
  // In a UTF-8 locale and in the C locale (a bare container's).
  expect_extracts({"tar", "-xf"}, {"LC_ALL=C.UTF-8"});
  expect_extracts({"tar", "-xf"}, {"LC_ALL=C"});
  RunResult l = testing::run({"tar", "-tvf", tar_.string()});
  EXPECT_EQ(l.status, 0);
  EXPECT_EQ(l.err, "");
}

TEST_F(TarReaders, BsdtarExtractsEverythingWithoutAWarning) {
  if (!testing::have_program("bsdtar")) GTEST_SKIP() << "no bsdtar (Debian: libarchive-tools)";
  expect_extracts({"bsdtar", "-xf"}, {"LC_ALL=C.UTF-8"});
}

TEST_F(TarReaders, PythonTarfileReadsEverythingWithoutAWarning) {
  if (!testing::have_program("python3")) GTEST_SKIP() << "no python3";
  RunResult r = testing::run({"python3", "-W", "error", "-c", kPythonReader, tar_.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(sorted_lines(r.out), want_);
}

TEST_F(TarReaders, GoArchiveTarReadsEverything) {
  std::string why;
  auto reader = go_reader(why);
  if (!reader) GTEST_SKIP() << "cannot build the Go reader: " << why;
  RunResult r = testing::run({reader->string(), tar_.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(sorted_lines(r.out), want_);
}

// A file name that is not UTF-8 cannot be a PAX "path" record (POSIX: UTF-8) without
// "hdrcharset=BINARY". Every reader gets the bytes back; GNU tar, which does not know the
// keyword, says so for that entry only.
TEST(TarReadersBinaryName, NonUtf8NameRoundTripsEverywhere) {
  TempDir src, out;
  std::string bad = "data/bad-\xff\xfe.bin";
  write_file(src / bad, "bytes");
  write_file(src / "data/plain.txt", "plain");
  auto root = Root::open(src.path().string());
  ASSERT_TRUE(root);
  FileSet set;
  ASSERT_TRUE(set.keep(*root, "/data", {ReasonKind::Kept, "test"}));
  fs::path tar = out / "bad.tar";
  ASSERT_TRUE(write_tar(set, *root, tar.string()));
  std::string bytes = testing::read_file(tar);
  EXPECT_EQ(bytes.find("hdrcharset"), bytes.rfind("hdrcharset")) << "only the one entry";

  if (testing::have_program("tar")) {
    fs::path dir = out / "gnu";
    fs::create_directories(dir);
    RunResult x = testing::run({"tar", "-xf", tar.string(), "-C", dir.string()});
    EXPECT_EQ(x.status, 0) << x.err;
    EXPECT_EQ(testing::read_file(dir / bad), "bytes");
    EXPECT_EQ(std::count(x.err.begin(), x.err.end(), '\n'), 1) << x.err;
  }
  if (testing::have_program("bsdtar")) {
    fs::path dir = out / "bsd";
    fs::create_directories(dir);
    RunResult x = testing::run({"bsdtar", "-xf", tar.string(), "-C", dir.string()}, {"LC_ALL=C.UTF-8"});
    EXPECT_EQ(x.status, 0) << x.err;
    EXPECT_EQ(x.err, "");
    EXPECT_EQ(testing::read_file(dir / bad), "bytes");
  }
  if (testing::have_program("python3")) {
    RunResult r = testing::run({"python3", "-W", "error", "-c", kPythonReader, tar.string()});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\t" + bad + "\n"), std::string::npos) << r.out;
  }
  std::string why;
  if (auto reader = go_reader(why)) {
    RunResult r = testing::run({reader->string(), tar.string()});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\t" + bad + "\n"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace minify
