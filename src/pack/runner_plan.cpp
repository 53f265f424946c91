// plan_runner(): how the runner stage ships a file set on a base image (pack.hpp).
//
// Each entry is first put under the runtime need it serves, by what it is: a CA certificate or
// bundle, the zone database, the user database, nsswitch.conf and its modules, the files the
// container runtime mounts, a file of one of the base's own packages, package metadata. Then
// each need is decided against what the base has (base_contents(), bases.cpp), not path by path:
// a program that needs a CA bundle on a base that has one gets none of the builder's 1,065
// certificate files, only what the builder trusts and the base does not.
//
// Sources: update-ca-certificates(8) (every certificate it enables goes into
// /etc/ssl/certs/ca-certificates.crt, local ones from /usr/local/share/ca-certificates);
// Go's crypto/x509/root_unix.go (the first bundle found, then every file of /etc/ssl/certs);
// docs.docker.com/engine/network/#dns-services and the CRI (the runtime bind-mounts
// /etc/hosts, /etc/resolv.conf and /etc/hostname over the image's); glibc nss/nss_module.c (a
// service nsswitch.conf does not name is never loaded).
#include <algorithm>
#include <cctype>
#include <functional>
#include <span>

#include "minify/pack.hpp"
#include "pack/name_list.hpp"

namespace minify {

namespace {

bool under(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}
bool at_or_under(std::string_view path, std::string_view dir) { return path == dir || under(path, dir); }

bool has_reason(const Entry& e, ReasonKind k) {
  return std::any_of(e.reasons.begin(), e.reasons.end(), [&](const Reason& r) { return r.kind == k; });
}

// Where trust stores live: Debian's and the other layouts Go and OpenSSL look at.
constexpr std::string_view kCaDirs[] = {"/etc/ssl/certs", "/usr/share/ca-certificates", "/usr/local/share/ca-certificates",
                                        "/etc/pki/tls", "/etc/pki/ca-trust", "/usr/lib/ssl/certs"};
constexpr std::string_view kCaFiles[] = {"/etc/ssl/cert.pem", "/usr/lib/ssl/cert.pem", "/etc/ca-certificates.conf",
                                         "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem"};
// The names a combined bundle goes by (Go's certFiles, OpenSSL's cert.pem).
constexpr std::string_view kBundleNames[] = {"ca-certificates.crt", "ca-bundle.crt", "ca-bundle.pem", "cert.pem",
                                             "cacert.pem", "tls-ca-bundle.pem"};
// Mounted over the image by docker, podman, containerd/CRI and buildah run.
constexpr std::string_view kRuntimeFiles[] = {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname"};
// Services the distroless nsswitch.conf names (static/nsswitch.conf).
constexpr std::string_view kBaseNssServices[] = {"compat", "files", "dns", "db", "nis"};
// The accounts of the distroless bases (common/BUILD.bazel): users root, nobody, nonroot;
// groups root, nobody, tty, staff, nonroot.
constexpr uint32_t kBaseUids[] = {0, 65534, 65532};
constexpr uint32_t kBaseGids[] = {0, 65534, 5, 50, 65532};
// Zones that are UTC: the zone a base without /etc/localtime runs in.
constexpr std::string_view kUtcZones[] = {"UTC", "Etc/UTC", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
                                          "UCT", "Etc/UCT"};

bool is_ca_path(std::string_view p) {
  for (auto d : kCaDirs)
    if (at_or_under(p, d)) return true;
  for (auto f : kCaFiles)
    if (p == f) return true;
  return false;
}
bool is_bundle_name(std::string_view p) {
  std::string b = basename_of(p);
  return std::find(std::begin(kBundleNames), std::end(kBundleNames), b) != std::end(kBundleNames);
}
bool is_zoneinfo(std::string_view p) {
  return at_or_under(p, "/usr/share/zoneinfo") || p == "/etc/localtime" || p == "/etc/timezone";
}
// "libnss_systemd.so.2" -> "systemd".
std::string nss_service(std::string_view path) {
  std::string b = basename_of(path);
  if (b.rfind("libnss_", 0) != 0) return "";
  size_t dot = b.find(".so", 7);
  return dot == std::string::npos ? "" : b.substr(7, dot - 7);
}
bool is_copyright(std::string_view p) {
  return p.rfind("/usr/share/doc/", 0) == 0 && p.size() > 25 && p.substr(p.size() - 10) == "/copyright";
}
bool is_release_file(std::string_view p) {
  return p == "/etc/os-release" || p == "/usr/lib/os-release" || p == "/etc/debian_version" ||
         p == "/etc/alpine-release" || p == "/etc/lsb-release";
}

// The PEM certificates of a text, each reduced to its base64 body, so that one file's
// certificate can be found in a bundle whatever its line endings.
std::vector<std::string> pem_bodies(std::string_view text) {
  std::vector<std::string> out;
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----", kEnd = "-----END CERTIFICATE-----";
  for (size_t at = text.find(kBegin); at != std::string_view::npos; at = text.find(kBegin, at)) {
    size_t end = text.find(kEnd, at);
    if (end == std::string_view::npos) break;
    std::string body;
    for (char c : text.substr(at + kBegin.size(), end - at - kBegin.size()))
      if (c != '\n' && c != '\r' && c != ' ' && c != '\t') body += c;
    out.push_back(std::move(body));
    at = end + kEnd.size();
  }
  return out;
}

// "/x/__pycache__/m.cpython-311.pyc" -> "/x/m.py"; "" for other paths.
std::string pyc_source(std::string_view path) {
  std::string dir = dirname_of(path), base = basename_of(path);
  if (basename_of(dir) != "__pycache__" || !base.ends_with(".pyc")) return "";
  size_t dot = base.find('.');
  return join_path(dirname_of(dir), base.substr(0, dot) + ".py");
}

class Planner {
 public:
  Planner(const FileSet& set, const RunnerPlanOptions& o) : set_(set), o_(o), base_(base_contents(o.base)) {
    plan_.base = o.base;
  }

  RunnerPlan run() {
    traced_ = std::any_of(set_.begin(), set_.end(), [](const auto& kv) { return has_reason(kv.second, ReasonKind::Opened); });
    if (o_.packages)
      for (const auto& [path, e] : set_)
        if (e.type != EntryType::Directory && !e.generated) {
          const Package* p = o_.packages->owner(path);
          // Bytecode py3compile wrote at install time belongs to the package of its source.
          if (!p) p = o_.packages->owner(pyc_source(path));
          if (p) plan_.package_of[path] = p->name;
        }
    certificates();
    zoneinfo();
    users();
    nsswitch();
    runtime_files();
    loader_cache();
    python_metadata();
    base_packages();
    metadata();
    owned_directories();
    whole_directories();
    links_and_directories();
    return std::move(plan_);
  }

 private:
  RunnerNeed& need(const std::string& name) {
    for (auto& n : plan_.needs)
      if (n.need == name) return n;
    plan_.needs.push_back(RunnerNeed{name, "", "", {}, {}});
    return plan_.needs.back();
  }
  // Leaves an entry out, and with a file the links it was asked for by (a certificate's hash
  // link), so that no directory COPY brings them dangling.
  void skip(RunnerNeed& n, const std::string& path) {
    if (plan_.not_copied.emplace(path, n.need).second) n.not_copied.push_back(path);
    if (const Entry* e = set_.find(path); e && e->type == EntryType::File)
      for (const auto& name : e->names)
        if (name != path && set_.find(name) && plan_.not_copied.emplace(name, n.need).second) n.not_copied.push_back(name);
  }
  std::string package_of(const std::string& path) const {
    auto i = plan_.package_of.find(path);
    return i == plan_.package_of.end() ? "" : i->second;
  }
  std::string base_ref() const { return std::string(base_.repository); }

  // Is this file a certificate (PEM)? The trust store directories also hold other things
  // (Java's keystore in /etc/ssl/certs/java): by content when the root is there, else by name.
  bool is_certificate(const std::string& path) const {
    if (o_.root) {
      auto text = o_.root->read_file(path, 1 << 20);
      return text && text->find("-----BEGIN CERTIFICATE-----") != std::string::npos;
    }
    std::string b = basename_of(path);
    return b.ends_with(".pem") || b.ends_with(".crt") || (b.size() > 2 && b[b.size() - 2] == '.' && std::isdigit(static_cast<unsigned char>(b.back())) != 0);
  }
  // A certificate the base's bundle does not have: a file no package or another package than
  // ca-certificates ships (a local CA from /usr/local/share/ca-certificates). Without a package
  // database, only Debian's /usr/share/ca-certificates counts as the package's.
  bool builder_only(const std::string& path) const {
    if (is_bundle_name(path) || !is_certificate(path)) return false;
    if (o_.packages) return package_of_any(path) != "ca-certificates";
    return !under(path, "/usr/share/ca-certificates");
  }
  std::string package_of_any(const std::string& path) const {
    if (auto p = package_of(path); !p.empty()) return p;
    if (!o_.packages) return "";
    const Package* p = o_.packages->owner(path);
    return p ? p->name : "";
  }
  // The certificates of the builder's trust store that are not Debian's: what
  // update-ca-certificates linked into /etc/ssl/certs from elsewhere than the ca-certificates
  // package. Their names and PEM bodies.
  std::vector<std::pair<std::string, std::string>> local_certificates() const {
    std::vector<std::pair<std::string, std::string>> out;
    if (!o_.root) return out;
    auto names = o_.root->list_dir("/etc/ssl/certs");
    if (!names) return out;
    std::set<std::string> seen;
    for (const auto& n : *names) {
      auto r = o_.root->resolve("/etc/ssl/certs/" + n);
      if (!r || !seen.insert(r->path).second || !builder_only(r->path)) continue;
      auto text = o_.root->read_file(r->path, 1 << 20);
      if (!text) continue;
      for (auto& body : pem_bodies(*text)) out.emplace_back(basename_of(r->path), std::move(body));
    }
    return out;
  }

  void certificates() {
    std::vector<std::string> files, bundles;
    for (const auto& [path, e] : set_) {
      if (e.generated || !is_ca_path(path)) continue;
      if (e.type == EntryType::File) (is_bundle_name(path) ? bundles : files).push_back(path);
    }
    if (files.empty() && bundles.empty()) return;
    RunnerNeed& n = need("ca-certificates");
    if (base_.ca_bundle) {
      // The base's bundle is every certificate of Debian's ca-certificates. What the builder
      // trusts beyond it is copied: the certificate files the program read, under the names it
      // read them by, and the builder's bundle when the program read it and it holds such
      // certificates (update-ca-certificates puts local ones into it).
      std::set<std::string> own_names;
      std::vector<std::string> own;
      for (const auto& f : files)
        if (builder_only(f)) {
          own.push_back(f);
          own_names.insert(basename_of(f));
        }
      std::vector<std::string> own_bundles;
      if (!bundles.empty()) {
        auto local = local_certificates();
        for (const auto& b : bundles) {
          auto text = o_.root ? o_.root->read_file(b) : Result<std::string>(bad_input("read", b, "no root"));
          if (!text) continue;
          std::string bodies;
          for (auto& body : pem_bodies(*text)) bodies += body + "\n";
          bool holds = false;
          for (const auto& [name, body] : local)
            if (bodies.find(body + "\n") != std::string::npos) {
              holds = true;
              own_names.insert(name);
            }
          if (holds) own_bundles.push_back(b);
        }
      }
      for (const auto& [path, e] : set_)
        if (!e.generated && is_ca_path(path)) skip(n, path);
      n.met_by = "provided by the base";
      n.detail = base_ref() + " has /etc/ssl/certs/ca-certificates.crt (the certificates of Debian's ca-certificates) "
                 "and SSL_CERT_FILE naming it";
      if (own.empty() && own_bundles.empty()) return;
      std::string why = "the builder also trusts " + name_list(own_names) + ", which the base does not: copied";
      for (const auto& f : own) keep(n, f, why);
      for (const auto& b : own_bundles) keep(n, b, why);
      n.detail += "; " + why;
      return;
    }
    // No trust store in the base: the bundle carries every certificate update-ca-certificates
    // enabled, so a certificate file whose certificates are all in it (the hash links Go reads
    // one by one) is left out. Only with the root to read both.
    n.met_by = "copied";
    n.detail = "the base has no CA bundle";
    if (!o_.root || bundles.empty()) return;
    std::string bundle_bodies;
    for (const auto& b : bundles)
      if (auto text = o_.root->read_file(b))
        for (auto& body : pem_bodies(*text)) bundle_bodies += body + "\n";
    size_t left_out = 0;
    for (const auto& f : files) {
      auto text = o_.root->read_file(f, 1 << 20);
      if (!text) continue;
      auto bodies = pem_bodies(*text);
      bool in_bundle = !bodies.empty() && std::all_of(bodies.begin(), bodies.end(), [&](const std::string& b) {
        return bundle_bodies.find(b + "\n") != std::string::npos;
      });
      if (in_bundle) {
        skip(n, f);
        ++left_out;
      }
    }
    for (const auto& b : bundles) n.copied.push_back(b);
    if (left_out > 0)
      n.detail += ": the builder's bundle is copied; " + std::to_string(left_out) +
                  " certificate files whose certificates are all in it are not";
  }

  void keep(RunnerNeed& n, const std::string& path, const std::string& why) {
    plan_.kept_because[path] = why;
    if (plan_.not_copied.erase(path)) std::erase(n.not_copied, path);
    n.copied.push_back(path);
  }

  void zoneinfo() {
    std::vector<std::string> zone;
    for (const auto& [path, e] : set_)
      if (!e.generated && is_zoneinfo(path)) zone.push_back(path);
    if (zone.empty()) return;
    RunnerNeed& n = need("zoneinfo");
    const Entry* localtime = set_.find("/etc/localtime");
    std::string local;  // the builder's zone, when /etc/localtime names one
    if (localtime && localtime->type == EntryType::Symlink) {
      std::string t = localtime->link_target;
      if (auto z = t.find("zoneinfo/"); z != std::string::npos) local = t.substr(z + 9);
    }
    bool utc = localtime == nullptr ||
               std::find(std::begin(kUtcZones), std::end(kUtcZones), local) != std::end(kUtcZones);
    if (base_.tzdata) {
      n.met_by = "provided by the base";
      n.detail = base_ref() + " has Debian's tzdata in /usr/share/zoneinfo";
      for (const auto& p : zone) skip(n, p);
      if (utc) {
        n.detail += "; it has no /etc/localtime, which means UTC, as on the builder";
      } else {
        // The base runs in UTC: the builder's zone goes in as /etc/localtime (COPY writes the
        // zone file a link names under the link's name).
        keep(n, "/etc/localtime", "the builder's zone is " + (local.empty() ? std::string("not UTC") : local) +
                                      " and the base has no /etc/localtime (UTC): copied");
        n.detail += "; /etc/localtime copied (" + (local.empty() ? std::string("a zone file") : local) + ")";
      }
      return;
    }
    // No zone database in the base: only the zones the program read, when the set comes from a
    // trace (a --static-only set has no evidence of use and keeps them all).
    n.met_by = "copied";
    if (!traced_) {
      n.detail = "no trace: the whole zone database is copied";
      return;
    }
    size_t used = 0, all = 0;
    auto read = [](const Entry& e) {
      return std::any_of(e.reasons.begin(), e.reasons.end(), [](const Reason& r) {
        return r.kind != ReasonKind::Implicit && r.kind != ReasonKind::SymlinkOnTheWay && r.kind != ReasonKind::Directory;
      });
    };
    for (const auto& p : zone) {
      const Entry* e = set_.find(p);
      if (e->type == EntryType::Directory || p == "/etc/localtime") continue;
      ++all;
      bool wanted = read(*e);
      // A link the program opened a zone through (PHP opens zoneinfo/UTC -> Etc/UTC): without it
      // the name the program asks for is missing although the zone file is there.
      for (const Reason& r : e->reasons) {
        if (wanted || r.kind != ReasonKind::SymlinkOnTheWay || !r.detail.starts_with("to ")) continue;
        const Entry* to = set_.find(r.detail.substr(3));
        wanted = to && read(*to);
      }
      // A file /etc/localtime names is in use even when only the link was read.
      if (!wanted && localtime && !local.empty() && p == "/usr/share/zoneinfo/" + local) wanted = true;
      if (wanted) {
        ++used;
      } else {
        skip(n, p);
      }
    }
    n.detail = "only the zones the program read: " + std::to_string(used) + " of " + std::to_string(all) + " files";
  }

  void users() {
    // The builder's password hashes never go into an image, whatever read them while traced.
    for (std::string_view p : {"/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"})
      if (const Entry* e = set_.find(p); e && !e->generated) {
        RunnerNeed& n = need("password-hashes");
        n.met_by = "not copied";
        n.detail = "the builder's password hashes stay out of the image";
        skip(n, std::string(p));
      }
    if (!base_.users) return;
    std::vector<std::string> files;
    for (std::string_view p : {"/etc/passwd", "/etc/group"})
      if (set_.find(p)) files.emplace_back(p);
    if (files.empty()) return;
    RunnerNeed& n = need("user-database");
    // The base's accounts are enough when every account of the set's files is one of them, by
    // id (the set's /etc/passwd is minify's, with the accounts the image needs: its User and
    // the owners of its files). Otherwise the set's files come from the build context.
    std::set<std::string> missing;
    for (const auto& f : files)
      for (const auto& [name, id] : accounts(f)) {
        std::span<const uint32_t> known = f == "/etc/passwd" ? std::span<const uint32_t>(kBaseUids) : kBaseGids;
        if (std::find(known.begin(), known.end(), id) == known.end())
          missing.insert(name + " (" + std::to_string(id) + ")");
      }
    if (!missing.empty()) {
      n.met_by = "copied";
      n.detail = "the image needs accounts " + base_ref() + " does not have: " + name_list(missing);
      for (const auto& f : files) {
        n.copied.push_back(f);
        plan_.from_context.insert(f);
      }
      return;
    }
    n.met_by = "provided by the base";
    n.detail = base_ref() + " has /etc/passwd and /etc/group with root, nobody (65534) and nonroot (65532)";
    for (const auto& f : files) skip(n, f);
  }
  // The accounts of a passwd or group file of the set: name and id (the third field).
  std::vector<std::pair<std::string, uint32_t>> accounts(const std::string& path) const {
    std::vector<std::pair<std::string, uint32_t>> out;
    const Entry* e = set_.find(path);
    if (!e || e->type != EntryType::File) return out;
    std::string text = e->content;
    if (!e->generated && o_.root)
      if (auto t = o_.root->read_file(path, 1 << 20)) text = std::move(*t);
    size_t at = 0;
    while (at < text.size()) {
      size_t nl = text.find('\n', at);
      std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      at = nl == std::string::npos ? text.size() : nl + 1;
      size_t c1 = line.find(':'), c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
      size_t c3 = c2 == std::string::npos ? c2 : line.find(':', c2 + 1);
      if (c3 == std::string::npos || line.empty() || line[0] == '#') continue;
      std::string id = line.substr(c2 + 1, c3 - c2 - 1);
      if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos || id.size() > 9) continue;
      out.emplace_back(line.substr(0, c1), static_cast<uint32_t>(std::stoul(id)));
    }
    return out;
  }

  void nsswitch() {
    std::vector<std::string> files;
    for (const auto& [path, e] : set_) {
      if (path == "/etc/nsswitch.conf") files.push_back(path);
      std::string service = nss_service(path);
      if (!service.empty() && e.type == EntryType::File && base_.libc &&
          std::find(std::begin(kBaseNssServices), std::end(kBaseNssServices), service) == std::end(kBaseNssServices))
        files.push_back(path);
    }
    if (files.empty() || !base_.nsswitch) return;
    RunnerNeed& n = need("nsswitch");
    n.met_by = "provided by the base";
    n.detail = base_ref() + " has its own /etc/nsswitch.conf (passwd: compat, hosts: files dns), whose services "
               "are in its libc; modules only the builder's nsswitch.conf named are not loaded there";
    for (const auto& f : files) skip(n, f);
  }

  // The builder's files and minify's own (the loopback-only /etc/hosts that stands in for the
  // builder's in the rootfs and the OCI archive, which runc does not mount over) alike.
  void runtime_files() {
    std::vector<std::string> files;
    for (auto p : kRuntimeFiles)
      if (set_.find(p)) files.emplace_back(p);
    if (files.empty()) return;
    RunnerNeed& n = need("host-files");
    n.met_by = "provided by the container runtime";
    n.detail = "docker, podman and Kubernetes mount /etc/hosts, /etc/resolv.conf and /etc/hostname over the image's";
    for (const auto& f : files) skip(n, f);
  }

  // ld.so reads /etc/ld.so.cache whenever it is there, so the trace always sees it; the image
  // needs it only when a library was found through it outside the loader's own directories
  // (collect.cpp adds it then, with an Implicit reason).
  void loader_cache() {
    const Entry* e = set_.find("/etc/ld.so.cache");
    if (!e || e->generated || has_reason(*e, ReasonKind::Implicit) || has_reason(*e, ReasonKind::Kept)) return;
    RunnerNeed& n = need("loader-cache");
    n.met_by = "not needed";
    n.detail = "every library is in the loader's default directories; ld.so reads the cache when there is one";
    skip(n, "/etc/ld.so.cache");
  }

  // pkg_resources (gunicorn, anything with entry points) reads the metadata of every
  // distribution on sys.path. The metadata of a distribution none of whose modules is shipped
  // describes nothing in the image: scanners would report it as installed, and importlib.metadata
  // and pkg_resources simply do not list it. Its top-level names come from top_level.txt (or
  // RECORD), else from the distribution's name.
  void python_metadata() {
    std::map<std::string, std::vector<std::string>> dists;  // NAME.egg-info dir -> its entries in the set
    for (const auto& [path, e] : set_) {
      if (e.generated) continue;
      for (std::string_view site : {"/site-packages/", "/dist-packages/"}) {
        size_t at = path.find(site);
        if (at == std::string::npos) continue;
        size_t start = at + site.size(), end = path.find('/', start);
        std::string top = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (top.ends_with(".egg-info") || top.ends_with(".dist-info"))
          dists[path.substr(0, start) + top].push_back(path);
        break;
      }
    }
    size_t left_out = 0;
    for (const auto& [dir, entries] : dists) {
      std::string site = dirname_of(dir);
      bool shipped = false;
      for (const auto& name : top_level_names(dir)) {
        for (std::string candidate : {site + "/" + name, site + "/" + name + ".py"})
          if (set_.find(candidate)) shipped = true;
        // An extension module: NAME.cpython-311-x86_64-linux-gnu.so.
        if (!shipped)
          for (const auto& [p, e] : set_)
            if (dirname_of(p) == site && basename_of(p).rfind(name + ".", 0) == 0 && basename_of(p).ends_with(".so")) {
              shipped = true;
              break;
            }
        if (shipped) break;
      }
      if (shipped) continue;
      RunnerNeed& n = need("python-metadata");
      n.met_by = "not copied";
      for (const auto& p : entries) skip(n, p);
      if (set_.find(dir)) skip(n, dir);
      ++left_out;
    }
    if (left_out)
      need("python-metadata").detail = "the metadata of " + std::to_string(left_out) +
                                       " Python distributions none of whose modules is shipped (read by pkg_resources "
                                       "scanning sys.path): scanners would report them as installed";
  }
  std::vector<std::string> top_level_names(const std::string& dir) const {
    std::vector<std::string> out;
    auto add_lines = [&](const std::string& text, bool record) {
      size_t at = 0;
      while (at < text.size()) {
        size_t nl = text.find('\n', at);
        std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? text.size() : nl + 1;
        if (record) line = line.substr(0, line.find_first_of("/,"));
        if (line.ends_with(".py")) line.resize(line.size() - 3);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty() && line.find(".dist-info") == std::string::npos && line != "__pycache__" && line != ".." &&
            std::find(out.begin(), out.end(), line) == out.end())
          out.push_back(line);
      }
    };
    if (o_.root) {
      if (auto t = o_.root->read_file(dir + "/top_level.txt", 1 << 20)) add_lines(*t, false);
      if (out.empty())
        if (auto r = o_.root->read_file(dir + "/RECORD", 8 << 20)) add_lines(*r, true);
    }
    if (out.empty()) {
      // "Flask-2.2.2.egg-info" -> "flask"; "python_apt-2.6.0" -> "python_apt".
      std::string name = basename_of(dir);
      name = name.substr(0, name.find_first_of("-."));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.push_back(name);
    }
    return out;
  }

  // Files of the packages the base installs (libc6, libssl3, ...): by owner when the database
  // tells, else by the names base_provides() knows.
  void base_packages() {
    if (base_.repository.empty()) return;
    std::set<std::string> hit;
    std::vector<std::string> files;
    for (const auto& [path, e] : set_) {
      if (e.generated || e.type == EntryType::Directory || plan_.not_copied.count(path) || plan_.kept_because.count(path))
        continue;
      if (is_copyright(path) || path.rfind("/var/lib/dpkg/", 0) == 0) continue;  // metadata(): below
      std::string pkg = package_of(path);
      bool provided = false;
      if (!pkg.empty()) {
        provided = std::find(base_.packages.begin(), base_.packages.end(), pkg) != base_.packages.end();
      } else {
        // By name: every name the file was asked for (libssl.so.3 for libssl.so.3.0.11).
        const std::vector<std::string> names = e.names.empty() ? std::vector<std::string>{path} : e.names;
        provided = std::all_of(names.begin(), names.end(), [&](const std::string& n) { return base_provides(o_.base, n); });
      }
      if (!provided) continue;
      files.push_back(path);
      hit.insert(pkg.empty() ? std::string("(by name)") : pkg);
    }
    if (files.empty()) return;
    RunnerNeed& n = need("base-packages");
    n.met_by = "provided by the base";
    std::string list;
    for (const auto& p : hit) list += (list.empty() ? "" : ", ") + p;
    n.detail = base_ref() + " installs " + list;
    for (const auto& f : files) skip(n, f);
  }

  // dpkg status.d, copyright and release files: the base's own for its packages; the others come
  // from the build context with the rest of what minify writes, in one COPY.
  void metadata() {
    for (const auto& [path, e] : set_) {
      if (plan_.not_copied.count(path) || plan_.kept_because.count(path)) continue;
      bool meta = path.rfind("/var/lib/dpkg/status.d/", 0) == 0 || is_copyright(path) ||
                  (is_release_file(path) && has_reason(e, ReasonKind::Package));
      if (meta && base_provides(o_.base, path)) {
        RunnerNeed& n = need("package-metadata");
        n.met_by = "provided by the base";
        n.detail = base_ref() + " has the status.d, copyright and release files of its own packages";
        skip(n, path);
        continue;
      }
      if (e.generated && base_provides(o_.base, path)) {
        RunnerNeed& n = need("base-files");
        n.met_by = "provided by the base";
        n.detail = base_ref() + " has /tmp (1777), /home/nonroot and the users of a scratch image";
        skip(n, path);
        continue;
      }
      if (e.type == EntryType::Directory) {
        // Directories made only to hold generated entries come with them.
        if (e.generated && std::any_of(e.reasons.begin(), e.reasons.end(),
                                       [](const Reason& r) { return r.kind != ReasonKind::Directory; }))
          plan_.from_context.insert(path);
        continue;
      }
      if (e.generated || (meta && (e.type == EntryType::File || e.type == EntryType::Symlink))) plan_.from_context.insert(path);
    }
    // A symlink in the context needs its target there too (/etc/os-release -> ../usr/lib/os-release).
    for (auto it = plan_.from_context.begin(); it != plan_.from_context.end(); ++it) {
      const Entry* e = set_.find(*it);
      if (!e || e->type != EntryType::Symlink) continue;
      std::string target = normalize_path(e->link_target.front() == '/' ? e->link_target
                                                                         : join_path(dirname_of(*it), e->link_target));
      if (set_.find(target) && !plan_.not_copied.count(target)) plan_.from_context.insert(target);
    }
  }

  // Directories the image's user must own (the file set gives them a non-root owner: the program
  // wrote into them while traced). A COPY gives what it creates to root, so they come from the
  // build context with --chown, grouped under a parent that exists by then (pack.hpp): the
  // parent comes from the context (the generated COPY runs first), unless the base has it or it
  // is owned itself; an owned directory inside an owned directory of the same owner goes with it.
  void owned_directories() {
    std::map<std::string, const Entry*> dirs;  // sorted: a parent before its children
    for (const auto& [path, e] : set_)
      if (e.type == EntryType::Directory && path != "/" && (e.uid != 0 || e.gid != 0) && !plan_.not_copied.count(path) &&
          !base_provides(o_.base, path))
        dirs[path] = &e;
    if (dirs.empty()) return;
    RunnerNeed& n = need("writable-directories");
    n.met_by = "copied";
    std::map<std::string, size_t> group_of;  // owned directory -> its group
    for (const auto& [path, e] : dirs) {
      owned_.insert(path);
      plan_.from_context.erase(path);
      n.copied.push_back(path);
      std::string parent = dirname_of(path);
      auto up = dirs.find(parent);
      if (up != dirs.end() && up->second->uid == e->uid && up->second->gid == e->gid) {
        size_t g = group_of.at(parent);
        plan_.owned[g].dirs.push_back(path);
        group_of[path] = g;
        continue;
      }
      size_t g = plan_.owned.size();
      for (size_t i = 0; i < plan_.owned.size(); ++i)
        if (plan_.owned[i].parent == parent && plan_.owned[i].uid == e->uid && plan_.owned[i].gid == e->gid) g = i;
      if (g == plan_.owned.size()) plan_.owned.push_back({parent, e->uid, e->gid, {}});
      plan_.owned[g].dirs.push_back(path);
      group_of[path] = g;
      if (parent != "/" && up == dirs.end() && !base_provides(o_.base, parent)) plan_.from_context.insert(parent);
    }
    std::set<std::string> owners;
    for (const auto& g : plan_.owned) owners.insert(std::to_string(g.uid) + ":" + std::to_string(g.gid));
    n.detail = std::to_string(dirs.size()) + " directories the program wrote into, owned by " + name_list(owners) +
               " in the image: from the build context with COPY --chown";
  }

  // A directory is shipped whole when everything in it on the builder is in the set and copied
  // from the builder: one COPY then brings it, links and modes inside it kept.
  void whole_directories() {
    std::map<std::string, bool> memo;
    std::function<bool(const std::string&, const Entry&)> whole = [&](const std::string& dir, const Entry& e) -> bool {
      if (auto m = memo.find(dir); m != memo.end()) return m->second;
      // COPY makes the destination directory itself 0755: another mode needs its own entry.
      bool ok = !e.generated && !plan_.not_copied.count(dir) && !plan_.from_context.count(dir) && !owned_.count(dir) && dir != "/" &&
                (e.mode & 07777) == 0755 &&
                std::none_of(o_.outputs.begin(), o_.outputs.end(), [&](const std::string& out) { return at_or_under(out, dir); });
      if (ok && o_.root) {
        auto names = o_.root->list_dir(dir);
        ok = static_cast<bool>(names);
        for (size_t i = 0; ok && names && i < names->size(); ++i) {
          std::string child = join_path(dir, (*names)[i]);
          const Entry* c = set_.find(child);
          ok = c && !c->generated && !plan_.not_copied.count(child) && !plan_.from_context.count(child) && !owned_.count(child) &&
               !plan_.kept_because.count(child) && (c->type != EntryType::Directory || whole(child, *c));
          // A link the COPY keeps must not point at something left out that the base lacks.
          if (ok && c->type == EntryType::Symlink) {
            std::string target = normalize_path(
                c->link_target.front() == '/' ? c->link_target : join_path(dir, c->link_target));
            ok = !plan_.not_copied.count(target) || base_provides(o_.base, target);
          }
        }
      } else if (ok) {
        ok = e.complete_tree;
        for (const auto& [p, c] : set_)
          if (ok && under(p, dir) && (plan_.not_copied.count(p) || plan_.from_context.count(p) || owned_.count(p) || c.generated))
            ok = false;
      }
      memo[dir] = ok;
      return ok;
    };
    // An empty directory comes from the context (no instruction of its own); one inside a whole
    // directory comes with it.
    std::set<std::string> holders;
    for (const auto& [path, e] : set_)
      for (std::string d = dirname_of(path); d.size() > 1 && holders.insert(d).second; d = dirname_of(d)) {
      }
    for (const auto& [path, e] : set_)
      if (e.type == EntryType::Directory && holders.count(path) && whole(path, e)) {
        bool parent_whole = false;
        for (std::string d = dirname_of(path); d != "/" && !parent_whole; d = dirname_of(d))
          parent_whole = plan_.whole_dirs.count(d) > 0;
        if (!parent_whole) plan_.whole_dirs.insert(path);
      }
  }

  // What a COPY from the builder cannot make comes from the build context, where
  // write_generated() writes it as it is in the set (a directory COPY keeps both inside it):
  // - A link that leads to a file in another directory (/usr/bin/java -> /etc/alternatives/java
  //   -> /usr/lib/jvm/java-17-openjdk-amd64/bin/java). COPY dereferences a source link
  //   (moby/moby#40449): a copy under the link's name finds its libraries through $ORIGIN
  //   relative to the wrong directory (bin/java's RUNPATH is $ORIGIN/../lib). The links of the
  //   chain come from the context and the file is copied under its own path. A link within one
  //   directory (libssl.so.3 -> libssl.so.3.0.11) is still copied under its name: the same bytes
  //   in the same place. A name reached through a directory link (/bin/x on merged /usr) keeps
  //   its copy: the base may have that directory as a real one.
  // - A directory whose mode is not 0755 (/tmp 1777: COPY makes destination directories 0755)
  //   or that holds nothing in the set (COPY makes no empty directory).
  void links_and_directories() {
    auto in_whole = [&](const std::string& p) {
      for (std::string d = dirname_of(p); d.size() > 1; d = dirname_of(d))
        if (plan_.whole_dirs.count(d)) return true;
      return false;
    };
    auto real_name = [&](const std::string& p) { return join_path(real_dir_in_set(set_, dirname_of(p)), basename_of(p)); };
    std::set<std::string> links;
    for (const auto& [path, e] : set_) {
      if (e.type != EntryType::File || e.generated || plan_.not_copied.count(path) || plan_.from_context.count(path)) continue;
      for (const auto& name : e.names) {
        if (name == path || plan_.not_copied.count(name) || real_name(name) != name || dirname_of(name) == dirname_of(path))
          continue;
        // The chain of links from the name to the file, each as it is in the set.
        std::vector<std::string> chain;
        std::string at = name;
        for (int hops = 0; hops <= kMaxSymlinks && at != path; ++hops) {
          const Entry* l = set_.find(at);
          if (!l || l->type != EntryType::Symlink || l->link_target.empty()) break;
          chain.push_back(at);
          at = real_name(normalize_path(l->link_target.front() == '/' ? l->link_target
                                                                        : join_path(dirname_of(at), l->link_target)));
        }
        if (at != path) continue;
        for (const auto& c : chain)
          if (!in_whole(c) && !base_provides(o_.base, c)) links.insert(c);
      }
    }
    if (!links.empty()) {
      RunnerNeed& n = need("links");
      n.met_by = "copied";
      n.detail = std::to_string(links.size()) +
                 " links to files in other directories, made as links from the build context (COPY would copy "
                 "what they point to)";
      for (const auto& l : links) {
        plan_.from_context.insert(l);
        n.copied.push_back(l);
      }
    }
    std::set<std::string> holders;  // directories with something of the set below them
    for (const auto& [path, e] : set_)
      for (std::string d = dirname_of(path); d.size() > 1 && holders.insert(d).second; d = dirname_of(d)) {
      }
    for (const auto& [path, e] : set_) {
      if (e.type != EntryType::Directory || path == "/" || e.generated || plan_.not_copied.count(path) ||
          plan_.from_context.count(path) || owned_.count(path) || plan_.whole_dirs.count(path) || in_whole(path) || base_provides(o_.base, path))
        continue;
      if ((e.mode & 07777) != 0755 || !holders.count(path)) plan_.from_context.insert(path);
    }
  }

  const FileSet& set_;
  const RunnerPlanOptions& o_;
  const BaseContents& base_;
  RunnerPlan plan_;
  std::set<std::string> owned_;  // the directories of plan_.owned
  bool traced_ = false;
};

}  // namespace

RunnerPlan plan_runner(const FileSet& set, const RunnerPlanOptions& options) { return Planner(set, options).run(); }

}  // namespace minify
