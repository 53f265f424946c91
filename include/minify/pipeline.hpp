// The one place that knows the order of minify's stages. `minify pack` and `minify image` differ
// only in how the root is made (the builder itself, or an unpacked image) and in how the program
// runs while it is traced (on the host, or in the sandbox); both describe the run as a Job and
// call minimize(), which goes
//
//   trace -> analyze -> file set -> base -> outputs -> verify
//
// and returns plain data for the CLI to print. Problems that do not stop the run go to the
// Context; messages about progress ("tracing ...") are notes there too.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "minify/base.hpp"
#include "minify/collect.hpp"
#include "minify/context.hpp"
#include "minify/pack.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"
#include "minify/sbom.hpp"
#include "minify/trace.hpp"
#include "minify/verify.hpp"

namespace minify {

// The PATH a program gets when its environment has none (Docker's and execvp's default).
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

enum class ImageArchiveFormat { Oci, Docker };

struct Job {
  // What runs, and where. `root` is a host directory: "/" (the builder itself), a sysroot, or an
  // unpacked image. argv[0] is a path (relative ones against `workdir`, or on the host against
  // the caller's directory) or a name looked up in the PATH of `env`.
  std::string root = "/";
  std::vector<std::string> command;
  std::vector<std::string> env;  // "K=V" given for the program; PATH is added when missing
  std::string workdir;           // inside the root; empty: the caller's (host) or "/"

  // The trace. Off: the ELF analysis and implicit needs alone (--static-only).
  bool trace = true;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds grace{3000};
  std::vector<std::string> probes;

  // What enters the file set: --keep, --exclude, --no-implicit, the package options. The
  // outputs are excluded by minimize() itself when they lie inside the root.
  CollectOptions collect;
  // How the root was made: owner ids shifted on disk by this much (an unpacked image, for the
  // sandbox's user namespace), setuid/setgid bits cleared on disk, and the directories' mtimes
  // (which the traced program changes), by path. The outputs carry the image's own owners, modes
  // and times.
  uid_t uid_shift = 0;
  std::map<std::string, mode_t> special_modes;
  std::map<std::string, struct timespec> dir_times;
  // rootfs/ is owned as the unpacked root is (the image's owners + uid_shift), so that verify's
  // sandbox sees the image's own owners (needs CAP_CHOWN); otherwise by the calling user.
  bool rootfs_owners = false;

  // The image. `base` unset: the base inspect recommends for the program. `image` is the config
  // written into the OCI/docker archive; its Env is `env` (with PATH), and without an Entrypoint
  // or Cmd it runs the program as traced; an empty architecture is the program's.
  std::optional<Base> base;
  ImageConfig image;
  std::string pin_digest;
  std::string from_stage = "builder";
  CopyStyle copy_style = CopyStyle::Lines;
  std::optional<int64_t> source_date_epoch;  // also the SBOM's timestamp when set

  // Outputs. `dir` gets rootfs/, report.json, trace.json, run.json, and with `dockerfile` the
  // Dockerfile and generated/; the others are written when named.
  struct Outputs {
    std::string dir = "minify-out";
    bool dockerfile = true;
    std::string tar;
    std::string image;
    ImageArchiveFormat image_format = ImageArchiveFormat::Oci;
    std::string tag;  // name:tag recorded in the image archive
    bool zstd = false;
    std::string sbom;
    SbomFormat sbom_format = SbomFormat::CycloneDx;
    std::string sbom_subject;  // empty: the tag, else the program's name
    bool sbom_container = false;
  } out;

  // Verify: run the program once more in the written root, sandboxed and traced.
  bool verify = true;
  std::string run_as;             // user the sandbox runs the program as ("uid[:gid]" or a name)
  bool host_network = false;      // share the host's network (default: loopback only)
  bool map_root_to_root = false;  // root in the sandbox is host root, not an unprivileged uid
  // The argv prefix that starts the sandbox launcher (the CLI's hidden entry point, e.g.
  // {"/proc/self/exe", "__sandbox-exec"}); the library does not know the CLI's grammar.
  std::vector<std::string> sandbox_launcher;
};

// How the program runs while it is traced.
class Runner {
 public:
  virtual ~Runner() = default;
  // Runs the job's command the way the job says, traced; `program` is its argv[0] located inside
  // `root` (locate_program()).
  virtual Result<TraceLog> run(const Job& job, const Root& root, const std::string& program) = 0;
};

// The tracer on the builder itself: chrooted into the job's root unless it is "/". The program
// inherits minify's environment with the job's Env added, and the job's working directory.
class HostRunner final : public Runner {
 public:
  Result<TraceLog> run(const Job& job, const Root& root, const std::string& program) override;
};

// The sandbox (sandbox.hpp): the root as "/", the job's Env alone, its user and working
// directory, loopback only unless the job shares the host's network.
class SandboxRunner final : public Runner {
 public:
  Result<TraceLog> run(const Job& job, const Root& root, const std::string& program) override;
};

// The sandbox options a job's program runs with in `rootfs` (the trace of an image, verify).
SandboxOptions sandbox_options(const Job& job, const std::string& rootfs);
// The argv the sandbox runs: a name without "/" as given (execvp finds it in the sandbox's PATH
// the same way, and argv[0] stays what the image says), otherwise the located `program`.
std::vector<std::string> sandbox_argv(const Job& job, const std::string& program);

// argv[0] as a path inside the root, as execvp(3) would find it: a name without "/" in
// `path_var`, a relative path against `workdir` (on the host: against the caller's directory).
Result<std::string> locate_program(const Root& root, const std::string& program, const std::string& workdir,
                                   const std::string& path_var);

// "K=V" lists: later keys replace earlier ones, in first-seen order.
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& more);
// The value of `key` in a "K=V" list, or `fallback`.
std::string env_value(const std::vector<std::string>& env, const std::string& key, const std::string& fallback = "");

// Seconds each stage took.
struct PhaseTimes {
  double trace = 0;
  double analyze = 0;   // analysis and file set, package accounting included
  double packages = 0;  // of which reading the package database and accounting
  double pack = 0;      // every output written
  double verify = 0;
};

struct Minimized {
  std::string program;             // the program, located inside the root
  std::optional<TraceLog> trace;   // unless the job asked for no trace
  Collected collected;             // the file set, packages, libraries that did not resolve
  Base base = Base::Scratch;
  std::vector<std::string> base_why;  // why inspect recommended this base (when not given)
  ImageConfig image;               // the config written (or that would be)
  std::optional<OciDigests> image_digests;
  std::optional<std::string> sbom_digest;
  std::optional<VerifyReport> verify;  // when verify ran
  std::optional<Error> verify_error;   // verify was asked for and could not run
  PhaseTimes times;
};

// Runs the job. Errors are for the run as a whole (the program not found, an output that cannot
// be written); how the program ended and what verify found are data in Minimized.
Result<Minimized> minimize(const Job& job, Runner& runner, Context& ctx);

}  // namespace minify
