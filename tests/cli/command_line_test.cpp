// The command line as people use it: the exit-code table of README (0 ok, 1 missing or failed,
// 2 bad input) held by every command on a file that is not ELF, a missing file and a bad option;
// error messages naming unexpected arguments in the order given; `minify --version` with the
// libraries minify was built with; bash and zsh completion and minify(1) generated from the
// command-line definition and installed by `cmake --install`.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "support/fixture.hpp"

namespace minify {
namespace {

using testing::have_program;
using testing::minify_bin;
using testing::read_file;
using testing::run;
using testing::RunResult;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

RunResult minify(std::vector<std::string> args) {
  args.insert(args.begin(), minify_bin());
  return run(args);
}

// The one-line error every failure ends with.
void expect_error(const RunResult& r, const std::string& what) {
  EXPECT_NE(r.err.find("minify: error: "), std::string::npos) << what << ": " << r.err;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << what << ": " << r.err;
}

class CommandLine : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(text_, "just some text, not a program\n");
    ::chmod(text_.c_str(), 0644);
  }
  TempDir tmp_;
  fs::path text_ = tmp_ / "notes.txt";
  fs::path missing_ = tmp_ / "no-such-file";
};

// ---- exit codes, command by command ------------------------------------------------------

TEST_F(CommandLine, DepsExitsTwoOnNonElfMissingFileAndBadOption) {
  auto r = minify({"deps", text_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "deps non-ELF");
  r = minify({"deps", missing_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "deps missing");
  r = minify({"deps", "--no-such-option", "/bin/sh"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("deps: unknown option: --no-such-option"), std::string::npos) << r.err;
}

TEST_F(CommandLine, InspectExitsTwoOnNonElfMissingFileAndBadOption) {
  auto r = minify({"inspect", text_.string()});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("inspect `" + text_.string() + "`: neither an ELF file nor a #! script"), std::string::npos) << r.err;
  // --json still describes the file, and the exit code still says it was bad input.
  r = minify({"inspect", "--json", text_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.out.find("\"kind\": \"not-elf\""), std::string::npos) << r.out;
  r = minify({"inspect", missing_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "inspect missing");
  r = minify({"inspect", "--no-such-option", "/bin/sh"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("inspect: unknown option: --no-such-option"), std::string::npos) << r.err;
  // A #! script is a program: inspect reads it and exits 0.
  write_file(tmp_ / "script.sh", "#!/bin/sh\necho hi\n");
  r = minify({"inspect", (tmp_ / "script.sh").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  // A good file and a bad one: every file is reported, and the status is the bad input's.
  r = minify({"inspect", "/bin/sh", text_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.out.find("/bin/sh"), std::string::npos) << r.out;
}

TEST_F(CommandLine, PackExitsTwoOnNonElfMissingFileAndBadOption) {
  auto r = minify({"pack", "--static-only", "-o", (tmp_ / "out1").string(), text_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "pack non-ELF");
  r = minify({"pack", "-o", (tmp_ / "out2").string(), missing_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "pack missing");
  r = minify({"pack", "--no-such-option", "-o", (tmp_ / "out3").string(), "/bin/true"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("pack: unknown option: --no-such-option"), std::string::npos) << r.err;
  // The default command too: an unknown option is not taken for the program.
  r = minify({"--no-such-option", "/bin/true"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("pack: unknown option: --no-such-option"), std::string::npos) << r.err;
  // Nothing was written for any of them.
  for (const char* d : {"out1", "out2", "out3"}) EXPECT_FALSE(fs::exists(tmp_ / d / "rootfs")) << d;
}

TEST_F(CommandLine, TraceExitsWithTheProgramsStatusButTwoOnBadOption) {
  // The documented exception: trace behaves like the program it wraps (shell conventions).
  auto r = minify({"trace", "-o", (tmp_ / "t.json").string(), "--", text_.string()});
  EXPECT_EQ(r.status, 126) << r.err;  // not executable
  expect_error(r, "trace non-ELF");
  r = minify({"trace", "-o", (tmp_ / "t.json").string(), "--", missing_.string()});
  EXPECT_EQ(r.status, 127) << r.err;
  expect_error(r, "trace missing");
  r = minify({"trace", "--no-such-option", "--", "/bin/true"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("trace: unknown option: --no-such-option"), std::string::npos) << r.err;
  r = minify({"trace", "-o", (tmp_ / "t.json").string(), "--", "/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(r.status, 7) << r.err;
}

TEST_F(CommandLine, WhyExitsTwoOnBadOutputAndBadOption) {
  auto r = minify({"why", "-o", text_.string(), "/bin/sh"});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "why non-directory");
  r = minify({"why", "-o", missing_.string(), "/bin/sh"});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "why missing");
  r = minify({"why", "--no-such-option", "/bin/sh"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("why: unknown option: --no-such-option"), std::string::npos) << r.err;
}

TEST_F(CommandLine, ImageExitsTwoOnNonImageMissingFileAndBadOption) {
  auto r = minify({"image", text_.string(), "-o", (tmp_ / "o.tar").string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "image non-image");
  r = minify({"image", missing_.string(), "-o", (tmp_ / "o.tar").string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "image missing");
  // The unknown option is named, not the required input it kept from being read.
  r = minify({"image", "--no-such-option"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("image: unknown option: --no-such-option"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("required"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "o.tar"));
}

TEST_F(CommandLine, VerifyExitsTwoOnNonImageMissingRootAndBadOption) {
  auto r = minify({"verify", "--image", text_.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "verify non-image");
  r = minify({"verify", "--rootfs", missing_.string(), "--", "/bin/true"});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_error(r, "verify missing");
  r = minify({"verify", "--no-such-option", "-o", tmp_.path().string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("verify: unknown option: --no-such-option"), std::string::npos) << r.err;
}

TEST_F(CommandLine, NoArgumentsIsBadUsage) {
  auto r = minify({});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("minify --help"), std::string::npos) << r.err;
}

// ---- messages -----------------------------------------------------------------------------

TEST_F(CommandLine, UnexpectedArgumentsAreNamedInTheOrderGiven) {
  // CLI11 alone printed these last-first ("c b").
  auto r = minify({"why", "-o", tmp_.path().string(), "a", "b", "c"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("why: unexpected arguments: b c "), std::string::npos) << r.err;
  r = minify({"deps", "--list", "--zz", "--yy", "/bin/sh"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("deps: unknown options: --zz --yy "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--yy --zz"), std::string::npos) << r.err;
}

TEST_F(CommandLine, WhySaysWhereItLookedAndWhatIsNotFromMinify) {
  // A small output directory from a static-only pack (nothing runs).
  fs::path out = tmp_ / "out";
  auto p = minify({"pack", "--static-only", "--no-verify", "-o", out.string(), "/bin/true"});
  ASSERT_EQ(p.status, 0) << p.err;
  auto r = minify({"why", "-o", out.string(), "/etc/not-shipped"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("/etc/not-shipped is not in the output (" + out.string() + ")"), std::string::npos) << r.err;
  // Put into rootfs/ by hand: there, but without a reason.
  write_file(out / "rootfs/etc/added-by-hand", "x\n");
  r = minify({"why", "-o", out.string(), "/etc/added-by-hand"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("is in " + out.string() + "/rootfs but not in the file set of " + out.string() + "/report.json"),
            std::string::npos)
      << r.err;
  r = minify({"why", "-o", out.string(), "/bin/true"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// ---- pack, image and verify share their run options ---------------------------------------

TEST_F(CommandLine, RunOptionsAreCheckedAlikeByPackImageAndVerify) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"pack", "-o", (tmp_ / "o").string()},
                                       std::vector<std::string>{"image", text_.string(), "-o", (tmp_ / "o.tar").string()},
                                       std::vector<std::string>{"verify", "--rootfs", tmp_.path().string()}}) {
    std::string name = cmd[0];
    auto with = [&](std::vector<std::string> extra) {
      std::vector<std::string> args = cmd;
      args.insert(args.end(), extra.begin(), extra.end());
      if (name != "image") args.push_back("/bin/true");
      return minify(args);
    };
    auto r = with({"--network", "bridge"});
    EXPECT_EQ(r.status, 2) << name << ": " << r.err;
    EXPECT_NE(r.err.find(name + ": --network"), std::string::npos) << name << ": " << r.err;
    r = with({"--timeout", "soon"});
    EXPECT_EQ(r.status, 2) << name << ": " << r.err;
    EXPECT_NE(r.err.find("soon"), std::string::npos) << name << ": " << r.err;
    r = with({"--env", "NOEQUALS"});
    EXPECT_EQ(r.status, 2) << name << ": " << r.err;
    EXPECT_NE(r.err.find("--env `NOEQUALS`"), std::string::npos) << name << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp_ / "o"));
  EXPECT_FALSE(fs::exists(tmp_ / "o.tar"));
}

// ---- pack --help --------------------------------------------------------------------------

TEST_F(CommandLine, PackHelpIsGroupedAndEndsWithThreeExamples) {
  auto r = minify({"pack", "--help"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string& h = r.out;
  size_t last = 0;
  for (const char* group : {"Tracing:", "What to keep:", "Outputs:", "The image's config:", "Verify:"}) {
    size_t at = h.find(std::string("\n") + group + "\n");
    ASSERT_NE(at, std::string::npos) << group << " in\n" << h;
    EXPECT_GT(at, last) << group << " out of order";
    last = at;
  }
  // Every option is in a named group: no catch-all "Options:" list.
  EXPECT_EQ(h.find("\nOptions:\n"), std::string::npos) << h;
  for (const char* opt : {"--static-only", "--keep-package", "--sbom", "--base", "--expect-exit", "--probe", "--user"})
    EXPECT_NE(h.find(opt), std::string::npos) << opt;
  // The examples close the help: a server with a probe, a Go binary with --static-only, an image.
  size_t ex = h.find("Examples:");
  ASSERT_NE(ex, std::string::npos) << h;
  std::istringstream tail(h.substr(ex));
  std::vector<std::string> commands;
  for (std::string line; std::getline(tail, line);)
    if (line.rfind("    minify ", 0) == 0) commands.push_back(line);
  ASSERT_EQ(commands.size(), 3u) << h.substr(ex);
  EXPECT_NE(commands[0].find("--probe http://"), std::string::npos) << commands[0];
  EXPECT_NE(commands[1].find("--static-only"), std::string::npos) << commands[1];
  EXPECT_NE(commands[2].find("minify image "), std::string::npos) << commands[2];
}

// ---- --version ----------------------------------------------------------------------------

std::string pkg_config_version(const std::string& module) {
  auto r = run({"pkg-config", "--modversion", module});
  if (r.status != 0) return {};
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
  return r.out;
}

TEST_F(CommandLine, VersionNamesTheLibrariesBuiltWith) {
  auto r = minify({"--version"});
  ASSERT_EQ(r.status, 0) << r.err;
  // The first line is the project's version, from CMakeLists.txt.
  std::smatch m;
  std::string cmake = read_file(fs::path(MINIFY_SOURCE_DIR) / "CMakeLists.txt");
  ASSERT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(minify VERSION ([0-9.]+))")));
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "minify " + m[1].str());
  if (!have_program("pkg-config")) GTEST_SKIP() << "no pkg-config to compare the library versions with";
  // The headers minify was compiled against are the ones pkg-config describes on this builder.
  for (auto [name, module] : std::vector<std::pair<std::string, std::string>>{
           {"libelf", "libelf"}, {"Capstone", "capstone"}, {"libarchive", "libarchive"}, {"libseccomp", "libseccomp"}}) {
    std::string v = pkg_config_version(module);
    ASSERT_FALSE(v.empty()) << module;
    EXPECT_NE(r.out.find("\n  " + name + " " + v), std::string::npos) << name << " " << v << " in\n" << r.out;
  }
  // libbpf only when minify has the eBPF tracer; then with its major.minor.
  if (auto pos = r.out.find("\n  libbpf "); pos != std::string::npos) {
    std::string v = pkg_config_version("libbpf");
    ASSERT_FALSE(v.empty());
    std::string major_minor = v.substr(0, v.rfind('.'));
    EXPECT_EQ(r.out.compare(pos + 10, major_minor.size(), major_minor), 0) << r.out;
  }
}

// ---- completion and man page --------------------------------------------------------------

// The long options `minify CMD --help` lists: completion and man page must have the same.
std::set<std::string> help_options(const std::string& command) {
  auto r = minify({command, "--help"});
  std::set<std::string> out;
  std::regex opt(R"((^|[ ,])(--[a-z][a-z0-9-]*))");
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    // Option lines start with spaces then '-'; descriptions may mention other options.
    auto first = line.find_first_not_of(' ');
    if (first == std::string::npos || line[first] != '-') continue;
    std::string names = line.substr(first, line.find("  ", first) - first);
    for (std::sregex_iterator it(names.begin(), names.end(), opt), end; it != end; ++it) out.insert((*it)[2]);
  }
  return out;
}

class Generated : public CommandLine {
 protected:
  void SetUp() override {
    CommandLine::SetUp();
    for (const char* what : {"bash", "zsh", "man"}) {
      auto r = minify({"__generate", what});
      ASSERT_EQ(r.status, 0) << what << ": " << r.err;
      write_file(tmp_ / what, r.out);
    }
  }
};

// Completes the words as bash would (the last word is the one under the cursor).
std::string bash_complete(const fs::path& script, const std::vector<std::string>& words) {
  // In the script's directory: a command name is completed together with the files it begins.
  std::string cmd = "cd '" + script.parent_path().string() + "' && source '" + script.string() + "' || exit 9; COMP_WORDS=(";
  for (const auto& w : words) cmd += "'" + w + "' ";
  cmd += "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _minify; printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto r = run({"bash", "--norc", "-c", cmd});
  return r.status == 0 ? r.out : "exit " + std::to_string(r.status) + ": " + r.err;
}

TEST_F(Generated, BashCompletionLoadsAndCompletesFromTheDefinition) {
  auto r = run({"bash", "--norc", "-c", "source '" + (tmp_ / "bash").string() + "' && complete -p minify"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("-F _minify minify"), std::string::npos) << r.out;
  fs::path s = tmp_ / "bash";
  EXPECT_EQ(bash_complete(s, {"minify", "pack", "--static-o"}), "--static-only\n");
  EXPECT_EQ(bash_complete(s, {"minify", "--static-o"}), "--static-only\n");  // pack is the default command
  EXPECT_EQ(bash_complete(s, {"minify", "trace", "--tracer", ""}), "auto\nbpf\nptrace\n");
  EXPECT_EQ(bash_complete(s, {"minify", "ver"}), "verify\n");
  write_file(tmp_ / "verify.conf", "");
  EXPECT_EQ(bash_complete(s, {"minify", "ver"}), "verify\nverify.conf\n");  // or the default command's program
  // Once the program is named, its words are its own: minify offers nothing.
  EXPECT_EQ(bash_complete(s, {"minify", "trace", "--", "ls", "--he"}), "\n");
  EXPECT_EQ(bash_complete(s, {"minify", "-o", "out", "./server", "--st"}), "\n");
  // Every option of every command's --help.
  for (const char* cmd : {"deps", "inspect", "trace", "pack", "why", "image", "verify"}) {
    std::string all = bash_complete(s, {"minify", cmd, "--"});
    for (const auto& o : help_options(cmd)) EXPECT_NE(all.find(o + "\n"), std::string::npos) << cmd << " " << o;
  }
}

TEST_F(Generated, ZshCompletionLoads) {
  if (!have_program("zsh")) GTEST_SKIP() << "zsh is not installed";
  auto r = run({"zsh", "-n", (tmp_ / "zsh").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run({"zsh", "-f", "-c",
           "autoload -Uz compinit && compinit -u -D && source '" + (tmp_ / "zsh").string() +
               "' && print -r -- $_comps[minify] && (( $+functions[_minify_pack] ))"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "_minify\n") << r.err;
  std::string script = read_file(tmp_ / "zsh");
  for (const auto& o : help_options("pack")) EXPECT_NE(script.find(o), std::string::npos) << o;
}

TEST_F(Generated, ManPageHasEveryOptionAndTheExitStatuses) {
  std::string page = read_file(tmp_ / "man");
  EXPECT_NE(page.find(".SH EXIT STATUS"), std::string::npos);
  if (!have_program("groff")) GTEST_SKIP() << "groff is not installed";
  // -ww: every warning; -z: no output. A clean page gives neither.
  auto r = run({"groff", "-man", "-Tutf8", "-ww", "-z", (tmp_ / "man").string()});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  r = run({"groff", "-man", "-Tascii", "-P", "-c", "-P", "-b", "-P", "-u", (tmp_ / "man").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* cmd : {"deps", "inspect", "trace", "pack", "why", "image", "verify"})
    for (const auto& o : help_options(cmd)) EXPECT_NE(r.out.find(o), std::string::npos) << cmd << " " << o;
  EXPECT_NE(r.out.find("EXIT STATUS"), std::string::npos);
}

TEST_F(CommandLine, InstallPutsCompletionAndManPageWhereToolsLook) {
  if (!have_program("cmake")) GTEST_SKIP() << "cmake is not on PATH";
  fs::path build = fs::path(minify_bin()).parent_path();
  if (!fs::exists(build / "cmake_install.cmake")) GTEST_SKIP() << "minify is not in a CMake build tree";
  auto r = run({"cmake", "--install", build.string(), "--prefix", (tmp_ / "prefix").string()});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  fs::path prefix = tmp_ / "prefix";
  EXPECT_TRUE(fs::is_regular_file(prefix / "bin/minify"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "share/bash-completion/completions/minify"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "share/zsh/site-functions/_minify"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "share/man/man1/minify.1"));
  // The installed completion is the one the installed minify generates.
  auto gen = run({(prefix / "bin/minify").string(), "__generate", "bash"});
  EXPECT_EQ(gen.out, read_file(prefix / "share/bash-completion/completions/minify"));
  if (have_program("man")) {
    auto m = run({"man", "-l", (prefix / "share/man/man1/minify.1").string()}, {"MANPAGER=cat", "PAGER=cat"});
    EXPECT_EQ(m.status, 0) << m.err;
    EXPECT_NE(m.out.find("minify"), std::string::npos);
  }
}


// ---- `--` before the program; verify's stored options ------------------------------------

// A server answering every request with 403, stopped by the probe; with a second argument it
// does not serve and exits at once (another command than the one packed).
constexpr const char* kServer = R"(
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc > 2) { puts("not serving"); return 0; }
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(atoi(argv[1]));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr*)&a, sizeof a) != 0 || listen(s, 8) != 0) return 3;
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    char buf[4096];
    (void)read(c, buf, sizeof buf);
    const char* r = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)write(c, r, strlen(r));
    close(c);
  }
}
)";

class RunCommands : public CommandLine {
 protected:
  void SetUp() override {
    CommandLine::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "pack's verify runs the program in a sandbox that needs root";
  }
  std::vector<std::string> traced_command(const fs::path& out) {
    auto j = nlohmann::json::parse(read_file(out / "trace.json"));
    return j.at("command").get<std::vector<std::string>>();
  }
};

TEST_F(RunCommands, PackTakesAnOptionalDashDashBeforeTheProgram) {
  // `minify -o out -- prog -c conf`: the habit from strace, unshare, timeout and minify trace.
  auto with = minify({"-o", (tmp_ / "with").string(), "--no-verify", "--", "/bin/echo", "-c", "conf"});
  ASSERT_EQ(with.status, 0) << with.err;
  auto without = minify({"-o", (tmp_ / "without").string(), "--no-verify", "/bin/echo", "-c", "conf"});
  ASSERT_EQ(without.status, 0) << without.err;
  EXPECT_EQ(traced_command(tmp_ / "with"), traced_command(tmp_ / "without"));
  EXPECT_EQ(traced_command(tmp_ / "with"), (std::vector<std::string>{"/bin/echo", "-c", "conf"}));
  EXPECT_EQ(read_file(tmp_ / "with/run.json"), read_file(tmp_ / "without/run.json"));
  // After the program, a `--` and options are the program's own.
  auto inner = minify({"pack", "-o", (tmp_ / "inner").string(), "--no-verify", "--", "/bin/echo", "--", "-o", "x"});
  ASSERT_EQ(inner.status, 0) << inner.err;
  EXPECT_EQ(traced_command(tmp_ / "inner"), (std::vector<std::string>{"/bin/echo", "--", "-o", "x"}));
}

TEST_F(RunCommands, VerifyTakesAnOptionalDashDashAndNamesWhatItReused) {
  fs::path out = tmp_ / "out";
  auto p = minify({"-o", out.string(), "/bin/true"});
  ASSERT_EQ(p.status, 0) << p.err;
  auto with = minify({"verify", "-o", out.string(), "--", "/bin/true"});
  auto without = minify({"verify", "-o", out.string(), "/bin/true"});
  EXPECT_EQ(with.status, 0) << with.err;
  EXPECT_EQ(without.status, 0) << without.err;
  EXPECT_EQ(with.err, without.err);
  // Nothing given: everything stored is reused, and said so.
  auto stored = minify({"verify", "-o", out.string()});
  EXPECT_EQ(stored.status, 0) << stored.err;
  EXPECT_NE(stored.err.find("minify: verify: reused from " + out.string() + ": the command (/bin/true)"), std::string::npos)
      << stored.err;
  EXPECT_NE(stored.err.find("User 65532:65532"), std::string::npos) << stored.err;
  EXPECT_NE(stored.err.find("the original run to compare with (" + out.string() + "/trace.json)"), std::string::npos)
      << stored.err;
  // --user given replaces the stored one, which is then not named as reused.
  auto as_root = minify({"verify", "-o", out.string(), "--user", "0"});
  EXPECT_EQ(as_root.status, 0) << as_root.err;
  EXPECT_EQ(as_root.err.find("User 65532"), std::string::npos) << as_root.err;
}

// The port a server listened on while traced is in trace.json and EXPOSEd by the runner stage.
TEST_F(RunCommands, PackExposesThePortTheServerListenedOn) {
  ASSERT_EQ(testing::compile_c(tmp_ / "app/server", kServer), "");
  std::string port = std::to_string(20000 + (::getpid() + 7) % 20000);
  fs::path out = tmp_ / "out";
  auto p = minify({"-o", out.string(), "--no-verify", "--timeout", "60s", "--probe", "http://127.0.0.1:" + port + "/",
                   "--", (tmp_ / "app/server").string(), port});
  ASSERT_EQ(p.status, 0) << p.err;
  auto trace = nlohmann::json::parse(read_file(out / "trace.json"));
  EXPECT_EQ(trace.at("listens"), nlohmann::json::parse(R"([{"port": )" + port + R"(, "proto": "tcp"}])"));
  std::string df = read_file(out / "Dockerfile");
  EXPECT_NE(df.find("\nEXPOSE " + port + "/tcp\n"), std::string::npos) << df;
}

TEST_F(RunCommands, VerifyWithAnotherCommandDoesNotCompareTheStoredProbe) {
  ASSERT_EQ(testing::compile_c(tmp_ / "app/server", kServer), "");
  std::string server = (tmp_ / "app/server").string();
  std::string port = std::to_string(20000 + ::getpid() % 20000);
  std::string url = "http://127.0.0.1:" + port + "/";
  fs::path out = tmp_ / "out";
  auto p = minify({"-o", out.string(), "--timeout", "60s", "--probe", url, "--", server, port});
  ASSERT_EQ(p.status, 0) << p.err;
  // The same command: the stored probe is fetched again and answers as it did (403).
  auto same = minify({"verify", "-o", out.string(), "--network", "host", "--timeout", "60s"});
  EXPECT_EQ(same.status, 0) << same.err;
  EXPECT_NE(same.err.find("probe " + url), std::string::npos) << same.err;
  // Another command: the packed run's exit status and probe answers say nothing about it.
  auto other = minify({"verify", "-o", out.string(), "--", server, port, "once"});
  EXPECT_EQ(other.status, 0) << other.err;
  EXPECT_NE(other.err.find("the command differs from the packed one"), std::string::npos) << other.err;
  EXPECT_EQ(other.err.find("403 before"), std::string::npos) << other.err;
  EXPECT_EQ(other.err.find("probe " + url), std::string::npos) << other.err;
  // A probe given replaces the stored one; for a URL the packed run fetched, its answer is expected.
  auto given = minify({"verify", "-o", out.string(), "--network", "host", "--timeout", "60s", "--probe", url});
  EXPECT_EQ(given.status, 0) << given.err;
  EXPECT_EQ(given.err.find("probe " + url), std::string::npos) << given.err;  // not listed as reused
}

}  // namespace
}  // namespace minify
