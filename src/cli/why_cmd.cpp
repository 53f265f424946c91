// `minify why PATH`: why a file is in an output, from its report.json.
#include <iostream>

#include "cli/commands.hpp"

namespace minify::cli {

Command add_why_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>("minify-out");
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("why", "Why a file is in minify's output");
  sub->add_option("-o,--output", *dir, "The output directory of the pack (default minify-out)");
  sub->add_option("path", *path, "A path inside the minimal root")->required();
  return {sub, [dir, path] {
            auto set = read_report(*dir + "/report.json");
            if (!set) {
              print_error(set.error().message());
              return kExitBadInput;
            }
            auto text = explain(*set, *path);
            if (!text) {
              std::cerr << "minify: " << *path << " is not in " << *dir << "\n";
              return kExitMissing;
            }
            std::cout << *text;
            if (!text->empty() && text->back() != '\n') std::cout << "\n";
            return kExitOk;
          }};
}

}  // namespace minify::cli
