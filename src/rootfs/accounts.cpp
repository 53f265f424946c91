// The accounts of a root (rootfs.hpp): /etc/passwd and /etc/group read as text.
#include <algorithm>
#include <charconv>
#include <sstream>

#include "minify/rootfs.hpp"

namespace minify {

std::optional<uint32_t> parse_account_id(std::string_view s) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::vector<std::string>> read_account_lines(const Root& root, const char* file, size_t min_fields) {
  std::vector<std::vector<std::string>> out;
  auto text = root.read_file(file, 16 << 20);
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    size_t start = 0;
    for (size_t colon; (colon = line.find(':', start)) != std::string::npos; start = colon + 1)
      fields.push_back(line.substr(start, colon - start));
    fields.push_back(line.substr(start));
    if (fields.size() >= min_fields && parse_account_id(fields[2])) out.push_back(std::move(fields));
  }
  return out;
}

std::optional<std::pair<uid_t, gid_t>> resolve_user(const Root& root, std::string_view spec) {
  if (spec.empty()) return std::nullopt;
  std::string_view user = spec.substr(0, spec.find(':'));
  std::string_view group = spec.find(':') == std::string_view::npos ? std::string_view() : spec.substr(spec.find(':') + 1);
  std::optional<uint32_t> uid = parse_account_id(user), gid;
  bool numeric = uid.has_value();
  for (const auto& u : read_account_lines(root, "/etc/passwd", 7))
    if (numeric ? parse_account_id(u[2]) == uid : u[0] == user) {
      uid = parse_account_id(u[2]);
      gid = parse_account_id(u[3]);
      break;
    }
  if (!uid) return std::nullopt;
  if (!group.empty()) {
    gid = parse_account_id(group);
    if (!gid)
      for (const auto& g : read_account_lines(root, "/etc/group", 4))
        if (g[0] == group) gid = parse_account_id(g[2]);
    if (!gid) return std::nullopt;
  }
  return std::pair<uid_t, gid_t>{*uid, gid.value_or(0)};
}

std::vector<gid_t> supplementary_groups(const Root& root, std::string_view spec, gid_t gid) {
  std::vector<gid_t> groups{gid};
  std::string_view user = spec.substr(0, spec.find(':'));
  std::optional<uint32_t> uid = parse_account_id(user);
  std::string name;
  for (const auto& u : read_account_lines(root, "/etc/passwd", 7))
    if (uid ? parse_account_id(u[2]) == uid : u[0] == user) {
      name = u[0];
      break;
    }
  if (name.empty()) return groups;
  for (const auto& g : read_account_lines(root, "/etc/group", 4)) {
    std::string_view members = g[3];
    for (size_t start = 0; start <= members.size();) {
      size_t comma = std::min(members.find(',', start), members.size());
      if (members.substr(start, comma - start) == name) {
        gid_t id = *parse_account_id(g[2]);
        if (std::find(groups.begin(), groups.end(), id) == groups.end()) groups.push_back(id);
        break;
      }
      start = comma + 1;
    }
  }
  return groups;
}

}  // namespace minify
