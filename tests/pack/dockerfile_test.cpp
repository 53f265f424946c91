// The Dockerfile runner stage: COPY lines in JSON form grouped by directory, each file once under
// the name it is used by (COPY dereferences links, moby/moby#40449), layers ordered libc first
// and program last, distroless bases skipping what they ship, pinned FROM lines, scratch basics.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "minify/pack.hpp"
#include "pack/dockerfile_lines.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class DockerfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& r = src_.path();
    testing::write_file(r / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "ld");
    fs::create_directories(r / "usr/lib64");
    fs::create_symlink("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", r / "usr/lib64/ld-linux-x86-64.so.2");
    fs::create_symlink("usr/lib64", r / "lib64");
    fs::create_symlink("usr/lib", r / "lib");
    testing::write_file(r / "usr/lib/x86_64-linux-gnu/libc.so.6", "libc");
    testing::write_file(r / "usr/lib/x86_64-linux-gnu/libssl.so.3.0.11", "ssl");
    fs::create_symlink("libssl.so.3.0.11", r / "usr/lib/x86_64-linux-gnu/libssl.so.3");
    testing::write_file(r / "usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "z");
    fs::create_symlink("libz.so.1.2.13", r / "usr/lib/x86_64-linux-gnu/libz.so.1");
    testing::write_file(r / "usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", "c++");
    fs::create_symlink("libstdc++.so.6.0.30", r / "usr/lib/x86_64-linux-gnu/libstdc++.so.6");
    testing::write_file(r / "usr/local/lib/libapp.so", "app lib");
    testing::write_file(r / "etc/ssl/certs/ca-certificates.crt", "certs");
    testing::write_file(r / "usr/share/app/data.txt", "data");
    testing::write_file(r / "usr/local/bin/server", "server");
    auto root = Root::open(r.string());
    ASSERT_TRUE(root);
    root_.emplace(std::move(*root));
    add("/lib64/ld-linux-x86-64.so.2", {ReasonKind::Interpreter, "of /usr/local/bin/server"});
    add("/lib/x86_64-linux-gnu/libc.so.6", {ReasonKind::Needed, "needed by /usr/local/bin/server"});
    add("/lib/x86_64-linux-gnu/libssl.so.3", {ReasonKind::Needed, "needed by /usr/local/bin/server"});
    add("/lib/x86_64-linux-gnu/libz.so.1", {ReasonKind::Needed, "needed by /lib/x86_64-linux-gnu/libssl.so.3"});
    add("/lib/x86_64-linux-gnu/libstdc++.so.6", {ReasonKind::Needed, "needed by /usr/local/bin/server"});
    add("/usr/local/lib/libapp.so", {ReasonKind::Needed, "needed by /usr/local/bin/server"});
    add("/etc/ssl/certs/ca-certificates.crt", {ReasonKind::Opened, "opened by /usr/local/bin/server"});
    add("/usr/share/app/data.txt", {ReasonKind::Opened, "opened by /usr/local/bin/server"});
    add("/usr/local/bin/server", {ReasonKind::Program, "/usr/local/bin/server"});
    opts_.entrypoint = {"/usr/local/bin/server"};
    opts_.cmd = {"--port", "8080"};
    opts_.exposed_ports = {"8080/tcp"};
  }

  void add(const std::string& p, const Reason& why) {
    auto r = set_.add(*root_, p, why);
    ASSERT_TRUE(r) << r.error().message();
  }

  testing::TempDir src_;
  std::optional<Root> root_;
  FileSet set_;
  DockerfileOptions opts_;
};

// Where each COPY puts its sources: destination directory + source basename.
std::vector<std::string> destinations(const std::vector<Copy>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs)
    for (const auto& s : c.sources) out.push_back(c.dest + basename_of(s));
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(DockerfileTest, EachFileOnceUnderTheNameTheLoaderUses) {
  std::string df = render_dockerfile(set_, opts_);
  auto cs = copies(df);
  EXPECT_EQ(destinations(cs), (std::vector<std::string>{"/etc/ssl/certs/ca-certificates.crt",
                                                         "/lib/x86_64-linux-gnu/libc.so.6",
                                                         "/lib/x86_64-linux-gnu/libssl.so.3",
                                                         "/lib/x86_64-linux-gnu/libstdc++.so.6",
                                                         "/lib/x86_64-linux-gnu/libz.so.1",
                                                         "/lib64/ld-linux-x86-64.so.2",
                                                         "/usr/local/bin/server",
                                                         "/usr/local/lib/libapp.so",
                                                         "/usr/share/app/data.txt"}))
      << df;
  EXPECT_EQ(df.find("libssl.so.3.0.11"), std::string::npos) << "never a link and its target both";
  // The loader keeps its PT_INTERP path: /lib64/ becomes a directory holding it; the source is
  // named through the real directory, the link in the last component is left to COPY.
  size_t ld = index_of(cs, "/usr/lib64/ld-linux-x86-64.so.2");
  ASSERT_NE(ld, std::string::npos) << df;
  EXPECT_EQ(cs[ld].dest, "/lib64/");
  EXPECT_EQ(cs[index_of(cs, "/usr/lib/x86_64-linux-gnu/libc.so.6")].dest, "/lib/x86_64-linux-gnu/");
}

TEST_F(DockerfileTest, GroupedByDestinationDirectoryInJsonForm) {
  auto cs = copies(render_dockerfile(set_, opts_));
  for (const auto& c : cs) {
    EXPECT_EQ(c.from, "--from=builder");
    ASSERT_FALSE(c.dest.empty());
    EXPECT_EQ(c.dest.back(), '/');
    for (const auto& s : c.sources) {
      EXPECT_NE(s.rfind("/lib/", 0), 0u) << s << ": sources avoid symlinked directories";
      EXPECT_NE(s.rfind("/lib64/", 0), 0u) << s;
    }
  }
  // libssl, libz and libstdc++ share one line.
  size_t ssl = index_of(cs, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
  ASSERT_NE(ssl, std::string::npos);
  EXPECT_EQ(ssl, index_of(cs, "/usr/lib/x86_64-linux-gnu/libz.so.1"));
  EXPECT_EQ(ssl, index_of(cs, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"));
  EXPECT_LE(cs.size(), 7u);
}

TEST_F(DockerfileTest, LinesOrderedLibcFirstProgramLast) {
  std::string df = render_dockerfile(set_, opts_);
  auto cs = copies(df);
  size_t ld = index_of(cs, "/usr/lib64/ld-linux-x86-64.so.2");
  size_t libc = index_of(cs, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  size_t ssl = index_of(cs, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
  size_t app = index_of(cs, "/usr/local/lib/libapp.so");
  size_t certs = index_of(cs, "/etc/ssl/certs/ca-certificates.crt");
  size_t data = index_of(cs, "/usr/share/app/data.txt");
  size_t prog = index_of(cs, "/usr/local/bin/server");
  EXPECT_LT(std::max(ld, libc), std::min(ssl, app)) << df;
  EXPECT_LT(std::max(ssl, app), std::min(certs, data)) << df;
  EXPECT_LT(std::max(certs, data), prog) << df;
  EXPECT_EQ(prog, cs.size() - 1);
  EXPECT_NE(libc, ssl) << "libc changes less often than other libraries: its own layer";
  // Then the image configuration, after every COPY.
  EXPECT_LT(df.rfind("COPY"), df.find("USER 65532:65532"));
  EXPECT_NE(df.find("ENTRYPOINT [\"/usr/local/bin/server\"]\n"), std::string::npos);
  EXPECT_NE(df.find("CMD [\"--port\", \"8080\"]\n"), std::string::npos);
  EXPECT_NE(df.find("EXPOSE 8080/tcp\n"), std::string::npos);
  EXPECT_EQ(df.find("FROM scratch\n") , df.find("FROM "));
}

TEST_F(DockerfileTest, DistrolessBaseSkipsWhatTheBaseShips) {
  opts_.base = Base::DistrolessBase;
  std::string df = render_dockerfile(set_, opts_);
  EXPECT_NE(df.find("FROM gcr.io/distroless/base-debian12:nonroot\n"), std::string::npos) << df;
  for (const char* gone : {"libc.so.6", "ld-linux-x86-64.so.2", "ca-certificates.crt", "libssl.so.3\""}) {
    EXPECT_EQ(df.find(gone), std::string::npos) << gone << "\n" << df;
  }
  EXPECT_NE(df.find("libstdc++.so.6"), std::string::npos) << "base has no libstdc++; cc has";
  EXPECT_NE(df.find("libz.so.1"), std::string::npos) << "not known to be in base: copied";
  opts_.base = Base::DistrolessCc;
  df = render_dockerfile(set_, opts_);
  EXPECT_EQ(df.find("libstdc++.so.6"), std::string::npos) << df;
  EXPECT_NE(df.find("/usr/local/bin/server"), std::string::npos);
  opts_.base = Base::DistrolessStatic;
  df = render_dockerfile(set_, opts_);
  EXPECT_NE(df.find("libc.so.6"), std::string::npos) << "static has no libc";
  EXPECT_EQ(df.find("ca-certificates.crt"), std::string::npos);
}

TEST_F(DockerfileTest, CompleteTreeIsOneCopyOfTheDirectory) {
  const auto& r = src_.path();
  testing::write_file(r / "usr/lib/python3.11/os.py", "os");
  testing::write_file(r / "usr/lib/python3.11/json/__init__.py", "json");
  testing::write_file(r / "usr/lib/python3.11/__pycache__/os.pyc", "pyc");
  // A link in the tree to a file outside it (/etc/ssl/certs/*.pem -> /usr/share/ca-certificates).
  testing::write_file(r / "usr/share/ca/cert.crt", "cert");
  fs::create_symlink("/usr/share/ca/cert.crt", r / "usr/lib/python3.11/cert.pem");
  ASSERT_TRUE(set_.keep(*root_, "/usr/lib/python3.11", {ReasonKind::Kept, "--keep /usr/lib/python3.11"}));
  std::string df = render_dockerfile(set_, opts_);
  auto cs = copies(df);
  size_t i = index_of(cs, "/usr/lib/python3.11/");
  ASSERT_NE(i, std::string::npos) << df;
  EXPECT_EQ(cs[i].dest, "/usr/lib/python3.11/");
  EXPECT_EQ(cs[i].sources.size(), 1u);
  EXPECT_EQ(df.find("os.py"), std::string::npos) << "covered by the tree";
  size_t cert = index_of(cs, "/usr/share/ca/cert.crt");
  ASSERT_NE(cert, std::string::npos) << "the target of a link in the tree, under its own path\n" << df;
  EXPECT_EQ(cs[cert].dest, "/usr/share/ca/");
  EXPECT_LT(i, index_of(cs, "/usr/local/bin/server"));
  // Excluding part of it: the files are copied by directory instead.
  set_.exclude("__pycache__");
  df = render_dockerfile(set_, opts_);
  cs = copies(df);
  EXPECT_EQ(index_of(cs, "/usr/lib/python3.11/"), std::string::npos) << df;
  EXPECT_NE(index_of(cs, "/usr/lib/python3.11/os.py"), std::string::npos) << df;
  EXPECT_NE(index_of(cs, "/usr/lib/python3.11/json/"), std::string::npos) << "a whole subdirectory still is one COPY";
  EXPECT_EQ(df.find("pyc"), std::string::npos);
}

TEST(BaseImage, PinnedNeverLatest) {
  for (Base b : {Base::Scratch, Base::DistrolessStatic, Base::DistrolessBase, Base::DistrolessCc}) {
    std::string image = base_image(b);
    EXPECT_EQ(image.find("latest"), std::string::npos) << image;
    if (b != Base::Scratch) {
      EXPECT_NE(image.find(":nonroot"), std::string::npos) << image;
    }
    EXPECT_EQ(parse_base(base_name(b)), b);
  }
  EXPECT_EQ(base_image(Base::DistrolessStatic, "sha256:abc"), "gcr.io/distroless/static-debian12:nonroot@sha256:abc");
  EXPECT_FALSE(parse_base("latest"));
  EXPECT_TRUE(base_provides(Base::DistrolessStatic, "/usr/share/zoneinfo/Europe/Paris"));
  EXPECT_FALSE(base_provides(Base::DistrolessStatic, "/usr/share/zoneinfo-extra"));
  EXPECT_FALSE(base_provides(Base::Scratch, "/etc/passwd"));
  EXPECT_FALSE(base_provides(Base::DistrolessBase, "/opt/app/libc.so.6")) << "only in the library directories";
  // Package metadata of the base's own packages stays the base's (status.d, md5sums, copyright).
  EXPECT_TRUE(base_provides(Base::DistrolessBase, "/var/lib/dpkg/status.d/libc6"));
  EXPECT_TRUE(base_provides(Base::DistrolessBase, "/var/lib/dpkg/status.d/libc6.md5sums"));
  EXPECT_TRUE(base_provides(Base::DistrolessBase, "/usr/share/doc/libssl3/copyright"));
  EXPECT_TRUE(base_provides(Base::DistrolessStatic, "/var/lib/dpkg/status.d/tzdata"));
  EXPECT_TRUE(base_provides(Base::DistrolessStatic, "/etc/debian_version"));
  EXPECT_FALSE(base_provides(Base::DistrolessStatic, "/var/lib/dpkg/status.d/libc6")) << "static has no libc";
  EXPECT_TRUE(base_provides(Base::DistrolessCc, "/var/lib/dpkg/status.d/libstdc++6.md5sums"));
  EXPECT_FALSE(base_provides(Base::DistrolessCc, "/var/lib/dpkg/status.d/zlib1g"));
  EXPECT_FALSE(base_provides(Base::Scratch, "/var/lib/dpkg/status.d/libc6"));
}

TEST_F(DockerfileTest, RootfsStyleIsOneCopyOfTheBuildersOutput) {
  opts_.copy_style = CopyStyle::Rootfs;
  opts_.from_stage = "build";
  opts_.minify_command = "minify pack -o /minify-out /usr/local/bin/server";
  std::string df = render_dockerfile(set_, opts_);
  auto cs = copies(df);
  ASSERT_EQ(cs.size(), 1u) << df;
  EXPECT_EQ(cs[0].from, "--from=build");
  EXPECT_EQ(cs[0].sources, std::vector<std::string>{"/minify-out/rootfs/"});
  EXPECT_EQ(cs[0].dest, "/");
  EXPECT_NE(df.find("#   RUN minify pack -o /minify-out /usr/local/bin/server\n"), std::string::npos) << df;
}

TEST_F(DockerfileTest, ScratchBasicsForANonRootImage) {
  ASSERT_TRUE(add_scratch_basics(set_));
  const Entry* passwd = set_.find("/etc/passwd");
  ASSERT_NE(passwd, nullptr);
  EXPECT_TRUE(passwd->generated);
  EXPECT_NE(passwd->content.find("root:x:0:0:"), std::string::npos);
  EXPECT_NE(passwd->content.find("nobody:x:65534:65534:"), std::string::npos);
  EXPECT_NE(passwd->content.find("nonroot:x:65532:65532:"), std::string::npos);
  EXPECT_NE(set_.find("/etc/group")->content.find("nonroot:x:65532:"), std::string::npos);
  EXPECT_EQ(set_.find("/tmp")->mode, 01777u);
  std::string df = render_dockerfile(set_, opts_);
  auto cs = copies(df);
  // Generated entries come from the tree write_generated() made in the build context, in one
  // COPY of its contents.
  size_t i = index_of(cs, "generated/");
  ASSERT_NE(i, std::string::npos) << df;
  EXPECT_EQ(cs[i].from, "");
  EXPECT_EQ(cs[i].dest, "/");
  EXPECT_EQ(df.find("passwd"), std::string::npos) << df;
  EXPECT_LT(i, index_of(cs, "/usr/local/bin/server")) << "before the program";
  testing::TempDir ctx;
  ASSERT_TRUE(write_generated(set_, Base::Scratch, (ctx.path() / "generated").string()));
  EXPECT_EQ(testing::read_file(ctx.path() / "generated/etc/passwd"), passwd->content);
  struct stat st;
  ASSERT_EQ(::stat((ctx.path() / "generated/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_FALSE(fs::exists(ctx.path() / "generated/usr")) << "only generated entries";
  // A distroless base has them all: no line, nothing written.
  opts_.base = Base::DistrolessStatic;
  EXPECT_EQ(render_dockerfile(set_, opts_).find("\"generated/\""), std::string::npos);
  FileSet only_parents;
  ASSERT_TRUE(only_parents.add_generated("/etc/passwd", "x\n", 0644, {ReasonKind::Generated, "x"}));
  EXPECT_TRUE(only_parents.find("/etc")->generated);
  EXPECT_EQ(render_dockerfile(only_parents, opts_).find("\"generated/\""), std::string::npos)
      << "/etc made only to hold /etc/passwd, which the base has";
  // A second call does not replace what is there.
  ASSERT_TRUE(set_.add_generated("/etc/passwd", "custom\n", 0644, {ReasonKind::Generated, "x"}));
  ASSERT_TRUE(add_scratch_basics(set_));
  EXPECT_EQ(set_.find("/etc/passwd")->content, "custom\n");
}

TEST_F(DockerfileTest, UserDefaultsToNonRootAndCanBeSet) {
  EXPECT_NE(render_dockerfile(set_, opts_).find("USER 65532:65532\n"), std::string::npos);
  opts_.user = "0";
  opts_.env = {{"LANG", "C.UTF-8"}};
  opts_.workdir = "/srv";
  std::string df = render_dockerfile(set_, opts_);
  EXPECT_NE(df.find("USER 0\n"), std::string::npos);
  EXPECT_NE(df.find("ENV LANG=\"C.UTF-8\"\n"), std::string::npos);
  EXPECT_NE(df.find("WORKDIR /srv\n"), std::string::npos);
}

// The generated stage, built for real: buildah bud against a builder image made from the test
// root, then the runner image's files are checked. No network: both bases are local or scratch.
TEST_F(DockerfileTest, BuildahBuildsTheRunnerStage) {
  if (::geteuid() != 0 || !testing::have_program("buildah")) GTEST_SKIP() << "needs buildah and root (vfs storage)";
  testing::TempDir work;
  std::vector<std::string> b = {"buildah", "--root", (work.path() / "storage").string(), "--runroot",
                                (work.path() / "run").string(), "--storage-driver", "vfs"};
  auto buildah = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = b;
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = testing::run(argv);
    EXPECT_EQ(r.status, 0) << args[0] << ": " << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  };
  testing::write_file(src_.path() / "usr/lib/python3.11/json/__init__.py", "json");
  fs::create_symlink("json/__init__.py", src_.path() / "usr/lib/python3.11/alias.py");
  testing::write_file(src_.path() / "usr/share/ca/cert.crt", "cert");
  fs::create_symlink("../../share/ca/cert.crt", src_.path() / "usr/lib/python3.11/cert.pem");
  ::chmod((src_.path() / "usr/lib/python3.11/json").c_str(), 0750);
  // The alternatives system: a link chain into another directory (the program's $ORIGIN must be
  // its own directory); a traced /tmp and an empty private directory, modes to keep.
  testing::write_file(src_.path() / "opt/tool/bin/tool", "tool");
  fs::create_directories(src_.path() / "etc/alternatives");
  fs::create_directories(src_.path() / "usr/bin");
  fs::create_symlink("/opt/tool/bin/tool", src_.path() / "etc/alternatives/tool");
  fs::create_symlink("/etc/alternatives/tool", src_.path() / "usr/bin/tool");
  fs::create_directories(src_.path() / "tmp");
  ::chmod((src_.path() / "tmp").c_str(), 01777);
  fs::create_directories(src_.path() / "var/spool/app");
  ::chmod((src_.path() / "var/spool/app").c_str(), 0700);
  add("/usr/bin/tool", {ReasonKind::Program, "/usr/bin/tool"});
  add("/tmp", {ReasonKind::Opened, "opened by /usr/bin/tool"});
  add("/var/spool/app", {ReasonKind::Opened, "opened by /usr/bin/tool"});
  // Directories the program wrote into, handed to the image's user (the file set's owner): one
  // beside a file the builder stage copies, one inside it with its own mode.
  testing::write_file(src_.path() / "srv/app/app.py", "app");
  fs::create_directories(src_.path() / "srv/app/cache/private");
  ::chmod((src_.path() / "srv/app/cache/private").c_str(), 0700);
  add("/srv/app/app.py", {ReasonKind::Opened, "opened by /usr/bin/tool"});
  add("/srv/app/cache/private", {ReasonKind::Writable, "the program wrote into it"});
  for (const char* d : {"/srv/app/cache", "/srv/app/cache/private"}) {
    Entry owned = *set_.find(d);
    owned.uid = owned.gid = 65532;
    set_.put(std::move(owned));
  }
  std::string builder = buildah({"from", "scratch"});
  buildah({"copy", builder, src_.path().string() + "/", "/"});
  buildah({"commit", "-q", builder, "localhost/minify-test-builder"});

  ASSERT_TRUE(set_.keep(*root_, "/usr/lib/python3.11", {ReasonKind::Kept, "--keep"}));
  ASSERT_TRUE(add_scratch_basics(set_));
  fs::path ctx = work.path() / "ctx";
  fs::create_directories(ctx);
  RunnerPlanOptions po;
  RunnerPlan plan = plan_runner(set_, po);
  ASSERT_EQ(plan.owned.size(), 1u);
  EXPECT_EQ(plan.owned[0].parent, "/srv/app");
  EXPECT_EQ(plan.owned[0].dirs, (std::vector<std::string>{"/srv/app/cache", "/srv/app/cache/private"}));
  opts_.plan = &plan;
  auto g = write_generated(set_, plan, nullptr, (ctx / "generated").string());
  ASSERT_TRUE(g) << g.error().message();
  auto w = write_writable(set_, plan, (ctx / "writable").string());
  ASSERT_TRUE(w) << w.error().message();
  testing::write_file(ctx / "Dockerfile",
                      "FROM localhost/minify-test-builder AS builder\n" + render_dockerfile(set_, opts_));
  buildah({"bud", "--isolation", "chroot", "--pull=never", "-q", "-t", "localhost/minify-test-runner", "-f",
           (ctx / "Dockerfile").string(), ctx.string()});
  std::string runner = buildah({"from", "--pull=never", "localhost/minify-test-runner"});
  fs::path mnt = buildah({"mount", runner});
  ASSERT_FALSE(mnt.empty());
  EXPECT_EQ(testing::read_file(mnt / "lib64/ld-linux-x86-64.so.2"), "ld");
  EXPECT_EQ(testing::read_file(mnt / "lib/x86_64-linux-gnu/libssl.so.3"), "ssl");
  EXPECT_EQ(testing::read_file(mnt / "lib/x86_64-linux-gnu/libc.so.6"), "libc");
  EXPECT_EQ(testing::read_file(mnt / "usr/local/bin/server"), "server");
  EXPECT_EQ(testing::read_file(mnt / "etc/ssl/certs/ca-certificates.crt"), "certs");
  EXPECT_EQ(testing::read_file(mnt / "etc/passwd"), set_.find("/etc/passwd")->content);
  EXPECT_FALSE(fs::exists(mnt / "lib/x86_64-linux-gnu/libssl.so.3.0.11")) << "copied once, under its soname";
  struct stat st;
  ASSERT_EQ(::lstat((mnt / "tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  // A whole directory: its links and directory modes come along.
  EXPECT_EQ(fs::read_symlink(mnt / "usr/lib/python3.11/alias.py").string(), "json/__init__.py");
  EXPECT_EQ(fs::read_symlink(mnt / "usr/lib/python3.11/cert.pem").string(), "../../share/ca/cert.crt");
  EXPECT_EQ(testing::read_file(mnt / "usr/share/ca/cert.crt"), "cert") << "the link in the tree resolves";
  ASSERT_EQ(::lstat((mnt / "usr/lib/python3.11/json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  // Links into another directory stay links, and the file is under its own path.
  EXPECT_EQ(fs::read_symlink(mnt / "usr/bin/tool").string(), "/etc/alternatives/tool");
  EXPECT_EQ(fs::read_symlink(mnt / "etc/alternatives/tool").string(), "/opt/tool/bin/tool");
  ASSERT_EQ(::lstat((mnt / "opt/tool/bin/tool").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  ASSERT_EQ(::lstat((mnt / "var/spool/app").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "an empty directory with its mode";
  // The writable directories are the image user's, with their modes; their parent stays root's.
  ASSERT_EQ(::lstat((mnt / "srv/app/cache").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65532u);
  EXPECT_EQ(st.st_gid, 65532u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat((mnt / "srv/app/cache/private").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65532u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::lstat((mnt / "srv/app").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "COPY --chown gives its owner to the directories it creates on the way";
  EXPECT_EQ(testing::read_file(mnt / "srv/app/app.py"), "app");
  ASSERT_EQ(::lstat((mnt / "lib/x86_64-linux-gnu/libssl.so.3").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "COPY dereferences the soname link";
  json image = json::parse(buildah({"inspect", "--type", "image", "localhost/minify-test-runner"}));
  EXPECT_EQ(image["OCIv1"]["config"]["User"], "65532:65532");
  EXPECT_EQ(image["OCIv1"]["config"]["Entrypoint"], json({"/usr/local/bin/server"}));
  buildah({"umount", runner});
  buildah({"rm", "--all"});
}

}  // namespace
}  // namespace minify
