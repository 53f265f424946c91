// ld.so emulation: which files the dynamic loader maps when a program starts, found without
// running it. glibc's elf/dl-load.c (_dl_map_object) and elf/dl-deps.c are the reference for the
// search order; musl's ldso/dynlink.c (load_library) for musl programs. Every lookup goes through
// a Root, so a sysroot or an unpacked image resolves exactly like the host.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "minify/context.hpp"
#include "minify/elf.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

// ---- ld.so.cache -----------------------------------------------------------------------------

struct LdCacheEntry {
  std::string name;       // the key: a soname such as "libc.so.6"
  std::string path;       // where ldconfig found it
  int32_t flags = 0;      // FLAG_ELF_LIBC6 | FLAG_X8664_LIB64, ... (glibc sysdeps/generic/ldconfig.h)
  std::string hwcaps;     // glibc-hwcaps subdirectory ("x86-64-v3"), empty for the baseline entry
  uint64_t legacy_hwcap = 0;  // pre-2.33 hwcap bits; such entries are never used as a baseline
};

struct LdCache {
  enum class Format { Old, New, OldAndNew };
  Format format = Format::New;
  std::vector<LdCacheEntry> entries;  // in file order (sorted by ldconfig)
};

// Parses /etc/ld.so.cache in glibc's new format ("glibc-ld.so.cache1.1", with the glibc-hwcaps
// extension), the old libc5-era format ("ld.so-1.7.0"), or both concatenated. The new format
// records its byte order; the old one does not, so `big_endian_hint` says what to assume.
Result<LdCache> parse_ld_cache(std::string_view bytes, bool big_endian_hint = false);

// The cache flags a glibc loader for objects like `ident` accepts (_DL_CACHE_DEFAULT_ID and
// _dl_cache_check_flags in sysdeps/*/dl-cache.h); empty when glibc has no cache ID for it.
std::vector<int32_t> ld_cache_flags_for(const ElfIdent& ident);

// ---- the resolver ----------------------------------------------------------------------------

// How a loaded object was found, in the order ld.so tries (libtree's how_t).
enum class FoundBy {
  Program,        // the file given on the command line
  Interpreter,    // PT_INTERP (or the default interpreter of a library)
  Preload,        // /etc/ld.so.preload
  Loaded,         // a name matching an object already loaded (its soname or an earlier name)
  Path,           // DT_NEEDED with a slash: opened as written
  Rpath,          // DT_RPATH of the object or one of its loaders
  LdLibraryPath,  // LD_LIBRARY_PATH (given with --env)
  Runpath,        // DT_RUNPATH of the object
  LdSoCache,      // the root's /etc/ld.so.cache
  DefaultPath,    // the loader's built-in system directories (or musl's path file)
  MuslLibc,       // musl maps libc.so, libpthread.so, ... to itself
};
std::string found_by_name(FoundBy how);

enum class LoaderFamily { None, Glibc, Musl };
std::string loader_family_name(LoaderFamily family);

// LD_LIBRARY_PATH as ld.so splits it: on ':' and ';' (elf/dl-load.c _dl_init_paths); an empty
// value means no directories, an empty element the working directory.
std::vector<std::string> split_ld_library_path(std::string_view value);

// The loader's environment. Explicit, never minify's own: the image will not have it.
struct LoaderEnv {
  std::vector<std::string> ld_library_path;
  std::string cwd = "/";  // for relative paths: DT_NEEDED "./x.so", relative RPATH entries
  bool read_preload = true;  // honour the root's /etc/ld.so.preload
};

// One object in a program's link map.
struct LoadedObject {
  std::string name;       // as asked for: the DT_NEEDED entry (or the path given for the program)
  std::string path;       // the path the loader opens, inside the root (ldd's "=> path")
  std::string real_path;  // the same with every symlink resolved inside the root
  std::vector<SymlinkStep> links;  // the symlinks crossed from `path` to `real_path`
  FoundBy how = FoundBy::Program;
  std::string search_dir;          // the search directory that matched, where one did
  std::vector<std::string> hwcaps; // glibc-hwcaps variants of this library (paths inside the root)
  std::shared_ptr<const ElfInfo> elf;
  std::vector<std::string> rpath;    // DT_RPATH with $ORIGIN/$LIB/$PLATFORM expanded
  std::vector<std::string> runpath;  // DT_RUNPATH, expanded
  int loader = -1;                   // index of the object whose DT_NEEDED first loaded it
  std::vector<int> needed_by;        // indices of every object that lists it
  std::vector<int> deps;             // per elf->needed entry: object index, or -1 when missing
};

struct MissingLibrary {
  std::string name;
  int needed_by = -1;                 // object index, -1 for the preload file
  std::vector<std::string> searched;  // directories tried, in order
  std::string reason;                 // "not found", "wrong ELF class: ELFCLASS32", ...
};

// One finding of ld.so's symbol-version check (glibc elf/dl-version.c, _dl_check_map_versions),
// which runs over the whole link map before the program starts: each DT_VERNEED entry of each
// object against the DT_VERDEF of the loaded library its vn_file names.
struct VersionProblem {
  int object = -1;       // the object whose DT_VERNEED asks (or that has the DT_RELR problem)
  int provider = -1;     // the loaded library that should define it; -1 when none is loaded
  std::string file;      // vn_file, the library as named ("libc.so.6")
  std::string version;   // vna_name ("GLIBC_2.38"); empty for a problem of the whole record
  bool fatal = true;     // ld.so refuses to start the program (exit 127 with its message)
  std::string reason;    // ld.so's words: "version `GLIBC_2.38' not found", "no version information available"
};

// The link map of one program: what ld.so would have loaded, in load (breadth-first) order.
struct Closure {
  LoaderFamily family = LoaderFamily::None;
  std::vector<LoadedObject> objects;  // [0] is the program itself
  std::vector<MissingLibrary> missing;
  std::vector<VersionProblem> version_problems;  // fatal ones mean the program does not start
  std::vector<std::string> default_dirs;  // the loader's system directories that applied

  // Some library is missing or lacks a required version: ld.so would not start the program.
  bool incomplete() const;
};

// The line ld.so prints for a version problem (rtld.c print_missing_version), without its
// "program: " prefix: "/lib/libx.so.1: version `V2' not found (required by /app/exe)".
std::string version_problem_message(const Closure& c, const VersionProblem& p);

// Runs ld.so's version check over `c` (glibc programs only: musl ignores symbol versions) and
// fills c.version_problems, from object index `first` on. Resolver::closure and load_extra call
// it; it is public for callers that assemble a Closure themselves.
void check_versions(Closure& c, size_t first = 0);

// ---- glibc versions and base images -----------------------------------------------------------

// The libraries of glibc itself (libc.so.6, libm.so.6, ld-linux-*.so.*, libpthread.so.0, ...):
// a base image with glibc brings its own copies of these.
bool is_glibc_library(std::string_view soname);

// "2.34" vs "2.4", numerically component by component: negative, zero or positive.
int compare_glibc_versions(std::string_view a, std::string_view b);

// glibc of Debian 12, which every gcr.io/distroless/{base,cc}-debian12 image carries.
inline constexpr std::string_view kDistrolessGlibc = "2.36";

// What a closure needs from a glibc it does not carry: every version that an object outside glibc
// requires from a glibc library (GLIBC_2.34 from libc.so.6, GLIBC_2.3 from ld-linux-x86-64.so.2).
struct GlibcRequirement {
  int object = -1;      // who requires it
  std::string file;     // from which glibc library
  std::string version;  // "GLIBC_2.34", "GLIBC_ABI_DT_RELR", "GLIBC_PRIVATE"
  bool weak = false;    // VER_FLG_WEAK: ld.so starts the program without it
};
struct GlibcNeeds {
  std::vector<GlibcRequirement> requirements;  // in closure order
  std::string newest;        // newest numbered version required, weak ones aside ("GLIBC_2.34"); "" if none
  std::string root_glibc;    // the glibc release of the closure's own libc ("2.36"); "" if none loaded
};
GlibcNeeds glibc_needs(const Closure& c);

// Whether a base image whose glibc is release `base_glibc` ("2.36") can run this closure with
// its own glibc libraries in place of the closure's. `too_new` holds one line per requirement the
// base cannot meet: "GLIBC_2.38 from libc.so.6 (required by /app/server)".
struct BaseGlibcCheck {
  bool ok = true;
  std::string base_glibc;           // as given
  std::string newest;               // the closure's newest requirement ("GLIBC_2.38")
  std::vector<std::string> too_new;
};
BaseGlibcCheck check_base_glibc(const Closure& c, std::string_view base_glibc);

class Resolver {
 public:
  // Problems that do not stop the analysis (an unreadable ld.so.cache, ...) go to `diag`.
  Resolver(const Root& root, LoaderEnv env, Context* diag = nullptr);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The closure of `file` (a path inside the root). Errors are for the file itself: missing,
  // not ELF, truncated. Missing libraries are data, in Closure::missing.
  Result<Closure> closure(std::string_view file);

  // What dlopen(`name`) called from object `requester` of `program` adds to its link map, as
  // ld.so does (elf/dl-open.c: _dl_map_object with the caller's link map for the search, then
  // the new object's dependencies breadth first). `program` must come from closure() of this
  // Resolver. A static program dlopens with its libc's built-in search (the cache and the
  // system directories of the root's glibc loader).
  struct ExtraLoad {
    Closure map;     // `program`'s map with what the load added appended
    int object = -1; // index in map.objects of what `name` bound to (maybe an older object)
    std::optional<MissingLibrary> missing;  // `name` itself did not resolve
  };
  Result<ExtraLoad> load_extra(const Closure& program, int requester, std::string_view name);

  struct Impl;  // the caches shared by every closure (resolve.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace minify
