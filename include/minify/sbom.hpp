// The software bill of materials of a minimal root: `--sbom FILE` of `minify pack` and `minify
// image`. It lists what the root ships, found in the root itself:
//  - the OS packages that contributed files (from packages.hpp's accounting), with purls
//    pkg:deb/<ID>/NAME@VERSION?arch=... (ID from /etc/os-release) or pkg:apk/<ID>/...;
//  - Go modules from the build information of every Go binary in the set;
//  - npm packages: every package.json in the set that has a name and a version;
//  - Python distributions: .dist-info/METADATA and .egg-info/PKG-INFO of the set, and the
//    distributions installed beside a site-packages/dist-packages module the set carries;
//  - every regular file with its SHA-256 and SHA-1.
// Written as CycloneDX 1.5 JSON (https://cyclonedx.org/docs/1.5/json/) or SPDX 2.3 JSON
// (https://spdx.github.io/spdx-spec/v2.3/). The output is reproducible: components and files are
// sorted, the serial number and document namespace are UUIDv5 of the content, and the only time
// in it is SOURCE_DATE_EPOCH.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minify/context.hpp"
#include "minify/fileset.hpp"
#include "minify/packages.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

enum class SbomFormat { CycloneDx, Spdx };
std::string_view sbom_format_name(SbomFormat f);  // "cyclonedx", "spdx"
std::optional<SbomFormat> parse_sbom_format(std::string_view name);

enum class ComponentKind { OsPackage, GoModule, Npm, Python };
std::string_view component_kind_name(ComponentKind k);  // "os", "go", "npm", "python"

struct Component {
  ComponentKind kind = ComponentKind::OsPackage;
  std::string name;     // "libc6", "golang.org/x/text", "@babel/core", "Flask"
  std::string version;  // as its source says: dpkg with epoch, Go "v0.3.7", "(devel)"
  std::string purl;
  std::string found_in;              // the evidence: status.d file, Go binary, package.json, METADATA
  std::vector<std::string> files;    // OS packages: their files in the set (sorted)
  std::string source, source_version;  // OS packages: the source package and its version
  bool main_module = false;          // Go: the binary's main module
};

struct FileRecord {
  std::string path;  // inside the root
  std::string sha256, sha1;  // lowercase hex
  uint64_t size = 0;
};

struct OsRelease {
  std::string id;          // "debian", "alpine", "ubuntu"
  std::string version_id;  // "12", "3.19.1"
  std::string pretty_name;
};

struct Sbom {
  std::string subject;  // what it describes: the program or the image name
  bool container = false;
  std::optional<OsRelease> os;
  std::vector<Component> components;  // sorted by kind, name, version
  std::vector<FileRecord> files;      // sorted by path
};

// One OS package that contributed to the set, as account_packages() reports it.
struct OsPackage {
  PackageDbKind kind = PackageDbKind::Dpkg;
  std::string name, version, architecture, source, source_version;
  std::vector<std::string> files;  // kept paths
};
// The contributing packages of an accounting, in database order.
std::vector<OsPackage> contributing_packages(const PackageDb& db, const PackageReport& report);

// The "KEY=value" lines of os-release(5) text; values unquoted ("..." / '...', with \ escapes).
OsRelease parse_os_release(std::string_view text);

// Percent-encoding of one purl component (purl-spec: everything but ALPHA DIGIT . - _ ~ is
// encoded; ':' is kept in versions, '/' between namespace segments is the caller's).
std::string purl_encode(std::string_view s, bool keep_colon = false);
// PEP 503 normalized name: lowercase, runs of -_. become "-".
std::string pep503_name(std::string_view name);

struct SbomOptions {
  std::string subject;
  bool container = false;
  std::vector<OsPackage> os_packages;
};

// Reads what the SBOM lists from the set's files (read through `root`, or their generated
// content) and /etc/os-release of the root. Unreadable or damaged metadata of one package is a
// warning in `diag`, not an error; an unreadable file the set ships is an error.
Result<Sbom> collect_sbom(const FileSet& set, const Root& root, const SbomOptions& options, Context* diag = nullptr);

// The document text. `timestamp`: seconds since the epoch (SOURCE_DATE_EPOCH); CycloneDX leaves
// metadata.timestamp out without one, SPDX (which requires creationInfo.created) uses 0.
std::string render_cyclonedx(const Sbom& sbom, std::optional<int64_t> timestamp);
std::string render_spdx(const Sbom& sbom, std::optional<int64_t> timestamp);
std::string render_sbom(const Sbom& sbom, SbomFormat format, std::optional<int64_t> timestamp);

// Writes the text to `out_file` through a temporary name and rename. Returns "sha256:<hex>" of
// the bytes written, the digest the image's org.minify.sbom.digest label carries.
Result<std::string> write_sbom(const std::string& text, const std::string& out_file);

// The image config label that names the SBOM written beside the image.
inline constexpr const char* kSbomDigestLabel = "org.minify.sbom.digest";

}  // namespace minify
