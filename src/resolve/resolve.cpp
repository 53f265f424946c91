// The closure of a program as ld.so computes it, without running it.
//
// glibc (elf/dl-deps.c _dl_map_object_deps, elf/dl-load.c _dl_map_object): the program's
// DT_NEEDED entries are loaded breadth-first. A name already loaded (matching an earlier name,
// path or DT_SONAME) is reused. A name with a slash is opened as written (after $ORIGIN, $LIB
// and $PLATFORM expansion). Any other name is searched for in:
//   1. DT_RPATH of the requesting object, then of the object that loaded it, and on up to the
//      program (only when the requesting object has no DT_RUNPATH; the program's own DT_RPATH
//      is ignored when it has a DT_RUNPATH),
//   2. LD_LIBRARY_PATH,
//   3. DT_RUNPATH of the requesting object (not inherited),
//   4. /etc/ld.so.cache, unless DF_1_NODEFLIB and the entry lies in a system directory,
//   5. the system directories, unless DF_1_NODEFLIB.
// In every directory the glibc-hwcaps subdirectories are tried first. Candidates of another ELF
// class or machine are skipped ("the 32-bit library in the way"). The same file reached through
// two names is loaded once (dev/ino, _dl_file_id_match_p).
//
// musl (ldso/dynlink.c load_library): libc.so, libpthread.so and the other names of libc map to
// the loader itself; otherwise LD_LIBRARY_PATH, then DT_RUNPATH-or-DT_RPATH of the requesting
// object and each of its loaders ($ORIGIN only), then the lines of <prefix>/etc/ld-musl-ARCH.path
// or "/lib:/usr/local/lib:/usr/lib". Already loaded objects match by file name and by dev/ino.
#include <elf.h>
#include <sys/stat.h>

#include <algorithm>
#include <deque>
#include <set>

#include "minify/resolve.hpp"

namespace minify {

std::string found_by_name(FoundBy how) {
  switch (how) {
    case FoundBy::Program: return "program";
    case FoundBy::Interpreter: return "interpreter";
    case FoundBy::Preload: return "ld.so.preload";
    case FoundBy::Loaded: return "already loaded";
    case FoundBy::Path: return "path";
    case FoundBy::Rpath: return "rpath";
    case FoundBy::LdLibraryPath: return "LD_LIBRARY_PATH";
    case FoundBy::Runpath: return "runpath";
    case FoundBy::LdSoCache: return "ld.so.cache";
    case FoundBy::DefaultPath: return "default path";
    case FoundBy::MuslLibc: return "musl libc";
  }
  return "unknown";
}

std::string loader_family_name(LoaderFamily family) {
  switch (family) {
    case LoaderFamily::None: return "none";
    case LoaderFamily::Glibc: return "glibc";
    case LoaderFamily::Musl: return "musl";
  }
  return "unknown";
}

namespace {

bool is64(const ElfIdent& id) { return id.elf_class == ELFCLASS64; }

// The interpreter glibc's toolchain writes into PT_INTERP for this machine; a library given on
// the command line has none of its own, and ld.so --list loads it with this one.
std::string default_glibc_interp(const ElfIdent& id) {
  switch (id.machine) {
    case EM_X86_64: return is64(id) ? "/lib64/ld-linux-x86-64.so.2" : "/libx32/ld-linux-x32.so.2";
    case EM_386: return "/lib/ld-linux.so.2";
    case EM_AARCH64: return "/lib/ld-linux-aarch64.so.1";
    case EM_ARM: return (id.flags & 0x400) ? "/lib/ld-linux-armhf.so.3" : "/lib/ld-linux.so.3";
    case EM_PPC64: return id.data == ELFDATA2LSB ? "/lib64/ld64.so.2" : "/lib64/ld64.so.1";
    case EM_S390: return is64(id) ? "/lib/ld64.so.1" : "/lib/ld.so.1";
    case EM_RISCV: return "/lib/ld-linux-riscv64-lp64d.so.1";
    default: return "";
  }
}

std::string musl_arch(const ElfIdent& id) {
  switch (id.machine) {
    case EM_X86_64: return "x86_64";
    case EM_386: return "i386";
    case EM_AARCH64: return "aarch64";
    case EM_ARM: return (id.flags & 0x400) ? "armhf" : "arm";
    case EM_RISCV: return "riscv64";
    case EM_PPC64: return "powerpc64le";
    case EM_S390: return "s390x";
    default: return "";
  }
}

// Debian's multiarch tuple, for the fallback system directories.
std::string multiarch_tuple(const ElfIdent& id) {
  switch (id.machine) {
    case EM_X86_64: return is64(id) ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
    case EM_386: return "i386-linux-gnu";
    case EM_AARCH64: return "aarch64-linux-gnu";
    case EM_ARM: return (id.flags & 0x400) ? "arm-linux-gnueabihf" : "arm-linux-gnueabi";
    case EM_PPC64: return "powerpc64le-linux-gnu";
    case EM_S390: return "s390x-linux-gnu";
    case EM_RISCV: return "riscv64-linux-gnu";
    default: return "";
  }
}

// AT_PLATFORM as the kernel reports it, for $PLATFORM.
std::string platform_of(const ElfIdent& id) {
  switch (id.machine) {
    case EM_X86_64: return "x86_64";
    case EM_386: return "i686";
    case EM_AARCH64: return "aarch64";
    case EM_ARM: return "v7l";
    case EM_PPC64: return "power9";
    case EM_S390: return "z13";
    case EM_RISCV: return "riscv64";
    default: return "";
  }
}

// glibc-hwcaps subdirectories in priority order (sysdeps/*/dl-hwcaps-subdirs.c).
const std::vector<std::string>& hwcaps_subdirs(const ElfIdent& id) {
  static const std::vector<std::string> none, x86{"x86-64-v4", "x86-64-v3", "x86-64-v2"},
      ppc{"power10", "power9"}, s390{"z16", "z15", "z14", "z13"};
  if (!is64(id)) return none;
  switch (id.machine) {
    case EM_X86_64: return x86;
    case EM_PPC64: return ppc;
    case EM_S390: return s390;
    default: return none;
  }
}

// musl's names for itself (ldso/dynlink.c: reserved[] = "c.pthread.rt.m.dl.util.xnet.").
bool musl_reserved(std::string_view name) {
  if (name.substr(0, 3) != "lib") return false;
  for (std::string_view r : {"c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."})
    if (name.substr(3, r.size()) == r) return true;
  return false;
}

// The length of a dynamic string token at `s` (just after '$'): "NAME" not followed by an
// identifier character, or "{NAME}" (glibc elf/dl-load.c is_dst).
size_t dst_length(std::string_view s, std::string_view ref) {
  bool curly = !s.empty() && s.front() == '{';
  std::string_view in = curly ? s.substr(1) : s;
  if (in.substr(0, ref.size()) != ref) return 0;
  if (curly) return in.size() > ref.size() && in[ref.size()] == '}' ? ref.size() + 2 : 0;
  if (in.size() > ref.size() && (std::isalnum(static_cast<unsigned char>(in[ref.size()])) || in[ref.size()] == '_'))
    return 0;
  return ref.size();
}

struct DstValues {
  std::string origin, platform, lib;
  bool musl = false;  // musl knows only $ORIGIN
};

std::string expand_dst(std::string_view s, const DstValues& v) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$') {
      out += s[i];
      continue;
    }
    std::string_view rest = s.substr(i + 1);
    size_t n;
    if ((n = dst_length(rest, "ORIGIN")) != 0) {
      out += v.origin;
    } else if (!v.musl && (n = dst_length(rest, "PLATFORM")) != 0) {
      out += v.platform;
    } else if (!v.musl && (n = dst_length(rest, "LIB")) != 0) {
      out += v.lib;
    } else {
      out += '$';  // not a token: glibc copies it as is
      continue;
    }
    i += n;
  }
  return out;
}

std::vector<std::string> split_path_list(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find_first_of(seps, i);
    if (j == std::string_view::npos) j = s.size();
    out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// A search directory as ld.so keeps it: an empty entry is the working directory, a relative
// one is relative to it, trailing slashes go.
std::string clean_dir(std::string dir, const std::string& cwd) {
  if (dir.empty()) dir = cwd;
  if (dir.front() != '/') dir = join_path(cwd, dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string in_dir(const std::string& dir, std::string_view name) {
  return dir == "/" ? "/" + std::string(name) : dir + "/" + std::string(name);
}

// ld.so keeps its system directories as one NUL-separated string of absolute paths ending in
// '/' ("/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/" on Debian,
// "/lib64/\0/usr/lib64/" upstream). Reading it from the root's own loader gives the exact list
// for any distribution.
std::vector<std::string> system_dirs_from_loader(std::string_view image) {
  size_t i = 0;
  while (i < image.size()) {
    size_t start = image.find('/', i);
    if (start == std::string_view::npos) break;
    if (start > 0 && image[start - 1] != '\0') {
      i = start + 1;
      continue;
    }
    std::vector<std::string> run;
    size_t p = start;
    while (p < image.size() && image[p] == '/') {
      size_t end = image.find('\0', p);
      if (end == std::string_view::npos) break;
      std::string_view s = image.substr(p, end - p);
      if (s.size() < 2 || s.size() > 64 || s.back() != '/' || s.find("lib") == std::string_view::npos) break;
      bool printable = std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127; });
      if (!printable) break;
      run.emplace_back(s.substr(0, s.size() - 1));
      p = end + 1;
    }
    if (run.size() >= 2) return run;
    i = start + 1;
  }
  return {};
}

struct Probe {
  enum class Kind { Missing, Found, Invalid };
  Kind kind = Kind::Missing;
  std::shared_ptr<const ElfInfo> elf;
  std::pair<dev_t, ino_t> id{};
  std::string reason;
};

// How one search ended.
struct Search {
  bool found = false;
  std::string path;
  FoundBy how = FoundBy::DefaultPath;
  std::string dir;
  std::vector<std::string> hwcaps;
  FoundBy hwcaps_how = FoundBy::DefaultPath;  // where the first glibc-hwcaps variant was found
  std::vector<std::string> searched;
  bool other_class = false;  // a candidate of the wrong class or machine was skipped
  std::string fatal;         // a candidate that is not a loadable ELF file stops the search
};

// The loader configuration of one interpreter, read once per root.
struct LoaderConfig {
  std::vector<std::string> system_dirs;
  std::string lib;  // $LIB
};

}  // namespace

struct Resolver::Impl {
  const Root& root;
  LoaderEnv env;
  Context* diag;

  std::unordered_map<std::string, Probe> probes;
  std::map<std::pair<dev_t, ino_t>, std::shared_ptr<const ElfInfo>> elf_by_inode;
  std::unordered_map<std::string, Resolved> real_paths;
  std::unordered_map<std::string, bool> has_hwcaps_dir;
  std::map<std::string, LoaderConfig> glibc_configs;
  std::map<std::string, std::vector<std::string>> musl_paths;

  std::optional<std::vector<std::string>> preload_list;
  bool cache_loaded = false;
  std::optional<LdCache> cache;
  std::unordered_map<std::string, std::vector<const LdCacheEntry*>> cache_index;

  Impl(const Root& r, LoaderEnv e, Context* d) : root(r), env(std::move(e)), diag(d) {}

  const Probe& probe(const std::string& path) {
    auto it = probes.find(path);
    if (it != probes.end()) return it->second;
    Probe p;
    auto fd = root.open_read(path);
    struct stat st;
    if (fd && ::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode)) {
      p.id = {st.st_dev, st.st_ino};
      auto known = elf_by_inode.find(p.id);
      if (known != elf_by_inode.end()) {
        p.kind = Probe::Kind::Found;
        p.elf = known->second;
      } else if (auto info = read_elf_info(fd->get(), path, static_cast<uint64_t>(st.st_size))) {
        p.kind = Probe::Kind::Found;
        p.elf = std::make_shared<const ElfInfo>(std::move(*info));
        elf_by_inode.emplace(p.id, p.elf);
      } else {
        p.kind = Probe::Kind::Invalid;
        p.reason = info.error().context;
      }
    }
    return probes.emplace(path, std::move(p)).first->second;
  }

  const Resolved* real_path(const std::string& path) {
    auto it = real_paths.find(path);
    if (it == real_paths.end()) {
      auto r = root.resolve(path);
      if (!r) return nullptr;
      it = real_paths.emplace(path, std::move(*r)).first;
    }
    return &it->second;
  }

  bool dir_has_hwcaps(const std::string& dir) {
    auto it = has_hwcaps_dir.find(dir);
    if (it != has_hwcaps_dir.end()) return it->second;
    auto st = root.stat(in_dir(dir, "glibc-hwcaps"));
    bool yes = st && S_ISDIR(st->st_mode);
    has_hwcaps_dir.emplace(dir, yes);
    return yes;
  }

  const LdCache* ld_cache() {
    if (!cache_loaded) {
      cache_loaded = true;
      auto bytes = root.read_file("/etc/ld.so.cache");
      if (bytes) {
        auto parsed = parse_ld_cache(*bytes);
        if (parsed) {
          cache = std::move(*parsed);
          for (const auto& e : cache->entries) cache_index[e.name].push_back(&e);
        } else {
          if (diag) diag->warn("resolve", root.host_path("/etc/ld.so.cache") + ": " + parsed.error().context + " (ignored)");
        }
      }
    }
    return cache ? &*cache : nullptr;
  }

  const LoaderConfig& glibc_config(const std::string& interp, const ElfIdent& id) {
    std::string key = interp + "\n" + std::to_string(id.machine) + "/" + std::to_string(id.elf_class);
    auto it = glibc_configs.find(key);
    if (it != glibc_configs.end()) return it->second;
    LoaderConfig c;
    if (!interp.empty())
      if (auto image = root.read_file(interp, 16 << 20)) c.system_dirs = system_dirs_from_loader(*image);
    if (c.system_dirs.empty()) {
      std::string tuple = multiarch_tuple(id);
      auto is_dir = [&](const std::string& d) {
        auto st = root.stat(d);
        return st && S_ISDIR(st->st_mode);
      };
      if (!tuple.empty() && (is_dir("/usr/lib/" + tuple) || is_dir("/lib/" + tuple)))
        c.system_dirs = {"/lib/" + tuple, "/usr/lib/" + tuple, "/lib", "/usr/lib"};
      else if (is64(id))
        c.system_dirs = {"/lib64", "/usr/lib64"};
      else
        c.system_dirs = {"/lib", "/usr/lib"};
    }
    // $LIB is the first system directory without its leading slash (DL_DST_LIB, from slibdir).
    c.lib = c.system_dirs.front().substr(1);
    return glibc_configs.emplace(key, std::move(c)).first->second;
  }

  // /etc/ld.so.preload: names separated by white space or colons (elf/rtld.c).
  const std::vector<std::string>& preload() {
    if (!preload_list) {
      preload_list.emplace();
      if (auto text = root.read_file("/etc/ld.so.preload", 1 << 20))
        for (auto& name : split_path_list(*text, " \t\n:"))
          if (!name.empty()) preload_list->push_back(std::move(name));
    }
    return *preload_list;
  }

  const std::vector<std::string>& musl_sys_path(const std::string& interp) {
    auto it = musl_paths.find(interp);
    if (it != musl_paths.end()) return it->second;
    // The path file sits under the loader's grandparent directory: "/lib/ld-musl-x86_64.so.1"
    // reads "/etc/ld-musl-x86_64.path".
    std::string base = basename_of(interp);
    std::string arch = base.substr(8, base.find(".so") == std::string::npos ? 0 : base.find(".so") - 8);
    std::string prefix = dirname_of(dirname_of(interp));
    if (prefix == "/") prefix.clear();
    std::vector<std::string> dirs;
    if (auto text = root.read_file(prefix + "/etc/ld-musl-" + arch + ".path", 1 << 20)) {
      for (auto& d : split_path_list(*text, ":\n"))
        if (!d.empty()) dirs.push_back(clean_dir(d, env.cwd));
    } else {
      dirs = {"/lib", "/usr/local/lib", "/usr/lib"};
    }
    return musl_paths.emplace(interp, std::move(dirs)).first->second;
  }

  // Tries `dir/name` in each directory (glibc-hwcaps subdirectories first). A glibc-hwcaps copy
  // is recorded as a variant and the search goes on to the baseline copy, so an image carries
  // what every CPU level loads.
  void search_dirs(Search& s, std::string_view name, const std::vector<std::string>& dirs, FoundBy how,
                   const ElfIdent& want, bool hwcaps) {
    for (const auto& dir : dirs) {
      if (s.found || !s.fatal.empty()) return;
      s.searched.push_back(dir);
      if (hwcaps && !hwcaps_subdirs(want).empty() && dir_has_hwcaps(dir)) {
        for (const auto& sub : hwcaps_subdirs(want)) {
          std::string cand = in_dir(dir, "glibc-hwcaps/" + sub + "/" + std::string(name));
          const Probe& p = probe(cand);
          if (p.kind == Probe::Kind::Found && p.elf->ident.compatible_with(want)) {
            if (s.hwcaps.empty()) s.hwcaps_how = how;
            s.hwcaps.push_back(cand);
          }
        }
      }
      std::string cand = in_dir(dir, name);
      const Probe& p = probe(cand);
      if (p.kind == Probe::Kind::Missing) continue;
      if (p.kind == Probe::Kind::Invalid) {
        s.fatal = cand + ": " + p.reason;
        return;
      }
      if (!p.elf->ident.compatible_with(want)) {
        s.other_class = true;
        continue;
      }
      s.found = true;
      s.path = cand;
      s.how = how;
      s.dir = dir;
    }
  }

  // Only glibc-hwcaps variants were found: the first one stands in for the missing baseline.
  static void settle_hwcaps(Search& s) {
    if (!s.found && s.fatal.empty() && !s.hwcaps.empty()) {
      s.found = true;
      s.path = s.hwcaps.front();
      s.hwcaps.erase(s.hwcaps.begin());
      s.how = s.hwcaps_how;
      s.dir = dirname_of(s.path);
    }
  }

  void search_cache(Search& s, std::string_view name, const ElfIdent& want, bool nodeflib,
                    const std::vector<std::string>& system_dirs) {
    s.searched.push_back("ld.so.cache");
    const LdCache* c = ld_cache();
    if (c == nullptr) return;
    auto it = cache_index.find(std::string(name));
    if (it == cache_index.end()) return;
    auto flags = ld_cache_flags_for(want);
    for (const LdCacheEntry* e : it->second) {
      if (std::find(flags.begin(), flags.end(), e->flags) == flags.end() || e->legacy_hwcap != 0) continue;
      // DF_1_NODEFLIB: no cache entry from a system directory (prefix match, as glibc does).
      if (nodeflib && std::any_of(system_dirs.begin(), system_dirs.end(), [&](const std::string& d) {
            return e->path.compare(0, d.size() + 1, d + "/") == 0;
          }))
        continue;
      const Probe& p = probe(e->path);
      if (p.kind != Probe::Kind::Found) continue;
      if (!p.elf->ident.compatible_with(want)) {
        s.other_class = true;
        continue;
      }
      if (!e->hwcaps.empty()) {
        if (s.hwcaps.empty()) s.hwcaps_how = FoundBy::LdSoCache;
        s.hwcaps.push_back(e->path);
      } else if (!s.found) {
        s.found = true;
        s.path = e->path;
        s.how = FoundBy::LdSoCache;
        s.dir = dirname_of(e->path);
      }
    }
  }
};

std::vector<std::string> split_ld_library_path(std::string_view value) {
  if (value.empty()) return {};
  return split_path_list(value, ":;");
}

Resolver::Resolver(const Root& root, LoaderEnv env, Context* diag) : impl_(std::make_unique<Impl>(root, std::move(env), diag)) {}
Resolver::~Resolver() = default;

namespace {

// Builds one program's link map. Holds the per-program state (the objects loaded so far and the
// names they answer to); the Resolver's caches are shared by every program.
class MapBuilder {
 public:
  MapBuilder(Resolver::Impl& impl, Closure& out) : r_(impl), c_(out) {}

  Status run(std::string_view file);
  // Takes up a map built by run() (copied into `out`) to load `name` into it from `requester`.
  // Returns the index `name` bound to, or -1 (the reason is the last entry of out.missing).
  int load_more(int requester, const std::string& name);

 private:
  void configure(const ElfInfo& program);
  void load_queue(std::deque<int> queue);
  const ElfIdent& want() const { return c_.objects[0].elf->ident; }
  DstValues dst_for(int obj) const;
  std::vector<std::string> expand_list(const std::optional<std::string>& list, int obj) const;
  int add_object(LoadedObject o, const Probe& p);
  void add_interp(const Probe& p);
  void add_names(int idx, std::string_view name);
  int lookup_loaded(std::string_view name) const;
  void load_needed(int requester, const std::string& name);
  Search search_glibc(const std::string& name, int requester);
  Search search_musl(const std::string& name, int requester);
  bool has_rpath(int obj) const;

  Resolver::Impl& r_;
  Closure& c_;
  std::string interp_;
  const Probe* pending_interp_ = nullptr;  // a library's loader, not yet named by anyone
  LoaderConfig glibc_;
  std::unordered_map<std::string, int> names_;
  std::map<std::pair<dev_t, ino_t>, int> by_inode_;
};

DstValues MapBuilder::dst_for(int obj) const {
  DstValues v;
  const LoadedObject& o = c_.objects[static_cast<size_t>(obj)];
  // The program's $ORIGIN comes from /proc/self/exe, which the kernel resolves; a library's is
  // the directory of the path it was opened by, symlinks left in.
  v.origin = dirname_of(obj == 0 ? o.real_path : o.path);
  v.platform = platform_of(want());
  v.lib = glibc_.lib;
  v.musl = c_.family == LoaderFamily::Musl;
  return v;
}

std::vector<std::string> MapBuilder::expand_list(const std::optional<std::string>& list, int obj) const {
  std::vector<std::string> out;
  if (!list) return out;
  DstValues v = dst_for(obj);
  for (auto& d : split_path_list(*list, ":")) out.push_back(clean_dir(expand_dst(d, v), r_.env.cwd));
  return out;
}

bool MapBuilder::has_rpath(int obj) const {
  const ElfInfo& e = *c_.objects[static_cast<size_t>(obj)].elf;
  // ld.so ignores the program's DT_RPATH when it also has a DT_RUNPATH (elf/dl-load.c _dl_init_paths).
  if (obj == 0 && e.runpath) return false;
  return e.rpath.has_value();
}

void MapBuilder::add_names(int idx, std::string_view name) {
  names_.emplace(std::string(name), idx);
}

int MapBuilder::lookup_loaded(std::string_view name) const {
  auto it = names_.find(std::string(name));
  return it == names_.end() ? -1 : it->second;
}

int MapBuilder::add_object(LoadedObject o, const Probe& p) {
  int idx = static_cast<int>(c_.objects.size());
  if (const Resolved* rp = r_.real_path(o.path)) {
    o.real_path = rp->path;
    o.links = rp->links;
  } else {
    o.real_path = o.path;
  }
  o.elf = p.elf;
  c_.objects.push_back(std::move(o));
  LoadedObject& obj = c_.objects.back();
  obj.rpath = expand_list(obj.elf->rpath, idx);
  obj.runpath = expand_list(obj.elf->runpath, idx);
  by_inode_.emplace(p.id, idx);
  add_names(idx, obj.path);
  add_names(idx, obj.name);
  if (c_.family == LoaderFamily::Musl)
    add_names(idx, basename_of(obj.path));  // musl matches loaded objects by file name
  else if (!obj.elf->soname.empty())
    add_names(idx, obj.elf->soname);
  return idx;
}

void MapBuilder::add_interp(const Probe& p) {
  pending_interp_ = nullptr;
  LoadedObject interp;
  interp.name = interp_;
  interp.path = interp_;
  interp.how = FoundBy::Interpreter;
  interp.loader = 0;
  add_object(std::move(interp), p);
}

Search MapBuilder::search_glibc(const std::string& name, int requester) {
  Search s;
  const ElfIdent& id = want();
  int main = 0;
  const LoadedObject* req = requester >= 0 ? &c_.objects[static_cast<size_t>(requester)] : nullptr;
  if (req == nullptr || !req->elf->runpath) {
    bool did_main = false;
    for (int l = requester; l >= 0 && !s.found && s.fatal.empty(); l = c_.objects[static_cast<size_t>(l)].loader) {
      if (!has_rpath(l)) continue;
      r_.search_dirs(s, name, c_.objects[static_cast<size_t>(l)].rpath, FoundBy::Rpath, id, true);
      did_main |= l == main;
    }
    if (!s.found && s.fatal.empty() && !did_main && has_rpath(main))
      r_.search_dirs(s, name, c_.objects[0].rpath, FoundBy::Rpath, id, true);
  }
  if (!s.found && s.fatal.empty() && !r_.env.ld_library_path.empty()) {
    DstValues v = dst_for(main);
    std::vector<std::string> dirs;
    for (const auto& d : r_.env.ld_library_path) dirs.push_back(clean_dir(expand_dst(d, v), r_.env.cwd));
    r_.search_dirs(s, name, dirs, FoundBy::LdLibraryPath, id, true);
  }
  if (!s.found && s.fatal.empty() && req != nullptr && req->elf->runpath)
    r_.search_dirs(s, name, req->runpath, FoundBy::Runpath, id, true);
  bool nodeflib = (req ? req->elf : c_.objects[0].elf)->nodeflib();
  if (!s.found && s.fatal.empty()) r_.search_cache(s, name, id, nodeflib, glibc_.system_dirs);
  if (!s.found && s.fatal.empty() && !nodeflib) {
    r_.search_dirs(s, name, glibc_.system_dirs, FoundBy::DefaultPath, id, true);
  }
  Resolver::Impl::settle_hwcaps(s);
  return s;
}

Search MapBuilder::search_musl(const std::string& name, int requester) {
  Search s;
  const ElfIdent& id = want();
  if (!r_.env.ld_library_path.empty()) {
    std::vector<std::string> dirs;
    for (const auto& d : r_.env.ld_library_path) dirs.push_back(clean_dir(d, r_.env.cwd));
    r_.search_dirs(s, name, dirs, FoundBy::LdLibraryPath, id, false);
  }
  for (int l = requester; l >= 0 && !s.found && s.fatal.empty(); l = c_.objects[static_cast<size_t>(l)].loader) {
    const LoadedObject& o = c_.objects[static_cast<size_t>(l)];
    // musl takes DT_RUNPATH when present, else DT_RPATH, and inherits both.
    const auto& dirs = o.elf->runpath ? o.runpath : o.rpath;
    r_.search_dirs(s, name, dirs, o.elf->runpath ? FoundBy::Runpath : FoundBy::Rpath, id, false);
  }
  if (!s.found && s.fatal.empty()) r_.search_dirs(s, name, r_.musl_sys_path(interp_), FoundBy::DefaultPath, id, false);
  return s;
}

void MapBuilder::load_needed(int requester, const std::string& name) {
  auto note_dep = [&](int idx) {
    if (requester < 0) return;
    c_.objects[static_cast<size_t>(requester)].deps.push_back(idx);
    if (idx >= 0) {
      auto& nb = c_.objects[static_cast<size_t>(idx)].needed_by;
      if (std::find(nb.begin(), nb.end(), requester) == nb.end()) nb.push_back(requester);
    }
  };
  bool musl = c_.family == LoaderFamily::Musl;
  if (pending_interp_ && (name == interp_ || name == pending_interp_->elf->soname || (musl && musl_reserved(name))))
    add_interp(*pending_interp_);
  if (musl && musl_reserved(name)) {
    note_dep(lookup_loaded(interp_));
    return;
  }
  if (int idx = lookup_loaded(name); idx >= 0) {
    note_dep(idx);
    return;
  }
  Search s;
  if (name.find('/') != std::string::npos) {
    std::string path = musl || requester < 0 ? name : expand_dst(name, dst_for(requester));
    if (path.front() != '/') path = join_path(r_.env.cwd, path);
    const Probe& p = r_.probe(path);
    if (p.kind == Probe::Kind::Found && p.elf->ident.compatible_with(want())) {
      s.found = true;
      s.path = path;
      s.how = FoundBy::Path;
    } else if (p.kind == Probe::Kind::Found) {
      s.other_class = true;
    } else if (p.kind == Probe::Kind::Invalid) {
      s.fatal = path + ": " + p.reason;
    }
  } else {
    s = musl ? search_musl(name, requester) : search_glibc(name, requester);
  }
  if (!s.found) {
    MissingLibrary m{name, requester, s.searched, "not found"};
    if (!s.fatal.empty())
      m.reason = s.fatal;
    else if (s.other_class)
      m.reason = "not found (only a candidate of another ELF class or machine)";
    c_.missing.push_back(std::move(m));
    note_dep(-1);
    return;
  }
  const Probe& p = r_.probe(s.path);
  if (auto same = by_inode_.find(p.id); same != by_inode_.end()) {
    add_names(same->second, name);
    note_dep(same->second);
    return;
  }
  LoadedObject o;
  o.name = name;
  o.path = s.path;
  o.how = requester < 0 ? FoundBy::Preload : s.how;
  o.search_dir = s.dir;
  o.hwcaps = std::move(s.hwcaps);
  o.loader = requester < 0 ? 0 : requester;
  note_dep(add_object(std::move(o), p));
}

// The loader family, its path and its configuration, from the program's headers. The loader's
// configuration comes first: $LIB in the program's own DT_RPATH needs it.
void MapBuilder::configure(const ElfInfo& e) {
  if (e.interp)
    interp_ = *e.interp;
  if (e.interp && basename_of(*e.interp).rfind("ld-musl-", 0) == 0) {
    c_.family = LoaderFamily::Musl;
  } else if (e.interp) {
    c_.family = LoaderFamily::Glibc;
  } else if (!e.needed.empty()) {
    // A library: ld.so --list loads it with the machine's default loader.
    bool musl = std::find(e.needed.begin(), e.needed.end(), "libc.so") != e.needed.end();
    c_.family = musl ? LoaderFamily::Musl : LoaderFamily::Glibc;
    interp_ = musl ? "/lib/ld-musl-" + musl_arch(e.ident) + ".so.1" : default_glibc_interp(e.ident);
  }
  if (c_.family == LoaderFamily::Glibc) {
    glibc_ = r_.glibc_config(interp_, e.ident);
    c_.default_dirs = glibc_.system_dirs;
  } else if (c_.family == LoaderFamily::Musl) {
    c_.default_dirs = r_.musl_sys_path(interp_);
  }
}

Status MapBuilder::run(std::string_view file) {
  std::string path = std::string(file);
  const Probe& p = r_.probe(path);
  if (p.kind == Probe::Kind::Missing) {
    auto fd = r_.root.open_read(path);
    if (!fd) return fd.error();
  }
  if (p.kind != Probe::Kind::Found)
    return bad_input("read ELF", path, p.kind == Probe::Kind::Invalid ? p.reason : "not a regular file");
  const ElfInfo& e = *p.elf;
  configure(e);
  c_.objects.reserve(16);  // LoadedObject is large: grow it seldom
  LoadedObject prog;
  prog.name = path;
  prog.path = path;
  prog.how = FoundBy::Program;
  add_object(std::move(prog), p);
  if (c_.family == LoaderFamily::None) return Ok{};  // static, static-pie, or nothing needed

  // The interpreter is mapped by the kernel; ld.so answers to its PT_INTERP path and its soname.
  // A library has no PT_INTERP: the loader that lists it (ld.so --list) is in the map all the
  // same, but only shows when an object names it (libc.so.6 needs ld-linux-x86-64.so.2).
  const Probe& ip = r_.probe(interp_);
  if (ip.kind == Probe::Kind::Found && e.interp) {
    add_interp(ip);
  } else if (ip.kind == Probe::Kind::Found) {
    pending_interp_ = &ip;
  } else if (e.interp) {
    c_.missing.push_back({interp_, 0, {}, ip.kind == Probe::Kind::Invalid ? ip.reason : "interpreter not found"});
  }

  std::deque<int> queue{0};
  if (c_.family == LoaderFamily::Glibc && r_.env.read_preload) {
    for (const auto& name : r_.preload()) {
      size_t before = c_.objects.size();
      load_needed(-1, name);
      if (c_.objects.size() > before) queue.push_back(static_cast<int>(before));
    }
  }
  load_queue(std::move(queue));
  return Ok{};
}

// Breadth-first, as _dl_map_object_deps does: the order decides which copy a name binds to.
void MapBuilder::load_queue(std::deque<int> queue) {
  while (!queue.empty()) {
    int idx = queue.front();
    queue.pop_front();
    // The ElfInfo is shared and immutable; objects may move as the map grows.
    std::shared_ptr<const ElfInfo> elf = c_.objects[static_cast<size_t>(idx)].elf;
    for (const auto& name : elf->needed) {
      size_t before = c_.objects.size();
      load_needed(idx, name);
      for (size_t n = before; n < c_.objects.size(); ++n) queue.push_back(static_cast<int>(n));
    }
  }
}

int MapBuilder::load_more(int requester, const std::string& name) {
  const ElfInfo& e = *c_.objects[0].elf;
  bool static_program = c_.family == LoaderFamily::None;
  configure(e);
  if (static_program && !e.interp) {
    // A static program's dlopen searches like the system's glibc loader would.
    c_.family = LoaderFamily::Glibc;
    interp_ = default_glibc_interp(e.ident);
    glibc_ = r_.glibc_config(interp_, e.ident);
    c_.default_dirs = glibc_.system_dirs;
  }
  for (size_t i = 0; i < c_.objects.size(); ++i) {
    const LoadedObject& o = c_.objects[i];
    int idx = static_cast<int>(i);
    by_inode_.emplace(r_.probe(o.path).id, idx);
    add_names(idx, o.path);
    add_names(idx, o.name);
    if (c_.family == LoaderFamily::Musl)
      add_names(idx, basename_of(o.path));
    else if (!o.elf->soname.empty())
      add_names(idx, o.elf->soname);
  }
  size_t before = c_.objects.size(), missing_before = c_.missing.size();
  load_needed(requester, name);
  if (c_.missing.size() > missing_before && c_.missing[missing_before].name == name) return -1;
  std::deque<int> queue;
  for (size_t n = before; n < c_.objects.size(); ++n) queue.push_back(static_cast<int>(n));
  load_queue(std::move(queue));
  return lookup_loaded(name);
}

}  // namespace

Result<Closure> Resolver::closure(std::string_view file) {
  Closure c;
  MapBuilder b(*impl_, c);
  if (auto st = b.run(file); !st) return st.error();
  // ld.so checks symbol versions once the whole map is loaded, before relocating (rtld.c).
  check_versions(c);
  return c;
}

Result<Resolver::ExtraLoad> Resolver::load_extra(const Closure& program, int requester, std::string_view name) {
  if (program.objects.empty() || !program.objects[0].elf) return bad_input("dlopen", std::string(name), "no program");
  if (requester < 0 || static_cast<size_t>(requester) >= program.objects.size())
    return bad_input("dlopen", std::string(name), "no such requesting object");
  ExtraLoad x;
  x.map = program;
  size_t missing_before = x.map.missing.size();
  size_t objects_before = x.map.objects.size();
  MapBuilder b(*impl_, x.map);
  x.object = b.load_more(requester, std::string(name));
  if (x.object < 0 && x.map.missing.size() > missing_before) x.missing = x.map.missing[missing_before];
  // dlopen checks the versions of what it added (elf/dl-open.c dl_open_worker); a fatal problem
  // makes the dlopen fail. A static program's map had no check yet.
  check_versions(x.map, program.family == LoaderFamily::None ? 0 : objects_before);
  return x;
}

}  // namespace minify
