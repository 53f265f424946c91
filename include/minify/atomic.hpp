// Outputs that appear whole or not at all. Every file and directory minify writes for the user
// (rootfs/, tar, OCI archive, report.json, trace.json, SBOM, Dockerfile) is built under a
// temporary name beside its destination and renamed into place once complete, so an interrupted
// or failed run never leaves a half-written output and a reader never sees one.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "minify/result.hpp"

namespace minify {

// A file written under "DEST.tmp-XXXXXX" and renamed over DEST by commit(); destroyed uncommitted,
// it removes the temporary file. A destination that exists and is not a regular file (/dev/stdout,
// a FIFO) is written in place: renaming over it would replace the device or pipe.
class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& dest, mode_t mode = 0644);
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  int fd() const { return fd_; }
  const std::string& dest() const { return dest_; }
  Status write(std::string_view data);
  // fsync, then rename into place (a file written in place is only flushed).
  Status commit();

 private:
  AtomicFile(std::string dest, std::string tmp, int fd, mode_t mode, bool in_place);
  std::string dest_, tmp_;
  int fd_ = -1;
  mode_t mode_ = 0644;
  bool in_place_ = false;
};

// Writes `content` to `dest` through an AtomicFile.
Status write_file_atomic(const std::string& dest, std::string_view content, mode_t mode = 0644);

// A directory built under "DEST.tmp-XXXXXX" and put in place by commit(): renamed when DEST does
// not exist, exchanged with it (renameat2 RENAME_EXCHANGE) when it is a directory, the old tree
// then removed; so at every moment DEST is either the old tree or the new one. Destroyed
// uncommitted, it removes the temporary tree.
class AtomicDir {
 public:
  static Result<AtomicDir> create(const std::string& dest, mode_t mode = 0755);
  AtomicDir(AtomicDir&& o) noexcept : dest_(std::move(o.dest_)), tmp_(std::move(o.tmp_)) { o.tmp_.clear(); }
  AtomicDir& operator=(AtomicDir&&) = delete;
  ~AtomicDir();

  const std::string& path() const { return tmp_; }  // where to write now
  const std::string& dest() const { return dest_; }
  Status commit();
  // The same, to another destination on the same file system (a failed run's "OUT.failed").
  Status commit_as(const std::string& dest);

 private:
  AtomicDir(std::string dest, std::string tmp) : dest_(std::move(dest)), tmp_(std::move(tmp)) {}
  std::string dest_, tmp_;
};

// Writes all of `data` to `fd` (short writes and EINTR retried); `name` is for the message.
Status write_all(int fd, const void* data, size_t size, const std::string& name);

}  // namespace minify
