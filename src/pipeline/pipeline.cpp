// minimize(): the order of minify's stages, once (see pipeline.hpp). Each stage lives in its own
// directory (src/fileset, src/pack, src/verify, ...); this file only calls them in turn, carries
// what one stage hands the next, and measures how long each took.
#include "minify/pipeline.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "minify/atomic.hpp"
#include "minify/image.hpp"

namespace minify {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Outputs that lie inside the root must not be packed into themselves.
std::vector<std::string> outputs_inside_root(const Job& job, const Root& root) {
  std::vector<std::string> inside;
  std::error_code ec;
  for (const auto& out : {job.out.dir, job.out.tar, job.out.image, job.out.sbom}) {
    if (out.empty()) continue;
    std::string abs = fs::absolute(out, ec).string();
    if (root.is_host()) inside.push_back(abs);
    else if (abs.rfind(root.host_dir() + "/", 0) == 0) inside.push_back(abs.substr(root.host_dir().size()));
  }
  return inside;
}

// The entries the image needs beyond what the program used: its WorkingDir, and the accounts file
// that names its User.
Status add_image_entries(FileSet& set, const Root& root, const ImageConfig& image) {
  const std::string& wd = image.working_dir;
  if (!wd.empty() && wd != "/" && !set.find(wd)) {
    auto st = root.stat(wd);
    if (auto d = set.add_directory(wd, st && S_ISDIR(st->st_mode) ? st->st_mode & 07777 : 0755,
                                   {ReasonKind::Implicit, "the image's WorkingDir"});
        !d)
      return d;
  }
  return Ok{};
}

// Owners were shifted and setuid/setgid bits cleared on disk when the root was unpacked, and the
// trace made files in its directories; the outputs carry the image's own.
void restore_unpacked_metadata(FileSet& set, const Job& job) {
  unshift_owners(set, job.uid_shift);
  restore_directory_times(set, job.dir_times);
  for (const auto& [path, mode] : job.special_modes)
    if (const Entry* e = set.find(path); e && e->type == EntryType::File) {
      Entry copy = *e;
      copy.mode = mode;
      set.put(std::move(copy));
    }
}

DockerfileOptions dockerfile_options(const Job& job, const Minimized& m) {
  DockerfileOptions d;
  d.base = m.base;
  d.pin_digest = job.pin_digest;
  d.from_stage = job.from_stage;
  d.copy_style = job.copy_style;
  d.entrypoint = m.image.entrypoint;
  d.cmd = m.image.cmd;
  for (const auto& kv : job.env) {
    auto eq = kv.find('=');
    d.env.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
  }
  d.workdir = m.image.working_dir;
  d.user = m.image.user;
  d.exposed_ports = m.image.exposed_ports;
  std::string out_name = fs::path(job.out.dir).filename().string();
  d.generated_context_dir = (out_name.empty() ? "minify-out" : out_name) + "/generated";
  d.minify_command = "minify pack -o /minify-out " + command_line(job.command);
  return d;
}

// How the program ran, so that `minify verify -o DIR` runs it the same way.
std::string run_json(const Minimized& m, const std::vector<std::string>& command, const std::string& workdir,
                     const std::string& user) {
  nlohmann::json run = {{"command", command}, {"env", m.image.env}, {"workdir", workdir}, {"user", user}};
  return run.dump(2) + "\n";
}

}  // namespace

std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& more) {
  for (const auto& kv : more) {
    std::string key = kv.substr(0, kv.find('='));
    auto it = std::find_if(base.begin(), base.end(), [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    if (it != base.end()) *it = kv;
    else base.push_back(kv);
  }
  return base;
}

std::string env_value(const std::vector<std::string>& env, const std::string& key, const std::string& fallback) {
  for (const auto& kv : env)
    if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
  return fallback;
}

Result<std::string> locate_program(const Root& root, const std::string& program, const std::string& workdir,
                                   const std::string& path_var) {
  if (program.find('/') != std::string::npos) {
    std::string path;
    if (program.front() == '/') {
      path = normalize_path(program);
    } else if (root.is_host() && workdir.empty()) {
      std::error_code ec;
      path = normalize_path(fs::absolute(program, ec).string());
    } else {
      path = normalize_path(join_path(workdir.empty() ? "/" : workdir, program));
    }
    if (auto st = root.stat(path); !st) return st.error();
    return path;
  }
  if (auto found = root.find_in_path(program, path_var)) return *found;
  return bad_input("find program", program, "not found in PATH (" + path_var + ")");
}

Result<Minimized> minimize(const Job& job, Runner& runner, Context& ctx) {
  if (job.command.empty()) return bad_input("minimize", "", "no program given");
  auto root = Root::open(job.root);
  if (!root) return root.error();
  Minimized m;
  std::vector<std::string> env = job.env;
  if (env_value(env, "PATH").empty()) env.push_back(std::string("PATH=") + kDefaultPath);
  auto program = locate_program(*root, job.command[0], job.workdir, env_value(env, "PATH"));
  if (!program) return program.error();
  m.program = *program;

  // 1. Trace: what the program touches while it runs.
  auto t0 = Clock::now();
  if (job.trace) {
    ctx.note("trace", "tracing " + command_line(job.command));
    auto log = runner.run(job, *root, m.program);
    if (!log) return log.error();
    if (log->exit.shell_status() != 0 && log->stopped_by == StopReason::None)
      ctx.warn("trace", m.program + " exited with status " + std::to_string(log->exit.shell_status()) +
                            " while traced; packing what it used");
    for (const auto& p : log->probes)
      if (!p.error.empty()) ctx.warn("trace", "probe " + p.url + ": " + p.error);
    m.trace = std::move(*log);
  }
  m.times.trace = seconds_since(t0);

  // 2. Analyse every program that ran (the closure ld.so maps, what the headers say it needs) and
  // merge that with the trace into the file set, each entry with why it is in.
  auto t1 = Clock::now();
  std::vector<std::pair<std::string, std::string>> programs = {{m.program, "the program"}};
  if (m.trace)
    for (auto& p : traced_programs(*m.trace)) programs.push_back(std::move(p));
  AnalyzeOptions aopt;
  aopt.env.ld_library_path = split_ld_library_path(env_value(env, "LD_LIBRARY_PATH"));
  aopt.implicit = job.collect.implicit;
  Analysis analysis = analyze(*root, programs, aopt, ctx);
  CollectOptions copt = job.collect;
  for (auto& p : outputs_inside_root(job, *root)) copt.exclude_paths.push_back(std::move(p));
  // The image's User, when it is a name, is looked up in its /etc/passwd and /etc/group.
  std::string user_name = job.image.user.substr(0, job.image.user.find(':'));
  if (!user_name.empty() && user_name.find_first_not_of("0123456789") != std::string::npos)
    for (const char* f : {"/etc/passwd", "/etc/group"})
      if (root->stat(f, FollowLast::No)) copt.keep.push_back(f);
  auto collected = build_fileset(*root, analysis, m.trace ? &*m.trace : nullptr, copt, ctx);
  if (!collected) return collected.error();
  m.collected = std::move(*collected);
  FileSet& set = m.collected.set;
  m.times.packages = m.collected.package_seconds;

  // 3. The base image, and what a root without one needs of its own.
  const ProgramAnalysis& main_prog = analysis.programs.front();
  if (job.base) {
    m.base = *job.base;
  } else if (main_prog.report) {
    m.base = main_prog.report->base.base;
    m.base_why = main_prog.report->base.why;
  }
  if (m.base == Base::Scratch)
    if (auto st = add_scratch_basics(set); !st) return st.error();

  m.image = job.image;
  m.image.env = env;
  if (m.image.entrypoint.empty() && m.image.cmd.empty()) {
    m.image.entrypoint = {m.program};
    m.image.cmd.assign(job.command.begin() + 1, job.command.end());
  }
  if (m.image.architecture.empty() && main_prog.closure) {
    auto [arch, variant] = oci_platform(main_prog.closure->objects[0].elf->ident);
    m.image.architecture = arch;
    m.image.variant = variant;
  }
  if (auto st = add_image_entries(set, *root, m.image); !st) return st.error();
  restore_unpacked_metadata(set, job);
  if (auto st = ctx.checkpoint(); !st) return st.error();
  m.times.analyze = seconds_since(t1);

  // 4. Every output, each written under a temporary name and renamed into place.
  auto t2 = Clock::now();
  auto staged = AtomicDir::create(job.out.dir.empty() ? "minify-out" : job.out.dir);
  if (!staged) return staged.error();
  const std::string& dir = staged->path();
  // With an owner shift the tree is owned as the unpacked root is, so that verify's sandbox
  // sees the image's own owners.
  RootfsOptions ropt;
  ropt.source_date_epoch = job.source_date_epoch;
  if (job.rootfs_owners) ropt.owner_shift = job.uid_shift;
  if (auto st = write_rootfs(set, *root, dir + "/rootfs", ropt); !st) return st.error();
  if (job.out.dockerfile) {
    if (auto st = write_generated(set, m.base, dir + "/generated"); !st) return st.error();
    if (auto st = write_file_atomic(dir + "/Dockerfile", render_dockerfile(set, dockerfile_options(job, m))); !st)
      return st.error();
  }
  ReportOptions report;
  report.packages = &m.collected.packages;
  if (auto st = write_report(set, &*root, dir + "/report.json", report); !st) return st.error();
  if (m.trace)
    if (auto st = write_file_atomic(dir + "/trace.json", to_json(*m.trace).dump(2) + "\n"); !st) return st.error();
  if (auto st = write_file_atomic(dir + "/run.json",
                                  run_json(m, sandbox_argv(job, m.program), job.workdir.empty() ? "/" : job.workdir, job.run_as));
      !st)
    return st.error();
  if (auto st = staged->commit(); !st) return st.error();
  // The archives after the directory: either may lie inside it. The SBOM before the image, whose
  // config names its digest.
  if (!job.out.sbom.empty()) {
    SbomOptions sopt;
    sopt.subject = !job.out.sbom_subject.empty() ? job.out.sbom_subject
                   : !job.out.tag.empty()        ? job.out.tag
                                                 : basename_of(m.program);
    sopt.container = job.out.sbom_container;
    sopt.os_packages = contributing_packages(m.collected.package_db, m.collected.packages);
    auto sbom = collect_sbom(set, *root, sopt, &ctx);
    if (!sbom) return sbom.error();
    auto digest = write_sbom(render_sbom(*sbom, job.out.sbom_format, job.source_date_epoch), job.out.sbom);
    if (!digest) return digest.error();
    m.sbom_digest = *digest;
    m.image.labels[kSbomDigestLabel] = *digest;
  }
  if (!job.out.tar.empty()) {
    TarOptions topt;
    topt.source_date_epoch = job.source_date_epoch;
    if (auto r = write_tar(set, *root, job.out.tar, topt); !r) return r.error();
  }
  if (!job.out.image.empty()) {
    OciOptions oopt;
    oopt.compression = job.out.zstd ? Compression::Zstd : Compression::Gzip;
    oopt.source_date_epoch = job.source_date_epoch;
    oopt.tag = job.out.tag;
    auto r = job.out.image_format == ImageArchiveFormat::Docker ? write_docker_archive(set, *root, job.out.image, m.image, oopt)
                                                                : write_oci(set, *root, job.out.image, m.image, oopt);
    if (!r) return r.error();
    m.image_digests = *r;
  }
  m.times.pack = seconds_since(t2);

  // 5. Verify: start the program once in the minimal root (sandboxed, traced) and compare with
  // the original run, so that nobody ships an image that was never started.
  if (m.trace && job.verify) {
    auto t3 = Clock::now();
    VerifyOptions v;
    v.sandbox = sandbox_options(job, job.out.dir + "/rootfs");
    v.command = sandbox_argv(job, m.program);
    v.timeout = job.timeout;
    v.grace = job.grace;
    v.probe_urls = job.probes;
    v.original = *m.trace;
    ctx.note("verify", "verifying: running " + m.program + " in the minimal root");
    auto rep = verify(v);
    if (rep) {
      // What --exclude or the output itself left out on purpose is not missing.
      std::erase_if(rep->missing, [&](const std::string& p) { return set.is_excluded(p); });
      m.verify = std::move(*rep);
    } else {
      m.verify_error = rep.error();
    }
    m.times.verify = seconds_since(t3);
  }
  return m;
}

}  // namespace minify
