// Opening an image: an archive is first extracted (regular files only, each name checked, sizes
// capped) into a blob directory; then the layout is read. An OCI layout (oci-layout, index.json,
// blobs/<alg>/<hex>) is followed from index.json through nested indexes to one image manifest,
// picked by the org.opencontainers.image.ref.name / io.containerd.image.name annotation or by
// platform (image-spec image-index.md). A docker-archive is read from manifest.json
// ([{Config, RepoTags, Layers}], moby image/tarexport). Newer `docker save` writes both; the OCI
// index wins.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "image_internal.hpp"
#include "minify/digest.hpp"
#include "minify/image.hpp"

namespace minify {

namespace {

namespace fs = std::filesystem;
using image_internal::MetaReader;
using nlohmann::json;

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Creates `rel` (already checked: relative, no "..") under `dir_fd`, parents included, refusing
// to follow any symlink (there are none: we only create directories and regular files).
Result<UniqueFd> create_blob_file(int dir_fd, const std::string& rel, const std::string& shown) {
  size_t pos = 0;
  UniqueFd cur(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  for (;;) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) break;
    std::string comp = rel.substr(pos, slash - pos);
    pos = slash + 1;
    if (comp.empty()) continue;
    if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("create", shown);
    UniqueFd next(::openat(cur.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return sys_error("open", shown);
    cur = std::move(next);
  }
  UniqueFd fd(::openat(cur.get(), rel.substr(pos).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return sys_error("create", shown);
  return fd;
}

// Extracts the regular files of an image archive. Anything else (links, devices, directories)
// is not part of either archive format's contract and is skipped.
Status extract_archive(const std::string& file, const std::string& dest, const ImageLimits& limits) {
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) return Error{ec.value(), "create", dest, {}};
  UniqueFd dest_fd(::open(dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dest_fd.valid()) return sys_error("open", dest);
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK)
    return bad_input("read image archive", file, image_internal::archive_reason(a.get()));
  uint64_t total = 0;
  struct archive_entry* e;
  std::vector<char> buf(1 << 16);
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return bad_input("read image archive", file, image_internal::archive_reason(a.get()));
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (archive_entry_filetype(e) != AE_IFREG) {
      // Skipped, but skipping decompresses the data the entry claims: it counts against the limit.
      int64_t skipped = archive_entry_size(e);
      if (skipped > 0 && (total += static_cast<uint64_t>(skipped)) > limits.max_total_bytes)
        return bad_input("read image archive", file,
                         "entry `" + name + "` claims " + std::to_string(skipped) + " bytes, over the limit of " +
                             std::to_string(limits.max_total_bytes));
      continue;
    }
    while (name.rfind("./", 0) == 0) name.erase(0, 2);
    std::string norm = normalize_path("/" + name);
    if (name.empty() || name[0] == '/' || norm.substr(1) != name || name.find("/../") != std::string::npos)
      return bad_input("read image archive", file, "entry `" + name + "`: not a plain relative name");
    int64_t size = archive_entry_size(e);
    if (size < 0 || total + static_cast<uint64_t>(size) > limits.max_total_bytes)
      return bad_input("read image archive", file,
                       "entry `" + name + "` claims " + std::to_string(size) + " bytes, over the limit of " +
                           std::to_string(limits.max_total_bytes));
    auto fd = create_blob_file(dest_fd.get(), name, file + ":" + name);
    if (!fd) return fd.error();
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf.data(), buf.size())) > 0) {
      total += static_cast<uint64_t>(n);
      if (total > limits.max_total_bytes)
        return bad_input("read image archive", file, "entry `" + name + "`: more bytes than the limit");
      if (::write(fd->get(), buf.data(), static_cast<size_t>(n)) != n) return sys_error("write", dest + "/" + name);
    }
    if (n < 0) return bad_input("read image archive", file, image_internal::archive_reason(a.get()));
  }
  return Ok{};
}

// No manifest, index or config nests deeper than a few levels. nlohmann::json builds the whole
// DOM before it reports a syntax error, and 8 MiB of "[" would be 8 million nested arrays, over
// 500 MB, so deeper text is refused before parsing.
constexpr int kMaxJsonDepth = 64;

bool nested_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

Result<json> read_json(const MetaReader& read, const std::string& dir, const std::string& rel) {
  auto text = read(rel);
  if (!text) return text.error();
  if (nested_too_deep(*text))
    return bad_input("parse", dir + "/" + rel, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return json::parse(*text);
  } catch (const json::exception& ex) {
    return bad_input("parse", dir + "/" + rel, ex.what());
  }
}

// "sha256:<hex>" -> "blobs/sha256/<hex>", refusing anything that is not a plain digest.
Result<std::string> blob_path(const std::string& digest, const std::string& where) {
  auto colon = digest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == digest.size())
    return bad_input("read", where, "bad digest `" + digest + "`");
  for (char c : digest)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '+' || c == '.' || c == '_' || c == '-'))
      return bad_input("read", where, "bad digest `" + digest + "`");
  return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

// A string member, or `dflt` when `j` is not an object or the member is not a string: json::value()
// would throw type_error for either, and manifests are untrusted (found by fuzz_image_meta).
std::string str_of(const json& j, const char* key, const char* dflt = "") {
  if (!j.is_object()) return dflt;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

std::vector<std::string> strings_of(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& s : j)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

// The OCI/Docker config blob's "config" object and platform.
Status read_config(const json& j, ImageConfig& c) {
  if (!j.is_object()) return bad_input("read", "image config", "not a JSON object");
  c.architecture = str_of(j, "architecture");
  c.os = str_of(j, "os", "linux");
  c.variant = str_of(j, "variant");
  if (j.contains("config") && j["config"].is_object()) {
    const json& cfg = j["config"];
    if (cfg.contains("Entrypoint")) c.entrypoint = strings_of(cfg["Entrypoint"]);
    if (cfg.contains("Cmd")) c.cmd = strings_of(cfg["Cmd"]);
    if (cfg.contains("Env")) c.env = strings_of(cfg["Env"]);
    if (cfg.contains("WorkingDir") && cfg["WorkingDir"].is_string()) c.working_dir = cfg["WorkingDir"];
    if (cfg.contains("User") && cfg["User"].is_string()) c.user = cfg["User"];
    if (cfg.contains("ExposedPorts") && cfg["ExposedPorts"].is_object())
      for (const auto& [k, v] : cfg["ExposedPorts"].items()) c.exposed_ports.push_back(k);
    if (cfg.contains("Labels") && cfg["Labels"].is_object())
      for (const auto& [k, v] : cfg["Labels"].items())
        if (v.is_string()) c.labels[k] = v.get<std::string>();
  }
  return Ok{};
}

std::string host_platform() {
  struct utsname u {};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "linux/amd64";
  if (m == "aarch64") return "linux/arm64";
  return "linux/" + m;
}

bool platform_matches(const json& p, const std::string& want) {
  if (!p.is_object()) return false;
  std::string os = str_of(p, "os"), arch = str_of(p, "architecture"), variant = str_of(p, "variant");
  std::string full = os + "/" + arch;
  return want == full || (!variant.empty() && want == full + "/" + variant);
}

bool is_index(const std::string& mt) {
  return mt == "application/vnd.oci.image.index.v1+json" ||
         mt == "application/vnd.docker.distribution.manifest.list.v2+json";
}

bool tag_matches(const json& desc, const std::string& tag) {
  if (!desc.contains("annotations") || !desc["annotations"].is_object()) return false;
  for (const char* key : {"org.opencontainers.image.ref.name", "io.containerd.image.name"}) {
    std::string v = str_of(desc["annotations"], key);
    if (v.empty()) continue;
    if (v == tag || v == tag + ":latest") return true;
    auto colon = v.rfind(':');
    if (colon != std::string::npos && v.find('/', colon) == std::string::npos && v.substr(colon + 1) == tag) return true;
  }
  return false;
}

// Walks from index.json to one image manifest.
Result<json> pick_manifest(const MetaReader& read, const std::string& dir, const ImageSelect& sel) {
  auto index = read_json(read, dir, "index.json");
  if (!index) return index.error();
  std::string want = sel.platform.empty() ? host_platform() : sel.platform;
  json current = *index;
  bool tag_done = sel.tag.empty();
  for (int depth = 0; depth < 8; ++depth) {
    if (!current.contains("manifests") || !current["manifests"].is_array() || current["manifests"].empty())
      return bad_input("read", dir + "/index.json", "no manifests");
    std::vector<json> cands;
    for (const auto& d : current["manifests"]) {
      if (!d.is_object()) continue;
      if (!tag_done && !tag_matches(d, sel.tag)) continue;
      cands.push_back(d);
    }
    if (cands.empty()) return bad_input("find image", dir, "no image tagged `" + sel.tag + "`");
    tag_done = true;
    const json* chosen = nullptr;
    if (cands.size() == 1) chosen = &cands[0];
    for (const auto& d : cands)
      if (!chosen && d.contains("platform") && platform_matches(d["platform"], want)) chosen = &d;
    if (!chosen) {
      std::string seen;
      for (const auto& d : cands)
        if (d.contains("platform")) seen += (seen.empty() ? "" : ", ") + str_of(d["platform"], "os") + "/" +
                                          str_of(d["platform"], "architecture");
      return bad_input("find image", dir, "no manifest for platform " + want + (seen.empty() ? "" : " (has " + seen + ")"));
    }
    auto path = blob_path(str_of(*chosen, "digest"), dir);
    if (!path) return path.error();
    auto m = read_json(read, dir, *path);
    if (!m) return m.error();
    std::string mt = str_of(*chosen, "mediaType", str_of(*m, "mediaType").c_str());
    if (is_index(mt) || (m->contains("manifests") && !m->contains("layers"))) {
      current = *m;
      continue;
    }
    if (!sel.platform.empty() && chosen->contains("platform") && !platform_matches((*chosen)["platform"], want))
      return bad_input("find image", dir, "the only image is not for platform " + want);
    return *m;
  }
  return bad_input("read", dir + "/index.json", "indexes nested too deep");
}

}  // namespace

namespace image_internal {

Status read_oci_meta(const MetaReader& read, const std::string& dir, const ImageSelect& sel, Image& img) {
  auto m = pick_manifest(read, dir, sel);
  if (!m) return m.error();
  if (!m->contains("config") || !(*m)["config"].is_object()) return bad_input("read", dir, "manifest without config");
  img.config_digest = str_of((*m)["config"], "digest");
  auto cpath = blob_path(img.config_digest, dir);
  if (!cpath) return cpath.error();
  auto cfg = read_json(read, dir, *cpath);
  if (!cfg) return cfg.error();
  if (auto st = read_config(*cfg, img.config); !st) return st.error();
  if (!m->contains("layers") || !(*m)["layers"].is_array()) return bad_input("read", dir, "manifest without layers");
  for (const auto& l : (*m)["layers"]) {
    LayerRef ref;
    ref.digest = str_of(l, "digest");
    ref.media_type = str_of(l, "mediaType");
    if (l.is_object() && l.contains("size") && l["size"].is_number_unsigned()) ref.size = l["size"].get<uint64_t>();
    auto p = blob_path(ref.digest, dir);
    if (!p) return p.error();
    ref.file = dir + "/" + *p;
    img.layers.push_back(std::move(ref));
  }
  return Ok{};
}

}  // namespace image_internal

namespace {

// A relative name from manifest.json, checked like an archive entry.
Result<std::string> docker_member(const std::string& dir, const json& j) {
  if (!j.is_string()) return bad_input("read", dir + "/manifest.json", "a file name is not a string");
  std::string name = j.get<std::string>();
  if (name.empty() || name[0] == '/' || normalize_path("/" + name).substr(1) != name)
    return bad_input("read", dir + "/manifest.json", "file name `" + name + "` is not a plain relative name");
  return name;
}

}  // namespace

namespace image_internal {

Status read_docker_meta(const MetaReader& read, const std::string& dir, const ImageSelect& sel, Image& img) {
  auto m = read_json(read, dir, "manifest.json");
  if (!m) return m.error();
  if (!m->is_array() || m->empty()) return bad_input("read", dir + "/manifest.json", "no images");
  const json* chosen = nullptr;
  for (const auto& e : *m) {
    if (!e.is_object()) continue;
    auto tags = strings_of(e.value("RepoTags", json::array()));
    if (sel.tag.empty()) {
      chosen = &e;
      break;
    }
    for (const auto& t : tags)
      if (t == sel.tag || t == sel.tag + ":latest" || t.substr(t.rfind(':') + 1) == sel.tag) chosen = &e;
    if (chosen) break;
  }
  if (!chosen) return bad_input("find image", dir, "no image tagged `" + sel.tag + "`");
  img.repo_tags = strings_of(chosen->value("RepoTags", json::array()));
  auto cfg_name = docker_member(dir, chosen->value("Config", json()));
  if (!cfg_name) return cfg_name.error();
  img.config_digest = *cfg_name;
  auto cfg = read_json(read, dir, *cfg_name);
  if (!cfg) return cfg.error();
  if (auto st = read_config(*cfg, img.config); !st) return st.error();
  if (!sel.platform.empty() && !platform_matches(*cfg, sel.platform))
    return bad_input("find image", dir, "the image is not for platform " + sel.platform);
  for (const auto& l : chosen->value("Layers", json::array())) {
    auto name = docker_member(dir, l);
    if (!name) return name.error();
    LayerRef ref;
    ref.digest = *name;
    ref.file = dir + "/" + *name;
    struct stat st {};
    if (::stat(ref.file.c_str(), &st) == 0) ref.size = static_cast<uint64_t>(st.st_size);
    img.layers.push_back(std::move(ref));
  }
  return Ok{};
}

}  // namespace image_internal

namespace {

// Metadata files of a layout on disk, read inside it (a symlinked index.json cannot point out).
MetaReader layout_reader(const std::string& dir, const ImageLimits& limits) {
  return [dir, limits](const std::string& rel) -> Result<std::string> {
    auto root = Root::open(dir);
    if (!root) return root.error();
    return root->read_file("/" + rel, limits.max_metadata_bytes);
  };
}

// Content addressing (image-spec descriptor.md): a blob whose sha256 is not its name is refused.
Status check_digest(const std::string& file, const std::string& digest, const std::string& what) {
  if (digest.rfind("sha256:", 0) != 0) return Ok{};  // docker-archive names, other algorithms
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", file);
  Hasher h;
  std::vector<char> buf(1 << 16);
  ssize_t n;
  while ((n = ::read(fd.get(), buf.data(), buf.size())) > 0) h.update(buf.data(), static_cast<size_t>(n));
  if (n < 0) return sys_error("read", file);
  std::string got = "sha256:" + h.hex();
  if (got != digest) return bad_input("check", what, "content is " + got + ", not " + digest);
  return Ok{};
}

}  // namespace

std::string_view image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::DockerArchive: return "docker-archive";
    case ImageFormat::OciArchive: return "oci-archive";
    case ImageFormat::OciLayout: return "oci-layout";
  }
  return "?";
}

uint64_t Image::compressed_bytes() const {
  uint64_t n = 0;
  for (const auto& l : layers) n += l.size;
  return n;
}

Result<Image> open_image(const std::string& source, const std::string& work_dir, const ImageSelect& select,
                         const ImageLimits& limits) {
  Image img;
  img.source = source;
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) return sys_error("open image", source);
  std::string dir = source;
  bool archive = !S_ISDIR(st.st_mode);
  if (archive) {
    dir = work_dir + "/blobs";
    if (auto x = extract_archive(source, dir, limits); !x) return x.error();
  }
  bool has_index = ::access((dir + "/index.json").c_str(), F_OK) == 0;
  bool has_manifest = ::access((dir + "/manifest.json").c_str(), F_OK) == 0;
  if (has_index) {
    img.format = archive ? ImageFormat::OciArchive : ImageFormat::OciLayout;
    if (auto x = image_internal::read_oci_meta(layout_reader(dir, limits), dir, select, img); !x) return x.error();
  } else if (has_manifest) {
    img.format = ImageFormat::DockerArchive;
    if (auto x = image_internal::read_docker_meta(layout_reader(dir, limits), dir, select, img); !x) return x.error();
  } else {
    return bad_input("open image", source, "neither an OCI layout (index.json) nor a docker-archive (manifest.json)");
  }
  for (size_t i = 0; i < img.layers.size(); ++i)
    if (auto ok = check_digest(img.layers[i].file, img.layers[i].digest,
                               "layer " + std::to_string(i + 1) + " (" + img.layers[i].digest + ")");
        !ok)
      return ok.error();
  return img;
}

}  // namespace minify
