// What the commands that run a program share: --timeout/--grace, SOURCE_DATE_EPOCH, the sandbox
// launcher's entry point, scratch directories, and the verify verdict's lines.
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"

namespace minify::cli {

Status parse_run_limits(const std::string& timeout, const std::string& grace, Job& job) {
  if (!timeout.empty()) {
    auto d = parse_duration(timeout);
    if (!d) return d.error();
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

void print_verify(const VerifyReport& r, const std::string& root_desc) {
  for (const auto& m : r.missing)
    std::cerr << "minify: verify: missing " << m << " (opened by the original run, not in " << root_desc << ")\n";
  if (!r.exit_matches)
    std::cerr << "minify: verify: exit status " << r.run.exit.shell_status() << ", the original run ended with "
              << r.original_exit.shell_status() << "\n";
  for (const auto& p : r.probe_mismatches) std::cerr << "minify: verify: probe " << p << "\n";
  if (r.ok())
    std::cerr << "minify: verify: ok (exit status " << r.run.exit.shell_status() << ", nothing missing)\n";
  else
    std::cerr << "minify: verify: FAILED\n";
}

}  // namespace minify::cli
