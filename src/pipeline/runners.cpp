// The two ways a job's program runs while it is traced (pipeline.hpp): on the builder itself, or
// inside the sandbox.
#include <unistd.h>

#include <cstdlib>

#include "minify/pipeline.hpp"
#include "minify/sandbox.hpp"

namespace minify {

namespace {

TraceOptions trace_options(const Job& job, const std::vector<std::string>& command) {
  TraceOptions t;
  t.command = command;
  t.timeout = job.timeout;
  t.grace = job.grace;
  t.probe_urls = job.probes;
  return t;
}

std::vector<std::string> env_with_path(const Job& job) {
  std::vector<std::string> env = job.env;
  if (env_value(env, "PATH").empty()) env.push_back(std::string("PATH=") + kDefaultPath);
  return env;
}

}  // namespace

SandboxOptions sandbox_options(const Job& job, const std::string& rootfs) {
  SandboxOptions sb;
  sb.rootfs = rootfs;
  sb.env = env_with_path(job);
  sb.workdir = job.workdir.empty() ? "/" : job.workdir;
  sb.user = job.run_as;
  sb.host_network = job.host_network;
  sb.map_root_to_root = job.map_root_to_root;
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
  // The tracer starts the program with this process's environment and working directory.
  for (const auto& kv : job.env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  if (!job.workdir.empty() && root.is_host() && ::chdir(job.workdir.c_str()) != 0) return sys_error("chdir", job.workdir);
  return run_trace(t);
}

Result<TraceLog> SandboxRunner::run(const Job& job, const Root& root, const std::string& program) {
  return run_sandboxed(sandbox_options(job, root.host_dir()), trace_options(job, sandbox_argv(job, program)));
}

}  // namespace minify
