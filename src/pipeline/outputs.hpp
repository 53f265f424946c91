// A job's outputs from the first check to the last rename (private to src/pipeline).
//
// Before anything runs: an output directory that exists and is not one of minify's own (no
// marker file) is refused unless --force; so is one that is "/", or is or contains the root, the
// program's directory or another protected path (never with --force); missing parent
// directories are created and must be writable. An exclusive lock beside the output directory
// serialises runs on one output. Everything is then written under temporary names and, once
// verified, put in place together (commit()); a run whose verify failed puts what it wrote
// under "OUT.failed" instead (fail()), leaving the previous output as it was. Dropped
// uncommitted, it removes every temporary file and directory.
#pragma once

#include <string>
#include <vector>

#include "minify/atomic.hpp"
#include "minify/pipeline.hpp"
#include "minify/rootfs.hpp"

namespace minify {

// The file in an output directory that says minify wrote it.
inline constexpr const char* kOutputMarker = ".minify-output";

class StagedOutputs {
 public:
  // `protect`: host paths the output directory must neither be nor contain.
  static Result<StagedOutputs> prepare(const Job& job, const std::vector<std::string>& protect, Context& ctx);
  StagedOutputs(StagedOutputs&&) noexcept;
  StagedOutputs& operator=(StagedOutputs&&) = delete;
  ~StagedOutputs();

  // The staged output directory, and the name to write an archive (final name given) under.
  const std::string& dir() const { return dir_->path(); }
  const std::string& staged(const std::string& final_path) const;

  // Everything into place; a previous OUT.failed goes.
  Status commit();
  // Everything under OUT.failed (archives written outside the directory move into it, under
  // their own names), with `files` (name -> content) added; OUT stays as it was.
  Result<std::string> fail(const std::vector<std::pair<std::string, std::string>>& files);

 private:
  StagedOutputs() = default;
  struct Archive {
    std::string final_path;
    std::string staged;
    bool inside_dir = false;  // staged inside the staged directory; moves with it
  };
  std::optional<AtomicDir> dir_;
  std::string out_;
  std::vector<Archive> archives_;
  int lock_fd_ = -1;
};

}  // namespace minify
