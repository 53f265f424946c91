// The writers: a FileSet becomes a root directory, a tar, an OCI image archive or the runner
// stage of a Dockerfile. Every file output is written under a temporary name next to the
// destination and renamed into place, so an interrupted or failed run leaves no half output.
// Archives are reproducible: entries sorted by path, the entries' numeric owners (Entry::uid/gid)
// with no user or group names, each entry's own mtime (Entry::mtime, whole seconds) clamped to
// SOURCE_DATE_EPOCH when set, no atime/ctime, gzip headers without a name or time.
// src/pack/ is the only code that includes <archive.h>.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "minify/base.hpp"
#include "minify/context.hpp"
#include "minify/elf.hpp"
#include "minify/fileset.hpp"
#include "minify/packages.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"

namespace minify {

enum class Compression { None, Gzip, Zstd };
std::string_view compression_name(Compression c);  // "none", "gzip", "zstd"

// SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/): a decimal
// number of seconds. Empty or null means 0.
Result<int64_t> parse_source_date_epoch(const char* value);

// The mtime an entry is written with: its source's (Entry::mtime), or with SOURCE_DATE_EPOCH set,
// never later than it (reproducible-builds.org's "clamp"); entries minify made get the epoch itself.
struct timespec entry_mtime(const Entry& e, std::optional<int64_t> source_date_epoch);

struct RootfsOptions {
  // Unset: files are owned by the calling user. Set: every entry (and the root) is chowned to
  // this shift + its own uid/gid, as unpack_layers() shifts an image's owners, so that a sandbox
  // mapping 0 to the shift runs the program against the image's own owners (needs CAP_CHOWN).
  std::optional<uid_t> owner_shift = {};
  std::optional<int64_t> source_date_epoch = {};  // clamps mtimes, see entry_mtime()
  ProgressFn progress = {};  // file bytes copied of the set's, as it goes
};

// Copies the set into `out_dir` (created through a temporary sibling directory and a rename;
// an existing `out_dir` is replaced atomically with renameat2(RENAME_EXCHANGE)). Modes and
// mtimes (to the nanosecond) are kept, symlinks stay symlinks, holes of sparse files stay holes.
Status write_rootfs(const FileSet& set, const Root& root, const std::string& out_dir, const RootfsOptions& options = {});

struct TarOptions {
  Compression compression = Compression::None;
  int level = 0;         // 0: the default of the compressor (gzip 6, zstd 3)
  int threads = 0;       // zstd worker threads; 0: one per core, capped at 4
  std::optional<int64_t> source_date_epoch = {};  // clamps mtimes, see entry_mtime()
  ProgressFn progress = {};  // file bytes archived of the set's, as it goes
};

// What was written, for callers that print or record digests.
struct ArchiveDigest {
  std::string digest;       // "sha256:<hex>" of the bytes written (compressed)
  uint64_t size = 0;        // bytes written
  std::string diff_id;      // "sha256:<hex>" of the uncompressed tar
  uint64_t tar_size = 0;
};

// A PAX (restricted: ustar unless a field needs more) tar of the set, optionally compressed.
Result<ArchiveDigest> write_tar(const FileSet& set, const Root& root, const std::string& out_file,
                                const TarOptions& options = {});

// The image configuration (OCI image-spec config.md, "config" object plus platform).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;            // "KEY=value"
  std::string working_dir;
  std::string user;                        // "65532:65532", "nobody", ...
  std::vector<std::string> exposed_ports;  // "8080/tcp"
  std::map<std::string, std::string> labels;
  std::string architecture = "amd64";      // GOARCH names, see oci_platform()
  std::string variant;                     // "v7" for arm, ...
  std::string os = "linux";
  std::string created_by = "minify";       // history[0].created_by
};

// The OCI platform (GOARCH, variant) of an ELF machine, e.g. EM_X86_64 -> {"amd64", ""},
// EM_AARCH64 -> {"arm64", "v8"}. Unknown machines give {"", ""}.
std::pair<std::string, std::string> oci_platform(const ElfIdent& ident);

struct OciOptions {
  Compression compression = Compression::Gzip;  // of the layer; None is allowed
  int level = 0;
  int threads = 0;
  // Clamps file mtimes (entry_mtime()); also the config's "created" and the times of the
  // archive's own entries, which are 0 when it is unset.
  std::optional<int64_t> source_date_epoch = {};
  std::string tag = {};   // "name:tag" or "name" (":latest"); empty: no name annotations
  ProgressFn progress = {};  // file bytes archived of the set's, as it goes
};

struct OciDigests {
  std::string manifest;  // "sha256:<hex>", the image digest
  std::string config;
  ArchiveDigest layer;   // digest/size of the compressed blob, diff_id of the tar
};

// An OCI image archive (image-layout: oci-layout, index.json, blobs/sha256/...) with Docker's
// manifest.json (and repositories when a tag is given) beside index.json, as BuildKit's
// exporter writes, so skopeo, podman load and docker load all take it. The layer is hashed
// while it is written (compressed and uncompressed digests in the same pass) and streamed
// straight into the archive.
Result<OciDigests> write_oci(const FileSet& set, const Root& root, const std::string& out_file,
                             const ImageConfig& config, const OciOptions& options = {});

// A docker-archive (`docker load`, skopeo docker-archive:): the same blobs and manifest.json as
// write_oci() without the OCI layout files (oci-layout, index.json).
Result<OciDigests> write_docker_archive(const FileSet& set, const Root& root, const std::string& out_file,
                                        const ImageConfig& config, const OciOptions& options = {});

// ---- Dockerfile runner stage ----

// What a program expects of any Linux root and distroless-static provides: /etc/passwd and
// /etc/group with root, nobody (65534) and nonroot (65532), and /tmp with mode 1777. Only adds
// the files when the set has none at those paths.
Status add_scratch_basics(FileSet& set);

// How the runner stage ships a set on a base: which entries the base (or the container runtime)
// already provides, by runtime need; which directories go in one COPY; who each file belongs to.
struct RunnerPlanOptions {
  Base base = Base::Scratch;
  // The root the set came from: directories are copied whole when everything in them there is
  // in the set. Without it only Entry::complete_tree directories are.
  const Root* root = nullptr;
  // Owners of the set's files (the builder's package database): a file of a package the base
  // installs is the base's, and comments name packages. Without it: by path.
  const PackageDb* packages = nullptr;
  // Where minify writes its outputs, inside the root: no directory holding one is copied whole
  // (it holds more by the time the image is built).
  std::vector<std::string> outputs;
};

struct RunnerPlan {
  Base base = Base::Scratch;
  std::map<std::string, std::string> not_copied;  // entry path -> the need the base meets
  std::vector<RunnerNeed> needs;                  // for report.json
  std::set<std::string> whole_dirs;               // one COPY each (topmost only)
  std::map<std::string, std::string> package_of;  // file path -> owning package
  // Files the runner stage copies although the base meets their need, and why (a certificate
  // only the builder trusts): written above their COPY.
  std::map<std::string, std::string> kept_because;
  // Generated entries, package metadata (status.d, copyright, release files), and what a COPY
  // from the builder cannot make (links to a file in another directory, directories whose mode
  // is not 0755 or that hold nothing): they come from the build context (write_generated()),
  // not from the builder stage.
  std::set<std::string> from_context;
  // Directories the image's user must own (the program wrote into them while traced: the file
  // set gives them its owner). COPY makes what it creates root's, and `COPY --chown` also gives
  // its owner to every directory it creates on the way (buildah 1.28), so each group is the
  // topmost owned directories under one existing parent, with the owned directories below them,
  // copied from their own context directory (write_writable()) into that parent with --chown,
  // right after the generated COPY has made the parent.
  struct OwnedGroup {
    std::string parent;             // exists by then: the base's, or from the build context
    uint32_t uid = 0, gid = 0;
    std::vector<std::string> dirs;  // the owned directories, topmost first
  };
  std::vector<OwnedGroup> owned;
};
RunnerPlan plan_runner(const FileSet& set, const RunnerPlanOptions& options);

// The real directory of `dir` in the set: directory symlinks in the set are followed, lexically,
// as the kernel would inside the root (/lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu).
// COPY sources use it, because buildah resolves a link met after a symlinked directory against
// the unresolved path (/lib64/ld.so -> ../lib/... is looked up as /lib/..., not /usr/lib/...).
std::string real_dir_in_set(const FileSet& set, const std::string& dir);

// Writes what plan.from_context names (and their parent directories) as a root tree in
// `out_dir`: the build-context source of the lines-style COPY. Generated entries come from the
// set; package metadata files from `root`. COPY of a directory's contents keeps the modes of the
// directories inside it (/tmp 1777) and their symlinks, which a COPY naming the directory itself
// does not (buildah, BuildKit: the destination directory gets 0755).
Status write_generated(const FileSet& set, const RunnerPlan& plan, const Root* root, const std::string& out_dir);
// Writes each of plan.owned's groups as `out_dir`/N/ (N from 1, in plan order): its directories
// below that, relative to the group's parent, with their modes. The build-context source of the
// `COPY --chown` lines.
Status write_writable(const FileSet& set, const RunnerPlan& plan, const std::string& out_dir);
// The same with a root-less plan on `base` (generated entries only).
Status write_generated(const FileSet& set, Base base, const std::string& out_dir);

enum class CopyStyle { Lines, Rootfs };

struct DockerfileOptions {
  Base base = Base::Scratch;
  std::string pin_digest;            // "sha256:..."; empty: the base's tag alone
  std::string from_stage = "builder";
  // When set, the Dockerfile starts with `FROM <builder_image> AS <from_stage>` and builds alone.
  std::string builder_image;
  CopyStyle copy_style = CopyStyle::Lines;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::pair<std::string, std::string>> env;
  std::string workdir;
  std::optional<std::string> user;   // unset: kNonRootUser
  std::vector<std::string> exposed_ports;
  // The plan the lines style follows; null: plan_runner() without a root or package database.
  const RunnerPlan* plan = nullptr;
  // Lines style: what plan.from_context names is copied from this directory of the build
  // context (write_generated() fills it), relative to `context_dir`, with one COPY.
  std::string generated_context_dir = "generated";
  // Lines style: the groups of plan.owned come from N/ below this directory (write_writable()).
  std::string writable_context_dir = "writable";
  // The build context: the directory the Dockerfile is written to. Named in the first comment's
  // build command; empty: "DIR".
  std::string context_dir;
  // Rootfs style: the builder runs `minify_command`, which writes `builder_out_dir`/rootfs.
  std::string minify_command = "minify pack -o /minify-out PROGRAM";
  std::string builder_out_dir = "/minify-out";
};

// `buildah bud -f DIR/Dockerfile DIR`: the command that builds the Dockerfile written into
// `context_dir` (the first comment of render_dockerfile()'s output says it too).
std::string build_command(std::string_view context_dir, std::string_view tool = "buildah bud");

// The runner stage: comments, FROM, COPY lines, then ENV/WORKDIR/USER/EXPOSE/ENTRYPOINT/CMD.
//
// Lines style. COPY dereferences a source symlink (moby/moby#40449) and cannot make one, so:
// each regular file is copied once under each name it was asked for (Entry::names: the soname,
// the PT_INTERP path), never under the names of the links it crossed and never as both a link
// and its target. A destination path whose directory is a symlink in the source (/lib64 ->
// usr/lib64 on merged /usr) becomes a real directory in the image holding the files asked for
// through it, so the loader's path keeps working; when the base already has the link, COPY
// follows it. COPY sources are named through their real directory (buildah resolves a relative
// link met after a symlinked directory against the unresolved path). A directory shipped whole
// (plan.whole_dirs) is one COPY, links and modes inside it kept; other files are grouped by
// destination directory, one COPY each, under a comment naming their package. What the plan
// takes from the build context is one COPY. Groups are ordered by how often their content
// changes: the loader and libc, other libraries, certificates and data, other files, the program
// last. Past 100 COPY lines (a layer each; overlay stops at 127) a note recommends the rootfs style.
//
// Rootfs style: `COPY --from=<stage> <builder_out_dir>/rootfs/ /`, one layer, links kept.
std::string render_dockerfile(const FileSet& set, const DockerfileOptions& options);

}  // namespace minify
