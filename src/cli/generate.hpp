// Shell completion (bash, zsh) and the man page minify(1), generated from the CLI11 definition of
// the commands, so that they list exactly the options `--help` lists. The build runs
// `minify __generate bash|zsh|man` and `cmake --install` installs the results.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

namespace minify::cli {

// The hidden command main.cpp answers before parsing: `minify __generate bash|zsh|man`.
inline constexpr const char* kGenerateCommand = "__generate";

// The exit statuses every command keeps, as "code: meaning" lines; the man page's EXIT STATUS
// and the top-level --help footer print them (README's table says the same).
inline constexpr std::string_view kExitStatusLines[] = {
    "0: success",
    "1: something needed is missing (each named on stderr, with who needed it), or the check failed "
    "(verify, inspect --require-static)",
    "2: bad input: a missing file, a file that is not ELF or a #! script, a corrupt archive, a bad option or argument",
    "minify trace exits with the traced program's status instead (128+N when it died of signal N; 126 when it "
    "cannot be run, 127 when it is not found), as timeout(1) and strace(1) do",
};

std::string bash_completion(const CLI::App& app);
std::string zsh_completion(const CLI::App& app);
// `version` goes to the footer (.TH); `app` must be the top-level app.
std::string man_page(const CLI::App& app, const std::string& version);

}  // namespace minify::cli
