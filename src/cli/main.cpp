// minify's command line: parses options with CLI11, runs one subcommand, maps the outcome to an
// exit code. The work itself lives in the core library.
#include <algorithm>
#include <cctype>
#include <memory>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/generate.hpp"
#include "minify/sandbox.hpp"
#include "minify/version.hpp"

#ifndef MINIFY_VERSION
#error "MINIFY_VERSION comes from the project version in CMakeLists.txt"
#endif

namespace {

using namespace minify;
using namespace minify::cli;

// `minify --version`: the version, then each library with the version of the headers minify was
// compiled against, and the loaded one when it differs (a library upgraded since the build).
std::string version_text() {
  std::vector<LibraryVersion> libs = {libelf_version(), capstone_version(), libarchive_version(), libseccomp_version()};
  if (auto bpf = libbpf_version()) libs.push_back(*bpf);
  std::string out = "minify " MINIFY_VERSION "\nbuilt with:";
  for (const auto& l : libs) {
    out += "\n  " + l.name + " " + l.built;
    std::string running = l.running;
    if (!running.empty() && running[0] == 'v') running.erase(0, 1);  // libbpf says "v1.1"
    if (!running.empty() && !l.built.starts_with(running)) out += " (running " + running + ")";
    if (!l.note.empty()) out += " (" + l.note + ")";
  }
  return out;
}

std::string top_footer() {
  std::string f =
      "Without a command, minify runs pack: minify [OPTIONS] [--] PROGRAM [ARGS...].\n"
      "`minify COMMAND --help` lists a command's options.\n\nExit status:";
  for (std::string_view line : kExitStatusLines) f += "\n  " + std::string(line);
  return f;
}

// "Usage: minify pack [OPTIONS] [--] PROGRAM [ARGS...]" for the commands whose last positional
// takes a program and its words (CLI11 would print "[program...]").
class UsageFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    auto positionals = app->get_options([](const CLI::Option* o) { return o->get_positional(); });
    if (!app->get_positionals_at_end() || positionals.empty() || positionals.back()->get_items_expected_max() <= 1)
      return CLI::Formatter::make_usage(app, std::move(name));
    std::string program = positionals.back()->get_name(true);
    std::transform(program.begin(), program.end(), program.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string words = "[--] " + program + " [ARGS...]";
    return "Usage: " + name + " [OPTIONS] " + (positionals.back()->get_required() ? words : "[" + words + "]") + "\n";
  }
};

// `minify __generate bash|zsh|man` (the build runs it; generate.hpp).
int generate(const CLI::App& app, const std::vector<std::string>& args) {
  std::string what = args.size() == 2 ? args[1] : "";
  if (what == "bash") std::cout << bash_completion(app);
  else if (what == "zsh") std::cout << zsh_completion(app);
  else if (what == "man") std::cout << man_page(app, MINIFY_VERSION);
  else {
    print_error(std::string(kGenerateCommand) + ": expected one of bash, zsh, man");
    return kExitBadInput;
  }
  std::cout.flush();
  return std::cout ? kExitOk : kExitMissing;
}

// A parse error as one line naming the command. Arguments CLI11 could not place are named first,
// in the order given: they are usually the cause (an unknown option leaves a required value unset),
// and CLI11's own message lists them last-first.
int report_parse_error(const CLI::App& app, const std::vector<Command>& commands, const CLI::ParseError& e) {
  std::string cmd;
  for (const auto& c : commands)
    if (c.app->parsed()) cmd = c.app->get_name();
  std::string help = cmd.empty() ? "minify --help" : "minify " + cmd + " --help";
  std::vector<std::string> left;
  for (auto& a : app.remaining(true))
    if (a != "--") left.push_back(a);
  std::string where = cmd.empty() ? "" : cmd + ": ";
  if (!left.empty()) {
    bool options = std::all_of(left.begin(), left.end(), [](const std::string& a) { return a.size() > 1 && a[0] == '-'; });
    std::string words;
    for (const auto& a : left) words += (words.empty() ? "" : " ") + a;
    std::string what = options ? (left.size() == 1 ? "unknown option" : "unknown options")
                               : (left.size() == 1 ? "unexpected argument" : "unexpected arguments");
    print_error(where + what + ": " + words + " (`" + help + "` lists what it takes)");
  } else {
    std::string msg = e.what();
    if (!msg.empty() && msg[0] >= 'A' && msg[0] <= 'Z' && !(msg.size() > 1 && msg[1] >= 'A' && msg[1] <= 'Z'))
      msg[0] = static_cast<char>(msg[0] - 'A' + 'a');
    print_error(where + msg + " (see `" + help + "`)");
  }
  return kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The sandbox launcher (sandbox.hpp) re-executes minify; it is not a command for people.
  if (!args.empty() && args[0] == kSandboxExecCommand)
    return minify::sandbox_exec_main(std::vector<std::string>(args.begin() + 1, args.end()));

  CLI::App app{"minify: ship a program with only what it needs at run time", "minify"};
  app.formatter(std::make_shared<UsageFormatter>());  // subcommands take the parent's formatter
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text, "Print the version and the libraries minify was built with");

  std::vector<Command> commands = {
      add_deps_command(app),
      add_inspect_command(app),
      add_trace_command(app),
      add_pack_command(app),
      add_why_command(app),
      add_image_command(app),
      add_verify_command(app),
  };
  app.footer(top_footer());  // after the commands: CLI11 copies a parent's footer into new subcommands
  if (!args.empty() && args[0] == kGenerateCommand) return generate(app, args);
  if (args.empty()) {
    print_error("no program or command given (usage: minify [pack] [OPTIONS] [--] PROGRAM [ARGS...]; `minify --help` lists the commands)");
    return kExitBadInput;
  }

  // pack is the default command: `minify ./server` means `minify pack ./server`.
  if (args[0] != "--help" && args[0] != "-h" && args[0] != "--version" &&
      std::none_of(commands.begin(), commands.end(), [&](const Command& c) { return c.app->get_name() == args[0]; }))
    args.insert(args.begin(), "pack");

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes the arguments last-first
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, commands, e);
  }
  for (auto& c : commands)
    if (c.app->parsed()) return c.run();
  return kExitBadInput;
}
