// The SBOM documents: CycloneDX 1.5 JSON (bom-1.5.schema.json) and SPDX 2.3 JSON
// (spdx-schema.json of spdx-spec v2.3), and their atomic write.
//
// Reproducible: the inputs are sorted, keys come out in a fixed order (ordered_json), and the
// identifiers a document must carry uniquely (CycloneDX serialNumber, SPDX documentNamespace)
// are a UUIDv5 (RFC 9562 section 5.5) of the SHA-256 of the document rendered without them, so
// the same root gives byte-identical output and a different root a different identifier.
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "minify/sbom.hpp"
#include "minify/atomic.hpp"
#include "minify/digest.hpp"

namespace minify {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr const char* kToolName = "minify";
constexpr const char* kToolVersion = "0.1.0";

std::string rfc3339(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// UUIDv5 in the URL namespace (RFC 9562 appendix A) of `name`.
std::string uuid5(const std::string& name) {
  static const unsigned char kUrlNamespace[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                                  0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
  std::string data(reinterpret_cast<const char*>(kUrlNamespace), 16);
  data += name;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  md[6] = static_cast<unsigned char>((md[6] & 0x0f) | 0x50);
  md[8] = static_cast<unsigned char>((md[8] & 0x3f) | 0x80);
  static const char* d = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += d[md[i] >> 4];
    s += d[md[i] & 15];
  }
  return s;
}

std::string content_uuid(const std::string& text) {
  return uuid5("minify-sbom:sha256:" + digest_hex(DigestKind::Sha256, text));
}

std::string dump(const ordered_json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

const char* cdx_type(const Component& c) {
  return c.kind == ComponentKind::GoModule && c.main_module ? "application" : "library";
}

// SPDX 2.3 "7.24 Primary Package Purpose".
const char* spdx_purpose(const Component& c) {
  return c.kind == ComponentKind::GoModule && c.main_module ? "APPLICATION" : "LIBRARY";
}

// SPDXIDs are "SPDXRef-" followed by [a-zA-Z0-9.-]+.
std::string spdx_id(std::string_view prefix, std::string_view name, size_t n) {
  std::string id = "SPDXRef-" + std::string(prefix) + "-";
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    id += ok ? c : '-';
  }
  return id + "-" + std::to_string(n);
}

}  // namespace

std::string render_cyclonedx(const Sbom& sbom, std::optional<int64_t> timestamp) {
  ordered_json bom;
  bom["bomFormat"] = "CycloneDX";
  bom["specVersion"] = "1.5";
  bom["serialNumber"] = "";
  bom["version"] = 1;

  ordered_json meta = ordered_json::object();
  if (timestamp) meta["timestamp"] = rfc3339(*timestamp);
  // The tool array that 1.5 deprecates (in favour of {"components": [...]}) but still accepts:
  // cyclonedx-go before 0.8, and so the Trivy builds that use it, refuse the object form.
  meta["tools"] = ordered_json::array({{{"name", kToolName}, {"version", kToolVersion}}});
  ordered_json subject = {{"bom-ref", "subject"}, {"type", sbom.container ? "container" : "application"},
                          {"name", sbom.subject.empty() ? std::string("rootfs") : sbom.subject}};
  meta["component"] = subject;
  bom["metadata"] = meta;

  ordered_json components = ordered_json::array();
  std::vector<std::string> refs;
  if (sbom.os) {
    ordered_json os = {{"bom-ref", "os"}, {"type", "operating-system"}, {"name", sbom.os->id}};
    if (!sbom.os->version_id.empty()) os["version"] = sbom.os->version_id;
    if (!sbom.os->pretty_name.empty()) os["description"] = sbom.os->pretty_name;
    components.push_back(os);
    refs.push_back("os");
  }
  for (const auto& c : sbom.components) {
    ordered_json j = {{"bom-ref", c.purl}, {"type", cdx_type(c)}, {"name", c.name}};
    if (!c.version.empty()) j["version"] = c.version;
    j["purl"] = c.purl;
    ordered_json props = ordered_json::array();
    props.push_back({{"name", "minify:ecosystem"}, {"value", component_kind_name(c.kind)}});
    props.push_back({{"name", "minify:found-in"}, {"value", c.found_in}});
    if (!c.source.empty() && c.source != c.name) props.push_back({{"name", "minify:source-package"}, {"value", c.source}});
    j["properties"] = props;
    // Where an OS package's files are in the root (CycloneDX 1.5 evidence.occurrences).
    if (!c.files.empty()) {
      ordered_json occ = ordered_json::array();
      for (const auto& f : c.files) occ.push_back({{"location", f}});
      j["evidence"] = {{"occurrences", occ}};
    }
    components.push_back(j);
    refs.push_back(c.purl);
  }
  for (const auto& f : sbom.files) {
    std::string ref = "file:" + f.path;
    components.push_back({{"bom-ref", ref},
                          {"type", "file"},
                          {"name", f.path},
                          {"hashes", ordered_json::array({{{"alg", "SHA-1"}, {"content", f.sha1}},
                                                          {{"alg", "SHA-256"}, {"content", f.sha256}}})},
                          {"properties", ordered_json::array({{{"name", "minify:size"}, {"value", std::to_string(f.size)}}})}});
    refs.push_back(ref);
  }
  bom["components"] = components;
  bom["dependencies"] = ordered_json::array({{{"ref", "subject"}, {"dependsOn", refs}}});

  bom["serialNumber"] = "urn:uuid:" + content_uuid(dump(bom));
  return dump(bom);
}

std::string render_spdx(const Sbom& sbom, std::optional<int64_t> timestamp) {
  std::string name = sbom.subject.empty() ? std::string("rootfs") : sbom.subject;
  ordered_json doc;
  doc["spdxVersion"] = "SPDX-2.3";
  doc["dataLicense"] = "CC0-1.0";
  doc["SPDXID"] = "SPDXRef-DOCUMENT";
  doc["name"] = name;
  doc["documentNamespace"] = "";
  doc["creationInfo"] = {{"creators", ordered_json::array({std::string("Tool: ") + kToolName + "-" + kToolVersion})},
                         {"created", rfc3339(timestamp.value_or(0))}};

  ordered_json packages = ordered_json::array();
  ordered_json relationships = ordered_json::array();
  auto rel = [&](const std::string& a, const char* type, const std::string& b) {
    relationships.push_back({{"spdxElementId", a}, {"relationshipType", type}, {"relatedSpdxElement", b}});
  };
  const std::string subject_id = "SPDXRef-Subject";
  packages.push_back({{"name", name},
                      {"SPDXID", subject_id},
                      {"downloadLocation", "NOASSERTION"},
                      {"filesAnalyzed", false},
                      {"primaryPackagePurpose", sbom.container ? "CONTAINER" : "APPLICATION"}});
  rel("SPDXRef-DOCUMENT", "DESCRIBES", subject_id);
  if (sbom.os) {
    ordered_json os = {{"name", sbom.os->id}, {"SPDXID", "SPDXRef-OperatingSystem"}};
    if (!sbom.os->version_id.empty()) os["versionInfo"] = sbom.os->version_id;
    os["downloadLocation"] = "NOASSERTION";
    os["filesAnalyzed"] = false;
    if (!sbom.os->pretty_name.empty()) os["description"] = sbom.os->pretty_name;
    os["primaryPackagePurpose"] = "OPERATING-SYSTEM";
    packages.push_back(os);
    rel(subject_id, "CONTAINS", "SPDXRef-OperatingSystem");
  }

  // Files first get their ids, so packages can name the files they contain.
  std::map<std::string, std::string> file_ids;
  ordered_json files = ordered_json::array();
  for (size_t i = 0; i < sbom.files.size(); ++i) {
    const auto& f = sbom.files[i];
    std::string id = spdx_id("File", basename_of(f.path), i + 1);
    file_ids[f.path] = id;
    // SPDX 2.3 section 8.4: a file's checksums must include SHA1.
    files.push_back({{"fileName", "." + f.path},
                     {"SPDXID", id},
                     {"checksums", ordered_json::array({{{"algorithm", "SHA1"}, {"checksumValue", f.sha1}},
                                                        {{"algorithm", "SHA256"}, {"checksumValue", f.sha256}}})}});
  }
  std::map<std::string, bool> owned;
  for (size_t i = 0; i < sbom.components.size(); ++i) {
    const auto& c = sbom.components[i];
    std::string id = spdx_id(std::string("Package-") + std::string(component_kind_name(c.kind)), c.name, i + 1);
    ordered_json p = {{"name", c.name}, {"SPDXID", id}};
    if (!c.version.empty()) p["versionInfo"] = c.version;
    // "built package from: NAME VERSION", the form Trivy's SPDX reader parses.
    if (!c.source.empty()) p["sourceInfo"] = "built package from: " + c.source + " " + c.source_version;
    p["downloadLocation"] = "NOASSERTION";
    p["filesAnalyzed"] = false;
    p["comment"] = "found in " + c.found_in;
    p["externalRefs"] = ordered_json::array({{{"referenceCategory", "PACKAGE-MANAGER"}, {"referenceType", "purl"}, {"referenceLocator", c.purl}}});
    p["primaryPackagePurpose"] = spdx_purpose(c);
    packages.push_back(p);
    // OS packages belong to the operating system element, the structure Trivy's SPDX reader
    // (and Trivy's own SPDX output) uses to tell OS packages from application dependencies.
    rel(c.kind == ComponentKind::OsPackage && sbom.os ? "SPDXRef-OperatingSystem" : subject_id, "CONTAINS", id);
    for (const auto& f : c.files)
      if (auto it = file_ids.find(f); it != file_ids.end()) {
        rel(id, "CONTAINS", it->second);
        owned[f] = true;
      }
  }
  for (const auto& [path, id] : file_ids)
    if (!owned.count(path)) rel(subject_id, "CONTAINS", id);

  doc["packages"] = packages;
  doc["files"] = files;
  doc["relationships"] = relationships;
  // SPDX 2.3 section 6.5: a unique absolute URI without "#"; spdx.org/spdxdocs is the prefix the
  // SPDX tools use for documents that have no home of their own.
  std::string slug;
  for (char c : name) slug += ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-') ? c : '-';
  doc["documentNamespace"] = "https://spdx.org/spdxdocs/minify-" + slug + "-" + content_uuid(dump(doc));
  return dump(doc);
}

std::string render_sbom(const Sbom& sbom, SbomFormat format, std::optional<int64_t> timestamp) {
  switch (format) {
    case SbomFormat::CycloneDx: return render_cyclonedx(sbom, timestamp);
    case SbomFormat::Spdx: return render_spdx(sbom, timestamp);
  }
  return {};
}

Result<std::string> write_sbom(const std::string& text, const std::string& out_file) {
  if (auto st = write_file_atomic(out_file, text); !st) return st.error();
  return "sha256:" + digest_hex(DigestKind::Sha256, text);
}

}  // namespace minify
