// The runner plan (runner_plan.cpp) and what the Dockerfile makes of it: needs a base meets are
// not copied, whatever the paths (the CA store, the zone database, the user database,
// nsswitch.conf, what the container runtime mounts); a certificate only the builder trusts is;
// directories everything of which is in the set are one COPY; the base is pinned by digest;
// generated files come from the context directory beside the Dockerfile.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "minify/pack.hpp"
#include "pack/dockerfile_lines.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

namespace fs = std::filesystem;

// Two distinct PEM certificates (their bodies need not be valid DER: the plan compares text).
const std::string kCertA = "-----BEGIN CERTIFICATE-----\nQUFBQUFBQUFBQUFB\nQUFB\n-----END CERTIFICATE-----\n";
const std::string kCertLocal = "-----BEGIN CERTIFICATE-----\nTE9DQUxMT0NBTA==\n-----END CERTIFICATE-----\n";

class RunnerPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& r = src_.path();
    // A Debian trust store after update-ca-certificates with one local CA.
    testing::write_file(r / "usr/share/ca-certificates/mozilla/A.crt", kCertA);
    testing::write_file(r / "usr/local/share/ca-certificates/local.crt", kCertLocal);
    fs::create_directories(r / "etc/ssl/certs");
    fs::create_symlink("/usr/share/ca-certificates/mozilla/A.crt", r / "etc/ssl/certs/A.pem");
    fs::create_symlink("A.pem", r / "etc/ssl/certs/aaaa1111.0");
    fs::create_symlink("/usr/local/share/ca-certificates/local.crt", r / "etc/ssl/certs/local.pem");
    testing::write_file(r / "etc/ssl/certs/ca-certificates.crt", kCertA + kCertLocal);
    testing::write_file(r / "etc/ssl/certs/java/cacerts", "a Java keystore, not PEM");
    testing::write_file(r / "usr/share/zoneinfo/Etc/UTC", "TZif utc");
    testing::write_file(r / "usr/share/zoneinfo/Europe/Paris", "TZif paris");
    testing::write_file(r / "usr/share/zoneinfo/Europe/Berlin", "TZif berlin");
    testing::write_file(r / "usr/share/zoneinfo/Asia/Tokyo", "TZif tokyo");
    fs::create_symlink("/usr/share/zoneinfo/Etc/UTC", r / "etc/localtime");
    testing::write_file(r / "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    testing::write_file(r / "etc/group", "root:x:0:\n");
    testing::write_file(r / "etc/shadow", "root:$6$secret:19000::::::\n");
    testing::write_file(r / "etc/nsswitch.conf", "passwd: files systemd\nhosts: files dns\n");
    testing::write_file(r / "etc/hosts", "127.0.0.1 localhost\n");
    testing::write_file(r / "etc/resolv.conf", "nameserver 10.0.0.1\n");
    testing::write_file(r / "etc/ld.so.cache", "cache");
    testing::write_file(r / "usr/local/bin/server", "server");
    testing::write_file(r / "usr/local/bin/other-tool", "not used");
    auto root = Root::open(r.string());
    ASSERT_TRUE(root);
    root_.emplace(std::move(*root));
  }

  void add(const std::string& p, ReasonKind kind, bool recursive = false) {
    auto r = set_.add(*root_, p, {kind, "test"}, recursive);
    ASSERT_TRUE(r) << r.error().message();
  }
  // What a traced Go server on Debian leaves in the set: every file of /etc/ssl/certs (Go reads
  // them all), the bundle, the zone database (time.LoadLocation), the user and host files.
  void go_server_set() {
    add("/usr/local/bin/server", ReasonKind::Program);
    add("/etc/ssl/certs", ReasonKind::Implicit, true);
    for (const char* p : {"/etc/ssl/certs/A.pem", "/etc/ssl/certs/aaaa1111.0", "/etc/ssl/certs/local.pem",
                          "/etc/ssl/certs/ca-certificates.crt"})
      add(p, ReasonKind::Opened);
    add("/usr/share/zoneinfo", ReasonKind::Implicit, true);
    add("/etc/localtime", ReasonKind::Opened);
    add("/usr/share/zoneinfo/Europe/Paris", ReasonKind::Opened);
    for (const char* p : {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/nsswitch.conf", "/etc/hosts",
                          "/etc/resolv.conf", "/etc/ld.so.cache"})
      add(p, ReasonKind::Opened);
  }
  std::string render(Base base, RunnerPlan* keep_plan = nullptr) {
    RunnerPlanOptions po;
    po.base = base;
    po.root = &*root_;
    plan_ = plan_runner(set_, po);
    if (keep_plan) *keep_plan = plan_;
    DockerfileOptions o;
    o.base = base;
    o.plan = &plan_;
    o.entrypoint = {"/usr/local/bin/server"};
    o.context_dir = "/work/out";
    return render_dockerfile(set_, o);
  }
  const RunnerNeed* need(const std::string& name) const {
    for (const auto& n : plan_.needs)
      if (n.need == name) return &n;
    return nullptr;
  }

  testing::TempDir src_;
  std::optional<Root> root_;
  FileSet set_;
  RunnerPlan plan_;
};

// Where each COPY puts each source: the destination directory + the source's name.
std::vector<std::string> destinations(const std::string& df) {
  std::vector<std::string> out;
  for (const auto& c : copies(df))
    for (const auto& s : c.sources) out.push_back(c.dest + basename_of(s));
  return out;
}

TEST_F(RunnerPlanTest, NeedsTheBaseMeetsAreNotCopied) {
  go_server_set();
  std::string df = render(Base::DistrolessStatic);
  auto dest = destinations(df);
  // The program, plus what only the builder trusts; no zone, no user, no host file, no nsswitch.
  EXPECT_NE(std::find(dest.begin(), dest.end(), "/usr/local/bin/server"), dest.end()) << df;
  for (const auto& d : dest) {
    EXPECT_EQ(d.find("zoneinfo"), std::string::npos) << d << "\n" << df;
    EXPECT_EQ(d.find("localtime"), std::string::npos) << d;
    for (const char* gone : {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/nsswitch.conf", "/etc/hosts",
                             "/etc/resolv.conf", "/etc/ld.so.cache", "/etc/ssl/certs/A.pem",
                             "/etc/ssl/certs/aaaa1111.0", "/etc/ssl/certs/java/cacerts"})
      EXPECT_NE(d, gone) << df;
  }
  ASSERT_NE(need("ca-certificates"), nullptr);
  EXPECT_EQ(need("ca-certificates")->met_by, "provided by the base");
  EXPECT_EQ(need("zoneinfo")->met_by, "provided by the base");
  EXPECT_EQ(need("user-database")->met_by, "provided by the base");
  EXPECT_EQ(need("nsswitch")->met_by, "provided by the base");
  EXPECT_EQ(need("host-files")->met_by, "provided by the container runtime");
  EXPECT_EQ(need("password-hashes")->met_by, "not copied");
  // report.json says it per need.
  ReportOptions ro;
  ro.runner_needs = &plan_.needs;
  ro.runner_base = "gcr.io/distroless/static-debian12:nonroot";
  auto text = report_json(set_, &*root_, ro);
  ASSERT_TRUE(text);
  auto report = nlohmann::json::parse(*text);
  ASSERT_TRUE(report.contains("runner"));
  bool found = false;
  for (const auto& n : report["runner"]["needs"])
    if (n["need"] == "zoneinfo") {
      found = true;
      EXPECT_EQ(n["met_by"], "provided by the base");
      EXPECT_GT(n["not_copied"].size(), 3u);
    }
  EXPECT_TRUE(found) << report["runner"].dump(2);
}

TEST_F(RunnerPlanTest, ACertificateOnlyTheBuilderTrustsIsCopiedAndSaidSo) {
  go_server_set();
  std::string df = render(Base::DistrolessStatic);
  auto cs = copies(df);
  size_t i = index_of(cs, "/etc/ssl/certs/local.pem");
  ASSERT_NE(i, std::string::npos) << df;
  EXPECT_EQ(cs[i].dest, "/etc/ssl/certs/");
  // The builder's bundle holds the local CA too: it replaces the base's.
  EXPECT_EQ(i, index_of(cs, "/etc/ssl/certs/ca-certificates.crt")) << df;
  EXPECT_NE(df.find("# the builder also trusts local.crt, which the base does not: copied\n"), std::string::npos) << df;
  EXPECT_EQ(df.find("A.pem"), std::string::npos) << "Debian's own certificates are the base's";

  // Without a local CA, nothing of the trust store is copied: FROM, the program, USER, ENTRYPOINT.
  fs::remove(src_.path() / "etc/ssl/certs/local.pem");
  fs::remove(src_.path() / "usr/local/share/ca-certificates/local.crt");
  testing::write_file(src_.path() / "etc/ssl/certs/ca-certificates.crt", kCertA);
  set_ = FileSet();
  add("/usr/local/bin/server", ReasonKind::Program);
  add("/etc/ssl/certs", ReasonKind::Implicit, true);
  add("/usr/share/zoneinfo", ReasonKind::Implicit, true);
  df = render(Base::DistrolessStatic);
  EXPECT_EQ(instructions(df).size(), 4u) << df;
  EXPECT_EQ(copies(df).size(), 1u) << df;
}

// minify's loopback-only /etc/hosts (the builder's is withheld) keeps the rootfs and the OCI
// archive resolving localhost; in the runner stage the runtime mounts its own over it, so no
// COPY of the build context is written for it: FROM, the program, USER, ENTRYPOINT.
TEST_F(RunnerPlanTest, GeneratedHostsIsLeftToTheRuntime) {
  add("/usr/local/bin/server", ReasonKind::Program);
  ASSERT_TRUE(set_.add_generated("/etc/hosts", "127.0.0.1\tlocalhost\n", 0644, {ReasonKind::Generated, "test"}));
  for (Base base : {Base::DistrolessStatic, Base::Scratch}) {
    std::string df = render(base);
    EXPECT_EQ(df.find("generated/"), std::string::npos) << df;
    EXPECT_EQ(instructions(df).size(), 4u) << df;
    ASSERT_NE(need("host-files"), nullptr);
    EXPECT_EQ(need("host-files")->met_by, "provided by the container runtime");
  }
}

TEST_F(RunnerPlanTest, OnScratchTheBundleStandsForTheCertificatesInIt) {
  go_server_set();
  std::string df = render(Base::Scratch);
  auto dest = destinations(df);
  auto has = [&](const std::string& d) { return std::find(dest.begin(), dest.end(), d) != dest.end(); };
  EXPECT_TRUE(has("/etc/ssl/certs/ca-certificates.crt")) << df;
  EXPECT_FALSE(has("/etc/ssl/certs/A.pem")) << "its certificate is in the bundle\n" << df;
  EXPECT_FALSE(has("/etc/ssl/certs/aaaa1111.0")) << df;
  EXPECT_FALSE(has("/etc/ssl/certs/local.pem")) << "in the bundle too";
  ASSERT_NE(need("ca-certificates"), nullptr);
  EXPECT_EQ(need("ca-certificates")->met_by, "copied");
}

TEST_F(RunnerPlanTest, OnScratchOnlyTheZonesTheProgramRead) {
  go_server_set();
  std::string df = render(Base::Scratch);
  auto dest = destinations(df);
  auto has = [&](const std::string& d) { return std::find(dest.begin(), dest.end(), d) != dest.end(); };
  EXPECT_TRUE(has("/usr/share/zoneinfo/Europe/Paris")) << df;
  // /etc/localtime is a link into the zone database: a link from the context, its zone copied.
  EXPECT_EQ(plan_.from_context.count("/etc/localtime"), 1u) << df;
  EXPECT_TRUE(has("/usr/share/zoneinfo/Etc/UTC") || plan_.whole_dirs.count("/usr/share/zoneinfo/Etc"))
      << "the zone /etc/localtime names\n" << df;
  EXPECT_FALSE(has("/usr/share/zoneinfo/Asia/Tokyo")) << df;
  ASSERT_NE(need("zoneinfo"), nullptr);
  EXPECT_EQ(need("zoneinfo")->met_by, "copied");
  EXPECT_NE(need("zoneinfo")->detail.find("only the zones the program read"), std::string::npos);
}

// PHP opens zoneinfo/UTC, a link to Etc/UTC: on a base without tzdata the link ships with the zone
// it leads to (the Dockerfile image said "Timezone database is corrupt" without it); a link to a
// zone nobody read stays out.
TEST_F(RunnerPlanTest, OnScratchALinkAZoneWasReadThroughShips) {
  fs::create_symlink("Etc/UTC", src_.path() / "usr/share/zoneinfo/UTC");
  fs::create_symlink("Asia/Tokyo", src_.path() / "usr/share/zoneinfo/Japan");
  add("/usr/local/bin/server", ReasonKind::Program);
  add("/usr/share/zoneinfo", ReasonKind::Implicit, true);
  add("/usr/share/zoneinfo/UTC", ReasonKind::Opened);
  std::string df = render(Base::Scratch);
  auto dest = destinations(df);
  auto ships = [&](const std::string& p) {
    return std::find(dest.begin(), dest.end(), p) != dest.end() || plan_.from_context.count(p) > 0;
  };
  EXPECT_TRUE(ships("/usr/share/zoneinfo/UTC")) << df;
  EXPECT_TRUE(ships("/usr/share/zoneinfo/Etc/UTC") || plan_.whole_dirs.count("/usr/share/zoneinfo/Etc")) << df;
  EXPECT_FALSE(ships("/usr/share/zoneinfo/Japan")) << df;
  EXPECT_FALSE(ships("/usr/share/zoneinfo/Asia/Tokyo")) << df;
}

TEST_F(RunnerPlanTest, ALocalZoneOtherThanUtcIsCopiedOnABaseWithTzdata) {
  fs::remove(src_.path() / "etc/localtime");
  fs::create_symlink("/usr/share/zoneinfo/Europe/Paris", src_.path() / "etc/localtime");
  go_server_set();
  std::string df = render(Base::DistrolessStatic);
  auto cs = copies(df);
  size_t i = index_of(cs, "/etc/localtime");
  ASSERT_NE(i, std::string::npos) << df;
  EXPECT_EQ(cs[i].dest, "/etc/");
  EXPECT_NE(df.find("the builder's zone is Europe/Paris"), std::string::npos) << df;
}

TEST_F(RunnerPlanTest, ADirectoryIsOneCopyOnlyWhenAllOfItIsInTheSet) {
  const auto& r = src_.path();
  testing::write_file(r / "srv/app/main.py", "main");
  testing::write_file(r / "srv/README", "not used: /srv itself is not whole");
  testing::write_file(r / "srv/app/lib/util.py", "util");
  fs::create_symlink("main.py", r / "srv/app/entry.py");
  add("/usr/local/bin/server", ReasonKind::Program);
  add("/srv/app/main.py", ReasonKind::Opened);
  add("/srv/app/lib/util.py", ReasonKind::Opened);
  add("/srv/app/entry.py", ReasonKind::Opened);
  std::string df = render(Base::Scratch);
  auto cs = copies(df);
  size_t i = index_of(cs, "/srv/app/");
  ASSERT_NE(i, std::string::npos) << df;
  EXPECT_EQ(cs[i].dest, "/srv/app/");
  EXPECT_EQ(df.find("util.py"), std::string::npos) << "inside the directory's COPY\n" << df;
  // Not when minify writes its output there: it holds more by the time the image is built.
  {
    RunnerPlanOptions po;
    po.base = Base::Scratch;
    po.root = &*root_;
    po.outputs = {"/srv/app/minify-out"};
    EXPECT_EQ(plan_runner(set_, po).whole_dirs.count("/srv/app"), 0u);
  }
  // One more file on the builder that the program never used: the files go one directory each.
  testing::write_file(r / "srv/app/unused.py", "unused");
  df = render(Base::Scratch);
  cs = copies(df);
  EXPECT_EQ(index_of(cs, "/srv/app/"), std::string::npos) << df;
  EXPECT_NE(index_of(cs, "/srv/app/main.py"), std::string::npos) << df;
  EXPECT_NE(index_of(cs, "/srv/app/lib/"), std::string::npos) << "lib/ is still whole\n" << df;
  EXPECT_EQ(df.find("unused.py"), std::string::npos);
}

TEST_F(RunnerPlanTest, GeneratedFilesComeFromTheContextBesideTheDockerfile) {
  add("/usr/local/bin/server", ReasonKind::Program);
  ASSERT_TRUE(add_scratch_basics(set_));
  std::string df = render(Base::Scratch);
  // The first comment is the build command, with the directory the Dockerfile is in.
  EXPECT_EQ(df.rfind("# Build: buildah bud -f /work/out/Dockerfile /work/out", 0), 0u) << df;
  auto cs = copies(df);
  size_t i = index_of(cs, "generated/");
  ASSERT_NE(i, std::string::npos) << df;
  EXPECT_EQ(cs[i].from, "") << "from the build context";
  EXPECT_EQ(cs[i].dest, "/");
  testing::TempDir ctx;
  ASSERT_TRUE(write_generated(set_, plan_, &*root_, (ctx.path() / "generated").string()));
  EXPECT_EQ(testing::read_file(ctx.path() / "generated/etc/passwd"), set_.find("/etc/passwd")->content);
  // On distroless the base has users and /tmp: no context at all.
  df = render(Base::DistrolessStatic);
  EXPECT_EQ(index_of(copies(df), "generated/"), std::string::npos) << df;
}

// minify's /etc/passwd and /etc/group name the accounts the image needs: on a base that has
// them all (root, nobody, nonroot) nothing is copied; an account the base lacks (the image's
// User is the builder's app user) brings both files from the context.
TEST_F(RunnerPlanTest, AccountsTheBaseLacksComeFromTheContext) {
  add("/usr/local/bin/server", ReasonKind::Program);
  const Reason why{ReasonKind::Generated, "accounts the image needs"};
  ASSERT_TRUE(set_.add_generated("/etc/passwd",
                                 "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n",
                                 0644, why));
  ASSERT_TRUE(set_.add_generated("/etc/group", "root:x:0:\nnonroot:x:65532:\n", 0644, why));
  std::string df = render(Base::DistrolessStatic);
  EXPECT_EQ(index_of(copies(df), "generated/"), std::string::npos) << df;
  ASSERT_NE(need("user-database"), nullptr);
  EXPECT_EQ(need("user-database")->met_by, "provided by the base");

  ASSERT_TRUE(set_.add_generated("/etc/passwd",
                                 "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/srv:/sbin/nologin\n", 0644, why));
  ASSERT_TRUE(set_.add_generated("/etc/group", "root:x:0:\napp:x:1000:\n", 0644, why));
  df = render(Base::DistrolessStatic);
  EXPECT_NE(index_of(copies(df), "generated/"), std::string::npos) << df;
  EXPECT_EQ(need("user-database")->met_by, "copied");
  EXPECT_NE(need("user-database")->detail.find("app (1000)"), std::string::npos) << need("user-database")->detail;
  EXPECT_EQ(plan_.from_context.count("/etc/passwd"), 1u);
  EXPECT_EQ(plan_.from_context.count("/etc/group"), 1u);
}

// What COPY from the builder cannot make comes from the context, as it is in the set: a link
// chain into another directory (the alternatives system), a directory's mode, an empty directory.
TEST_F(RunnerPlanTest, LinksToOtherDirectoriesAndDirectoryModesComeFromTheContext) {
  const auto& r = src_.path();
  testing::write_file(r / "usr/lib/jvm/jdk/bin/java", "java");
  testing::write_file(r / "usr/lib/jvm/jdk/bin/javac", "javac");
  fs::create_directories(r / "etc/alternatives");
  fs::create_directories(r / "usr/bin");
  fs::create_symlink("/usr/lib/jvm/jdk/bin/java", r / "etc/alternatives/java");
  fs::create_symlink("/etc/alternatives/java", r / "usr/bin/java");
  // Neither directory is used whole (a whole directory's COPY would keep the links itself).
  fs::create_symlink("/usr/lib/jvm/jdk/bin/javac", r / "etc/alternatives/javac");
  testing::write_file(r / "usr/bin/unused", "unused");
  testing::write_file(r / "usr/lib/jvm/jdk/lib/libjli.so", "jli");
  testing::write_file(r / "usr/lib/jvm/jdk/lib/libjli.so.1.0", "jli1");
  fs::create_symlink("libjli.so.1.0", r / "usr/lib/jvm/jdk/lib/libjli.so.1");
  fs::create_directories(r / "tmp");
  ::chmod((r / "tmp").c_str(), 01777);
  fs::create_directories(r / "var/cache/app");
  ::chmod((r / "var/cache/app").c_str(), 0700);
  testing::write_file(r / "var/cache/unused", "unused");
  add("/usr/bin/java", ReasonKind::Program);
  add("/usr/lib/jvm/jdk/lib/libjli.so.1", ReasonKind::Needed);
  add("/tmp", ReasonKind::Opened);
  add("/var/cache/app", ReasonKind::Opened);
  std::string df = render(Base::Scratch);
  auto dest = destinations(df);
  EXPECT_NE(std::find(dest.begin(), dest.end(), "/usr/lib/jvm/jdk/bin/java"), dest.end()) << "under its own path\n" << df;
  EXPECT_EQ(std::find(dest.begin(), dest.end(), "/usr/bin/java"), dest.end()) << "not a copy under the link's name\n" << df;
  EXPECT_NE(std::find(dest.begin(), dest.end(), "/usr/lib/jvm/jdk/lib/libjli.so.1"), dest.end())
      << "a link within one directory is still copied under its name\n" << df;
  for (const char* p : {"/usr/bin/java", "/etc/alternatives/java", "/tmp", "/var/cache/app"})
    EXPECT_EQ(plan_.from_context.count(p), 1u) << p;
  EXPECT_EQ(plan_.from_context.count("/usr/lib/jvm/jdk/lib/libjli.so.1"), 0u);
  EXPECT_EQ(plan_.from_context.count("/var"), 0u) << "0755 and not empty: made by the COPY of its content";
  testing::TempDir ctx;
  ASSERT_TRUE(write_generated(set_, plan_, &*root_, (ctx.path() / "generated").string()));
  EXPECT_EQ(fs::read_symlink(ctx.path() / "generated/usr/bin/java").string(), "/etc/alternatives/java");
  EXPECT_EQ(fs::read_symlink(ctx.path() / "generated/etc/alternatives/java").string(), "/usr/lib/jvm/jdk/bin/java");
  struct stat st;
  ASSERT_EQ(::lstat((ctx.path() / "generated/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_TRUE(fs::is_directory(ctx.path() / "generated/var/cache/app"));
  // On distroless /tmp is the base's.
  render(Base::DistrolessStatic);
  EXPECT_EQ(plan_.from_context.count("/tmp"), 0u);
  EXPECT_EQ(plan_.from_context.count("/usr/bin/java"), 1u);
}

TEST(RunnerBase, PinnedByDigestWhenOneIsKnown) {
  const std::regex digest("sha256:[0-9a-f]{64}");
  for (Base b : {Base::DistrolessStatic, Base::DistrolessBase, Base::DistrolessCc}) {
    auto k = known_digest(b);
    if (!k) continue;  // the README lists the bases without one
    EXPECT_TRUE(std::regex_match(std::string(k->digest), digest)) << k->digest;
    EXPECT_TRUE(std::regex_match(std::string(k->taken), std::regex("20[0-9]{2}-[0-9]{2}-[0-9]{2}"))) << k->taken;
    EXPECT_FALSE(k->source.empty());
    FileSet set;
    DockerfileOptions o;
    o.base = b;
    o.pin_digest = std::string(k->digest);
    std::string df = render_dockerfile(set, o);
    std::smatch m;
    std::string from = df.substr(df.find("\nFROM ") + 1);
    from = from.substr(0, from.find('\n'));
    EXPECT_TRUE(std::regex_match(from, m, std::regex("FROM gcr\\.io/distroless/[a-z]+-debian12:nonroot@sha256:[0-9a-f]{64}")))
        << from;
  }
  EXPECT_TRUE(known_digest(Base::DistrolessStatic)) << "the default base of static programs has a digest";
  EXPECT_FALSE(known_digest(Base::Scratch));
  // Without a digest the stage says so.
  FileSet set;
  DockerfileOptions o;
  o.base = Base::DistrolessBase;
  EXPECT_NE(render_dockerfile(set, o).find("# The base is not pinned"), std::string::npos);
}

// --resolve-digest: the sha256 of the manifest skopeo reads, checked against an OCI archive
// minify wrote itself (no registry here).
TEST(RunnerBase, ResolveDigestHashesTheManifestSkopeoReads) {
  if (!testing::have_program("skopeo")) GTEST_SKIP() << "needs skopeo";
  testing::TempDir dir;
  testing::write_file(dir.path() / "root/app", "app");
  auto root = Root::open((dir.path() / "root").string());
  ASSERT_TRUE(root);
  FileSet set;
  ASSERT_TRUE(set.add(*root, "/app", {ReasonKind::Program, "test"}));
  std::string archive = (dir.path() / "image.oci.tar").string();
  ImageConfig config;
  config.entrypoint = {"/app"};
  auto written = write_oci(set, *root, archive, config);
  ASSERT_TRUE(written) << written.error().message();
  auto d = resolve_digest("oci-archive:" + archive);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, written->manifest);
  auto bad = resolve_digest("oci-archive:" + (dir.path() / "missing.tar").string());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("skopeo"), std::string::npos) << bad.error().message();
}

// `minify pack` without --workdir, started in a directory whose file the program reads by a
// relative name: the runner stage's WORKDIR is that directory, the image config's WorkingDir
// too, and verify runs the program there. So does one that only writes there. A program that
// uses nothing there gets no WORKDIR.
TEST(RunnerWorkdir, TheDirectoryTheProgramRanInWhenItUsedFilesThere) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the tracer's chroot-free run and verify's sandbox)";
  if (!testing::have_program("cat")) GTEST_SKIP() << "needs cat";
  testing::TempDir tmp;
  ::chmod(tmp.path().c_str(), 0755);  // the image's user (nonroot) goes through it
  fs::path app = tmp.path() / "app";
  testing::write_file(app / "data.txt", "data\n");
  auto pack = [&](const std::string& out, const std::string& program) {
    return testing::run({"/bin/sh", "-c",
                         "cd '" + app.string() + "' && exec '" + testing::minify_bin() + "' pack -o '" + out +
                             "' --base scratch " + program});
  };
  std::string out = (tmp.path() / "out").string();
  auto r = pack(out, "/bin/cat data.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string df = testing::read_file(fs::path(out) / "Dockerfile");
  EXPECT_NE(df.find("\nWORKDIR " + app.string() + "\n"), std::string::npos) << df;
  EXPECT_TRUE(fs::is_directory(fs::path(out) / "rootfs" / app.relative_path())) << "the WorkingDir is in the image";

  // A program that only writes there (openssl req -keyout key.pem): the same WORKDIR, and verify,
  // which runs it as the image's user, passes (from / it could not create the file).
  std::string out3 = (tmp.path() / "out3").string();
  r = pack(out3, "/bin/cp /etc/debian_version copy.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  df = testing::read_file(fs::path(out3) / "Dockerfile");
  EXPECT_NE(df.find("\nWORKDIR " + app.string() + "\n"), std::string::npos) << df;

  std::string out2 = (tmp.path() / "out2").string();
  r = pack(out2, "/bin/cat /etc/debian_version");
  ASSERT_EQ(r.status, 0) << r.err;
  df = testing::read_file(fs::path(out2) / "Dockerfile");
  EXPECT_EQ(df.find("WORKDIR"), std::string::npos) << df;
}

}  // namespace
}  // namespace minify
