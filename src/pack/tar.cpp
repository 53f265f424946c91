// The tar writer. libarchive formats the entries (PAX restricted: plain ustar headers unless a
// name, link or size needs a PAX extended header) and hands the bytes to our sink chain, which
// hashes and compresses them in the same pass. Reproducibility (reproducible-builds.org/docs/
// archives): entries in path order, numeric owners as the source has them and no names, each
// entry's mtime in whole seconds clamped to SOURCE_DATE_EPOCH, no atime/ctime, no xattrs but
// file capabilities, and file sizes taken from the open descriptor.
//
// Names are written so that GNU tar, bsdtar, Go's archive/tar and Python's tarfile all read them
// without a warning: a name that fits the ustar fields is stored there as is; a longer or
// non-ASCII one gets a PAX "path" record, which must be UTF-8 (POSIX pax, "path"). libarchive
// converts names from the thread's locale to UTF-8, so the writer runs under C.UTF-8 (uselocale,
// this thread only). Only a name that is not valid UTF-8 falls back to "hdrcharset=BINARY",
// which GNU tar does not know (it warns, then reads the name right); setting that option for
// every entry, as this writer once did, made GNU tar warn for every entry.
//
// Large files with long runs of zeros are stored as GNU sparse 1.0 entries (PAX records
// GNU.sparse.*, which all four readers understand): the holes take no space in the archive.
#include "minify/version.hpp"
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <locale.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "minify/atomic.hpp"
#include "pack/stream.hpp"

namespace minify {

namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

struct CallbackState {
  pack::Sink* sink;
  std::optional<Error> error;
};

la_ssize_t write_cb(struct archive* a, void* data, const void* buf, size_t n) {
  auto* st = static_cast<CallbackState*>(data);
  if (auto s = st->sink->write(buf, n); !s) {
    st->error = s.error();
    archive_set_error(a, s.error().err ? s.error().err : EIO, "%s", s.error().message().c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

Error archive_error(struct archive* a, const CallbackState& st, const std::string& op, const std::string& path) {
  if (st.error) return *st.error;
  const char* msg = archive_error_string(a);
  return Error{archive_errno(a) > 0 ? archive_errno(a) : 0, op, path, msg ? msg : "libarchive error"};
}

}  // namespace

namespace pack {

// Makes the calling thread's LC_CTYPE C.UTF-8 while it lives (see the top of the file).
class Utf8Thread {
 public:
  Utf8Thread() : loc_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{})) {
    if (loc_) old_ = ::uselocale(loc_);
  }
  ~Utf8Thread() {
    if (!loc_) return;
    ::uselocale(old_);
    ::freelocale(loc_);
  }
  Utf8Thread(const Utf8Thread&) = delete;
  Utf8Thread& operator=(const Utf8Thread&) = delete;

 private:
  locale_t loc_;
  locale_t old_ = LC_GLOBAL_LOCALE;
};

Status write_tar_stream(const FileSet& set, const Root& root, std::optional<int64_t> source_date_epoch, Sink& out,
                        ProgressMeter& meter) {
  Utf8Thread utf8;  // before the archive: libarchive reads the locale's charset once per archive
  std::unique_ptr<struct archive, ArchiveFree> a(archive_write_new());
  CallbackState st{&out, std::nullopt};
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_open2(a.get(), &st, nullptr, write_cb, nullptr, nullptr) != ARCHIVE_OK)
    return archive_error(a.get(), st, "write tar", "");
  std::unique_ptr<struct archive_entry, EntryFree> ae(archive_entry_new());
  std::vector<char> buf(1 << 18);
  // Fed to libarchive for the holes of a sparse entry, which it counts but does not write.
  static const std::vector<char> zeros(1 << 20);
  auto feed = [&](const char* p, uint64_t n, const std::string& path) -> Status {
    while (n > 0) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, 1 << 20));
      if (archive_write_data(a.get(), p, chunk) < 0) return archive_error(a.get(), st, "write tar", path);
      n -= chunk;
      if (p != zeros.data()) p += chunk;
    }
    return Ok{};
  };
  for (const auto& [path, e] : set) {
    archive_entry_clear(ae.get());
    std::string name = path.substr(1);  // tar names are relative: "usr/bin/x"
    archive_entry_set_pathname(ae.get(), name.c_str());
    archive_entry_set_uid(ae.get(), e.uid);
    archive_entry_set_gid(ae.get(), e.gid);
    // Whole seconds: what ustar holds, and all Python's .pyc check compares.
    archive_entry_set_mtime(ae.get(), entry_mtime(e, source_date_epoch).tv_sec, 0);
    archive_entry_set_perm(ae.get(), e.mode & 07777);
    UniqueFd fd;
    uint64_t size = 0;
    std::vector<pack::Extent> layout;  // empty: plain data
    switch (e.type) {
      case EntryType::Directory: archive_entry_set_filetype(ae.get(), AE_IFDIR); break;
      case EntryType::Symlink:
        archive_entry_set_filetype(ae.get(), AE_IFLNK);
        archive_entry_set_perm(ae.get(), 0777);
        archive_entry_set_symlink(ae.get(), e.link_target.c_str());
        break;
      case EntryType::File: {
        archive_entry_set_filetype(ae.get(), AE_IFREG);
        if (e.generated) {
          size = e.content.size();
        } else {
          auto f = root.open_read(path);
          if (!f) return f.error();
          struct stat sb;
          if (::fstat(f->get(), &sb) != 0) return sys_error("stat", path);
          if (!S_ISREG(sb.st_mode)) return bad_input("write tar", path, "no longer a regular file");
          size = static_cast<uint64_t>(sb.st_size);
          // File capabilities (setcap cap_net_bind_service=+ep) travel as a PAX
          // SCHILY.xattr.security.capability record, which containerd and umoci apply.
          char cap[128];
          ssize_t n = ::fgetxattr(f->get(), "security.capability", cap, sizeof cap);
          if (n > 0) archive_entry_xattr_add_entry(ae.get(), "security.capability", cap, static_cast<size_t>(n));
          auto l = pack::sparse_layout(f->get(), size, path);
          if (!l) return l.error();
          layout = std::move(*l);
          fd = std::move(*f);
        }
        archive_entry_set_size(ae.get(), static_cast<la_int64_t>(size));
        for (const auto& x : layout)
          archive_entry_sparse_add_entry(ae.get(), static_cast<la_int64_t>(x.offset), static_cast<la_int64_t>(x.length));
        break;
      }
    }
    // ARCHIVE_WARN: a name that is not UTF-8, written with hdrcharset=BINARY (see above).
    if (archive_write_header(a.get(), ae.get()) < ARCHIVE_WARN) return archive_error(a.get(), st, "write tar", path);
    if (e.type != EntryType::File) continue;
    if (e.generated) {
      if (auto s = feed(e.content.data(), e.content.size(), path); !s) return s;
      meter.add(e.content.size());
      continue;
    }
    // The regions to read; the gaps between them are holes, fed as zeros.
    if (layout.empty()) layout.push_back({0, size});
    uint64_t pos = 0;
    for (const auto& x : layout) {
      if (auto s = feed(zeros.data(), x.offset - pos, path); !s) return s;
      uint64_t left = x.length;
      uint64_t at = x.offset;
      while (left > 0) {
        ssize_t n = ::pread(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), left), static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read", path);
        if (n == 0) return bad_input("read", path, "file shrank while it was archived");
        if (auto s = feed(buf.data(), static_cast<uint64_t>(n), path); !s) return s;
        meter.add(static_cast<uint64_t>(n));
        left -= static_cast<uint64_t>(n);
        at += static_cast<uint64_t>(n);
      }
      pos = x.offset + x.length;
    }
    if (auto s = feed(zeros.data(), size - pos, path); !s) return s;
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return archive_error(a.get(), st, "write tar", "");
  return Ok{};
}

}  // namespace pack

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::None: return "none";
    case Compression::Gzip: return "gzip";
    case Compression::Zstd: return "zstd";
  }
  return "none";
}

Result<int64_t> parse_source_date_epoch(const char* value) {
  if (value == nullptr || *value == '\0') return int64_t{0};
  std::string_view v = value;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < 0)
    return bad_input("parse SOURCE_DATE_EPOCH", std::string(v), "not a non-negative decimal number of seconds");
  return out;
}

struct timespec entry_mtime(const Entry& e, std::optional<int64_t> source_date_epoch) {
  if (!source_date_epoch) return e.mtime;
  if (e.generated) return {static_cast<time_t>(*source_date_epoch), 0};
  if (e.mtime.tv_sec > *source_date_epoch || (e.mtime.tv_sec == *source_date_epoch && e.mtime.tv_nsec > 0))
    return {static_cast<time_t>(*source_date_epoch), 0};
  return e.mtime;
}

Result<ArchiveDigest> write_tar(const FileSet& set, const Root& root, const std::string& out_file,
                                const TarOptions& options) {
  auto tmp = AtomicFile::create(out_file);
  if (!tmp) return tmp.error();
  pack::FdSink file(tmp->fd(), out_file);
  pack::HashSink compressed(file);
  auto compressor = pack::make_compressor(options.compression, options.level, options.threads, compressed, out_file);
  pack::HashSink tar(*compressor);
  // Files are read and archived on this thread, hashed and compressed on another.
  pack::ThreadedSink pipe(tar);
  pack::ProgressMeter meter(options.progress, "tar", set);
  if (auto s = pack::write_tar_stream(set, root, options.source_date_epoch, pipe, meter); !s) return s.error();
  if (auto s = pipe.finish(); !s) return s.error();
  meter.finish();
  if (auto s = tmp->commit(); !s) return s.error();
  return ArchiveDigest{compressed.digest(), compressed.size(), tar.digest(), tar.size()};
}

LibraryVersion libarchive_version() {
  // archive_version_string() is "libarchive 3.6.2".
  std::string running = archive_version_string();
  if (auto sp = running.find(' '); sp != std::string::npos) running.erase(0, sp + 1);
  return {"libarchive", ARCHIVE_VERSION_ONLY_STRING, running, {}};
}

}  // namespace minify
