// Private to src/packages: the state a PackageDb keeps about its file lists (canonical paths of
// listed directories, dpkg diversions, what index() has scanned) and the builder that reads and
// indexes them. db.cpp parses the databases; lists.cpp canonicalizes listed paths, reads dpkg's
// info/*.list files and scans them for the paths a run asks about.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "minify/packages.hpp"

namespace minify {

struct PackageDb::Lists {
  bool lazy = false;
  // Listed directory (normalized) -> canonical. References stay valid: node-based map.
  std::unordered_map<std::string, std::string> parents;
  std::string last_parent, last_resolved;  // lists are grouped by directory
  // Per canonical directory whose children resolve_dir() looks at: past a few lookups, one
  // listing says which children are symlinks (the others need no stat).
  struct Children {
    unsigned looked_up = 0;
    enum { Unlisted, Listed, Unlistable } state = Unlisted;
    std::unordered_set<std::string, Hash, std::equal_to<>> links;  // and entries of unknown type
  };
  std::unordered_map<std::string, Children, Hash, std::equal_to<>> children;
  // /var/lib/dpkg/diversions: from -> (to, diverting package).
  std::unordered_map<std::string, std::pair<std::string, std::string>, Hash, std::equal_to<>> diversions;
  // Lazy: the paths index() was given.
  std::unordered_set<std::string, Hash, std::equal_to<>> indexed;
  // Lazy: listed paths (normalized, diversions applied) and listed directories whose basename is
  // one the first scan was told to keep ("copyright": every minimal root ships the license of
  // each contributing package, known only once the owners are), by basename. A later index() of
  // such a path needs no second scan. Only packages unloaded at that scan are in here; loaded
  // ones are in by_path_ and dirs_.
  struct Listed {
    size_t package = 0;
    std::string path;
    std::string canonical;  // computed on first use
  };
  std::unordered_map<std::string, std::vector<Listed>, Hash, std::equal_to<>> kept_files;
  std::unordered_map<std::string, std::vector<std::string>, Hash, std::equal_to<>> kept_dirs;
  bool scanned = false;  // a scan has run: kept_* are final
};

// Reads files and fills the lookup tables of one PackageDb; a friend of PackageDb.
class PackageDbBuilder {
 public:
  PackageDbBuilder(const Root& root, PackageDb& db) : root_(root), db_(db), lists_(*db.lists_) {}

  Status read_dpkg_status(const std::string& path);
  Status read_status_d(const std::string& dir);
  void read_diversions();
  // Full databases: every info/KEY.list.
  Status read_dpkg_lists();
  // Canonical paths of a package's files into by_path_ (first owner wins) and dirs_; marks it loaded.
  void index_package(size_t i);
  // Lazy databases.
  Status load_files(size_t i);
  Status index(const std::vector<std::string>& paths);

  static Result<std::vector<PackageFile>> parse_md5sums(std::string_view text, const std::string& name);

 private:
  // The listed path with its parent directory resolved inside the root.
  std::string canonical(std::string_view listed);
  // The canonical path of a listed (normalized) directory, memoized.
  const std::string& resolve_dir(const std::string& dir);
  // The path a package's listed path has on disk: a diversion's target for any package but the
  // diverting one.
  std::string_view diverted(std::string_view listed, const Package& p) const;
  // Could `name` in the canonical directory `dir` be a symlink?
  bool may_be_link(const std::string& dir, std::string_view name);
  // Calls on_line(path) for each path info/KEY.list (or info/NAME.list, dpkg before 1.16) lists,
  // trimmed, streamed through one buffer; false when the package has no list. (Defined and used
  // in lists.cpp only.)
  template <typename F>
  Result<bool> stream_list(const Package& p, F&& on_line);
  // The whole list into p.files (empty when there is none).
  Status read_files(Package& p);
  // One pass over the lists of every package not loaded yet, for `queries` (canonical paths).
  Status scan(const std::vector<std::string>& queries);
  // index() of a path whose basename the first scan kept.
  void index_kept(const std::string& path);

  const Root& root_;
  PackageDb& db_;
  PackageDb::Lists& lists_;
  UniqueFd info_;  // /var/lib/dpkg/info, opened by read_list on first use
  bool info_missing_ = false;
  // One buffer for every list, a chunk at a time: its pages are touched once, and a 4 MB list
  // (google-cloud-cli's) does not grow it.
  std::string buf_;
};

// The lines of a dpkg Conffiles value (" /etc/path md5 [obsolete]"), blank ones skipped: each
// as given, with the path it names and whether dpkg marked it obsolete. Views into `value`.
struct ConffileLine {
  std::string_view line, path;
  bool obsolete = false;
};
std::vector<ConffileLine> conffile_lines(std::string_view value);

}  // namespace minify
