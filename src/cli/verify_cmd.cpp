// `minify verify`: run a command in a minimized root (an output directory, a root directory or an
// image archive), sandboxed and traced, and compare the run with the original trace.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "minify/image.hpp"
#include "minify/pipeline.hpp"

namespace minify::cli {

namespace {

namespace fs = std::filesystem;

struct VerifyCliOptions {
  std::string out_dir, rootfs, image, trace_file, timeout, grace, network, workdir, user, platform, tag;
  std::vector<std::string> probes, env, command;
};

Result<TraceLog> read_trace(const std::string& file) {
  std::ifstream f(file);
  if (!f) return sys_error("open", file);
  try {
    return trace_log_from_json(nlohmann::json::parse(f));
  } catch (const nlohmann::json::exception& e) {
    return bad_input("parse", file, e.what());
  }
}

int run_verify(VerifyCliOptions o) {
  auto fail = [](const Error& e) {
    print_error(e.message());
    return kExitBadInput;
  };
  int given = !o.out_dir.empty() + !o.rootfs.empty() + !o.image.empty();
  if (given != 1) return fail(bad_input("verify", "", "give exactly one of -o DIR, --rootfs DIR, --image FILE"));
  // The run's options as a job: the sandbox takes them from there, as pack's verify does.
  Job job;
  if (auto st = parse_run_limits(o.timeout, o.grace, job); !st) return fail(st.error());
  if (!o.network.empty() && o.network != "host" && o.network != "none")
    return fail(bad_input("--network", o.network, "expected host or none"));
  job.host_network = o.network == "host";
  job.sandbox_launcher = sandbox_launcher();
  std::vector<std::string> env = o.env;
  std::string workdir = o.workdir, user = o.user;
  std::string rootfs;
  std::optional<WorkDir> work;
  if (!o.out_dir.empty()) {
    rootfs = o.out_dir + "/rootfs";
    if (o.trace_file.empty() && fs::exists(o.out_dir + "/trace.json")) o.trace_file = o.out_dir + "/trace.json";
    // Written by pack and image: the command, Env, WorkingDir and User it ran with; options win.
    if (std::ifstream f(o.out_dir + "/run.json"); f) {
      try {
        auto run = nlohmann::json::parse(f);
        if (o.command.empty()) o.command = run.value("command", std::vector<std::string>{});
        env = merge_env(run.value("env", std::vector<std::string>{}), env);
        if (workdir.empty()) workdir = run.value("workdir", "");
        if (user.empty()) user = run.value("user", "");
      } catch (const nlohmann::json::exception& e) {
        return fail(bad_input("parse", o.out_dir + "/run.json", e.what()));
      }
    }
  } else if (!o.rootfs.empty()) {
    rootfs = o.rootfs;
  } else {
    auto wd = make_work_dir("");
    if (!wd) return fail(wd.error());
    work.emplace();
    work->path = *wd;
    auto image = open_image(o.image, *wd, {o.tag, o.platform});
    if (!image) return fail(image.error());
    UnpackOptions uo;
    uo.uid_shift = kSandboxUidBase;
    auto un = unpack_layers(*image, *wd + "/root", uo);
    if (!un) return fail(un.error());
    rootfs = *wd + "/root";
    env = merge_env(image->config.env, env);
    if (workdir.empty()) workdir = image->config.working_dir;
    if (user.empty()) user = image->config.user;
    if (o.command.empty()) {
      o.command = image->config.entrypoint;
      o.command.insert(o.command.end(), image->config.cmd.begin(), image->config.cmd.end());
    }
  }
  VerifyOptions v;
  if (!o.trace_file.empty()) {
    auto t = read_trace(o.trace_file);
    if (!t) return fail(t.error());
    v.original = std::move(*t);
    if (o.command.empty()) o.command = v.original->command;
  }
  if (o.command.empty()) return fail(bad_input("verify", "", "no command (give -- CMD...)"));
  job.env = env;
  job.workdir = workdir;
  job.run_as = user;
  job.image.user = user;
  job.probes = o.probes;
  AbortOnSignals signals;
  job.interrupted = AbortOnSignals::caught;
  Result<VerifyReport> report = Error{};
  if (!o.out_dir.empty() && fs::exists(o.out_dir + "/report.json")) {
    // The image's tree as pack or image wrote it, with the owners report.json records (rootfs/
    // holds the files; it is owned by whoever ran minify).
    auto set = read_report(o.out_dir + "/report.json");
    if (!set) return fail(set.error());
    auto source = Root::open(rootfs);
    if (!source) return fail(source.error());
    FileSet tree;
    for (const auto& [path, entry] : *set) {
      // rootfs/ is the user's to edit: what was taken out of it is left out of the run.
      if (!source->stat(path, FollowLast::No)) {
        print_warning("report.json lists " + path + ", which " + rootfs + " no longer has; verifying without it");
        continue;
      }
      Entry e = entry;
      e.generated = false;
      tree.put(std::move(e));
    }
    report = verify_in_image_tree(tree, *source, job, o.command, v.original, o.out_dir);
  } else {
    v.sandbox = sandbox_options(job, rootfs);
    v.sandbox.user = user;
    v.command = o.command;
    v.timeout = job.timeout;
    v.grace = job.grace;
    v.probe_urls = o.probes;
    v.cancelled = [] { return AbortOnSignals::caught() != 0; };
    report = verify(v);
  }
  if (AbortOnSignals::caught()) return signals.exit_status();
  if (!report) return fail(report.error());
  auto findings = verify_findings(*report, job, user.empty() ? "root" : user);
  print_findings(findings);
  if (findings.empty())
    std::cerr << "minify: verify: ok (exit status " << report->run.exit.shell_status() << ", nothing missing)\n";
  else
    std::cerr << "minify: verify: FAILED\n";
  return findings.empty() ? kExitOk : kExitMissing;
}

}  // namespace

Command add_verify_command(CLI::App& app) {
  auto o = std::make_shared<VerifyCliOptions>();
  CLI::App* sub = app.add_subcommand("verify", "Run a command in a minimized root (sandboxed, traced) and compare with the original run");
  sub->add_option("-o,--output", o->out_dir, "Output directory of pack/image: DIR/rootfs and DIR/trace.json");
  sub->add_option("--rootfs", o->rootfs, "A root directory to run in");
  sub->add_option("--image", o->image, "An image archive or layout to run in");
  sub->add_option("--trace", o->trace_file, "The original run's trace.json");
  sub->add_option("--probe", o->probes, "GET this URL once the program answers (repeatable)")->allow_extra_args(false);
  sub->add_option("--timeout", o->timeout, "Stop the program after this long");
  sub->add_option("--grace", o->grace, "Delay between SIGTERM and SIGKILL (default 3s)");
  sub->add_option("--env", o->env, "NAME=VALUE for the program (repeatable)")->allow_extra_args(false);
  sub->add_option("--workdir", o->workdir, "Working directory inside the root");
  sub->add_option("--user", o->user, "uid[:gid] or name to run as");
  sub->add_option("--network", o->network, "host: share the host's network; none (default): loopback only");
  sub->add_option("--platform", o->platform, "With --image: os/arch to pick");
  sub->add_option("--tag", o->tag, "With --image: the image to pick by tag");
  sub->add_option("command", o->command, "-- CMD [ARGS...]");
  sub->positionals_at_end();
  return {sub, [o] { return run_verify(*o); }};
}

}  // namespace minify::cli
