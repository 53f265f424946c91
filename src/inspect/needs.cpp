// Runtime needs: the files a program reads at run time that no DT_NEEDED names, inferred from what
// its objects import (or define, in a static binary), the libraries they link and, for Go, the
// standard-library functions linked in. Each rule is one row of a table, and every finding keeps
// the evidence that triggered it.
// Sources for the paths: glibc nss/nsswitch.c (defaults when nsswitch.conf is missing; files and
// dns built into libc since 2.34), iconv/gconv_conf.c (GCONV_PATH, <libdir>/gconv),
// sysdeps/generic/unwind-link.c (libgcc_s dlopened for pthread_cancel/pthread_exit), Go's
// crypto/x509/root_linux.go, time/zoneinfo_unix.go, os/user/lookup_unix.go and net/conf.go,
// OpenSSL's X509_get_default_cert_dir (OPENSSLDIR/certs, OPENSSLDIR/cert.pem), Debian's GnuTLS
// (--with-default-trust-store-file=/etc/ssl/certs/ca-certificates.crt).
#include <algorithm>
#include <cstdlib>
#include <map>

#include "inspect/inspect_internal.hpp"

namespace minify {

std::string need_kind_name(NeedKind kind) {
  switch (kind) {
    case NeedKind::CaCertificates: return "ca-certificates";
    case NeedKind::Zoneinfo: return "zoneinfo";
    case NeedKind::Nss: return "nss";
    case NeedKind::UserDatabase: return "user-database";
    case NeedKind::HostResolver: return "host-resolver";
    case NeedKind::Gconv: return "gconv";
    case NeedKind::LibgccS: return "libgcc_s";
  }
  return "unknown";
}

std::vector<std::string> nsswitch_services(std::string_view conf, std::string_view database) {
  std::vector<std::string> out;
  while (!conf.empty()) {
    size_t nl = conf.find('\n');
    std::string_view line = conf.substr(0, nl);
    conf.remove_prefix(nl == std::string_view::npos ? conf.size() : nl + 1);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view db = line.substr(0, colon);
    while (!db.empty() && (db.front() == ' ' || db.front() == '\t')) db.remove_prefix(1);
    while (!db.empty() && (db.back() == ' ' || db.back() == '\t')) db.remove_suffix(1);
    if (db != database) continue;
    out.clear();  // glibc uses the last line for a database
    std::string_view rest = line.substr(colon + 1);
    bool in_action = false;
    std::string word;
    auto flush = [&] {
      if (!word.empty()) out.push_back(word);
      word.clear();
    };
    for (char c : rest) {
      if (c == '[') {
        flush();
        in_action = true;
      } else if (c == ']') {
        in_action = false;
      } else if (!in_action && (c == ' ' || c == '\t' || c == '\r')) {
        flush();
      } else if (!in_action) {
        word += c;
      }
    }
    flush();
  }
  return out;
}

namespace inspect_internal {

namespace {

// Which NSS databases a function consults.
enum Db : unsigned { kHosts = 1, kPasswd = 2, kGroup = 4, kShadow = 8, kServices = 16, kProtocols = 32 };

struct SymbolRule {
  std::string_view symbol;
  NeedKind kind;
  unsigned nss_dbs;  // Db bits, for NeedKind::HostResolver and UserDatabase
};

// C library functions and what they read. A name may appear in several rows.
constexpr SymbolRule kSymbolRules[] = {
    {"getaddrinfo", NeedKind::HostResolver, kHosts},
    {"getnameinfo", NeedKind::HostResolver, kHosts},
    {"gethostbyname", NeedKind::HostResolver, kHosts},
    {"gethostbyname2", NeedKind::HostResolver, kHosts},
    {"gethostbyname_r", NeedKind::HostResolver, kHosts},
    {"gethostbyname2_r", NeedKind::HostResolver, kHosts},
    {"gethostbyaddr", NeedKind::HostResolver, kHosts},
    {"gethostbyaddr_r", NeedKind::HostResolver, kHosts},
    {"getservbyname", NeedKind::HostResolver, kServices},
    {"getservbyname_r", NeedKind::HostResolver, kServices},
    {"getservbyport", NeedKind::HostResolver, kServices},
    {"getprotobyname", NeedKind::HostResolver, kProtocols},
    {"getprotobynumber", NeedKind::HostResolver, kProtocols},
    {"res_init", NeedKind::HostResolver, 0},
    {"res_query", NeedKind::HostResolver, 0},
    {"res_search", NeedKind::HostResolver, 0},
    {"__res_init", NeedKind::HostResolver, 0},
    {"__res_query", NeedKind::HostResolver, 0},
    {"__res_search", NeedKind::HostResolver, 0},
    {"res_ninit", NeedKind::HostResolver, 0},
    {"res_nquery", NeedKind::HostResolver, 0},
    {"res_nsearch", NeedKind::HostResolver, 0},
    {"getpwnam", NeedKind::UserDatabase, kPasswd},
    {"getpwnam_r", NeedKind::UserDatabase, kPasswd},
    {"getpwuid", NeedKind::UserDatabase, kPasswd},
    {"getpwuid_r", NeedKind::UserDatabase, kPasswd},
    {"getpwent", NeedKind::UserDatabase, kPasswd},
    {"getgrnam", NeedKind::UserDatabase, kGroup},
    {"getgrnam_r", NeedKind::UserDatabase, kGroup},
    {"getgrgid", NeedKind::UserDatabase, kGroup},
    {"getgrgid_r", NeedKind::UserDatabase, kGroup},
    {"getgrent", NeedKind::UserDatabase, kGroup},
    {"getgrouplist", NeedKind::UserDatabase, kGroup},
    {"initgroups", NeedKind::UserDatabase, kGroup},
    {"getspnam", NeedKind::UserDatabase, kShadow},
    {"getspnam_r", NeedKind::UserDatabase, kShadow},
    {"iconv_open", NeedKind::Gconv, 0},
    {"pthread_cancel", NeedKind::LibgccS, 0},
    {"pthread_exit", NeedKind::LibgccS, 0},
    {"localtime", NeedKind::Zoneinfo, 0},
    {"localtime_r", NeedKind::Zoneinfo, 0},
    {"mktime", NeedKind::Zoneinfo, 0},
    {"tzset", NeedKind::Zoneinfo, 0},
    {"ctime", NeedKind::Zoneinfo, 0},
    {"ctime_r", NeedKind::Zoneinfo, 0},
    {"SSL_CTX_set_default_verify_paths", NeedKind::CaCertificates, 0},
    {"X509_STORE_set_default_paths", NeedKind::CaCertificates, 0},
    {"gnutls_certificate_set_x509_system_trust", NeedKind::CaCertificates, 0},
};

// Libraries whose presence in the closure means TLS with the system trust store.
struct LibraryRule {
  std::string_view soname_prefix;
  std::string_view stack;  // "OpenSSL", "GnuTLS", "NSS"
};
constexpr LibraryRule kTlsLibraries[] = {
    {"libssl.so.", "OpenSSL"},
    {"libgnutls.so.", "GnuTLS"},
    {"libnss3.so", "NSS"},
};

struct GoRule {
  std::string_view marker;  // a function name in the pclntab
  NeedKind kind;
  bool optional;
};
constexpr GoRule kGoRules[] = {
    {"crypto/x509.loadSystemRoots", NeedKind::CaCertificates, false},
    {"crypto/x509.systemRootsPool", NeedKind::CaCertificates, false},
    {"time.LoadLocation", NeedKind::Zoneinfo, false},
    {"time.initLocal", NeedKind::Zoneinfo, true},
    {"os/user.lookupUser", NeedKind::UserDatabase, false},
    {"os/user.lookupUserId", NeedKind::UserDatabase, false},
    {"os/user.lookupGroup", NeedKind::UserDatabase, false},
    {"net.(*Resolver).lookupHost", NeedKind::HostResolver, false},
    {"net.(*Resolver).lookupIPAddr", NeedKind::HostResolver, false},
    {"net.(*conf).hostLookupOrder", NeedKind::HostResolver, false},
};
constexpr std::string_view kGoTzdataMarker = "time/tzdata.";

const std::vector<std::string> kGoCaFiles = {
    "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
    "/etc/ssl/certs/", "/etc/pki/tls/certs/"};

// Collects needs by kind, merging evidence and paths.
class NeedSet {
 public:
  RuntimeNeed& get(NeedKind kind) {
    for (auto& n : needs_)
      if (n.kind == kind) return n;
    RuntimeNeed n;
    n.kind = kind;
    n.optional = true;  // lowered by the first non-optional finding
    needs_.push_back(std::move(n));
    return needs_.back();
  }
  void add(NeedKind kind, bool optional, Evidence ev, const std::vector<std::string>& paths) {
    RuntimeNeed& n = get(kind);
    if (!optional) n.optional = false;
    bool dup = std::any_of(n.evidence.begin(), n.evidence.end(), [&](const Evidence& e) {
      return e.object == ev.object && e.detail == ev.detail;
    });
    if (!dup) n.evidence.push_back(std::move(ev));
    for (const auto& p : paths)
      if (std::find(n.paths.begin(), n.paths.end(), p) == n.paths.end()) n.paths.push_back(p);
  }
  bool has(NeedKind kind) const {
    return std::any_of(needs_.begin(), needs_.end(), [&](const RuntimeNeed& n) { return n.kind == kind; });
  }
  std::vector<RuntimeNeed> take() { return std::move(needs_); }

 private:
  std::vector<RuntimeNeed> needs_;
};

std::string_view glibc_number(std::string_view v) {
  return v.rfind("GLIBC_", 0) == 0 ? v.substr(6) : std::string_view{};
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    auto take = [](std::string_view& s) {
      long v = 0;
      size_t i = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
      s.remove_prefix(std::min(s.size(), i + 1));
      return v;
    };
    long x = take(a), y = take(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

std::string newer_glibc(const std::string& a, const std::string& b) {
  if (glibc_number(a).empty()) return glibc_number(b).empty() ? std::string() : b;
  if (glibc_number(b).empty()) return a;
  return compare_versions(glibc_number(a), glibc_number(b)) >= 0 ? a : b;
}

const std::vector<std::string_view>& go_marker_strings() {
  static const std::vector<std::string_view> markers = [] {
    std::vector<std::string_view> m;
    for (const auto& r : kGoRules) m.push_back(r.marker);
    m.push_back(kGoTzdataMarker);
    return m;
  }();
  return markers;
}

bool is_needs_symbol(std::string_view name) {
  static const std::unordered_set<std::string_view> names = [] {
    std::unordered_set<std::string_view> n;
    for (const auto& r : kSymbolRules) n.insert(r.symbol);
    return n;
  }();
  return names.count(name) != 0;
}

NeedsResult collect_needs(const std::vector<const ObjectFacts*>& objects, const NeedsContext& ctx) {
  NeedSet set;
  unsigned dbs = 0;
  bool glibc = ctx.family == LoaderFamily::Glibc;
  // A static glibc binary still dlopens NSS modules and gconv modules at run time.
  bool any_static_glibc_nss = false;

  for (const ObjectFacts* o : objects) {
    for (const auto& hit : o->symbol_hits)
    for (const auto& r : kSymbolRules) {
      if (r.symbol != hit.symbol) continue;
      Evidence ev{o->path, hit.detail};
      switch (r.kind) {
        case NeedKind::HostResolver: {
          std::vector<std::string> paths = {"/etc/hosts", "/etc/resolv.conf", "/etc/host.conf"};
          if (r.nss_dbs & kServices) paths = {"/etc/services"};
          if (r.nss_dbs & kProtocols) paths = {"/etc/protocols"};
          set.add(r.kind, false, ev, paths);
          break;
        }
        case NeedKind::UserDatabase: {
          std::vector<std::string> paths;
          if (r.nss_dbs & kPasswd) paths.push_back("/etc/passwd");
          if (r.nss_dbs & kGroup) paths.push_back("/etc/group");
          if (r.nss_dbs & kShadow) paths.push_back("/etc/shadow");
          set.add(r.kind, false, ev, paths);
          break;
        }
        case NeedKind::Gconv:
          // musl's iconv is built in; glibc loads converters from <libdir>/gconv.
          if (glibc && !ctx.libc_dir.empty())
            set.add(r.kind, false, ev, {ctx.libc_dir + "/gconv/gconv-modules", ctx.libc_dir + "/gconv/gconv-modules.d/",
                                        ctx.libc_dir + "/gconv/*.so"});
          break;
        case NeedKind::LibgccS:
          if (glibc) set.add(r.kind, false, ev, {});
          break;
        case NeedKind::Zoneinfo:
          set.add(r.kind, true, ev, {"/etc/localtime", "/usr/share/zoneinfo/"});
          break;
        case NeedKind::CaCertificates:
          set.add(r.kind, false, ev, {"/etc/ssl/certs/"});
          break;
        case NeedKind::Nss:
          break;
      }
      if (r.nss_dbs != 0 && glibc) {
        dbs |= r.nss_dbs;
        if (hit.linked_statically) any_static_glibc_nss = true;
      }
    }
    for (const auto& n : o->needed)
      for (const auto& lib : kTlsLibraries) {
        if (n.rfind(lib.soname_prefix, 0) != 0) continue;
        std::vector<std::string> paths;
        if (lib.stack == "OpenSSL") {
          std::string dir = "/usr/lib/ssl";
          for (const ObjectFacts* x : objects)
            if (!x->openssl_dir.empty()) dir = x->openssl_dir;
          paths = {dir + "/certs/", dir + "/cert.pem", dir + "/openssl.cnf", "/etc/ssl/certs/"};
        } else if (lib.stack == "GnuTLS") {
          paths = {"/etc/ssl/certs/ca-certificates.crt"};
        } else {
          paths = {"/etc/pki/nssdb/", ctx.libc_dir.empty() ? "libnssckbi.so" : ctx.libc_dir + "/nss/libnssckbi.so"};
        }
        set.add(NeedKind::CaCertificates, false, {o->path, "links " + n + " (" + std::string(lib.stack) + ")"}, paths);
      }
    bool tzdata = std::find(o->go_markers.begin(), o->go_markers.end(), kGoTzdataMarker) != o->go_markers.end();
    for (const auto& r : kGoRules) {
      if (std::find(o->go_markers.begin(), o->go_markers.end(), r.marker) == o->go_markers.end()) continue;
      Evidence ev{o->path, "Go: " + std::string(r.marker)};
      switch (r.kind) {
        case NeedKind::CaCertificates:
          set.add(r.kind, false, ev, kGoCaFiles);
          set.get(r.kind).note = "Go also honours SSL_CERT_FILE and SSL_CERT_DIR";
          break;
        case NeedKind::Zoneinfo:
          if (r.optional) {
            set.add(r.kind, true, ev, {"/etc/localtime"});
          } else if (tzdata) {
            set.add(r.kind, true, {o->path, "Go: time.LoadLocation, with time/tzdata embedded"}, {"/etc/localtime"});
          } else {
            set.add(r.kind, false, ev, {"/usr/share/zoneinfo/", "/etc/localtime"});
          }
          break;
        case NeedKind::UserDatabase:
          set.add(r.kind, false, ev, {"/etc/passwd", "/etc/group"});
          break;
        case NeedKind::HostResolver:
          set.add(r.kind, false, ev, {"/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/services"});
          break;
        case NeedKind::Nss:
        case NeedKind::Gconv:
        case NeedKind::LibgccS:
          break;
      }
    }
    if (tzdata && set.has(NeedKind::Zoneinfo)) {
      RuntimeNeed& z = set.get(NeedKind::Zoneinfo);
      z.note = "time/tzdata is embedded: the zone database is in the binary; /etc/localtime only sets time.Local";
      z.optional = true;
      z.paths.erase(std::remove(z.paths.begin(), z.paths.end(), "/usr/share/zoneinfo/"), z.paths.end());
    }
  }

  NeedsResult out;
  if (dbs != 0) {
    // glibc's built-in defaults when nsswitch.conf is missing (nss/nss_database.c).
    struct DbName {
      Db bit;
      std::string_view name, fallback;
    };
    constexpr DbName kDbs[] = {{kHosts, "hosts", "dns files"},  {kPasswd, "passwd", "files"},
                               {kGroup, "group", "files"},      {kShadow, "shadow", "files"},
                               {kServices, "services", "files"}, {kProtocols, "protocols", "files"}};
    bool builtin_ok = !ctx.glibc_version.empty() && compare_versions(ctx.glibc_version, "2.34") >= 0;
    std::vector<std::string> paths = {"/etc/nsswitch.conf"};
    for (const auto& db : kDbs) {
      if ((dbs & db.bit) == 0) continue;
      auto services = ctx.nsswitch_conf ? nsswitch_services(*ctx.nsswitch_conf, db.name) : std::vector<std::string>{};
      if (services.empty()) services = nsswitch_services("x: " + std::string(db.fallback), "x");
      for (const auto& s : services) {
        NssModule m{std::string(db.name), s, "libnss_" + s + ".so.2", builtin_ok && (s == "files" || s == "dns"), {}};
        out.nss_modules.push_back(std::move(m));
      }
    }
    RuntimeNeed& n = set.get(NeedKind::Nss);
    n.optional = false;
    n.paths = paths;
    for (const auto& need : {NeedKind::HostResolver, NeedKind::UserDatabase})
      if (set.has(need))
        for (const auto& e : set.get(need).evidence) n.evidence.push_back(e);
    n.note = ctx.nsswitch_conf ? "modules named by /etc/nsswitch.conf" : "no /etc/nsswitch.conf in the root: glibc's defaults";
    if (any_static_glibc_nss) n.note += "; a static glibc binary still dlopens them and needs a matching libc.so.6";
  }
  out.needs = set.take();
  // Stable order: by kind.
  std::stable_sort(out.needs.begin(), out.needs.end(), [](const RuntimeNeed& a, const RuntimeNeed& b) { return a.kind < b.kind; });
  return out;
}

}  // namespace inspect_internal

}  // namespace minify
