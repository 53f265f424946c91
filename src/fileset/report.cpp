// report.json (every entry with its type, mode, owner, mtime, size, link target, names, reasons and
// optional sha256) and `minify why`: the explanation of one path, from a FileSet or a report
// read back.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "minify/atomic.hpp"
#include "minify/digest.hpp"
#include "minify/fileset.hpp"
#include "minify/packages.hpp"

namespace minify {

namespace {

using json = nlohmann::json;

std::string octal_mode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Requires: e.generated or root != nullptr.
Result<std::string> sha256_of(const Root* root, const Entry& e) {
  Hasher h;
  if (e.generated) {
    h.update(e.content);
  } else {
    auto fd = root->open_read(e.path);
    if (!fd) return fd.error();
    std::string buf(1 << 17, '\0');
    for (;;) {
      ssize_t n = ::read(fd->get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_error("read", e.path);
      if (n == 0) break;
      h.update(buf.data(), static_cast<size_t>(n));
    }
  }
  return h.hex();
}

// Follows a link target written in `link_path` (inside the set's root), lexically.
std::string follow(const std::string& link_path, const std::string& target) {
  if (!target.empty() && target.front() == '/') return normalize_path(target);
  return normalize_path(join_path(dirname_of(link_path), target));
}

void describe(std::string& out, const Entry& e) {
  out += e.path;
  out += ": ";
  out += entry_type_name(e.type);
  if (e.type == EntryType::Symlink) {
    out += " -> " + e.link_target;
  } else {
    out += " " + octal_mode(e.mode);
    if (e.type == EntryType::File) out += ", " + std::to_string(e.size) + " bytes";
  }
  if (e.generated) out += ", generated";
  out += '\n';
  for (const auto& r : e.reasons) {
    out += "  ";
    out += reason_kind_name(r.kind);
    if (!r.detail.empty()) out += ": " + r.detail;
    out += '\n';
  }
}

}  // namespace

std::optional<std::string> explain(const FileSet& set, std::string_view path_in) {
  std::string path = normalize_path(path_in.empty() || path_in.front() != '/' ? "/" + std::string(path_in)
                                                                               : std::string(path_in));
  std::string out;
  bool found = false;
  for (int hops = 0; hops <= kMaxSymlinks; ++hops) {
    if (const Entry* e = set.find(path)) {
      found = true;
      describe(out, *e);
      if (e->type != EntryType::Symlink) return out;
      path = follow(e->path, e->link_target);
      continue;
    }
    // Not an entry itself: maybe a directory symlink in the set leads to it (/lib64/ld.so).
    std::string prefix = path;
    const Entry* link = nullptr;
    while (prefix != "/") {
      prefix = dirname_of(prefix);
      const Entry* e = set.find(prefix);
      if (e && e->type == EntryType::Symlink) {
        link = e;
        break;
      }
      if (e) break;  // a real directory in the set: the path is just not there
    }
    if (!link) break;
    found = true;
    describe(out, *link);
    path = normalize_path(follow(link->path, link->link_target) + path.substr(link->path.size()));
  }
  if (auto w = set.walked().find(path); w != set.walked().end()) {
    out += path + ": walked, not used: found by listing " + w->second.listed + " and only stat'ed (" +
           std::to_string(w->second.size) + " bytes on the builder); not shipped (--keep-walked or --keep " + path +
           " ships it)\n";
    return out;
  }
  if (!found) {
    auto w = set.withheld().find(path);
    if (w == set.withheld().end()) return std::nullopt;
    return path + ": withheld: " + w->second + " (--keep " + path + " ships it)\n";
  }
  out += path + ": not in the set\n";
  return out;
}

namespace {

json packages_json(const PackageReport& rep) {
  json list = json::array();
  json dropped = json::array();
  uint64_t saved = 0;
  for (const auto& u : rep.packages) {
    saved += u.dropped_bytes;
    json j = {{"name", u.name}, {"version", u.version}, {"architecture", u.architecture}};
    if (u.kept.empty()) {
      j["bytes_saved"] = u.dropped_bytes;
      if (u.estimated) j["estimated"] = true;  // the database's installed size
      dropped.push_back(std::move(j));
      continue;
    }
    j["kept"] = u.kept;
    j["dropped"] = u.dropped;
    j["kept_bytes"] = u.kept_bytes;
    j["bytes_saved"] = u.dropped_bytes;
    list.push_back(std::move(j));
  }
  return {{"database", package_db_kind_name(rep.kind)},
          {"path", rep.db_path},
          {"bytes_saved", saved},
          {"packages", std::move(list)},
          {"dropped_entirely", std::move(dropped)},
          {"unowned", rep.unowned}};
}

}  // namespace

Result<std::string> report_json(const FileSet& set, const Root* root, const ReportOptions& options) {
  Totals t = set.totals();
  std::unordered_map<std::string_view, std::string_view> owner;
  if (options.packages)
    for (const auto& u : options.packages->packages)
      for (const auto& k : u.kept) owner.emplace(k, u.name);
  json entries = json::array();
  for (const auto& [path, e] : set) {
    json j;
    j["path"] = e.path;
    if (auto o = owner.find(path); o != owner.end()) j["package"] = o->second;
    j["type"] = entry_type_name(e.type);
    j["mode"] = octal_mode(e.mode);
    if (e.uid != 0 || e.gid != 0) {  // root's, the common case, goes unsaid
      j["uid"] = e.uid;
      j["gid"] = e.gid;
    }
    if (e.mtime.tv_sec != 0) j["mtime"] = e.mtime.tv_sec;  // the source's, in seconds; unclamped
    if (e.type == EntryType::File) j["size"] = e.size;
    if (e.type == EntryType::Symlink) j["link"] = e.link_target;
    if (e.generated) j["generated"] = true;
    if (e.complete_tree) j["tree"] = true;
    if (!e.names.empty() && !(e.names.size() == 1 && e.names[0] == e.path)) j["names"] = e.names;
    if (options.with_sha256 && e.type == EntryType::File && (root || e.generated)) {
      auto h = sha256_of(root, e);
      if (!h) return h.error();
      j["sha256"] = *h;
    }
    json reasons = json::array();
    for (const auto& r : e.reasons) reasons.push_back({{"kind", reason_kind_name(r.kind)}, {"detail", r.detail}});
    j["reasons"] = std::move(reasons);
    entries.push_back(std::move(j));
  }
  json doc;
  doc["version"] = 1;
  doc["totals"] = {{"files", t.files}, {"symlinks", t.symlinks}, {"directories", t.directories}, {"bytes", t.bytes}};
  doc["entries"] = std::move(entries);
  if (!set.withheld().empty()) {
    json withheld = json::array();
    for (const auto& [path, reason] : set.withheld()) withheld.push_back({{"path", path}, {"reason", reason}});
    doc["withheld"] = std::move(withheld);
  }
  if (!set.walked().empty()) {
    // Left out: found by listing a directory and only stat'ed (collect.hpp, CollectOptions::keep_walked).
    json walked = json::array();
    uint64_t bytes = 0;
    for (const auto& [path, w] : set.walked()) {
      walked.push_back({{"path", w.path}, {"listed", w.listed}, {"size", w.size}});
      bytes += w.size;
    }
    doc["walked"] = {{"reason", "walked, not used"}, {"files", walked.size()}, {"bytes", bytes}, {"entries", std::move(walked)}};
  }
  if (options.packages) doc["packages"] = packages_json(*options.packages);
  if (options.times) {
    json times = json::object();
    for (const auto& [phase, seconds] : *options.times) times[phase] = std::round(seconds * 1000) / 1000;  // ms
    doc["times"] = std::move(times);
  }
  if (options.runner_needs) {
    json needs = json::array();
    for (const auto& n : *options.runner_needs)
      needs.push_back({{"need", n.need}, {"met_by", n.met_by}, {"detail", n.detail}, {"not_copied", n.not_copied},
                       {"copied", n.copied}});
    doc["runner"] = {{"base", options.runner_base}, {"needs", std::move(needs)}};
  }
  if (!options.policy_json.empty()) doc["policy"] = json::parse(options.policy_json, nullptr, false);
  return doc.dump(2) + "\n";
}

Status write_report(const FileSet& set, const Root* root, const std::string& out_file, const ReportOptions& options) {
  auto text = report_json(set, root, options);
  if (!text) return text.error();
  return write_file_atomic(out_file, *text);
}

Result<FileSet> parse_report(std::string_view text, std::string_view name) {
  FileSet set;
  try {
    json doc = json::parse(text);
    if (!doc.is_object() || doc.value("version", 0) != 1) return bad_input("read report", std::string(name), "not a minify report (version 1)");
    for (const auto& j : doc.at("entries")) {
      Entry e;
      e.path = j.at("path").get<std::string>();
      std::string type = j.at("type").get<std::string>();
      if (type == "file") e.type = EntryType::File;
      else if (type == "symlink") e.type = EntryType::Symlink;
      else if (type == "directory") e.type = EntryType::Directory;
      else return bad_input("read report", std::string(name), "unknown entry type `" + type + "`");
      e.mode = static_cast<mode_t>(std::stoul(j.value("mode", std::string("0")), nullptr, 8));
      e.uid = j.value("uid", uid_t{0});
      e.gid = j.value("gid", gid_t{0});
      e.mtime.tv_sec = j.value("mtime", int64_t{0});
      e.size = j.value("size", uint64_t{0});
      e.link_target = j.value("link", std::string());
      e.generated = j.value("generated", false);
      e.complete_tree = j.value("tree", false);
      if (j.contains("names")) e.names = j.at("names").get<std::vector<std::string>>();
      else if (e.type == EntryType::File) e.names = {e.path};
      for (const auto& r : j.at("reasons")) {
        std::string kind = r.at("kind").get<std::string>();
        auto k = parse_reason_kind(kind);
        if (!k) return bad_input("read report", std::string(name), "unknown reason `" + kind + "`");
        e.reasons.push_back({*k, r.value("detail", std::string())});
      }
      set.put(std::move(e));
    }
    if (doc.contains("withheld"))
      for (const auto& w : doc.at("withheld")) set.note_withheld(w.at("path").get<std::string>(), w.value("reason", std::string()));
    if (doc.contains("walked"))
      for (const auto& w : doc["walked"].at("entries"))
        set.note_walked({w.at("path").get<std::string>(), w.value("listed", std::string()), w.value("size", uint64_t{0})});
  } catch (const std::exception& ex) {
    return bad_input("read report", std::string(name), ex.what());
  }
  return set;
}

Result<FileSet> read_report(const std::string& file) {
  // The report lives on the host, not inside the packed root.
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("open", file);
  UniqueFd owned(fd);
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read", file);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return parse_report(text, file);
}

}  // namespace minify
