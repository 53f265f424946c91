// `minify [pack] PROGRAM [ARGS...]`, the main job: trace the program on the builder, write its
// minimal root, the runner stage of a multi-stage Dockerfile, report.json and trace.json (and on
// request a tar, an OCI image archive and an SBOM), then verify the root (src/pipeline).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "minify/pipeline.hpp"

namespace minify::cli {

namespace {

namespace fs = std::filesystem;

struct PackOptions {
  std::string out_dir = "minify-out";
  std::string tar, oci, tag, sbom, sbom_format = "cyclonedx", policy;
  bool static_only = false, no_implicit = false, zstd = false, inherit_env = false;
  bool keep_walked = false;
  RunOptions run;
  std::string root = "/";
  std::vector<std::string> keep, exclude;
  std::string base = "auto", from_stage = "builder", copy_style = "lines", pin_digest, builder_image;
  bool resolve_digest = false;
  std::vector<std::string> command;  // PROGRAM ARGS...
  PackageFlags packages;
};

Result<Job> make_job(const PackOptions& o) {
  Job job;
  job.root = o.root;
  job.command = o.command;
  if (job.command.empty()) return bad_input("pack", "", "no program given (usage: minify [pack] [OPTIONS] PROGRAM [ARGS...])");
  if (auto st = apply_run_options(o.run, RunCommand::Pack, job); !st) return st.error();
  job.env = o.run.env;
  job.inherit_env = o.inherit_env;
  job.workdir = o.run.workdir;
  job.trace = !o.static_only;
  job.collect.keep = o.keep;
  job.collect.exclude = o.exclude;
  job.collect.implicit = !o.no_implicit;
  job.collect.keep_walked = o.keep_walked;
  job.collect.packages = package_selection(o.packages);

  if (o.base != "auto") {
    job.base = parse_base(o.base);
    if (!job.base)
      return bad_input("--base", o.base, "unknown base (scratch, distroless-static, distroless-base, distroless-cc, auto)");
  }
  if (o.copy_style != "rootfs" && o.copy_style != "lines")
    return bad_input("--copy-style", o.copy_style, "neither lines nor rootfs");
  job.copy_style = o.copy_style == "rootfs" ? CopyStyle::Rootfs : CopyStyle::Lines;
  job.pin_digest = o.pin_digest;
  job.resolve_digest = o.resolve_digest;
  job.builder_image = o.builder_image;
  job.from_stage = o.from_stage;
  job.image.architecture.clear();  // the program's
  job.image.working_dir = o.run.workdir;
  job.image.user = o.run.user.empty() ? kNonRootUser : o.run.user;
  // A user given is also the one the program is traced as (minify stays root): the trace then
  // sees what the image's user can do. Without it the trace runs as root, the image as nonroot.
  job.run_as = o.run.user;
  if (!job.run_as.empty() && job.trace) {
    auto root = Root::open(job.root);
    if (!root) return root.error();
    if (auto user = run_as_credentials(*root, job.run_as); !user) return bad_input("--user", job.run_as, user.error().context);
  }
  if (auto st = read_source_date_epoch(job); !st) return st.error();

  job.out.dir = o.out_dir;
  job.out.tar = o.tar;
  job.out.image = o.oci;
  job.out.tag = o.tag;
  job.out.zstd = o.zstd;
  job.out.sbom = o.sbom;
  auto sbom_format = parse_sbom_format(o.sbom_format);
  if (!sbom_format) return bad_input("--sbom-format", o.sbom_format, "neither cyclonedx nor spdx");
  job.out.sbom_format = *sbom_format;
  job.out.policy = o.policy;
  if (!o.policy.empty() && (!job.verify || !job.trace))
    return bad_input("--policy", o.policy, "the policy is verified by running the program under it: not with --no-verify or --static-only");
  job.sandbox_launcher = sandbox_launcher();
  return job;
}

int run_pack(const PackOptions& o) {
  auto job = make_job(o);
  if (!job) {
    print_error(job.error().message());
    return kExitBadInput;
  }
  AbortOnSignals signals;
  job->interrupted = AbortOnSignals::caught;
  Context ctx;
  ProgressLine progress(ctx, print_diagnostic);
  HostRunner runner;
  auto m = minimize(*job, runner, ctx);
  progress.end();
  if (AbortOnSignals::caught()) return signals.exit_status();
  if (!m) {
    print_error(m.error().message());
    return kExitBadInput;
  }

  Totals t = m->collected.set.totals();
  std::cerr << "minify: " << t.files << " files, " << t.symlinks << " symlinks, " << t.directories << " directories, "
            << format_bytes(t.bytes) << "\n";
  if (const auto& w = m->collected.set.walked(); !w.empty()) {
    uint64_t bytes = 0;
    for (const auto& [path, walked] : w) bytes += walked.size;
    std::cerr << "minify: left out " << w.size() << " files (" << format_bytes(bytes)
              << ") the program found by listing a directory and only stat'ed (report.json \"walked\"; --keep-walked ships them)\n";
  }
  if (m->trace)
    std::cerr << "minify: trace: " << m->trace->process_count << " processes, " << m->trace->execs.size() << " execs, "
              << m->collected.traced_added << " paths used, exit status " << m->trace->exit.shell_status() << "\n";
  if (auto p = package_summary(m->collected.packages, m->collected.package_seconds); !p.empty())
    std::cerr << "minify: packages: " << p << "\n";
  if (!m->collected.set.withheld().empty())
    std::cerr << "minify: withheld " << m->collected.set.withheld().size()
              << " paths the program used (secrets, the builder's identity): report.json lists them\n";
  std::string why;
  for (const auto& w : m->base_why) why += (why.empty() ? "" : "; ") + w;
  std::cerr << "minify: base: " << base_name(m->base) << (why.empty() ? "" : " (" + why + ")") << "\n";
  if (!m->pin.digest.empty())
    std::cerr << "minify: base pinned: " << base_image(m->base, m->pin.digest) << ", " << m->pin.how << "\n";
  for (const auto& n : m->runner.needs)
    if (n.met_by != "copied")
      std::cerr << "minify: runner: " << n.need << " " << n.met_by << " (" << n.not_copied.size() << " entries not copied)\n";
  if (m->committed) {
    if (!m->build_command.empty())
      std::cerr << "minify: build the runner stage (after your builder stage \"" << o.from_stage << "\") with: " << m->build_command
                << "\n";
    std::cerr << "minify: wrote " << o.out_dir << "/{rootfs,Dockerfile,report.json" << (m->trace ? ",trace.json" : "") << "}";
    if (!o.tar.empty()) std::cerr << ", " << o.tar;
    if (!o.sbom.empty()) std::cerr << ", " << o.sbom;
    if (m->image_digests) std::cerr << ", " << o.oci << " (" << m->image_digests->manifest << ")";
    std::cerr << "\n";
  }
  // Where the time went (scripts/bench e2e reads this line).
  char times[160];
  std::snprintf(times, sizeof times, "minify: time: trace %.2f s, analyze %.2f s (packages %.2f s), pack %.2f s, verify ",
                m->times.trace, m->times.analyze, m->times.packages, m->times.pack);
  std::cerr << times;
  if (m->verify || m->verify_error) {
    std::snprintf(times, sizeof times, "%.2f s\n", m->times.verify);
    std::cerr << times;
  } else {
    std::cerr << "skipped\n";
  }
  return print_outcome(*m, *job);
}

}  // namespace

Command add_pack_command(CLI::App& app) {
  auto o = std::make_shared<PackOptions>();
  CLI::App* sub = app.add_subcommand("pack", "Make the minimal rootfs, image and Dockerfile runner stage of a program (the default command)");
  // Grouped as a person decides: how to run it, what else to keep, what to write, what the
  // image says, how to check it.
  sub->add_flag("--static-only", o->static_only, "Do not run the program: ELF analysis and implicit needs only")->group(kGroupTracing);
  sub->add_option("--root", o->root, "The builder root the program lives in (default /)")
      ->check(CLI::ExistingDirectory)
      ->group(kGroupTracing);
  sub->add_flag("--inherit-env", o->inherit_env, "Trace with minify's own environment under --env (the image never gets it)")
      ->group(kGroupTracing);
  add_run_options(sub, o->run, RunCommand::Pack, RunSection::Running);

  sub->add_option("--keep", o->keep, "Also ship this path or glob (repeatable)")->allow_extra_args(false)->group(kGroupKeep);
  sub->add_flag("--keep-walked", o->keep_walked, "Also ship files the program only found by listing a directory and stat'ed")->group(kGroupKeep);
  sub->add_option("--exclude", o->exclude, "Never ship paths matching this glob (repeatable)")->allow_extra_args(false)->group(kGroupKeep);
  sub->add_flag("--no-implicit", o->no_implicit, "Leave out what inspect finds (CA bundles, NSS modules, dlopen targets)")
      ->group(kGroupKeep);
  add_package_flags(sub, o->packages);

  sub->add_option("-o,--output", o->out_dir, "Output directory: rootfs/, Dockerfile, report.json, trace.json (default minify-out)")
      ->group(kGroupOutputs);
  sub->add_option("--tar", o->tar, "Also write the rootfs as a reproducible tar")->group(kGroupOutputs);
  sub->add_option("--oci", o->oci, "Also write an OCI image archive (docker/podman load, skopeo)")->group(kGroupOutputs);
  sub->add_option("--tag", o->tag, "Image name:tag recorded in the OCI archive")->group(kGroupOutputs);
  sub->add_flag("--zstd", o->zstd, "Compress the OCI layer with zstd instead of gzip")->group(kGroupOutputs);
  sub->add_option("--sbom", o->sbom, "Also write an SBOM of the minimal root: OS packages, Go/npm/Python packages, file hashes")
      ->group(kGroupOutputs);
  sub->add_option("--sbom-format", o->sbom_format, "cyclonedx (CycloneDX 1.5 JSON, default) or spdx (SPDX 2.3 JSON)")
      ->check(CLI::IsMember({"cyclonedx", "spdx"}))
      ->group(kGroupOutputs);
  sub->add_option("--policy", o->policy,
                  "Also write the least-privilege runtime policy the program was verified under into DIR: seccomp.json "
                  "(Docker/Podman/OCI), kubernetes.yaml (securityContext, volumes), run.sh (docker/podman run), "
                  "policy.json; traces every syscall (slower)")
      ->group(kGroupOutputs);
  sub->add_option("--from-stage", o->from_stage, "Name of the builder stage in the Dockerfile (default builder)")
      ->group(kGroupOutputs);
  sub->add_option("--copy-style", o->copy_style, "lines (explicit COPY lines, default) or rootfs (one COPY of minify's output)")
      ->check(CLI::IsMember({"lines", "rootfs"}))
      ->group(kGroupOutputs);
  add_run_options(sub, o->run, RunCommand::Pack, RunSection::Outputs);

  add_run_options(sub, o->run, RunCommand::Pack, RunSection::Config);

  sub->add_option("--base", o->base, "Runner base: scratch, distroless-static, distroless-base, distroless-cc or auto (default)")
      ->check(CLI::IsMember({"auto", "scratch", "distroless-static", "distroless-base", "distroless-cc"}))
      ->group(kGroupConfig);
  sub->add_option("--pin-digest", o->pin_digest, "Pin the base image to this sha256 digest (default: minify's table of known digests)")
      ->group(kGroupConfig);
  sub->add_flag("--resolve-digest", o->resolve_digest, "Ask the registry for the base's current digest (skopeo inspect)")
      ->group(kGroupConfig);
  sub->add_option("--builder-image", o->builder_image, "Start the Dockerfile with FROM IMAGE AS <from-stage>, so that it builds alone")
      ->group(kGroupOutputs);

  add_run_options(sub, o->run, RunCommand::Pack, RunSection::Verify);

  // PROGRAM and everything after it belong to the program, options included; a `--` before
  // PROGRAM is optional (strace, unshare and `minify trace` take one).
  sub->add_option("program", o->command, "PROGRAM [ARGS...]: looked up in PATH when it has no slash")
      ->required()
      ->group("Program");
  sub->positionals_at_end();
  add_help_last(sub);
  sub->footer(
      "Examples:\n"
      "  A server, stopped once its health check answers; the image is verified with the same probe:\n"
      "    minify -o out --probe http://127.0.0.1:8080/healthz -- ./server --port 8080\n"
      "  A Go binary, without running it (nothing but the file and what inspect finds):\n"
      "    minify -o out --static-only --base scratch ./app\n"
      "  A legacy image, shrunk without a Docker daemon (the image's own command is traced):\n"
      "    minify image legacy.tar -o small.tar --probe http://127.0.0.1:80/");
  return {sub, [o] { return run_pack(*o); }};
}

}  // namespace minify::cli
