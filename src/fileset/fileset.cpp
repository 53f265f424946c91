// The FileSet: adding paths from a Root (with the symlinks and directories on the way), globs for
// --keep and --exclude, generated entries and totals. Lookups go through Root::resolve, which
// reports every symlink it crosses; those links become entries of their own, so the output root
// has the same names as the source (/lib64 -> usr/lib64, libssl.so.3 -> libssl.so.3.0.11).
#include "minify/fileset.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace minify {

namespace {

constexpr std::array<std::pair<ReasonKind, std::string_view>, 16> kReasonNames = {{
    {ReasonKind::Program, "program"},
    {ReasonKind::Needed, "needed"},
    {ReasonKind::Interpreter, "interpreter"},
    {ReasonKind::Exec, "exec"},
    {ReasonKind::Opened, "opened"},
    {ReasonKind::Shebang, "shebang"},
    {ReasonKind::Kept, "kept"},
    {ReasonKind::Implicit, "implicit"},
    {ReasonKind::SymlinkOnTheWay, "symlink-on-the-way"},
    {ReasonKind::Directory, "directory"},
    {ReasonKind::Dlopen, "dlopen"},
    {ReasonKind::Generated, "generated"},
    {ReasonKind::Package, "package"},
    {ReasonKind::Repair, "repair"},
    {ReasonKind::Evidence, "evidence"},
    {ReasonKind::Writable, "writable"},
}};

// Pseudo file systems never enter an image: their contents are made by the kernel at run time.
constexpr std::array<std::string_view, 3> kNeverPaths = {"/proc", "/sys", "/dev"};

bool under(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Components as NUL-terminated strings for fnmatch: `buf` holds `s` with each '/' a NUL, `out`
// points at each component in it. No allocation once the buffers have grown: exclusion and the
// withheld rules check every path of a set against every rule.
void split_c(std::string_view s, std::string& buf, std::vector<const char*>& out) {
  buf.assign(s);
  out.clear();
  for (char& c : buf)
    if (c == '/') c = '\0';
  for (size_t i = 0; i < buf.size(); ++i)
    if (buf[i] != '\0' && (i == 0 || buf[i - 1] == '\0')) out.push_back(buf.c_str() + i);
}

// With `prefix`, whether the pattern matches the path or any of its ancestors (a whole number of
// leading components): one call instead of one per ancestor.
bool match_components(const std::vector<const char*>& pat, size_t pi, const std::vector<const char*>& comp, size_t ci,
                      bool prefix) {
  while (pi < pat.size()) {
    if (std::strcmp(pat[pi], "**") == 0) {
      while (pi + 1 < pat.size() && std::strcmp(pat[pi + 1], "**") == 0) ++pi;
      for (size_t k = ci; k <= comp.size(); ++k)
        if (match_components(pat, pi + 1, comp, k, prefix)) return true;
      return false;
    }
    if (ci >= comp.size()) return false;
    // Components hold no '/', so FNM_PATHNAME holds by construction: '*' never crosses one.
    if (::fnmatch(pat[pi], comp[ci], 0) != 0) return false;
    ++pi;
    ++ci;
  }
  // A pattern that matched no component is all "**", which matches every ancestor too.
  return prefix || ci == comp.size();
}

struct GlobBuffers {
  std::string pat_buf, path_buf;
  std::vector<const char*> pat, comp;
};

bool glob_match_in(GlobBuffers& b, std::string_view pattern, bool prefix) {
  split_c(pattern, b.pat_buf, b.pat);
  if (pattern.empty() || pattern.front() != '/') b.pat.insert(b.pat.begin(), "**");
  return match_components(b.pat, 0, b.comp, 0, prefix);
}

bool has_glob_chars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::string absolute(std::string_view path) {
  if (!path.empty() && path.front() == '/') return normalize_path(path);
  return normalize_path("/" + std::string(path));
}

std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// What an entry keeps of its source's lstat: the owner and the modification time.
void take_stat(Entry& e, const struct stat& st) {
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mtime = st.st_mtim;
}

}  // namespace

std::string_view reason_kind_name(ReasonKind kind) {
  for (const auto& [k, n] : kReasonNames)
    if (k == kind) return n;
  return "unknown";
}

std::optional<ReasonKind> parse_reason_kind(std::string_view name) {
  for (const auto& [k, n] : kReasonNames)
    if (n == name) return k;
  return std::nullopt;
}

std::string_view entry_type_name(EntryType type) {
  switch (type) {
    case EntryType::File: return "file";
    case EntryType::Symlink: return "symlink";
    case EntryType::Directory: return "directory";
  }
  return "file";
}

bool glob_match(std::string_view pattern, std::string_view path) {
  thread_local GlobBuffers b;
  split_c(path, b.path_buf, b.comp);
  return glob_match_in(b, pattern, false);
}

void FileSet::withhold(std::string_view glob, std::string reason) {
  withhold_rules_.emplace_back(std::string(glob), std::move(reason));
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (auto why = withheld_reason(it->first)) {
      withheld_.emplace(it->first, *why);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void FileSet::allow(std::string_view path) { allowed_.push_back(absolute(path)); }

std::optional<std::string> FileSet::withheld_reason(std::string_view path) const {
  if (withhold_rules_.empty()) return std::nullopt;
  for (const auto& a : allowed_)
    if (under(path, a)) return std::nullopt;
  // A rule on any ancestor covers everything under it, as exclude() does.
  thread_local GlobBuffers b;
  split_c(path, b.path_buf, b.comp);
  for (const auto& [glob, reason] : withhold_rules_)
    if (glob_match_in(b, glob, true)) return reason;
  return std::nullopt;
}

bool FileSet::withhold_check(const std::string& path) {
  auto why = withheld_reason(path);
  if (!why) return false;
  withheld_.emplace(path, std::move(*why));
  return true;
}

bool FileSet::is_excluded(std::string_view path) const { return withheld_reason(path) || matches_exclude(path); }

bool FileSet::matches_exclude(std::string_view path) const {
  for (auto p : kNeverPaths)
    if (under(path, p)) return true;
  for (const auto& p : exclude_paths_)
    if (under(path, p)) return true;
  if (exclude_globs_.empty()) return false;
  // A match on any ancestor excludes everything under it, as in .gitignore.
  thread_local GlobBuffers b;
  split_c(path, b.path_buf, b.comp);
  for (const auto& g : exclude_globs_)
    if (glob_match_in(b, g, true)) return true;
  return false;
}

void FileSet::add_reason(Entry& e, const Reason& reason) {
  // A directory or link on the way to many files would collect thousands of copies of the same
  // kind of reason; the first one says enough.
  bool implicit = reason.kind == ReasonKind::SymlinkOnTheWay || reason.kind == ReasonKind::Directory;
  for (const auto& r : e.reasons) {
    if (r == reason) return;
    if (implicit && r.kind == reason.kind) return;
  }
  e.reasons.push_back(reason);
}

Status FileSet::add_parents(const Root* root, const std::string& path, const std::string& child) {
  // Ancestors from the top down, so a missing one is stat'ed before its children.
  std::vector<std::string> missing;
  for (std::string d = dirname_of(path); d != "/" && d != "."; d = dirname_of(d)) {
    if (entries_.count(d)) break;
    missing.push_back(d);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    Entry e;
    e.path = *it;
    e.type = EntryType::Directory;
    e.mode = 0755;
    if (root) {
      auto st = root->stat(*it, FollowLast::No);
      if (!st) return st.error();
      if (!S_ISDIR(st->st_mode)) return bad_input("add", *it, "not a directory");
      e.mode = st->st_mode & 07777;
      take_stat(e, *st);
    } else {
      e.generated = true;
    }
    e.reasons.push_back({ReasonKind::Directory, "on the way to " + child});
    entries_.emplace(*it, std::move(e));
  }
  return Ok{};
}

Result<AddOutcome> FileSet::add(const Root& root, std::string_view path_in, const Reason& reason, bool recursive) {
  std::string path = absolute(path_in);
  if (path == "/") {
    if (recursive)
      if (auto t = add_tree(root, "/", reason, 0); !t) return t.error();
    return AddOutcome::Added;
  }
  if (withhold_check(path) || is_excluded(path)) return AddOutcome::Excluded;
  auto r = root.resolve(path, FollowLast::Yes);
  if (!r) return r.error();
  const std::string& final_path = r->path;
  if (final_path == "/") {
    if (recursive)
      if (auto t = add_tree(root, "/", reason, 0); !t) return t.error();
    return AddOutcome::Added;
  }
  if (withhold_check(final_path) || is_excluded(final_path)) return AddOutcome::Excluded;
  for (const auto& step : r->links)
    if (withhold_check(step.link) || is_excluded(step.link)) return AddOutcome::Excluded;
  auto st = root.stat(final_path, FollowLast::No);
  if (!st) return st.error();
  if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) return AddOutcome::Unsupported;

  for (const auto& step : r->links) {
    if (auto s = add_parents(&root, step.link, step.link); !s) return s.error();
    auto [it, inserted] = entries_.try_emplace(step.link);
    Entry& e = it->second;
    if (inserted) {
      e.path = step.link;
      e.type = EntryType::Symlink;
      e.mode = 0777;
      e.link_target = step.target;
      if (auto lst = root.stat(step.link, FollowLast::No)) take_stat(e, *lst);
    }
    add_reason(e, {ReasonKind::SymlinkOnTheWay, "to " + final_path});
  }
  if (auto s = add_parents(&root, final_path, final_path); !s) return s.error();
  auto [it, inserted] = entries_.try_emplace(final_path);
  Entry& e = it->second;
  if (inserted || e.type == EntryType::Symlink) {
    e.path = final_path;
    e.type = S_ISDIR(st->st_mode) ? EntryType::Directory : EntryType::File;
    e.mode = st->st_mode & 07777;
    e.size = e.type == EntryType::File ? static_cast<uint64_t>(st->st_size) : 0;
    take_stat(e, *st);
    e.link_target.clear();
  }
  // An implicit parent that is now asked for by itself gets the real reason instead.
  if (e.type == EntryType::Directory && e.reasons.size() == 1 && e.reasons[0].kind == ReasonKind::Directory &&
      reason.kind != ReasonKind::Directory)
    e.reasons.clear();
  add_reason(e, reason);
  if (e.type == EntryType::File) {
    auto pos = std::lower_bound(e.names.begin(), e.names.end(), path);
    if (pos == e.names.end() || *pos != path) e.names.insert(pos, path);
  }
  if (e.type == EntryType::Directory && recursive) {
    auto t = add_tree(root, final_path, reason, 0);
    if (!t) return t.error();
    e.complete_tree = *t;
  }
  if (!walked_.empty()) {
    walked_.erase(path);
    walked_.erase(final_path);
  }
  return AddOutcome::Added;
}

void FileSet::note_walked(Walked w) {
  w.path = absolute(w.path);
  if (entries_.contains(w.path)) return;
  std::string key = w.path;
  walked_.insert_or_assign(std::move(key), std::move(w));
}

Result<bool> FileSet::add_tree(const Root& root, const std::string& dir, const Reason& reason, int depth) {
  if (depth > 256) return sys_error("add", dir, ELOOP);
  auto names = root.list_dir(dir);
  if (!names) return names.error();
  bool complete = true;
  for (const auto& name : *names) {
    std::string p = child_path(dir, name);
    if (withhold_check(p) || is_excluded(p)) {
      complete = false;
      continue;
    }
    auto st = root.stat(p, FollowLast::No);
    if (!st) {
      if (st.error().err == ENOENT) continue;  // removed while we walked
      return st.error();
    }
    if (S_ISLNK(st->st_mode)) {
      auto target = root.read_link(p);
      if (!target) return target.error();
      auto [it, inserted] = entries_.try_emplace(p);
      if (inserted) {
        it->second.path = p;
        it->second.type = EntryType::Symlink;
        it->second.mode = 0777;
        it->second.link_target = *target;
        take_stat(it->second, *st);
      }
      add_reason(it->second, reason);
      // The link's target comes too (not recursively: a link to a directory elsewhere brings
      // that directory, not its contents). A dangling link stays a dangling link, as in the source.
      auto added = add(root, p, reason, false);
      if (!added && added.error().err != ENOENT && added.error().err != ENOTDIR && added.error().err != ELOOP)
        return added.error();
      continue;
    }
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
      complete = false;  // a socket or device node: not in the set, so the tree is not whole
      continue;
    }
    auto [it, inserted] = entries_.try_emplace(p);
    Entry& e = it->second;
    if (inserted) {
      e.path = p;
      e.type = S_ISDIR(st->st_mode) ? EntryType::Directory : EntryType::File;
      e.mode = st->st_mode & 07777;
      e.size = e.type == EntryType::File ? static_cast<uint64_t>(st->st_size) : 0;
      take_stat(e, *st);
    }
    if (e.type == EntryType::Directory && e.reasons.size() == 1 && e.reasons[0].kind == ReasonKind::Directory)
      e.reasons.clear();
    add_reason(e, reason);
    if (e.type == EntryType::File) {
      auto pos = std::lower_bound(e.names.begin(), e.names.end(), p);
      if (pos == e.names.end() || *pos != p) e.names.insert(pos, p);
    } else if (S_ISDIR(st->st_mode)) {
      auto sub = add_tree(root, p, reason, depth + 1);
      if (!sub) return sub.error();
      e.complete_tree = *sub;
      complete = complete && *sub;
    }
  }
  return complete;
}

Result<size_t> FileSet::keep(const Root& root, std::string_view path_or_glob, const Reason& reason) {
  std::string pattern = absolute(path_or_glob);
  if (!has_glob_chars(pattern)) {
    auto r = add(root, pattern, reason, true);
    if (!r) return r.error();
    return static_cast<size_t>(*r == AddOutcome::Added ? 1 : 0);
  }
  // Walk from the longest directory prefix without glob characters, without following
  // symlinks; a matching directory is added whole and not descended into.
  std::string start = "/";
  for (auto c : components(pattern)) {
    if (has_glob_chars(c)) break;
    start = child_path(start, std::string(c));
  }
  if (start == pattern) start = dirname_of(pattern);
  auto resolved = root.resolve(start);
  if (!resolved) return static_cast<size_t>(0);
  size_t matched = 0;
  std::vector<std::pair<std::string, std::string>> todo;  // (path as named, real path to list)
  todo.emplace_back(start, resolved->path);
  while (!todo.empty()) {
    auto [named, real] = std::move(todo.back());
    todo.pop_back();
    auto names = root.list_dir(real);
    if (!names) continue;  // unreadable or vanished directories simply do not match
    for (auto it = names->rbegin(); it != names->rend(); ++it) {
      std::string p = child_path(named, *it);
      std::string rp = child_path(real, *it);
      if (is_excluded(rp)) continue;
      if (glob_match(pattern, p)) {
        auto r = add(root, p, reason, true);
        if (!r) return r.error();
        if (*r == AddOutcome::Added) ++matched;
        continue;
      }
      auto st = root.stat(rp, FollowLast::No);
      if (st && S_ISDIR(st->st_mode)) todo.emplace_back(p, rp);
    }
  }
  return matched;
}

Status FileSet::add_generated(std::string_view path_in, std::string content, mode_t mode, const Reason& reason) {
  std::string path = absolute(path_in);
  if (path == "/") return bad_input("add", path, "not a file");
  if (auto s = add_parents(nullptr, path, path); !s) return s;
  Entry e;
  e.path = path;
  e.type = EntryType::File;
  e.mode = mode & 07777;
  e.size = content.size();
  e.generated = true;
  e.content = std::move(content);
  e.names = {path};
  e.reasons = {reason};
  entries_[path] = std::move(e);
  return Ok{};
}

Status FileSet::add_directory(std::string_view path_in, mode_t mode, const Reason& reason) {
  std::string path = absolute(path_in);
  if (path == "/") return bad_input("add", path, "the root is implicit");
  if (auto s = add_parents(nullptr, path, path); !s) return s;
  Entry& e = entries_[path];
  e.path = path;
  e.type = EntryType::Directory;
  e.mode = mode & 07777;
  e.size = 0;
  e.generated = true;
  e.content.clear();
  e.link_target.clear();
  e.names.clear();
  if (e.reasons.size() == 1 && e.reasons[0].kind == ReasonKind::Directory) e.reasons.clear();
  add_reason(e, reason);
  return Ok{};
}

Status FileSet::add_symlink(std::string_view path_in, std::string target, const Reason& reason) {
  std::string path = absolute(path_in);
  if (path == "/") return bad_input("add", path, "the root is implicit");
  if (target.empty()) return bad_input("add", path, "empty symlink target");
  if (auto s = add_parents(nullptr, path, path); !s) return s;
  Entry e;
  e.path = path;
  e.type = EntryType::Symlink;
  e.mode = 0777;
  e.link_target = std::move(target);
  e.generated = true;
  e.reasons = {reason};
  entries_[path] = std::move(e);
  return Ok{};
}

size_t FileSet::erase_excluded() {
  size_t n = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!is_excluded(it->first)) {
      ++it;
      continue;
    }
    // Its directories no longer hold everything their source does.
    for (std::string d = dirname_of(it->first); d != "/"; d = dirname_of(d))
      if (auto p = entries_.find(d); p != entries_.end()) p->second.complete_tree = false;
    it = entries_.erase(it);
    ++n;
  }
  return n;
}

size_t FileSet::exclude(std::string_view glob) {
  exclude_globs_.emplace_back(glob);
  return erase_excluded();
}

size_t FileSet::exclude_path(std::string_view path) {
  exclude_paths_.push_back(absolute(path));
  return erase_excluded();
}

void FileSet::put(Entry entry) {
  entry.path = absolute(entry.path);
  std::string key = entry.path;
  entries_[key] = std::move(entry);
}

bool FileSet::remove(std::string_view path_in) {
  std::string path = absolute(path_in);
  if (entries_.erase(path) == 0) return false;
  for (std::string d = dirname_of(path); d != "/"; d = dirname_of(d))
    if (auto p = entries_.find(d); p != entries_.end()) p->second.complete_tree = false;
  return true;
}

const Entry* FileSet::find(std::string_view path) const {
  auto it = entries_.find(absolute(path));
  return it == entries_.end() ? nullptr : &it->second;
}

Totals FileSet::totals() const {
  Totals t;
  for (const auto& [path, e] : entries_) {
    switch (e.type) {
      case EntryType::File:
        ++t.files;
        t.bytes += e.size;
        break;
      case EntryType::Symlink: ++t.symlinks; break;
      case EntryType::Directory: ++t.directories; break;
    }
  }
  return t;
}

}  // namespace minify
