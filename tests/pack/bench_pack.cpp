// bench_pack: the library's writers on a file list, for scripts/bench.d/pack (minify has no pack
// command yet). Reads absolute paths (one a line) from --list, adds each to a FileSet inside
// --root (default "/") the way the packer does (links and directories on the way), then writes
// one output:
//   bench_pack --list FILE --format tar|tar.gz|tar.zst|oci-gzip|oci-zstd|rootfs -o OUT [--threads N]
//   bench_pack --list FILE --print-names   (the set's paths relative to the root, for `tar -T`)
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "minify/pack.hpp"

using namespace minify;

int main(int argc, char** argv) {
  std::string list, format = "tar", out, root_dir = "/";
  bool print_names = false;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--list") list = next();
    else if (a == "--format") format = next();
    else if (a == "-o") out = next();
    else if (a == "--root") root_dir = next();
    else if (a == "--print-names") print_names = true;
    else if (a == "--threads") threads = std::stoi(next());
    else {
      std::cerr << "bench_pack: unknown argument " << a << "\n";
      return 2;
    }
  }
  auto root = Root::open(root_dir);
  if (!root) {
    std::cerr << "bench_pack: " << root.error().message() << "\n";
    return 1;
  }
  std::ifstream in(list);
  if (!in) {
    std::cerr << "bench_pack: cannot read " << list << "\n";
    return 2;
  }
  FileSet set;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto r = set.add(*root, line, {ReasonKind::Kept, "bench list"});
    if (!r) std::cerr << "bench_pack: " << r.error().message() << "\n";
  }
  if (print_names) {
    for (const auto& [path, e] : set) std::cout << path.substr(1) << "\n";
    return 0;
  }
  Status s = Ok{};
  if (format == "tar" || format == "tar.gz" || format == "tar.zst") {
    TarOptions o;
    o.compression = format == "tar.gz" ? Compression::Gzip : format == "tar.zst" ? Compression::Zstd : Compression::None;
    o.threads = threads;
    auto d = write_tar(set, *root, out, o);
    if (!d) s = d.error();
  } else if (format == "oci-gzip" || format == "oci-zstd") {
    OciOptions o;
    o.compression = format == "oci-zstd" ? Compression::Zstd : Compression::Gzip;
    o.threads = threads;
    auto d = write_oci(set, *root, out, ImageConfig{}, o);
    if (!d) s = d.error();
  } else if (format == "rootfs") {
    s = write_rootfs(set, *root, out);
  } else {
    std::cerr << "bench_pack: unknown format " << format << "\n";
    return 2;
  }
  if (!s) {
    std::cerr << "bench_pack: " << s.error().message() << "\n";
    return 1;
  }
  return 0;
}
