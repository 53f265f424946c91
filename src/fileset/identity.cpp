// What a minimal root must never take from the builder as it is: secrets (password hashes, SSH and
// TLS private keys, credentials of cloud and registry clients, build secrets) and the builder's
// identity (hostname, hosts, resolv.conf, machine-id). Secrets are withheld unless --keep names the
// path literally; the accounts files are written anew with only the accounts the image needs,
// as distroless writes them (GoogleContainerTools/distroless, base/base.bzl), every password locked.
#include "minify/collect.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <set>
#include <sstream>

namespace minify {

namespace {

struct Rule {
  std::string_view glob;
  std::string_view reason;
};

// Globs as for FileSet::exclude(): a rule on a directory covers everything under it.
constexpr std::array<Rule, 25> kWithheld = {{
    {"/etc/shadow", "password hashes of the builder (a locked /etc/shadow is written when the program reads one)"},
    {"/etc/gshadow", "group password hashes of the builder (a locked /etc/gshadow is written when needed)"},
    {"/etc/shadow-", "backup of the builder's password hashes"},
    {"/etc/gshadow-", "backup of the builder's group password hashes"},
    {"/etc/passwd-", "backup of the builder's accounts"},
    {"/etc/group-", "backup of the builder's groups"},
    {"/etc/hostname", "the builder's identity: the container runtime provides /etc/hostname"},
    {"/etc/hosts", "the builder's identity: the container runtime provides /etc/hosts"},
    {"/etc/resolv.conf", "the builder's network: the container runtime provides /etc/resolv.conf"},
    {"/etc/machine-id", "the builder's identity (machine-id)"},
    {"/var/lib/dbus/machine-id", "the builder's identity (machine-id)"},
    {"/etc/ssh/ssh_host_*", "SSH host key of the builder"},
    {"**/.ssh", "SSH keys and known hosts"},
    {"/etc/ssl/private", "private TLS keys"},
    {"/root", "root's home directory on the builder"},
    {"**/.netrc", "credentials (.netrc)"},
    {"**/.git-credentials", "credentials (git)"},
    {"**/.docker/config.json", "registry credentials (docker)"},
    {"**/.aws", "cloud credentials (AWS)"},
    {"**/.config/gcloud", "cloud credentials (Google Cloud)"},
    {"**/.azure", "cloud credentials (Azure)"},
    {"**/.kube/config", "cluster credentials (kubectl)"},
    {"**/.boto", "cloud credentials (boto)"},
    {"**/.s3cfg", "cloud credentials (s3cmd)"},
    {"/run/secrets", "build secrets"},
}};

bool is_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + 1) out.push_back(s.substr(start, at - start));
  out.push_back(s.substr(start));
  return out;
}

// One line of passwd or group, split on ':'.
struct Line {
  std::vector<std::string> fields;
  std::string text() const {
    std::string s;
    for (size_t i = 0; i < fields.size(); ++i) s += (i ? ":" : "") + fields[i];
    return s + "\n";
  }
};

std::vector<Line> read_lines(const Root& root, const char* file, size_t min_fields) {
  std::vector<Line> out;
  for (auto& f : read_account_lines(root, file, min_fields)) out.push_back(Line{std::move(f)});
  return out;
}

// The accounts every image has (distroless' base.bzl), used where the root has no line of its own.
const std::vector<Line>& default_users() {
  static const std::vector<Line> users = {
      {{"root", "x", "0", "0", "root", "/root", "/sbin/nologin"}},
      {{"nobody", "x", "65534", "65534", "nobody", "/nonexistent", "/sbin/nologin"}},
      {{"nonroot", "x", "65532", "65532", "nonroot", "/home/nonroot", "/sbin/nologin"}},
  };
  return users;
}
const std::vector<Line>& default_groups() {
  static const std::vector<Line> groups = {
      {{"root", "x", "0", ""}}, {{"nobody", "x", "65534", ""}}, {{"nonroot", "x", "65532", ""}}};
  return groups;
}

// The image's /etc/hosts: the builder's loopback lines (127.0.0.1 and ::1) with only the localhost
// names on them, so names resolve in the image as on the builder where the runtime does not mount
// its own file (runc from an OCI bundle); the builder's hostname and other entries stay behind.
// Docker's default lines when the builder has none.
std::string loopback_hosts(const Root& root) {
  auto is_localhost = [](const std::string& name) {
    return name == "localhost" || name.rfind("localhost.", 0) == 0 || name == "ip6-localhost" || name == "ip6-loopback";
  };
  std::string out;
  if (auto text = root.read_file("/etc/hosts", 1 << 20)) {
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      line = line.substr(0, line.find('#'));
      std::istringstream fields(line);
      std::string addr, name, names;
      if (!(fields >> addr) || (addr != "127.0.0.1" && addr != "::1")) continue;
      while (fields >> name)
        if (is_localhost(name)) names += (names.empty() ? "" : " ") + name;
      if (!names.empty()) out += addr + "\t" + names + "\n";
    }
  }
  return out.empty() ? "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" : out;
}

}  // namespace

void withhold_secrets(FileSet& set, const std::vector<std::string>& keep, Context& ctx) {
  for (const auto& r : kWithheld) set.withhold(r.glob, std::string(r.reason));
  // Only a literal path inside what a rule covers lifts it: `--keep /` or `--keep '/etc/*'`
  // never ships /etc/shadow.
  for (const auto& k : keep) {
    if (is_glob(k)) continue;
    if (auto why = set.withheld_reason(k)) {
      set.allow(k);
      ctx.warn("fileset", "shipping " + k + " because --keep names it, although it is withheld by default: " + *why);
    }
  }
}

Status write_accounts(FileSet& set, const Root& root, const std::string& image_user, const std::vector<std::string>& keep,
                      uid_t uid_shift) {
  auto kept = [&](const char* path) { return std::find(keep.begin(), keep.end(), path) != keep.end(); };
  const Entry* passwd_entry = set.find("/etc/passwd");
  const Entry* group_entry = set.find("/etc/group");
  bool want_shadow = set.withheld().count("/etc/shadow") > 0;
  bool want_gshadow = set.withheld().count("/etc/gshadow") > 0;
  bool rewrite_passwd = passwd_entry && !passwd_entry->generated && !kept("/etc/passwd");
  bool rewrite_group = group_entry && !group_entry->generated && !kept("/etc/group");
  // A program that read /etc/hosts gets its localhost lines; Docker and podman mount their own
  // file over it anyway.
  if (set.withheld().count("/etc/hosts") && !set.find("/etc/hosts") && !set.matches_exclude("/etc/hosts"))
    if (auto st = set.add_generated("/etc/hosts", loopback_hosts(root), 0644,
                                    {ReasonKind::Generated, "localhost only: the container runtime provides the real one"});
        !st)
      return st;
  if (!rewrite_passwd && !rewrite_group && !want_shadow && !want_gshadow) return Ok{};

  std::vector<Line> users = read_lines(root, "/etc/passwd", 7);
  std::vector<Line> groups = read_lines(root, "/etc/group", 4);

  // Which accounts: root, nobody and nonroot; the image's User; the owners of what ships.
  std::set<uint32_t> uids = {0, 65534, 65532}, gids = {0, 65534, 65532};
  std::string user = image_user.substr(0, image_user.find(':'));
  std::string group = image_user.find(':') == std::string::npos ? "" : image_user.substr(image_user.find(':') + 1);
  for (const auto& u : users)
    if (u.fields[0] == user) uids.insert(*parse_account_id(u.fields[2]));
  for (const auto& g : groups)
    if (!group.empty() && g.fields[0] == group) gids.insert(*parse_account_id(g.fields[2]));
  if (auto id = parse_account_id(user)) uids.insert(*id);
  if (auto id = parse_account_id(group)) gids.insert(*id);
  auto unshifted = [&](uint32_t id) { return uid_shift && id >= uid_shift && id - uid_shift < 65536 ? id - uid_shift : id; };
  for (const auto& [path, e] : set)
    if (!e.generated) {
      uids.insert(unshifted(e.uid));
      gids.insert(unshifted(e.gid));
    }

  std::string passwd, shadow;
  std::set<std::string> names;
  std::set<uint32_t> done;
  auto add_user = [&](const Line& u) {
    uint32_t uid = *parse_account_id(u.fields[2]);
    if (!uids.count(uid) || !done.insert(uid).second) return;
    passwd += u.text();
    shadow += u.fields[0] + ":*:0:0:99999:7:::\n";  // locked: no password matches "*"
    names.insert(u.fields[0]);
    if (auto gid = parse_account_id(u.fields[3])) gids.insert(*gid);
  };
  for (const auto& u : users) add_user(u);
  for (const auto& u : default_users()) add_user(u);

  // The User's supplementary groups (those whose members name it): the runtime gives them to the
  // process (runc's additionalGids), as the trace with --user had them.
  if (!user.empty())
    for (gid_t g : supplementary_groups(root, user, 0)) gids.insert(g);  // 0: in already

  std::string group_text, gshadow;
  std::set<uint32_t> gdone;
  auto add_group = [&](const Line& g) {
    uint32_t gid = *parse_account_id(g.fields[2]);
    if (!gids.count(gid) || !gdone.insert(gid).second) return;
    Line copy = g;
    std::string members;
    for (const auto& m : split(g.fields[3], ','))
      if (names.count(m)) members += (members.empty() ? "" : ",") + m;
    copy.fields[3] = members;
    group_text += copy.text();
    gshadow += g.fields[0] + ":*::" + members + "\n";
  };
  for (const auto& g : groups) add_group(g);
  for (const auto& g : default_groups()) add_group(g);

  const Reason why{ReasonKind::Generated, "accounts the image needs (root, nobody, nonroot, its User, the owners of its files), "
                                          "from the source's own lines; passwords locked"};
  if (rewrite_passwd)
    if (auto st = set.add_generated("/etc/passwd", passwd, 0644, why); !st) return st;
  if (rewrite_group)
    if (auto st = set.add_generated("/etc/group", group_text, 0644, why); !st) return st;
  if (want_shadow)
    if (auto st = set.add_generated("/etc/shadow", shadow, 0640, why); !st) return st;
  if (want_gshadow)
    if (auto st = set.add_generated("/etc/gshadow", gshadow, 0640, why); !st) return st;
  return Ok{};
}

}  // namespace minify
