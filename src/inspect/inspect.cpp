// The Inspector: for one file, the kind, libc, Go build info, runtime needs, dlopen targets and
// base recommendation of inspect.hpp. Each ELF object's facts (imports, versions, dlopen calls) are
// read once per Inspector and cached by real path, so inspecting every program in /usr/bin reads
// libc once. dlopen targets are resolved the way ld.so resolves a DT_NEEDED entry of the object
// that calls dlopen (glibc elf/dl-open.c uses _dl_map_object with the caller's link map).
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "inspect/inspect_internal.hpp"

namespace minify {

using namespace inspect_internal;

std::string file_kind_name(FileKind kind) {
  switch (kind) {
    case FileKind::Static: return "static";
    case FileKind::StaticPie: return "static-pie";
    case FileKind::Dynamic: return "dynamic";
    case FileKind::Script: return "script";
    case FileKind::NotElf: return "not-elf";
  }
  return "unknown";
}

const RuntimeNeed* FileReport::need(NeedKind which) const {
  for (const auto& n : needs)
    if (n.kind == which) return &n;
  return nullptr;
}

std::vector<DlopenTarget> read_dlopen_notes(const ElfDetail& elf, std::vector<std::string>& problems) {
  constexpr uint32_t kNtFdoDlopenMetadata = 0x407c0c0a;
  std::vector<DlopenTarget> out;
  for (const auto& n : elf.notes) {
    if (n.owner != "FDO" || n.type != kNtFdoDlopenMetadata) continue;
    std::string_view text(n.desc.data(), strnlen(n.desc.data(), n.desc.size()));
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_array()) {
      problems.push_back(".note.dlopen: payload is not a JSON array");
      continue;
    }
    for (const auto& e : doc) {
      if (!e.is_object() || !e.contains("soname") || !e["soname"].is_array()) {
        problems.push_back(".note.dlopen: entry without a \"soname\" array");
        continue;
      }
      auto str = [&](const char* key) { return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string(); };
      for (const auto& s : e["soname"]) {
        if (!s.is_string()) continue;
        DlopenTarget t;
        t.name = s.get<std::string>();
        t.source = DlopenSource::Note;
        t.function = "dlopen";
        t.feature = str("feature");
        t.priority = str("priority");
        t.description = str("description");
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

namespace {

// memmem(3): glibc's two-way search, much faster than string_view::find on megabytes.
bool contains(std::string_view hay, std::string_view needle) {
  return ::memmem(hay.data(), hay.size(), needle.data(), needle.size()) != nullptr;
}

bool symtab_filter(std::string_view name) {
  return is_needs_symbol(name) || name == "dlopen" || name == "dlmopen" || name == "__libc_dlopen_mode" ||
         name == "g_module_open" || name == "g_module_open_full" || name == "__libc_start_main" || name == "x_cgo_init";
}

// Inspect looks only at the imports the needs rules and the dlopen scan name; definitions come
// from .symtab for static files.
constexpr ElfDetailOptions kImportsOnly{false, &symtab_filter};

bool has_note(const ElfDetail& d, std::string_view owner, uint32_t type) {
  return std::any_of(d.notes.begin(), d.notes.end(), [&](const ElfNote& n) { return n.owner == owner && n.type == type; });
}

// Libraries a distroless image already carries (gcr.io/distroless, Debian 12 flavours).
bool in_distroless_base(std::string_view soname) {
  return soname.rfind("libssl.so.3", 0) == 0 || soname.rfind("libcrypto.so.3", 0) == 0 || soname.rfind("libz.so.1", 0) == 0;
}
bool in_distroless_cc(std::string_view soname) {
  return soname.rfind("libstdc++.so.", 0) == 0 || soname.rfind("libgcc_s.so.", 0) == 0 || soname.rfind("libgomp.so.", 0) == 0;
}

}  // namespace

struct Inspector::Impl {
  const Root& root;
  InspectOptions opt;
  Resolver resolver;
  std::unordered_map<std::string, std::shared_ptr<const ObjectFacts>> facts_cache;
  std::optional<std::optional<std::string>> nsswitch;
  std::unordered_map<std::string, std::string> glibc_versions;  // libc.so.6 real path -> "2.36"

  Impl(const Root& r, InspectOptions o) : root(r), opt(std::move(o)), resolver(r, opt.env) {}

  const std::optional<std::string>& nsswitch_conf() {
    if (!nsswitch) {
      auto text = root.read_file("/etc/nsswitch.conf", 1 << 20);
      nsswitch = text ? std::optional<std::string>(std::move(*text)) : std::nullopt;
    }
    return *nsswitch;
  }

  // Facts of one object, computed from an already mapped image.
  ObjectFacts facts_of(const std::string& path, const ElfDetail& d, std::string_view image, const ElfInfo& info,
                       bool want_symtab, bool is_go, std::vector<ElfSymbol>* symtab_out) {
    ObjectFacts f;
    f.path = path;
    f.soname = info.soname;
    f.needed = info.needed;
    f.problems = d.problems;
    for (const auto& s : d.dynsym)
      if (!s.defined && is_needs_symbol(s.name))
        f.symbol_hits.push_back({s.name, "imports " + s.name + (s.version.empty() ? "" : "@" + s.version), false});
    for (const auto& need : d.version_needs)
      for (const auto& v : need.versions)
        if (v != "GLIBC_PRIVATE") f.newest_glibc_needed = newer_glibc(f.newest_glibc_needed, v);
    for (const auto& v : d.version_defs)
      if (v != "GLIBC_PRIVATE") f.newest_glibc_defined = newer_glibc(f.newest_glibc_defined, v);
    if (info.soname.rfind("libcrypto.so", 0) == 0) {
      constexpr std::string_view kTag = "OPENSSLDIR: \"";
      if (size_t at = image.find(kTag); at != std::string_view::npos) {
        size_t end = image.find('"', at + kTag.size());
        if (end != std::string_view::npos && end - at < 512) f.openssl_dir = std::string(image.substr(at + kTag.size(), end - at - kTag.size()));
      }
    }
    std::vector<ElfSymbol> symtab;
    if (want_symtab) {
      if (auto st = read_elf_symtab(image, path, &symtab_filter)) symtab = std::move(*st);
      for (const auto& s : symtab)
        if (s.defined && is_needs_symbol(s.name)) f.symbol_hits.push_back({s.name, "links " + s.name + " statically", true});
    }
    if (is_go) {
      // Function names live in the pclntab, which -s -w keeps; without a section table, search all.
      std::string_view names = image;
      if (const ElfSection* pcln = d.section(".gopclntab"); pcln && pcln->offset < image.size())
        names = image.substr(pcln->offset, std::min<uint64_t>(pcln->size, image.size() - pcln->offset));
      for (auto m : go_marker_strings())
        if (contains(names, m)) f.go_markers.emplace_back(m);
    }
    if (opt.scan_dlopen) {
      f.dlopen_calls = scan_dlopen_calls(d, image, symtab);
      f.dlopen_notes = read_dlopen_notes(d, f.problems);
    }
    if (symtab_out) *symtab_out = std::move(symtab);
    return f;
  }

  std::shared_ptr<const ObjectFacts> library_facts(const LoadedObject& o) {
    auto it = facts_cache.find(o.real_path);
    if (it != facts_cache.end()) return it->second;
    std::shared_ptr<const ObjectFacts> f;
    auto fd = root.open_read(o.real_path);
    if (fd)
      if (auto m = MappedFile::map(fd->get(), o.real_path))
        if (auto d = read_elf_detail(m->bytes(), o.real_path, kImportsOnly)) {
          ObjectFacts facts = facts_of(o.path, *d, m->bytes(), *o.elf, false, false, nullptr);
          f = std::make_shared<const ObjectFacts>(std::move(facts));
        }
    if (!f) {
      ObjectFacts empty;
      empty.path = o.path;
      empty.problems.push_back("cannot read " + o.real_path);
      f = std::make_shared<const ObjectFacts>(std::move(empty));
    }
    facts_cache.emplace(o.real_path, f);
    return f;
  }

  // The newest GLIBC_x.y a libc.so.6 defines: the glibc release it belongs to.
  std::string defined_glibc_version(const std::string& real_path) {
    auto it = glibc_versions.find(real_path);
    if (it != glibc_versions.end()) return it->second;
    std::string newest;
    if (auto fd = root.open_read(real_path))
      if (auto m = MappedFile::map(fd->get(), real_path))
        if (auto d = read_elf_detail(m->bytes(), real_path, kImportsOnly))
          for (const auto& v : d->version_defs)
            if (v != "GLIBC_PRIVATE") newest = newer_glibc(newest, v);
    std::string number = newest.empty() ? std::string() : newest.substr(6);
    glibc_versions.emplace(real_path, number);
    return number;
  }

  // Resolves `name` as ld.so resolves dlopen(name) called from closure object `requester`: the
  // Resolver's own search (RPATH stack, LD_LIBRARY_PATH, RUNPATH, ld.so.cache, system
  // directories, glibc-hwcaps, files of another class skipped), then what the library itself
  // loads beyond what the program already has.
  void resolve_name(const Closure& c, int requester, const std::string& name, DlopenTarget& t) {
    auto x = resolver.load_extra(c, std::max(requester, 0), name);
    if (!x) {
      t.unknown_reason = x.error().message();
      return;
    }
    if (x->object < 0) {
      if (x->missing) t.searched = x->missing->searched;
      return;
    }
    const LoadedObject& o = x->map.objects[static_cast<size_t>(x->object)];
    t.resolved = true;
    t.path = o.path;
    t.real_path = o.real_path;
    t.how = static_cast<size_t>(x->object) < c.objects.size() ? FoundBy::Loaded : o.how;
    for (size_t i = c.objects.size(); i < x->map.objects.size(); ++i)
      if (static_cast<int>(i) != x->object) t.closure.push_back(x->map.objects[i].path);
  }

  Status inspect_elf(const std::string& path, const std::string& real_path, FileReport& rep);
  // Parts of a file that could not be read (the rest still was) go to the caller's diagnostics.
  Context* diag = nullptr;
  std::string source;
  void warn(std::string message) {
    if (diag) diag->warn(source, std::move(message));
  }
  void recommend(FileReport& rep, const Closure& c);
};

Status Inspector::Impl::inspect_elf(const std::string& path, const std::string& real_path, FileReport& rep) {
  auto fd = root.open_read(real_path);
  if (!fd) return fd.error();
  auto mapped = MappedFile::map(fd->get(), path);
  if (!mapped) return mapped.error();
  std::string_view image = mapped->bytes();
  auto detail = read_elf_detail(image, path, kImportsOnly);
  if (!detail) return detail.error();
  auto closure = resolver.closure(real_path);
  if (!closure) return closure.error();
  const Closure& c = *closure;
  const ElfInfo& info = *c.objects[0].elf;

  rep.ident = info.ident;
  rep.interp = info.interp;
  rep.needed = info.needed;
  switch (info.linkage) {
    case Linkage::Static: rep.kind = FileKind::Static; break;
    case Linkage::StaticPie: rep.kind = FileKind::StaticPie; break;
    case Linkage::Dynamic: rep.kind = FileKind::Dynamic; break;
  }
  for (size_t i = 1; i < c.objects.size(); ++i) rep.closure.push_back(c.objects[i].path);
  for (const auto& m : c.missing) rep.missing.push_back(m.name);
  for (const auto& p : detail->problems) warn(path + ": " + p);

  // Go build info first: it decides how the rest is read.
  auto go = read_go_buildinfo(*detail, image, path);
  if (!go)
    warn(go.error().message());
  else
    rep.go = std::move(*go);
  bool is_go = rep.go.has_value();
  // rustc names itself in .comment, which strip keeps; Rust has no build-info note to read.
  if (const ElfSection* s = detail->section(".comment"); s && s->offset < image.size()) {
    std::string_view comment = image.substr(s->offset, std::min<uint64_t>(s->size, image.size() - s->offset));
    if (size_t at = comment.find("rustc version"); at != std::string_view::npos) {
      rep.rust = true;
      rep.rustc_version = std::string(comment.substr(at, comment.find('\0', at) - at));
    }
  }

  bool is_static = rep.kind != FileKind::Dynamic;
  std::vector<ElfSymbol> symtab;
  ObjectFacts prog = facts_of(path, *detail, image, info, is_static, is_go, &symtab);

  // libc family: from the loader, or for a static file from glibc's crt1.o ABI note.
  rep.libc = c.family;
  constexpr uint32_t kNtGnuAbiTag = 1;
  if (is_static && !is_go) {
    if (has_note(*detail, "GNU", kNtGnuAbiTag))
      rep.libc = LoaderFamily::Glibc;
    else if (std::any_of(symtab.begin(), symtab.end(), [](const ElfSymbol& s) { return s.name == "__libc_start_main"; }))
      rep.libc = LoaderFamily::Musl;
  }

  rep.newest_glibc = prog.newest_glibc_needed;
  // Every object of the closure that a glibc base does not replace counts, whether or not its
  // other facts are read (--no-libraries).
  rep.newest_glibc_closure = newer_glibc(prog.newest_glibc_needed, glibc_needs(c).newest);
  for (const auto& v : c.version_problems)
    if (v.fatal) rep.missing_versions.push_back(version_problem_message(c, v));
  std::vector<std::shared_ptr<const ObjectFacts>> libs;
  std::string libc_dir, glibc_version;
  int libc_index = 0;
  for (size_t i = 1; i < c.objects.size(); ++i) {
    const LoadedObject& o = c.objects[i];
    bool is_libc = o.elf->soname.rfind("libc.so.", 0) == 0;
    if (!is_libc && !opt.scan_libraries) continue;
    auto f = library_facts(o);
    if (is_libc) {
      libc_dir = dirname_of(o.real_path);
      libc_index = static_cast<int>(i);
      if (!f->newest_glibc_defined.empty()) glibc_version = f->newest_glibc_defined.substr(6);
    }
    if (opt.scan_libraries) libs.push_back(std::move(f));
  }
  if (rep.libc == LoaderFamily::Glibc && libc_dir.empty()) {
    // A static glibc program: the NSS and gconv modules it loads come from the root's glibc.
    DlopenTarget probe;
    resolve_name(c, 0, "libc.so.6", probe);
    if (probe.resolved) {
      libc_dir = dirname_of(probe.real_path);
      glibc_version = defined_glibc_version(probe.real_path);
    }
  }

  // cgo: the C runtime linked into a Go program.
  if (is_go) {
    // x_cgo_init is runtime/cgo's C half (gcc_linux_*.c); its error strings survive -s -w.
    // (The Go runtime declares _cgo_init in every program, so that name proves nothing.)
    rep.cgo = rep.interp.has_value() || !rep.needed.empty() ||
              std::any_of(symtab.begin(), symtab.end(), [](const ElfSymbol& s) { return s.name == "x_cgo_init"; }) ||
              contains(image, "runtime/cgo: out of memory");
  }

  // Runtime needs over the program and its libraries.
  std::vector<const ObjectFacts*> objs = {&prog};
  for (const auto& l : libs) objs.push_back(l.get());
  NeedsContext ctx;
  ctx.family = rep.libc;
  ctx.go = is_go;
  ctx.go_cgo = rep.cgo;
  ctx.libc_dir = libc_dir;
  ctx.glibc_version = glibc_version;
  if (rep.libc == LoaderFamily::Glibc) ctx.nsswitch_conf = nsswitch_conf();
  NeedsResult needs = collect_needs(objs, ctx);
  rep.needs = std::move(needs.needs);
  rep.nss_modules = std::move(needs.nss_modules);
  for (auto& m : rep.nss_modules) {
    if (m.builtin) continue;
    DlopenTarget t;
    resolve_name(c, libc_index, m.library, t);
    if (t.resolved) {
      m.path = t.path;
      for (auto& n : rep.needs)
        if (n.kind == NeedKind::Nss && std::find(n.paths.begin(), n.paths.end(), t.path) == n.paths.end()) n.paths.push_back(t.path);
    }
  }
  for (auto& n : rep.needs) {
    if (n.kind != NeedKind::LibgccS) continue;
    DlopenTarget t;
    resolve_name(c, libc_index, "libgcc_s.so.1", t);
    n.paths.push_back(t.resolved ? t.path : "libgcc_s.so.1");
    if (!t.resolved) n.note = "libgcc_s.so.1 is not in the root";
  }

  // dlopen targets: call sites and notes of the program and of every library.
  auto add_targets = [&](const ObjectFacts& f, int requester) {
    for (const auto& call : f.dlopen_calls) {
      // glibc's own __libc_dlopen_mode calls with computed names load NSS and gconv modules,
      // which the needs rules report with their paths; its literal ones (libidn2.so.0 for
      // getaddrinfo's AI_IDN, libgcc_s.so.1) are real targets and stay.
      if (!call.name && call.function == "__libc_dlopen_mode") continue;
      DlopenTarget t;
      t.object = f.path;
      t.function = call.function;
      t.call_site = call.call_site;
      if (call.name) {
        t.name = *call.name;
        resolve_name(c, requester, t.name, t);
      } else {
        t.unknown_reason = call.unknown_reason;
      }
      rep.dlopen.push_back(std::move(t));
    }
    for (auto t : f.dlopen_notes) {
      t.object = f.path;
      resolve_name(c, requester, t.name, t);
      rep.dlopen.push_back(std::move(t));
    }
    for (const auto& p : f.problems)
      if (p.rfind(".note.dlopen", 0) == 0) warn(f.path + ": " + p);
  };
  add_targets(prog, 0);
  for (size_t i = 0; i < libs.size(); ++i) {
    int idx = 0;
    for (size_t k = 1; k < c.objects.size(); ++k)
      if (c.objects[k].path == libs[i]->path) idx = static_cast<int>(k);
    add_targets(*libs[i], idx);
  }

  // --require-static: what keeps it from being truly static.
  if (rep.interp) rep.not_static_reasons.push_back("has a PT_INTERP: " + *rep.interp);
  for (const auto& n : rep.needed) rep.not_static_reasons.push_back("needs a shared library: " + n);
  if (rep.cgo) {
    auto setting = rep.go->setting("CGO_ENABLED");
    rep.not_static_reasons.push_back(std::string("cgo is linked in") + (setting ? " (CGO_ENABLED=" + *setting + ")" : ""));
  }

  recommend(rep, c);
  return Ok{};
}

void Inspector::Impl::recommend(FileReport& rep, const Closure& c) {
  BaseRecommendation& b = rep.base;
  auto required = [&](NeedKind k) {
    const RuntimeNeed* n = rep.need(k);
    return n != nullptr && !n->optional;
  };
  bool needs_files = required(NeedKind::CaCertificates) || required(NeedKind::Zoneinfo) ||
                     required(NeedKind::UserDatabase) || required(NeedKind::HostResolver);
  if (rep.truly_static() || (rep.kind != FileKind::Dynamic && rep.kind != FileKind::NotElf)) {
    bool nss_modules = std::any_of(rep.nss_modules.begin(), rep.nss_modules.end(), [](const NssModule& m) { return !m.builtin; });
    bool own_dlopen = std::any_of(rep.dlopen.begin(), rep.dlopen.end(), [&](const DlopenTarget& t) { return t.object == rep.path; });
    if (rep.libc == LoaderFamily::Glibc && own_dlopen && !required(NeedKind::Nss) && !required(NeedKind::Gconv)) {
      // ld warns about it: "Using 'dlopen' in statically linked applications requires at runtime
      // the shared libraries from the glibc version used for linking".
      b.base = Base::DistrolessBase;
      b.why.push_back("statically linked glibc calls dlopen: the libraries it loads need the image's glibc (the same version)");
      for (const auto& t : rep.dlopen)
        if (t.resolved) b.extra_libraries.push_back(t.path);
    } else if (rep.libc == LoaderFamily::Glibc && (required(NeedKind::Nss) || required(NeedKind::Gconv))) {
      b.base = Base::DistrolessBase;
      b.why.push_back("statically linked glibc still dlopens " +
                      std::string(required(NeedKind::Nss) ? "NSS modules" : "gconv modules") + " from the image's glibc");
      if (!nss_modules) b.why.push_back("the modules nsswitch.conf names are built into glibc, but the image needs its libc.so.6");
    } else if (needs_files) {
      b.base = Base::DistrolessStatic;
      std::string what;
      for (const auto& n : rep.needs)
        if (!n.optional) what += (what.empty() ? "" : ", ") + need_kind_name(n.kind);
      b.why.push_back("statically linked, but reads " + what + " at run time; distroless-static carries CA certificates, "
                      "tzdata, /etc/passwd, /etc/group and /etc/nsswitch.conf");
    } else {
      b.base = Base::Scratch;
      b.why.push_back("statically linked and reads no system files at run time");
      for (const auto& n : rep.needs)
        if (n.optional) b.why.push_back("optional: " + need_kind_name(n.kind) + " (works without it)");
    }
    return;
  }
  if (rep.libc == LoaderFamily::Musl) {
    b.base = Base::Scratch;
    b.why.push_back("linked against musl: no distroless image carries it; the musl loader and the closure are copied in");
    b.extra_libraries = rep.closure;
    if (needs_files) b.why.push_back("also copy the run-time files listed under needs");
    return;
  }
  // A distroless base brings its own glibc in place of the closure's: a closure that needs more
  // than that glibc defines would not start on it. Scratch with the closure's glibc copied in
  // runs anywhere.
  BaseGlibcCheck glibc = check_base_glibc(c, kDistrolessGlibc);
  if (!glibc.ok) {
    b.base = Base::Scratch;
    b.why.push_back("needs more than the glibc " + std::string(kDistrolessGlibc) +
                    " of the distroless (Debian 12) images: scratch, with the closure's own glibc copied in");
    for (const auto& line : glibc.too_new) b.why.push_back(line);
    b.extra_libraries = rep.closure;
    if (needs_files) b.why.push_back("also copy the run-time files listed under needs");
    return;
  }
  bool cc = required(NeedKind::LibgccS), cc_linked = false;
  for (size_t i = 1; i < c.objects.size(); ++i) {
    const LoadedObject& o = c.objects[i];
    std::string soname = o.elf->soname.empty() ? basename_of(o.path) : o.elf->soname;
    if (is_glibc_library(soname) || in_distroless_base(soname)) continue;
    if (in_distroless_cc(soname)) {
      cc = cc_linked = true;
      continue;
    }
    b.extra_libraries.push_back(o.path);
  }
  b.base = cc ? Base::DistrolessCc : Base::DistrolessBase;
  b.why.push_back(cc_linked ? "dynamically linked against glibc and the C++/GCC runtime (libstdc++, libgcc_s)"
                  : cc      ? "dynamically linked against glibc; glibc dlopens libgcc_s.so.1 for pthread_cancel/pthread_exit, "
                              "which distroless-cc carries"
                            : "dynamically linked against glibc");
  if (!rep.newest_glibc_closure.empty())
    b.why.push_back("needs glibc >= " + rep.newest_glibc_closure.substr(6) + " (distroless Debian 12 images ship glibc 2.36)");
  if (!b.extra_libraries.empty())
    b.why.push_back(std::to_string(b.extra_libraries.size()) + " libraries of the closure are not in the base and are copied in");
}

std::vector<ImplicitFile> implicit_files(const FileReport& r) {
  std::vector<ImplicitFile> out;
  std::unordered_map<std::string, size_t> seen;
  auto add = [&](std::string path, bool optional, std::string reason) {
    if (path.empty() || path.front() != '/') return;  // an unresolved name, not a path
    ImplicitFile f;
    f.kind = path.find_first_of("*?[") != std::string::npos ? ImplicitFile::Kind::Glob
             : path.size() > 1 && path.back() == '/'        ? ImplicitFile::Kind::Tree
                                                             : ImplicitFile::Kind::File;
    if (f.kind == ImplicitFile::Kind::Tree) path.pop_back();
    if (auto it = seen.find(path); it != seen.end()) {
      out[it->second].optional = out[it->second].optional && optional;  // required wins
      return;
    }
    f.path = std::move(path);
    f.optional = optional;
    f.reason = std::move(reason);
    seen.emplace(f.path, out.size());
    out.push_back(std::move(f));
  };
  for (const auto& n : r.needs) {
    std::string why = need_kind_name(n.kind);
    if (!n.evidence.empty()) why += " (" + n.evidence.front().detail + " in " + n.evidence.front().object + ")";
    for (const auto& p : n.paths) add(p, n.optional, why);
  }
  for (const auto& m : r.nss_modules)
    if (m.path) add(*m.path, false, "nss: " + m.database + " uses " + m.service + " (/etc/nsswitch.conf)");
  for (const auto& t : r.dlopen) {
    if (!t.resolved) continue;
    std::string why = "dlopen " + t.name + " (" +
                      (t.source == DlopenSource::Note ? ".note.dlopen" : t.function + " call") + " in " + t.object + ")";
    add(t.path, false, why);
    for (const auto& dep : t.closure) add(dep, false, "needed by " + t.path + ", " + why);
  }
  return out;
}

Inspector::Inspector(const Root& root, InspectOptions options) : impl_(std::make_unique<Impl>(root, std::move(options))) {}
Inspector::~Inspector() = default;

// Splits a #! line the way Linux does (fs/binfmt_script.c): the interpreter, then at most one
// argument with the rest of the line; env's own arguments are then split on blanks.
ScriptInfo inspect_internal::parse_shebang(std::string_view first_line) {
  ScriptInfo s;
  s.line = std::string(first_line.substr(2));
  std::string_view rest = first_line.substr(2);
  auto skip = [&] {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  };
  skip();
  size_t end = rest.find_first_of(" \t");
  s.interpreter = std::string(rest.substr(0, end));
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  skip();
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t' || rest.back() == '\r')) rest.remove_suffix(1);
  if (!rest.empty()) s.args.emplace_back(rest);
  s.program = s.interpreter;
  if (basename_of(s.interpreter) == "env" && !s.args.empty()) {
    std::vector<std::string> words;
    std::string_view a = s.args[0];
    while (!a.empty()) {
      size_t sp = a.find_first_of(" \t");
      if (sp != 0) words.emplace_back(a.substr(0, sp));
      a.remove_prefix(sp == std::string_view::npos ? a.size() : sp + 1);
    }
    for (const auto& w : words)
      if (w.front() != '-' && w.find('=') == std::string::npos) {
        s.program = w;
        break;
      }
  }
  return s;
}


Result<FileReport> Inspector::inspect(std::string_view path, Context* diag) {
  const Root& root = impl_->root;
  FileReport rep;
  rep.path = normalize_path(std::string(path));
  impl_->diag = diag;
  impl_->source = rep.path;
  auto resolved = root.resolve(rep.path);
  if (!resolved) return resolved.error();
  rep.real_path = resolved->path;
  auto fd = root.open_read(rep.real_path);
  if (!fd) return sys_error("open", rep.path, fd.error().err);
  char head[512];
  ssize_t n = ::pread(fd->get(), head, sizeof head, 0);
  if (n < 0) return sys_error("read", rep.path);
  std::string_view first(head, static_cast<size_t>(n));

  if (first.size() >= 4 && first.substr(0, 4) == "\x7f" "ELF") {
    if (auto st = impl_->inspect_elf(rep.path, rep.real_path, rep); !st) return st.error();
    return rep;
  }
  if (first.rfind("#!", 0) != 0) return rep;  // NotElf

  rep.kind = FileKind::Script;
  ScriptInfo s = parse_shebang(first.substr(0, first.find('\n')));
  std::vector<std::string> candidates;
  if (s.program.find('/') != std::string::npos) {
    candidates.push_back(s.program);
  } else {
    // env searches PATH; the image's PATH is unknown, so use the usual default.
    for (const char* d : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
      candidates.push_back(std::string(d) + "/" + s.program);
  }
  for (const auto& cand : candidates) {
    auto st = root.stat(cand);
    if (st && S_ISREG(st->st_mode) && (st->st_mode & 0111)) {
      s.resolved = cand;
      break;
    }
  }
  rep.script = s;
  if (!s.resolved) {
    impl_->warn("interpreter `" + s.program + "` not found in the root");
    return rep;
  }
  auto ireal = root.resolve(*s.resolved);
  FileReport interp;
  if (ireal)
    if (auto st = impl_->inspect_elf(*s.resolved, ireal->path, interp); st) {
      interp.path = rep.path;
      interp.real_path = rep.real_path;
      interp.kind = FileKind::Script;
      interp.script = rep.script;
      interp.base.why.insert(interp.base.why.begin(), "a script: the image carries its interpreter " + *s.resolved +
                                                          " (and whatever library tree the interpreter reads)");
      return interp;
    }
  impl_->warn("interpreter `" + *s.resolved + "` is not an ELF file");
  return rep;
}

}  // namespace minify
