// The runner stage of a multi-stage Dockerfile, following a RunnerPlan (runner_plan.cpp).
//
// COPY cannot make a symlink and dereferences one given as a source (moby/moby#40449), so the
// lines style copies each regular file under the names it was asked for (Entry::names) and no
// link at all: `libssl.so.3 -> libssl.so.3.0.11` becomes one file named libssl.so.3, and a file
// asked for as /lib64/ld-linux-x86-64.so.2 through the merged-/usr link /lib64 -> usr/lib64 is
// copied to "/lib64/" (a real directory on scratch; on a base that has the link, COPY follows it
// at the destination). Sources are named through their real directory
// (/usr/lib64/ld-linux-x86-64.so.2), the destination keeps the name's directory. A directory the
// plan ships whole is one COPY of the directory, which keeps the links inside it. The rootfs
// style copies the tree minify wrote, links and all.
//
// What minify writes itself (users and /tmp of a scratch image, dpkg status.d, the copyright and
// release files scanners read) comes from the build context in one COPY. Debian 12's buildah
// (1.28) has no heredocs: `COPY <<EOF /etc/passwd` fails with `copier: stat: "/<<EOF": no such
// file or directory` (heredoc support came with buildah 1.33), so minify writes the context
// directory beside the Dockerfile and names it relative to the Dockerfile's directory.
// Directories the image's user must own come from writable/N/ beside it with `COPY --chown`,
// into a parent that exists by then (pack.hpp: RunnerPlan::owned).
//
// Line order follows how often content changes (docs.docker.com/build/cache/): the loader and
// libc, then other libraries, then certificates and data, then other files, and the program
// last, so that rebuilding after a code change reuses every layer but the last.
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "minify/pack.hpp"
#include "pack/name_list.hpp"

namespace minify {

namespace {

// Loader and libc: what changes least (the first COPY lines).
constexpr std::array<std::string_view, 12> kLibcLibs = {
    "ld-linux*.so*", "ld64.so*", "ld-musl-*.so*", "libc.so*", "libm.so*", "libpthread.so*",
    "libdl.so*",     "librt.so*", "libresolv.so*", "libnss_*.so*", "libutil.so*", "libc.musl-*.so*"};

// Beyond this many COPY lines the stage gets a note pointing to the rootfs style.
constexpr size_t kMaxCopyLines = 100;

bool under(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

bool has_reason(const Entry& e, ReasonKind k) {
  for (const auto& r : e.reasons)
    if (r.kind == k) return true;
  return false;
}

enum class Layer { Libc, Libraries, Data, Other, Program };

Layer layer_of(const Entry& e, const std::string& name) {
  if (has_reason(e, ReasonKind::Program)) return Layer::Program;
  if (has_reason(e, ReasonKind::Interpreter)) return Layer::Libc;
  if (in_library_dir(name) && basename_matches(kLibcLibs, name)) return Layer::Libc;
  std::string base = basename_of(name);
  if (has_reason(e, ReasonKind::Needed) || has_reason(e, ReasonKind::Dlopen) || base.find(".so") != std::string::npos)
    return Layer::Libraries;
  if (name.rfind("/etc/", 0) == 0 || name.rfind("/usr/share/", 0) == 0) return Layer::Data;
  return Layer::Other;
}

std::string_view layer_comment(Layer l) {
  switch (l) {
    case Layer::Libc: return "# The loader and the C library: they change least.";
    case Layer::Libraries: return "# Shared libraries.";
    case Layer::Data: return "# Certificates, configuration and data.";
    case Layer::Other: return "# Other files the program uses.";
    case Layer::Program: return "# The program itself, last: it changes most.";
  }
  return "";
}

bool is_release(std::string_view p) {
  return p == "/etc/os-release" || p == "/usr/lib/os-release" || p == "/etc/debian_version";
}

std::string quote(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

std::string json_array(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quote(v[i]);
  return out + "]";
}

std::string dir_with_slash(std::string d) {
  if (d.empty() || d.back() != '/') d += '/';
  return d;
}

// One COPY in JSON form; many sources go one per line.
void copy_line(std::string& out, const std::string& from, const std::vector<std::string>& sources,
               const std::string& dest) {
  out += "COPY ";
  if (!from.empty()) out += "--from=" + from + " ";
  if (sources.size() <= 2) {
    std::vector<std::string> all = sources;
    all.push_back(dest);
    out += json_array(all) + "\n";
    return;
  }
  out += "[";
  for (const auto& s : sources) out += quote(s) + ", \\\n     ";
  out += quote(dest) + "]\n";
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= 1ull << 20)
    std::snprintf(buf, sizeof buf, "%.1f MB", b / 1048576.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f KB", b / 1024.0);
  return buf;
}

}  // namespace

Status add_scratch_basics(FileSet& set) {
  // The same users and groups as distroless (base/base.bzl), so USER 65532 means the same there.
  const Reason why{ReasonKind::Generated, "users of a scratch image (root, nobody, nonroot)"};
  if (!set.find("/etc/passwd")) {
    auto s = set.add_generated("/etc/passwd",
                               "root:x:0:0:root:/root:/sbin/nologin\n"
                               "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                               "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
                               0644, why);
    if (!s) return s;
  }
  if (!set.find("/etc/group")) {
    auto s = set.add_generated("/etc/group", "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n", 0644, why);
    if (!s) return s;
  }
  if (!set.find("/tmp")) return set.add_directory("/tmp", 01777, {ReasonKind::Generated, "a writable /tmp (mode 1777)"});
  return Ok{};
}

std::string real_dir_in_set(const FileSet& set, const std::string& dir) {
  std::string done = "/";
  std::string rest = dir;
  for (int hops = 0; hops <= kMaxSymlinks;) {
    while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
    if (rest.empty()) return done;
    size_t slash = rest.find('/');
    std::string comp = rest.substr(0, slash);
    rest = slash == std::string::npos ? "" : rest.substr(slash);
    std::string next = done == "/" ? "/" + comp : done + "/" + comp;
    const Entry* e = set.find(next);
    if (e && e->type == EntryType::Symlink) {
      ++hops;
      std::string target = e->link_target;
      std::string base = target.front() == '/' ? target : join_path(done, target);
      rest = normalize_path(base) + rest;
      done = "/";
      continue;
    }
    done = next;
  }
  return dir;  // a loop: leave the name as it is
}

std::string build_command(std::string_view context_dir, std::string_view tool) {
  std::string dir = context_dir.empty() ? "DIR" : std::string(context_dir);
  return std::string(tool) + " -f " + dir + "/Dockerfile " + dir;
}

Status write_generated(const FileSet& set, const RunnerPlan& plan, const Root* root, const std::string& out_dir) {
  FileSet gen;
  for (const auto& path : plan.from_context) {
    const Entry* e = set.find(path);
    if (!e) continue;
    // Parent directories as they are in the set (their modes), or 0755.
    for (std::string d = dirname_of(path); d != "/"; d = dirname_of(d)) {
      if (gen.find(d)) break;
      const Entry* pe = set.find(d);
      Entry de;
      de.path = d;
      de.type = EntryType::Directory;
      de.mode = pe && pe->type == EntryType::Directory ? pe->mode : 0755;
      de.generated = true;
      gen.put(std::move(de));
    }
    Entry copy = *e;
    if (!copy.generated && copy.type == EntryType::File) {
      if (!root) return bad_input("write", out_dir, path + " is a file of the builder and no root was given");
      auto text = root->read_file(path);
      if (!text) return text.error();
      copy.content = std::move(*text);
    }
    copy.generated = true;
    gen.put(std::move(copy));
  }
  auto host = Root::open("/");  // nothing is read from it: every entry has its content
  if (!host) return host.error();
  return write_rootfs(gen, *host, out_dir);
}

Status write_writable(const FileSet& set, const RunnerPlan& plan, const std::string& out_dir) {
  if (plan.owned.empty()) return Ok{};
  auto host = Root::open("/");  // nothing is read from it: the entries are directories
  if (!host) return host.error();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Error{ec.value(), "mkdir", out_dir, ""};
  for (size_t i = 0; i < plan.owned.size(); ++i) {
    const RunnerPlan::OwnedGroup& g = plan.owned[i];
    FileSet tree;
    for (const auto& d : g.dirs) {
      const Entry* e = set.find(d);
      Entry de;
      de.path = "/" + (g.parent == "/" ? d.substr(1) : d.substr(g.parent.size() + 1));
      de.type = EntryType::Directory;
      de.mode = e ? e->mode & 07777 : 0755;
      de.generated = true;
      tree.put(std::move(de));
    }
    if (auto st = write_rootfs(tree, *host, out_dir + "/" + std::to_string(i + 1)); !st) return st;
  }
  return Ok{};
}

Status write_generated(const FileSet& set, Base base, const std::string& out_dir) {
  RunnerPlanOptions o;
  o.base = base;
  return write_generated(set, plan_runner(set, o), nullptr, out_dir);
}

std::string render_dockerfile(const FileSet& set, const DockerfileOptions& o) {
  RunnerPlan own_plan;
  const RunnerPlan* plan = o.plan;
  if (!plan || plan->base != o.base) {
    RunnerPlanOptions po;
    po.base = o.base;
    own_plan = plan_runner(set, po);
    plan = &own_plan;
  }
  std::string image = base_image(o.base, o.pin_digest);

  // (layer, kind, destination directory) -> sources and what they are. Groups are then sorted
  // by layer, then by their comment (the packages of their files), so that the directories of one
  // package sit together under one comment.
  enum class Kind { Files, Tree, Context, Owned };
  struct Key {
    Layer layer;
    Kind kind;
    std::string dir;
    auto operator<=>(const Key&) const = default;
  };
  struct Group {
    std::set<std::string> sources, packages;
    std::string note;  // why files the base would meet are copied
    bool unowned = false;
  };
  std::map<Key, Group> groups;
  uint64_t files = 0, bytes = 0;
  auto count = [&](const Entry& e) {
    ++files;
    bytes += e.size;
  };
  const bool named = !plan->package_of.empty();
  auto note_package = [&](Group& g, const std::string& p) {
    if (!named) return;
    auto i = plan->package_of.find(p);
    if (i == plan->package_of.end())
      g.unowned = true;
    else
      g.packages.insert(i->second);
  };

  if (o.copy_style == CopyStyle::Lines) {
    const auto& trees = plan->whole_dirs;
    auto tree_of = [&](const std::string& p) -> const std::string* {
      for (const auto& t : trees)
        if (under(p, t)) return &t;
      return nullptr;
    };
    // A name lies in a tree's COPY only when reaching it crosses no symlinked directory: on
    // scratch /lib64 -> usr/lib64 is no link, so /lib64/ld.so needs its own COPY.
    auto brought_by_tree = [&](const std::string& name) {
      return tree_of(name) && real_dir_in_set(set, dirname_of(name)) == dirname_of(name);
    };
    for (const auto& t : trees) {
      // The layer of a directory is the latest of its files' (a Python package of .py files and
      // one extension module is "other files", not "libraries").
      std::optional<Layer> l;
      Group g;
      for (const auto& [p, pe] : set)
        if (under(p, t) && pe.type == EntryType::File) {
          count(pe);
          note_package(g, p);
          Layer fl = layer_of(pe, p);
          if (!l || fl > *l) l = fl;
        }
      groups[{l.value_or(Layer::Other), Kind::Tree, t}] = std::move(g);
    }
    bool any_context = false;
    for (const auto& [path, e] : set) {
      if (plan->from_context.count(path)) {
        any_context = true;
        if (e.type == EntryType::File) count(e);
        continue;
      }
      if (e.type != EntryType::File || e.generated) continue;  // links: their targets are copied under the links' names
      std::vector<std::string> names = e.names.empty() ? std::vector<std::string>{path} : e.names;
      bool kept = plan->kept_because.count(path) > 0;
      bool skipped = !kept && plan->not_copied.count(path) > 0;
      bool needs_own_path = false;
      std::set<std::string> copied;
      for (const auto& n : names) {
        bool name_kept = kept || plan->kept_because.count(n) > 0;
        if (!name_kept && (skipped || plan->not_copied.count(n))) continue;
        std::string src = join_path(real_dir_in_set(set, dirname_of(n)), basename_of(n));
        if (src == n && n != path && plan->from_context.count(n)) {
          // A link the build context makes (to a file in another directory): the file goes
          // under its own path.
          needs_own_path = true;
          continue;
        }
        if (brought_by_tree(n)) {
          // The tree's COPY brings this name: the file itself, or a link to it (kept as a link
          // by a directory COPY), whose target must then be there under its own path.
          needs_own_path = needs_own_path || src != path;
          continue;
        }
        copied.insert(src);
        Group& g = groups[{layer_of(e, n), Kind::Files, dirname_of(n)}];
        g.sources.insert(src);
        note_package(g, path);
        if (auto why = plan->kept_because.find(kept ? path : n); name_kept && why != plan->kept_because.end())
          g.note = why->second;
      }
      if (needs_own_path && !tree_of(path) && !copied.count(path)) {
        copied.insert(path);
        Group& g = groups[{layer_of(e, path), Kind::Files, dirname_of(path)}];
        g.sources.insert(path);
        note_package(g, path);
      }
      if (!copied.empty()) count(e);
    }
    if (any_context) groups[{Layer::Data, Kind::Context, "/"}];
    // Directories the image's user owns: right after the context COPY, which makes their parents.
    char index[32];
    for (size_t i = 0; i < plan->owned.size(); ++i) {
      std::snprintf(index, sizeof index, "%06zu", i);
      groups[{Layer::Data, Kind::Owned, index}];
    }
  } else {
    Totals t = set.totals();
    files = t.files;
    bytes = t.bytes;
  }

  // The header: how to build it, then what it is.
  std::string out;
  out += "# Build: " + build_command(o.context_dir) + "  (or: " + build_command(o.context_dir, "docker build") + ")\n";
  out += "# Runner stage written by minify: " + std::to_string(files) + " files, " + human_bytes(bytes) + ".";
  if (o.builder_image.empty())
    out += " It copies from the stage \"" + o.from_stage + "\": put your builder stage above this one.\n";
  else
    out += "\n";
  if (o.base != Base::Scratch && o.pin_digest.empty())
    out += "# The base is not pinned: no digest of " + image + " is known (--pin-digest, --resolve-digest).\n";
  if (!o.builder_image.empty()) out += "FROM " + o.builder_image + " AS " + o.from_stage + "\n";
  out += "FROM " + image + "\n";

  if (o.copy_style == CopyStyle::Rootfs) {
    out += "# The builder stage runs:\n#   RUN " + o.minify_command + "\n";
    out += "COPY --from=" + o.from_stage + " " + dir_with_slash(o.builder_out_dir) + "rootfs/ /\n";
  } else {
    // The comment over a group: why it is copied against the base, else its packages.
    auto label_of = [&](const Key& key, const Group& g) -> std::string {
      if (!g.note.empty()) return g.note;
      if (key.kind == Kind::Owned) {
        const auto& og = plan->owned[std::stoul(key.dir)];
        std::set<std::string> dirs(og.dirs.begin(), og.dirs.end());
        return "Directories the program wrote into, for its user (" + std::to_string(og.uid) + ":" +
               std::to_string(og.gid) + "): " + name_list(dirs);
      }
      if (key.kind == Kind::Context || !named) return "";
      std::string pk = name_list(g.packages);
      if (key.layer == Layer::Program) return pk;
      if (g.packages.empty()) return "not from a package";
      return pk;
    };
    struct Line {
      Layer layer;
      std::string label;
      Key key;
      const Group* group;
    };
    std::vector<Line> ordered;
    for (const auto& [key, g] : groups) ordered.push_back({key.layer, label_of(key, g), key, &g});
    // In a layer: the context COPY, then the owned directories in plan order, then by label.
    auto rank = [](Kind k) { return k == Kind::Context ? 0 : k == Kind::Owned ? 1 : 2; };
    std::stable_sort(ordered.begin(), ordered.end(), [&](const Line& a, const Line& b) {
      if (a.layer != b.layer) return a.layer < b.layer;
      if (rank(a.key.kind) != rank(b.key.kind)) return rank(a.key.kind) < rank(b.key.kind);
      return rank(a.key.kind) == 2 && a.label < b.label;
    });
    std::optional<Layer> layer;
    std::optional<std::string> label;
    size_t lines = 0;
    for (const auto& [l, text, key, g] : ordered) {
      if (!layer || *layer != l) {
        out += std::string(layer_comment(l)) + "\n";
        layer = l;
        label.reset();
      }
      ++lines;
      if (!text.empty() && text != label) out += "# " + text + "\n";
      label = text;
      switch (key.kind) {
        case Kind::Context: {
          std::set<std::string> what;
          size_t packages = 0;
          for (const auto& p : plan->from_context) {
            const Entry* e = set.find(p);
            if (!e || e->type == EntryType::Directory) {
              if (e) what.insert(p == "/tmp" ? "/tmp" : e->generated ? "writable directories" : "directories with their modes");
              continue;
            }
            if (e->type == EntryType::Symlink && !e->generated && p.rfind("/usr/share/doc/", 0) != 0 &&
                !is_release(p)) {
              what.insert("links");
              continue;
            }
            if (p.rfind("/var/lib/dpkg/status.d/", 0) == 0) {
              if (p.size() < 8 || p.substr(p.size() - 8) != ".md5sums") ++packages;
            } else if (p == "/etc/passwd" || p == "/etc/group") {
              what.insert("users");
            } else if (p.rfind("/usr/share/doc/", 0) != 0 && p.rfind("/var/lib/dpkg/", 0) != 0 && !e->generated) {
              what.insert("release files");
            } else if (e->generated) {
              what.insert(p);  // /etc/hosts, /etc/shadow: minify's own, named
            }
          }
          if (packages) what.insert("dpkg status.d and copyright of " + std::to_string(packages) + " packages");
          out += "# Written by minify (" + name_list(what, 6) + "): from the build context, " +
                 dir_with_slash(o.generated_context_dir) + " beside this Dockerfile.\n";
          copy_line(out, "", {dir_with_slash(o.generated_context_dir)}, "/");
          break;
        }
        case Kind::Owned: {
          size_t i = std::stoul(key.dir);
          const auto& og = plan->owned[i];
          out += "COPY --chown=" + std::to_string(og.uid) + ":" + std::to_string(og.gid) + " " +
                 json_array({dir_with_slash(o.writable_context_dir) + std::to_string(i + 1) + "/", dir_with_slash(og.parent)}) +
                 "\n";
          break;
        }
        case Kind::Tree: copy_line(out, o.from_stage, {key.dir + "/"}, key.dir + "/"); break;
        case Kind::Files:
          copy_line(out, o.from_stage, {g->sources.begin(), g->sources.end()}, dir_with_slash(key.dir));
          break;
      }
    }
    if (lines > kMaxCopyLines)
      out += "# Note: " + std::to_string(lines) + " COPY lines, each a layer; overlay storage stops at 127 layers. "
             "--copy-style rootfs makes one.\n";
  }

  // One ENV for all of them: one instruction, one layer of configuration.
  for (size_t i = 0; i < o.env.size(); ++i)
    out += (i == 0 ? "ENV " : "    ") + o.env[i].first + "=" + quote(o.env[i].second) + (i + 1 < o.env.size() ? " \\\n" : "\n");
  if (!o.workdir.empty()) out += "WORKDIR " + o.workdir + "\n";
  out += "USER " + o.user.value_or(kNonRootUser) + "\n";
  for (const auto& p : o.exposed_ports) out += "EXPOSE " + p + "\n";
  if (!o.entrypoint.empty()) out += "ENTRYPOINT " + json_array(o.entrypoint) + "\n";
  if (!o.cmd.empty()) out += "CMD " + json_array(o.cmd) + "\n";
  return out;
}

}  // namespace minify
