// Byte streams for the writers: a buffered file sink, a SHA-256 tee and gzip/zstd compressors,
// chained so that an archive is hashed (before and after compression) and compressed in the
// pass that writes it. OCI digests come out of this one pass; nothing is read back.
#pragma once

#include <cstdint>
#include <memory>
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

// Streams the set as a tar (PAX restricted, sorted, uid/gid 0, mtime fixed) into `out`.
Status write_tar_stream(const FileSet& set, const Root& root, int64_t mtime, Sink& out);

}  // namespace minify::pack
