// See image_support.hpp.
#include "image_support.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "support/fixture.hpp"

namespace minify::testing {

using nlohmann::json;

std::string make_tar(const std::vector<TarItem>& items, LayerCompression c) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (c == LayerCompression::Gzip) archive_write_add_filter_gzip(a);
  if (c == LayerCompression::Zstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::string out;  // grows as needed: a layer of the host's /usr/lib/python3.11 is 60 MB
  auto append = [](struct archive*, void* data, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(data)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_open2(a, &out, nullptr, append, nullptr, nullptr) != ARCHIVE_OK)
    throw std::runtime_error(archive_error_string(a));
  for (const auto& it : items) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, it.name.c_str());
    archive_entry_set_uid(e, it.uid);
    archive_entry_set_gid(e, it.gid);
    archive_entry_set_mtime(e, it.mtime, 0);
    switch (it.type) {
      case 'd': archive_entry_set_filetype(e, AE_IFDIR); break;
      case 'l':
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, it.link.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, it.link.c_str());
        break;
      case 'c':
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdevmajor(e, 1);
        archive_entry_set_rdevminor(e, 3);
        break;
      default:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(it.data.size()));
    }
    archive_entry_set_perm(e, it.mode);
    if (archive_write_header(a, e) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
    if (it.type == 'f' && !it.data.empty()) archive_write_data(a, it.data.data(), it.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TarItem host_file(const std::string& host, const std::string& name) {
  struct stat st {};
  ::stat(host.c_str(), &st);
  TarItem it;
  it.name = name;
  it.data = read_file(host);
  it.mode = st.st_mode & 07777;
  it.mtime = st.st_mtime;
  return it;
}

std::string lying_tar(const std::string& name, unsigned long long size) {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 99));
  std::snprintf(h.data() + 100, 8, "%07o", 0644);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  std::snprintf(h.data() + 124, 12, "%011llo", size);
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = '0';
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char ch : h) sum += ch;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  h[155] = ' ';
  return h + std::string(4096, '\0');
}

std::map<std::string, LayerEntry> read_layer(const std::filesystem::path& file) {
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  if (archive_read_open_filename(a, file.c_str(), 1 << 16) != ARCHIVE_OK)
    throw std::runtime_error(archive_error_string(a));
  std::map<std::string, LayerEntry> out;
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    LayerEntry it;
    mode_t t = archive_entry_filetype(e);
    it.type = archive_entry_hardlink(e) ? 'h' : t == AE_IFREG ? 'f' : t == AE_IFDIR ? 'd' : t == AE_IFLNK ? 'l' : '?';
    it.mode = archive_entry_perm(e) & 07777;
    it.uid = archive_entry_uid(e);
    it.gid = archive_entry_gid(e);
    it.mtime = archive_entry_mtime(e);
    std::string name = archive_entry_pathname(e);
    while (!name.empty() && name.back() == '/') name.pop_back();
    out[name] = it;
  }
  archive_read_free(a);
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s += d[md[i] >> 4];
    s += d[md[i] & 15];
  }
  return s;
}

namespace {

std::string media_type(LayerCompression c) {
  switch (c) {
    case LayerCompression::Gzip: return "application/vnd.oci.image.layer.v1.tar+gzip";
    case LayerCompression::Zstd: return "application/vnd.oci.image.layer.v1.tar+zstd";
    case LayerCompression::None: break;
  }
  return "application/vnd.oci.image.layer.v1.tar";
}

std::string put_blob(const std::filesystem::path& dir, const std::string& data) {
  std::string hex = sha256_hex(data);
  write_file(dir / "blobs/sha256" / hex, data);
  return "sha256:" + hex;
}

json config_blob(const ImageSpec& spec) {
  json diff_ids = json::array();
  for (const auto& l : spec.layers) diff_ids.push_back("sha256:" + sha256_hex(l));  // not checked by minify
  return {{"architecture", spec.architecture},
          {"os", "linux"},
          {"config", spec.config},
          {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
}

// Writes the blobs and the manifest; returns the manifest descriptor.
json put_image(const std::filesystem::path& dir, const ImageSpec& spec) {
  std::string cfg = config_blob(spec).dump();
  json layers = json::array();
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    LayerCompression c = i < spec.compressions.size() ? spec.compressions[i] : LayerCompression::None;
    layers.push_back({{"mediaType", media_type(c)}, {"digest", put_blob(dir, spec.layers[i])},
                      {"size", spec.layers[i].size()}});
  }
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                               {"digest", put_blob(dir, cfg)}, {"size", cfg.size()}}},
                   {"layers", layers}};
  std::string m = manifest.dump();
  return {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
          {"digest", put_blob(dir, m)},
          {"size", m.size()},
          {"platform", {{"os", "linux"}, {"architecture", spec.architecture}}}};
}

}  // namespace

void write_oci_layout(const std::filesystem::path& dir, const ImageSpec& spec) {
  json desc = put_image(dir, spec);
  desc["annotations"] = {{"org.opencontainers.image.ref.name", spec.tag.substr(spec.tag.rfind(':') + 1)},
                         {"io.containerd.image.name", spec.tag}};
  write_file(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write_file(dir / "index.json", json{{"schemaVersion", 2}, {"manifests", {desc}}}.dump());
}

void write_oci_index(const std::filesystem::path& dir, const std::vector<ImageSpec>& specs) {
  json manifests = json::array();
  for (const auto& s : specs) manifests.push_back(put_image(dir, s));
  json index = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", manifests}};
  std::string idx = index.dump();
  json desc = {{"mediaType", "application/vnd.oci.image.index.v1+json"}, {"digest", put_blob(dir, idx)}, {"size", idx.size()},
               {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}};
  write_file(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write_file(dir / "index.json", json{{"schemaVersion", 2}, {"manifests", {desc}}}.dump());
}

void tar_directory(const std::filesystem::path& dir, const std::filesystem::path& file) {
  std::vector<TarItem> items;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    TarItem it;
    it.name = std::filesystem::relative(e.path(), dir).string();
    if (e.is_directory()) {
      it.type = 'd';
      it.mode = 0755;
    } else {
      it.data = read_file(e.path());
    }
    items.push_back(std::move(it));
  }
  write_file(file, make_tar(items));
}

void write_oci_archive(const std::filesystem::path& file, const ImageSpec& spec) {
  TempDir t;
  write_oci_layout(t.path(), spec);
  tar_directory(t.path(), file);
}

void write_docker_archive(const std::filesystem::path& file, const ImageSpec& spec) {
  TempDir t;
  json layers = json::array();
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    std::string hex = sha256_hex(spec.layers[i]);
    write_file(t.path() / hex / "layer.tar", spec.layers[i]);
    layers.push_back(hex + "/layer.tar");
  }
  std::string cfg = config_blob(spec).dump();
  std::string cfg_name = sha256_hex(cfg) + ".json";
  write_file(t.path() / cfg_name, cfg);
  json manifest = json::array({{{"Config", cfg_name}, {"RepoTags", {spec.tag}}, {"Layers", layers}}});
  write_file(t.path() / "manifest.json", manifest.dump());
  tar_directory(t.path(), file);
}

}  // namespace minify::testing
