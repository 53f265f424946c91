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
#include <functional>
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
#include "minify/policy.hpp"
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
  std::vector<std::string> env;  // "K=V": the image's Env, all the program gets (PATH added when missing)
  std::string workdir;           // inside the root; empty: the caller's (host) or "/"
  // The trace on the builder also gets minify's own environment (--inherit-env); the image and
  // verify never do.
  bool inherit_env = false;

  // The trace. Off: the ELF analysis and implicit needs alone (--static-only).
  bool trace = true;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds grace{3000};
  std::vector<std::string> probes;
  // Which tracer records the trace and the verify runs (--tracer). Auto falls back to ptrace and
  // the run says why in a note ("using ptrace: ...").
  TracerBackend tracer = TracerBackend::Auto;

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

  // The image. `base` unset: the base inspect recommends for the program. `image` is the config
  // written into the OCI/docker archive; its Env is `env` (with PATH), and without an Entrypoint
  // or Cmd it runs the program as traced; an empty architecture is the program's.
  std::optional<Base> base;
  ImageConfig image;
  std::string pin_digest;      // empty: minify's table of known digests, or the registry's
  bool resolve_digest = false;  // ask the registry (skopeo) for the base's digest
  std::string from_stage = "builder";
  std::string builder_image;  // set: the Dockerfile starts with FROM IMAGE AS from_stage
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
    // --policy DIR: the runtime policy (policy.hpp) the program was verified under: seccomp.json,
    // kubernetes.yaml, run.sh, policy.json; written only when verify under it passed.
    std::string policy;
    // Replace an existing output directory that minify did not write (never one holding the
    // root, the program or a protected path).
    bool force = false;
  } out;
  // Host paths the output directory must neither be nor contain (besides the root and the
  // program's directory): the input image, a work directory.
  std::vector<std::string> protected_paths;

  // Verify: run the program once more in the image's tree (a copy of what the layer holds, its
  // owners as the image has them), sandboxed and traced, as the image's User with only its Env,
  // in its WorkingDir. A failed verify, or one that could not run, is not a success: the outputs
  // go under "OUT.failed" and the previous ones stay.
  bool verify = true;
  // The user the traced program runs as: in the sandbox (minify image: the image's User), or on
  // the builder (pack --user: minify stays root, the program does not); empty: root.
  std::string run_as;
  bool host_network = false;  // share the host's network (default: loopback only)
  // The exit status the program is expected to end with when it runs on its own (not stopped
  // by --timeout or a probe); any other status fails the run.
  int expect_exit = 0;
  // Repair: paths the minimal run could not find, open or exec that the source root has are
  // added (with their closure and package), the outputs rewritten and verified again, up to this
  // many rounds. 0: no repair.
  int repair_rounds = 3;
  // Polled between stages and while a program runs: a signal number (the run stops, nothing
  // is committed), or 0.
  std::function<int()> interrupted;
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

// The tracer on the builder itself, chrooted into the job's root unless it is "/", as the job's
// run_as (else minify's user, root on a typical builder), with the job's Env alone (and minify's own environment
// under it with inherit_env), in the job's working directory.
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

// The credentials a program traced as `spec` ("uid[:gid]" or "name[:group]", as an image's User)
// runs with: resolved against the root's /etc/passwd and /etc/group, with the user's
// supplementary groups; nullopt when minify already runs as that uid and gid (an unprivileged
// minify given its own uid: nothing to drop, and setgroups would need CAP_SETGID). A name the
// root does not have is bad input.
Result<std::optional<TraceOptions::Credentials>> run_as_credentials(const Root& root, const std::string& spec);

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

// Verify as minimize() does it: `set` (read from `source`) written with its owners shifted into
// the sandbox's ids into a fresh tree beside `beside` (a sibling "BESIDE.verify-XXXXXX", removed
// afterwards), and `command` run there as the job's image User with the job's Env, compared with
// `original`.
Result<VerifyReport> verify_in_image_tree(const FileSet& set, const Root& source, const Job& job,
                                          const std::vector<std::string>& command, const std::optional<TraceLog>& original,
                                          const std::string& beside, const Policy* policy = nullptr);

// Seconds each stage took.
struct PhaseTimes {
  double trace = 0;
  double analyze = 0;   // analysis and file set, package accounting included
  double packages = 0;  // of which reading the package database and accounting
  double pack = 0;      // every output written
  double verify = 0;
};

// Why verify failed, in words: one line each.
struct VerifyFinding {
  enum class Kind { Missing, PermissionDenied, ExitStatus, Probe, Network };
  Kind kind = Kind::Missing;
  std::string path;     // Missing, PermissionDenied
  std::string message;  // the whole line
};

// The findings of a verify run of `job`'s program as `user`, in words.
std::vector<VerifyFinding> verify_findings(const VerifyReport& report, const Job& job, const std::string& user);

// One path added by repair.
struct Repair {
  int round = 0;
  std::string path;
  std::string why;  // "the minimal run got ENOENT for it"
};

struct Minimized {
  std::string program;             // the program, located inside the root
  std::optional<TraceLog> trace;   // unless the job asked for no trace
  Collected collected;             // the file set, packages, libraries that did not resolve
  Base base = Base::Scratch;
  std::vector<std::string> base_why;  // why inspect recommended this base (when not given)
  ImageConfig image;               // the config written (or that would be)
  // The Dockerfile's runner stage (with out.dockerfile): the base's digest, how each need is met,
  // and the command that builds it.
  BasePin pin;
  RunnerPlan runner;
  std::string build_command;
  std::optional<OciDigests> image_digests;
  std::optional<std::string> sbom_digest;
  std::optional<Policy> policy;        // out.policy: derived from the trace, verified with the outputs
  std::optional<VerifyReport> verify;  // the last verify run, when verify ran
  std::optional<Error> verify_error;   // verify was asked for and could not run
  std::vector<VerifyFinding> findings; // why the last verify failed (empty when it passed)
  std::vector<Repair> repairs;         // what repair added, every round
  std::optional<std::string> self_failed;  // the traced program failed on its own: how
  bool committed = false;              // the outputs are in place (else under failed_dir)
  std::string failed_dir;              // where a failed run's outputs went ("OUT.failed")
  PhaseTimes times;
  bool ok() const { return committed && !self_failed; }
};

// Runs the job. Errors are for the run as a whole (the program not found, an output that cannot
// be written); how the program ended and what verify found are data in Minimized.
Result<Minimized> minimize(const Job& job, Runner& runner, Context& ctx);

}  // namespace minify
