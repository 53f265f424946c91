// What the commands that run a program share: their run options (registered here once for pack,
// image and verify), --timeout/--grace, SOURCE_DATE_EPOCH, the sandbox launcher's entry point,
// scratch directories, and the verify verdict's lines.
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"

namespace minify::cli {

void add_help_last(CLI::App* sub) {
  sub->set_help_flag();  // drops the one CLI11 registered first
  sub->set_help_flag("-h,--help", "Print this help and exit")->group("Help");
}

// pack traces on the builder and verifies in the image's tree; image traces and verifies in the
// sandbox; verify only runs. The same option says what it does for each.
void add_run_options(CLI::App* sub, RunOptions& o, RunCommand which, RunSection section) {
  const bool pack = which == RunCommand::Pack, verify = which == RunCommand::Verify;
  switch (section) {
    case RunSection::Running: {
      const char* group = verify ? "Running the command" : kGroupTracing;
      sub->add_option("--timeout", o.timeout, "Stop the program after this long (SIGTERM, then SIGKILL after --grace): 10s, 2m")
          ->group(group);
      sub->add_option("--grace", o.grace, "Delay between SIGTERM and SIGKILL (default 3s)")->group(group);
      sub->add_option("--probe", o.probes,
                      verify ? "GET this http:// URL once the program answers, then stop it (repeatable; replaces the "
                               "probes of the pack run)"
                      : pack ? "Wait until this http:// URL answers, GET it, then stop the program (repeatable)"
                             : "Wait until this http:// URL answers inside the sandbox, GET it, then stop (repeatable)")
          ->allow_extra_args(false)
          ->group(group);
      sub->add_option("--tracer", o.tracer,
                      "bpf (the kernel reports what the program does; needs root and a kernel with BTF), ptrace, or "
                      "auto (default: bpf when it can be used, else ptrace with a line saying why)")
          ->check(CLI::IsMember({"auto", "bpf", "ptrace"}))
          ->group(group);
      return;
    }
    case RunSection::Config: {
      const char* group = verify ? "Running the command" : kGroupConfig;
      sub->add_option("--env", o.env,
                      pack     ? "NAME=VALUE for the program, traced and in the image (repeatable)"
                      : verify ? "NAME=VALUE for the program, over the Env of the pack run (repeatable)"
                               : "NAME=VALUE added to the image's Env (repeatable)")
          ->allow_extra_args(false)
          ->group(group);
      if (which == RunCommand::Image) return;  // the image's own WorkingDir and User
      sub->add_option("--workdir", o.workdir,
                      pack ? "Working directory of the program and the image" : "Working directory inside the root")
          ->group(group);
      sub->add_option("--user", o.user, pack ? "User of the image and of the traced program, name or uid[:gid] (default: traced as root, the image "
                                         "as 65532:65532, nonroot)"
                                       : "uid[:gid] or name to run as")
          ->group(group);
      return;
    }
    case RunSection::Verify: {
      const char* group = verify ? "Running the command" : kGroupVerify;
      sub->add_option("--network", o.network,
                      pack ? "Verify's network: host (default, as the trace had) or none (loopback only)"
                           : "host: share the host's network; none (default): loopback only")
          ->check(CLI::IsMember({"host", "none"}))
          ->group(group);
      if (verify) return;
      sub->add_flag("--no-verify", o.no_verify,
                    pack ? "Do not start the program in the image's tree to check it afterwards"
                         : "Do not run the minimized image once to check it")
          ->group(group);
      sub->add_flag("--no-repair", o.no_repair, "Do not add what verify finds missing and verify again")->group(group);
      sub->add_option("--repair-rounds", o.repair_rounds, "Verify-and-repair rounds at most (default 3)")->group(group);
      sub->add_option("--expect-exit", o.expect_exit, "The exit status the program ends with when it is not stopped (default 0)")
          ->group(group);
      return;
    }
    case RunSection::Outputs:
      if (verify) return;
      sub->add_flag("--force", o.force,
                    pack ? "Replace an existing -o directory that minify did not write"
                         : "Replace an existing --out-dir that minify did not write")
          ->group(kGroupOutputs);
      return;
  }
}

Status apply_run_options(const RunOptions& o, RunCommand which, Job& job) {
  for (const auto& kv : o.env)
    if (kv.find('=') == std::string::npos) return bad_input("--env", kv, "expected NAME=VALUE");
  if (auto st = parse_run_limits(o.timeout, o.grace, job); !st) return st.error();
  job.probes = o.probes;
  job.tracer = *tracer_backend_from_name(o.tracer);  // checked by CLI11
  // pack's trace ran on the builder's network, so its verify gets the same unless told otherwise.
  std::string network = o.network.empty() ? (which == RunCommand::Pack ? "host" : "none") : o.network;
  job.host_network = network == "host";
  if (which == RunCommand::Verify) return Ok{};
  job.verify = !o.no_verify;
  job.out.force = o.force;
  job.expect_exit = o.expect_exit;
  if (o.repair_rounds < 0) return bad_input("--repair-rounds", std::to_string(o.repair_rounds), "must be 0 or more");
  job.repair_rounds = o.no_repair ? 0 : o.repair_rounds;
  return Ok{};
}

Status parse_run_limits(const std::string& timeout, const std::string& grace, Job& job) {
  if (!timeout.empty()) {
    auto d = parse_duration(timeout);
    if (!d) return d.error();
    if (d->count() <= 0) return bad_input("--timeout", timeout, "must be longer than 0 (leave it out for no timeout)");
    job.timeout = *d;
  }
  if (!grace.empty()) {
    auto d = parse_duration(grace);
    if (!d) return d.error();
    job.grace = *d;
  }
  return Ok{};
}

Status read_source_date_epoch(Job& job) {
  // Set and empty counts as unset: it must not clamp every mtime to 1970.
  if (const char* sde = std::getenv("SOURCE_DATE_EPOCH"); sde != nullptr && *sde != '\0') {
    auto e = parse_source_date_epoch(sde);
    if (!e) return e.error();
    job.source_date_epoch = *e;
  }
  return Ok{};
}

std::vector<std::string> sandbox_launcher() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return {n > 0 ? std::string(buf, static_cast<size_t>(n)) : "/proc/self/exe", kSandboxExecCommand};
}

WorkDir::~WorkDir() {
  std::error_code ec;
  if (!path.empty() && !keep) std::filesystem::remove_all(path, ec);
}

Result<std::string> make_work_dir(const std::string& requested) {
  if (!requested.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(requested, ec);
    if (ec) return Error{ec.value(), "create", requested, {}};
    return std::filesystem::absolute(requested).string();
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/var/tmp") + "/minify-image-XXXXXX";
  if (!::mkdtemp(templ.data())) return sys_error("create", templ);
  ::chmod(templ.c_str(), 0755);  // the sandbox's root user must be able to enter it
  return templ;
}

namespace {

volatile sig_atomic_t g_signal = 0;

void on_abort_signal(int sig) {
  if (g_signal == 0) g_signal = sig;
}

}  // namespace

AbortOnSignals::AbortOnSignals() {
  g_signal = 0;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction sa {};
    sa.sa_handler = on_abort_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns EINTR and the run looks at us
    struct sigaction old {};
    if (::sigaction(sig, &sa, &old) == 0) saved_.emplace_back(sig, old);
  }
}

AbortOnSignals::~AbortOnSignals() {
  for (auto& [sig, old] : saved_) ::sigaction(sig, &old, nullptr);
}

int AbortOnSignals::caught() { return g_signal; }

int AbortOnSignals::exit_status() const {
  int sig = g_signal;
  print_error(std::string("interrupted by SIG") + ::sigabbrev_np(sig) +
              ": the program was stopped and nothing was written");
  return 128 + sig;
}

void print_findings(const std::vector<VerifyFinding>& findings) {
  for (const auto& f : findings) std::cerr << "minify: verify: " << f.message << "\n";
}

int print_outcome(const Minimized& m, const Job& job) {
  for (const auto& r : m.repairs)
    std::cerr << "minify: repair: added " << r.path << " (round " << r.round << ": " << r.why << ")\n";
  if (m.verify_error) print_error("verify could not run: " + m.verify_error->message());
  print_findings(m.findings);
  if (m.verify && m.findings.empty()) {
    std::cerr << "minify: verify: ok (exit status " << m.verify->run.exit.shell_status() << ", nothing missing, ran as "
              << (m.image.user.empty() ? "root" : m.image.user) << " with the image's Env)";
    if (!m.repairs.empty()) std::cerr << " after repair added " << m.repairs.size() << " path" << (m.repairs.size() == 1 ? "" : "s");
    std::cerr << "\n";
  }
  bool as_other_user = !m.image.user.empty() && m.image.user != "0" && m.image.user.rfind("0:", 0) != 0 && m.image.user != "root";
  if (!m.findings.empty() && as_other_user && job.run_as.empty())
    std::cerr << "minify: hint: the program ran as root while traced and as " << m.image.user
              << " in the image; if it needs root (a port below 1024, chown), give --user 0\n";
  if (m.policy) {
    const Policy& p = *m.policy;
    std::string caps;
    for (const auto& c : p.capabilities) caps += (caps.empty() ? "" : ",") + c;
    std::string dirs;
    for (const auto& d : p.writable) dirs += (dirs.empty() ? "" : ",") + d;
    std::cerr << "minify: policy: " << p.syscalls.size() << " syscalls allowed (" << p.syscalls_seen << " used), "
              << (p.read_only_root ? "read-only root, tmpfs on " + (dirs.empty() ? std::string("nothing") : dirs)
                                   : std::string("writable root"))
              << ", capabilities " << (caps.empty() ? "none" : caps)
              << (p.allow_privilege_escalation ? ", privilege escalation allowed" : "") << "\n";
    for (const auto& n : p.notes) std::cerr << "minify: policy: " << n << "\n";
    if (m.committed)
      std::cerr << "minify: policy: verified under it; wrote " << job.out.policy
                << "/{seccomp.json,kubernetes.yaml,run.sh,policy.json}\n";
    else
      print_error("verify ran under the generated policy (seccomp profile, read-only root, capabilities) and failed: "
                  "the policy is not written");
  }
  if (!m.committed) {
    std::cerr << "minify: verify: FAILED: what was written is in " << m.failed_dir << " (verify.json says why); "
              << (job.out.dir.empty() ? "minify-out" : job.out.dir) << " is unchanged\n";
    return kExitMissing;
  }
  if (m.self_failed) {
    print_error(*m.self_failed);
    return kExitMissing;
  }
  if (!m.collected.missing.empty()) {
    for (const auto& miss : m.collected.missing) std::cerr << "minify: " << miss << ": not found\n";
    return kExitMissing;
  }
  return kExitOk;
}

}  // namespace minify::cli
