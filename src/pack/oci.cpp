// The OCI image archive writer (image-spec image-layout.md): a tar holding oci-layout,
// index.json and blobs/sha256/<digest> for the layer, the config and the manifest, plus Docker's
// manifest.json (and repositories when tagged) beside index.json, as BuildKit's oci exporter
// writes (exporter/oci, "tar" output), so `docker load` of any age takes it as well as skopeo,
// podman and umoci.
//
// One pass: the layer tar streams through sha256 (diff_id) -> gzip/zstd -> sha256 (blob digest)
// straight into the outer archive. The outer tar is a plain ustar written here: the layer's
// header (whose name is the digest not known yet) is reserved as 512 zero bytes and filled in
// with pwrite(2) once the layer is complete. No temporary blob file, no second read.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <ctime>
#include <nlohmann/json.hpp>

#include "minify/atomic.hpp"
#include "pack/stream.hpp"

namespace minify {

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr size_t kBlock = 512;

void octal_field(char* field, size_t width, uint64_t value) {
  // width includes the terminating NUL.
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

// A ustar header for a regular file or directory with a short name (<= 100 bytes, or split
// into prefix/name at a '/').
Result<std::array<char, kBlock>> ustar_header(const std::string& name, uint64_t size, unsigned mode, int64_t mtime,
                                               char type) {
  std::array<char, kBlock> h{};
  std::string prefix, base = name;
  if (name.size() > 100) {
    size_t cut = name.rfind('/', 155);
    if (cut == std::string::npos || name.size() - cut - 1 > 100) return bad_input("write oci", name, "name too long for ustar");
    prefix = name.substr(0, cut);
    base = name.substr(cut + 1);
  }
  std::memcpy(h.data(), base.data(), base.size());
  octal_field(h.data() + 100, 8, mode);
  octal_field(h.data() + 108, 8, 0);
  octal_field(h.data() + 116, 8, 0);
  octal_field(h.data() + 124, 12, size);
  octal_field(h.data() + 136, 12, static_cast<uint64_t>(mtime));
  std::memset(h.data() + 148, ' ', 8);
  h[156] = type;
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  std::memcpy(h.data() + 345, prefix.data(), prefix.size());
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  h[155] = ' ';
  return h;
}

class OuterTar {
 public:
  OuterTar(int fd, std::string name, int64_t mtime) : fd_(fd), name_(name), sink_(fd, std::move(name)), mtime_(mtime) {}

  Status add_dir(const std::string& name) {
    auto h = ustar_header(name, 0, 0755, mtime_, '5');
    if (!h) return h.error();
    return sink_.write(h->data(), kBlock);
  }
  Status add_file(const std::string& name, const std::string& data) {
    auto h = ustar_header(name, data.size(), 0644, mtime_, '0');
    if (!h) return h.error();
    if (auto s = sink_.write(h->data(), kBlock); !s) return s;
    if (auto s = sink_.write(data.data(), data.size()); !s) return s;
    return pad();
  }
  // Reserves a header for a file whose name and size are known only after its data.
  Status begin_deferred() {
    deferred_at_ = sink_.offset();
    static const char zero[kBlock] = {};
    return sink_.write(zero, kBlock);
  }
  pack::Sink& data_sink() { return sink_; }
  Status end_deferred(const std::string& name, uint64_t size) {
    if (auto s = pad(); !s) return s;
    if (auto s = sink_.flush(); !s) return s;
    auto h = ustar_header(name, size, 0644, mtime_, '0');
    if (!h) return h.error();
    if (::pwrite(fd_, h->data(), kBlock, static_cast<off_t>(deferred_at_)) != static_cast<ssize_t>(kBlock))
      return sys_error("write", name_);
    return Ok{};
  }
  Status finish() {
    static const char zero[2 * kBlock] = {};
    if (auto s = sink_.write(zero, sizeof zero); !s) return s;
    return sink_.flush();
  }

 private:
  Status pad() {
    static const char zero[kBlock] = {};
    size_t rem = sink_.offset() % kBlock;
    return rem ? sink_.write(zero, kBlock - rem) : Status(Ok{});
  }

  int fd_;
  std::string name_;
  pack::FdSink sink_;
  int64_t mtime_;
  uint64_t deferred_at_ = 0;
};

std::string rfc3339(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hex_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// "name:tag" -> ("name", "tag"); the tag follows the last ':' after the last '/'.
std::pair<std::string, std::string> split_tag(const std::string& ref) {
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {ref, "latest"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

}  // namespace

std::pair<std::string, std::string> oci_platform(const ElfIdent& ident) {
  constexpr uint8_t kClass64 = 2, kLsb = 1;
  switch (ident.machine) {
    case 62: return {"amd64", ""};                                   // EM_X86_64
    case 3: return {"386", ""};                                      // EM_386
    case 183: return {"arm64", "v8"};                                // EM_AARCH64
    case 40: return {"arm", "v7"};                                   // EM_ARM
    case 21: return {ident.data == kLsb ? "ppc64le" : "ppc64", ""};  // EM_PPC64
    case 22: return {"s390x", ""};                                   // EM_S390
    case 243: return {ident.elf_class == kClass64 ? "riscv64" : "riscv", ""};  // EM_RISCV
    case 8:                                                          // EM_MIPS
      if (ident.elf_class == kClass64) return {ident.data == kLsb ? "mips64le" : "mips64", ""};
      return {ident.data == kLsb ? "mipsle" : "mips", ""};
    case 258: return {"loong64", ""};                                // EM_LOONGARCH
    default: return {"", ""};
  }
}

namespace {

enum class ArchiveKind { Oci, Docker };

// Both archives hold the same blobs and Docker's manifest.json; an OCI archive adds the layout's
// oci-layout and index.json.
Result<OciDigests> write_image_archive(const FileSet& set, const Root& root, const std::string& out_file,
                                       const ImageConfig& config, const OciOptions& options, ArchiveKind kind) {
  auto tmp = AtomicFile::create(out_file);
  if (!tmp) return tmp.error();
  // The archive's own entries and the config's "created": the epoch, or 0 (1970) without it.
  int64_t epoch = options.source_date_epoch.value_or(0);
  OuterTar outer(tmp->fd(), out_file, epoch);
  // oci-layout first: a reader that streams the archive knows the format from the first entry.
  if (kind == ArchiveKind::Oci)
    if (auto s = outer.add_file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"); !s) return s.error();
  if (auto s = outer.add_dir("blobs/"); !s) return s.error();
  if (auto s = outer.add_dir("blobs/sha256/"); !s) return s.error();

  // The layer, streamed into the outer archive.
  if (auto s = outer.begin_deferred(); !s) return s.error();
  pack::HashSink blob(outer.data_sink());
  auto compressor = pack::make_compressor(options.compression, options.level, options.threads, blob, out_file);
  pack::HashSink tar(*compressor);
  // Files are read and archived on this thread, hashed and compressed on another.
  pack::ThreadedSink pipe(tar);
  pack::ProgressMeter meter(options.progress, "image archive", set);
  if (auto s = pack::write_tar_stream(set, root, options.source_date_epoch, pipe, meter); !s) return s.error();
  if (auto s = pipe.finish(); !s) return s.error();
  meter.finish();
  OciDigests out;
  out.layer = ArchiveDigest{blob.digest(), blob.size(), tar.digest(), tar.size()};
  if (auto s = outer.end_deferred("blobs/sha256/" + hex_of(blob.digest()), blob.size()); !s) return s.error();

  // Config: keys in the order of image-spec config.md; empty fields left out.
  std::string created = rfc3339(epoch);
  ordered_json cfg;
  cfg["created"] = created;
  cfg["architecture"] = config.architecture;
  if (!config.variant.empty()) cfg["variant"] = config.variant;
  cfg["os"] = config.os;
  ordered_json c = ordered_json::object();
  if (!config.user.empty()) c["User"] = config.user;
  if (!config.exposed_ports.empty()) {
    ordered_json ports = ordered_json::object();
    for (const auto& p : config.exposed_ports) ports[p.find('/') == std::string::npos ? p + "/tcp" : p] = json::object();
    c["ExposedPorts"] = ports;
  }
  if (!config.env.empty()) c["Env"] = config.env;
  if (!config.entrypoint.empty()) c["Entrypoint"] = config.entrypoint;
  if (!config.cmd.empty()) c["Cmd"] = config.cmd;
  if (!config.working_dir.empty()) c["WorkingDir"] = config.working_dir;
  if (!config.labels.empty()) c["Labels"] = config.labels;
  cfg["config"] = c;
  cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", {out.layer.diff_id}}};
  cfg["history"] = ordered_json::array({{{"created", created}, {"created_by", config.created_by}}});
  std::string cfg_text = cfg.dump();
  out.config = pack::sha256_digest(cfg_text);

  const char* layer_type = options.compression == Compression::Zstd   ? "application/vnd.oci.image.layer.v1.tar+zstd"
                           : options.compression == Compression::Gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                                                      : "application/vnd.oci.image.layer.v1.tar";
  ordered_json manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json";
  manifest["config"] = {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                        {"digest", out.config},
                        {"size", cfg_text.size()}};
  manifest["layers"] = ordered_json::array(
      {{{"mediaType", layer_type}, {"digest", out.layer.digest}, {"size", out.layer.size}}});
  std::string manifest_text = manifest.dump();
  out.manifest = pack::sha256_digest(manifest_text);

  ordered_json desc = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                       {"digest", out.manifest},
                       {"size", manifest_text.size()}};
  std::string name, tag;
  if (!options.tag.empty()) {
    std::tie(name, tag) = split_tag(options.tag);
    // BuildKit's annotations: the full name for containerd, the tag for OCI tools.
    desc["annotations"] = {{"io.containerd.image.name", name + ":" + tag}, {"org.opencontainers.image.ref.name", tag}};
  }
  ordered_json index;
  index["schemaVersion"] = 2;
  index["mediaType"] = "application/vnd.oci.image.index.v1+json";
  index["manifests"] = ordered_json::array({desc});

  ordered_json docker = ordered_json::array();
  ordered_json d;
  d["Config"] = "blobs/sha256/" + hex_of(out.config);
  d["RepoTags"] = options.tag.empty() ? ordered_json::array() : ordered_json::array({name + ":" + tag});
  d["Layers"] = {"blobs/sha256/" + hex_of(out.layer.digest)};
  docker.push_back(d);

  if (auto s = outer.add_file("blobs/sha256/" + hex_of(out.config), cfg_text); !s) return s.error();
  if (auto s = outer.add_file("blobs/sha256/" + hex_of(out.manifest), manifest_text); !s) return s.error();
  if (kind == ArchiveKind::Oci)
    if (auto s = outer.add_file("index.json", index.dump()); !s) return s.error();
  if (auto s = outer.add_file("manifest.json", docker.dump()); !s) return s.error();
  if (!options.tag.empty()) {
    // docker save's legacy file: repository -> tag -> the top layer's id.
    ordered_json repos = {{name, {{tag, hex_of(out.layer.digest)}}}};
    if (auto s = outer.add_file("repositories", repos.dump()); !s) return s.error();
  }
  if (auto s = outer.finish(); !s) return s.error();
  if (auto s = tmp->commit(); !s) return s.error();
  return out;
}

}  // namespace

Result<OciDigests> write_oci(const FileSet& set, const Root& root, const std::string& out_file,
                             const ImageConfig& config, const OciOptions& options) {
  return write_image_archive(set, root, out_file, config, options, ArchiveKind::Oci);
}

Result<OciDigests> write_docker_archive(const FileSet& set, const Root& root, const std::string& out_file,
                                        const ImageConfig& config, const OciOptions& options) {
  return write_image_archive(set, root, out_file, config, options, ArchiveKind::Docker);
}

}  // namespace minify
