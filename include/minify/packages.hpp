// The package database of a root (dpkg or apk), who owns each file of a FileSet, and what the
// minimal root says about its packages.
//
// Read: dpkg's /var/lib/dpkg/status with info/NAME[:ARCH].list and .md5sums, distroless'
// /var/lib/dpkg/status.d/NAME (+ NAME.md5sums, which is then also the file list), or apk's
// /lib/apk/db/installed. Every listed path is mapped to its canonical path inside the root
// (parent directories resolved through the root's symlinks), so on a merged-/usr system the
// "/lib/x86_64-linux-gnu/libc.so.6" that dpkg lists is found as "/usr/lib/x86_64-linux-gnu/libc.so.6",
// the path a FileSet holds. dpkg diversions (/var/lib/dpkg/diversions) are applied the same way.
//
// A full Debian system lists ~160,000 paths in ~900 info/*.list files, and a run ships files of
// ~15 packages. A lazy database (PackageDbLoad::Lazy, what pack and image use) reads the status
// file but not the lists; index() then scans the lists once for the paths a run asks about and
// loads only the packages that list one of them. It answers like the full read for every path
// it indexed (tests/packages compares the two on real databases).
//
// Write: for each package that contributed at least one file, /var/lib/dpkg/status.d/NAME (its
// stanza, Conffiles trimmed to what is kept) and NAME.md5sums (the kept files), the layout
// distroless images carry and that Trivy, Grype and Syft read; for Alpine a trimmed
// /lib/apk/db/installed. No package whose files were all dropped is listed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "minify/context.hpp"
#include "minify/fileset.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

enum class PackageDbKind {
  None,  // the root has no package database (scratch, a static image, a sysroot)
  Dpkg,  // /var/lib/dpkg/status (+ info/) or /var/lib/dpkg/status.d/ (distroless)
  Apk,   // /lib/apk/db/installed
};
std::string_view package_db_kind_name(PackageDbKind kind);  // "none", "dpkg", "apk"

// One control field as the database wrote it. dpkg: "Depends" / "libc6 (>= 2.34)"; a multi-line
// value (Description, Conffiles) keeps its continuation lines, "\n"-joined with their leading
// space. apk: the one-letter key ("P", "V", "o", "L", ...) and its value; the per-file keys
// (F, R, Z, M, a) are not fields but `files`.
struct ControlField {
  std::string name;
  std::string value;
  bool operator==(const ControlField&) const = default;
};

struct PackageFile {
  std::string listed;  // as the database lists it, absolute: "/lib/x86_64-linux-gnu/libc.so.6"
  std::string path;    // canonical inside the root: "/usr/lib/x86_64-linux-gnu/libc.so.6"
  // dpkg: md5 hex from NAME.md5sums (empty for directories, conffiles, or before load_digests);
  // apk: the Z: value as written ("Q1" + base64 sha1).
  std::string digest;
  bool operator==(const PackageFile&) const = default;
};

struct Package {
  PackageDbKind kind = PackageDbKind::Dpkg;
  std::string name;          // "libc6"
  std::string version;       // "2.36-9+deb12u4" (dpkg, epoch included) / "3.1.4-r5" (apk)
  std::string architecture;  // "amd64", "all" / "x86_64", "noarch"
  // dpkg: the Source field without its "(version)", or `name` when there is none;
  // apk: the origin (o:), or `name` when there is none.
  std::string source;
  std::string source_version;  // dpkg "Source: glibc (2.36-9)": "2.36-9"; otherwise `version`
  std::string apk_checksum;    // apk C: ("Q1..." base64 sha1 of the control data); empty for dpkg
  std::vector<ControlField> fields;  // every field, in database order
  std::string stanza;                // the record's text as read, without the blank line after it
  // dpkg info/ files are named "NAME:ARCH.list" for Multi-Arch: same packages, "NAME.list"
  // otherwise; this is that stem (also the key find() takes besides "NAME").
  std::string key;
  std::vector<PackageFile> files;  // directories included, database order
  // `files` is read. Always true in a full database; in a lazy one only for packages that list a
  // file index() was given, or that load_files() loaded (status.d and apk: always).
  bool files_loaded = false;
  bool digests_loaded = false;  // dpkg md5sums read (apk: always true)

  // The value of a field (exact name), nullopt when absent.
  std::optional<std::string_view> field(std::string_view field_name) const;
};

// Files under these are documentation: kept only with --with-docs (--keep-package, package
// granularity). /usr/share/doc/NAME/copyright is not: it is the package's license and scanners
// read it (see PackageSelection).
bool is_doc_path(std::string_view path);

// How much read() reads up front.
enum class PackageDbLoad {
  Full,  // every file list: owner() and is_directory() answer for any path
  Lazy,  // dpkg's info/*.list files only when index() or load_files() needs them
};

class PackageDb {
 public:
  // Reads the database of `root`. A root without one gives an empty database (kind None), not an
  // error; a database that is there but cannot be parsed (a record without a Package/P field, a
  // field line without a colon, a .list that cannot be read) is an error naming the file and line.
  static Result<PackageDb> read(const Root& root, PackageDbLoad load = PackageDbLoad::Full);

  PackageDb();
  ~PackageDb();
  PackageDb(PackageDb&&) noexcept;
  PackageDb& operator=(PackageDb&&) noexcept;
  PackageDb(const PackageDb&) = delete;  // by_path_ views the packages' strings
  PackageDb& operator=(const PackageDb&) = delete;
  // Parses dpkg status text (status or one status.d file) / apk installed text. `name` is for
  // messages. Files are not loaded; fields, version, source, stanza are.
  static Result<std::vector<Package>> parse_dpkg_status(std::string_view text, std::string_view name);
  static Result<std::vector<Package>> parse_apk_installed(std::string_view text, std::string_view name);

  PackageDbKind kind() const { return kind_; }
  const std::string& db_path() const { return db_path_; }  // "/var/lib/dpkg/status", ...
  const std::vector<Package>& packages() const { return packages_; }

  // By "NAME" (the first such package) or by key "NAME:ARCH". nullptr when absent.
  const Package* find(std::string_view name) const;
  std::optional<size_t> index_of(std::string_view name) const;

  // The package that lists the canonical path `path`, a file or symlink (the first one, when
  // several do). nullptr when no package owns it, and for directories, which packages share
  // (is_directory()). Use Root::resolve()'s canonical path, or FileSet paths (canonical too).
  // Requires: a full database, or `path` given to index().
  const Package* owner(std::string_view path) const;
  std::optional<size_t> owner_index(std::string_view path) const;
  // Is this canonical path a directory some listed path lies in? (Lists do not say which of
  // their paths are directories; this tells them apart without a stat.) A lazy database answers
  // exactly for indexed paths; for others it knows the directories of the lists it has read.
  bool is_directory(std::string_view path) const;

  // Lazy databases: makes owner() and is_directory() exact for these canonical paths and loads
  // the files of every package that lists one of them that is not a directory (so a package
  // whose files are not loaded lists no such path). One pass over info/*.list for all paths not
  // indexed yet; a no-op for a full database.
  Status index(const Root& root, const std::vector<std::string>& paths);
  // index() for every entry of the set but its directories.
  Status index(const Root& root, const FileSet& set);
  // Was `path` given to index()? Always true for a full database.
  bool indexed(std::string_view path) const;
  // Reads the files of one package (a no-op when they are loaded).
  Status load_files(const Root& root, size_t package);

  // Reads info/KEY.md5sums of one dpkg package into its files' digests (once; a missing md5sums
  // file is not an error, some packages have none). No-op for apk and status.d packages.
  Status load_digests(const Root& root, size_t package);

 private:
  PackageDbKind kind_ = PackageDbKind::None;
  std::string db_path_;
  std::vector<Package> packages_;
  struct Lists;  // canonical paths of listed directories, diversions, what index() learnt
  std::unique_ptr<Lists> lists_;
  // Lookups by string_view without building a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> by_key_;  // key and name -> index
  // Canonical path -> first owner among the loaded packages. The keys view PackageFile::path
  // strings, which stay put: a package's files are complete before they enter the table, and
  // moving the database moves no PackageFile. Directories stay in it; owner() skips them.
  std::unordered_map<std::string_view, size_t> by_path_;
  // Canonical parents of listed paths and their listed spellings (a lazy database: those of the
  // lists and paths it has looked at).
  std::unordered_set<std::string, Hash, std::equal_to<>> dirs_;
  friend class PackageDbBuilder;
};

// How much of each package a touched file pulls in.
enum class Granularity {
  File,     // only the files touched (the default)
  Package,  // a touched file pulls in every file of its package (docs only with --with-docs)
  Module,   // a touched file under node_modules/NAME pulls in that directory; under a Python
            // site-packages/dist-packages, its distribution (dist-info RECORD, else the top-level
            // package directory); in the standard library (/usr/lib/python3.X), its package
            // directory
};
std::string_view granularity_name(Granularity g);  // "file", "package", "module"
std::optional<Granularity> parse_granularity(std::string_view name);

struct PackageSelection {
  std::vector<std::string> keep_packages;  // --keep-package NAME (or NAME:ARCH)
  bool with_docs = false;                  // --with-docs
  Granularity granularity = Granularity::File;
};

struct SelectionResult {
  size_t files_added = 0;  // entries the selection added
};

// Adds to `set` (reason ReasonKind::Package) what the selection asks for, plus what every minimal
// root carries: /etc/os-release and what it links to (scanners identify the distribution by it)
// and /usr/share/doc/NAME/copyright of each package that contributed a file. A --keep-package
// that names no package is an error; files listed but missing from the root are warnings in `diag`.
// Indexes the set's paths in `db` (and loads what the selection needs), before and after.
Result<SelectionResult> apply_package_selection(FileSet& set, const Root& root, PackageDb& db,
                                                const PackageSelection& selection, Context* diag = nullptr);

// Per-package accounting of the final set against the database.
struct PackageUsage {
  size_t package = 0;                // index into db.packages()
  std::string name, version, architecture;
  std::vector<std::string> kept;     // canonical paths of its files and symlinks in the set
  // The files it lists with a checksum (dpkg md5sums and conffiles, apk Z:) that are not in the
  // set, as the database lists them: not checked on disk (a path excluded at install, dpkg's
  // path-exclude, is still listed).
  std::vector<std::string> dropped;
  uint64_t kept_bytes = 0;           // sizes of kept regular files
  // The bytes saved: the database's installed size (dpkg Installed-Size KiB * 1024, apk I:) less
  // kept_bytes, 0 at least. `dropped` is left empty for a package dropped entirely. Neither stats
  // a file: statting every file of every package costs more than the rest of a run, and a traced
  // minify would then ship every file it stat'ed (scripts/minify-image).
  uint64_t dropped_bytes = 0;
  bool estimated = false;  // dropped_bytes is the database's figure (always, now)
};

struct PackageReport {
  PackageDbKind kind = PackageDbKind::None;
  std::string db_path;
  std::vector<PackageUsage> packages;        // every package of the database, database order
  std::vector<std::string> dropped_entirely;  // names of packages with no file in the set
  std::vector<std::string> unowned;          // files/symlinks in the set no package lists
                                             // (generated entries are not counted)
  // Packages with at least one kept file.
  size_t contributing() const;
};

// Requires: the set's entries were added from `root`, and a lazy `db` indexed them
// (apply_package_selection() does, as its last step). Loads the checksums of the packages that
// ship a file (hence not const), and stats no file the set does not ship.
PackageReport account_packages(const FileSet& set, const Root& root, PackageDb& db);

// Adds the package metadata of the contributing packages to `set` as generated entries:
// /var/lib/dpkg/status.d/NAME and NAME.md5sums (dpkg) or /lib/apk/db/installed (apk). Also
// removes the root's own full database (/var/lib/dpkg/status, info/, an untrimmed apk
// installed) from the set if the program touched it, so a scanner sees only what is shipped.
// Loads md5sums of contributing packages (hence not const).
Status add_package_metadata(FileSet& set, const Root& root, PackageDb& db, const PackageReport& report);

// The texts add_package_metadata writes, for tests and the SBOM writer.
std::string dpkg_status_stanza(const Package& pkg, const PackageUsage& usage);  // ends with "\n"
std::string dpkg_md5sums(const Package& pkg, const PackageUsage& usage);         // "md5  rel/path\n"...
std::string apk_installed(const PackageDb& db, const PackageReport& report);

}  // namespace minify
