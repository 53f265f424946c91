// The TraceLog value type's helpers: access-kind names, duration parsing and the JSON forms of
// trace.json and of one --events line (nlohmann_json).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

#include <nlohmann/json.hpp>

#include "minify/trace.hpp"

namespace minify {

namespace {
constexpr AccessKind kAllKinds[kAccessKindCount] = {
    AccessKind::Read,   AccessKind::Write,  AccessKind::Create, AccessKind::Exec,     AccessKind::Stat,
    AccessKind::Readlink, AccessKind::List, AccessKind::Chdir,  AccessKind::Remove,   AccessKind::Rename,
    AccessKind::Link,   AccessKind::Symlink, AccessKind::Watch, AccessKind::Socket,
};

nlohmann::json kinds_json(AccessSet set) {
  nlohmann::json a = nlohmann::json::array();
  for (AccessKind k : set.kinds()) a.push_back(access_kind_name(k));
  return a;
}

Result<AccessSet> kinds_from_json(const nlohmann::json& j) {
  AccessSet set;
  if (!j.is_array()) return bad_input("read trace", "", "access kinds must be an array");
  for (const auto& e : j) {
    auto k = e.is_string() ? access_kind_from_name(e.get<std::string>()) : std::nullopt;
    if (!k) return bad_input("read trace", "", "unknown access kind " + e.dump());
    set.add(*k);
  }
  return set;
}
}  // namespace

std::string_view access_kind_name(AccessKind kind) {
  switch (kind) {
    case AccessKind::Read: return "read";
    case AccessKind::Write: return "write";
    case AccessKind::Create: return "create";
    case AccessKind::Exec: return "exec";
    case AccessKind::Stat: return "stat";
    case AccessKind::Readlink: return "readlink";
    case AccessKind::List: return "list";
    case AccessKind::Chdir: return "chdir";
    case AccessKind::Remove: return "remove";
    case AccessKind::Rename: return "rename";
    case AccessKind::Link: return "link";
    case AccessKind::Symlink: return "symlink";
    case AccessKind::Watch: return "watch";
    case AccessKind::Socket: return "socket";
  }
  return "?";
}

std::optional<AccessKind> access_kind_from_name(std::string_view name) {
  for (AccessKind k : kAllKinds)
    if (access_kind_name(k) == name) return k;
  return std::nullopt;
}

std::vector<AccessKind> AccessSet::kinds() const {
  std::vector<AccessKind> out;
  for (AccessKind k : kAllKinds)
    if (has(k)) out.push_back(k);
  return out;
}

std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::None: return "none";
    case StopReason::Timeout: return "timeout";
    case StopReason::Probe: return "probe";
  }
  return "?";
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string s(text);
  std::size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(s, &pos);
  } catch (const std::exception&) {
    return bad_input("parse duration", s, "expected a number with an optional unit (ms, s, m, h)");
  }
  std::string unit = s.substr(pos);
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s") ms_per_unit = 1000;
  else if (unit == "ms") ms_per_unit = 1;
  else if (unit == "m") ms_per_unit = 60e3;
  else if (unit == "h") ms_per_unit = 3600e3;
  else return bad_input("parse duration", s, "unknown unit `" + unit + "` (use ms, s, m or h)");
  if (!std::isfinite(value) || value < 0 || value * ms_per_unit > 1e12)
    return bad_input("parse duration", s, "out of range");
  return std::chrono::milliseconds(static_cast<long long>(std::llround(value * ms_per_unit)));
}

namespace {
constexpr auto kReplaceInvalid = nlohmann::json::error_handler_t::replace;

nlohmann::json path_json(const PathUse& use) {
  nlohmann::json j{{"access", kinds_json(use.access)},
                   {"succeeded", use.any_succeeded()},
                   {"succeeded_access", kinds_json(use.succeeded)}};
  if (use.found_by_listing) j["found_by_listing"] = true;
  return j;
}

// Everything in trace.json but the paths.
nlohmann::json log_json_without_paths(const TraceLog& log) {
  nlohmann::json j;
  j["command"] = log.command;
  j["tracer"] = log.tracer;
  if (!log.fallback.empty()) j["fallback"] = log.fallback;
  j["root"] = log.root;
  nlohmann::json ex;
  if (log.exit.signaled) {
    ex["signal"] = log.exit.signal;
    ex["core_dumped"] = log.exit.core_dumped;
  } else {
    ex["code"] = log.exit.code;
  }
  ex["status"] = log.exit.shell_status();
  j["exit"] = ex;
  j["process_count"] = log.process_count;
  j["thread_count"] = log.thread_count;
  j["stopped_by"] = stop_reason_name(log.stopped_by);
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& p : log.probes) {
    nlohmann::json pj{{"url", p.url}, {"http_status", p.http_status}};
    if (!p.error.empty()) pj["error"] = p.error;
    probes.push_back(pj);
  }
  j["probes"] = std::move(probes);
  nlohmann::json execs = nlohmann::json::array();
  for (const auto& e : log.execs)
    execs.push_back({{"pid", e.pid},
                     {"path", e.path},
                     {"argv", e.argv},
                     {"interpreters", e.interpreters},
                     {"succeeded", e.succeeded}});
  j["execs"] = std::move(execs);
  nlohmann::json listens = nlohmann::json::array();
  for (const auto& l : log.listens) listens.push_back({{"port", l.port}, {"proto", l.proto}});
  j["listens"] = std::move(listens);
  j["notes"] = log.notes;
  if (!log.syscall_arch.empty()) {
    j["syscalls"] = log.syscalls;
    j["syscall_arch"] = log.syscall_arch;
  }
  j["stats"] = {{"ptrace_stops", log.stats.ptrace_stops},
                {"seccomp_stops", log.stats.seccomp_stops},
                {"exit_stops", log.stats.exit_stops},
                {"signal_stops", log.stats.signal_stops},
                {"unhandled", log.stats.unhandled},
                {"io_uring_refused", log.stats.io_uring_refused},
                {"events", log.stats.events}};
  return j;
}

}  // namespace

nlohmann::json to_json(const TraceLog& log) {
  nlohmann::json j = log_json_without_paths(log);
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& [path, use] : log.paths) paths[path] = path_json(use);
  j["paths"] = std::move(paths);
  return j;
}

void write_json(const TraceLog& log, const std::function<void(std::string_view)>& write) {
  // Everything but the paths as JSON, with a marker string where they go; the paths are written
  // one at a time in its place, indented as dump(2) indents them (two levels in).
  nlohmann::json j = log_json_without_paths(log);
  j["paths"] = "\x01paths\x01";
  constexpr std::string_view kMarker = R"("\u0001paths\u0001")";  // how dump() writes that string
  std::string doc = j.dump(2, ' ', false, kReplaceInvalid);
  std::size_t at = doc.find(kMarker);
  std::string buf = doc.substr(0, at);
  if (log.paths.empty()) buf += "{}";
  else buf += "{";
  bool first = true;
  for (const auto& [path, use] : log.paths) {
    buf += first ? "\n    " : ",\n    ";
    buf += nlohmann::json(path).dump(-1, ' ', false, kReplaceInvalid);
    buf += ": ";
    for (char c : path_json(use).dump(2, ' ', false, kReplaceInvalid)) {
      buf += c;
      if (c == '\n') buf += "    ";
    }
    first = false;
    if (buf.size() >= (1 << 16)) {
      write(buf);
      buf.clear();
    }
  }
  if (!log.paths.empty()) buf += "\n  }";
  buf += doc.substr(at + kMarker.size());
  buf += "\n";
  write(buf);
}

Result<TraceLog> trace_log_from_json(const nlohmann::json& j) {
  try {
    TraceLog log;
    log.command = j.at("command").get<std::vector<std::string>>();
    log.tracer = j.value("tracer", "ptrace");
    log.fallback = j.value("fallback", "");
    log.root = j.value("root", "/");
    const auto& ex = j.at("exit");
    if (ex.contains("signal")) {
      log.exit.signaled = true;
      log.exit.signal = ex.at("signal").get<int>();
      log.exit.core_dumped = ex.value("core_dumped", false);
    } else {
      log.exit.code = ex.at("code").get<int>();
    }
    log.process_count = j.value("process_count", 0);
    log.thread_count = j.value("thread_count", 0);
    std::string stop = j.value("stopped_by", "none");
    log.stopped_by = stop == "timeout" ? StopReason::Timeout : stop == "probe" ? StopReason::Probe : StopReason::None;
    for (const auto& p : j.value("probes", nlohmann::json::array()))
      log.probes.push_back({p.at("url").get<std::string>(), p.value("http_status", 0), p.value("error", "")});
    for (const auto& [path, use] : j.at("paths").items()) {
      auto access = kinds_from_json(use.at("access"));
      if (!access) return access.error();
      auto ok = kinds_from_json(use.value("succeeded_access", nlohmann::json::array()));
      if (!ok) return ok.error();
      log.paths[path] = PathUse{*access, *ok, use.value("found_by_listing", false)};
    }
    for (const auto& e : j.at("execs")) {
      ExecRecord r;
      r.pid = e.value("pid", 0);
      r.path = e.at("path").get<std::string>();
      r.argv = e.value("argv", std::vector<std::string>{});
      r.interpreters = e.value("interpreters", std::vector<std::string>{});
      r.succeeded = e.value("succeeded", false);
      log.execs.push_back(std::move(r));
    }
    for (const auto& l : j.value("listens", nlohmann::json::array())) {
      ListenRecord r{l.at("port").get<std::uint16_t>(), l.at("proto").get<std::string>()};
      if (r.proto != "tcp" && r.proto != "udp") return bad_input("read trace", "", "unknown listen protocol " + r.proto);
      log.listens.push_back(std::move(r));
    }
    std::sort(log.listens.begin(), log.listens.end());
    log.listens.erase(std::unique(log.listens.begin(), log.listens.end()), log.listens.end());
    log.notes = j.value("notes", std::vector<std::string>{});
    log.syscalls = j.value("syscalls", std::vector<std::string>{});
    log.syscall_arch = j.value("syscall_arch", "");
    if (j.contains("stats")) {
      const auto& s = j["stats"];
      log.stats.ptrace_stops = s.value("ptrace_stops", std::uint64_t{0});
      log.stats.seccomp_stops = s.value("seccomp_stops", std::uint64_t{0});
      log.stats.exit_stops = s.value("exit_stops", std::uint64_t{0});
      log.stats.signal_stops = s.value("signal_stops", std::uint64_t{0});
      log.stats.unhandled = s.value("unhandled", std::uint64_t{0});
      log.stats.io_uring_refused = s.value("io_uring_refused", std::uint64_t{0});
      log.stats.events = s.value("events", std::uint64_t{0});
    }
    return log;
  } catch (const nlohmann::json::exception& e) {
    return bad_input("read trace", "", e.what());
  }
}

nlohmann::json to_json(const TraceEvent& event) {
  nlohmann::json j{{"tid", event.tid},
                   {"pid", event.pid},
                   {"syscall", event.syscall},
                   {"access", kinds_json(event.access)},
                   {"path", event.path},
                   {"succeeded", event.succeeded},
                   {"result", event.result_known ? "returned" : "inferred"}};
  if (event.err != 0) j["errno"] = event.err;
  if (!event.note.empty()) j["note"] = event.note;
  return j;
}

}  // namespace minify
