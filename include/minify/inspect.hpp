// What the ELF headers don't say: `minify inspect`. For one file inside a root it reports the
// kind of file (static, static-pie, dynamic, script, not ELF), the libc family and the newest
// GLIBC_x.y version needed, Go build information, the files the program needs at run time beyond
// its shared libraries (CA certificates, zoneinfo, NSS and the modules /etc/nsswitch.conf names,
// the user database, resolver files, gconv modules, libgcc_s) each with the evidence for it,
// dlopen targets (recovered from call sites with Capstone and from .note.dlopen) resolved like
// DT_NEEDED entries, and the smallest distroless base that fits.
// Every field is a plain value, so the packer can turn findings into file-set entries.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "minify/base.hpp"
#include "minify/context.hpp"
#include "minify/elf.hpp"
#include "minify/elf_detail.hpp"
#include "minify/resolve.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

enum class FileKind { Static, StaticPie, Dynamic, Script, NotElf };
std::string file_kind_name(FileKind kind);

// ---- Go --------------------------------------------------------------------------------------

struct GoModule {
  std::string path, version, sum;
  std::optional<std::pair<std::string, std::string>> replaced_by;  // "=>" line: path, version
};

// runtime/debug.BuildInfo as the Go linker writes it into .go.buildinfo (Go 1.13+; the inline
// string form since 1.18, pointers to Go strings before).
struct GoBuildInfo {
  std::string go_version;   // "go1.19.8"
  std::string path;         // the main package path
  std::optional<GoModule> main;
  std::vector<GoModule> deps;
  std::vector<std::pair<std::string, std::string>> settings;  // "build" lines, in order
  std::string found_in;     // ".go.buildinfo" or "data segment at 0x..." (stripped sections)

  // The value of a build setting ("CGO_ENABLED", "GOOS", "-trimpath", "-ldflags", "vcs", ...).
  std::optional<std::string> setting(std::string_view key) const;
};

// Finds and parses Go build information in an ELF image: the .go.buildinfo section, or a
// 16-byte-aligned "\xff Go buildinf:" header in the first writable PT_LOAD when sections are
// gone (debug/buildinfo does the same). nullopt when there is none; an Error when the header is
// there but the data behind it is damaged.
Result<std::optional<GoBuildInfo>> read_go_buildinfo(const ElfDetail& elf, std::string_view image,
                                                     std::string_view name);

// ---- runtime needs ---------------------------------------------------------------------------

enum class NeedKind {
  CaCertificates,  // TLS peer verification: a CA bundle or directory
  Zoneinfo,        // the tz database (and /etc/localtime)
  Nss,             // glibc's Name Service Switch: /etc/nsswitch.conf and libnss_* modules
  UserDatabase,    // /etc/passwd and /etc/group
  HostResolver,    // /etc/hosts, /etc/resolv.conf (and /etc/nsswitch.conf for Go's resolver)
  Gconv,           // iconv's gconv modules
  LibgccS,         // libgcc_s.so.1, dlopened by glibc to unwind in pthread_cancel/pthread_exit
};
std::string need_kind_name(NeedKind kind);

// Why a need was reported: which object showed what.
struct Evidence {
  std::string object;  // path of the ELF object (the program or a library of its closure)
  std::string detail;  // "imports getaddrinfo@GLIBC_2.2.5", "links libssl.so.3", "Go: crypto/x509"
};

struct RuntimeNeed {
  NeedKind kind = NeedKind::CaCertificates;
  // The program still runs without these files, with less: /etc/localtime missing means UTC.
  bool optional = false;
  std::vector<Evidence> evidence;
  // Absolute paths inside the root the consumer looks at: files, directories (trailing "/": the
  // whole tree) and globs ("/usr/lib/x86_64-linux-gnu/gconv/*.so").
  std::vector<std::string> paths;
  std::string note;
};

// One service named on a relevant line of /etc/nsswitch.conf.
struct NssModule {
  std::string database;  // "hosts", "passwd", ...
  std::string service;   // "files", "dns", "systemd", ...
  std::string library;   // "libnss_systemd.so.2"
  bool builtin = false;  // files and dns live inside libc since glibc 2.34
  std::optional<std::string> path;  // where the library resolves in the root
};

// ---- dlopen ----------------------------------------------------------------------------------

enum class DlopenSource {
  CallSite,  // a constant string in the first argument of a dlopen-like call, found by Capstone
  Note,      // a .note.dlopen entry (https://systemd.io/ELF_DLOPEN_METADATA/)
};

struct DlopenTarget {
  std::string name;            // as written; empty when the argument is computed at run time
  DlopenSource source = DlopenSource::CallSite;
  std::string object;          // the ELF object holding the call site or note
  std::string function;        // "dlopen", "dlmopen", "g_module_open", "__libc_dlopen_mode"
  uint64_t call_site = 0;      // virtual address of the call (CallSite only)
  std::string unknown_reason;  // why the name is unknown ("argument register set by ...")
  std::string feature, priority, description;  // from .note.dlopen
  // Resolution, as ld.so resolves a DT_NEEDED entry of `object`.
  bool resolved = false;
  std::string path, real_path;
  FoundBy how = FoundBy::Path;
  std::vector<std::string> searched;
  std::vector<std::string> closure;  // what the target itself loads (its own DT_NEEDED closure)
};

// One constant first argument (or its absence) at a call site; the raw result of the scan.
struct DlopenCall {
  std::string function;
  uint64_t call_site = 0;
  std::optional<std::string> name;  // nullopt: computed
  std::string unknown_reason;
};

// Scans the executable segments of an x86-64 or AArch64 image for calls to dlopen-like
// functions (through the PLT, the GOT, or a .symtab/.dynsym address in static files) and
// recovers the constant string passed as the file name. Other machines return nothing.
std::vector<DlopenCall> scan_dlopen_calls(const ElfDetail& elf, std::string_view image,
                                          const std::vector<ElfSymbol>& symtab);

// Entries of .note.dlopen notes: a JSON array of {"feature", "description", "priority",
// "soname": [...]} objects. Malformed JSON is skipped and listed in `problems`.
std::vector<DlopenTarget> read_dlopen_notes(const ElfDetail& elf, std::vector<std::string>& problems);

// ---- the report ------------------------------------------------------------------------------

struct BaseRecommendation {
  Base base = Base::Scratch;
  std::vector<std::string> why;
  // Libraries of the closure that the base does not provide: the packer must copy them.
  std::vector<std::string> extra_libraries;
};

struct ScriptInfo {
  std::string line;         // the #! line without "#!"
  std::string interpreter;  // as written ("/usr/bin/env" or "/bin/sh")
  std::vector<std::string> args;
  std::string program;      // what runs: the interpreter, or env's first argument
  std::optional<std::string> resolved;  // program's path in the root, when found
};

struct FileReport {
  std::string path;        // inside the root
  std::string real_path;
  FileKind kind = FileKind::NotElf;
  // For a script, every field below describes its interpreter (what the image must carry to
  // run it); `script` says how it was found.
  std::optional<ScriptInfo> script;

  std::optional<ElfIdent> ident;
  std::optional<std::string> interp;
  std::vector<std::string> needed;
  LoaderFamily libc = LoaderFamily::None;
  std::string newest_glibc;          // newest GLIBC_x.y the file itself needs ("" if none)
  std::string newest_glibc_closure;  // the same over the file and every library of its closure outside glibc
  std::vector<std::string> closure;  // libraries loaded at start (paths inside the root)
  std::vector<std::string> missing;  // DT_NEEDED names that did not resolve
  // Versions the closure requires that its libraries lack, as ld.so words them:
  // "/lib/libx.so.1: version `V2' not found (required by /app/exe)".
  std::vector<std::string> missing_versions;

  std::optional<GoBuildInfo> go;
  bool cgo = false;                  // Go with the C runtime linked in
  bool rust = false;
  std::string rustc_version;         // "rustc version 1.95.0 (...)", from .comment

  std::vector<RuntimeNeed> needs;
  std::vector<NssModule> nss_modules;
  std::vector<DlopenTarget> dlopen;

  // Truly static: no PT_INTERP, no DT_NEEDED, no cgo. Otherwise the reasons, one per line.
  std::vector<std::string> not_static_reasons;
  bool truly_static() const { return not_static_reasons.empty() && kind != FileKind::NotElf && kind != FileKind::Script; }

  BaseRecommendation base;

  const RuntimeNeed* need(NeedKind which) const;
};

struct InspectOptions {
  LoaderEnv env;
  bool scan_dlopen = true;     // run the Capstone scan (and read .note.dlopen)
  bool scan_libraries = true;  // also look at the closure's libraries for needs and dlopen
};

// Inspects files inside one root. Facts about each library are cached, so one Inspector for
// many files (every ELF in /usr/bin) reads each library once.
class Inspector {
 public:
  Inspector(const Root& root, InspectOptions options);
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  // Errors are for the file itself (missing, unreadable). A file that is neither ELF nor a
  // script is a report of kind NotElf. Parts that could not be read (the rest still was) are
  // warnings in `diag`, with the file's path as their source.
  Result<FileReport> inspect(std::string_view path, Context* diag = nullptr);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// ---- for the packer ---------------------------------------------------------------------------

// One file (or tree, or glob) a report says the image needs beyond the DT_NEEDED closure, with
// the reason to show for it. Paths are inside the root.
struct ImplicitFile {
  enum class Kind { File, Tree, Glob };  // Tree: a directory with everything below it
  std::string path;                      // without the trailing "/" of a tree
  Kind kind = Kind::File;
  bool optional = false;                 // the program runs without it, with less
  std::string reason;                    // "ca-certificates (links libssl.so.3 (OpenSSL))"
};

// Everything a report asks for beyond the closure, deduplicated, in a stable order: runtime-need
// paths, NSS modules that are not built in, and resolved dlopen targets with their own closures.
// Paths that a need names but that may not exist (other distributions' CA bundles) are included;
// the packer keeps those that exist in the root.
std::vector<ImplicitFile> implicit_files(const FileReport& report);

// The services named for `database` in nsswitch.conf text ("hosts: files [NOTFOUND=return] dns"
// -> files, dns), without the [status=action] items.
std::vector<std::string> nsswitch_services(std::string_view conf, std::string_view database);

}  // namespace minify
