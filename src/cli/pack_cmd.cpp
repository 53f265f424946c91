// `minify [pack] PROGRAM [ARGS...]`, the main job: analyse and trace the program, merge what it
// needs into a file set, and write the minimal rootfs, the runner stage of a multi-stage
// Dockerfile, report.json and trace.json (and on request a tar and an OCI image archive).
// `minify why PATH` explains one entry of a report.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "minify/collect.hpp"
#include "minify/pack.hpp"
#include "minify/sbom.hpp"
#include "minify/verify.hpp"

namespace minify::cli {

namespace {

namespace fs = std::filesystem;

struct PackOptions {
  std::string out_dir = "minify-out";
  std::string tar, oci, tag, sbom, sbom_format = "cyclonedx";
  bool static_only = false, no_implicit = false, zstd = false, no_verify = false;
  std::string timeout, grace;
  std::vector<std::string> probes;
  std::string root = "/";
  std::vector<std::string> keep, exclude, env;
  std::string workdir, user;
  std::string base = "auto", from_stage = "builder", copy_style = "lines", pin_digest;
  std::vector<std::string> command;  // PROGRAM ARGS...
  PackageFlags packages;
};

std::string format_bytes(uint64_t b) {
  char buf[32];
  if (b >= 10ull << 20)
    std::snprintf(buf, sizeof buf, "%.0f MB", b / 1048576.0);
  else if (b >= 1ull << 20)
    std::snprintf(buf, sizeof buf, "%.1f MB", b / 1048576.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f KB", b / 1024.0);
  return buf;
}

// PROGRAM as a path inside the root: a name without a slash is looked up in PATH, as execvp does.
Result<std::string> locate_program(const Root& root, const std::string& program, const std::string& path_var) {
  if (program.find('/') != std::string::npos) {
    std::error_code ec;
    std::string path = root.is_host() ? normalize_path(fs::absolute(program, ec).string())
                                      : normalize_path(program.front() == '/' ? program : "/" + program);
    if (auto st = root.stat(path); !st) return st.error();
    return path;
  }
  if (auto found = root.find_in_path(program, path_var)) return *found;
  return bad_input("find program", program, "not found in PATH (" + path_var + ")");
}

// The size of the directories the set's files came from: what a COPY of those directories from
// the builder would have carried.
uint64_t builder_side_bytes(const FileSet& set, const Root& root) {
  std::set<std::string> dirs;
  for (const auto& [path, e] : set)
    if (e.type == EntryType::File && !e.generated) dirs.insert(dirname_of(path));
  uint64_t total = 0;
  for (const auto& d : dirs) {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(root.host_path(d), ec)) {
      std::error_code ec2;
      if (f.is_regular_file(ec2) && !f.is_symlink(ec2)) total += f.file_size(ec2);
    }
  }
  return total;
}

std::optional<Base> base_from(BaseImage b) {
  switch (b) {
    case BaseImage::Scratch: return Base::Scratch;
    case BaseImage::DistrolessStatic: return Base::DistrolessStatic;
    case BaseImage::DistrolessBase: return Base::DistrolessBase;
    case BaseImage::DistrolessCc: return Base::DistrolessCc;
  }
  return std::nullopt;
}

// Writes into a fresh staging directory beside `out`, then swaps it in: an interrupted run never
// leaves a half-written output directory.
class Staging {
 public:
  explicit Staging(std::string out) : out_(std::move(out)) {
    std::string templ = (out_.empty() ? std::string("minify-out") : out_) + ".tmp-XXXXXX";
    if (::mkdtemp(templ.data())) {
      dir_ = templ;
      ::chmod(dir_.c_str(), 0755);  // mkdtemp makes it 0700
    }
  }
  ~Staging() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }
  Status commit() {
    std::error_code ec;
    std::string old;
    if (fs::exists(out_, ec)) {
      old = out_ + ".old-" + std::to_string(::getpid());
      fs::rename(out_, old, ec);
      if (ec) return Error{ec.value(), "replace", out_, {}};
    }
    fs::rename(dir_, out_, ec);
    if (ec) return Error{ec.value(), "rename", dir_, "to " + out_};
    dir_.clear();
    if (!old.empty()) fs::remove_all(old, ec);
    return Ok{};
  }

 private:
  std::string out_, dir_;
};


int run_pack(PackOptions& o) {
  auto root = Root::open(o.root);
  if (!root) {
    print_error(root.error().message());
    return kExitBadInput;
  }
  auto sbom_format = parse_sbom_format(o.sbom_format);
  if (!sbom_format) {
    print_error("--sbom-format: `" + o.sbom_format + "` is neither cyclonedx nor spdx");
    return kExitBadInput;
  }
  if (o.command.empty()) {
    print_error("no program given (usage: minify [pack] [OPTIONS] PROGRAM [ARGS...])");
    return kExitBadInput;
  }
  // The environment of the program: what it is traced with and what the image carries.
  std::string path_var = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  LoaderEnv loader_env;
  std::vector<std::pair<std::string, std::string>> env_pairs;
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      print_error("--env expects NAME=VALUE, got `" + kv + "`");
      return kExitBadInput;
    }
    env_pairs.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    if (env_pairs.back().first == "PATH") path_var = env_pairs.back().second;
    if (env_pairs.back().first == "LD_LIBRARY_PATH") loader_env.ld_library_path = split_ld_library_path(env_pairs.back().second);
  }
  auto program = locate_program(*root, o.command[0], path_var);
  if (!program) {
    print_error(program.error().message());
    return kExitBadInput;
  }
  std::vector<std::string> args(o.command.begin() + 1, o.command.end());

  // 1. Trace: what the program touches while it runs (unless --static-only).
  std::optional<TraceLog> trace;
  if (!o.static_only) {
    TraceOptions t;
    t.command = {*program};
    t.command.insert(t.command.end(), args.begin(), args.end());
    if (!root->is_host()) t.root = root->host_dir();
    if (!o.timeout.empty()) {
      auto d = parse_duration(o.timeout);
      if (!d) {
        print_error(d.error().message());
        return kExitBadInput;
      }
      t.timeout = *d;
    }
    if (!o.grace.empty()) {
      auto d = parse_duration(o.grace);
      if (!d) {
        print_error(d.error().message());
        return kExitBadInput;
      }
      t.grace = *d;
    }
    t.probe_urls = o.probes;
    for (const auto& [k, v] : env_pairs) ::setenv(k.c_str(), v.c_str(), 1);
    if (!o.workdir.empty() && root->is_host() && ::chdir(o.workdir.c_str()) != 0) {
      print_error(sys_error("chdir", o.workdir).message());
      return kExitBadInput;
    }
    std::cerr << "minify: tracing " << *program << "\n";
    auto log = run_trace(t);
    if (!log) {
      print_error(log.error().message());
      return kExitBadInput;
    }
    if (log->exit.shell_status() != 0 && log->stopped_by == StopReason::None)
      print_warning(*program + " exited with status " + std::to_string(log->exit.shell_status()) +
                    " while traced; packing what it used");
    for (const auto& p : log->probes)
      if (!p.error.empty()) print_warning("probe " + p.url + ": " + p.error);
    trace = std::move(*log);
  }

  // 2. Analyse every program that ran: the closure ld.so maps, what the headers say it needs.
  std::vector<std::pair<std::string, std::string>> programs = {{*program, "the program"}};
  if (trace)
    for (auto& p : traced_programs(*trace)) programs.push_back(std::move(p));
  Analysis analysis = analyze(*root, programs, {loader_env, !o.no_implicit});

  // 3. Merge into the file set, each entry with why it is in.
  CollectOptions copt;
  copt.keep = o.keep;
  copt.exclude = o.exclude;
  copt.implicit = !o.no_implicit;
  copt.packages = package_selection(o.packages);
  std::error_code ec;
  for (const auto& out : {o.out_dir, o.tar, o.oci, o.sbom}) {
    if (out.empty()) continue;
    std::string abs = fs::absolute(out, ec).string();
    if (root->is_host()) copt.exclude_paths.push_back(abs);
    else if (abs.rfind(root->host_dir() + "/", 0) == 0) copt.exclude_paths.push_back(abs.substr(root->host_dir().size()));
  }
  auto collected = build_fileset(*root, analysis, trace ? &*trace : nullptr, copt);
  if (!collected) {
    print_error(collected.error().message());
    return kExitBadInput;
  }
  for (const auto& w : collected->warnings) print_warning(w);
  FileSet& set = collected->set;

  // 4. The base image and the generated files a scratch root needs.
  const ProgramAnalysis& main_prog = analysis.programs.front();
  Base base = Base::Scratch;
  std::string base_why;
  if (o.base == "auto") {
    if (main_prog.report) {
      base = base_from(main_prog.report->base.base).value_or(Base::Scratch);
      for (const auto& w : main_prog.report->base.why) base_why += (base_why.empty() ? "" : "; ") + w;
    }
  } else if (auto b = parse_base(o.base)) {
    base = *b;
  } else {
    print_error("--base: unknown base `" + o.base + "` (scratch, distroless-static, distroless-base, distroless-cc, auto)");
    return kExitBadInput;
  }
  if (base == Base::Scratch)
    if (auto st = add_scratch_basics(set); !st) {
      print_error(st.error().message());
      return kExitBadInput;
    }

  ImageConfig image;
  image.entrypoint = {*program};
  image.cmd = args;
  for (const auto& kv : o.env) image.env.push_back(kv);
  if (std::none_of(env_pairs.begin(), env_pairs.end(), [](auto& p) { return p.first == "PATH"; }))
    image.env.push_back("PATH=" + path_var);
  image.working_dir = o.workdir;
  image.user = o.user.empty() ? kNonRootUser : o.user;
  if (main_prog.closure) {
    auto [arch, variant] = oci_platform(main_prog.closure->objects[0].elf->ident);
    image.architecture = arch;
    image.variant = variant;
  }

  DockerfileOptions dopt;
  dopt.base = base;
  dopt.pin_digest = o.pin_digest;
  dopt.from_stage = o.from_stage;
  dopt.copy_style = o.copy_style == "rootfs" ? CopyStyle::Rootfs : CopyStyle::Lines;
  if (o.copy_style != "rootfs" && o.copy_style != "lines") {
    print_error("--copy-style: `" + o.copy_style + "` is neither lines nor rootfs");
    return kExitBadInput;
  }
  dopt.entrypoint = image.entrypoint;
  dopt.cmd = image.cmd;
  dopt.env = env_pairs;
  dopt.workdir = o.workdir;
  if (!o.user.empty()) dopt.user = o.user;
  std::string out_name = fs::path(o.out_dir).filename().string();
  dopt.generated_context_dir = (out_name.empty() ? "minify-out" : out_name) + "/generated";
  std::string cmdline = "minify pack -o /minify-out";
  for (const auto& c : o.command) cmdline += " " + c;
  dopt.minify_command = cmdline;

  int64_t epoch = 0;
  if (const char* sde = std::getenv("SOURCE_DATE_EPOCH")) {
    auto e = parse_source_date_epoch(sde);
    if (!e) {
      print_error(e.error().message());
      return kExitBadInput;
    }
    epoch = *e;
  }

  // 5. Write every output, each to a temporary name first.
  Staging staging(o.out_dir);
  if (staging.dir().empty()) {
    print_error(sys_error("create", o.out_dir + ".tmp-XXXXXX").message());
    return kExitBadInput;
  }
  auto fail = [](const Error& e) {
    print_error(e.message());
    return kExitBadInput;
  };
  if (auto st = write_rootfs(set, *root, staging.dir() + "/rootfs"); !st) return fail(st.error());
  if (auto st = write_generated(set, base, staging.dir() + "/generated"); !st) return fail(st.error());
  if (auto st = write_text(staging.dir() + "/Dockerfile", render_dockerfile(set, dopt)); !st) return fail(st.error());
  ReportOptions ropt;
  ropt.packages = &collected->packages;
  if (auto st = write_report(set, &*root, staging.dir() + "/report.json", ropt); !st) return fail(st.error());
  if (trace)
    if (auto st = write_text(staging.dir() + "/trace.json", to_json(*trace).dump(2) + "\n"); !st) return fail(st.error());
  if (auto st = staging.commit(); !st) return fail(st.error());
  // The archives after the directory: either may lie inside it.
  std::optional<OciDigests> oci_digests;
  // The SBOM before the image, whose config names its digest.
  if (!o.sbom.empty()) {
    SbomOptions sopt;
    sopt.subject = o.tag.empty() ? basename_of(*program) : o.tag;
    auto digest = write_cli_sbom(set, *root, *collected, sopt, *sbom_format,
                                 std::getenv("SOURCE_DATE_EPOCH") ? std::optional<int64_t>(epoch) : std::nullopt, o.sbom);
    if (!digest) return fail(digest.error());
    image.labels[kSbomDigestLabel] = *digest;
  }
  if (!o.tar.empty()) {
    TarOptions topt;
    topt.mtime = epoch;
    if (auto r = write_tar(set, *root, o.tar, topt); !r) return fail(r.error());
  }
  if (!o.oci.empty()) {
    OciOptions oopt;
    oopt.compression = o.zstd ? Compression::Zstd : Compression::Gzip;
    oopt.mtime = epoch;
    oopt.tag = o.tag;
    auto r = write_oci(set, *root, o.oci, image, oopt);
    if (!r) return fail(r.error());
    oci_digests = *r;
  }

  // 6. Verify: start the program once in the minimal root (sandboxed, traced) and compare with
  // the original run, so that nobody ships an image that was never started.
  std::optional<VerifyReport> verified;
  if (trace && !o.no_verify) {
    VerifyOptions v;
    v.sandbox.rootfs = o.out_dir + "/rootfs";
    v.sandbox.env = image.env;
    v.sandbox.workdir = o.workdir.empty() ? "/" : o.workdir;
    // The program already ran on the builder with minify's own privileges, and the root's files
    // belong to minify's user: root in the sandbox is that same user (an image's code, which
    // `minify image` runs, gets an unprivileged uid instead).
    v.sandbox.map_root_to_root = ::geteuid() == 0;
    v.command = {*program};
    v.command.insert(v.command.end(), args.begin(), args.end());
    if (!o.timeout.empty()) v.timeout = parse_duration(o.timeout).value();
    if (!o.grace.empty()) v.grace = parse_duration(o.grace).value();
    v.probe_urls = o.probes;
    v.original = *trace;
    std::cerr << "minify: verifying: running " << *program << " in the minimal root\n";
    auto rep = verify(v);
    if (rep) {
      // What --exclude or the output itself left out on purpose is not missing.
      std::erase_if(rep->missing, [&](const std::string& m) { return set.is_excluded(m); });
      verified = std::move(*rep);
    } else {
      print_warning("could not verify the minimal root: " + rep.error().message());
    }
  }

  // 7. The summary.
  Totals t = set.totals();
  std::cerr << "minify: " << t.files << " files, " << t.symlinks << " symlinks, " << t.directories << " directories, "
            << format_bytes(t.bytes) << " (from directories holding " << format_bytes(builder_side_bytes(set, *root))
            << " on the builder)\n";
  if (trace)
    std::cerr << "minify: trace: " << trace->process_count << " processes, " << trace->execs.size() << " execs, "
              << collected->traced_added << " paths used, exit status " << trace->exit.shell_status() << "\n";
  if (auto p = package_summary(collected->packages, collected->package_seconds); !p.empty())
    std::cerr << "minify: packages: " << p << "\n";
  std::cerr << "minify: base: " << base_name(base) << (base_why.empty() ? "" : " (" + base_why + ")") << "\n";
  std::cerr << "minify: wrote " << o.out_dir << "/{rootfs,Dockerfile,report.json" << (trace ? ",trace.json" : "") << "}";
  if (!o.tar.empty()) std::cerr << ", " << o.tar;
  if (!o.sbom.empty()) std::cerr << ", " << o.sbom;
  if (oci_digests) std::cerr << ", " << o.oci << " (" << oci_digests->manifest << ")";
  std::cerr << "\n";
  if (verified) {
    for (const auto& m : verified->missing) std::cerr << "minify: verify: missing " << m << "\n";
    if (!verified->exit_matches)
      std::cerr << "minify: verify: exit status " << verified->run.exit.shell_status() << ", the original run "
                << verified->original_exit.shell_status() << "\n";
    for (const auto& p : verified->probe_mismatches) std::cerr << "minify: verify: probe " << p << "\n";
    std::cerr << "minify: verify: " << (verified->ok() ? "ok, the program runs in the minimal root" : "FAILED") << "\n";
  }
  if (verified && !verified->ok()) return kExitMissing;
  if (!collected->missing.empty()) {
    for (const auto& m : collected->missing) std::cerr << "minify: " << m << ": not found\n";
    return kExitMissing;
  }
  return kExitOk;
}

}  // namespace

Command add_pack_command(CLI::App& app) {
  auto o = std::make_shared<PackOptions>();
  CLI::App* sub = app.add_subcommand("pack", "Make the minimal rootfs, image and Dockerfile runner stage of a program (the default command)");
  sub->add_option("-o,--output", o->out_dir, "Output directory: rootfs/, Dockerfile, report.json, trace.json (default minify-out)");
  sub->add_option("--tar", o->tar, "Also write the rootfs as a reproducible tar");
  sub->add_option("--oci", o->oci, "Also write an OCI image archive (docker/podman load, skopeo)");
  sub->add_option("--sbom", o->sbom, "Also write an SBOM of the minimal root: OS packages, Go/npm/Python packages, file hashes");
  sub->add_option("--sbom-format", o->sbom_format, "cyclonedx (CycloneDX 1.5 JSON, default) or spdx (SPDX 2.3 JSON)");
  sub->add_option("--tag", o->tag, "Image name:tag recorded in the OCI archive");
  sub->add_flag("--zstd", o->zstd, "Compress the OCI layer with zstd instead of gzip");
  sub->add_flag("--static-only", o->static_only, "Do not run the program: ELF analysis and implicit needs only");
  sub->add_flag("--no-verify", o->no_verify, "Do not start the program in the minimal root to check it afterwards");
  sub->add_flag("--no-implicit", o->no_implicit, "Leave out what inspect finds (CA bundles, NSS modules, dlopen targets)");
  sub->add_option("--timeout", o->timeout, "Stop the program after this long (SIGTERM, then SIGKILL): 10s, 2m");
  sub->add_option("--grace", o->grace, "Delay between SIGTERM and SIGKILL (default 3s)");
  sub->add_option("--probe", o->probes, "Wait until this http:// URL answers, GET it, then stop the program (repeatable)")->allow_extra_args(false);
  sub->add_option("--root", o->root, "The builder root the program lives in (default /)")->check(CLI::ExistingDirectory);
  sub->add_option("--keep", o->keep, "Also ship this path or glob (repeatable)")->allow_extra_args(false);
  sub->add_option("--exclude", o->exclude, "Never ship paths matching this glob (repeatable)")->allow_extra_args(false);
  sub->add_option("--env", o->env, "NAME=VALUE for the program, traced and in the image (repeatable)")->allow_extra_args(false);
  sub->add_option("--workdir", o->workdir, "Working directory of the program and the image");
  sub->add_option("--user", o->user, "User of the image (default 65532:65532, nonroot)");
  sub->add_option("--base", o->base, "Runner base: scratch, distroless-static, distroless-base, distroless-cc or auto (default)");
  sub->add_option("--from-stage", o->from_stage, "Name of the builder stage in the Dockerfile (default builder)");
  sub->add_option("--copy-style", o->copy_style, "lines (explicit COPY lines, default) or rootfs (one COPY of minify's output)");
  sub->add_option("--pin-digest", o->pin_digest, "Pin the base image to this sha256 digest");
  add_package_flags(sub, o->packages);
  // Everything from PROGRAM on belongs to the program, options included.
  sub->prefix_command();
  sub->footer("PROGRAM [ARGS...] come last; a PROGRAM without a slash is looked up in PATH.");
  return {sub, [o, sub] {
            o->command = sub->remaining();
            return run_pack(*o);
          }};
}

Command add_why_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>("minify-out");
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("why", "Why a file is in minify's output");
  sub->add_option("-o,--output", *dir, "The output directory of the pack (default minify-out)");
  sub->add_option("path", *path, "A path inside the minimal root")->required();
  return {sub, [dir, path] {
            auto set = read_report(*dir + "/report.json");
            if (!set) {
              print_error(set.error().message());
              return kExitBadInput;
            }
            auto text = explain(*set, *path);
            if (!text) {
              std::cerr << "minify: " << *path << " is not in " << *dir << "\n";
              return kExitMissing;
            }
            std::cout << *text;
            if (!text->empty() && text->back() != '\n') std::cout << "\n";
            return kExitOk;
          }};
}

}  // namespace minify::cli
