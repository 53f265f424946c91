// Reading a root's package database (see include/minify/packages.hpp).
//
// dpkg (deb-control(5), dpkg-query(1)): /var/lib/dpkg/status is blank-line separated stanzas of
// "Field: value" lines, continuation lines starting with a space or tab. A package's files are
// in info/KEY.list, one absolute path a line, KEY being "NAME:ARCH" for Multi-Arch: same packages
// and "NAME" otherwise; info/KEY.md5sums has "md5  path-without-leading-slash" for its regular
// files (not conffiles). Only packages whose Status state has files on disk count: "not-installed"
// and "config-files" do not. Distroless images have no status file but /var/lib/dpkg/status.d/,
// one stanza per file, with NAME.md5sums beside it as the only file list.
//
// apk (https://wiki.alpinelinux.org/wiki/Apk_spec, "Installed Database"): /lib/apk/db/installed
// is blank-line separated records of "K:value" lines; P name, V version, A arch, o origin,
// C checksum; F starts a directory (relative to /), R a file in the last F, Z that file's
// checksum, M and a their ACLs.
//
// Every listed path is canonicalized with its parent directory resolved inside the root, so
// merged-/usr's /lib -> usr/lib maps the listed /lib/x/libc.so.6 to /usr/lib/x/libc.so.6. The
// last component is not followed: a listed symlink stays that symlink, as in a FileSet.
#include <algorithm>

#include "minify/packages.hpp"

namespace minify {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits text into lines without their "\n"; a last line without one counts.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

Error parse_error(std::string_view name, size_t line, std::string what) {
  return bad_input("parse", std::string(name), "line " + std::to_string(line) + ": " + std::move(what));
}

// Fills name, version, architecture, source from the fields of a dpkg stanza.
Status finish_dpkg(Package& p, std::string_view name, size_t first_line) {
  for (const auto& f : p.fields) {
    if (f.name == "Package") p.name = std::string(trim(f.value));
    else if (f.name == "Version") p.version = std::string(trim(f.value));
    else if (f.name == "Architecture") p.architecture = std::string(trim(f.value));
    else if (f.name == "Source") p.source = std::string(trim(f.value));
  }
  if (p.name.empty()) return parse_error(name, first_line, "stanza without a Package field");
  p.source_version = p.version;
  if (auto open = p.source.find('('); open != std::string::npos) {
    auto close = p.source.find(')', open);
    p.source_version = std::string(trim(std::string_view(p.source).substr(open + 1, close == std::string::npos ? std::string::npos : close - open - 1)));
    p.source = std::string(trim(std::string_view(p.source).substr(0, open)));
  }
  if (p.source.empty()) p.source = p.name;
  auto ma = p.field("Multi-Arch");
  p.key = ma && trim(*ma) == "same" && !p.architecture.empty() ? p.name + ":" + p.architecture : p.name;
  return Ok{};
}

// dpkg's "want flag status": files are on disk unless the package is gone or only its
// conffiles remain. A stanza without Status (distroless status.d) is installed.
bool dpkg_has_files(const Package& p) {
  auto st = p.field("Status");
  if (!st) return true;
  std::string_view s = trim(*st);
  auto sp = s.rfind(' ');
  std::string_view state = sp == std::string_view::npos ? s : s.substr(sp + 1);
  return state != "not-installed" && state != "config-files";
}

}  // namespace

std::string_view package_db_kind_name(PackageDbKind kind) {
  switch (kind) {
    case PackageDbKind::None: return "none";
    case PackageDbKind::Dpkg: return "dpkg";
    case PackageDbKind::Apk: return "apk";
  }
  return "?";
}

std::optional<std::string_view> Package::field(std::string_view field_name) const {
  for (const auto& f : fields)
    if (f.name == field_name) return std::string_view(f.value);
  return std::nullopt;
}

Result<std::vector<Package>> PackageDb::parse_dpkg_status(std::string_view text, std::string_view name) {
  std::vector<Package> out;
  auto lines = split_lines(text);
  Package cur;
  size_t first = 0;
  std::string stanza;
  auto flush = [&]() -> Status {
    if (cur.fields.empty()) return Ok{};
    cur.kind = PackageDbKind::Dpkg;
    cur.stanza = std::move(stanza);
    if (auto st = finish_dpkg(cur, name, first); !st) return st;
    out.push_back(std::move(cur));
    cur = Package{};
    stanza.clear();
    return Ok{};
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (trim(l).empty()) {
      if (auto st = flush(); !st) return st.error();
      continue;
    }
    if (l.front() == ' ' || l.front() == '\t') {
      if (cur.fields.empty()) return parse_error(name, i + 1, "continuation line outside a field");
      cur.fields.back().value += "\n";
      cur.fields.back().value += l;
    } else {
      if (l.front() == '#') continue;  // deb822 comment
      auto colon = l.find(':');
      if (colon == std::string_view::npos || colon == 0)
        return parse_error(name, i + 1, "expected \"Field: value\", got \"" + std::string(l.substr(0, 60)) + "\"");
      if (cur.fields.empty()) first = i + 1;
      cur.fields.push_back({std::string(l.substr(0, colon)), std::string(trim(l.substr(colon + 1)))});
    }
    stanza += l;
    stanza += '\n';
  }
  if (auto st = flush(); !st) return st.error();
  return out;
}

Result<std::vector<Package>> PackageDb::parse_apk_installed(std::string_view text, std::string_view name) {
  std::vector<Package> out;
  auto lines = split_lines(text);
  Package cur;
  size_t first = 0;
  std::string dir;  // the last F:, "" for the root
  auto flush = [&]() -> Status {
    if (cur.stanza.empty()) return Ok{};
    cur.kind = PackageDbKind::Apk;
    cur.digests_loaded = true;
    if (cur.name.empty()) return parse_error(name, first, "record without a P: (package name) line");
    if (cur.source.empty()) cur.source = cur.name;
    cur.source_version = cur.version;
    cur.key = cur.name;
    out.push_back(std::move(cur));
    cur = Package{};
    dir.clear();
    return Ok{};
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
      if (auto st = flush(); !st) return st.error();
      continue;
    }
    if (l.size() < 2 || l[1] != ':')
      return parse_error(name, i + 1, "expected \"K:value\", got \"" + std::string(l.substr(0, 60)) + "\"");
    if (cur.stanza.empty()) first = i + 1;
    cur.stanza += l;
    cur.stanza += '\n';
    char k = l[0];
    std::string v(l.substr(2));
    switch (k) {
      case 'F':
        dir = v;
        cur.files.push_back({"/" + dir, {}, {}});
        break;
      case 'R':
        cur.files.push_back({normalize_path("/" + dir + "/" + v), {}, {}});
        break;
      case 'Z':
        if (!cur.files.empty()) cur.files.back().digest = v;
        break;
      case 'M':
      case 'a':
        break;
      default:
        if (k == 'P') cur.name = v;
        else if (k == 'V') cur.version = v;
        else if (k == 'A') cur.architecture = v;
        else if (k == 'o') cur.source = v;
        else if (k == 'C') cur.apk_checksum = v;
        cur.fields.push_back({std::string(1, k), v});
    }
  }
  if (auto st = flush(); !st) return st.error();
  return out;
}

// Reads files and builds the lookup tables; a friend of PackageDb.
class PackageDbBuilder {
 public:
  PackageDbBuilder(const Root& root, PackageDb& db) : root_(root), db_(db) {}

  Status read_dpkg_status(const std::string& path) {
    auto text = root_.read_file(path);
    if (!text) return text.error();
    auto pkgs = PackageDb::parse_dpkg_status(*text, path);
    if (!pkgs) return pkgs.error();
    for (auto& p : *pkgs)
      if (dpkg_has_files(p)) db_.packages_.push_back(std::move(p));
    return Ok{};
  }

  // info/KEY.list (also tried under the other name: dpkg before 1.16 had no ":ARCH").
  Status read_dpkg_lists() {
    for (auto& p : db_.packages_) {
      std::string base = "/var/lib/dpkg/info/";
      auto text = root_.read_file(base + p.key + ".list");
      if (!text && text.error().err == ENOENT && p.key != p.name) text = root_.read_file(base + p.name + ".list");
      if (!text) {
        // Essential-less metapackages list nothing; dpkg itself then reports no files either.
        if (text.error().err == ENOENT) continue;
        return text.error();
      }
      for (auto l : split_lines(*text)) {
        l = trim(l);
        if (l.empty() || l == "/." || l.front() != '/') continue;
        p.files.push_back({std::string(l), {}, {}});
      }
    }
    return Ok{};
  }

  // status.d/NAME stanzas with NAME.md5sums as their file lists.
  Status read_status_d(const std::string& dir) {
    auto names = list_names(dir);
    if (!names) return names.error();
    for (const auto& n : *names) {
      if (n.ends_with(".md5sums")) continue;
      std::string path = dir + "/" + n;
      auto st = root_.stat(path);
      if (!st || !S_ISREG(st->st_mode)) continue;
      size_t before = db_.packages_.size();
      if (auto r = read_dpkg_status(path); !r) return r;
      for (size_t i = before; i < db_.packages_.size(); ++i) {
        Package& p = db_.packages_[i];
        p.digests_loaded = true;
        auto sums = root_.read_file(dir + "/" + n + ".md5sums");
        if (!sums) continue;
        auto files = parse_md5sums(*sums, dir + "/" + n + ".md5sums");
        if (!files) return files.error();
        p.files = std::move(*files);
      }
    }
    return Ok{};
  }

  static Result<std::vector<PackageFile>> parse_md5sums(std::string_view text, const std::string& name) {
    std::vector<PackageFile> out;
    auto lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string_view l = trim(lines[i]);
      if (l.empty()) continue;
      auto sp = l.find(' ');
      if (sp != 32 || l.find_first_not_of("0123456789abcdef") < 32)
        return parse_error(name, i + 1, "expected \"MD5  path\", got \"" + std::string(l.substr(0, 60)) + "\"");
      std::string_view rel = trim(l.substr(sp));
      if (!rel.empty() && rel.front() == '*') rel.remove_prefix(1);  // md5sum's binary-mode mark
      out.push_back({normalize_path("/" + std::string(rel)), {}, std::string(l.substr(0, 32))});
    }
    return out;
  }

  // /var/lib/dpkg/diversions: triples of lines "from", "to", "package" (":" for a local one).
  // Any package but the diverting one that lists `from` has that file at `to`.
  void read_diversions() {
    auto text = root_.read_file("/var/lib/dpkg/diversions");
    if (!text) return;
    auto lines = split_lines(*text);
    for (size_t i = 0; i + 2 < lines.size(); i += 3)
      diversions_[std::string(lines[i])] = {std::string(lines[i + 1]), std::string(lines[i + 2])};
  }

  // Canonical paths and the lookup tables.
  void index() {
    size_t total = 0;
    for (const auto& p : db_.packages_) total += p.files.size();
    db_.by_path_.reserve(total);
    for (size_t i = 0; i < db_.packages_.size(); ++i) {
      Package& p = db_.packages_[i];
      db_.by_key_.try_emplace(p.key, i);
      db_.by_key_.try_emplace(p.name, i);
      for (auto& f : p.files) {
        auto d = diversions_.empty() ? diversions_.end() : diversions_.find(f.listed);
        f.path = canonical(d != diversions_.end() && d->second.second != p.name ? d->second.first : f.listed);
        db_.by_path_.try_emplace(std::string_view(f.path), i);
      }
    }
    // Directories are shared by many packages and owned by none: "/lib" of merged-/usr is listed
    // by hundreds of them but the symlink itself comes from none.
    for (const auto& d : db_.dirs_) db_.by_path_.erase(std::string_view(d));
  }

  Result<std::vector<std::string>> list_names(const std::string& dir) { return root_.list_dir(dir); }

 private:
  // The listed path with its parent directory resolved inside the root. A parent that does not
  // exist leaves the path as listed (normalized): the file is not there to own anyway.
  std::string canonical(std::string_view listed) {
    std::string storage;
    std::string_view norm = listed;
    if (!is_plain(listed)) norm = storage = normalize_path(listed);
    if (norm == "/") return "/";
    size_t slash = norm.rfind('/');
    std::string_view parent = slash == 0 ? std::string_view("/") : norm.substr(0, slash);
    // Lists are grouped by directory: most lookups hit the previous one.
    if (parent != last_parent_) {
      last_parent_ = parent;
      const std::string& resolved = resolve_dir(last_parent_);
      last_resolved_ = resolved == "/" ? "" : resolved;
    }
    std::string out;
    out.reserve(last_resolved_.size() + norm.size() - slash);
    out += last_resolved_;
    out += norm.substr(slash);
    return out;
  }

  // The canonical path of a listed (normalized) directory, memoized per directory: its parent's
  // canonical path plus its own name, unless that is a symlink, which Root::resolve() follows.
  // A directory that does not exist stays as listed. References stay valid: unordered_map nodes
  // do not move.
  const std::string& resolve_dir(const std::string& dir) {
    if (auto it = parents_.find(dir); it != parents_.end()) return it->second;
    std::string result = "/";
    if (dir != "/") {
      const std::string& up = resolve_dir(dirname_of(dir));
      result = (up == "/" ? "" : up) + "/" + basename_of(dir);
      auto st = root_.stat(result, FollowLast::No);
      if (st && S_ISLNK(st->st_mode)) {
        auto r = root_.resolve(result);
        if (r) result = r->path;
      }
    }
    // Both spellings are directories: merged-/usr's listed "/bin" is the canonical path of a symlink.
    db_.dirs_.insert(result);
    db_.dirs_.insert(dir);
    return parents_.emplace(dir, std::move(result)).first->second;
  }

  // Absolute and already normalized, as dpkg and apk write paths.
  static bool is_plain(std::string_view p) {
    if (p.empty() || p.front() != '/' || (p.size() > 1 && p.back() == '/')) return false;
    return p.find("//") == std::string_view::npos && p.find("/./") == std::string_view::npos &&
           p.find("/../") == std::string_view::npos && !p.ends_with("/.") && !p.ends_with("/..");
  }

  const Root& root_;
  PackageDb& db_;
  std::unordered_map<std::string, std::string> parents_;  // listed directory -> canonical
  std::string last_parent_, last_resolved_;
  std::unordered_map<std::string, std::pair<std::string, std::string>> diversions_;  // from -> (to, by)
};

Result<PackageDb> PackageDb::read(const Root& root) {
  PackageDb db;
  PackageDbBuilder b(root, db);
  auto is_file = [&](const char* p) {
    auto st = root.stat(p);
    return st && S_ISREG(st->st_mode);
  };
  auto is_dir = [&](const char* p) {
    auto st = root.stat(p);
    return st && S_ISDIR(st->st_mode);
  };
  if (is_file("/var/lib/dpkg/status")) {
    db.kind_ = PackageDbKind::Dpkg;
    db.db_path_ = "/var/lib/dpkg/status";
    if (auto st = b.read_dpkg_status(db.db_path_); !st) return st.error();
    if (auto st = b.read_dpkg_lists(); !st) return st.error();
    b.read_diversions();
  }
  // A distroless root has only status.d; a root minify made from a full one may have both.
  if (is_dir("/var/lib/dpkg/status.d")) {
    if (db.kind_ == PackageDbKind::None) db.db_path_ = "/var/lib/dpkg/status.d";
    db.kind_ = PackageDbKind::Dpkg;
    if (auto st = b.read_status_d("/var/lib/dpkg/status.d"); !st) return st.error();
  }
  if (db.kind_ == PackageDbKind::None && is_file("/lib/apk/db/installed")) {
    db.kind_ = PackageDbKind::Apk;
    db.db_path_ = "/lib/apk/db/installed";
    auto text = root.read_file(db.db_path_);
    if (!text) return text.error();
    auto pkgs = parse_apk_installed(*text, db.db_path_);
    if (!pkgs) return pkgs.error();
    db.packages_ = std::move(*pkgs);
  }
  b.index();
  return db;
}

const Package* PackageDb::find(std::string_view name) const {
  auto i = index_of(name);
  return i ? &packages_[*i] : nullptr;
}

std::optional<size_t> PackageDb::index_of(std::string_view name) const {
  auto it = by_key_.find(name);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

bool PackageDb::is_directory(std::string_view path) const { return dirs_.find(path) != dirs_.end(); }

const Package* PackageDb::owner(std::string_view path) const {
  auto i = owner_index(path);
  return i ? &packages_[*i] : nullptr;
}

std::optional<size_t> PackageDb::owner_index(std::string_view path) const {
  auto it = by_path_.find(path);
  if (it == by_path_.end()) return std::nullopt;
  return it->second;
}

Status PackageDb::load_digests(const Root& root, size_t package) {
  Package& p = packages_.at(package);
  if (p.digests_loaded) return Ok{};
  p.digests_loaded = true;
  std::string base = "/var/lib/dpkg/info/";
  std::string path = base + p.key + ".md5sums";
  auto text = root.read_file(path);
  if (!text && text.error().err == ENOENT && p.key != p.name) text = root.read_file(path = base + p.name + ".md5sums");
  if (!text) return text.error().err == ENOENT ? Status(Ok{}) : Status(text.error());
  auto sums = PackageDbBuilder::parse_md5sums(*text, path);
  if (!sums) return sums.error();
  std::unordered_map<std::string, std::string> by_listed;
  for (auto& s : *sums) by_listed.emplace(std::move(s.listed), std::move(s.digest));
  for (auto& f : p.files)
    if (auto it = by_listed.find(normalize_path(f.listed)); it != by_listed.end()) f.digest = it->second;
  return Ok{};
}

}  // namespace minify
