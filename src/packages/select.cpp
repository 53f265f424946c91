// What the package database adds to a file set (--keep-package, --granularity, the files
// scanners read) and the per-package accounting of the final set. See include/minify/packages.hpp.
//
// Module granularity: Node resolves `require("x")` to node_modules/x (or node_modules/@scope/x)
// and may read any file below it later, so one touched file keeps that directory. A Python
// distribution lists its files in NAME.dist-info/RECORD (PEP 376/627: "path,hash,size" lines,
// relative to the site directory); when no RECORD claims the touched top-level name (Debian's
// dist-packages often have none), its top-level package directory stands in. In the standard
// library (/usr/lib/python3.X) a touched file keeps its top-level package directory.
#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "minify/packages.hpp"
#include "packages/builder.hpp"

namespace minify {

namespace {

// Entries that a run or the analysis asked for, as opposed to ones that only came along.
bool touched(const Entry& e) {
  if (e.generated || e.type == EntryType::Directory) return false;
  return std::any_of(e.reasons.begin(), e.reasons.end(), [](const Reason& r) {
    switch (r.kind) {
      case ReasonKind::SymlinkOnTheWay:
      case ReasonKind::Directory:
      case ReasonKind::Generated:
      case ReasonKind::Package:
      case ReasonKind::Writable:
        return false;
      case ReasonKind::Program:
      case ReasonKind::Needed:
      case ReasonKind::Interpreter:
      case ReasonKind::Exec:
      case ReasonKind::Opened:
      case ReasonKind::Shebang:
      case ReasonKind::Kept:
      case ReasonKind::Implicit:
      case ReasonKind::Dlopen:
      case ReasonKind::Repair:
      case ReasonKind::Evidence:
        return true;
    }
    return true;
  });
}

// Files every scanner reads to name the distribution (Trivy's os analyzers, syft's linux
// release detection): without them a package list cannot be matched to an advisory feed.
constexpr std::array<std::string_view, 4> kReleaseFiles = {"/etc/os-release", "/etc/debian_version",
                                                           "/etc/alpine-release", "/etc/lsb-release"};

// "/usr/share/doc/NAME/copyright", the license file of a Debian package.
bool is_copyright(std::string_view path) {
  constexpr std::string_view doc = "/usr/share/doc/";
  if (!path.starts_with(doc) || !path.ends_with("/copyright")) return false;
  std::string_view mid = path.substr(doc.size(), path.size() - doc.size() - 10);
  return !mid.empty() && mid.find('/') == std::string_view::npos;
}

// A package lists a directory that the root has turned into a symlink (merged-/usr's /bin, /lib):
// from the package's point of view it is still that directory, not a file of its own.
bool is_dir_link(const Root& root, const std::string& path) {
  auto st = root.stat(path, FollowLast::Yes);
  return st && S_ISDIR(st->st_mode);
}

class Selector {
 public:
  Selector(FileSet& set, const Root& root, const PackageDb& db, const PackageSelection& sel, Context* diag)
      : set_(set), root_(root), db_(db), sel_(sel), diag_(diag) {}

  void warn(std::string message) {
    if (diag_) diag_->warn("packages", std::move(message));
  }

  void add(const std::string& path, const std::string& detail, bool recursive = false) {
    auto r = set_.add(root_, path, Reason{ReasonKind::Package, detail}, recursive);
    if (!r && r.error().err != ENOENT) warn(r.error().message());
  }

  void add_package(size_t index, const std::string& detail) {
    if (!done_.insert(index).second) return;
    const Package& p = db_.packages()[index];
    size_t missing = 0;
    for (const auto& f : p.files) {
      if (!sel_.with_docs && is_doc_path(f.path)) continue;
      auto st = root_.stat(f.path, FollowLast::No);
      if (!st) {
        ++missing;
        continue;
      }
      if (S_ISDIR(st->st_mode)) continue;  // a directory comes with the files inside it
      add(f.path, detail);
    }
    if (missing > 0)
      warn("package " + p.name + ": " + std::to_string(missing) + " listed file" +
                              (missing == 1 ? " is" : "s are") + " not in the root");
  }

  void add_release_files() {
    for (auto p : kReleaseFiles)
      if (root_.stat(p, FollowLast::No)) add(std::string(p), "scanners identify the distribution by it");
  }

  void add_module_of(const std::string& path) {
    if (auto n = path.rfind("/node_modules/"); n != std::string::npos) {
      size_t start = n + 14;
      size_t end = path.find('/', start);
      if (end != std::string::npos && path[start] == '@') end = path.find('/', end + 1);
      if (end == std::string::npos) return;  // a file directly in node_modules
      std::string dir = path.substr(0, end);
      if (modules_.insert(dir).second) add(dir, "Node module of " + path, true);
      return;
    }
    for (std::string_view site : {"/site-packages/", "/dist-packages/"}) {
      auto n = path.rfind(site);
      if (n == std::string::npos) continue;
      std::string site_dir = path.substr(0, n + site.size() - 1);
      size_t start = n + site.size();
      size_t end = path.find('/', start);
      std::string top = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (top == "__pycache__" || top.ends_with(".dist-info") || top.ends_with(".egg-info")) return;
      // "six.py" and "six" are both the distribution's top-level name "six".
      std::string name = top.ends_with(".py") ? top.substr(0, top.size() - 3) : top;
      if (!modules_.insert(site_dir + "/" + name).second) return;
      const auto& records = records_of(site_dir);
      if (auto r = records.find(name); r != records.end()) {
        std::set<std::string> source_dirs;
        for (const auto& f : r->second) {
          add(f, "Python distribution of " + path);
          if (f.ends_with(".py") && dirname_of(f) != site_dir) source_dirs.insert(dirname_of(f));
        }
        // The bytecode Debian's py3compile wrote at install time is in no RECORD: the
        // __pycache__ of each of its package directories comes with the distribution, so that it
        // ships whole (colorama/tests/__pycache__ of a colorama whose tests never ran). Not the
        // site directory's own, which holds every top-level module's.
        for (const auto& d : source_dirs) add(d + "/__pycache__", "bytecode of the Python distribution of " + path, true);
        return;
      }
      if (end != std::string::npos) add(site_dir + "/" + top, "Python package of " + path, true);
      return;
    }
    // The standard library: /usr/lib/python3.11/json/decoder.py keeps the package json/.
    for (std::string_view lib : {"/usr/lib/python3.", "/usr/local/lib/python3."}) {
      if (!path.starts_with(lib)) continue;
      size_t version_end = path.find('/', lib.size());
      if (version_end == std::string::npos) return;
      size_t end = path.find('/', version_end + 1);
      if (end == std::string::npos) return;  // a module file directly in the library directory
      std::string top = path.substr(version_end + 1, end - version_end - 1);
      if (top == "__pycache__" || top == "lib-dynload" || top.starts_with("config-")) return;
      std::string dir = path.substr(0, end);
      if (modules_.insert(dir).second) add(dir, "Python standard-library package of " + path, true);
      return;
    }
  }

 private:
  // Top-level name -> files, from every *.dist-info/RECORD in a site directory.
  const std::map<std::string, std::vector<std::string>>& records_of(const std::string& site_dir) {
    auto [it, inserted] = records_.try_emplace(site_dir);
    if (!inserted) return it->second;
    auto names = root_.list_dir(site_dir);
    if (!names) return it->second;
    for (const auto& n : *names) {
      if (!n.ends_with(".dist-info")) continue;
      auto text = root_.read_file(site_dir + "/" + n + "/RECORD");
      if (!text) continue;
      std::vector<std::string> files;
      std::set<std::string> tops;
      size_t pos = 0;
      while (pos < text->size()) {
        size_t nl = text->find('\n', pos);
        if (nl == std::string::npos) nl = text->size();
        std::string line = text->substr(pos, nl - pos);
        pos = nl + 1;
        // Paths with a comma are quoted (csv); cut at the last two commas instead.
        auto c2 = line.rfind(',');
        auto c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : line.rfind(',', c2 - 1);
        if (c1 == std::string::npos) continue;
        std::string rel = line.substr(0, c1);
        if (rel.size() >= 2 && rel.front() == '"' && rel.back() == '"') rel = rel.substr(1, rel.size() - 2);
        if (rel.empty() || rel.front() == '/') continue;
        files.push_back(normalize_path(site_dir + "/" + rel));
        std::string top = rel.substr(0, rel.find('/'));
        if (top.ends_with(".py")) top.resize(top.size() - 3);
        if (top != ".." && !top.ends_with(".dist-info") && top != "__pycache__") tops.insert(top);
      }
      for (const auto& t : tops) {
        auto& v = it->second[t];
        v.insert(v.end(), files.begin(), files.end());
      }
    }
    return it->second;
  }

  FileSet& set_;
  const Root& root_;
  const PackageDb& db_;
  const PackageSelection& sel_;
  Context* diag_;
  std::set<size_t> done_;
  std::set<std::string> modules_;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> records_;
};

}  // namespace

bool is_doc_path(std::string_view path) {
  if (is_copyright(path)) return false;
  for (std::string_view d : {"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/doc-base/",
                             "/usr/share/gtk-doc/"})
    if (path.starts_with(d)) return true;
  std::string_view base = path.substr(path.rfind('/') + 1);
  return base.starts_with("changelog") || base.starts_with("ChangeLog") || base.starts_with("NEWS.Debian");
}

std::string_view granularity_name(Granularity g) {
  switch (g) {
    case Granularity::File: return "file";
    case Granularity::Package: return "package";
    case Granularity::Module: return "module";
  }
  return "?";
}

std::optional<Granularity> parse_granularity(std::string_view name) {
  for (Granularity g : {Granularity::File, Granularity::Package, Granularity::Module})
    if (granularity_name(g) == name) return g;
  return std::nullopt;
}

Result<SelectionResult> apply_package_selection(FileSet& set, const Root& root, PackageDb& db,
                                                const PackageSelection& selection, Context* diag) {
  SelectionResult out;
  size_t before = set.size();
  // A lazy database answers for the paths it indexed. The first index() takes the set and the
  // release files (and what they link to) in one scan; the copyright files added below it has
  // kept aside; only what --keep-package and --granularity add costs another.
  {
    std::vector<std::string> paths;
    for (const auto& [path, e] : set)
      if (e.type != EntryType::Directory) paths.push_back(path);
    for (auto p : kReleaseFiles)
      if (auto r = root.resolve(p)) {
        for (const auto& l : r->links) paths.push_back(l.link);
        paths.push_back(r->path);
      }
    if (auto st = db.index(root, paths); !st) return st.error();
  }
  Selector s(set, root, db, selection, diag);
  for (const auto& name : selection.keep_packages) {
    auto i = db.index_of(name);
    if (!i)
      return bad_input("--keep-package", name,
                       db.kind() == PackageDbKind::None ? "the root has no package database (dpkg or apk)"
                                                        : "no such package in " + db.db_path());
    if (auto st = db.load_files(root, *i); !st) return st.error();
    s.add_package(*i, "--keep-package " + name);
  }
  if (selection.granularity != Granularity::File) {
    std::vector<std::string> paths;
    for (const auto& [path, e] : set)
      if (touched(e)) paths.push_back(path);
    for (const auto& p : paths) {
      if (selection.granularity == Granularity::Module) {
        s.add_module_of(p);
      } else if (auto owner = db.owner_index(p)) {
        s.add_package(*owner, "package " + db.packages()[*owner].name + " of " + p);
      }
    }
  }
  s.add_release_files();
  if (auto st = db.index(root, set); !st) return st.error();
  // The license of every package that ships a file (distroless images carry these too).
  std::set<size_t> contributing;
  for (const auto& [path, e] : set)
    if (e.type != EntryType::Directory && !e.generated)
      if (auto o = db.owner_index(path)) contributing.insert(*o);
  for (size_t i : contributing)
    for (const auto& f : db.packages()[i].files)
      if (is_copyright(f.path) && root.stat(f.path, FollowLast::No))
        s.add(f.path, "license of package " + db.packages()[i].name);
  if (auto st = db.index(root, set); !st) return st.error();
  out.files_added = set.size() - before;
  return out;
}

size_t PackageReport::contributing() const {
  return static_cast<size_t>(std::count_if(packages.begin(), packages.end(), [](const PackageUsage& u) { return !u.kept.empty(); }));
}

PackageReport account_packages(const FileSet& set, const Root& root, PackageDb& db) {
  PackageReport rep;
  rep.kind = db.kind();
  rep.db_path = db.db_path();
  const auto& pkgs = db.packages();
  rep.packages.resize(pkgs.size());
  for (size_t i = 0; i < pkgs.size(); ++i) {
    PackageUsage& u = rep.packages[i];
    u.package = i;
    u.name = pkgs[i].name;
    u.version = pkgs[i].version;
    u.architecture = pkgs[i].architecture;
    for (const auto& f : pkgs[i].files) {
      const Entry* e = set.find(f.path);
      if (!e || db.is_directory(f.path) || e->type == EntryType::Directory) continue;
      if (e->type == EntryType::Symlink && is_dir_link(root, f.path)) continue;
      u.kept.push_back(f.path);
      if (e->type == EntryType::File) u.kept_bytes += e->size;
    }
    // The bytes saved come from the database (see PackageUsage), never from a stat of each file
    // left out: that costs a syscall per file of every package that ships one, and a traced
    // minify (scripts/minify-image) would ship every file it stat'ed by name.
    u.estimated = true;
    uint64_t installed = 0;
    if (auto size = pkgs[i].field(pkgs[i].kind == PackageDbKind::Apk ? "I" : "Installed-Size")) {
      uint64_t n = std::strtoull(std::string(*size).c_str(), nullptr, 10);
      installed = pkgs[i].kind == PackageDbKind::Apk ? n : n * 1024;
    }
    u.dropped_bytes = installed > u.kept_bytes ? installed - u.kept_bytes : 0;
    if (u.kept.empty()) continue;
    // The files left out are those with a checksum (dpkg's md5sums and Conffiles, apk's Z:):
    // the list alone does not tell a directory without entries of its own (/boot) from a file.
    // add_package_metadata() loads the same checksums next; a damaged md5sums is its error.
    (void)db.load_digests(root, i);
    std::set<std::string, std::less<>> conffiles;  // their paths as listed
    if (auto value = pkgs[i].field("Conffiles"))
      for (const auto& c : conffile_lines(*value))
        if (!c.obsolete) conffiles.emplace(c.path);
    for (const auto& f : pkgs[i].files)
      if ((!f.digest.empty() || conffiles.contains(f.listed)) && !set.find(f.path) && !db.is_directory(f.path))
        u.dropped.push_back(f.path);
  }
  for (auto& u : rep.packages) {
    std::sort(u.dropped.begin(), u.dropped.end());
    u.dropped.erase(std::unique(u.dropped.begin(), u.dropped.end()), u.dropped.end());
    std::sort(u.kept.begin(), u.kept.end());
    u.kept.erase(std::unique(u.kept.begin(), u.kept.end()), u.kept.end());
    if (u.kept.empty()) rep.dropped_entirely.push_back(u.name);
  }
  for (const auto& [path, e] : set)
    if (e.type != EntryType::Directory && !e.generated && !db.owner_index(path)) rep.unowned.push_back(path);
  return rep;
}

}  // namespace minify
