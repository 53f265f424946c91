// `minify image IN -o OUT`: shrink an existing image without a Docker daemon. The image is
// unpacked into a confined scratch root; then the same pipeline as `minify pack` (src/pipeline)
// traces its configured command in the sandbox, writes OUT (OCI archive or docker-archive) and
// the output directory (rootfs/, report.json, trace.json, run.json), and verifies.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "minify/image.hpp"
#include "minify/pipeline.hpp"

namespace minify::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ImageOptions {
  std::string sbom, sbom_format = "cyclonedx", policy;
  std::string input, output, format = "oci", out_dir = "minify-out", work, platform, tag, out_tag;
  std::vector<std::string> entrypoint, cmd, keep, exclude;
  std::string max_size;
  bool zstd = false, keep_work = false;
  bool keep_walked = false;
  RunOptions run;
  PackageFlags packages;
};

// The largest regular files of the root that the set leaves out.
std::vector<std::pair<uint64_t, std::string>> largest_left_out(const FileSet& set, const std::string& root_dir, size_t n) {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string inner = "/" + fs::relative(it->path(), root_dir, ec).string();
    if (set.find(inner)) continue;
    out.emplace_back(it->file_size(ec), inner);
  }
  std::sort(out.begin(), out.end(), std::greater<>());
  if (out.size() > n) out.resize(n);
  return out;
}

// The job for an unpacked image: its command, Env, WorkingDir and User, overridden by the options.
Result<Job> make_job(const ImageOptions& o, const Image& image, const std::string& root_dir, const UnpackOptions& uo,
                     const UnpackResult& unpacked) {
  Job job;
  job.root = root_dir;
  ImageConfig config = image.config;
  if (!o.entrypoint.empty()) {
    config.entrypoint = o.entrypoint;
    if (o.cmd.empty()) config.cmd.clear();  // docker run --entrypoint resets CMD too
  }
  if (!o.cmd.empty()) config.cmd = o.cmd;
  config.env = merge_env(config.env, o.run.env);
  config.created_by = "minify image";
  if (config.architecture.empty()) config.architecture = "amd64";
  job.command = config.entrypoint;
  job.command.insert(job.command.end(), config.cmd.begin(), config.cmd.end());
  if (job.command.empty()) return bad_input("run", o.input, "the image has no Entrypoint or Cmd; give --entrypoint/--cmd");
  job.env = config.env;
  job.workdir = config.working_dir.empty() ? "/" : config.working_dir;
  job.run_as = config.user;
  job.image = std::move(config);

  if (auto st = apply_run_options(o.run, RunCommand::Image, job); !st) return st.error();
  job.collect.keep = o.keep;
  job.collect.keep_walked = o.keep_walked;
  job.collect.exclude = o.exclude;
  job.collect.packages = package_selection(o.packages);
  job.uid_shift = uo.uid_shift;
  job.special_modes = unpacked.special_modes;
  job.dir_times = unpacked.dir_times;
  job.base = Base::Scratch;  // the image is the whole root: nothing comes from a base
  if (auto st = read_source_date_epoch(job); !st) return st.error();

  job.out.dir = o.out_dir;
  job.out.dockerfile = false;
  job.out.image = o.output;
  job.out.image_format = o.format == "docker" ? ImageArchiveFormat::Docker : ImageArchiveFormat::Oci;
  job.out.tag = o.out_tag;
  job.out.zstd = o.zstd;
  job.out.sbom = o.sbom;
  auto sbom_format = parse_sbom_format(o.sbom_format);
  if (!sbom_format) return bad_input("--sbom-format", o.sbom_format, "expected cyclonedx or spdx");
  job.out.sbom_format = *sbom_format;
  job.out.sbom_subject = o.out_tag.empty() ? fs::path(o.output).filename().string() : o.out_tag;
  job.out.sbom_container = true;
  job.out.policy = o.policy;
  if (!o.policy.empty() && !job.verify)
    return bad_input("--policy", o.policy, "the policy is verified by running the image under it: not with --no-verify");

  job.protected_paths = {o.input};
  job.sandbox_launcher = sandbox_launcher();
  return job;
}

int run_image(const ImageOptions& o) {
  auto fail = [](const Error& e, int code = kExitBadInput) {
    print_error(e.message());
    return code;
  };
  if (o.format != "oci" && o.format != "docker") return fail(bad_input("--format", o.format, "expected oci or docker"));
  // The run options' values are checked before an image of many megabytes is unpacked.
  Job check;
  if (auto st = apply_run_options(o.run, RunCommand::Image, check); !st) return fail(st.error());
  auto wd = make_work_dir(o.work);
  if (!wd) return fail(wd.error());
  WorkDir work{*wd, o.keep_work || !o.work.empty()};

  // 1. Unpack: the image's layers, in order, into a confined scratch root.
  auto t0 = Clock::now();
  Context ctx;
  ProgressLine progress(ctx, print_diagnostic);
  ImageLimits limits;
  if (!o.max_size.empty()) {
    // std::stoull threw (and aborted minify) on "abc" or a number past 2^64.
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(o.max_size.c_str(), &end, 10);
    if (errno != 0 || end == o.max_size.c_str() || *end != '\0' || o.max_size[0] == '-')
      return fail(bad_input("--max-size", o.max_size, "expected a number of bytes"));
    limits.max_total_bytes = n;
  }
  auto image = open_image(o.input, work.path, {o.tag, o.platform}, limits);
  if (!image) return fail(image.error());
  UnpackOptions uo;
  uo.limits = limits;
  uo.uid_shift = kSandboxUidBase;
  uo.progress = ctx.progress_fn();
  std::string root_dir = work.path + "/root";
  auto unpacked = unpack_layers(*image, root_dir, uo);
  progress.end();
  if (!unpacked) return fail(unpacked.error());
  for (const auto& n : unpacked->notes) print_warning(n);
  if (!unpacked->special_modes.empty()) {
    std::string names;
    size_t shown = 0;
    for (const auto& [path, mode] : unpacked->special_modes)
      if (shown++ < 5) names += (names.empty() ? "" : ", ") + path;
    if (unpacked->special_modes.size() > 5) names += ", ...";
    std::cerr << "minify: " << unpacked->special_modes.size()
              << " setuid/setgid files: bits cleared on disk while unpacking, kept in the output (" << names << ")\n";
  }
  double t_unpack = std::chrono::duration<double>(Clock::now() - t0).count();

  // 2. The pipeline, with the image's command traced in the sandbox.
  auto job = make_job(o, *image, root_dir, uo, *unpacked);
  if (!job) return fail(job.error());
  if (!o.work.empty()) job->protected_paths.push_back(o.work);
  AbortOnSignals signals;
  job->interrupted = AbortOnSignals::caught;
  SandboxRunner runner;
  auto m = minimize(*job, runner, ctx);
  progress.end();
  if (AbortOnSignals::caught()) return signals.exit_status();
  if (!m) return fail(m.error());

  // 3. The summary: sizes before and after, what was left out, where the time went.
  const FileSet& set = m->collected.set;
  Totals tot = set.totals();
  std::cerr << "minify: " << image_format_name(image->format) << " " << o.input << ": " << image->layers.size()
            << " layers, " << format_bytes(image->compressed_bytes()) << " compressed, " << format_bytes(unpacked->bytes)
            << " unpacked\n";
  if (m->committed)
    std::cerr << "minify: wrote " << o.output << " (" << (o.format == "docker" ? "docker-archive" : "oci-archive") << ", "
              << m->image_digests->manifest << "): " << tot.files << " files, " << format_bytes(m->image_digests->layer.size)
              << " compressed, " << format_bytes(m->image_digests->layer.tar_size) << " uncompressed\n";
  auto left = largest_left_out(set, root_dir, 10);
  if (!left.empty()) {
    std::cerr << "minify: largest files left out:\n";
    for (const auto& [size, path] : left) std::cerr << "  " << format_bytes(size) << "  " << path << "\n";
  }
  if (auto p = package_summary(m->collected.packages, m->collected.package_seconds); !p.empty())
    std::cerr << "minify: packages: " << p << "\n";
  // Where the time went, last, so that it includes the verify run (scripts/bench image reads it).
  char times[200];
  std::snprintf(times, sizeof times, "minify: time: unpack %.2fs, trace %.2fs, pack %.2fs, verify ", t_unpack,
                m->times.trace, m->times.analyze + m->times.pack);
  std::string verify_time = "skipped";
  if (m->verify || m->verify_error) {
    char took[32];
    std::snprintf(took, sizeof took, "%.2fs", m->times.verify);
    verify_time = took;
  }
  std::cerr << times << verify_time << "\n";
  return print_outcome(*m, *job);
}

}  // namespace

Command add_image_command(CLI::App& app) {
  auto o = std::make_shared<ImageOptions>();
  CLI::App* sub = app.add_subcommand("image", "Shrink an image archive (docker-archive, OCI archive or layout) to what its command uses");
  sub->add_option("input", o->input, "docker save archive, OCI image archive or OCI layout directory")->required()->group("Input");
  sub->add_option("--platform", o->platform, "os/arch[/variant] to pick from a multi-platform index")->group("Input");
  sub->add_option("--tag", o->tag, "The image to pick by tag from an archive holding several")->group("Input");
  sub->add_option("--work", o->work, "Unpack here (kept) instead of a temporary directory")->group("Input");
  sub->add_option("--max-size", o->max_size, "Refuse images unpacking to more bytes than this")->group("Input");
  add_run_options(sub, o->run, RunCommand::Image, RunSection::Running);
  add_run_options(sub, o->run, RunCommand::Image, RunSection::Config);
  sub->add_option("--entrypoint", o->entrypoint, "Override the image's Entrypoint (repeat for each word)")
      ->allow_extra_args(false)
      ->group(kGroupConfig);
  sub->add_option("--cmd", o->cmd, "Override the image's Cmd (repeat for each word)")->allow_extra_args(false)->group(kGroupConfig);
  sub->add_option("--keep", o->keep, "Also ship this path or glob (repeatable)")->allow_extra_args(false)->group(kGroupKeep);
  sub->add_flag("--keep-walked", o->keep_walked, "Also ship files the program only found by listing a directory and stat'ed")->group(kGroupKeep);
  sub->add_option("--exclude", o->exclude, "Never ship paths matching this glob (repeatable)")->allow_extra_args(false)->group(kGroupKeep);
  add_package_flags(sub, o->packages);
  sub->add_option("-o,--output", o->output, "The minimized image archive")->required()->group(kGroupOutputs);
  sub->add_option("--format", o->format, "oci (default) or docker")->check(CLI::IsMember({"oci", "docker"}))->group(kGroupOutputs);
  sub->add_option("--out-dir", o->out_dir, "Also write rootfs/, report.json, trace.json here (default minify-out)")->group(kGroupOutputs);
  sub->add_option("--out-tag", o->out_tag, "name:tag recorded in the output archive")->group(kGroupOutputs);
  sub->add_flag("--zstd", o->zstd, "Compress the layer with zstd")->group(kGroupOutputs);
  sub->add_option("--sbom", o->sbom, "Also write an SBOM of the minimized image (its config gets the SBOM's digest as a label)")
      ->group(kGroupOutputs);
  sub->add_option("--sbom-format", o->sbom_format, "cyclonedx (CycloneDX 1.5 JSON, default) or spdx (SPDX 2.3 JSON)")
      ->check(CLI::IsMember({"cyclonedx", "spdx"}))
      ->group(kGroupOutputs);
  sub->add_option("--policy", o->policy,
                  "Also write the least-privilege runtime policy the image was verified under into DIR: seccomp.json "
                  "(Docker/Podman/OCI), kubernetes.yaml, run.sh, policy.json; traces every syscall (slower)")
      ->group(kGroupOutputs);
  add_run_options(sub, o->run, RunCommand::Image, RunSection::Outputs);
  add_run_options(sub, o->run, RunCommand::Image, RunSection::Verify);
  add_help_last(sub);
  return {sub, [o] { return run_image(*o); }};
}

}  // namespace minify::cli
