// The writers: rootfs directory, tar (plain, gzip, zstd) and OCI image archive are read back
// (libarchive, the file system, skopeo, umoci) and compared by name, mode and bytes; every
// archive is written twice and compared byte for byte; failed writes must leave no output.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "minify/pack.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;
using testing::write_file;

struct Item {
  char type = '?';  // 'f', 'd', 'l'
  unsigned mode = 0;
  std::string data;
  std::string link;
  int64_t uid = -1, gid = -1, mtime = -1;
  bool has_atime = false, has_ctime = false;
  std::string uname, gname;
};

// Reads a tar (any compression libarchive knows) from memory into name -> Item, in order.
std::vector<std::pair<std::string, Item>> read_tar(const std::string& bytes) {
  std::vector<std::pair<std::string, Item>> out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK) << archive_error_string(a);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Item it;
    mode_t m = archive_entry_filetype(e);
    it.type = m == AE_IFDIR ? 'd' : m == AE_IFLNK ? 'l' : m == AE_IFREG ? 'f' : '?';
    it.mode = archive_entry_perm(e);
    if (archive_entry_symlink(e)) it.link = archive_entry_symlink(e);
    it.uid = archive_entry_uid(e);
    it.gid = archive_entry_gid(e);
    it.mtime = archive_entry_mtime(e);
    it.has_atime = archive_entry_atime_is_set(e);
    it.has_ctime = archive_entry_ctime_is_set(e);
    if (archive_entry_uname(e)) it.uname = archive_entry_uname(e);
    if (archive_entry_gname(e)) it.gname = archive_entry_gname(e);
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) it.data.append(buf, static_cast<size_t>(n));
    std::string name = archive_entry_pathname(e);
    if (name.size() > 1 && name.back() == '/') name.pop_back();  // directories: "etc/"
    out.emplace_back(std::move(name), std::move(it));
  }
  archive_read_free(a);
  return out;
}

std::map<std::string, Item> as_map(const std::vector<std::pair<std::string, Item>>& v) { return {v.begin(), v.end()}; }

std::string sha256(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* d = "0123456789abcdef";
  std::string s = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    s += d[md[i] >> 4];
    s += d[md[i] & 15];
  }
  return s;
}

std::string decompress(const std::string& bytes) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  archive_read_open_memory(a, bytes.data(), bytes.size());
  struct archive_entry* e;
  std::string out;
  if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  archive_read_free(a);
  return out;
}

std::vector<std::string> dir_listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A small merged-/usr root with a program, its libraries, a 0750 directory and a setuid file.
class PackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& r = src_.path();
    write_file(r / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", std::string(5000, 'L'));
    ::chmod((r / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").c_str(), 0755);
    fs::create_directories(r / "usr/lib64");
    fs::create_symlink("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", r / "usr/lib64/ld-linux-x86-64.so.2");
    fs::create_symlink("usr/lib64", r / "lib64");
    fs::create_symlink("usr/lib", r / "lib");
    write_file(r / "usr/lib/x86_64-linux-gnu/libc.so.6", std::string(100000, 'c'));
    write_file(r / "usr/lib/x86_64-linux-gnu/libssl.so.3.0.11", "ssl");
    fs::create_symlink("libssl.so.3.0.11", r / "usr/lib/x86_64-linux-gnu/libssl.so.3");
    std::string big;
    for (int i = 0; i < 300000; ++i) big += std::to_string(i * 7919L % 10007);
    write_file(r / "usr/bin/server", big);
    ::chmod((r / "usr/bin/server").c_str(), 04755);
    write_file(r / "etc/ssl/certs/ca-certificates.crt", "CERTS\n");
    write_file(r / "srv/private/key", "k");
    ::chmod((r / "srv/private").c_str(), 0750);
    std::string long_dir = "opt/" + std::string(120, 'd') + "/" + std::string(90, 'e');
    write_file(r / long_dir / "long-named-file.txt", "long");
    long_name_ = "/" + long_dir + "/long-named-file.txt";
    // 4 MiB, mostly holes: a GNU sparse entry in every tar and layer, which umoci, skopeo and
    // podman must take.
    fs::create_directories(r / "var/lib/app");
    {
      int fd = ::open((r / "var/lib/app/sparse.db").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::ftruncate(fd, 4 << 20), 0);
      ASSERT_EQ(::pwrite(fd, "page0", 5, 0), 5);
      ASSERT_EQ(::pwrite(fd, "page3", 5, 3 << 20), 5);
      ::close(fd);
    }
    // Known source times, one with nanoseconds, on a file, a directory and a symlink.
    set_time(r / "usr/bin/server", {1600000000, 500000000});
    set_time(r / "usr/lib/x86_64-linux-gnu/libc.so.6", {1500000000, 0});
    set_time(r / "lib64", {1400000000, 0});
    set_time(r / "srv/private", {1300000000, 250});
    auto root = Root::open(r.string());
    ASSERT_TRUE(root);
    root_.emplace(std::move(*root));

    add("/lib64/ld-linux-x86-64.so.2", {ReasonKind::Interpreter, "of /usr/bin/server"});
    add("/lib/x86_64-linux-gnu/libc.so.6", {ReasonKind::Needed, "needed by /usr/bin/server"});
    add("/usr/lib/x86_64-linux-gnu/libssl.so.3", {ReasonKind::Needed, "needed by /usr/bin/server"});
    add("/etc/ssl/certs/ca-certificates.crt", {ReasonKind::Opened, "opened by /usr/bin/server"});
    add("/srv/private/key", {ReasonKind::Opened, "opened by /usr/bin/server"});
    add(long_name_, {ReasonKind::Opened, "opened by /usr/bin/server"});
    add("/usr/bin/server", {ReasonKind::Program, "/usr/bin/server"});
    add("/var/lib/app/sparse.db", {ReasonKind::Opened, "opened by /usr/bin/server"});
    ASSERT_TRUE(set_.add_generated("/etc/passwd", "root:x:0:0::/:/sbin/nologin\n", 0644, {ReasonKind::Generated, "g"}));
    ASSERT_TRUE(set_.add_directory("/tmp", 01777, {ReasonKind::Generated, "tmp"}));
  }

  static void set_time(const fs::path& p, struct timespec t) {
    struct timespec ts[2] = {t, t};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
  }

  void add(const std::string& p, const Reason& why) {
    auto r = set_.add(*root_, p, why);
    ASSERT_TRUE(r) << r.error().message();
  }

  // The set as the tar must show it: "usr/bin/server" -> expected item.
  void expect_matches_set(const std::map<std::string, Item>& got) {
    EXPECT_EQ(got.size(), set_.size());
    for (const auto& [path, e] : set_) {
      auto it = got.find(path.substr(1));
      ASSERT_NE(it, got.end()) << path;
      const Item& item = it->second;
      switch (e.type) {
        case EntryType::File: {
          EXPECT_EQ(item.type, 'f') << path;
          std::string want = e.generated ? e.content : testing::read_file(src_.path() / path.substr(1));
          EXPECT_EQ(item.data, want) << path;
          break;
        }
        case EntryType::Directory: EXPECT_EQ(item.type, 'd') << path; break;
        case EntryType::Symlink:
          EXPECT_EQ(item.type, 'l') << path;
          EXPECT_EQ(item.link, e.link_target) << path;
          break;
      }
      if (e.type != EntryType::Symlink) {
        EXPECT_EQ(item.mode, e.mode) << path;
      }
      EXPECT_EQ(item.uid, e.uid) << path;
      EXPECT_EQ(item.gid, e.gid) << path;
      EXPECT_FALSE(item.has_atime) << path;
      EXPECT_FALSE(item.has_ctime) << path;
      EXPECT_TRUE(item.uname.empty() || item.uname == "root") << path;
    }
  }

  TempDir src_;
  TempDir out_;
  std::optional<Root> root_;
  FileSet set_;
  std::string long_name_;
};

TEST_F(PackTest, TarHoldsEveryEntryWithModesLinksAndBytes) {
  std::string out = (out_.path() / "image.tar").string();
  auto d = write_tar(set_, *root_, out, {});
  ASSERT_TRUE(d) << d.error().message();
  std::string bytes = testing::read_file(out);
  EXPECT_EQ(d->size, bytes.size());
  EXPECT_EQ(d->digest, sha256(bytes));
  EXPECT_EQ(d->diff_id, d->digest) << "uncompressed: both hashes are of the same bytes";
  auto entries = read_tar(bytes);
  expect_matches_set(as_map(entries));
  // Sorted, parents first.
  std::vector<std::string> names;
  for (const auto& [n, i] : entries) names.push_back(n);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(as_map(entries).at("usr/bin/server").mode, 04755u);
  EXPECT_EQ(as_map(entries).at("srv/private").mode, 0750u);
  EXPECT_EQ(as_map(entries).at("tmp").mode, 01777u);
  EXPECT_EQ(as_map(entries).at("lib64").link, "usr/lib64");
  EXPECT_EQ(as_map(entries).at(long_name_.substr(1)).data, "long");
}

TEST_F(PackTest, TarIsByteIdenticalAcrossRunsForEveryCompression) {
  for (Compression c : {Compression::None, Compression::Gzip, Compression::Zstd}) {
    std::string a = (out_.path() / "a.tar").string(), b = (out_.path() / "b.tar").string();
    auto da = write_tar(set_, *root_, a, {.compression = c});
    // A different worker count must not change zstd output.
    auto db = write_tar(set_, *root_, b, {.compression = c, .threads = 1});
    ASSERT_TRUE(da && db) << compression_name(c);
    EXPECT_EQ(testing::read_file(a), testing::read_file(b)) << compression_name(c);
    EXPECT_EQ(da->digest, db->digest);
    EXPECT_EQ(da->diff_id, db->diff_id);
    expect_matches_set(as_map(read_tar(testing::read_file(a))));
  }
}

TEST_F(PackTest, CompressedTarDigestsCoverBothForms) {
  for (Compression c : {Compression::Gzip, Compression::Zstd}) {
    std::string out = (out_.path() / "x.tar").string();
    auto d = write_tar(set_, *root_, out, {.compression = c});
    ASSERT_TRUE(d);
    std::string bytes = testing::read_file(out);
    EXPECT_EQ(d->digest, sha256(bytes));
    std::string plain = decompress(bytes);
    EXPECT_EQ(d->tar_size, plain.size());
    EXPECT_EQ(d->diff_id, sha256(plain)) << compression_name(c);
    EXPECT_LT(bytes.size(), plain.size());
  }
}

TEST_F(PackTest, GzipHeaderHasNoNameAndNoTime) {
  std::string out = (out_.path() / "x.tar.gz").string();
  ASSERT_TRUE(write_tar(set_, *root_, out, {.compression = Compression::Gzip}));
  std::string b = testing::read_file(out);
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(b[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(b[1]), 0x8b);
  EXPECT_EQ(b[3], 0) << "FLG: no FNAME, no FEXTRA";
  EXPECT_EQ(b.substr(4, 4), std::string(4, '\0')) << "MTIME 0";
}

// Every entry keeps its source's mtime (whole seconds in a tar); entries minify made get 0.
TEST_F(PackTest, TarKeepsTheSourceMtimes) {
  std::string out = (out_.path() / "x.tar").string();
  ASSERT_TRUE(write_tar(set_, *root_, out, {}));
  auto items = as_map(read_tar(testing::read_file(out)));
  EXPECT_EQ(items.at("usr/bin/server").mtime, 1600000000);
  EXPECT_EQ(items.at("usr/lib/x86_64-linux-gnu/libc.so.6").mtime, 1500000000);
  EXPECT_EQ(items.at("lib64").mtime, 1400000000);
  EXPECT_EQ(items.at("srv/private").mtime, 1300000000);
  EXPECT_EQ(items.at("etc/passwd").mtime, 0);
  EXPECT_EQ(items.at("tmp").mtime, 0);
  for (const auto& [path, e] : set_) EXPECT_EQ(items.at(path.substr(1)).mtime, e.mtime.tv_sec) << path;
}

// SOURCE_DATE_EPOCH clamps: later times become the epoch, earlier ones stay; minify's own
// entries get the epoch (reproducible-builds.org/docs/source-date-epoch, "clamping").
TEST_F(PackTest, SourceDateEpochClampsLaterMtimes) {
  auto epoch = parse_source_date_epoch("1550000000");
  ASSERT_TRUE(epoch);
  std::string out = (out_.path() / "x.tar").string();
  ASSERT_TRUE(write_tar(set_, *root_, out, {.source_date_epoch = *epoch}));
  auto items = as_map(read_tar(testing::read_file(out)));
  EXPECT_EQ(items.at("usr/bin/server").mtime, 1550000000);
  EXPECT_EQ(items.at("usr/lib/x86_64-linux-gnu/libc.so.6").mtime, 1500000000);
  EXPECT_EQ(items.at("lib64").mtime, 1400000000);
  EXPECT_EQ(items.at("etc/passwd").mtime, 1550000000);
  EXPECT_EQ(items.at("tmp").mtime, 1550000000);
  for (const auto& [n, item] : items) EXPECT_LE(item.mtime, 1550000000) << n;

  fs::path rootfs = out_.path() / "rootfs";
  ASSERT_TRUE(write_rootfs(set_, *root_, rootfs.string(), {.source_date_epoch = *epoch}));
  struct stat st;
  ASSERT_EQ(::lstat((rootfs / "usr/bin/server").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1550000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
  ASSERT_EQ(::lstat((rootfs / "srv/private").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1300000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 250);
  ASSERT_EQ(::lstat((rootfs / "tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1550000000);

  EXPECT_EQ(*parse_source_date_epoch(nullptr), 0);
  EXPECT_EQ(*parse_source_date_epoch(""), 0);
  EXPECT_FALSE(parse_source_date_epoch("12abc"));
  EXPECT_FALSE(parse_source_date_epoch("-5"));
}

TEST_F(PackTest, FileCapabilitiesAreKept) {
  // struct vfs_cap_data, revision 2, effective: cap_net_bind_service (10) permitted.
  uint32_t cap[5] = {0x02000001u, 1u << 10, 0, 0, 0};
  fs::path server = src_.path() / "usr/bin/server";
  if (::setxattr(server.c_str(), "security.capability", cap, sizeof cap, 0) != 0)
    GTEST_SKIP() << "cannot set file capabilities here: " << std::strerror(errno);
  std::string out = (out_.path() / "x.tar").string();
  ASSERT_TRUE(write_tar(set_, *root_, out, {}));
  struct archive* a = archive_read_new();
  archive_read_support_format_all(a);
  ASSERT_EQ(archive_read_open_filename(a, out.c_str(), 65536), ARCHIVE_OK);
  struct archive_entry* e;
  std::string got;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    if (std::string(archive_entry_pathname(e)) != "usr/bin/server") continue;
    const char* name;
    const void* value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
      if (std::string(name) == "security.capability") got.assign(static_cast<const char*>(value), size);
  }
  archive_read_free(a);
  EXPECT_EQ(got, std::string(reinterpret_cast<const char*>(cap), sizeof cap));
  fs::path rootfs = out_.path() / "rootfs";
  ASSERT_TRUE(write_rootfs(set_, *root_, rootfs.string()));
  char buf[64];
  ssize_t n = ::getxattr((rootfs / "usr/bin/server").c_str(), "security.capability", buf, sizeof buf);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof cap));
  EXPECT_EQ(std::memcmp(buf, cap, sizeof cap), 0);
  EXPECT_LT(::getxattr((rootfs / "usr/bin/server").c_str(), "user.other", buf, sizeof buf), 0);
}

TEST_F(PackTest, FailedTarWriteLeavesNoOutput) {
  // The source file vanishes between analysis and writing.
  fs::remove(src_.path() / "etc/ssl/certs/ca-certificates.crt");
  std::string out = (out_.path() / "image.tar").string();
  auto d = write_tar(set_, *root_, out, {.compression = Compression::Gzip});
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("ca-certificates.crt"), std::string::npos) << d.error().message();
  EXPECT_TRUE(dir_listing(out_.path()).empty()) << "no output, no temporary file";
  auto o = write_oci(set_, *root_, (out_.path() / "image.oci").string(), {});
  ASSERT_FALSE(o);
  EXPECT_TRUE(dir_listing(out_.path()).empty());
  auto r = write_rootfs(set_, *root_, (out_.path() / "rootfs").string());
  ASSERT_FALSE(r);
  EXPECT_TRUE(dir_listing(out_.path()).empty());
}

TEST_F(PackTest, KilledWriteLeavesNoOutput) {
  // A file big enough that gzip -9 takes a while; the writer is killed mid-layer.
  std::string data(48 << 20, '\0');
  uint32_t x = 12345;
  for (auto& c : data) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('a' + (x >> 16) % 7);
  }
  write_file(src_.path() / "usr/share/big", data);
  ASSERT_TRUE(set_.add(*root_, "/usr/share/big", {ReasonKind::Opened, "x"}));
  std::string out = (out_.path() / "image.tar").string();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    OciOptions o;
    o.level = 9;
    auto d = write_oci(set_, *root_, out, {}, o);
    ::_exit(d ? 0 : 1);
  }
  // Wait for the temporary file to grow, then kill the writer.
  bool started = false;
  for (int i = 0; i < 2000 && !started; ++i) {
    for (const auto& name : dir_listing(out_.path()))
      if (name.rfind("image.tar.tmp-", 0) == 0 && fs::file_size(out_.path() / name) > (1 << 20)) started = true;
    if (!started) ::usleep(5000);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(started) << "the writer never started";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer finished before it was killed";
  EXPECT_FALSE(fs::exists(out)) << "no output under the final name";
}

TEST_F(PackTest, FailedWriteKeepsThePreviousOutput) {
  std::string out = (out_.path() / "image.tar").string();
  write_file(out, "previous");
  fs::remove(src_.path() / "usr/bin/server");
  ASSERT_FALSE(write_tar(set_, *root_, out, {}));
  EXPECT_EQ(testing::read_file(out), "previous");
  EXPECT_EQ(dir_listing(out_.path()), std::vector<std::string>{"image.tar"});
}

TEST_F(PackTest, RootfsCopiesFilesModesAndLinks) {
  fs::path out = out_.path() / "rootfs";
  auto s = write_rootfs(set_, *root_, out.string());
  ASSERT_TRUE(s) << s.error().message();
  for (const auto& [path, e] : set_) {
    fs::path p = out / path.substr(1);
    struct stat st;
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    switch (e.type) {
      case EntryType::File:
        EXPECT_TRUE(S_ISREG(st.st_mode)) << p;
        EXPECT_EQ(testing::read_file(p), e.generated ? e.content : testing::read_file(src_.path() / path.substr(1)));
        break;
      case EntryType::Directory: EXPECT_TRUE(S_ISDIR(st.st_mode)) << p; break;
      case EntryType::Symlink:
        EXPECT_TRUE(S_ISLNK(st.st_mode)) << p;
        EXPECT_EQ(fs::read_symlink(p).string(), e.link_target);
        break;
    }
    if (e.type != EntryType::Symlink) {
      EXPECT_EQ(st.st_mode & 07777, e.mode) << p;
    }
    // The source's mtime to the nanosecond (directories too, after their children were made).
    EXPECT_EQ(st.st_mtim.tv_sec, e.mtime.tv_sec) << p;
    EXPECT_EQ(st.st_mtim.tv_nsec, e.mtime.tv_nsec) << p;
  }
  struct stat server;
  ASSERT_EQ(::lstat((out / "usr/bin/server").c_str(), &server), 0);
  EXPECT_EQ(server.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(server.st_mtim.tv_nsec, 500000000);
  ASSERT_EQ(::lstat((out / "lib64").c_str(), &server), 0);
  EXPECT_EQ(server.st_mtim.tv_sec, 1400000000);
  ASSERT_EQ(::lstat((out / "srv/private").c_str(), &server), 0);
  EXPECT_EQ(server.st_mtim.tv_sec, 1300000000);
  // The links resolve inside the new root as they did in the source.
  EXPECT_EQ(testing::read_file(out / "lib64/ld-linux-x86-64.so.2"), std::string(5000, 'L'));
  struct stat st;
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(dir_listing(out_.path()), std::vector<std::string>{"rootfs"});
}

TEST_F(PackTest, RootfsReplacesAnExistingOutputWhole) {
  fs::path out = out_.path() / "rootfs";
  write_file(out / "stale-file", "old");
  ASSERT_TRUE(write_rootfs(set_, *root_, out.string()));
  EXPECT_FALSE(fs::exists(out / "stale-file"));
  EXPECT_TRUE(fs::exists(out / "usr/bin/server"));
  EXPECT_EQ(dir_listing(out_.path()), std::vector<std::string>{"rootfs"}) << "old tree removed";
}

// ---- OCI ----

struct Oci {
  std::map<std::string, Item> files;
  json index, manifest, config, docker;
  std::string layer;  // compressed blob
};

Oci read_oci(const std::string& path) {
  Oci o;
  o.files = as_map(read_tar(testing::read_file(path)));
  auto blob = [&](const std::string& digest) { return o.files.at("blobs/sha256/" + digest.substr(7)).data; };
  o.index = json::parse(o.files.at("index.json").data);
  o.manifest = json::parse(blob(o.index["manifests"][0]["digest"]));
  o.config = json::parse(blob(o.manifest["config"]["digest"]));
  o.layer = blob(o.manifest["layers"][0]["digest"]);
  o.docker = json::parse(o.files.at("manifest.json").data);
  return o;
}

ImageConfig server_config() {
  ImageConfig c;
  c.entrypoint = {"/usr/bin/server"};
  c.cmd = {"--port", "8080"};
  c.env = {"PATH=/usr/bin", "LANG=C.UTF-8"};
  c.working_dir = "/srv";
  c.user = kNonRootUser;
  c.exposed_ports = {"8080/tcp"};
  c.labels = {{"org.opencontainers.image.source", "https://example.com/server"}};
  return c;
}

TEST_F(PackTest, OciArchiveHasLayoutDigestsAndConfig) {
  std::string out = (out_.path() / "image.oci.tar").string();
  auto d = write_oci(set_, *root_, out, server_config(), {.tag = "example/server:1.0"});
  ASSERT_TRUE(d) << d.error().message();
  Oci o = read_oci(out);
  EXPECT_EQ(o.files.at("oci-layout").data, "{\"imageLayoutVersion\":\"1.0.0\"}");
  // Every blob is named by the sha256 of its bytes.
  for (const auto& [name, item] : o.files)
    if (name.rfind("blobs/sha256/", 0) == 0 && item.type == 'f') {
      EXPECT_EQ(sha256(item.data), "sha256:" + name.substr(13));
    }
  EXPECT_EQ(o.index["manifests"][0]["digest"], d->manifest);
  EXPECT_EQ(o.index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "1.0");
  EXPECT_EQ(o.index["manifests"][0]["annotations"]["io.containerd.image.name"], "example/server:1.0");
  EXPECT_EQ(o.manifest["config"]["digest"], d->config);
  EXPECT_EQ(o.manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
  EXPECT_EQ(o.manifest["layers"][0]["size"], o.layer.size());
  EXPECT_EQ(o.manifest["layers"][0]["digest"], d->layer.digest);
  std::string tar = decompress(o.layer);
  EXPECT_EQ(o.config["rootfs"]["diff_ids"][0], sha256(tar));
  EXPECT_EQ(o.config["rootfs"]["diff_ids"][0], d->layer.diff_id);
  expect_matches_set(as_map(read_tar(tar)));
  EXPECT_EQ(o.config["architecture"], "amd64");
  EXPECT_EQ(o.config["os"], "linux");
  EXPECT_EQ(o.config["created"], "1970-01-01T00:00:00Z");
  const json& c = o.config["config"];
  EXPECT_EQ(c["Entrypoint"], json({"/usr/bin/server"}));
  EXPECT_EQ(c["Cmd"], json({"--port", "8080"}));
  EXPECT_EQ(c["Env"], json({"PATH=/usr/bin", "LANG=C.UTF-8"}));
  EXPECT_EQ(c["WorkingDir"], "/srv");
  EXPECT_EQ(c["User"], "65532:65532");
  EXPECT_TRUE(c["ExposedPorts"].contains("8080/tcp"));
  EXPECT_EQ(c["Labels"]["org.opencontainers.image.source"], "https://example.com/server");
  EXPECT_EQ(o.config["history"].size(), 1u);
  // Docker's manifest.json and repositories beside index.json.
  EXPECT_EQ(o.docker[0]["Config"], "blobs/sha256/" + d->config.substr(7));
  EXPECT_EQ(o.docker[0]["Layers"][0], "blobs/sha256/" + d->layer.digest.substr(7));
  EXPECT_EQ(o.docker[0]["RepoTags"][0], "example/server:1.0");
  EXPECT_TRUE(json::parse(o.files.at("repositories").data).contains("example/server"));
}

TEST_F(PackTest, OciArchiveIsReproducibleWithGzipAndZstd) {
  for (Compression c : {Compression::Gzip, Compression::Zstd}) {
    std::string a = (out_.path() / "a.tar").string(), b = (out_.path() / "b.tar").string();
    auto da = write_oci(set_, *root_, a, server_config(), {.compression = c, .source_date_epoch = 1700000000});
    auto db = write_oci(set_, *root_, b, server_config(), {.compression = c, .threads = 1, .source_date_epoch = 1700000000});
    ASSERT_TRUE(da && db);
    EXPECT_EQ(testing::read_file(a), testing::read_file(b)) << compression_name(c);
    EXPECT_EQ(da->manifest, db->manifest);
    Oci o = read_oci(a);
    EXPECT_EQ(o.config["created"], "2023-11-14T22:13:20Z");
    if (c == Compression::Zstd) {
      EXPECT_EQ(o.manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
    }
    EXPECT_EQ(sha256(decompress(o.layer)), da->layer.diff_id);
    EXPECT_FALSE(o.files.count("repositories")) << "no tag, no repositories file";
  }
}

// Owners and times are taken when a path is added; a later chown or touch changes nothing.
TEST_F(PackTest, SourceTimesAndLaterChownsDoNotReachTheArchive) {
  std::string a = (out_.path() / "a.tar").string(), b = (out_.path() / "b.tar").string();
  ASSERT_TRUE(write_oci(set_, *root_, a, server_config(), {}));
  // Touch and chown the sources, as a rebuild on another machine would.
  for (const auto& [path, e] : set_) {
    if (e.generated || e.type == EntryType::Symlink) continue;
    fs::path p = src_.path() / path.substr(1);
    struct timespec ts[2] = {{1234567, 0}, {1234567, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
    ASSERT_EQ(::lchown(p.c_str(), 1000, 1000), 0) << p;
  }
  ASSERT_TRUE(write_oci(set_, *root_, b, server_config(), {}));
  EXPECT_EQ(testing::read_file(a), testing::read_file(b));
  for (const auto& [n, item] : read_tar(decompress(read_oci(b).layer))) {
    EXPECT_EQ(item.mtime, set_.find("/" + n)->mtime.tv_sec) << n;  // as when it was added
    EXPECT_EQ(item.uid, 0) << n;
  }
}

// The source's owners reach the tar and OCI layer (`minify pack` on a root whose files belong to
// a build user), symlinks' own owners included; generated entries are root's.
TEST(PackOwners, SourceOwnersReachTheArchive) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  TempDir src, out;
  const auto& r = src.path();
  write_file(r / "srv/app/bin/server", "server");
  ::chmod((r / "srv/app/bin/server").c_str(), 04750);
  write_file(r / "srv/app/data", "data");
  fs::create_symlink("bin/server", r / "srv/app/current");
  ASSERT_EQ(::lchown((r / "srv/app").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::lchown((r / "srv/app/bin/server").c_str(), 1000, 50), 0);
  ASSERT_EQ(::lchown((r / "srv/app/current").c_str(), 1001, 1001), 0);
  ASSERT_EQ(::chmod((r / "srv/app/bin/server").c_str(), 04750), 0);  // chown cleared setuid
  auto root = Root::open(r.string());
  ASSERT_TRUE(root);
  FileSet set;
  ASSERT_TRUE(set.add(*root, "/srv/app/current", {ReasonKind::Program, "p"}));
  ASSERT_TRUE(set.add(*root, "/srv/app/data", {ReasonKind::Opened, "o"}));
  ASSERT_TRUE(add_scratch_basics(set));
  std::string tar = (out.path() / "a.tar").string(), oci = (out.path() / "a.oci").string();
  ASSERT_TRUE(write_tar(set, *root, tar));
  ASSERT_TRUE(write_oci(set, *root, oci, server_config(), {}));
  for (const auto& items : {as_map(read_tar(testing::read_file(tar))), as_map(read_tar(decompress(read_oci(oci).layer)))}) {
    EXPECT_EQ(items.at("srv/app").uid, 1000);
    EXPECT_EQ(items.at("srv/app").gid, 1000);
    EXPECT_EQ(items.at("srv/app/bin/server").uid, 1000);
    EXPECT_EQ(items.at("srv/app/bin/server").gid, 50);
    EXPECT_EQ(items.at("srv/app/bin/server").mode, 04750u);
    EXPECT_EQ(items.at("srv/app/current").uid, 1001);
    EXPECT_EQ(items.at("srv/app/data").uid, 0);
    EXPECT_EQ(items.at("etc/passwd").uid, 0);
    EXPECT_EQ(items.at("srv").uid, 0);
  }
}

TEST(OciPlatform, FromElfMachine) {
  ElfIdent x86{2, 1, 0, 62, 3, 0};
  EXPECT_EQ(oci_platform(x86), (std::pair<std::string, std::string>{"amd64", ""}));
  ElfIdent arm64{2, 1, 0, 183, 3, 0};
  EXPECT_EQ(oci_platform(arm64).first, "arm64");
  ElfIdent ppc{2, 1, 0, 21, 3, 0};
  EXPECT_EQ(oci_platform(ppc).first, "ppc64le");
  ElfIdent unknown{2, 1, 0, 9999, 3, 0};
  EXPECT_EQ(oci_platform(unknown).first, "");
}

TEST_F(PackTest, SkopeoInspectAcceptsTheOciArchive) {
  if (!testing::have_program("skopeo")) GTEST_SKIP() << "skopeo not installed";
  for (Compression c : {Compression::Gzip, Compression::Zstd}) {
    std::string out = (out_.path() / "image.tar").string();
    auto d = write_oci(set_, *root_, out, server_config(), {.compression = c});
    ASSERT_TRUE(d);
    auto r = testing::run({"skopeo", "inspect", "oci-archive:" + out});
    ASSERT_EQ(r.status, 0) << r.err;
    json j = json::parse(r.out);
    EXPECT_EQ(j["Digest"], d->manifest);
    EXPECT_EQ(j["Architecture"], "amd64");
    EXPECT_EQ(j["Layers"][0], d->layer.digest);
    auto cfg = testing::run({"skopeo", "inspect", "--config", "oci-archive:" + out});
    ASSERT_EQ(cfg.status, 0) << cfg.err;
    EXPECT_EQ(json::parse(cfg.out)["config"]["Entrypoint"], json({"/usr/bin/server"}));
  }
}

TEST_F(PackTest, PodmanLoadsTheOciArchive) {
  if (::geteuid() != 0 || !testing::have_program("podman")) GTEST_SKIP() << "needs podman and root (vfs storage)";
  std::string out = (out_.path() / "image.tar").string();
  auto d = write_oci(set_, *root_, out, server_config(), {.tag = "example/server:1.0"});
  ASSERT_TRUE(d);
  TempDir storage;
  std::vector<std::string> p = {"podman", "--root", (storage.path() / "s").string(), "--runroot",
                                (storage.path() / "r").string(), "--storage-driver", "vfs"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), p.begin(), p.end());
    return testing::run(args);
  };
  auto load = with({"load", "-i", out});
  ASSERT_EQ(load.status, 0) << load.err;
  auto images = with({"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"});
  ASSERT_EQ(images.status, 0) << images.err;
  EXPECT_NE(images.out.find("example/server:1.0"), std::string::npos) << images.out;
  EXPECT_NE(images.out.find(d->config.substr(7, 12)), std::string::npos) << "image id = config digest";
}

TEST_F(PackTest, UmociUnpacksTheOciArchive) {
  if (!testing::have_program("umoci") || !testing::have_program("tar")) GTEST_SKIP() << "umoci or tar not installed";
  std::string out = (out_.path() / "image.tar").string();
  ASSERT_TRUE(write_oci(set_, *root_, out, server_config(), {.tag = "server:latest"}));
  fs::path layout = out_.path() / "layout";
  fs::create_directories(layout);
  auto x = testing::run({"tar", "-xf", out, "-C", layout.string()});
  ASSERT_EQ(x.status, 0) << x.err;
  fs::path bundle = out_.path() / "bundle";
  auto r = testing::run({"umoci", "unpack", "--image", layout.string() + ":latest", bundle.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  fs::path rootfs = bundle / "rootfs";
  EXPECT_EQ(testing::read_file(rootfs / "usr/bin/server"), testing::read_file(src_.path() / "usr/bin/server"));
  EXPECT_EQ(testing::read_file(rootfs / "var/lib/app/sparse.db"), testing::read_file(src_.path() / "var/lib/app/sparse.db"));
  EXPECT_EQ(fs::last_write_time(rootfs / "usr/lib/x86_64-linux-gnu/libc.so.6"),
            fs::last_write_time(src_.path() / "usr/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_EQ(testing::read_file(rootfs / "lib64/ld-linux-x86-64.so.2"), std::string(5000, 'L'));
  EXPECT_EQ(fs::read_symlink(rootfs / "lib64").string(), "usr/lib64");
  struct stat st;
  ASSERT_EQ(::stat((rootfs / "tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  json spec = json::parse(testing::read_file(bundle / "config.json"));
  EXPECT_EQ(spec["process"]["args"], json({"/usr/bin/server", "--port", "8080"}));
  EXPECT_EQ(spec["process"]["user"]["uid"], 65532);
  EXPECT_EQ(spec["process"]["cwd"], "/srv");
}

}  // namespace
}  // namespace minify
