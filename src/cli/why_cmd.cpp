// `minify why PATH`: why a file is in an output, from its report.json.
#include <sys/stat.h>

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
              // A file put into rootfs/ by hand after the pack is there without a reason.
              std::string inner = *path;
              if (inner.empty() || inner[0] != '/') inner.insert(0, "/");
              struct stat st;
              if (::lstat((*dir + "/rootfs" + inner).c_str(), &st) == 0)
                std::cerr << "minify: " << *path << " is in " << *dir << "/rootfs but not in the file set of " << *dir
                          << "/report.json: it was not put there by minify\n";
              else
                std::cerr << "minify: " << *path << " is not in the output (" << *dir << ")\n";
              return kExitMissing;
            }
            std::cout << *text;
            if (!text->empty() && text->back() != '\n') std::cout << "\n";
            return kExitOk;
          }};
}

}  // namespace minify::cli
