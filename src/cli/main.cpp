// minify's command line: parses options with CLI11, runs one subcommand, maps the outcome to an
// exit code. The work itself lives in the core library.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <vector>

#include "cli/commands.hpp"

namespace minify::cli {

void print_error(const std::string& message) { std::cerr << "minify: error: " << message << "\n"; }
void print_warning(const std::string& message) { std::cerr << "minify: warning: " << message << "\n"; }

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return sys_error("write", path);
  return Ok{};
}

}  // namespace minify::cli

int main(int argc, char** argv) {
  using namespace minify::cli;
  CLI::App app{"minify: ship a program with only what it needs at run time"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "minify 0.1.0");

  std::vector<Command> commands = {
      add_deps_command(app),
      add_inspect_command(app),
      add_trace_command(app),
      add_pack_command(app),
      add_why_command(app),
      add_image_command(app),
      add_verify_command(app),
  };

  // pack is the default command: `minify ./server` means `minify pack ./server`.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] != "--help" && args[0] != "-h" && args[0] != "--version" &&
      std::none_of(commands.begin(), commands.end(), [&](const Command& c) { return c.app->get_name() == args[0]; }))
    args.insert(args.begin(), "pack");

  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last-first
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error(e.what());
    return kExitBadInput;
  }
  for (auto& c : commands)
    if (c.app->parsed()) return c.run();
  return kExitBadInput;
}
