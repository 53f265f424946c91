// The package options shared by `minify pack` and `minify image` (--keep-package, --with-docs,
// --granularity) and the one summary line about the root's packages.
#include <cstdio>

#include "cli/commands.hpp"

namespace minify::cli {

void add_package_flags(CLI::App* sub, PackageFlags& f) {
  sub->add_option("--keep-package", f.keep, "Also ship every file of this package (dpkg or apk; repeatable)")
      ->allow_extra_args(false)
      ->group(kGroupKeep);
  sub->add_flag("--with-docs", f.with_docs, "With --keep-package or --granularity package: docs, man pages, changelogs too")
      ->group(kGroupKeep);
  sub->add_option("--granularity", f.granularity,
                  "file (default): only the files used; package: a used file ships its whole package; "
                  "module: its whole node_modules/NAME or Python distribution")
      ->check(CLI::IsMember({"file", "package", "module"}))
      ->group(kGroupKeep);
}

PackageSelection package_selection(const PackageFlags& f) {
  PackageSelection s;
  s.keep_packages = f.keep;
  s.with_docs = f.with_docs;
  s.granularity = parse_granularity(f.granularity).value_or(Granularity::File);
  return s;
}

std::string package_summary(const PackageReport& r, double seconds) {
  if (r.kind == PackageDbKind::None) return {};
  uint64_t saved = 0;
  for (const auto& u : r.packages)
    if (!u.kept.empty()) saved += u.dropped_bytes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(saved) / 1048576.0);
  std::snprintf(buf + 32, 32, "%.2f s", seconds);
  return std::to_string(r.contributing()) + " of " + std::to_string(r.packages.size()) + " " +
         std::string(package_db_kind_name(r.kind)) + " packages ship files (" + buf +
         " of theirs left out), " + std::to_string(r.unowned.size()) + " files owned by no package (read in " +
         (buf + 32) + ")";
}

}  // namespace minify::cli
