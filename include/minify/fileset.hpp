// The FileSet: every path that goes into the minimal root, each with the reasons it is there.
// analyze() and trace() results are turned into add() calls; the writers in pack.hpp read it.
// Entries are keyed by their absolute path inside the output root and iterate in byte order of
// that path, so a parent directory always comes before its children and every writer is
// deterministic. Paths are taken from a Root (rootfs.hpp), never from the host directly: every
// symlink crossed on the way to a file is kept as a symlink entry, component by component, and
// every directory on the way is kept with its mode.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

// Why an entry is in. The detail names who asked for it ("needed by /usr/bin/curl").
enum class ReasonKind {
  Program,          // the program being packed
  Needed,           // DT_NEEDED of another object
  Interpreter,      // PT_INTERP of an object
  Exec,             // exec'd during the trace
  Opened,           // opened during the trace
  Shebang,          // a "#!" interpreter
  Kept,             // --keep
  Implicit,         // something every program of its kind needs (the loader's cache, ...)
  SymlinkOnTheWay,  // a symlink crossed on the way to another entry
  Directory,        // a directory on the way to another entry
  Dlopen,           // a dlopen() argument found in the code
  Generated,        // content made by minify (/etc/passwd of a scratch image, a new ld.so.cache)
  Package,          // pulled in through the package database (--keep-package, --granularity,
                    // /etc/os-release and copyright files scanners read)
  Repair,           // verify's minimal run could not find it; the source root has it
  Evidence,         // the trace proves it exists and matters (mkdir got EEXIST, rmdir ENOTEMPTY)
  Writable,         // a directory the program wrote into: made writable for the image's user
};

std::string_view reason_kind_name(ReasonKind kind);  // "needed", "symlink-on-the-way", ...
std::optional<ReasonKind> parse_reason_kind(std::string_view name);

struct Reason {
  ReasonKind kind = ReasonKind::Kept;
  std::string detail;
  bool operator==(const Reason&) const = default;
};

enum class EntryType { File, Symlink, Directory };
std::string_view entry_type_name(EntryType type);  // "file", "symlink", "directory"

struct Entry {
  std::string path;  // absolute path inside the output root, normalized
  EntryType type = EntryType::File;
  mode_t mode = 0;           // permission bits with setuid/setgid/sticky (07777)
  // The owner as the source root has it (lstat), written into tar and OCI layers; 0:0 for
  // entries made by minify. The rootfs writer applies it only when asked (RootfsOptions).
  uid_t uid = 0;
  gid_t gid = 0;
  // The modification time as the source root has it (lstat: a symlink's own), taken at add()
  // time like the owner; the epoch (0) for entries made by minify. The writers keep it, clamped
  // to SOURCE_DATE_EPOCH when that is set (entry_mtime() in pack.hpp): Python accepts a .pyc
  // only while its .py keeps the mtime recorded in it, and make-like checks compare them too.
  struct timespec mtime {};
  uint64_t size = 0;         // regular files: bytes at add() time; otherwise 0
  std::string link_target;   // symlinks: the target as written
  // Regular files and directories made by minify: the content to write (files). Entries
  // without it are read from the Root at the same path when written.
  bool generated = false;
  std::string content;
  // Regular files: the paths the file was asked for by (through symlinks), e.g. the soname
  // "/usr/lib/x86_64-linux-gnu/libssl.so.3" for libssl.so.3.0.11. The Dockerfile writer copies
  // a file under these names, since COPY dereferences links. Sorted, unique.
  std::vector<std::string> names;
  std::vector<Reason> reasons;
  // Directories added recursively: everything under it in the source is in the set (nothing
  // excluded or skipped since), so a writer may copy the directory as a whole.
  bool complete_tree = false;
};

// What add() did with a path. Expected outcomes, not errors.
enum class AddOutcome {
  Added,        // new entry (or new reason on an existing one)
  Excluded,     // the path or its target is excluded (/proc, /sys, /dev, --exclude, output dir)
  Unsupported,  // a socket, FIFO or device node: not something an image can carry
};

// A file the trace saw that is left out: the program found it by listing its directory and
// only stat'ed it (find, du and other walkers look at every file; they need none of them).
struct Walked {
  std::string path;
  std::string listed;  // the directory whose entries the program read
  uint64_t size = 0;   // bytes on the builder
  bool operator==(const Walked&) const = default;
};

struct Totals {
  uint64_t files = 0;
  uint64_t symlinks = 0;
  uint64_t directories = 0;
  uint64_t bytes = 0;  // sum of regular file sizes
};

// Matches an absolute path against a glob with fnmatch(3) FNM_PATHNAME semantics, plus "**"
// as a whole component matching zero or more components. A pattern without a leading "/"
// matches at any depth, as in .gitignore: "*.pyc" is "/**/*.pyc".
bool glob_match(std::string_view pattern, std::string_view path);

class FileSet {
 public:
  using Map = std::map<std::string, Entry>;

  // Adds `path` (inside `root`) with `reason`: the final file or directory, every symlink
  // crossed on the way as a symlink entry, and every parent directory with its real mode.
  // A directory is added empty unless `recursive`, in which case everything under it is added
  // (symlinks inside it are kept as symlinks and their targets added too).
  Result<AddOutcome> add(const Root& root, std::string_view path, const Reason& reason, bool recursive = false);
  // --keep PATH|GLOB: a plain path is added recursively; a glob is expanded inside the root and
  // each match added recursively. Returns how many paths matched (0 is not an error).
  Result<size_t> keep(const Root& root, std::string_view path_or_glob, const Reason& reason);

  // Entries made by minify. Parent directories that are not in the set yet are added with mode
  // 0755. Replaces an existing entry at the same path.
  Status add_generated(std::string_view path, std::string content, mode_t mode, const Reason& reason);
  Status add_directory(std::string_view path, mode_t mode, const Reason& reason);
  Status add_symlink(std::string_view path, std::string target, const Reason& reason);

  // --exclude GLOB: removes matching entries (and everything under a matching directory) now
  // and keeps later add() calls from adding them. Returns how many entries were removed.
  size_t exclude(std::string_view glob);
  // Excludes a path and everything under it (the output directory when it lies inside the root).
  size_t exclude_path(std::string_view path);
  // Is this path excluded (by the fixed /proc, /sys, /dev rule, a glob, an excluded path or a
  // withholding rule)?
  bool is_excluded(std::string_view path) const;
  // The same, withholding rules aside: what --exclude, the fixed rule or an excluded path leave out.
  bool matches_exclude(std::string_view path) const;

  // Withholding: paths that are never shipped unless the user names them exactly (secrets, the
  // builder's identity). A rule is a glob as for exclude(); unlike an exclusion it keeps its
  // reason, and every path add() refused because of it is remembered (withheld()) for
  // report.json and `minify why`. allow() lifts the rules for a path and everything under it
  // (--keep PATH, literally).
  void withhold(std::string_view glob, std::string reason);
  void allow(std::string_view path);
  // The reason `path` is withheld, if a rule covers it and allow() does not.
  std::optional<std::string> withheld_reason(std::string_view path) const;
  // Paths refused by a withholding rule, with the reason; sorted.
  const std::map<std::string, std::string>& withheld() const { return withheld_; }
  void note_withheld(std::string path, std::string reason) { withheld_.emplace(std::move(path), std::move(reason)); }

  // Records a file left out as walked, not used (report.json "walked", `minify why`). A later
  // add() of the path (--keep, a repair round) takes it off the list.
  void note_walked(Walked w);
  const std::map<std::string, Walked>& walked() const { return walked_; }

  // Replaces or inserts an entry as is (report.json reader, tests). `entry.path` is normalized.
  void put(Entry entry);
  bool remove(std::string_view path);

  const Entry* find(std::string_view path) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  Totals totals() const;

  // Sorted by path (byte order): parents first.
  Map::const_iterator begin() const { return entries_.begin(); }
  Map::const_iterator end() const { return entries_.end(); }

 private:
  Status add_parents(const Root* root, const std::string& path, const std::string& child);
  // Adds everything under `dir`; true when nothing was left out.
  Result<bool> add_tree(const Root& root, const std::string& dir, const Reason& reason, int depth);
  size_t erase_excluded();
  void add_reason(Entry& e, const Reason& reason);

  // True when `path` is withheld (and records it).
  bool withhold_check(const std::string& path);

  Map entries_;
  std::map<std::string, Walked> walked_;
  std::vector<std::string> exclude_globs_;
  std::vector<std::string> exclude_paths_;
  std::vector<std::pair<std::string, std::string>> withhold_rules_;  // glob, reason
  std::vector<std::string> allowed_;
  std::map<std::string, std::string> withheld_;
};

// minify why PATH: explains why `path` is in the set. A path that reaches an entry through
// symlinks in the set is followed ("/lib64/ld-linux-x86-64.so.2" -> "/usr/lib64/..."). Returns
// nullopt when the path is not in the set. Lines are "PATH: KIND DETAIL" and "PATH -> TARGET".
// A file left out as walked is explained as such ("PATH: walked, not used: ...").
std::optional<std::string> explain(const FileSet& set, std::string_view path);

struct PackageReport;  // packages.hpp

// report.json: every entry with its type, mode, owner, mtime, size, link target, names, reasons and, when
// `with_sha256` and a root is given, the sha256 of its content. With `packages`, each entry names
// its package and a "packages" section gives per package the kept and dropped files and the bytes
// saved, the packages dropped entirely and the files no package owns. With `times`, a "times"
// object gives the seconds each phase took: the one part of the report two runs do not share.
//
// How the runner stage of the Dockerfile meets one runtime need (pack's plan_runner()): the
// base provides it, the container runtime does, or the builder's files are copied.
struct RunnerNeed {
  std::string need;    // "ca-certificates", "zoneinfo", "user-database", "nsswitch", ...
  std::string met_by;  // "provided by the base", "provided by the container runtime", "copied"
  std::string detail;  // what the base has, or why something is copied anyway
  std::vector<std::string> not_copied;  // entries of the set the runner stage leaves out
  std::vector<std::string> copied;      // entries it copies for this need
};

// With `runner_needs`, a "runner" section: the base and how each need is met.
struct ReportOptions {
  bool with_sha256 = false;
  const PackageReport* packages = nullptr;
  const std::vector<std::pair<std::string, double>>* times = nullptr;  // {"trace", 0.21}, ...
  const std::vector<RunnerNeed>* runner_needs = nullptr;
  std::string runner_base = {};  // "gcr.io/distroless/static-debian12:nonroot@sha256:..."
  std::string policy_json = {};  // --policy: the runtime policy as JSON text (policy.hpp's to_json)
};
Result<std::string> report_json(const FileSet& set, const Root* root, const ReportOptions& options = {});
// Writes report_json() to `out_file` through a temporary file and rename.
Status write_report(const FileSet& set, const Root* root, const std::string& out_file,
                    const ReportOptions& options = {});
// Reads a report back into a FileSet (generated contents are not in the report).
Result<FileSet> parse_report(std::string_view json_text, std::string_view name = "report.json");
Result<FileSet> read_report(const std::string& file);

}  // namespace minify
