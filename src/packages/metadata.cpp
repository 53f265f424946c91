// The package metadata of a minimal root (see include/minify/packages.hpp): what scanners read to
// know which packages, at which versions, an image ships.
//
// dpkg: distroless' layout, /var/lib/dpkg/status.d/NAME holding one full stanza and NAME.md5sums
// the shipped files ("md5  path" relative to /, as in info/NAME.md5sums). Trivy's dpkg analyzer
// reads status.d/* as status files and status.d/*.md5sums as installed-file lists; syft and grype
// read the same layout. The root's full /var/lib/dpkg/status is never shipped: it would list
// every package of the builder.
//
// apk: /lib/apk/db/installed with only the contributing packages' records, and in them only the
// R: lines (with their a:/Z: lines) of kept files and the F: lines (with M:) of the directories
// holding them.
#include <set>
#include <unordered_set>

#include "minify/packages.hpp"
#include "packages/builder.hpp"

namespace minify {

namespace {

std::string render_field(const ControlField& f) {
  std::string out = f.name + ":";
  if (!f.value.empty() && f.value.front() != '\n') out += " ";
  out += f.value;
  out += "\n";
  return out;
}

// Keeps the Conffiles lines of kept files.
std::string trim_conffiles(const Package& pkg, const std::string& value, const std::unordered_set<std::string>& kept) {
  std::unordered_map<std::string, std::string> canonical;
  for (const auto& f : pkg.files) canonical.emplace(f.listed, f.path);
  std::string out;
  for (const auto& c : conffile_lines(value)) {
    std::string path(c.path);
    auto it = canonical.find(path);
    if (kept.contains(it == canonical.end() ? path : it->second)) out.append("\n").append(c.line);
  }
  return out;
}

}  // namespace

std::vector<ConffileLine> conffile_lines(std::string_view value) {
  std::vector<ConffileLine> out;
  for (size_t pos = 0; pos <= value.size();) {
    size_t nl = std::min(value.find('\n', pos), value.size());
    std::string_view line = value.substr(pos, nl - pos);
    pos = nl + 1;
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) continue;
    std::string_view path = line.substr(start, line.find(' ', start) - start);
    out.push_back({line, path, line.find(" obsolete", start) != std::string_view::npos});
  }
  return out;
}

std::string dpkg_status_stanza(const Package& pkg, const PackageUsage& usage) {
  std::unordered_set<std::string> kept(usage.kept.begin(), usage.kept.end());
  std::string out;
  for (const auto& f : pkg.fields) {
    if (f.name == "Conffiles") {
      std::string v = trim_conffiles(pkg, f.value, kept);
      if (!v.empty()) out += render_field({f.name, v});
      continue;
    }
    out += render_field(f);
  }
  return out;
}

std::string dpkg_md5sums(const Package& pkg, const PackageUsage& usage) {
  std::unordered_set<std::string> kept(usage.kept.begin(), usage.kept.end());
  std::string out;
  std::unordered_set<std::string> written;
  for (const auto& f : pkg.files) {
    if (f.digest.empty() || !kept.contains(f.path) || !written.insert(f.listed).second) continue;
    out += f.digest + "  " + f.listed.substr(1) + "\n";
  }
  return out;
}

std::string apk_installed(const PackageDb& db, const PackageReport& report) {
  std::string out;
  for (const auto& u : report.packages) {
    if (u.kept.empty()) continue;
    const Package& p = db.packages()[u.package];
    std::unordered_set<std::string> kept(u.kept.begin(), u.kept.end());
    std::unordered_map<std::string, std::string> canonical;
    for (const auto& f : p.files) canonical.emplace(f.listed, f.path);
    std::string record, dir_lines, dir;
    bool dir_written = false, in_kept_file = false, in_file = false;
    size_t pos = 0;
    while (pos < p.stanza.size()) {
      size_t nl = p.stanza.find('\n', pos);
      if (nl == std::string::npos) nl = p.stanza.size();
      std::string line = p.stanza.substr(pos, nl - pos);
      pos = nl + 1;
      char k = line.empty() ? '\0' : line[0];
      if (k == 'F') {
        dir = line.substr(2);
        dir_lines = line + "\n";
        dir_written = in_file = false;
      } else if (k == 'M' && !in_file) {
        dir_lines += line + "\n";
      } else if (k == 'R') {
        in_file = true;
        // The canonical path of this R: is that of the package file with the same listing.
        std::string listed = normalize_path("/" + dir + "/" + line.substr(2));
        auto c = canonical.find(listed);
        in_kept_file = c != canonical.end() && kept.contains(c->second);
        if (in_kept_file) {
          if (!dir_written) record += dir_lines;
          dir_written = true;
          record += line + "\n";
        }
      } else if (k == 'Z' || k == 'a' || (k == 'M' && in_file)) {
        if (in_kept_file) record += line + "\n";
      } else {
        record += line + "\n";
      }
    }
    out += record + "\n";
  }
  return out;
}

Status add_package_metadata(FileSet& set, const Root& root, PackageDb& db, const PackageReport& report) {
  const Reason why{ReasonKind::Generated, "package metadata of the shipped packages"};
  // The builder's own database lists every package; whatever of it the program read is replaced.
  std::vector<std::string> stale;
  for (const auto& [path, e] : set)
    if (path == "/var/lib/dpkg/status" || path == "/var/lib/dpkg/status-old" || path.starts_with("/var/lib/dpkg/info/") ||
        path.starts_with("/var/lib/dpkg/status.d/") || path == "/lib/apk/db/installed")
      stale.push_back(path);
  for (const auto& p : stale) set.remove(p);
  if (report.contributing() == 0) return Ok{};
  switch (db.kind()) {
    case PackageDbKind::None: return Ok{};
    case PackageDbKind::Apk: return set.add_generated("/lib/apk/db/installed", apk_installed(db, report), 0644, why);
    case PackageDbKind::Dpkg: break;
  }
  // distroless names the files after the package; two architectures of one Multi-Arch: same
  // package get their "NAME:ARCH" key instead.
  std::set<std::string> names;
  std::set<std::string> clash;
  for (const auto& u : report.packages)
    if (!u.kept.empty() && !names.insert(u.name).second) clash.insert(u.name);
  for (const auto& u : report.packages) {
    if (u.kept.empty()) continue;
    if (auto st = db.load_digests(root, u.package); !st) return st;
    const Package& p = db.packages()[u.package];
    std::string file = "/var/lib/dpkg/status.d/" + (clash.contains(p.name) ? p.key : p.name);
    if (auto st = set.add_generated(file, dpkg_status_stanza(p, u), 0644, why); !st) return st;
    std::string sums = dpkg_md5sums(p, u);
    if (!sums.empty())
      if (auto st = set.add_generated(file + ".md5sums", std::move(sums), 0644, why); !st) return st;
  }
  return Ok{};
}

}  // namespace minify
