// The sandbox: runs a command with a root directory as "/" (pivot_root, not chroot) in
// new user, mount, pid, UTS and network namespaces, with /proc, a minimal /dev (null, zero, full,
// random, urandom, tty bound from the host; a private devpts; a tmpfs /dev/shm), a tmpfs /tmp,
// the host's /sys, /etc/resolv.conf and /etc/hosts bound read-only, and no_new_privs.
//
// The sandbox is a launcher: LAUNCHER... ROOTFS [OPTIONS] -- CMD... (sandbox_command(); for the
// CLI, `minify __sandbox-exec ...`) sets everything up and execs CMD, so the tracer (which only knows chroot) runs the launcher and follows it into
// the sandboxed program; run_sandboxed() keeps only what the program did after the launcher was
// done, with paths as the program named them (inside the new root).
//
// Network: unless `host_network`, run_sandboxed() moves the calling thread into a fresh network
// namespace with only loopback up before tracing, so the launched program and the tracer's
// --probe requests share it; the caller's namespace is restored afterwards.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "minify/result.hpp"
#include "minify/trace.hpp"

namespace minify {

// The first host uid (and gid) of the sandbox's 65536 ids: root inside is this uid outside.
inline constexpr uid_t kSandboxUidBase = 100000;

struct SandboxOptions {
  std::string rootfs;                // host directory that becomes "/"
  std::vector<std::string> env;      // the program's whole environment, "K=V"
  std::string workdir = "/";         // inside the root
  std::string user;                  // "uid[:gid]" or a name from the root's /etc/passwd; empty: 0
  bool host_network = false;         // share the host's network namespace
  // Root in the sandbox is host uid `uid_base` (65536 ids from there), never host root: a
  // program that found a way out would hold no more than that unprivileged uid. The root's files
  // must be owned by uid_base + their owner inside (write_rootfs' owner_shift, unpack_layers'
  // uid_shift) for the program to see the right owners.
  uid_t uid_base = kSandboxUidBase;
  // The argv prefix that runs sandbox_exec_main(): the caller's own entry point (for minify's
  // CLI, {"/proc/self/exe", "__sandbox-exec"}), followed by the launcher's arguments.
  std::vector<std::string> launcher;
  // A runtime policy (policy.hpp) to run under, as a container runtime would apply it: a
  // seccomp.json (host path) loaded right before the program's execve; the root read-only with a
  // tmpfs on each `tmpfs` directory; the capabilities kept (names without CAP_), all others
  // dropped, instead of Docker's default set.
  std::string seccomp_profile;
  bool read_only_root = false;
  std::vector<std::string> tmpfs;
  std::optional<std::vector<std::string>> capabilities;
};

// The argv that runs `command` in the sandbox through the launcher.
std::vector<std::string> sandbox_command(const SandboxOptions& options, const std::vector<std::string>& command);

// Runs the command under the tracer inside the sandbox. `trace.command` is the program's argv;
// trace.root must be empty. The TraceLog holds the program's accesses only (not the
// launcher's), its execs, and the exit status of the program.
Result<TraceLog> run_sandboxed(const SandboxOptions& options, TraceOptions trace);

// The launcher's entry point: the arguments after SandboxOptions::launcher. Returns an exit status
// only when the setup fails (127, after printing one line on stderr); otherwise it exits with
// the program's status.
int sandbox_exec_main(const std::vector<std::string>& args);

}  // namespace minify
