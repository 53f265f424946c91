// Holes of sparse files, for the writers: the file system's view (SEEK_DATA/SEEK_HOLE, lseek(2))
// for copying a file into rootfs/ with its holes, and a layout defined by the content alone for
// the tar, so that the same bytes give the same archive whatever the source's allocation.
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "pack/stream.hpp"

namespace minify::pack {

namespace {

// Is p[0..n) all zero bytes? Compares the buffer with itself shifted by 16 bytes (memcmp stops
// at the first difference), after checking the first 16 directly.
bool all_zero(const char* p, size_t n) {
  size_t head = std::min<size_t>(n, 16);
  for (size_t i = 0; i < head; ++i)
    if (p[i] != 0) return false;
  return n <= 16 || std::memcmp(p, p + 16, n - 16) == 0;
}

}  // namespace

Result<std::vector<Extent>> data_extents(int fd, uint64_t size, const std::string& name) {
  std::vector<Extent> out;
  uint64_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole from here to the end
      // EINVAL: the file system cannot tell (or pos is past the end, which size rules out).
      if (errno == EINVAL && pos == 0) return std::vector<Extent>{{0, size}};
      return sys_error("seek data in", name);
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return sys_error("seek hole in", name);
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (end <= static_cast<uint64_t>(data)) break;  // the file shrank meanwhile
    out.push_back({static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    pos = end;
  }
  return out;
}

Result<std::vector<Extent>> sparse_layout(int fd, uint64_t size, const std::string& name) {
  if (size < kSparseMinSize) return std::vector<Extent>{};
  auto extents = data_extents(fd, size, name);
  if (!extents) return extents.error();
  // Blocks the file system reports as holes are zero without reading them; the others are
  // read and checked, so that a hole written out as zeros by some copy is found all the same.
  std::vector<char> buf(kSparseBlock);
  std::vector<Extent> data;
  uint64_t zero_bytes = 0;
  size_t next = 0;  // first extent that may still overlap the current block
  for (uint64_t off = 0; off < size; off += kSparseBlock) {
    uint64_t len = std::min<uint64_t>(kSparseBlock, size - off);
    while (next < extents->size() && (*extents)[next].offset + (*extents)[next].length <= off) ++next;
    bool zero = true;
    if (next < extents->size() && (*extents)[next].offset < off + len) {
      size_t got = 0;
      while (got < len) {
        ssize_t n = ::pread(fd, buf.data() + got, len - got, static_cast<off_t>(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read", name);
        if (n == 0) return bad_input("read", name, "file shrank while it was archived");
        got += static_cast<size_t>(n);
      }
      zero = all_zero(buf.data(), len);
    }
    if (zero) {
      zero_bytes += len;
    } else if (!data.empty() && data.back().offset + data.back().length == off) {
      data.back().length += len;
    } else {
      data.push_back({off, len});
    }
  }
  if (zero_bytes < kSparseMinHoles) return std::vector<Extent>{};
  // The last block is always stored, zeros or not: libarchive's archive_read_data (3.6) stops
  // after the last data region and leaves a trailing hole out, a file cut short for every
  // program reading entries that way (bsdtar, which sets the size itself, does not notice).
  uint64_t last = (size - 1) / kSparseBlock * kSparseBlock;
  if (!data.empty() && data.back().offset + data.back().length == last) {
    data.back().length = size - data.back().offset;
  } else if (data.empty() || data.back().offset + data.back().length < size) {
    data.push_back({last, size - last});
  }
  return data;
}

}  // namespace minify::pack
