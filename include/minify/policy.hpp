// Least privilege from the trace: the runtime policy a traced program needs and nothing more,
// as a seccomp profile (Docker/Podman/OCI format), the writable paths (a read-only root plus
// tmpfs mounts), the capabilities, the user, and whether privileges may be gained; written as
// seccomp.json, a Kubernetes securityContext + volumes fragment and docker/podman run lines.
// The pipeline verifies the program under it (SandboxOptions) before it is written as final.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "minify/fileset.hpp"
#include "minify/result.hpp"
#include "minify/rootfs.hpp"
#include "minify/trace.hpp"

namespace minify {

struct Policy {
  std::string arch;                    // the syscalls' architecture: "x86_64", "aarch64"
  // seccomp.json's "architectures": the image's, then the ones its kernel also runs natively
  // (SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32 for amd64), as Docker and Podman write them.
  std::vector<std::string> architectures;
  std::vector<std::string> syscalls;   // allowed: seen + what a runtime needs to start it (sorted)
  std::size_t syscalls_seen = 0;       // of which the program used
  // Syscalls that fail with ENOSYS instead of EPERM, as they did for the traced program (the
  // tracer refuses io_uring_setup) or as glibc needs to fall back (clone3 when unused).
  std::vector<std::string> enosys;
  // readOnlyRootFilesystem is possible: every write went under `writable`.
  bool read_only_root = true;
  std::vector<std::string> writable;   // directories that get a tmpfs (emptyDir), sorted
  std::vector<std::string> notes;      // why, for what the policy could not restrict
  std::vector<std::string> capabilities;  // kept ("NET_BIND_SERVICE"); every other one dropped
  std::map<std::string, std::string> capability_why;
  std::string user;                    // the image's USER as given ("" = root)
  std::optional<uid_t> uid;            // resolved in the root
  std::optional<gid_t> gid;
  bool allow_privilege_escalation = false;  // a setuid/setgid program was exec'd
  std::string privilege_escalation_why;
};

struct PolicyInput {
  const TraceLog* trace = nullptr;  // recorded with TraceOptions::record_syscalls
  const Root* root = nullptr;       // the program's root, for the user and setuid bits
  std::string user;                 // the image's USER
  // Modes of setuid/setgid files whose bits were cleared on disk (Job::special_modes).
  const std::map<std::string, mode_t>* special_modes = nullptr;
  // What the image ships: a written directory that holds any of it cannot get a tmpfs (the tmpfs
  // would hide it), so the root stays writable. Null: not checked.
  const FileSet* files = nullptr;
  // The image's architecture as OCI names it ("amd64", "arm64": the program's ELF machine, see
  // oci_platform, or the image config's). Empty: the traced syscalls' architecture.
  std::string platform;
};

// The policy of one traced run. Fails when the trace has no syscall record.
Result<Policy> derive_policy(const PolicyInput& in);

// seccomp.json: defaultAction SCMP_ACT_ERRNO (EPERM), the allowed names, the ENOSYS ones.
nlohmann::json seccomp_profile(const Policy& policy);
// The Kubernetes container securityContext and the pod's volumes (YAML fragment).
std::string kubernetes_yaml(const Policy& policy);
// `docker run` / `podman run` options (tool: "docker" or "podman"), with seccomp.json at `profile`.
std::string run_command(const Policy& policy, const std::string& tool, const std::string& profile,
                        const std::string& image);
// The policy as report.json gives it.
nlohmann::json to_json(const Policy& policy);

// DIR/seccomp.json, DIR/policy.json, DIR/kubernetes.yaml, DIR/run.sh, written together (a
// temporary directory renamed into place).
Status write_policy(const Policy& policy, const std::string& dir, const std::string& image);

// Loads a seccomp.json (the subset seccomp_profile() writes: defaultAction, defaultErrnoRet,
// architectures, syscalls[].names/action/errnoRet) into the calling thread, every listed
// architecture this kernel runs added to the filter as runc adds them. Needs no_new_privs (or
// CAP_SYS_ADMIN). For the sandbox, right before its execve.
Status load_seccomp_profile(const nlohmann::json& profile);

}  // namespace minify
