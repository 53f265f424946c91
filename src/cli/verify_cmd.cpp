// `minify verify`: run a command in a minimized root (an output directory, a root directory or an
// image archive), sandboxed and traced, and compare the run with the original trace. What the
// pack run stored (run.json, trace.json) or the image's config says fills what the command line
// leaves unset, and a line names what was reused.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "cli/print.hpp"
#include "cli/progress.hpp"
#include "minify/image.hpp"
#include "minify/pipeline.hpp"

namespace minify::cli {

namespace {

namespace fs = std::filesystem;

struct VerifyCliOptions {
  std::string out_dir, rootfs, image, trace_file, platform, tag;
  RunOptions run;
  std::vector<std::string> command;
};

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

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
  if (auto st = apply_run_options(o.run, RunCommand::Verify, job); !st) return fail(st.error());
  job.sandbox_launcher = sandbox_launcher();
  // What the pack run (run.json, trace.json) or the image's config stored is used for what the
  // command line leaves unset; a line names what was reused, so a stale setting is never silent.
  std::vector<std::string> reused;
  std::string stored_in;
  const bool command_given = !o.command.empty(), trace_given = !o.trace_file.empty();
  std::vector<std::string> stored_command;  // run.json's, or the image's
  std::vector<std::string> env = o.run.env;
  std::string workdir = o.run.workdir, user = o.run.user;
  auto reuse_config = [&](const std::vector<std::string>& stored_env, const std::string& stored_workdir,
                          const std::string& stored_user) {
    if (!stored_env.empty()) {
      reused.push_back(o.run.env.empty() ? "Env" : "Env (under --env)");
      env = merge_env(stored_env, env);
    }
    if (workdir.empty() && !stored_workdir.empty()) {
      workdir = stored_workdir;
      reused.push_back("WorkingDir " + workdir);
    }
    if (user.empty() && !stored_user.empty()) {
      user = stored_user;
      reused.push_back("User " + user);
    }
  };
  std::string rootfs;
  std::optional<WorkDir> work;
  if (!o.out_dir.empty()) {
    rootfs = o.out_dir + "/rootfs";
    stored_in = o.out_dir;
    if (!trace_given && fs::exists(o.out_dir + "/trace.json")) o.trace_file = o.out_dir + "/trace.json";
    // Written by pack and image: the command, Env, WorkingDir and User it ran with.
    if (std::ifstream f(o.out_dir + "/run.json"); f) {
      try {
        auto run = nlohmann::json::parse(f);
        stored_command = run.value("command", std::vector<std::string>{});
        if (!command_given && !stored_command.empty()) {
          o.command = stored_command;
          reused.push_back("the command (" + join_words(o.command) + ")");
        }
        reuse_config(run.value("env", std::vector<std::string>{}), run.value("workdir", ""), run.value("user", ""));
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
    // Unpacking a large image shows how far it got on a terminal, as `minify image` does.
    Context unpack_ctx;
    ProgressLine progress(unpack_ctx, print_diagnostic);
    uo.progress = unpack_ctx.progress_fn();
    auto un = unpack_layers(*image, *wd + "/root", uo);
    progress.end();
    if (!un) return fail(un.error());
    rootfs = *wd + "/root";
    stored_in = "the image's config";
    stored_command = image->config.entrypoint;
    stored_command.insert(stored_command.end(), image->config.cmd.begin(), image->config.cmd.end());
    if (!command_given && !stored_command.empty()) {
      o.command = stored_command;
      reused.push_back("Entrypoint and Cmd (" + join_words(o.command) + ")");
    }
    reuse_config(image->config.env, image->config.working_dir, image->config.user);
  }
  VerifyOptions v;
  if (!o.trace_file.empty()) {
    auto t = read_trace(o.trace_file);
    if (!t) return fail(t.error());
    if (o.command.empty()) {
      o.command = t->command;
      reused.push_back("the command (" + join_words(o.command) + ")");
    }
    if (!trace_given && command_given && o.command != t->command && o.command != stored_command) {
      // Another command: the files the packed run opened are still worth checking, but its exit
      // status and probe answers say nothing about this one (it must succeed, like a run
      // without a trace).
      std::cerr << "minify: verify: the command differs from the packed one (" << join_words(t->command)
                << "): its exit status and probes are not compared\n";
      t->exit = ExitStatus{};
      t->probes.clear();
    }
    if (!o.run.probes.empty()) {
      // The probes given replace the stored ones; a URL the original run fetched keeps its answer.
      std::vector<ProbeResult> expected;
      for (const auto& url : o.run.probes) {
        auto it = std::find_if(t->probes.begin(), t->probes.end(), [&](const ProbeResult& p) { return p.url == url; });
        expected.push_back(it != t->probes.end() ? *it : ProbeResult{url, 200, {}});
      }
      t->probes = std::move(expected);
    } else if (!t->probes.empty()) {
      std::string urls;
      for (const auto& p : t->probes) {
        job.probes.push_back(p.url);
        urls += (urls.empty() ? "" : " ") + p.url;
      }
      reused.push_back("probe " + urls);
    }
    reused.push_back("the original run to compare with (" + o.trace_file + ")");
    v.original = std::move(*t);
  }
  if (o.command.empty()) return fail(bad_input("verify", "", "no command (give -- CMD...)"));
  if (!reused.empty()) {
    std::string list;
    for (size_t i = 0; i < reused.size(); ++i)
      list += (i == 0 ? "" : i + 1 == reused.size() ? " and " : ", ") + reused[i];
    std::cerr << "minify: verify: reused from " << (stored_in.empty() ? o.trace_file : stored_in) << ": " << list
              << "; options given on the command line replace them\n";
  }
  job.env = env;
  job.workdir = workdir;
  job.run_as = user;
  job.image.user = user;
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
    v.probe_urls = job.probes;
    v.tracer = job.tracer;
    v.cancelled = [] { return AbortOnSignals::caught() != 0; };
    report = verify(v);
  }
  if (AbortOnSignals::caught()) return signals.exit_status();
  if (!report) return fail(report.error());
  if (!report->run.fallback.empty())
    std::cerr << "minify: verify: using ptrace: the eBPF tracer is not available: " << report->run.fallback << "\n";
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
  const char* where = "Where to run (one of)";
  sub->add_option("-o,--output", o->out_dir,
                  "Output directory of pack/image: DIR/rootfs, and the command, Env, WorkingDir, User and probes "
                  "its run.json and trace.json stored")
      ->group(where);
  sub->add_option("--rootfs", o->rootfs, "A root directory to run in")->group(where);
  sub->add_option("--image", o->image, "An image archive or layout to run in (its config gives the command, Env, ...)")
      ->group(where);
  sub->add_option("--platform", o->platform, "With --image: os/arch to pick")->group(where);
  sub->add_option("--tag", o->tag, "With --image: the image to pick by tag")->group(where);
  sub->add_option("--trace", o->trace_file, "The original run's trace.json (default: DIR/trace.json with -o)")
      ->group("Running the command");
  for (RunSection section : {RunSection::Running, RunSection::Config, RunSection::Verify})
    add_run_options(sub, o->run, RunCommand::Verify, section);
  sub->add_option("command", o->command, "[--] CMD [ARGS...]: replaces the stored command")->group("Command");
  sub->positionals_at_end();
  add_help_last(sub);
  return {sub, [o] { return run_verify(*o); }};
}

}  // namespace minify::cli
