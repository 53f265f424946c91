// Building image archives at test time: layer tars written with libarchive (or by hand, for
// headers no honest writer makes), assembled as an OCI layout, an OCI archive or a docker-archive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace minify::testing {

struct TarItem {
  TarItem() = default;
  TarItem(std::string n, char t = 'f', std::string d = {}, std::string l = {}, unsigned m = 0644, int u = 0, int g = 0)
      : name(std::move(n)), type(t), data(std::move(d)), link(std::move(l)), mode(m), uid(u), gid(g) {}
  std::string name;
  char type = 'f';  // 'f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c' char device
  std::string data;
  std::string link;  // symlink or hard link target
  unsigned mode = 0644;
  int uid = 0, gid = 0;
  int64_t mtime = 0;
};

enum class LayerCompression { None, Gzip, Zstd };

std::string make_tar(const std::vector<TarItem>& items, LayerCompression c = LayerCompression::None);
// Adds the host file `host` (its bytes, mode and mtime) as `name`.
TarItem host_file(const std::string& host, const std::string& name);
// A ustar header claiming `size` bytes followed by no data: only a lying writer makes it.
std::string lying_tar(const std::string& name, unsigned long long size);

std::string sha256_hex(const std::string& data);

// A layer read back (gzip, zstd or plain): name -> the header fields the owner tests check.
struct LayerEntry {
  char type = 'f';  // 'f', 'd', 'l', 'h', '?'
  unsigned mode = 0;  // 07777
  int64_t uid = -1, gid = -1;
  int64_t mtime = -1;
};
std::map<std::string, LayerEntry> read_layer(const std::filesystem::path& file);

struct ImageSpec {
  std::vector<std::string> layers;  // layer blobs (tar bytes, maybe compressed), bottom first
  std::vector<LayerCompression> compressions;
  nlohmann::json config;            // the "config" object (Entrypoint, Cmd, Env, ...)
  std::string architecture = "amd64";
  std::string tag = "test:latest";
};

void write_oci_layout(const std::filesystem::path& dir, const ImageSpec& spec);
// A multi-platform index: one image per spec, each with its own platform.
void write_oci_index(const std::filesystem::path& dir, const std::vector<ImageSpec>& specs);
void write_oci_archive(const std::filesystem::path& file, const ImageSpec& spec);
void write_docker_archive(const std::filesystem::path& file, const ImageSpec& spec);
// Tars up a directory's contents (regular files and directories only).
void tar_directory(const std::filesystem::path& dir, const std::filesystem::path& file);

}  // namespace minify::testing
