// The docker-archive writer. write_oci() already puts Docker's manifest.json (Config, RepoTags,
// Layers naming blobs/sha256/...) beside the OCI index, which is what `docker load` and skopeo's
// docker-archive transport read; a docker-archive is that archive without the OCI layout files.
// The OCI archive is written to a temporary file and copied entry by entry.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "image_internal.hpp"
#include "minify/image.hpp"

namespace minify {

namespace {
struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
}  // namespace

Result<OciDigests> write_docker_archive(const FileSet& set, const Root& root, const std::string& out_file,
                                        const ImageConfig& config, const OciOptions& options) {
  std::string oci_tmp = out_file + ".oci-tmp-" + std::to_string(::getpid());
  std::string tmp = out_file + ".tmp-" + std::to_string(::getpid());
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      ::unlink(a.c_str());
      ::unlink(b.c_str());
    }
  } cleanup{oci_tmp, tmp};
  auto digests = write_oci(set, root, oci_tmp, config, options);
  if (!digests) return digests.error();

  std::unique_ptr<struct archive, ReadDeleter> in(archive_read_new());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_filename(in.get(), oci_tmp.c_str(), 1 << 16) != ARCHIVE_OK)
    return bad_input("read", oci_tmp, image_internal::archive_reason(in.get()));
  std::unique_ptr<struct archive, WriteDeleter> out(archive_write_new());
  archive_write_set_format_pax_restricted(out.get());
  if (archive_write_open_filename(out.get(), tmp.c_str()) != ARCHIVE_OK)
    return bad_input("write", tmp, image_internal::archive_reason(out.get()));
  struct archive_entry* e;
  std::vector<char> buf(1 << 16);
  int r;
  while ((r = archive_read_next_header(in.get(), &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    if (name == "oci-layout" || name == "index.json") continue;
    if (archive_write_header(out.get(), e) != ARCHIVE_OK) return bad_input("write", tmp, image_internal::archive_reason(out.get()));
    la_ssize_t n;
    while ((n = archive_read_data(in.get(), buf.data(), buf.size())) > 0)
      if (archive_write_data(out.get(), buf.data(), static_cast<size_t>(n)) != n)
        return bad_input("write", tmp, image_internal::archive_reason(out.get()));
  }
  if (r != ARCHIVE_EOF) return bad_input("read", oci_tmp, image_internal::archive_reason(in.get()));
  if (archive_write_close(out.get()) != ARCHIVE_OK) return bad_input("write", tmp, image_internal::archive_reason(out.get()));
  if (std::rename(tmp.c_str(), out_file.c_str()) != 0) return sys_error("rename", tmp);
  return *digests;
}

}  // namespace minify
