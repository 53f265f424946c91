// libFuzzer target: applying an image layer (a tar, plain, gzip or zstd) and opening an image
// archive, on arbitrary bytes, for real, into a scratch directory.
//
// Layout of the scratch directory (made once per process):
//   base.tar    a fixed lower layer: files, a setuid file, a hard link, symlinks that climb out
//               ("up -> ../sentinel", "abs -> /"), a symlink loop and a directory to make opaque
//   input       the fuzz input
//   sentinel/   a sibling that must never change: the layers are applied into root/ and the
//               archive opened into open/, and neither may write outside them
// Each input is applied as the layer above base.tar into root/ under small ImageLimits (a bomb is
// cut short at 1 MiB), then opened as an image archive (docker-archive or OCI) into open/ and, if
// that works, its layers applied too. After each input the sentinel and the scratch directory's
// listing are checked (abort() on any change, so libFuzzer reports it) and root/ and open/ removed.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "minify/image.hpp"

namespace fs = std::filesystem;

namespace {

constexpr const char* kCanary = "must stay as it is\n";

struct Scratch {
  std::string dir, base, input, sentinel, root, open;
};

void die(const std::string& why) {
  std::fprintf(stderr, "fuzz_layer: %s\n", why.c_str());
  std::abort();
}

void add_entry(struct archive* a, const char* name, mode_t type, mode_t perm, const char* body = nullptr,
               const char* link = nullptr, bool hard = false) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, perm);
  if (link && hard) archive_entry_set_hardlink(e, link);
  if (link && !hard) archive_entry_set_symlink(e, link);
  archive_entry_set_size(e, body ? static_cast<la_int64_t>(std::string(body).size()) : 0);
  if (archive_write_header(a, e) != ARCHIVE_OK) die(archive_error_string(a));
  if (body) archive_write_data(a, body, std::string(body).size());
  archive_entry_free(e);
}

void write_base(const std::string& file) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (archive_write_open_filename(a, file.c_str()) != ARCHIVE_OK) die(archive_error_string(a));
  add_entry(a, "etc/", AE_IFDIR, 0755);
  add_entry(a, "etc/passwd", AE_IFREG, 0644, "root:x:0:0:root:/root:/bin/sh\n");
  add_entry(a, "etc/hard", AE_IFREG, 0644, nullptr, "etc/passwd", true);
  add_entry(a, "usr/bin/", AE_IFDIR, 0755);
  add_entry(a, "usr/bin/tool", AE_IFREG, 04755, "#!/bin/sh\n");
  add_entry(a, "usr/bin/alias", AE_IFLNK, 0777, nullptr, "tool");
  add_entry(a, "up", AE_IFLNK, 0777, nullptr, "../sentinel");
  add_entry(a, "abs", AE_IFLNK, 0777, nullptr, "/");
  add_entry(a, "loop", AE_IFLNK, 0777, nullptr, "loop");
  add_entry(a, "opq/", AE_IFDIR, 0755);
  add_entry(a, "opq/old", AE_IFREG, 0644, "lower\n");
  archive_write_close(a);
  archive_write_free(a);
}

// Never destroyed: the atexit handler that removes the directory runs after static destructors.
const Scratch& scratch() {
  static const Scratch* s = [] {
    // tmpfs when there is one: every input creates and removes a few dozen files.
    std::string tmpl = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm/fuzz_layer.XXXXXX" : "/tmp/fuzz_layer.XXXXXX";
    if (!::mkdtemp(tmpl.data())) die("mkdtemp failed");
    auto* x = new Scratch;
    x->dir = tmpl;
    x->base = x->dir + "/base.tar";
    x->input = x->dir + "/input";
    x->sentinel = x->dir + "/sentinel";
    x->root = x->dir + "/root";
    x->open = x->dir + "/open";
    fs::create_directory(x->sentinel);
    std::ofstream(x->sentinel + "/canary") << kCanary;
    write_base(x->base);
    std::atexit([] { std::error_code ec; fs::remove_all(scratch().dir, ec); });
    return x;
  }();
  return *s;
}

void check_untouched(const Scratch& s) {
  std::set<std::string> names;
  for (const auto& de : fs::directory_iterator(s.dir)) names.insert(de.path().filename());
  if (names != std::set<std::string>{"base.tar", "input", "sentinel"}) {
    std::string got;
    for (const auto& n : names) got += " " + n;
    die("scratch directory changed:" + got);
  }
  std::set<std::string> in_sentinel;
  for (const auto& de : fs::directory_iterator(s.sentinel)) in_sentinel.insert(de.path().filename());
  if (in_sentinel != std::set<std::string>{"canary"}) die("sentinel directory changed");
  auto st = fs::symlink_status(s.sentinel + "/canary");
  std::ifstream in(s.sentinel + "/canary");
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (st.type() != fs::file_type::regular || body != kCanary) die("sentinel file changed");
}

void remove_or_die(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) die("cannot remove " + path + ": " + ec.message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Scratch& s = scratch();
  {
    int fd = ::open(s.input.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, data, size) != static_cast<ssize_t>(size)) die("cannot write the input");
    ::close(fd);
  }
  minify::UnpackOptions opt;
  opt.limits.max_total_bytes = 1 << 20;
  opt.limits.max_entries = 2000;
  opt.limits.max_metadata_bytes = 64 << 10;

  minify::Image img;
  img.layers.push_back({"base", "", s.base, 0});
  img.layers.push_back({"input", "", s.input, size});
  (void)minify::unpack_layers(img, s.root, opt);
  remove_or_die(s.root);
  check_untouched(s);

  auto opened = minify::open_image(s.input, s.open, {}, opt.limits);
  if (opened) (void)minify::unpack_layers(*opened, s.open + "/root", opt);
  remove_or_die(s.open);
  check_untouched(s);
  return 0;
}
