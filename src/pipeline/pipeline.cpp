// minimize(): the order of minify's stages, once (see pipeline.hpp). Each stage lives in its own
// directory (src/fileset, src/pack, src/verify, ...); this file only calls them in turn, carries
// what one stage hands the next, and measures how long each took.
//
//   outputs checked and locked -> trace -> analyze + file set -> base and image config ->
//   outputs staged -> verify in the image's tree (repair and again) -> commit, or OUT.failed
#include "minify/pipeline.hpp"

#include <sys/stat.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "minify/atomic.hpp"
#include "minify/image.hpp"
#include "pipeline/outputs.hpp"

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

std::string errno_name(int err) {
  const char* n = ::strerrorname_np(err);
  return n ? n : "errno " + std::to_string(err);
}

Status interrupted(const Job& job) {
  if (job.interrupted)
    if (int sig = job.interrupted()) return Error{ECANCELED, "interrupted", "", std::string("by SIG") + ::sigabbrev_np(sig)};
  return Ok{};
}

// Outputs that lie inside the root must not be packed into themselves.
std::vector<std::string> outputs_inside_root(const Job& job, const Root& root) {
  std::vector<std::string> inside;
  std::error_code ec;
  for (const auto& out : {job.out.dir, job.out.tar, job.out.image, job.out.sbom}) {
    if (out.empty()) continue;
    std::string abs = fs::absolute(out, ec).string();
    for (const auto& o : {abs, abs + ".failed"}) {
      if (root.is_host()) inside.push_back(o);
      else if (o.rfind(root.host_dir() + "/", 0) == 0) inside.push_back(o.substr(root.host_dir().size()));
    }
  }
  return inside;
}

// The entries the image needs beyond what the program used: its WorkingDir.
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

std::string dockerfile_context(const Job& job) {
  std::error_code ec;
  std::string dir = fs::absolute(job.out.dir.empty() ? "minify-out" : job.out.dir, ec).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

DockerfileOptions dockerfile_options(const Job& job, const Minimized& m) {
  DockerfileOptions d;
  d.base = m.base;
  d.pin_digest = m.pin.digest;
  d.from_stage = job.from_stage;
  d.builder_image = job.builder_image;
  d.plan = &m.runner;
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
  // The Dockerfile's directory is its build context: generated/ beside it.
  d.context_dir = dockerfile_context(job);
  d.minify_command = "minify pack -o /minify-out " + command_line(job.command);
  return d;
}

// The phase times report.json gives; pack and verify only once they ran.
std::vector<std::pair<std::string, double>> phase_times(const PhaseTimes& t, bool packed, bool verified) {
  std::vector<std::pair<std::string, double>> v = {{"trace", t.trace}, {"analyze", t.analyze}, {"packages", t.packages}};
  if (packed) v.emplace_back("pack", t.pack);
  if (verified) v.emplace_back("verify", t.verify);
  return v;
}

// report.json, with the times of the phases that ran so far.
Status write_report_json(const Minimized& m, const Root& root, const std::string& dir, bool packed, bool verified) {
  ReportOptions report;
  report.packages = &m.collected.packages;
  auto times = phase_times(m.times, packed, verified);
  report.times = &times;
  if (!m.build_command.empty()) {  // a Dockerfile was written
    report.runner_needs = &m.runner.needs;
    report.runner_base = base_image(m.base, m.pin.digest);
  }
  if (m.policy) report.policy_json = to_json(*m.policy).dump();
  return write_report(m.collected.set, &root, dir + "/report.json", report);
}

// How the program ran, so that `minify verify -o DIR` runs it the same way.
std::string run_json(const Minimized& m, const std::vector<std::string>& command, const std::string& workdir) {
  nlohmann::json run = {{"command", command}, {"env", m.image.env}, {"workdir", workdir}, {"user", m.image.user}};
  return run.dump(2) + "\n";
}

std::string verify_json(const Minimized& m) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : m.findings) findings.push_back(f.message);
  nlohmann::json repairs = nlohmann::json::array();
  for (const auto& r : m.repairs) repairs.push_back({{"round", r.round}, {"path", r.path}, {"why", r.why}});
  nlohmann::json doc = {{"ok", false}, {"findings", findings}, {"repairs", repairs}};
  if (m.verify_error) doc["error"] = m.verify_error->message();
  if (m.verify) doc["exit_status"] = m.verify->run.exit.shell_status();
  return doc.dump(2) + "\n";
}

}  // namespace

std::vector<VerifyFinding> verify_findings(const VerifyReport& r, const Job& job, const std::string& user) {
  std::vector<VerifyFinding> out;
  for (const auto& p : r.missing) {
    auto e = r.errors.find(p);
    int err = e == r.errors.end() ? ENOENT : e->second;
    if (err == EACCES || err == EPERM)
      out.push_back({VerifyFinding::Kind::PermissionDenied, p,
                     "permission denied for the image's user (" + user + ") on " + p + ", which the original run opened"});
    else
      out.push_back({VerifyFinding::Kind::Missing, p,
                     "missing " + p + " (opened by the original run; the minimal run got " + errno_name(err) + ")"});
  }
  if (!r.exit_matches)
    out.push_back({VerifyFinding::Kind::ExitStatus, "",
                   "exit status " + std::to_string(r.run.exit.shell_status()) + ", the original run ended with " +
                       std::to_string(r.original_exit.shell_status())});
  for (const auto& p : r.probe_mismatches) out.push_back({VerifyFinding::Kind::Probe, "", "probe " + p});
  if (!out.empty() && !job.host_network)
    out.push_back({VerifyFinding::Kind::Network, "",
                   "the run had loopback only, in a network of its own (--network none): a program that reaches a "
                   "server outside it fails here"});
  return out;
}

namespace {

// Did the program make `path` during the trace: create or write it, or create a directory above
// it? Then the source has it only because the trace ran there: it is an output, which the minimal
// run looks for before making it (git clone DIR stats DIR), not something the image lacks.
bool made_by_trace(const TraceLog& trace, const std::string& path) {
  for (std::string p = path;; p = dirname_of(p)) {
    auto it = trace.paths.find(p);
    if (it != trace.paths.end()) {
      const AccessSet& s = it->second.succeeded;
      if (s.has(AccessKind::Create) || (p == path && (s.has(AccessKind::Write) || s.has(AccessKind::Rename))))
        return true;
    }
    if (p == "/" || p.empty()) return false;
  }
}

// Paths the minimal run could not find that the source root has: what repair adds.
std::vector<std::pair<std::string, int>> repair_candidates(const VerifyReport& r, const FileSet& set, const Root& root,
                                                           const TraceLog& trace) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [path, err] : r.errors) {
    if (err != ENOENT && err != ENOTDIR) continue;
    if (set.find(path) || set.is_excluded(path)) continue;
    if (made_by_trace(trace, path)) continue;
    if (!root.stat(path)) continue;  // the source has none either: an optional lookup
    out.emplace_back(path, err);
  }
  return out;
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

Result<VerifyReport> verify_in_image_tree(const FileSet& set, const Root& source, const Job& job,
                                          const std::vector<std::string>& command, const std::optional<TraceLog>& original,
                                          const std::string& beside, const Policy* policy) {
  // The sandbox maps the image's ids to kSandboxUidBase + id and the tree's owners are shifted the
  // same way: both take root. Said as such, not as the chown that would fail.
  if (::geteuid() != 0)
    return Error{0, "sandbox", "",
                 "needs root (the program runs as the image's user in a user namespace, and minify runs as uid " +
                     std::to_string(::geteuid()) + "): run minify as root, or pass --no-verify"};
  // The tree the layer holds, its owners shifted into the sandbox's ids, written for this run
  // and removed after it: rootfs/ is never touched, and what the program writes goes nowhere.
  auto tree = AtomicDir::create(beside + ".verify");
  if (!tree) return tree.error();
  RootfsOptions ropt;
  ropt.owner_shift = kSandboxUidBase;
  ropt.source_date_epoch = job.source_date_epoch;
  if (auto st = write_rootfs(set, source, tree->path() + "/root", ropt); !st) return st.error();
  VerifyOptions v;
  v.sandbox = sandbox_options(job, tree->path() + "/root");
  v.sandbox.user = job.image.user;
  if (policy) {
    // Under the policy, as the runtime will apply it (the profile beside the tree, out of reach).
    std::string profile = tree->path() + "/seccomp.json";
    if (auto st = write_file_atomic(profile, seccomp_profile(*policy).dump(2) + "\n"); !st) return st.error();
    v.sandbox.seccomp_profile = profile;
    v.sandbox.read_only_root = policy->read_only_root;
    if (policy->read_only_root) v.sandbox.tmpfs = policy->writable;
    v.sandbox.capabilities = policy->capabilities;
  }
  v.command = command;
  v.timeout = job.timeout;
  v.grace = job.grace;
  v.probe_urls = job.probes;
  v.tracer = job.tracer;
  v.original = original;
  if (job.interrupted) v.cancelled = [&job] { return job.interrupted() != 0; };
  auto rep = verify(v);
  if (!rep) return rep.error();
  // What --exclude, the output itself or a withholding rule left out on purpose is not missing.
  std::erase_if(rep->missing, [&](const std::string& p) { return set.is_excluded(p); });
  return rep;
}

namespace {

// A base named with --base that carries glibc replaces the closure's: refuse it when something that
// runs needs a newer glibc than the base's, as ld.so would refuse to start it there. (A base minify
// picks itself is scratch in that case: inspect's choice.)
Status refuse_older_base_glibc(Base base, const Analysis& analysis) {
  if (base != Base::DistrolessBase && base != Base::DistrolessCc) return Ok{};
  for (const auto& p : analysis.programs) {
    if (!p.closure) continue;
    BaseGlibcCheck check = minify::check_base_glibc(*p.closure, kDistrolessGlibc);
    if (check.ok) continue;
    std::string lines;
    for (const auto& l : check.too_new) lines += (lines.empty() ? "" : "; ") + l;
    return bad_input("--base", std::string(base_name(base)),
                     "its glibc " + std::string(kDistrolessGlibc) + " is older than " + p.path + " needs (" + lines +
                         "); use --base scratch to ship the closure's own glibc, or leave --base out");
  }
  return Ok{};
}

// Stages 2 and 3: analysis, file set, base and image config, for the trace and the paths repair
// added so far.
Status build(const Job& job, const Root& root, const std::vector<std::string>& env, Minimized& m, Context& ctx) {
  std::vector<std::pair<std::string, std::string>> programs = {{m.program, "the program"}};
  if (m.trace)
    for (auto& p : traced_programs(*m.trace)) programs.push_back(std::move(p));
  AnalyzeOptions aopt;
  aopt.env.ld_library_path = split_ld_library_path(env_value(env, "LD_LIBRARY_PATH"));
  aopt.implicit = job.collect.implicit;
  // Repaired ELF files bring their closure: they are analysed as programs that run.
  for (const auto& r : m.repairs) programs.emplace_back(r.path, "repair, round " + std::to_string(r.round));
  Analysis analysis = analyze(root, programs, aopt, ctx);
  CollectOptions copt = job.collect;
  for (auto& p : outputs_inside_root(job, root)) copt.exclude_paths.push_back(std::move(p));
  copt.image_user = job.image.user;
  copt.uid_shift = job.uid_shift;
  for (const auto& r : m.repairs) copt.repairs.emplace_back(r.path, "repair, round " + std::to_string(r.round) + ": " + r.why);
  auto collected = build_fileset(root, analysis, m.trace ? &*m.trace : nullptr, copt, ctx);
  if (!collected) return collected.error();
  m.collected = std::move(*collected);
  FileSet& set = m.collected.set;
  m.times.packages += m.collected.package_seconds;

  const ProgramAnalysis& main_prog = analysis.programs.front();
  if (job.base) {
    m.base = *job.base;
    if (auto st = refuse_older_base_glibc(m.base, analysis); !st) return st;
  } else if (main_prog.report) {
    m.base = main_prog.report->base.base;
    m.base_why = main_prog.report->base.why;
  }
  if (m.base == Base::Scratch)
    if (auto st = add_scratch_basics(set); !st) return st;

  m.image = job.image;
  m.image.env = env;
  if (m.image.entrypoint.empty() && m.image.cmd.empty()) {
    m.image.entrypoint = {m.program};
    m.image.cmd.assign(job.command.begin() + 1, job.command.end());
  }
  // The ports the program listened on during the trace (EXPOSE, ExposedPorts), after the image's.
  if (m.trace)
    for (const auto& l : m.trace->listens) {
      std::string port = std::to_string(l.port) + "/" + l.proto;
      auto& ports = m.image.exposed_ports;
      if (std::find(ports.begin(), ports.end(), port) == ports.end() &&
          (l.proto != "tcp" || std::find(ports.begin(), ports.end(), std::to_string(l.port)) == ports.end()))
        ports.push_back(std::move(port));
    }
  // The program's architecture; a script's is its interpreter's (the first ELF program that ran).
  for (const auto& p : analysis.programs)
    if (m.image.architecture.empty() && p.closure && !p.closure->objects.empty() && p.closure->objects[0].elf) {
      auto [arch, variant] = oci_platform(p.closure->objects[0].elf->ident);
      m.image.architecture = arch;
      m.image.variant = variant;
    }
  if (auto st = add_image_entries(set, root, m.image); !st) return st;
  restore_unpacked_metadata(set, job);
  return ctx.checkpoint();
}

// Stage 4: every output, into the staging area.
Status write_outputs(const Job& job, const Root& root, const std::vector<std::string>& command, StagedOutputs& out,
                     Minimized& m, Context& ctx) {
  const FileSet& set = m.collected.set;
  const std::string& dir = out.dir();
  std::error_code ec;
  fs::remove_all(dir + "/rootfs", ec);  // a repair round rewrites it
  // rootfs/ with the layer's owners when we may set them (as `tar -x` by root does): a directory
  // handed to the image's user is its own here too.
  RootfsOptions ropt;
  ropt.source_date_epoch = job.source_date_epoch;
  if (::geteuid() == 0) ropt.owner_shift = 0;
  ropt.progress = ctx.progress_fn();
  if (auto st = write_rootfs(set, root, dir + "/rootfs", ropt); !st) return st;
  if (job.out.dockerfile) {
    // The runner stage leaves out what the base provides, by need (the base is pinned once,
    // in minimize()).
    RunnerPlanOptions popt;
    popt.base = m.base;
    popt.root = &root;
    popt.packages = &m.collected.package_db;
    popt.outputs = outputs_inside_root(job, root);
    m.runner = plan_runner(set, popt);
    m.build_command = build_command(dockerfile_context(job));
    fs::remove_all(dir + "/generated", ec);
    if (auto st = write_generated(set, m.runner, &root, dir + "/generated"); !st) return st;
    fs::remove_all(dir + "/writable", ec);
    if (auto st = write_writable(set, m.runner, dir + "/writable"); !st) return st;
    if (auto st = write_file_atomic(dir + "/Dockerfile", render_dockerfile(set, dockerfile_options(job, m))); !st) return st;
  }
  if (auto st = write_report_json(m, root, dir, false, false); !st) return st;
  if (m.trace)
    if (auto st = write_file_atomic(dir + "/trace.json", to_json(*m.trace).dump(2) + "\n"); !st) return st;
  if (auto st = write_file_atomic(dir + "/run.json", run_json(m, command, job.workdir.empty() ? "/" : job.workdir)); !st)
    return st;
  // The SBOM before the image, whose config names its digest.
  if (!job.out.sbom.empty()) {
    SbomOptions sopt;
    sopt.subject = !job.out.sbom_subject.empty() ? job.out.sbom_subject
                   : !job.out.tag.empty()        ? job.out.tag
                                                 : basename_of(m.program);
    sopt.container = job.out.sbom_container;
    sopt.os_packages = contributing_packages(m.collected.package_db, m.collected.packages);
    auto sbom = collect_sbom(set, root, sopt, &ctx);
    if (!sbom) return sbom.error();
    auto digest = write_sbom(render_sbom(*sbom, job.out.sbom_format, job.source_date_epoch), out.staged(job.out.sbom));
    if (!digest) return digest.error();
    m.sbom_digest = *digest;
    m.image.labels[kSbomDigestLabel] = *digest;
  }
  if (!job.out.tar.empty()) {
    TarOptions topt;
    topt.source_date_epoch = job.source_date_epoch;
    topt.progress = ctx.progress_fn();
    if (auto r = write_tar(set, root, out.staged(job.out.tar), topt); !r) return r.error();
  }
  if (!job.out.image.empty()) {
    OciOptions oopt;
    oopt.compression = job.out.zstd ? Compression::Zstd : Compression::Gzip;
    oopt.source_date_epoch = job.source_date_epoch;
    oopt.tag = job.out.tag;
    oopt.progress = ctx.progress_fn();
    const std::string& file = out.staged(job.out.image);
    auto r = job.out.image_format == ImageArchiveFormat::Docker ? write_docker_archive(set, root, file, m.image, oopt)
                                                                : write_oci(set, root, file, m.image, oopt);
    if (!r) return r.error();
    m.image_digests = *r;
  }
  return Ok{};
}

// The directory a trace on the host ran in when no --workdir was given (the caller's), when
// the program used something below it other than what it executed (read, listed, wrote,
// created, tested): it named those paths relative to it, or found them through it. Writes
// count as much as reads: `openssl req -keyout key.pem` only creates files there, and run
// from / as the image's user it cannot. The tracer records absolute paths only, so this is
// the evidence there is.
std::optional<std::string> implied_workdir(const Job& job, const Root& root, const TraceLog& trace) {
  if (!job.workdir.empty() || !job.image.working_dir.empty() || !root.is_host()) return std::nullopt;
  std::error_code ec;
  std::string cwd = fs::current_path(ec).string();
  if (ec || cwd == "/") return std::nullopt;
  std::set<std::string> executed;
  for (const auto& e : trace.execs) {
    executed.insert(e.path);
    executed.insert(e.interpreters.begin(), e.interpreters.end());
  }
  for (const auto& [path, use] : trace.paths)
    if (path.size() > cwd.size() && path.compare(0, cwd.size(), cwd) == 0 && path[cwd.size()] == '/' &&
        !executed.count(path) && use.any_succeeded())
      return cwd;
  return std::nullopt;
}

}  // namespace

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
  std::vector<std::string> command = sandbox_argv(job, m.program);

  // 0. The outputs, checked and locked before anything runs: a refused -o costs no trace.
  std::vector<std::string> protect = job.protected_paths;
  if (!root->is_host()) protect.push_back(root->host_dir());
  protect.push_back(root->host_path(dirname_of(m.program)));
  auto out = StagedOutputs::prepare(job, protect, ctx);
  if (!out) return out.error();

  // 1. Trace: what the program touches while it runs.
  auto t0 = Clock::now();
  if (job.trace) {
    ctx.note("trace", "tracing " + command_line(job.command));
    ctx.progress({"trace", m.program, 0, 0, false});
    auto log = runner.run(job, *root, m.program);
    ctx.progress({"trace", m.program, 0, 0, true});
    if (auto st = interrupted(job); !st) return st.error();
    if (!log) return log.error();
    if (!log->fallback.empty()) ctx.note("trace", "using ptrace: the eBPF tracer is not available: " + log->fallback);
    bool stopped = log->stopped_by != StopReason::None;
    if (!stopped && log->exit.shell_status() != job.expect_exit) {
      m.self_failed = m.program + " ended with status " + std::to_string(log->exit.shell_status()) +
                      " while traced, on its own" +
                      (job.expect_exit ? " (expected " + std::to_string(job.expect_exit) + ")" : "") +
                      "; --expect-exit N accepts another status";
      ctx.warn("trace", *m.self_failed + "; packing what it used");
    }
    for (const auto& p : log->probes)
      if (!p.error.empty()) ctx.warn("trace", "probe " + p.url + ": " + p.error);
    m.trace = std::move(*log);
  }
  m.times.trace = seconds_since(t0);

  // The image's WorkingDir when none is given: the directory the program ran in, when it used
  // files there (`python3 app.py`, gunicorn importing app:app from it). Verify runs it there too.
  Job with_workdir;
  if (m.trace)
    if (auto wd = implied_workdir(job, *root, *m.trace)) {
      ctx.note("pack", "WorkingDir " + *wd + ": the program ran there and used files under it (--workdir sets another)");
      with_workdir = job;
      with_workdir.workdir = with_workdir.image.working_dir = *wd;
    }
  const Job& run = with_workdir.command.empty() ? job : with_workdir;

  for (int round = 0;; ++round) {
    // 2-3. Analyse what ran, merge it with the trace into the file set; base and image config.
    auto t1 = Clock::now();
    if (auto st = build(run, *root, env, m, ctx); !st) return st.error();
    if (auto st = interrupted(run); !st) return st.error();
    m.times.analyze += seconds_since(t1);

    // 4. Every output, staged. The Dockerfile's FROM is pinned by digest, once.
    auto t2 = Clock::now();
    if (round == 0 && run.out.dockerfile) {
      auto pin = pin_base(m.base, run.pin_digest, run.resolve_digest);
      if (!pin) return pin.error();
      m.pin = std::move(*pin);
      if (m.base != Base::Scratch && m.pin.digest.empty())
        ctx.warn("pack", "no digest of " + base_image(m.base) +
                             " is known: the FROM line carries the tag alone (--pin-digest sha256:..., or "
                             "--resolve-digest with registry access)");
    }
    if (auto st = write_outputs(run, *root, command, *out, m, ctx); !st) return st.error();
    if (auto st = interrupted(run); !st) return st.error();
    m.times.pack += seconds_since(t2);

    // 5. Verify: the program once more, in the image's tree, as the image runs it.
    if (!m.trace || !run.verify) break;
    auto t3 = Clock::now();
    ctx.note("verify", "verifying: running " + command_line(command) + " in the image's tree as " +
                           (m.image.user.empty() ? "root" : m.image.user));
    if (!run.out.policy.empty()) {
      auto policy = derive_policy({&*m.trace, &*root, m.image.user, &run.special_modes, &m.collected.set, m.image.architecture});
      if (!policy) return policy.error();
      m.policy = std::move(*policy);
    }
    auto rep = verify_in_image_tree(m.collected.set, *root, run, command, m.trace, run.out.dir.empty() ? "minify-out" : run.out.dir,
                                    m.policy ? &*m.policy : nullptr);
    m.times.verify += seconds_since(t3);
    if (auto st = interrupted(run); !st) return st.error();
    if (!rep) {
      m.verify_error = rep.error();
      m.verify.reset();
      break;
    }
    if (round == 0 && !rep->run.fallback.empty())
      ctx.note("verify", "verify uses ptrace: the eBPF tracer is not available: " + rep->run.fallback);
    m.findings = verify_findings(*rep, run, m.image.user.empty() ? "root" : m.image.user);
    bool ok = rep->ok();
    m.verify = std::move(*rep);
    if (ok) break;
    // Repair: what the minimal run could not find and the source has goes in; then again.
    auto add = repair_candidates(*m.verify, m.collected.set, *root, *m.trace);
    if (add.empty()) break;
    if (round >= run.repair_rounds) {
      // Name them: the original run may never have asked for them (it ran as another user).
      for (const auto& [path, err] : add) {
        const std::string& wanted = path;  // clang 14 cannot capture a structured binding
        if (std::none_of(m.findings.begin(), m.findings.end(),
                         [&](const VerifyFinding& f) { return f.path == wanted; }))
          m.findings.insert(m.findings.begin(), {VerifyFinding::Kind::Missing, path,
                                                 "missing " + path + " (the minimal run got " + errno_name(err) +
                                                     " for it; the source has it" +
                                                     (run.repair_rounds == 0 ? "; repair is off)" : ")")});
      }
      break;
    }
    for (const auto& [path, err] : add) {
      std::string why = "the minimal run got " + errno_name(err) + " for it";
      m.repairs.push_back({round + 1, path, why});
      ctx.note("repair", "repair, round " + std::to_string(round + 1) + ": adding " + path + " (" + why + ")");
    }
  }

  // report.json once more, now with the time of every phase (a few ms: no hashing).
  if (auto st = write_report_json(m, *root, out->dir(), true, m.verify || m.verify_error); !st) return st.error();

  // 6. Commit, or keep what was written under OUT.failed and leave the previous output alone.
  bool verified = !run.verify || !m.trace || (m.verify && m.verify->ok());
  if (verified) {
    if (auto st = out->commit(); !st) return st.error();
    m.committed = true;
    if (m.policy)
      if (auto st = write_policy(*m.policy, run.out.policy, run.out.tag.empty() ? "IMAGE" : run.out.tag); !st)
        return st.error();
  } else {
    auto failed = out->fail({{"verify.json", verify_json(m)}});
    if (!failed) return failed.error();
    m.failed_dir = *failed;
  }
  return m;
}

}  // namespace minify
