// minify's command line: parses options with CLI11, runs one subcommand, maps the outcome to an
// exit code. The work itself lives in the core library.
#include <unistd.h>

#include <iostream>
#include <vector>

#include "cli/commands.hpp"

namespace minify::cli {

void print_error(const std::string& message) { std::cerr << "minify: error: " << message << "\n"; }
void print_warning(const std::string& message) { std::cerr << "minify: warning: " << message << "\n"; }

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
  };

  try {
    app.parse(argc, argv);
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
