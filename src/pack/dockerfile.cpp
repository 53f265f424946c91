// The runner stage of a multi-stage Dockerfile, and what each base image already provides.
//
// COPY cannot make a symlink and dereferences one given as a source (moby/moby#40449), so the
// lines style copies each regular file under the names it was asked for (Entry::names) and no
// link at all: `libssl.so.3 -> libssl.so.3.0.11` becomes one file named libssl.so.3, and a file
// asked for as /lib64/ld-linux-x86-64.so.2 through the merged-/usr link /lib64 -> usr/lib64 is
// copied to "/lib64/" (a real directory on scratch; on a base that has the link, COPY follows it
// at the destination). Sources are named through their real directory
// (/usr/lib64/ld-linux-x86-64.so.2), the destination keeps the name's directory. The rootfs
// style copies the tree minify wrote, links and all.
//
// Line order follows how often content changes (docs.docker.com/build/cache/): the loader and
// libc, then other libraries, then certificates and data, then other files, and the program
// last, so that rebuilding after a code change reuses every layer but the last.
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "minify/pack.hpp"

namespace minify {

namespace {

// Loader and libc: what changes least (the first COPY lines).
constexpr std::array<std::string_view, 12> kLibcLibs = {
    "ld-linux*.so*", "ld64.so*", "ld-musl-*.so*", "libc.so*", "libm.so*", "libpthread.so*",
    "libdl.so*",     "librt.so*", "libresolv.so*", "libnss_*.so*", "libutil.so*", "libc.musl-*.so*"};

// Beyond this many COPY lines the stage gets a note pointing to the rootfs style.
constexpr size_t kMaxCopyLines = 100;

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

// The real directory of `dir` in the set: directory symlinks in the set are followed, lexically,
// as the kernel would inside the root (/lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu).
// COPY sources use it, because buildah resolves a link met after a symlinked directory against
// the unresolved path (/lib64/ld.so -> ../lib/... is looked up as /lib/..., not /usr/lib/...).
std::string real_dir(const FileSet& set, const std::string& dir) {
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

// A generated entry the image must get from the build context: not one the base provides, and
// not a directory made only to hold another generated entry.
bool from_context(const Entry& e, Base base) {
  if (!e.generated || base_provides(base, e.path)) return false;
  if (e.type != EntryType::Directory) return true;
  for (const auto& r : e.reasons)
    if (r.kind != ReasonKind::Directory) return true;
  return false;
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

Status write_generated(const FileSet& set, Base base, const std::string& out_dir) {
  FileSet gen;
  for (const auto& [path, e] : set) {
    if (!from_context(e, base)) continue;
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
    gen.put(e);
  }
  auto root = Root::open("/");  // nothing is read from it: every entry is generated
  if (!root) return root.error();
  return write_rootfs(gen, *root, out_dir);
}

std::string render_dockerfile(const FileSet& set, const DockerfileOptions& o) {
  Totals t = set.totals();
  std::string out;
  out += "# Runner stage written by minify: " + std::to_string(t.files) + " files, " + std::to_string(t.bytes) +
         " bytes. Its builder stage is named \"" + o.from_stage + "\".\n";
  std::string image = base_image(o.base, o.pin_digest);
  out += "FROM " + image + "\n";

  if (o.copy_style == CopyStyle::Rootfs) {
    out += "# The builder stage runs:\n#   RUN " + o.minify_command + "\n";
    out += "COPY --from=" + o.from_stage + " " + dir_with_slash(o.builder_out_dir) + "rootfs/ /\n";
  } else {
    // (layer, kind, destination directory) -> sources. std::map keeps it all sorted.
    enum class Kind { Files, Tree, Generated };
    struct Key {
      Layer layer;
      Kind kind;
      std::string dir;
      auto operator<=>(const Key&) const = default;
    };
    std::map<Key, std::set<std::string>> groups;
    // Whole directories (a recursive --keep of /usr/lib/python3.11) go in one COPY each, which
    // keeps their symlinks and subdirectory modes; one COPY per directory inside them would
    // also run into the 127-layer limit of overlay storage.
    std::vector<std::string> trees;
    auto in_tree = [&](const std::string& p) {
      for (const auto& tree : trees)
        if (p.size() > tree.size() && p.compare(0, tree.size(), tree) == 0 && p[tree.size()] == '/') return true;
      return false;
    };
    for (const auto& [path, e] : set) {
      if (e.type == EntryType::Directory && e.complete_tree && !e.generated && !in_tree(path) &&
          !base_provides(o.base, path)) {
        trees.push_back(path);
        Layer l = in_library_dir(path + "/") ? Layer::Libraries
                  : path.rfind("/etc/", 0) == 0 || path.rfind("/usr/share/", 0) == 0 ? Layer::Data
                                                                                       : Layer::Other;
        groups[{l, Kind::Tree, path}];
      }
    }
    for (const auto& [path, e] : set) {
      if (e.generated) {
        // Not in the builder: all of them come from the tree write_generated() made, in one
        // COPY of its contents, which keeps directory modes (/tmp 1777) and symlinks.
        if (from_context(e, o.base)) groups[{Layer::Data, Kind::Generated, "/"}];
        continue;
      }
      if (e.type != EntryType::File) continue;  // links: their targets are copied under the links' names
      std::vector<std::string> names = e.names.empty() ? std::vector<std::string>{path} : e.names;
      if (base_provides(o.base, path)) continue;
      bool linked_from_tree = false;
      std::set<std::string> copied;
      for (const auto& n : names) {
        if (base_provides(o.base, n)) continue;
        std::string src = join_path(real_dir(set, dirname_of(n)), basename_of(n));
        if (in_tree(src)) {
          // The tree's COPY brings this name: the file itself, or a link to it (kept as a link
          // by a directory COPY), whose target must then be there under its own path.
          linked_from_tree = linked_from_tree || src != path;
          continue;
        }
        copied.insert(src);
        groups[{layer_of(e, n), Kind::Files, dirname_of(n)}].insert(src);
      }
      if (linked_from_tree && !in_tree(path) && !copied.count(path))
        groups[{layer_of(e, path), Kind::Files, dirname_of(path)}].insert(path);
    }
    std::optional<Layer> current;
    size_t lines = 0;
    for (const auto& [key, sources] : groups) {
      if (!current || *current != key.layer) {
        out += std::string(layer_comment(key.layer)) + "\n";
        current = key.layer;
      }
      ++lines;
      switch (key.kind) {
        case Kind::Generated:
          out += "# Made by minify (users, /tmp): copied from the build context.\n";
          copy_line(out, "", {dir_with_slash(o.generated_context_dir)}, "/");
          break;
        case Kind::Tree: copy_line(out, o.from_stage, {key.dir + "/"}, key.dir + "/"); break;
        case Kind::Files:
          copy_line(out, o.from_stage, {sources.begin(), sources.end()}, dir_with_slash(key.dir));
          break;
      }
    }
    if (lines > kMaxCopyLines)
      out += "# Note: " + std::to_string(lines) + " COPY lines, each a layer; overlay storage stops at 127 layers. "
             "--copy-style rootfs makes one.\n";
  }

  for (const auto& [k, v] : o.env) out += "ENV " + k + "=" + quote(v) + "\n";
  if (!o.workdir.empty()) out += "WORKDIR " + o.workdir + "\n";
  out += "USER " + o.user.value_or(kNonRootUser) + "\n";
  for (const auto& p : o.exposed_ports) out += "EXPOSE " + p + "\n";
  if (!o.entrypoint.empty()) out += "ENTRYPOINT " + json_array(o.entrypoint) + "\n";
  if (!o.cmd.empty()) out += "CMD " + json_array(o.cmd) + "\n";
  return out;
}

}  // namespace minify
