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
// The file lists and their canonical paths are lists.cpp's.
#include <algorithm>

#include "packages/builder.hpp"

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
  // About one stanza per "\nPackage:": growing the vector moves every Package it holds.
  size_t stanzas = 1;
  for (size_t at = text.find("\nPackage:"); at != std::string_view::npos; at = text.find("\nPackage:", at + 1)) ++stanzas;
  out.reserve(stanzas);
  Package cur;
  size_t first = 0, line_no = 0;
  // The stanza's text is a slice of `text` while its lines are as read (each ends with "\n", no
  // "\r", no comment line); from the first line that is not, it is copied line by line.
  constexpr size_t kNone = std::string_view::npos;
  size_t slice_start = kNone, slice_end = 0;
  bool copied = false;
  std::string stanza;
  auto flush = [&]() -> Status {
    if (!cur.fields.empty()) {
      cur.kind = PackageDbKind::Dpkg;
      cur.stanza = copied ? std::move(stanza) : std::string(text.substr(slice_start, slice_end - slice_start));
      if (auto st = finish_dpkg(cur, name, first); !st) return st;
      out.push_back(std::move(cur));
      cur = Package{};
    }
    stanza.clear();
    copied = false;
    slice_start = kNone;
    return Ok{};
  };
  auto copy_so_far = [&](size_t upto) {
    if (copied) return;
    stanza.assign(slice_start == kNone ? std::string_view() : text.substr(slice_start, upto - slice_start));
    copied = true;
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    bool has_nl = nl != kNone;
    if (!has_nl) nl = text.size();
    size_t line_start = pos;
    std::string_view l = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    bool cr = !l.empty() && l.back() == '\r';
    if (cr) l.remove_suffix(1);
    if (trim(l).empty()) {
      if (auto st = flush(); !st) return st.error();
      continue;
    }
    if (l.front() == ' ' || l.front() == '\t') {
      if (cur.fields.empty()) return parse_error(name, line_no, "continuation line outside a field");
      cur.fields.back().value += "\n";
      cur.fields.back().value += l;
    } else {
      if (l.front() == '#') {  // deb822 comment
        if (slice_start != kNone) copy_so_far(line_start);
        continue;
      }
      auto colon = l.find(':');
      if (colon == std::string_view::npos || colon == 0)
        return parse_error(name, line_no, "expected \"Field: value\", got \"" + std::string(l.substr(0, 60)) + "\"");
      if (cur.fields.empty()) {
        first = line_no;
        cur.fields.reserve(16);
      }
      cur.fields.push_back({std::string(l.substr(0, colon)), std::string(trim(l.substr(colon + 1)))});
    }
    if (slice_start == kNone && !copied) slice_start = line_start;
    if (!copied && (cr || !has_nl)) copy_so_far(line_start);
    if (copied) {
      stanza += l;
      stanza += '\n';
    } else {
      slice_end = pos;
    }
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
    cur.files_loaded = true;
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

Status PackageDbBuilder::read_dpkg_status(const std::string& path) {
  auto text = root_.read_file(path);
  if (!text) return text.error();
  auto pkgs = PackageDb::parse_dpkg_status(*text, path);
  if (!pkgs) return pkgs.error();
  for (auto& p : *pkgs)
    if (dpkg_has_files(p)) db_.packages_.push_back(std::move(p));
  return Ok{};
}

// status.d/NAME stanzas with NAME.md5sums as their file lists.
Status PackageDbBuilder::read_status_d(const std::string& dir) {
  auto names = root_.list_dir(dir);
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
      p.files_loaded = true;
      auto sums = root_.read_file(dir + "/" + n + ".md5sums");
      if (!sums) continue;
      auto files = parse_md5sums(*sums, dir + "/" + n + ".md5sums");
      if (!files) return files.error();
      p.files = std::move(*files);
    }
  }
  return Ok{};
}

Result<std::vector<PackageFile>> PackageDbBuilder::parse_md5sums(std::string_view text, const std::string& name) {
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
void PackageDbBuilder::read_diversions() {
  auto text = root_.read_file("/var/lib/dpkg/diversions");
  if (!text) return;
  auto lines = split_lines(*text);
  for (size_t i = 0; i + 2 < lines.size(); i += 3)
    lists_.diversions[std::string(lines[i])] = {std::string(lines[i + 1]), std::string(lines[i + 2])};
}

PackageDb::PackageDb() : lists_(std::make_unique<Lists>()) {}
PackageDb::~PackageDb() = default;
PackageDb::PackageDb(PackageDb&&) noexcept = default;
PackageDb& PackageDb::operator=(PackageDb&&) noexcept = default;

Result<PackageDb> PackageDb::read(const Root& root, PackageDbLoad load) {
  PackageDb db;
  db.lists_->lazy = load == PackageDbLoad::Lazy;
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
    if (!db.lists_->lazy)
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
  for (size_t i = 0; i < db.packages_.size(); ++i) {
    db.by_key_.try_emplace(db.packages_[i].key, i);
    db.by_key_.try_emplace(db.packages_[i].name, i);
  }
  for (size_t i = 0; i < db.packages_.size(); ++i)
    if (db.packages_[i].files_loaded) b.index_package(i);
  return db;
}

Status PackageDb::index(const Root& root, const std::vector<std::string>& paths) {
  if (!lists_->lazy) return Ok{};
  return PackageDbBuilder(root, *this).index(paths);
}

Status PackageDb::index(const Root& root, const FileSet& set) {
  if (!lists_->lazy) return Ok{};
  std::vector<std::string> paths;
  for (const auto& [path, e] : set)
    if (e.type != EntryType::Directory && !lists_->indexed.contains(path)) paths.push_back(path);
  return index(root, paths);
}

bool PackageDb::indexed(std::string_view path) const { return !lists_->lazy || lists_->indexed.contains(path); }

Status PackageDb::load_files(const Root& root, size_t package) {
  if (package >= packages_.size() || packages_[package].files_loaded) return Ok{};
  return PackageDbBuilder(root, *this).load_files(package);
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
  if (it == by_path_.end() || is_directory(path)) return std::nullopt;
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
