// The two ways a job's program runs while it is traced (pipeline.hpp): on the builder itself, or
// inside the sandbox; and the user it runs as.
#include <unistd.h>

#include "minify/pipeline.hpp"
#include "minify/sandbox.hpp"

extern char** environ;

namespace minify {

namespace {

TraceOptions trace_options(const Job& job, const std::vector<std::string>& command) {
  TraceOptions t;
  t.tracer = job.tracer;
  t.command = command;
  t.timeout = job.timeout;
  t.grace = job.grace;
  t.probe_urls = job.probes;
  t.record_syscalls = !job.out.policy.empty();  // a seccomp profile needs every syscall
  // minify's caller's signals stop minify, not only the program.
  if (job.interrupted) {
    t.forward_signals = false;
    t.cancelled = [&job] { return job.interrupted() != 0; };
  }
  return t;
}

std::vector<std::string> env_with_path(const Job& job) {
  std::vector<std::string> env = job.env;
  if (env_value(env, "PATH").empty()) env.push_back(std::string("PATH=") + kDefaultPath);
  return env;
}

}  // namespace

Result<std::optional<TraceOptions::Credentials>> run_as_credentials(const Root& root, const std::string& spec) {
  auto ids = resolve_user(root, spec);
  if (!ids) {
    std::string where = root.is_host() ? "" : " of " + root.host_dir();
    return bad_input("user", spec, "no such user or group in /etc/passwd and /etc/group" + where);
  }
  if (ids->first == ::geteuid() && ids->second == ::getegid()) return std::optional<TraceOptions::Credentials>();
  return std::optional(TraceOptions::Credentials{ids->first, ids->second, supplementary_groups(root, spec, ids->second)});
}

SandboxOptions sandbox_options(const Job& job, const std::string& rootfs) {
  SandboxOptions sb;
  sb.rootfs = rootfs;
  sb.env = env_with_path(job);
  sb.workdir = job.workdir.empty() ? "/" : job.workdir;
  sb.user = job.run_as;
  sb.host_network = job.host_network;
  if (job.uid_shift != 0) sb.uid_base = job.uid_shift;
  sb.launcher = job.sandbox_launcher;
  return sb;
}

std::vector<std::string> sandbox_argv(const Job& job, const std::string& program) {
  std::vector<std::string> argv = job.command;
  if (!argv.empty() && argv[0].find('/') != std::string::npos) argv[0] = program;
  return argv;
}

Result<TraceLog> HostRunner::run(const Job& job, const Root& root, const std::string& program) {
  std::vector<std::string> command = job.command;
  command[0] = program;
  TraceOptions t = trace_options(job, command);
  if (!root.is_host()) t.root = root.host_dir();
  // The environment the image will have, not minify's caller's (a $SHELL or $HOME inherited
  // here would make the trace take paths the image never takes).
  if (job.inherit_env) {
    std::vector<std::string> caller;
    for (char** e = environ; *e; ++e) caller.emplace_back(*e);
    t.env = merge_env(std::move(caller), env_with_path(job));
  } else {
    t.env = env_with_path(job);
  }
  t.workdir = job.workdir;
  if (!job.run_as.empty()) {
    auto user = run_as_credentials(root, job.run_as);
    if (!user) return user.error();
    t.user = *user;
  }
  return run_trace(t);
}

Result<TraceLog> SandboxRunner::run(const Job& job, const Root& root, const std::string& program) {
  return run_sandboxed(sandbox_options(job, root.host_dir()), trace_options(job, sandbox_argv(job, program)));
}

}  // namespace minify
