// Reading a rendered Dockerfile back in tests: its instructions (continuation lines joined) and
// every COPY as its JSON array.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace minify {

// The instructions, continuation lines joined, comments and blank lines left out.
inline std::vector<std::string> instructions(const std::string& dockerfile) {
  std::istringstream in(dockerfile);
  std::string line, cur;
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    if (cur.empty() && (line.empty() || line.front() == '#')) continue;
    if (!line.empty() && line.back() == '\\') {
      cur += line.substr(0, line.size() - 1);
      continue;
    }
    out.push_back(cur + line);
    cur.clear();
  }
  return out;
}

struct Copy {
  std::string from;                  // "--from=builder" or ""
  std::vector<std::string> sources;
  std::string dest;
};

// Every COPY parsed into its JSON array.
inline std::vector<Copy> copies(const std::string& dockerfile) {
  std::vector<Copy> out;
  for (const auto& l : instructions(dockerfile)) {
    if (l.rfind("COPY ", 0) != 0) continue;
    Copy c;
    std::string rest = l.substr(5);
    if (rest.rfind("--from=", 0) == 0) {
      c.from = rest.substr(0, rest.find(' '));
      rest = rest.substr(rest.find(' ') + 1);
    }
    if (rest.front() != '[') {
      c.sources = {rest.substr(0, rest.find(' '))};
      c.dest = rest.substr(rest.find(' ') + 1);
    } else {
      auto arr = nlohmann::json::parse(rest).get<std::vector<std::string>>();
      c.dest = arr.back();
      arr.pop_back();
      c.sources = arr;
    }
    out.push_back(c);
  }
  return out;
}

inline size_t index_of(const std::vector<Copy>& cs, const std::string& source) {
  for (size_t i = 0; i < cs.size(); ++i)
    for (const auto& s : cs[i].sources)
      if (s == source) return i;
  return std::string::npos;
}

}  // namespace minify
