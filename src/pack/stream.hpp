// Byte streams for the writers: a buffered file sink, a SHA-256 tee and gzip/zstd compressors,
// chained so that an archive is hashed (before and after compression) and compressed in the
// pass that writes it. OCI digests come out of this one pass; nothing is read back.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "minify/atomic.hpp"
#include "minify/digest.hpp"
#include "minify/pack.hpp"
#include "minify/result.hpp"

namespace minify::pack {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status write(const void* data, size_t size) = 0;
  // Ends the stream (compressor trailers) and flushes everything below.
  virtual Status finish() = 0;
};

// Writes to a file descriptor through a buffer, counting the bytes.
class FdSink : public Sink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) { buf_.reserve(kBufferSize); }
  Status write(const void* data, size_t size) override;
  Status finish() override { return flush(); }
  Status flush();
  uint64_t offset() const { return offset_; }  // bytes accepted so far, buffered or not

 private:
  static constexpr size_t kBufferSize = 1 << 20;
  int fd_;
  std::string name_;
  std::vector<char> buf_;
  uint64_t offset_ = 0;
};

// Hashes what passes through with SHA-256 (OpenSSL EVP) and counts it.
class HashSink : public Sink {
 public:
  explicit HashSink(Sink& next);
  ~HashSink() override;
  Status write(const void* data, size_t size) override;
  Status finish() override;
  // "sha256:<hex>". Requires: finish() returned ok.
  const std::string& digest() const { return digest_; }
  uint64_t size() const { return size_; }

 private:
  Sink& next_;
  Hasher hash_;
  uint64_t size_ = 0;
  std::string digest_;
};

// Hands the bytes to a thread of its own that writes them to `next`, in chunks of `chunk` bytes
// with at most `depth` chunks in flight: reading files and building the tar overlap with hashing
// and compressing, as in `tar -cf - ... | zstd`. The first error of `next` is returned by the
// following write() or by finish(), which also runs next.finish() on that thread and joins it.
class ThreadedSink : public Sink {
 public:
  explicit ThreadedSink(Sink& next, size_t chunk = size_t{1} << 20, size_t depth = 4);
  ~ThreadedSink() override;
  Status write(const void* data, size_t size) override;
  Status finish() override;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

// Compresses into `next`; Compression::None passes bytes through.
std::unique_ptr<Sink> make_compressor(Compression c, int level, int threads, Sink& next, std::string name);

// "sha256:<hex>" of a buffer.
std::string sha256_digest(const std::string& data);

// Bytes of a set's files copied so far, handed to a writer's ProgressFn (when it has one).
class ProgressMeter {
 public:
  ProgressMeter(const ProgressFn& fn, std::string_view what, const FileSet& set)
      : fn_(fn), what_(what), total_(fn ? set.totals().bytes : 0) {}
  void add(uint64_t n) {
    done_ += n;
    if (fn_) fn_({"pack", what_, done_, total_, false});
  }
  void finish() {
    if (fn_) fn_({"pack", what_, done_, total_, true});
  }

 private:
  const ProgressFn& fn_;
  std::string_view what_;
  uint64_t done_ = 0, total_ = 0;
};

// Streams the set as a tar into `out`: PAX restricted (ustar unless a field needs more), sorted,
// each entry's owner and mtime (entry_mtime()), large sparse files as GNU sparse 1.0. File bytes
// are counted on `meter` as they are read.
Status write_tar_stream(const FileSet& set, const Root& root, std::optional<int64_t> source_date_epoch, Sink& out,
                        ProgressMeter& meter);

// ---- Sparse files (sparse.cpp) ----

struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The data regions of the open file `fd` of `size` bytes as its file system reports them
// (lseek SEEK_DATA/SEEK_HOLE), in order; the whole file where it cannot tell. Holes are the gaps.
Result<std::vector<Extent>> data_extents(int fd, uint64_t size, const std::string& name);

// How a file is stored in a tar. Empty: as plain data. Otherwise the data regions of a GNU
// sparse entry, everything else being holes. Defined by the content alone, so that the archive
// does not depend on how the source happens to be allocated: the file is cut into aligned
// blocks of kSparseBlock bytes, a block of zeros is a hole, and a file of at least
// kSparseMinSize bytes is stored sparse when its holes add up to kSparseMinHoles or more. The
// last block is always a data region (no trailing hole). Blocks the file system reports as
// holes are not read.
inline constexpr uint64_t kSparseBlock = 64 << 10;
inline constexpr uint64_t kSparseMinSize = 1 << 20;
inline constexpr uint64_t kSparseMinHoles = 1 << 20;
Result<std::vector<Extent>> sparse_layout(int fd, uint64_t size, const std::string& name);

}  // namespace minify::pack
