// The progress line (src/cli/progress.cpp) as a person at a terminal sees it: minify run on a
// pseudo-terminal, packing a 256 MB file and tracing a program that runs for two seconds; and the
// same runs with stderr a pipe, which must carry no progress at all; `minify trace` of a long
// program and the unpack of `verify --image`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::minify_bin;
using testing::run;
using testing::TempDir;
namespace fs = std::filesystem;

struct PtyResult {
  int status = -1;
  std::string text;  // everything written to the terminal (stdout and stderr)
};

// Runs argv on a new pseudo-terminal (stdin, stdout and stderr), with `env` added.
PtyResult run_on_pty(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  PtyResult r;
  int master = -1;
  struct winsize ws{};
  ws.ws_col = 200;
  ws.ws_row = 50;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) return r;
  if (pid == 0) {
    // No "\n" -> "\r\n": every "\r" on the terminal is then minify's own.
    struct termios t;
    if (::tcgetattr(STDIN_FILENO, &t) == 0) {
      t.c_oflag &= ~static_cast<tcflag_t>(OPOST);
      ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO once the child and its descendants closed the terminal
    r.text.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// The progress lines drawn: each "\r<text>\x1b[K" with some text.
std::vector<std::string> drawn(const std::string& text) {
  std::vector<std::string> out;
  for (size_t at = text.find('\r'); at != std::string::npos; at = text.find('\r', at + 1)) {
    size_t end = text.find("\x1b[K", at);
    if (end == std::string::npos) break;
    std::string line = text.substr(at + 1, end - at - 1);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Every line drawn is erased ("\r\x1b[K") before the next newline: nothing printed after a
// step starts on a leftover progress line.
bool erased_before_newlines(const std::string& text) {
  bool shown = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 4, "\r\x1b[K") == 0) {
      shown = false;
      i += 3;
    } else if (text[i] == '\r') {
      shown = true;
    } else if (text[i] == '\n' && shown) {
      return false;
    }
  }
  return !shown;
}

class Progress : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "pack writes the image's owners (needs root)";
    big_ = tmp_ / "data/big.bin";
    if (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()).find("Large") == std::string::npos) return;
    fs::create_directories(big_.parent_path());
    // Written, not truncated: a sparse file would be copied as holes in no time.
    std::ofstream f(big_, std::ios::binary);
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 256; ++i) f.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
  // With MINIFY_PROGRESS_AFTER=0 every step would draw its line on a terminal, however small.
  std::vector<std::string> pack_args(const std::string& out, std::vector<std::string> program, bool big) {
    std::vector<std::string> a = {minify_bin(), "pack", "--no-verify", "--force", "-o", (tmp_ / out).string(),
                                  "--tar", (tmp_ / (out + ".tar")).string()};
    if (big) {
      a.push_back("--keep");
      a.push_back(big_.string());
    }
    a.insert(a.end(), program.begin(), program.end());
    return a;
  }
  TempDir tmp_;
  fs::path big_;
};

TEST_F(Progress, ALargePackShowsOneLineRewrittenInPlaceAndErased) {
  // MINIFY_PROGRESS_AFTER=0: every step's line, however fast this machine copies 256 MB.
  auto r = run_on_pty(pack_args("out", {"/bin/true"}, true), {"MINIFY_PROGRESS_AFTER=0"});
  ASSERT_EQ(r.status, 0) << r.text;
  // "of 258 MB": the 256 MB file and the program's closure.
  auto of_the_set = [](const std::string& l) {
    size_t of = l.find(" of ");
    return of != std::string::npos && l.find(" MB (", of) != std::string::npos &&
           std::strtoul(l.c_str() + of + 4, nullptr, 10) >= 256;
  };
  auto lines = drawn(r.text);
  bool rootfs = false, tar = false;
  for (const auto& l : lines) {
    EXPECT_LT(l.size(), 200u) << "wider than the terminal: " << l;
    if (l.starts_with("minify: pack: rootfs, ") && of_the_set(l)) rootfs = true;
    if (l.starts_with("minify: pack: tar, ") && of_the_set(l)) tar = true;
  }
  EXPECT_TRUE(rootfs) << r.text;
  EXPECT_TRUE(tar) << r.text;
  EXPECT_TRUE(erased_before_newlines(r.text)) << r.text;
  EXPECT_NE(r.text.find("minify: time: "), std::string::npos) << r.text;
  EXPECT_EQ(fs::file_size(tmp_ / "out/rootfs" / big_.relative_path()), 256u << 20);
}

TEST_F(Progress, ALongTraceShowsItsTimeAfterASecond) {
  // The default threshold: a trace of 2.5 s shows, a step under a second (the pack here) does not.
  auto r = run_on_pty({minify_bin(), "pack", "--no-verify", "--force", "-o", (tmp_ / "out").string(), "/bin/sleep", "2.5"},
                      {});
  ASSERT_EQ(r.status, 0) << r.text;
  bool trace = false;
  for (const auto& l : drawn(r.text)) {
    if (l.starts_with("minify: trace: /") && l.ends_with(" s")) trace = true;
    EXPECT_FALSE(l.starts_with("minify: pack:")) << l;
  }
  EXPECT_TRUE(trace) << r.text;
  EXPECT_TRUE(erased_before_newlines(r.text)) << r.text;
}

TEST_F(Progress, MinifyTraceShowsALongTracesTime) {
  // `minify trace` itself, not only the trace inside pack: the default threshold, a 2.5 s program.
  auto r = run_on_pty({minify_bin(), "trace", "-o", (tmp_ / "trace.json").string(), "--", "/bin/sleep", "2.5"}, {});
  ASSERT_EQ(r.status, 0) << r.text;
  bool trace = false;
  for (const auto& l : drawn(r.text))
    if (l.starts_with("minify: trace: /bin/sleep, ") && l.ends_with(" s")) trace = true;
  EXPECT_TRUE(trace) << r.text;
  EXPECT_TRUE(erased_before_newlines(r.text)) << r.text;
  EXPECT_TRUE(fs::exists(tmp_ / "trace.json"));
  // A quick trace draws nothing.
  auto quick = run_on_pty({minify_bin(), "trace", "-o", (tmp_ / "quick.json").string(), "--", "/bin/true"}, {});
  ASSERT_EQ(quick.status, 0) << quick.text;
  EXPECT_EQ(quick.text.find('\r'), std::string::npos) << quick.text;
}

TEST_F(Progress, VerifyImageShowsItsUnpack) {
  // verify --image unpacks the image first, as `minify image` does: the same line on a terminal.
  ASSERT_EQ(run({minify_bin(), "pack", "--no-verify", "--force", "-o", (tmp_ / "out").string(), "--oci", (tmp_ / "img.tar").string(),
                 "/bin/true"},
                {})
                .status,
            0);
  auto r = run_on_pty({minify_bin(), "verify", "--image", (tmp_ / "img.tar").string()}, {"MINIFY_PROGRESS_AFTER=0"});
  ASSERT_EQ(r.status, 0) << r.text;
  bool unpack = false;
  for (const auto& l : drawn(r.text))
    if (l.starts_with("minify: unpack: ") && l.find(" of ") != std::string::npos) unpack = true;
  EXPECT_TRUE(unpack) << r.text;
  EXPECT_TRUE(erased_before_newlines(r.text)) << r.text;
  EXPECT_NE(r.text.find("minify: verify: ok"), std::string::npos) << r.text;
  // Not on a pipe.
  auto piped = run({minify_bin(), "verify", "--image", (tmp_ / "img.tar").string()}, {"MINIFY_PROGRESS_AFTER=0"});
  ASSERT_EQ(piped.status, 0) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
}

TEST_F(Progress, NoneWhenStderrIsNotATerminal) {
  auto r = run(pack_args("out", {"/bin/sleep", "1.5"}, false), {"MINIFY_PROGRESS_AFTER=0"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\x1b["), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("minify: time: "), std::string::npos) << r.err;
  // A file, as a CI log is.
  std::string log = (tmp_ / "log").string();
  std::vector<std::string> sh = {"/bin/sh", "-c", "\"$@\" 2>" + log, "sh"};
  auto args = pack_args("out2", {"/bin/true"}, false);
  sh.insert(sh.end(), args.begin(), args.end());
  ASSERT_EQ(run(sh, {"MINIFY_PROGRESS_AFTER=0"}).status, 0);
  std::string text = testing::read_file(log);
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_NE(text.find("minify: time: "), std::string::npos) << text;
}

}  // namespace
}  // namespace minify
