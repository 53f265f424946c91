// Shared test helpers: per-test temporary directories, compiling C fixtures with the system
// compiler (no checked-in binaries, STYLE.md section 6) and running commands with captured output.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace minify::testing {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed with everything in it on destruction
// (kept when MINIFY_KEEP_TEMP is set, for debugging).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

struct RunResult {
  int status = -1;  // exit code, or 128+signal
  std::string out;
  std::string err;
};

// Runs argv (argv[0] looked up in PATH) with stdin from /dev/null, capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

// Is this program on PATH?
bool have_program(const std::string& name);

// Compiles C `source` into `out` with `compiler` ("cc" by default) and extra arguments, e.g.
// {"-shared", "-Wl,-soname,liba.so"}. Returns the compiler's stderr on failure, "" on success.
std::string compile_c(const fs::path& out, const std::string& source, const std::vector<std::string>& args = {},
                      const std::string& compiler = "cc");

// Writes a file, creating parent directories.
void write_file(const fs::path& path, const std::string& contents);
std::string read_file(const fs::path& path);

// The built minify executable (MINIFY_BIN, set by CMake).
std::string minify_bin();

}  // namespace minify::testing
