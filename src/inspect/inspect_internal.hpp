// Shared between the files of src/inspect/: the per-object facts the needs rules read, and the
// rules' entry point. Not a public header.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "minify/inspect.hpp"

namespace minify::inspect_internal {

// What one ELF object (the program or a library of its closure) shows, read once and cached.
struct ObjectFacts {
  std::string path;  // inside the root
  std::string soname;
  std::vector<std::string> needed;
  // Functions the needs rules know that this object imports (or, static, links in); the rest of
  // its symbols are not kept.
  struct SymbolHit {
    std::string symbol;
    std::string detail;  // "imports getaddrinfo@GLIBC_2.2.5", "links getaddrinfo statically"
    bool linked_statically = false;
  };
  std::vector<SymbolHit> symbol_hits;
  std::vector<std::string> go_markers;          // Go functions of interest present (Go only)
  std::string newest_glibc_needed;   // newest GLIBC_x.y in its DT_VERNEED
  std::string newest_glibc_defined;  // newest GLIBC_x.y it defines (libc.so.6 itself)
  std::string openssl_dir;           // OPENSSLDIR compiled into libcrypto
  std::vector<DlopenCall> dlopen_calls;
  std::vector<DlopenTarget> dlopen_notes;
  std::vector<std::string> problems;
};

struct NeedsContext {
  LoaderFamily family = LoaderFamily::None;
  bool go = false;
  bool go_cgo = false;
  std::string libc_dir;       // directory of libc.so.6 in the root ("/usr/lib/x86_64-linux-gnu")
  std::string glibc_version;  // of that libc ("2.36"), "" when unknown
  std::optional<std::string> nsswitch_conf;  // the root's /etc/nsswitch.conf, when present
};

struct NeedsResult {
  std::vector<RuntimeNeed> needs;
  std::vector<NssModule> nss_modules;  // paths not resolved yet
};

// The Go function names whose presence the rules look for; inspect.cpp searches Go binaries for
// them (the names survive -s -w in the pclntab).
const std::vector<std::string_view>& go_marker_strings();
// Names a static binary's .symtab is filtered by.
bool is_needs_symbol(std::string_view name);

NeedsResult collect_needs(const std::vector<const ObjectFacts*>& objects, const NeedsContext& ctx);

// "2.34" vs "2.4": numeric, component by component. Negative, zero or positive.
int compare_versions(std::string_view a, std::string_view b);
// The newer of two "GLIBC_x.y" names (either may be empty).
std::string newer_glibc(const std::string& a, const std::string& b);

// The parts of a "#!" line. Requires: `first_line` starts with "#!" and holds no newline.
ScriptInfo parse_shebang(std::string_view first_line);

}  // namespace minify::inspect_internal
