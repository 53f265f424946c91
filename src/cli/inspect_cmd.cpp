// `minify inspect`: what the headers don't say about a program (kind, libc, Go build info, runtime
// needs, dlopen targets, a base image), as text or JSON; --require-static gates FROM scratch.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "minify/inspect.hpp"

namespace minify::cli {

namespace {

struct InspectCliOptions {
  std::string root = "/";
  bool json = false, require_static = false, no_dlopen = false, no_libraries = false;
  int jobs = 0;  // 0: one per CPU
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
          {"main", g.main ? mod(*g.main) : nlohmann::json(nullptr)}, {"deps", std::move(deps)},
          {"settings", std::move(settings)}, {"found_in", g.found_in}};
}

nlohmann::json report_json(const FileReport& r, const std::vector<std::string>& warnings) {
  nlohmann::json needs = nlohmann::json::array();
  for (const auto& n : r.needs) {
    nlohmann::json ev = nlohmann::json::array();
    for (const auto& e : n.evidence) ev.push_back({{"object", e.object}, {"detail", e.detail}});
    needs.push_back({{"kind", need_kind_name(n.kind)}, {"optional", n.optional}, {"paths", n.paths},
                     {"evidence", std::move(ev)}, {"note", str_or_null(n.note)}});
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
    dl.push_back(std::move(j));
  }
  nlohmann::json implicit = nlohmann::json::array();
  for (const auto& f : implicit_files(r))
    implicit.push_back({{"path", f.path},
                        {"kind", f.kind == ImplicitFile::Kind::Tree ? "tree" : f.kind == ImplicitFile::Kind::Glob ? "glob" : "file"},
                        {"optional", f.optional},
                        {"reason", f.reason}});
  nlohmann::json j = {
      {"file", r.path},
      {"implicit_files", std::move(implicit)},
      {"real_path", r.real_path},
      {"kind", file_kind_name(r.kind)},
      {"libc", loader_family_name(r.libc)},
      {"newest_glibc", str_or_null(r.newest_glibc)},
      {"newest_glibc_closure", str_or_null(r.newest_glibc_closure)},
      {"interpreter", opt_str(r.interp)},
      {"needed", r.needed},
      {"closure", r.closure},
      {"missing", r.missing},
      {"missing_versions", r.missing_versions},
      {"go", r.go ? go_json(*r.go) : nlohmann::json(nullptr)},
      {"cgo", r.cgo},
      {"rust", r.rust ? nlohmann::json(r.rustc_version) : nlohmann::json(nullptr)},
      {"needs", std::move(needs)},
      {"nss_modules", std::move(nss)},
      {"dlopen", std::move(dl)},
      {"truly_static", r.truly_static()},
      {"not_static_reasons", r.not_static_reasons},
      {"base", {{"image", std::string(base_name(r.base.base))}, {"why", r.base.why}, {"extra_libraries", r.base.extra_libraries}}},
      {"warnings", warnings},
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

void print_text(std::ostream& out, const FileReport& r) {
  out << r.path << ": " << file_kind_name(r.kind);
  if (r.kind == FileKind::NotElf) {
    out << " (neither ELF nor a #! script)\n";
    return;
  }
  if (r.script) {
    out << ", #!" << r.script->line << "\n  interpreter: "
              << (r.script->resolved ? *r.script->resolved : r.script->program + " (not found)");
    if (!r.ident) {
      out << "\n";
      return;
    }
  }
  if (r.ident) out << ", " << class_name(r.ident->elf_class) << " " << machine_name(r.ident->machine);
  if (r.libc != LoaderFamily::None) out << ", " << loader_family_name(r.libc);
  out << "\n";
  if (!r.newest_glibc.empty() || !r.newest_glibc_closure.empty())
    out << "  glibc: needs " << (r.newest_glibc.empty() ? "no versioned symbols" : r.newest_glibc)
              << " (with its libraries: " << r.newest_glibc_closure << ")\n";
  for (const auto& m : r.missing) out << "  missing: " << m << "\n";
  for (const auto& m : r.missing_versions) out << "  missing: " << m << "\n";
  if (r.interp) out << "  PT_INTERP: " << *r.interp << "\n";
  if (!r.needed.empty()) {
    out << "  DT_NEEDED:";
    for (const auto& n : r.needed) out << " " << n;
    out << "\n";
  }
  if (r.go) {
    const GoBuildInfo& g = *r.go;
    out << "  go: " << g.go_version << ", cgo " << (r.cgo ? "linked in" : "not linked in") << " (build info in "
              << g.found_in << ")\n";
    if (!g.path.empty()) out << "    path: " << g.path << "\n";
    if (g.main) out << "    mod: " << g.main->path << " " << g.main->version << "\n";
    for (const auto& d : g.deps) out << "    dep: " << d.path << " " << d.version << "\n";
    for (const auto& [k, v] : g.settings) out << "    build: " << k << "=" << v << "\n";
  }
  if (r.rust) out << "  rust: " << r.rustc_version << "\n";
  for (const auto& n : r.needs) {
    out << "  needs " << need_kind_name(n.kind) << (n.optional ? " (optional)" : "") << ":";
    for (const auto& p : n.paths) out << " " << p;
    out << "\n";
    constexpr size_t kShown = 3;  // --json has them all
    for (size_t i = 0; i < n.evidence.size() && i < kShown; ++i)
      out << "    because " << n.evidence[i].object << " " << n.evidence[i].detail << "\n";
    if (n.evidence.size() > kShown) out << "    ... and " << n.evidence.size() - kShown << " more\n";
    if (!n.note.empty()) out << "    note: " << n.note << "\n";
  }
  for (const auto& m : r.nss_modules) {
    out << "  nss " << m.database << ": " << m.service << " => ";
    if (m.builtin)
      out << "built into libc\n";
    else
      out << (m.path ? *m.path : m.library + " (not found)") << "\n";
  }
  for (const auto& t : r.dlopen) {
    out << "  dlopen ";
    if (t.name.empty()) {
      out << "<unknown>";
    } else {
      out << t.name << " => " << (t.resolved ? t.path + " [" + found_by_name(t.how) + "]" : "not found");
    }
    if (t.source == DlopenSource::Note)
      out << " (.note.dlopen in " << t.object << (t.feature.empty() ? "" : ", feature " + t.feature) << ")\n";
    else
      out << " (" << t.function << " at " << hex(t.call_site) << " in " << t.object << ")\n";
    if (t.name.empty()) out << "    " << t.unknown_reason << "\n";
  }
  out << "  base: " << std::string(base_name(r.base.base)) << "\n";
  for (const auto& w : r.base.why) out << "    " << w << "\n";
}

// What one file produced, kept until every file is done so the output keeps the given order.
struct FileOutcome {
  std::string error;                // the file could not be inspected
  std::vector<std::string> warnings;
  std::vector<std::string> not_static;  // --require-static reasons
  std::vector<std::string> missing;     // libraries and versions ld.so would not find
  std::string text;                 // the text report, or the file's JSON object (indented as in the document)
};

FileOutcome inspect_one(Inspector& inspector, const InspectCliOptions& opt, const std::string& path) {
  FileOutcome o;
  Context diag;
  auto r = inspector.inspect(path, &diag);
  if (!r) {
    o.error = r.error().message();
    return o;
  }
  // Bad input, like deps' "not an ELF file": exit 2 (--json still lists the file with its kind).
  if (r->kind == FileKind::NotElf) o.error = "inspect `" + r->path + "`: neither an ELF file nor a #! script";
  o.warnings = diag.messages();
  for (const auto& m : r->missing) o.missing.push_back(m + ": not found (needed by the closure of " + r->path + ")");
  o.missing.insert(o.missing.end(), r->missing_versions.begin(), r->missing_versions.end());
  if (opt.require_static && !r->truly_static()) {
    o.not_static = r->not_static_reasons;
    if (r->kind == FileKind::NotElf) o.not_static.push_back("not an ELF file");
    if (r->kind == FileKind::Script) o.not_static.push_back("a script, run by " + r->script->program);
    for (auto& why : o.not_static) why = r->path + ": not static: " + why;
  }
  if (opt.json) {
    // dump(2) of the whole document puts each file two levels deep; JSON strings hold no raw
    // newline, so indenting every line of the file's own dump gives the same bytes.
    std::string j = report_json(*r, o.warnings).dump(2);
    o.text.reserve(j.size() + j.size() / 8);
    o.text += "    ";
    for (char c : j) {
      o.text += c;
      if (c == '\n') o.text += "    ";
    }
  } else {
    std::ostringstream out;
    print_text(out, *r);
    o.text = std::move(out).str();
  }
  return o;
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
  std::vector<std::string> paths;
  for (const auto& f : opt.files)
    paths.push_back(root->is_host() ? normalize_path(join_path(host_cwd, f)) : normalize_path("/" + f));

  // Files are independent: up to --jobs threads take the next file each, every thread with its
  // own Root and Inspector (their caches are not thread-safe), so each reads libc's facts once.
  std::vector<FileOutcome> outcomes(paths.size());
  std::atomic<size_t> next{0};
  auto worker = [&](const Root& r) {
    Inspector inspector(r, io);
    for (size_t i = next++; i < paths.size(); i = next++) outcomes[i] = inspect_one(inspector, opt, paths[i]);
  };
  size_t jobs = std::clamp<size_t>(opt.jobs > 0 ? static_cast<size_t>(opt.jobs) : std::thread::hardware_concurrency(), 1, 64);
  jobs = std::min(jobs, std::max<size_t>(paths.size() / 16, 1));  // a thread costs its own caches
  std::vector<Root> roots;
  for (size_t t = 1; t < jobs; ++t) {
    auto r = Root::open(opt.root);
    if (!r) break;
    roots.push_back(std::move(*r));
  }
  std::vector<std::thread> threads;
  for (const Root& r : roots) threads.emplace_back(worker, std::cref(r));
  worker(*root);
  for (auto& t : threads) t.join();

  int status = kExitOk;
  std::string doc;
  if (opt.json) doc = "{\n  \"files\": [";
  bool first = true;
  for (auto& o : outcomes) {
    if (!o.error.empty()) {
      print_error(o.error);
      status = kExitBadInput;
      if (o.text.empty() || !opt.json) continue;
    }
    for (const auto& w : o.warnings) print_warning(w);
    for (const auto& why : o.not_static) std::cerr << "minify: " << why << "\n";
    for (const auto& m : o.missing) std::cerr << "minify: " << m << "\n";
    if ((!o.not_static.empty() || !o.missing.empty()) && status == kExitOk) status = kExitMissing;
    if (opt.json) {
      doc += first ? "\n" : ",\n";
      doc += o.text;
    } else {
      std::cout << o.text;
    }
    first = false;
  }
  if (opt.json) {
    doc += first ? "],\n" : "\n  ],\n";
    doc += "  \"root\": " + nlohmann::json(root->host_dir()).dump() + "\n}\n";
    std::cout << doc;
  }
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
  sub->add_option("-j,--jobs", opt->jobs, "Inspect this many files at once (default: one per CPU)")->check(CLI::Range(0, 1024));
  sub->add_option("files", opt->files, "Files to inspect (inside --root when given)")->required();
  return {sub, [opt] { return run_inspect(*opt); }};
}

}  // namespace minify::cli
