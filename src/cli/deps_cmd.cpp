// `minify deps`: the shared-library closure of ELF files, as a list, a tree or JSON.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.hpp"
#include "minify/resolve.hpp"

namespace minify::cli {

namespace {

struct DepsOptions {
  std::string root = "/";
  bool list = false, tree = false, json = false, realpath = false;
  std::vector<std::string> env;
  std::vector<std::string> files;
};

nlohmann::json path_list_json(const std::optional<std::string>& written, const std::vector<std::string>& expanded) {
  if (!written) return nullptr;
  return {{"written", *written}, {"expanded", expanded}};
}

nlohmann::json object_json(const Closure& c, const LoadedObject& o) {
  const ElfInfo& e = *o.elf;
  nlohmann::json needed_by = nlohmann::json::array();
  for (int i : o.needed_by) needed_by.push_back(c.objects[static_cast<size_t>(i)].path);
  return {
      {"name", o.name},
      {"path", o.path},
      {"real_path", o.real_path},
      {"found_by", found_by_name(o.how)},
      {"search_dir", o.search_dir.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.search_dir)},
      {"needed_by", std::move(needed_by)},
      {"soname", e.soname.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.soname)},
      {"needed", e.needed},
      {"rpath", path_list_json(e.rpath, o.rpath)},
      {"runpath", path_list_json(e.runpath, o.runpath)},
      {"hwcaps", o.hwcaps},
  };
}

nlohmann::json closure_json(const Closure& c) {
  const LoadedObject& prog = c.objects[0];
  const ElfInfo& e = *prog.elf;
  nlohmann::json libs = nlohmann::json::array();
  for (size_t i = 1; i < c.objects.size(); ++i) libs.push_back(object_json(c, c.objects[i]));
  nlohmann::json missing = nlohmann::json::array();
  for (const auto& m : c.missing)
    missing.push_back({{"name", m.name},
                       {"needed_by", m.needed_by >= 0 ? nlohmann::json(c.objects[static_cast<size_t>(m.needed_by)].path)
                                                      : nlohmann::json("/etc/ld.so.preload")},
                       {"searched", m.searched},
                       {"reason", m.reason}});
  nlohmann::json versions = nlohmann::json::array(), version_warnings = nlohmann::json::array();
  for (const auto& v : c.version_problems) {
    nlohmann::json j = {
        {"version", v.version.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.version)},
        {"file", v.file.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.file)},
        {"path", v.provider >= 0 ? nlohmann::json(c.objects[static_cast<size_t>(v.provider)].path) : nlohmann::json(nullptr)},
        {"required_by", c.objects[static_cast<size_t>(v.object)].path},
        {"message", version_problem_message(c, v)},
    };
    (v.fatal ? versions : version_warnings).push_back(std::move(j));
  }
  return {
      {"file", prog.path},
      {"real_path", prog.real_path},
      {"class", class_name(e.ident.elf_class)},
      {"byte_order", e.ident.data == 1 ? "little" : "big"},
      {"machine", machine_name(e.ident.machine)},
      {"type", type_name(e.ident.type)},
      {"linkage", linkage_name(e.linkage)},
      {"loader", loader_family_name(c.family)},
      {"interpreter", e.interp ? nlohmann::json(*e.interp) : nlohmann::json(nullptr)},
      {"soname", e.soname.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.soname)},
      {"needed", e.needed},
      {"rpath", path_list_json(e.rpath, prog.rpath)},
      {"runpath", path_list_json(e.runpath, prog.runpath)},
      {"nodeflib", e.nodeflib()},
      {"default_dirs", c.default_dirs},
      {"libraries", std::move(libs)},
      {"unresolved", std::move(missing)},
      {"unresolved_versions", std::move(versions)},
      {"version_warnings", std::move(version_warnings)},
  };
}

// lddtree/libtree-style tree: each object's dependencies are expanded where it first appears.
void print_tree(const Closure& c) {
  const LoadedObject& prog = c.objects[0];
  const ElfInfo& e = *prog.elf;
  std::cout << prog.path << " [" << linkage_name(e.linkage) << ", " << machine_name(e.ident.machine);
  if (c.family != LoaderFamily::None) std::cout << ", " << loader_family_name(c.family);
  std::cout << "]\n";
  std::vector<bool> shown(c.objects.size(), false);
  shown[0] = true;
  size_t missing_seen = 0;
  std::function<void(int, const std::string&)> walk = [&](int idx, const std::string& indent) {
    const LoadedObject& o = c.objects[static_cast<size_t>(idx)];
    const auto& needed = o.elf->needed;
    for (size_t i = 0; i < needed.size() && i < o.deps.size(); ++i) {
      bool last = i + 1 == needed.size();
      std::cout << indent << (last ? "└── " : "├── ") << needed[i];
      int d = o.deps[i];
      if (d < 0) {
        // Missing entries are recorded in load order; find this one's reason.
        std::string reason = "not found";
        for (size_t m = missing_seen; m < c.missing.size(); ++m)
          if (c.missing[m].name == needed[i]) {
            reason = c.missing[m].reason;
            break;
          }
        std::cout << " => " << reason << "\n";
        continue;
      }
      const LoadedObject& dep = c.objects[static_cast<size_t>(d)];
      std::cout << " => " << dep.path << " [" << found_by_name(dep.how) << "]";
      if (!dep.hwcaps.empty()) std::cout << " (+" << dep.hwcaps.size() << " glibc-hwcaps)";
      if (shown[static_cast<size_t>(d)]) {
        std::cout << (dep.elf->needed.empty() ? "\n" : " (see above)\n");
        continue;
      }
      std::cout << "\n";
      shown[static_cast<size_t>(d)] = true;
      walk(d, indent + (last ? "    " : "│   "));
    }
  };
  walk(0, "    ");
  for (size_t i = 1; i < c.objects.size(); ++i)
    if (!shown[i]) std::cout << "    " << c.objects[i].path << " [" << found_by_name(c.objects[i].how) << "]\n";
}

int run_deps(const DepsOptions& opt) {
  auto root = Root::open(opt.root);
  if (!root) {
    print_error(root.error().message());
    return kExitBadInput;
  }
  LoaderEnv env;
  for (const auto& kv : opt.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      print_error("--env expects NAME=VALUE, got `" + kv + "`");
      return kExitBadInput;
    }
    std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (name == "LD_LIBRARY_PATH") {
      env.ld_library_path = split_ld_library_path(value);
    } else if (name == "LD_PRELOAD" || name == "LD_AUDIT") {
      print_error(name + " is not supported by minify deps");
      return kExitBadInput;
    }
    // Other variables do not change which libraries ld.so maps.
  }
  std::string host_cwd = "/";
  if (root->is_host()) {
    char buf[4096];
    if (::getcwd(buf, sizeof buf)) host_cwd = buf;
    env.cwd = host_cwd;
  }

  bool tree = opt.tree || (!opt.list && !opt.json && ::isatty(1));
  bool list = !opt.json && !tree;
  Context diag;
  Resolver resolver(*root, env, &diag);
  std::vector<Closure> closures;  // for --json and --tree; --list keeps only the paths
  std::set<std::string> all;
  int status = kExitOk;
  for (const auto& f : opt.files) {
    std::string path = root->is_host() ? normalize_path(join_path(host_cwd, f)) : normalize_path("/" + f);
    auto c = resolver.closure(path);
    if (!c) {
      print_error(c.error().message());
      status = kExitBadInput;
      continue;
    }
    for (const auto& m : c->missing) {
      std::string by = m.needed_by >= 0 ? c->objects[static_cast<size_t>(m.needed_by)].path : "/etc/ld.so.preload";
      std::cerr << "minify: " << m.name << ": " << m.reason << " (needed by " << by << ")\n";
      if (status == kExitOk) status = kExitMissing;
    }
    // ld.so's own wording (rtld.c print_missing_version), so the line reads the same as the
    // one the program would print at start.
    for (const auto& v : c->version_problems) {
      if (v.fatal) {
        std::cerr << "minify: " << version_problem_message(*c, v) << "\n";
        if (status == kExitOk) status = kExitMissing;
      } else {
        print_warning(version_problem_message(*c, v));
      }
    }
    if (list) {
      for (size_t i = 1; i < c->objects.size(); ++i) {
        const LoadedObject& o = c->objects[i];
        all.insert(opt.realpath ? o.real_path : o.path);
        for (const auto& h : o.hwcaps) {
          auto r = opt.realpath ? root->resolve(h) : Result<Resolved>(Resolved{h, {}});
          all.insert(r ? r->path : h);
        }
      }
    } else {
      closures.push_back(std::move(*c));
    }
  }
  print_diagnostics(diag);

  if (opt.json) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& c : closures) files.push_back(closure_json(c));
    nlohmann::json doc = {{"root", root->host_dir()}, {"env", {{"LD_LIBRARY_PATH", env.ld_library_path}}}, {"files", std::move(files)}};
    std::cout << doc.dump(2) << "\n";
  } else if (tree) {
    for (const auto& c : closures) print_tree(c);
  } else {
    for (const auto& p : all) std::cout << p << "\n";
  }
  std::cout.flush();
  return status;
}

}  // namespace

Command add_deps_command(CLI::App& app) {
  auto opt = std::make_shared<DepsOptions>();
  CLI::App* sub = app.add_subcommand("deps", "Shared-library closure of ELF files, resolved as ld.so would, without running them");
  sub->add_option("--root", opt->root, "Resolve inside this root directory (a sysroot, an unpacked image)")->check(CLI::ExistingDirectory);
  auto* fmt = sub->add_option_group("format");
  fmt->add_flag("--list", opt->list, "One absolute path per line, sorted (the default when not on a terminal)");
  fmt->add_flag("--tree", opt->tree, "Indented tree saying how each library was found (the default on a terminal)");
  fmt->add_flag("--json", opt->json, "One JSON document with everything known about each file");
  fmt->require_option(0, 1);
  sub->add_flag("--realpath", opt->realpath, "With --list: print paths with every symlink resolved");
  sub->add_option("--env", opt->env, "The loader's environment, e.g. LD_LIBRARY_PATH=/opt/lib (never minify's own)")->allow_extra_args(false);
  sub->add_option("files", opt->files, "ELF files (inside --root when given)")->required();
  return {sub, [opt] { return run_deps(*opt); }};
}

}  // namespace minify::cli
