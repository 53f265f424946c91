// minify's command line: parses options with CLI11, runs one subcommand, maps the outcome to an
// exit code. The work itself lives in the core library.
#include <algorithm>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "minify/sandbox.hpp"

int main(int argc, char** argv) {
  using namespace minify::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  // The sandbox launcher (sandbox.hpp) re-executes minify; it is not a command for people.
  if (!args.empty() && args[0] == kSandboxExecCommand)
    return minify::sandbox_exec_main(std::vector<std::string>(args.begin() + 1, args.end()));

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
