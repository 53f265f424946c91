// `minify image IN -o OUT`: shrink an existing image without a Docker daemon. Unpack it, trace
// its configured command inside the sandbox, compute the file set within that root (the same
// analyze -> build_fileset stages as `minify pack`), write OUT (OCI archive or docker-archive)
// and the pack command's output directory (rootfs/, report.json, trace.json), then verify.
// `minify verify`: run a command in a minimized root, sandboxed and traced, and compare with
// the original trace. `minify __sandbox-exec` is the sandbox launcher (hidden).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "minify/collect.hpp"
#include "minify/image.hpp"
#include "minify/pack.hpp"
#include "minify/sandbox.hpp"
#include "minify/sbom.hpp"
#include "minify/verify.hpp"

namespace minify::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ImageOptions {
  std::string sbom, sbom_format = "cyclonedx";
  std::string input, output, format = "oci", out_dir = "minify-out", work, platform, tag, out_tag;
  std::vector<std::string> entrypoint, cmd, env, probes, keep, exclude;
  std::string timeout, grace, network, max_size;
  bool no_verify = false, zstd = false, keep_work = false, map_root = false;
  PackageFlags packages;
};

std::string human(uint64_t b) {
  char buf[32];
  if (b >= 10ull << 20) std::snprintf(buf, sizeof buf, "%.0f MB", b / 1048576.0);
  else if (b >= 1ull << 20) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.0f KB", b / 1024.0);
  return buf;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// "K=V" list with later keys replacing earlier ones, in first-seen order.
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& more) {
  for (const auto& kv : more) {
    std::string key = kv.substr(0, kv.find('='));
    auto it = std::find_if(base.begin(), base.end(), [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    if (it != base.end()) *it = kv;
    else base.push_back(kv);
  }
  return base;
}

std::string env_value(const std::vector<std::string>& env, const std::string& key, const std::string& dflt) {
  for (const auto& kv : env)
    if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
  return dflt;
}

// argv[0] as a path inside the root, as execvp would find it with the program's PATH.
Result<std::string> locate_in_root(const Root& root, const std::string& program, const std::string& workdir,
                                   const std::string& path_var) {
  if (program.find('/') != std::string::npos) {
    std::string p = normalize_path(program[0] == '/' ? program : join_path(workdir.empty() ? "/" : workdir, program));
    if (auto st = root.stat(p); !st) return st.error();
    return p;
  }
  if (auto found = root.find_in_path(program, path_var)) return *found;
  return bad_input("find program", program, "not found in the image's PATH (" + path_var + ")");
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

// Removes a directory tree on destruction unless kept.
struct WorkDir {
  std::string path;
  bool keep = false;
  ~WorkDir() {
    std::error_code ec;
    if (!path.empty() && !keep) fs::remove_all(path, ec);
  }
};

Result<std::string> make_work_dir(const std::string& requested) {
  if (!requested.empty()) {
    std::error_code ec;
    fs::create_directories(requested, ec);
    if (ec) return Error{ec.value(), "create", requested, {}};
    return fs::absolute(requested).string();
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/var/tmp") + "/minify-image-XXXXXX";
  if (!::mkdtemp(templ.data())) return sys_error("create", templ);
  ::chmod(templ.c_str(), 0755);  // the sandbox's root user must be able to enter it
  return templ;
}

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

void print_verify(const VerifyReport& r, const std::string& root_desc) {
  for (const auto& m : r.missing) std::cerr << "minify: verify: missing " << m << " (opened by the original run, not in " << root_desc << ")\n";
  if (!r.exit_matches)
    std::cerr << "minify: verify: exit status " << r.run.exit.shell_status() << ", the original run ended with "
              << r.original_exit.shell_status() << "\n";
  for (const auto& p : r.probe_mismatches) std::cerr << "minify: verify: probe " << p << "\n";
  if (r.ok())
    std::cerr << "minify: verify: ok (exit status " << r.run.exit.shell_status() << ", nothing missing)\n";
}

Result<std::optional<std::chrono::milliseconds>> opt_duration(const std::string& s) {
  if (s.empty()) return std::optional<std::chrono::milliseconds>{};
  auto d = parse_duration(s);
  if (!d) return d.error();
  return std::optional<std::chrono::milliseconds>{*d};
}

int run_image(ImageOptions& o) {
  auto fail = [](const Error& e, int code = kExitBadInput) {
    print_error(e.message());
    return code;
  };
  if (o.format != "oci" && o.format != "docker") return fail(bad_input("--format", o.format, "expected oci or docker"));
  auto sbom_format = parse_sbom_format(o.sbom_format);
  if (!sbom_format) return fail(bad_input("--sbom-format", o.sbom_format, "expected cyclonedx or spdx"));
  auto timeout = opt_duration(o.timeout);
  if (!timeout) return fail(timeout.error());
  auto grace = opt_duration(o.grace);
  if (!grace) return fail(grace.error());
  auto wd = make_work_dir(o.work);
  if (!wd) return fail(wd.error());
  WorkDir work{*wd, o.keep_work || !o.work.empty()};

  // 1. Unpack: the image's layers, in order, into a confined scratch root.
  auto t0 = Clock::now();
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
  uo.uid_shift = o.map_root ? 0 : 100000;
  std::string root_dir = work.path + "/root";
  auto unpacked = unpack_layers(*image, root_dir, uo);
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
  double t_unpack = seconds_since(t0);
  auto root = Root::open(root_dir);
  if (!root) return fail(root.error());

  // 2. The command and its environment: the image's config, overridden by the options.
  ImageConfig config = image->config;
  if (!o.entrypoint.empty()) {
    config.entrypoint = o.entrypoint;
    if (o.cmd.empty()) config.cmd.clear();  // docker run --entrypoint resets CMD too
  }
  if (!o.cmd.empty()) config.cmd = o.cmd;
  config.env = merge_env(config.env, o.env);
  if (env_value(config.env, "PATH", "").empty())
    config.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  config.created_by = "minify image";
  if (config.architecture.empty()) config.architecture = "amd64";
  std::vector<std::string> command = config.entrypoint;
  command.insert(command.end(), config.cmd.begin(), config.cmd.end());
  if (command.empty()) return fail(bad_input("run", o.input, "the image has no Entrypoint or Cmd; give --entrypoint/--cmd"));
  std::string workdir = config.working_dir.empty() ? "/" : config.working_dir;
  auto program = locate_in_root(*root, command[0], workdir, env_value(config.env, "PATH", ""));
  if (!program) return fail(program.error());

  SandboxOptions sb;
  sb.rootfs = root_dir;
  sb.env = config.env;
  sb.workdir = workdir;
  sb.user = config.user;
  sb.host_network = o.network == "host";
  sb.map_root_to_root = o.map_root;

  // 3. Trace the configured command inside the sandbox.
  auto t1 = Clock::now();
  TraceOptions topt;
  topt.command = command;
  topt.timeout = *timeout;
  if (*grace) topt.grace = **grace;
  topt.probe_urls = o.probes;
  std::cerr << "minify: tracing";
  for (const auto& c : command) std::cerr << " " << c;
  std::cerr << " in the sandbox\n";
  auto trace = run_sandboxed(sb, topt);
  if (!trace) return fail(trace.error());
  if (trace->exit.shell_status() != 0 && trace->stopped_by == StopReason::None)
    print_warning(command[0] + " exited with status " + std::to_string(trace->exit.shell_status()) +
                  " while traced; packing what it used");
  for (const auto& p : trace->probes)
    if (!p.error.empty()) print_warning("probe " + p.url + ": " + p.error);
  double t_trace = seconds_since(t1);

  // 4. Analyse what ran and merge with the trace, as `minify pack` does.
  auto t2 = Clock::now();
  std::vector<std::pair<std::string, std::string>> programs = {{*program, "the program"}};
  for (auto& p : traced_programs(*trace)) programs.push_back(std::move(p));
  LoaderEnv loader_env;
  loader_env.ld_library_path = split_ld_library_path(env_value(config.env, "LD_LIBRARY_PATH", ""));
  Analysis analysis = analyze(*root, programs, {loader_env, true});
  CollectOptions copt;
  copt.keep = o.keep;
  copt.exclude = o.exclude;
  copt.packages = package_selection(o.packages);
  // The image's users and groups: its User may be a name.
  for (const char* f : {"/etc/passwd", "/etc/group"})
    if (root->stat(f, FollowLast::No)) copt.keep.push_back(f);
  auto collected = build_fileset(*root, analysis, &*trace, copt);
  if (!collected) return fail(collected.error());
  for (const auto& w : collected->warnings) print_warning(w);
  FileSet& set = collected->set;
  if (auto st = add_scratch_basics(set); !st) return fail(st.error());
  // The WorkingDir itself (not its contents: those are in when the program used them).
  if (workdir != "/" && !set.find(workdir)) {
    auto st = root->stat(workdir);
    if (auto d = set.add_directory(workdir, st && S_ISDIR(st->st_mode) ? st->st_mode & 07777 : 0755,
                                   {ReasonKind::Implicit, "the image's WorkingDir"});
        !d)
      return fail(d.error());
  }
  // Owners were shifted on disk while unpacking; the output carries the image's own.
  unshift_owners(set, uo.uid_shift);
  // Setuid/setgid bits were cleared on disk while unpacking; the output carries them again.
  for (const auto& [path, mode] : unpacked->special_modes)
    if (const Entry* e = set.find(path); e && e->type == EntryType::File) {
      Entry copy = *e;
      copy.mode = mode;
      set.put(std::move(copy));
    }

  // 5. Write the image and the output directory.
  int64_t epoch = 0;
  if (const char* sde = std::getenv("SOURCE_DATE_EPOCH")) {
    auto e = parse_source_date_epoch(sde);
    if (!e) return fail(e.error());
    epoch = *e;
  }
  // The SBOM first: the image's config carries its digest.
  if (!o.sbom.empty()) {
    SbomOptions sopt;
    sopt.subject = o.out_tag.empty() ? fs::path(o.output).filename().string() : o.out_tag;
    sopt.container = true;
    auto digest = write_cli_sbom(set, *root, *collected, sopt, *sbom_format,
                                 std::getenv("SOURCE_DATE_EPOCH") ? std::optional<int64_t>(epoch) : std::nullopt, o.sbom);
    if (!digest) return fail(digest.error());
    config.labels[kSbomDigestLabel] = *digest;
  }
  OciOptions oopt;
  oopt.compression = o.zstd ? Compression::Zstd : Compression::Gzip;
  oopt.mtime = epoch;
  oopt.tag = o.out_tag;
  auto digests = o.format == "docker" ? write_docker_archive(set, *root, o.output, config, oopt)
                                      : write_oci(set, *root, o.output, config, oopt);
  if (!digests) return fail(digests.error());
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return fail(Error{ec.value(), "create", o.out_dir, {}});
  // Owned as the scratch root is, so that verify's sandbox sees the image's own owners.
  if (auto st = write_rootfs(set, *root, o.out_dir + "/rootfs", {uo.uid_shift}); !st) return fail(st.error());
  ReportOptions ropt;
  ropt.packages = &collected->packages;
  if (auto st = write_report(set, &*root, o.out_dir + "/report.json", ropt); !st) return fail(st.error());
  if (auto st = write_text(o.out_dir + "/trace.json", to_json(*trace).dump(2) + "\n"); !st) return fail(st.error());
  // How the program ran, so that `minify verify -o DIR` runs it the same way.
  nlohmann::json run = {{"command", command}, {"env", config.env}, {"workdir", workdir}, {"user", config.user}};
  if (auto st = write_text(o.out_dir + "/run.json", run.dump(2) + "\n"); !st) return fail(st.error());
  double t_pack = seconds_since(t2);

  // 6. The summary: sizes before and after, what was left out, where the time went.
  Totals tot = set.totals();
  std::cerr << "minify: " << image_format_name(image->format) << " " << o.input << ": " << image->layers.size()
            << " layers, " << human(image->compressed_bytes()) << " compressed, " << human(unpacked->bytes)
            << " unpacked\n";
  std::cerr << "minify: wrote " << o.output << " (" << (o.format == "docker" ? "docker-archive" : "oci-archive")
            << ", " << digests->manifest << "): " << tot.files << " files, " << human(digests->layer.size)
            << " compressed, " << human(digests->layer.tar_size) << " uncompressed\n";
  auto left = largest_left_out(set, root_dir, 10);
  if (!left.empty()) {
    std::cerr << "minify: largest files left out:\n";
    for (const auto& [size, path] : left) std::cerr << "  " << human(size) << "  " << path << "\n";
  }
  if (auto p = package_summary(collected->packages, collected->package_seconds); !p.empty())
    std::cerr << "minify: packages: " << p << "\n";
  for (const auto& m : collected->missing) std::cerr << "minify: " << m << ": not found\n";
  // Where the time went, last, so that it includes the verify run (scripts/bench image reads it).
  auto print_times = [&](const char* verify_time) {
    char times[200];
    std::snprintf(times, sizeof times, "minify: time: unpack %.2fs, trace %.2fs, pack %.2fs, verify %s\n", t_unpack,
                  t_trace, t_pack, verify_time);
    std::cerr << times;
  };

  // 7. Run the result once: the minimized root, the same command, compared with the trace.
  if (!o.no_verify) {
    VerifyOptions v;
    v.sandbox = sb;
    v.sandbox.rootfs = o.out_dir + "/rootfs";
    v.command = command;
    v.timeout = *timeout;
    if (*grace) v.grace = **grace;
    v.probe_urls = o.probes;
    v.original = *trace;
    auto t3 = Clock::now();
    auto report = verify(v);
    char took[32];
    std::snprintf(took, sizeof took, "%.2fs", seconds_since(t3));
    print_times(took);
    if (!report) return fail(report.error(), kExitMissing);
    print_verify(*report, o.out_dir + "/rootfs");
    if (!report->ok()) return kExitMissing;
  } else {
    print_times("skipped");
  }
  return collected->missing.empty() ? kExitOk : kExitMissing;
}

struct VerifyCliOptions {
  std::string out_dir, rootfs, image, trace_file, timeout, grace, network, workdir, user, platform, tag;
  std::vector<std::string> probes, env, command;
  bool map_root = false;
};

int run_verify(VerifyCliOptions& o) {
  auto fail = [](const Error& e) {
    print_error(e.message());
    return kExitBadInput;
  };
  int given = !o.out_dir.empty() + !o.rootfs.empty() + !o.image.empty();
  if (given != 1) return fail(bad_input("verify", "", "give exactly one of -o DIR, --rootfs DIR, --image FILE"));
  VerifyOptions v;
  auto timeout = opt_duration(o.timeout);
  if (!timeout) return fail(timeout.error());
  v.timeout = *timeout;
  auto grace = opt_duration(o.grace);
  if (!grace) return fail(grace.error());
  if (*grace) v.grace = **grace;
  v.probe_urls = o.probes;
  v.sandbox.host_network = o.network == "host";
  v.sandbox.map_root_to_root = o.map_root;
  std::vector<std::string> env = o.env;
  std::string workdir = o.workdir, user = o.user;
  std::optional<WorkDir> work;
  if (!o.out_dir.empty()) {
    v.sandbox.rootfs = o.out_dir + "/rootfs";
    if (o.trace_file.empty() && fs::exists(o.out_dir + "/trace.json")) o.trace_file = o.out_dir + "/trace.json";
    // Written by `minify image`: the image's command, Env, WorkingDir and User; options win.
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
    v.sandbox.rootfs = o.rootfs;
  } else {
    auto wd = make_work_dir("");
    if (!wd) return fail(wd.error());
    work.emplace();
    work->path = *wd;
    auto image = open_image(o.image, *wd, {o.tag, o.platform});
    if (!image) return fail(image.error());
    UnpackOptions uo;
    uo.uid_shift = o.map_root ? 0 : 100000;
    auto un = unpack_layers(*image, *wd + "/root", uo);
    if (!un) return fail(un.error());
    v.sandbox.rootfs = *wd + "/root";
    env = merge_env(image->config.env, env);
    if (workdir.empty()) workdir = image->config.working_dir;
    if (user.empty()) user = image->config.user;
    if (o.command.empty()) {
      o.command = image->config.entrypoint;
      o.command.insert(o.command.end(), image->config.cmd.begin(), image->config.cmd.end());
    }
  }
  if (!o.trace_file.empty()) {
    auto t = read_trace(o.trace_file);
    if (!t) return fail(t.error());
    v.original = std::move(*t);
    if (o.command.empty()) o.command = v.original->command;
  }
  if (o.command.empty()) return fail(bad_input("verify", "", "no command (give -- CMD...)"));
  if (env_value(env, "PATH", "").empty()) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  v.sandbox.env = env;
  v.sandbox.workdir = workdir.empty() ? "/" : workdir;
  v.sandbox.user = user;
  v.command = o.command;
  auto report = verify(v);
  if (!report) return fail(report.error());
  print_verify(*report, v.sandbox.rootfs);
  return report->ok() ? kExitOk : kExitMissing;
}

}  // namespace

Command add_image_command(CLI::App& app) {
  auto o = std::make_shared<ImageOptions>();
  CLI::App* sub = app.add_subcommand("image", "Shrink an image archive (docker-archive, OCI archive or layout) to what its command uses");
  sub->add_option("input", o->input, "docker save archive, OCI image archive or OCI layout directory")->required();
  sub->add_option("-o,--output", o->output, "The minimized image archive")->required();
  sub->add_option("--format", o->format, "oci (default) or docker");
  sub->add_option("--out-dir", o->out_dir, "Also write rootfs/, report.json, trace.json here (default minify-out)");
  sub->add_option("--entrypoint", o->entrypoint, "Override the image's Entrypoint (repeat for each word)")->allow_extra_args(false);
  sub->add_option("--cmd", o->cmd, "Override the image's Cmd (repeat for each word)")->allow_extra_args(false);
  sub->add_option("--env", o->env, "NAME=VALUE added to the image's Env (repeatable)")->allow_extra_args(false);
  sub->add_option("--probe", o->probes, "Wait until this http:// URL answers inside the sandbox, then stop (repeatable)")->allow_extra_args(false);
  sub->add_option("--timeout", o->timeout, "Stop the program after this long: 10s, 2m");
  sub->add_option("--grace", o->grace, "Delay between SIGTERM and SIGKILL (default 3s)");
  sub->add_option("--keep", o->keep, "Also ship this path or glob (repeatable)")->allow_extra_args(false);
  sub->add_option("--exclude", o->exclude, "Never ship paths matching this glob (repeatable)")->allow_extra_args(false);
  sub->add_option("--platform", o->platform, "os/arch[/variant] to pick from a multi-platform index");
  sub->add_option("--tag", o->tag, "The image to pick by tag from an archive holding several");
  sub->add_option("--out-tag", o->out_tag, "name:tag recorded in the output archive");
  sub->add_option("--sbom", o->sbom, "Also write an SBOM of the minimized image (its config gets the SBOM's digest as a label)");
  sub->add_option("--sbom-format", o->sbom_format, "cyclonedx (CycloneDX 1.5 JSON, default) or spdx (SPDX 2.3 JSON)");
  sub->add_option("--network", o->network, "host: share the host's network (default: loopback only)");
  sub->add_option("--work", o->work, "Unpack here (kept) instead of a temporary directory");
  sub->add_option("--max-size", o->max_size, "Refuse images unpacking to more bytes than this");
  sub->add_flag("--zstd", o->zstd, "Compress the layer with zstd");
  sub->add_flag("--no-verify", o->no_verify, "Do not run the minimized image once to check it");
  sub->add_flag("--map-root", o->map_root, "Map root in the sandbox to host root (default: host uid 100000)");
  add_package_flags(sub, o->packages);
  return {sub, [o] { return run_image(*o); }};
}

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
  sub->add_option("--network", o->network, "host: share the host's network (default: loopback only)");
  sub->add_option("--platform", o->platform, "With --image: os/arch to pick");
  sub->add_option("--tag", o->tag, "With --image: the image to pick by tag");
  sub->add_flag("--map-root", o->map_root, "Map root in the sandbox to host root");
  sub->add_option("command", o->command, "-- CMD [ARGS...]");
  sub->positionals_at_end();
  // The sandbox launcher, `minify verify __sandbox-exec ROOTFS [OPTIONS] -- CMD...`, hidden under
  // verify so that the top-level command list stays as it is.
  CLI::App* exec = sub->add_subcommand("__sandbox-exec", "");
  exec->group("");
  exec->prefix_command();
  return {sub, [o, exec] {
            if (exec->parsed()) return sandbox_exec_main(exec->remaining());
            return run_verify(*o);
          }};
}

}  // namespace minify::cli
