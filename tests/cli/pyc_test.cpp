// The .py/.pyc pairs stay valid: Python accepts a cached .pyc only while its .py has the mtime
// (and size) recorded in it (PEP 552, timestamp-based pycs), so every writer must keep mtimes.
// The shipped interpreter is run in the minimal root, read-only (a private mount namespace,
// a read-only bind mount, chroot), with `python3 -v`, which says for each module whether its
// .pyc "matches" or the module is compiled from the source ("code object from /x.py", after
// "bytecode is stale"). Checked for `minify pack` (rootfs/ and --tar) and for an image made at
// test time from the host's python files, __pycache__ included, through `minify image`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "image/image_support.hpp"
#include "minify/image.hpp"
#include "minify/trace.hpp"
#include "minify/verify.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kImports =
    "import json, csv, re, decimal, fractions, statistics, email.parser, http.client, urllib.parse, "
    "xml.etree.ElementTree, sqlite3, argparse, logging, asyncio";

bool can_run() {
  return ::geteuid() == 0 && fs::exists(kPython) && fs::exists("/usr/lib/python3.11") &&
         testing::have_program("unshare") && testing::have_program("chroot");
}

struct BytecodeUse {
  int matched = 0;                    // "X.pyc matches X.py"
  std::vector<std::string> compiled;  // modules compiled from their source instead
  std::string err;                    // the whole -v output, for messages
  int status = -1;
};

// Runs `python3 -v -c code` inside `root`, which is mounted read-only first.
BytecodeUse run_read_only(const fs::path& root, const std::string& code) {
  auto r = testing::run({"unshare", "-m", "--propagation", "private", "sh", "-c",
                         "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && "
                         "exec chroot \"$1\" /usr/bin/python3 -v -c \"$2\"",
                         "sh", root.string(), code});
  BytecodeUse u;
  u.status = r.status;
  u.err = r.err;
  size_t i = 0;
  while (i < r.err.size()) {
    size_t j = r.err.find('\n', i);
    if (j == std::string::npos) j = r.err.size();
    std::string l = r.err.substr(i, j - i);
    i = j + 1;
    if (l.rfind("# ", 0) == 0 && l.find(".pyc matches ") != std::string::npos) ++u.matched;
    // The source compiled: "code object from /path/x.py" (a .pyc is named quoted, '/path/x.pyc').
    if (l.rfind("# code object from /", 0) == 0) u.compiled.push_back(l.substr(20));
  }
  return u;
}

void expect_bytecode_used(const fs::path& root, const std::string& what) {
  BytecodeUse u = run_read_only(root, kImports);
  ASSERT_EQ(u.status, 0) << what << ":\n" << u.err.substr(0, 4000);
  EXPECT_GE(u.matched, 14) << what << ": the imported modules' .pyc files were not used";
  std::string list;
  for (const auto& c : u.compiled) list += "  " + c + "\n";
  EXPECT_TRUE(u.compiled.empty()) << what << ": compiled from the source (stale .pyc):\n" << list;
  EXPECT_EQ(u.err.find("bytecode is stale"), std::string::npos) << what;
}

TEST(Pyc, PackedPythonAcceptsEveryShippedPyc) {
  if (!can_run()) GTEST_SKIP() << "needs root, /usr/bin/python3 (3.11), unshare and chroot";
  TempDir t;
  // --no-verify: the verify run starts python in rootfs/ writable and would rewrite stale
  // .pyc files itself, hiding what was shipped.
  auto r = testing::run({testing::minify_bin(), "pack", "--no-verify", "-o", (t / "out").string(), "--tar",
                         (t / "out.tar").string(), kPython, "-c", kImports});
  ASSERT_EQ(r.status, 0) << r.err;
  expect_bytecode_used(t / "out/rootfs", "rootfs/");
  // The tar as GNU tar extracts it (mtimes restored from the archive).
  fs::create_directories(t / "x");
  auto x = testing::run({"tar", "-xf", (t / "out.tar").string(), "-C", (t / "x").string()});
  ASSERT_EQ(x.status, 0) << x.err;
  expect_bytecode_used(t / "x", "--tar");
}

// Paths the traced program wrote: none may be bytecode when the image's .pyc files are valid.
std::vector<std::string> written_bytecode(const fs::path& trace_file) {
  auto trace = trace_log_from_json(nlohmann::json::parse(testing::read_file(trace_file)));
  EXPECT_TRUE(trace) << (trace ? "" : trace.error().message());
  std::vector<std::string> out;
  if (!trace) return out;
  for (const auto& [path, use] : trace->paths) {
    if (path.find("__pycache__") == std::string::npos) continue;
    for (AccessKind k : {AccessKind::Write, AccessKind::Create, AccessKind::Rename})
      if (use.access.has(k)) {
        out.push_back(path);
        break;
      }
  }
  return out;
}

// The host's python3.11 with its libraries and all of /usr/lib/python3.11 (__pycache__ included),
// as a two-layer docker-archive: merged-/usr links, then the files, as GNU tar stores them (mtimes
// and all).
void make_python_image(const fs::path& file, const fs::path& work) {
  std::vector<testing::TarItem> base = {{"bin", 'l', "", "usr/bin"},   {"lib", 'l', "", "usr/lib"},
                                        {"lib64", 'l', "", "usr/lib64"}, {"sbin", 'l', "", "usr/sbin"},
                                        {"usr", 'd', "", "", 0755},      {"usr/bin", 'd', "", "", 0755},
                                        {"usr/lib", 'd', "", "", 0755},  {"usr/lib64", 'd', "", "", 0755},
                                        {"tmp", 'd', "", "", 01777}};
  std::set<std::string> names = {"usr/bin/python3", "usr/bin/python3.11", "usr/lib/python3.11"};
  // The libraries ldd names for the interpreter and its extension modules (_decimal needs
  // libmpdec, _sqlite3 libsqlite3...), under their merged-/usr names, and their links' targets.
  std::vector<std::string> objects = {"/usr/bin/python3.11"};
  for (const auto& e : fs::directory_iterator("/usr/lib/python3.11/lib-dynload")) objects.push_back(e.path().string());
  for (const auto& o : objects) {
    auto ldd = testing::run({"ldd", o});
    ASSERT_EQ(ldd.status, 0) << o << ": " << ldd.err;
    size_t pos = 0;
    while ((pos = ldd.out.find('/', pos)) != std::string::npos) {
      size_t end = ldd.out.find_first_of(" \n", pos);
      fs::path lib = ldd.out.substr(pos, end - pos);
      pos = end;
      fs::path named = fs::canonical(lib.parent_path()) / lib.filename();
      names.insert(named.relative_path().string());
      if (fs::is_symlink(named)) names.insert(fs::canonical(named).relative_path().string());
    }
  }
  std::vector<std::string> cmd = {"tar", "-C", "/", "--numeric-owner", "-cf", (work / "files.tar").string()};
  cmd.insert(cmd.end(), names.begin(), names.end());
  auto tar = testing::run(cmd);
  ASSERT_EQ(tar.status, 0) << tar.err;
  testing::ImageSpec spec;
  spec.layers = {testing::make_tar(base), testing::read_file(work / "files.tar")};
  spec.compressions = {testing::LayerCompression::None, testing::LayerCompression::None};
  spec.config = {{"Entrypoint", {kPython, "-c", kImports}}, {"Env", {"PATH=/usr/bin:/bin"}}};
  testing::write_docker_archive(file, spec);
}

TEST(Pyc, ImageWithBytecodeKeepsItValidThroughMinifyImage) {
  if (!can_run()) GTEST_SKIP() << "needs root, /usr/bin/python3 (3.11), unshare and chroot";
  TempDir t;
  make_python_image(t / "in.tar", t.path());
  if (HasFatalFailure()) return;
  auto r = testing::run({testing::minify_bin(), "image", (t / "in.tar").string(), "-o", (t / "out.oci").string(),
                         "--out-dir", (t / "out").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("verify: ok"), std::string::npos) << r.err;
  // The cause of the old failure: python rewrote the .pyc files it found stale while traced.
  EXPECT_EQ(written_bytecode(t / "out/trace.json"), std::vector<std::string>{});
  expect_bytecode_used(t / "out/rootfs", "minify image's rootfs/");
  // The image itself, unpacked as a runtime would.
  auto img = open_image((t / "out.oci").string(), (t / "work").string());
  ASSERT_TRUE(img) << img.error().message();
  auto un = unpack_layers(*img, (t / "unpacked").string());
  ASSERT_TRUE(un) << un.error().message();
  expect_bytecode_used(t / "unpacked", "the output image");
}

// A stale .pyc in the source is read, found stale and replaced (a temporary file renamed over
// it) by the original run; minify leaves it out as the program's output, so the run in the
// minimal root, which finds none, must not call it missing.
TEST(Pyc, StaleBytecodeReplacedByTheOriginalRunIsNotMissing) {
  std::string pyc = "/app/__pycache__/mod.cpython-311.pyc";
  TraceLog original, run;
  PathUse replaced;
  replaced.access = AccessSet{AccessKind::Read, AccessKind::Rename};
  replaced.succeeded = AccessSet{AccessKind::Read, AccessKind::Rename};
  original.paths[pyc] = replaced;
  PathUse read;
  read.access = AccessSet{AccessKind::Read};
  read.succeeded = AccessSet{AccessKind::Read};
  original.paths["/app/mod.py"] = read;
  PathUse failed;
  failed.access = AccessSet{AccessKind::Read};
  run.paths[pyc] = failed;
  run.paths["/app/mod.py"] = failed;
  VerifyReport rep = compare_runs(original, run);
  EXPECT_EQ(rep.missing, std::vector<std::string>{"/app/mod.py"});
}

}  // namespace
}  // namespace minify
