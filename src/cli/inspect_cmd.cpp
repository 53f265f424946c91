// `minify inspect`: what the headers don't say about a program (kind, libc, Go build info, runtime
// needs, dlopen targets, a base image), as text or JSON; --require-static gates FROM scratch.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "minify/inspect.hpp"

namespace minify::cli {

namespace {

struct InspectCliOptions {
  std::string root = "/";
  bool json = false, require_static = false, no_dlopen = false, no_libraries = false;
  std::vector<std::string> files;
};

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

nlohmann::json opt_str(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); }
nlohmann::json str_or_null(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

nlohmann::json go_json(const GoBuildInfo& g) {
  auto mod = [](const GoModule& m) {
    nlohmann::json j = {{"path", m.path}, {"version", m.version}, {"sum", str_or_null(m.sum)}};
    if (m.replaced_by) j["replaced_by"] = {{"path", m.replaced_by->first}, {"version", m.replaced_by->second}};
    return j;
  };
  nlohmann::json deps = nlohmann::json::array(), settings = nlohmann::json::object();
  for (const auto& d : g.deps) deps.push_back(mod(d));
  for (const auto& [k, v] : g.settings) settings[k] = v;
  return {{"go_version", g.go_version}, {"path", str_or_null(g.path)},
          {"main", g.main ? mod(*g.main) : nlohmann::json(nullptr)}, {"deps", deps},
          {"settings", settings}, {"found_in", g.found_in}};
}

nlohmann::json report_json(const FileReport& r) {
  nlohmann::json needs = nlohmann::json::array();
  for (const auto& n : r.needs) {
    nlohmann::json ev = nlohmann::json::array();
    for (const auto& e : n.evidence) ev.push_back({{"object", e.object}, {"detail", e.detail}});
    needs.push_back({{"kind", need_kind_name(n.kind)}, {"optional", n.optional}, {"paths", n.paths},
                     {"evidence", ev}, {"note", str_or_null(n.note)}});
  }
  nlohmann::json nss = nlohmann::json::array();
  for (const auto& m : r.nss_modules)
    nss.push_back({{"database", m.database}, {"service", m.service}, {"library", m.library},
                   {"builtin", m.builtin}, {"path", opt_str(m.path)}});
  nlohmann::json dl = nlohmann::json::array();
  for (const auto& t : r.dlopen) {
    nlohmann::json j = {{"name", t.name.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.name)},
                        {"source", t.source == DlopenSource::Note ? "note" : "call-site"},
                        {"object", t.object},
                        {"function", t.function},
                        {"resolved", t.resolved}};
    if (t.source == DlopenSource::CallSite) j["call_site"] = hex(t.call_site);
    if (t.name.empty()) j["unknown_reason"] = t.unknown_reason;
    if (t.source == DlopenSource::Note)
      j["note"] = {{"feature", t.feature}, {"priority", t.priority}, {"description", t.description}};
    if (t.resolved) {
      j["path"] = t.path;
      j["real_path"] = t.real_path;
      j["found_by"] = found_by_name(t.how);
      j["closure"] = t.closure;
    } else if (!t.name.empty()) {
      j["searched"] = t.searched;
    }
    dl.push_back(j);
  }
  nlohmann::json implicit = nlohmann::json::array();
  for (const auto& f : implicit_files(r))
    implicit.push_back({{"path", f.path},
                        {"kind", f.kind == ImplicitFile::Kind::Tree ? "tree" : f.kind == ImplicitFile::Kind::Glob ? "glob" : "file"},
                        {"optional", f.optional},
                        {"reason", f.reason}});
  nlohmann::json j = {
      {"file", r.path},
      {"implicit_files", implicit},
      {"real_path", r.real_path},
      {"kind", file_kind_name(r.kind)},
      {"libc", loader_family_name(r.libc)},
      {"newest_glibc", str_or_null(r.newest_glibc)},
      {"newest_glibc_closure", str_or_null(r.newest_glibc_closure)},
      {"interpreter", opt_str(r.interp)},
      {"needed", r.needed},
      {"closure", r.closure},
      {"missing", r.missing},
      {"go", r.go ? go_json(*r.go) : nlohmann::json(nullptr)},
      {"cgo", r.cgo},
      {"rust", r.rust ? nlohmann::json(r.rustc_version) : nlohmann::json(nullptr)},
      {"needs", needs},
      {"nss_modules", nss},
      {"dlopen", dl},
      {"truly_static", r.truly_static()},
      {"not_static_reasons", r.not_static_reasons},
      {"base", {{"image", base_image_name(r.base.base)}, {"why", r.base.why}, {"extra_libraries", r.base.extra_libraries}}},
      {"warnings", r.warnings},
  };
  if (r.ident) {
    j["class"] = class_name(r.ident->elf_class);
    j["machine"] = machine_name(r.ident->machine);
  }
  if (r.script)
    j["script"] = {{"line", r.script->line}, {"interpreter", r.script->interpreter}, {"args", r.script->args},
                   {"program", r.script->program}, {"resolved", opt_str(r.script->resolved)}};
  return j;
}

void print_text(const FileReport& r) {
  std::cout << r.path << ": " << file_kind_name(r.kind);
  if (r.kind == FileKind::NotElf) {
    std::cout << " (neither ELF nor a #! script)\n";
    return;
  }
  if (r.script) {
    std::cout << ", #!" << r.script->line << "\n  interpreter: "
              << (r.script->resolved ? *r.script->resolved : r.script->program + " (not found)");
    if (!r.ident) {
      std::cout << "\n";
      return;
    }
  }
  if (r.ident) std::cout << ", " << class_name(r.ident->elf_class) << " " << machine_name(r.ident->machine);
  if (r.libc != LoaderFamily::None) std::cout << ", " << loader_family_name(r.libc);
  std::cout << "\n";
  if (!r.newest_glibc.empty() || !r.newest_glibc_closure.empty())
    std::cout << "  glibc: needs " << (r.newest_glibc.empty() ? "no versioned symbols" : r.newest_glibc)
              << " (with its libraries: " << r.newest_glibc_closure << ")\n";
  if (r.interp) std::cout << "  PT_INTERP: " << *r.interp << "\n";
  if (!r.needed.empty()) {
    std::cout << "  DT_NEEDED:";
    for (const auto& n : r.needed) std::cout << " " << n;
    std::cout << "\n";
  }
  if (r.go) {
    const GoBuildInfo& g = *r.go;
    std::cout << "  go: " << g.go_version << ", cgo " << (r.cgo ? "linked in" : "not linked in") << " (build info in "
              << g.found_in << ")\n";
    if (!g.path.empty()) std::cout << "    path: " << g.path << "\n";
    if (g.main) std::cout << "    mod: " << g.main->path << " " << g.main->version << "\n";
    for (const auto& d : g.deps) std::cout << "    dep: " << d.path << " " << d.version << "\n";
    for (const auto& [k, v] : g.settings) std::cout << "    build: " << k << "=" << v << "\n";
  }
  if (r.rust) std::cout << "  rust: " << r.rustc_version << "\n";
  for (const auto& n : r.needs) {
    std::cout << "  needs " << need_kind_name(n.kind) << (n.optional ? " (optional)" : "") << ":";
    for (const auto& p : n.paths) std::cout << " " << p;
    std::cout << "\n";
    constexpr size_t kShown = 3;  // --json has them all
    for (size_t i = 0; i < n.evidence.size() && i < kShown; ++i)
      std::cout << "    because " << n.evidence[i].object << " " << n.evidence[i].detail << "\n";
    if (n.evidence.size() > kShown) std::cout << "    ... and " << n.evidence.size() - kShown << " more\n";
    if (!n.note.empty()) std::cout << "    note: " << n.note << "\n";
  }
  for (const auto& m : r.nss_modules) {
    std::cout << "  nss " << m.database << ": " << m.service << " => ";
    if (m.builtin)
      std::cout << "built into libc\n";
    else
      std::cout << (m.path ? *m.path : m.library + " (not found)") << "\n";
  }
  for (const auto& t : r.dlopen) {
    std::cout << "  dlopen ";
    if (t.name.empty()) {
      std::cout << "<unknown>";
    } else {
      std::cout << t.name << " => " << (t.resolved ? t.path + " [" + found_by_name(t.how) + "]" : "not found");
    }
    if (t.source == DlopenSource::Note)
      std::cout << " (.note.dlopen in " << t.object << (t.feature.empty() ? "" : ", feature " + t.feature) << ")\n";
    else
      std::cout << " (" << t.function << " at " << hex(t.call_site) << " in " << t.object << ")\n";
    if (t.name.empty()) std::cout << "    " << t.unknown_reason << "\n";
  }
  std::cout << "  base: " << base_image_name(r.base.base) << "\n";
  for (const auto& w : r.base.why) std::cout << "    " << w << "\n";
}

int run_inspect(const InspectCliOptions& opt) {
  auto root = Root::open(opt.root);
  if (!root) {
    print_error(root.error().message());
    return kExitBadInput;
  }
  InspectOptions io;
  std::string host_cwd = "/";
  if (root->is_host()) {
    char buf[4096];
    if (::getcwd(buf, sizeof buf)) host_cwd = buf;
    io.env.cwd = host_cwd;
  }
  io.scan_dlopen = !opt.no_dlopen;
  io.scan_libraries = !opt.no_libraries;
  Inspector inspector(*root, io);
  int status = kExitOk;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : opt.files) {
    std::string path = root->is_host() ? normalize_path(join_path(host_cwd, f)) : normalize_path("/" + f);
    auto r = inspector.inspect(path);
    if (!r) {
      print_error(r.error().message());
      status = kExitBadInput;
      continue;
    }
    for (const auto& w : r->warnings) print_warning(w);
    if (opt.require_static && !r->truly_static()) {
      std::vector<std::string> reasons = r->not_static_reasons;
      if (r->kind == FileKind::NotElf) reasons.push_back("not an ELF file");
      if (r->kind == FileKind::Script) reasons.push_back("a script, run by " + r->script->program);
      for (const auto& why : reasons) std::cerr << "minify: " << r->path << ": not static: " << why << "\n";
      if (status == kExitOk) status = kExitMissing;
    }
    if (opt.json)
      files.push_back(report_json(*r));
    else
      print_text(*r);
  }
  if (opt.json) std::cout << nlohmann::json{{"root", root->host_dir()}, {"files", files}}.dump(2) << "\n";
  std::cout.flush();
  return status;
}

}  // namespace

Command add_inspect_command(CLI::App& app) {
  auto opt = std::make_shared<InspectCliOptions>();
  CLI::App* sub = app.add_subcommand("inspect", "What the headers don't say: libc, Go build info, run-time files, dlopen targets, base image");
  sub->add_option("--root", opt->root, "Inspect inside this root directory (a sysroot, an unpacked image)")->check(CLI::ExistingDirectory);
  sub->add_flag("--json", opt->json, "One JSON document with everything known about each file");
  sub->add_flag("--require-static", opt->require_static,
                "Exit 1 unless every file is truly static (no PT_INTERP, no DT_NEEDED, no cgo), saying why");
  sub->add_flag("--no-dlopen-scan", opt->no_dlopen, "Skip the Capstone scan for dlopen call sites and .note.dlopen");
  sub->add_flag("--no-libraries", opt->no_libraries, "Look only at the files given, not at the libraries they load");
  sub->add_option("files", opt->files, "Files to inspect (inside --root when given)")->required();
  return {sub, [opt] { return run_inspect(*opt); }};
}

}  // namespace minify::cli
