// Helpers for the inspect tests: see inspect_support.hpp.
#include "inspect_support.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <functional>

namespace minify::testing {

FileReport inspect_host(const fs::path& file, InspectOptions opt) {
  auto root = Root::open("/");
  EXPECT_TRUE(root.ok());
  Inspector in(*root, std::move(opt));
  auto r = in.inspect(file.string());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? std::move(*r) : FileReport{};
}

std::vector<DlopenTarget> dlopen_in(const FileReport& r, const fs::path& object) {
  std::vector<DlopenTarget> out;
  for (const auto& t : r.dlopen)
    if (t.object == object.string()) out.push_back(t);
  return out;
}

fs::path fixture_dir() {
  fs::path d = MINIFY_INSPECT_FIXTURES;
  fs::create_directories(d);
  return d;
}

fs::path go_fixture(const std::string& name, const std::string& main_go, const std::vector<std::string>& flags,
                    const std::vector<std::string>& env, std::string& error) {
  std::string key = main_go;
  for (const auto& f : flags) key += "\n" + f;
  for (const auto& e : env) key += "\n" + e;
  fs::path dir = fixture_dir() / "go" / (name + "-" + std::to_string(std::hash<std::string>{}(key)));
  fs::path bin = dir / name;
  if (fs::exists(bin)) return bin;
  // CTest runs tests in parallel processes: one builds, the others wait for it.
  fs::create_directories(dir);
  int lock = ::open((dir.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    error = "cannot lock " + dir.string() + ".lock";
    if (lock >= 0) ::close(lock);
    return {};
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock};
  if (fs::exists(bin)) return bin;
  fs::path src = dir / "src";
  fs::create_directories(src);
  write_file(src / "go.mod", "module example.com/" + name + "\n\ngo 1.19\n");
  write_file(src / "main.go", main_go);
  std::string cmd = "cd '" + src.string() + "' && go build";
  for (const auto& f : flags) cmd += " '" + f + "'";
  cmd += " -o '" + (dir / (name + ".tmp")).string() + "' . && mv '" + (dir / (name + ".tmp")).string() + "' '" +
         bin.string() + "'";
  std::vector<std::string> full_env = {"GOCACHE=" + (fixture_dir() / "gocache").string(),
                                       "GOPATH=" + (dir / "gopath").string(),
                                       "HOME=" + dir.string(),
                                       "GOFLAGS=-mod=mod",
                                       "GO111MODULE=on",
                                       "GOPROXY=off",
                                       "GOTOOLCHAIN=local"};
  full_env.insert(full_env.end(), env.begin(), env.end());
  RunResult r = run({"sh", "-c", cmd}, full_env);
  if (r.status != 0) {
    error = r.err;
    return {};
  }
  return bin;
}

void patch_file(const fs::path& file, uint64_t offset, const std::string& bytes) {
  std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void drop_section_headers(const fs::path& file) {
  patch_file(file, 0x28, std::string(8, '\0'));  // e_shoff
  patch_file(file, 0x3c, std::string(4, '\0'));  // e_shnum, e_shstrndx
}

}  // namespace minify::testing
