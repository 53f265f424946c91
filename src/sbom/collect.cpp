// What the SBOM lists, read from the minimal root's own files: hashes of every regular file, Go
// modules from the build information of Go binaries, npm package.json files, Python distribution
// metadata, and the OS packages packages.hpp found contributing. Purls follow purl-spec
// (https://github.com/package-url/purl-spec/blob/master/PURL-TYPES.rst): deb/apk with the
// os-release ID as namespace and arch/distro qualifiers, golang with the module path as
// namespace/name, npm with "@scope" as an encoded namespace, pypi with the PEP 503 name.

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "minify/digest.hpp"
#include "minify/elf_detail.hpp"
#include "minify/inspect.hpp"
#include "minify/sbom.hpp"

namespace minify {

namespace {

namespace fs = std::filesystem;


bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The header fields of core metadata (PEP 566: RFC 822 headers up to the first blank line).
std::map<std::string, std::string> metadata_headers(std::string_view text) {
  std::map<std::string, std::string> h;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') continue;  // continuation
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key = lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    h.emplace(std::move(key), std::string(value));  // the first occurrence wins
  }
  return h;
}

// "/p/site-packages/Flask-2.2.2.egg-info/PKG-INFO", ".../flask-3.0.0.dist-info/METADATA" or the
// single-file form ".../Foo-1.0.egg-info".
bool is_python_metadata(std::string_view path) {
  return ends_with(path, ".dist-info/METADATA") || ends_with(path, ".egg-info/PKG-INFO") || ends_with(path, ".egg-info");
}

bool is_site_dir(std::string_view path) {
  std::string base = basename_of(path);
  return base == "site-packages" || base == "dist-packages";
}

std::string golang_purl(const std::string& path, const std::string& version) {
  std::string p = "pkg:golang/";
  // Each segment encoded on its own; the last is the name, the rest the namespace.
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    p += purl_encode(lower(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start)));
    if (slash == std::string::npos) break;
    p += '/';
    start = slash + 1;
  }
  if (!version.empty()) p += "@" + purl_encode(version);
  return p;
}

std::string npm_purl(const std::string& name, const std::string& version) {
  std::string p = "pkg:npm/";
  if (!name.empty() && name.front() == '@' && name.find('/') != std::string::npos) {
    size_t slash = name.find('/');
    p += purl_encode(name.substr(0, slash)) + "/" + purl_encode(name.substr(slash + 1));
  } else {
    p += purl_encode(name);
  }
  return p + "@" + purl_encode(version);
}

std::string pypi_purl(const std::string& name, const std::string& version) {
  return "pkg:pypi/" + purl_encode(pep503_name(name)) + "@" + purl_encode(version);
}

std::string os_purl(const OsPackage& p, const std::optional<OsRelease>& os) {
  bool apk = p.kind == PackageDbKind::Apk;
  std::string ns = os && !os->id.empty() ? os->id : apk ? "alpine" : "debian";
  std::string s = std::string(apk ? "pkg:apk/" : "pkg:deb/") + purl_encode(lower(ns)) + "/" + purl_encode(p.name) + "@" +
                  purl_encode(p.version, true);
  // Qualifiers sorted by key (purl-spec canonical form).
  std::vector<std::string> q;
  if (!p.architecture.empty()) q.push_back("arch=" + purl_encode(p.architecture));
  if (os && !os->id.empty() && !os->version_id.empty()) q.push_back("distro=" + purl_encode(lower(os->id) + "-" + os->version_id));
  for (size_t i = 0; i < q.size(); ++i) s += (i ? "&" : "?") + q[i];
  return s;
}

void add_go_modules(const GoBuildInfo& bi, const std::string& binary, std::vector<Component>& out) {
  auto add = [&](const GoModule& m, bool main) {
    std::string path = m.path, version = m.version;
    // A "=> path version" replacement is the code that was built; a local directory
    // replacement ("=> ./dir (devel)") has no identity of its own, so the original's stays.
    if (m.replaced_by && !m.replaced_by->second.empty() && m.replaced_by->second != "(devel)")
      std::tie(path, version) = *m.replaced_by;
    if (version == "(devel)") version.clear();
    Component c;
    c.kind = ComponentKind::GoModule;
    c.name = path;
    c.version = version;
    c.purl = golang_purl(path, version);
    c.found_in = binary;
    c.main_module = main;
    out.push_back(std::move(c));
  };
  if (bi.main && !bi.main->path.empty()) add(*bi.main, true);
  for (const auto& d : bi.deps) add(d, false);
  // The standard library is code of the binary too; scanners match Go advisories against it
  // under this name (Trivy, Syft and govulncheck all call it "stdlib").
  if (bi.go_version.rfind("go", 0) == 0) {
    std::string v = "v" + bi.go_version.substr(2);
    if (size_t sp = v.find(' '); sp != std::string::npos) v.resize(sp);  // "go1.22.1 X:boringcrypto"
    GoModule std_mod{"stdlib", v, {}, std::nullopt};
    add(std_mod, false);
  }
}

struct Collector {
  const FileSet& set;
  const Root& root;
  Sbom& sbom;
  Context* diag;

  void warn(std::string w) {
    if (diag) diag->warn("sbom", "sbom: " + std::move(w));
  }

  // Regular file contents: generated text or the mapped file.
  Status with_bytes(const Entry& e, const std::function<void(std::string_view)>& f) {
    if (e.generated) {
      f(e.content);
      return Ok{};
    }
    auto fd = root.open_read(e.path);
    if (!fd) return fd.error();
    auto m = MappedFile::map(fd->get(), e.path);
    if (!m) return m.error();
    f(m->bytes());
    return Ok{};
  }

  void look_at(const Entry& e, std::string_view bytes) {
    if (bytes.size() > 4 && bytes.substr(0, 4) == "\x7f" "ELF" && bytes.find("\xff Go buildinf:") != std::string_view::npos) {
      auto detail = read_elf_detail(bytes, e.path, ElfDetailOptions{false});
      if (!detail) return warn(detail.error().message());
      auto bi = read_go_buildinfo(*detail, bytes, e.path);
      if (!bi) return warn(bi.error().message());
      if (*bi) add_go_modules(**bi, e.path, sbom.components);
    } else if (basename_of(e.path) == "package.json") {
      add_npm(e.path, bytes);
    } else if (is_python_metadata(e.path)) {
      add_python(e.path, bytes);
    }
  }

  void add_npm(const std::string& path, std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    // package.json files without a name and version are not packages (nested
    // {"type": "module"} markers, test fixtures): npm itself only installs named, versioned ones.
    if (j.is_discarded() || !j.is_object()) return;
    auto name = j.find("name");
    auto version = j.find("version");
    if (name == j.end() || version == j.end() || !name->is_string() || !version->is_string()) return;
    std::string n = name->get<std::string>(), v = version->get<std::string>();
    if (n.empty() || v.empty()) return;
    Component c;
    c.kind = ComponentKind::Npm;
    c.name = n;
    c.version = v;
    c.purl = npm_purl(n, v);
    c.found_in = path;
    sbom.components.push_back(std::move(c));
  }

  void add_python(const std::string& path, std::string_view text) {
    auto h = metadata_headers(text);
    auto n = h.find("name");
    auto v = h.find("version");
    if (n == h.end() || v == h.end() || n->second.empty() || v->second.empty()) {
      warn("read Python metadata `" + path + "`: no Name or Version");
      return;
    }
    Component c;
    c.kind = ComponentKind::Python;
    c.name = n->second;
    c.version = v->second;
    c.purl = pypi_purl(c.name, c.version);
    c.found_in = path;
    sbom.components.push_back(std::move(c));
  }

  // A program imports a distribution's modules without reading its metadata, so a traced set
  // holds /usr/lib/python3/dist-packages/flask/ but not Flask-2.2.2.egg-info. The distributions
  // whose top-level modules (top_level.txt, else the first components of RECORD) the set holds
  // are listed, with their metadata read from the root.
  void add_installed_python(const std::string& site, const std::set<std::string>& modules) {
    std::error_code ec;
    std::vector<std::string> dists;
    for (const auto& d : fs::directory_iterator(root.host_path(site), ec)) {
      std::string name = d.path().filename().string();
      if (ends_with(name, ".dist-info") || ends_with(name, ".egg-info")) dists.push_back(name);
    }
    std::sort(dists.begin(), dists.end());
    for (const auto& d : dists) {
      std::string dir = site + "/" + d;
      std::string meta = ends_with(d, ".dist-info") ? dir + "/METADATA" : dir + "/PKG-INFO";
      auto st = root.stat(dir);
      if (st && !S_ISDIR(st->st_mode)) meta = dir;  // single-file .egg-info
      if (set.find(meta)) continue;                 // listed from the set already
      std::set<std::string> tops;
      if (auto t = root.read_file(dir + "/top_level.txt", 1 << 20)) {
        size_t pos = 0;
        while (pos < t->size()) {
          size_t eol = t->find('\n', pos);
          std::string line = t->substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
          pos = eol == std::string::npos ? t->size() : eol + 1;
          while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
          if (!line.empty()) tops.insert(line.substr(0, line.find('/')));
        }
      } else if (auto r = root.read_file(dir + "/RECORD", 16 << 20)) {
        size_t pos = 0;
        while (pos < r->size()) {
          size_t eol = r->find('\n', pos);
          std::string line = r->substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
          pos = eol == std::string::npos ? r->size() : eol + 1;
          std::string first = line.substr(0, std::min(line.find('/'), line.find(',')));
          if (first.empty() || ends_with(first, ".dist-info") || first == ".." || first == "__pycache__") continue;
          if (line.find('/') == std::string::npos || line.find('/') > line.find(',')) first = first.substr(0, first.find('.'));
          tops.insert(first);
        }
      }
      bool used = std::any_of(tops.begin(), tops.end(), [&](const std::string& t) { return modules.count(t) > 0; });
      if (!used) continue;
      auto text = root.read_file(meta, 16 << 20);
      if (!text) {
        warn(text.error().message());
        continue;
      }
      add_python(meta, *text);
    }
  }
};

}  // namespace

std::string_view sbom_format_name(SbomFormat f) {
  switch (f) {
    case SbomFormat::CycloneDx: return "cyclonedx";
    case SbomFormat::Spdx: return "spdx";
  }
  return "";
}

std::optional<SbomFormat> parse_sbom_format(std::string_view name) {
  if (name == "cyclonedx" || name == "cyclonedx-json") return SbomFormat::CycloneDx;
  if (name == "spdx" || name == "spdx-json") return SbomFormat::Spdx;
  return std::nullopt;
}

std::string_view component_kind_name(ComponentKind k) {
  switch (k) {
    case ComponentKind::OsPackage: return "os";
    case ComponentKind::GoModule: return "go";
    case ComponentKind::Npm: return "npm";
    case ComponentKind::Python: return "python";
  }
  return "";
}

std::vector<OsPackage> contributing_packages(const PackageDb& db, const PackageReport& report) {
  std::vector<OsPackage> out;
  for (const auto& u : report.packages) {
    if (u.kept.empty() || u.package >= db.packages().size()) continue;
    const Package& p = db.packages()[u.package];
    OsPackage o;
    o.kind = p.kind;
    o.name = u.name;
    o.version = u.version;
    o.architecture = u.architecture;
    o.source = p.source;
    o.source_version = p.source_version;
    o.files = u.kept;
    std::sort(o.files.begin(), o.files.end());
    out.push_back(std::move(o));
  }
  return out;
}

OsRelease parse_os_release(std::string_view text) {
  OsRelease os;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    size_t eq = line.find('=');
    if (line.empty() || line.front() == '#' || eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), raw = line.substr(eq + 1);
    // Shell-style: one quoted word, backslash escapes inside double quotes (os-release(5)).
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      char q = raw.front();
      for (size_t i = 1; i < raw.size() && raw[i] != q; ++i) {
        if (q == '"' && raw[i] == '\\' && i + 1 < raw.size()) ++i;
        value += raw[i];
      }
    } else {
      value = std::string(raw);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.pop_back();
    }
    if (key == "ID") os.id = value;
    else if (key == "VERSION_ID") os.version_id = value;
    else if (key == "PRETTY_NAME") os.pretty_name = value;
  }
  return os;
}

std::string purl_encode(std::string_view s, bool keep_colon) {
  static const char* d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                 c == '_' || c == '~' || (keep_colon && c == ':');
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += d[c >> 4];
      out += d[c & 15];
    }
  }
  return out;
}

std::string pep503_name(std::string_view name) {
  std::string out;
  bool sep = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      sep = true;
      continue;
    }
    if (sep && !out.empty()) out += '-';
    sep = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

Result<Sbom> collect_sbom(const FileSet& set, const Root& root, const SbomOptions& options, Context* diag) {
  Sbom sbom;
  sbom.subject = options.subject;
  sbom.container = options.container;
  for (const char* f : {"/etc/os-release", "/usr/lib/os-release"})
    if (auto text = root.read_file(f, 1 << 20)) {
      OsRelease os = parse_os_release(*text);
      if (!os.id.empty()) sbom.os = os;
      break;
    }

  Collector c{set, root, sbom, diag};
  std::map<std::string, std::set<std::string>> site_modules;  // site dir -> top-level names in the set
  for (const auto& [path, e] : set) {
    if (std::string parent = dirname_of(path); is_site_dir(parent)) {
      std::string base = basename_of(path);
      site_modules[parent].insert(base.substr(0, base.find('.')));
    }
    if (e.type != EntryType::File) continue;
    FileRecord r;
    r.path = path;
    const Entry& entry = e;  // clang 14 cannot capture a structured binding
    auto st = c.with_bytes(entry, [&](std::string_view bytes) {
      r.sha256 = digest_hex(DigestKind::Sha256, bytes);
      r.sha1 = digest_hex(DigestKind::Sha1, bytes);
      r.size = bytes.size();
      c.look_at(entry, bytes);
    });
    if (!st) return st.error();
    sbom.files.push_back(std::move(r));
  }
  for (const auto& [site, modules] : site_modules) c.add_installed_python(site, modules);

  for (const auto& p : options.os_packages) {
    Component comp;
    comp.kind = ComponentKind::OsPackage;
    comp.name = p.name;
    comp.version = p.version;
    comp.purl = os_purl(p, sbom.os);
    comp.source = p.source;
    comp.source_version = p.source_version.empty() ? p.version : p.source_version;
    comp.files = p.files;
    comp.found_in = p.kind == PackageDbKind::Apk ? "/lib/apk/db/installed" : "/var/lib/dpkg/status.d/" + p.name;
    sbom.components.push_back(std::move(comp));
  }

  // One component per purl (a Go module in two binaries, one npm package in two places): the
  // first evidence in path order names it.
  auto key = [](const Component& x) { return std::tie(x.kind, x.purl, x.name, x.version, x.found_in); };
  std::sort(sbom.components.begin(), sbom.components.end(),
            [&](const Component& a, const Component& b) { return key(a) < key(b); });
  sbom.components.erase(std::unique(sbom.components.begin(), sbom.components.end(),
                                    [](const Component& a, const Component& b) { return a.kind == b.kind && a.purl == b.purl; }),
                        sbom.components.end());
  return sbom;
}

}  // namespace minify
