// StagedOutputs (outputs.hpp): the checks on a job's outputs, the lock, staging and commit.
#include "pipeline/outputs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace minify {

namespace {

namespace fs = std::filesystem;

// The absolute, symlink-free form of a path that may not exist yet: its deepest existing
// ancestor resolved, the rest appended.
std::string resolved_path(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  fs::path rest;
  while (!p.empty() && p != p.root_path() && !fs::exists(fs::symlink_status(p, ec))) {
    rest = p.filename() / rest;
    p = p.parent_path();
  }
  fs::path real = fs::canonical(p, ec);
  if (ec) real = p;
  std::string s = (real / rest).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool is_under(const std::string& path, const std::string& dir) {
  return path == dir || dir == "/" || path.rfind(dir + "/", 0) == 0;
}

// Creates the missing parents of `path` and checks the last one can be written.
Status writable_parent(const std::string& path, const char* what) {
  std::error_code ec;
  fs::path parent = fs::absolute(path, ec).parent_path();
  fs::create_directories(parent, ec);
  if (ec) return Error{ec.value(), std::string("create the directory of ") + what, parent.string(), {}};
  if (::access(parent.c_str(), W_OK | X_OK) != 0) return sys_error(std::string("write ") + what + " into", parent.string());
  return Ok{};
}

}  // namespace

Result<StagedOutputs> StagedOutputs::prepare(const Job& job, const std::vector<std::string>& protect, Context& ctx) {
  StagedOutputs o;
  o.out_ = job.out.dir.empty() ? "minify-out" : job.out.dir;
  while (o.out_.size() > 1 && o.out_.back() == '/') o.out_.pop_back();
  std::string real_out = resolved_path(o.out_);
  if (real_out == "/") return bad_input("-o", o.out_, "refusing to write the output over /");
  for (const auto& p : protect) {
    if (p.empty()) continue;
    std::string real = resolved_path(p);
    if (is_under(real, real_out))
      return bad_input("-o", o.out_, "refusing to replace a directory that holds " + p + " (pick a new output directory)");
  }
  // One run at a time per output: the lock lives beside it, so it also covers a run that is
  // about to replace the directory itself. The checks below see what the previous run left.
  if (auto s = writable_parent(o.out_, "the output"); !s) return s.error();
  fs::path out_path = fs::absolute(o.out_);
  std::string lock = (out_path.parent_path() / ("." + out_path.filename().string() + ".lock")).string();
  o.lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (o.lock_fd_ < 0) return sys_error("create the lock", lock);
  if (::flock(o.lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return sys_error("lock", lock);
    ctx.note("outputs", "waiting for another minify run writing " + o.out_ + " (" + lock + ")");
    while (::flock(o.lock_fd_, LOCK_EX) != 0)
      if (errno != EINTR || (job.interrupted && job.interrupted())) return sys_error("lock", lock);
  }

  // An existing output is replaced only when minify wrote it (or it is empty): anything else
  // may be the user's.
  struct stat st;
  if (::lstat(o.out_.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return bad_input("-o", o.out_, "exists and is not a directory minify wrote (refusing to replace it)");
    std::error_code ec;
    bool empty = fs::is_empty(o.out_, ec) && !ec;
    if (!empty && ::access((o.out_ + "/" + kOutputMarker).c_str(), F_OK) != 0 && !job.out.force)
      return bad_input("-o", o.out_,
                       "exists and is not an output of minify (no " + std::string(kOutputMarker) +
                           "); remove it or give --force to replace it");
  }
  for (const auto& [path, what] : std::vector<std::pair<std::string, const char*>>{
           {job.out.tar, "the tar"}, {job.out.image, "the image"}, {job.out.sbom, "the SBOM"}}) {
    if (path.empty()) continue;
    if (is_under(resolved_path(path), real_out)) continue;  // staged inside the output directory
    if (auto s = writable_parent(path, what); !s) return s.error();
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return bad_input(what, path, "is a directory");
  }

  auto dir = AtomicDir::create(o.out_);
  if (!dir) return dir.error();
  o.dir_.emplace(std::move(*dir));
  if (auto s = write_file_atomic(o.dir_->path() + "/" + kOutputMarker, "written by minify; `minify -o` replaces this directory\n"); !s)
    return s.error();
  for (const auto& path : {job.out.tar, job.out.image, job.out.sbom}) {
    if (path.empty()) continue;
    Archive a;
    a.final_path = path;
    std::string real = resolved_path(path);
    if (is_under(real, real_out) && real != real_out) {
      a.inside_dir = true;
      a.staged = o.dir_->path() + real.substr(real_out.size());
      std::error_code ec;
      fs::create_directories(fs::path(a.staged).parent_path(), ec);
      if (ec) return Error{ec.value(), "create", fs::path(a.staged).parent_path().string(), {}};
    } else {
      a.staged = path + ".staged-XXXXXX";
      int fd = ::mkostemp(a.staged.data(), O_CLOEXEC);
      if (fd < 0) return sys_error("create", a.staged);
      ::close(fd);
    }
    o.archives_.push_back(std::move(a));
  }
  return o;
}

StagedOutputs::StagedOutputs(StagedOutputs&& other) noexcept
    : dir_(std::move(other.dir_)), out_(std::move(other.out_)), archives_(std::move(other.archives_)), lock_fd_(other.lock_fd_) {
  other.dir_.reset();
  other.archives_.clear();
  other.lock_fd_ = -1;
}

StagedOutputs::~StagedOutputs() {
  for (const auto& a : archives_)
    if (!a.inside_dir && !a.staged.empty()) ::unlink(a.staged.c_str());
  dir_.reset();  // removes the staged tree unless committed
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

const std::string& StagedOutputs::staged(const std::string& final_path) const {
  for (const auto& a : archives_)
    if (a.final_path == final_path) return a.staged;
  return final_path;
}

Status StagedOutputs::commit() {
  if (auto s = dir_->commit(); !s) return s;
  for (auto& a : archives_) {
    if (a.inside_dir) continue;
    if (::rename(a.staged.c_str(), a.final_path.c_str()) != 0) return sys_error("rename", a.final_path);
    a.staged.clear();
  }
  std::error_code ec;
  if (fs::exists(out_ + ".failed/" + kOutputMarker, ec)) fs::remove_all(out_ + ".failed", ec);
  return Ok{};
}

Result<std::string> StagedOutputs::fail(const std::vector<std::pair<std::string, std::string>>& files) {
  for (auto& a : archives_) {
    if (a.inside_dir) continue;
    std::string into = dir_->path() + "/" + fs::path(a.final_path).filename().string();
    if (::rename(a.staged.c_str(), into.c_str()) != 0) return sys_error("rename", a.staged);
    a.staged.clear();
  }
  for (const auto& [name, content] : files)
    if (auto s = write_file_atomic(dir_->path() + "/" + name, content); !s) return s.error();
  std::string failed = out_ + ".failed";
  struct stat st;
  if (::lstat(failed.c_str(), &st) == 0 && ::access((failed + "/" + kOutputMarker).c_str(), F_OK) != 0)
    return bad_input("write", failed, "exists and is not an output of minify (refusing to replace it)");
  if (auto s = dir_->commit_as(failed); !s) return s.error();
  return failed;
}

}  // namespace minify
