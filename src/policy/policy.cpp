// The runtime policy of a traced program (see policy.hpp): derived from the syscalls it used,
// the paths it wrote, the ports it listened on and the programs it exec'd, and written in the
// formats Docker/Podman (seccomp.json, run options), the OCI runtime spec (linux.seccomp takes
// the same JSON) and Kubernetes (securityContext, volumes) read.
#include "minify/policy.hpp"

#include <seccomp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "minify/atomic.hpp"

namespace minify {
namespace {

// What the container runtime itself runs under the program's filter before the program's first
// instruction: runc and crun load the filter last, right before execve (with no_new_privs, which
// this policy sets), runc from Go (whose runtime threads may futex, nanosleep, sched_yield,
// epoll_pwait, mmap/munmap/madvise, handle signals, write its sync pipe and exit meanwhile);
// without no_new_privs runc loads it before dropping capabilities and switching user (capset,
// prctl, setgroups, set*id, chdir; the minimal list in runc's and Docker's documentation of
// custom profiles). runc 1.1 also checks that /proc/self/fd is procfs (fstatfs) under the filter
// before closing its descriptors: without it runc fails with "ensure /proc/self/fd is on procfs:
// operation not permitted" (seen with runc 1.1.5 running a sample). Names a kernel lacks on an architecture (stat on aarch64) are skipped.
constexpr const char* kRuntimeSyscalls[] = {
    "execve",     "exit",          "exit_group",     "futex",        "nanosleep",   "sched_yield",
    "epoll_pwait", "epoll_wait",   "epoll_ctl",      "mmap",         "munmap",      "madvise",
    "mprotect",   "brk",           "rt_sigreturn",   "rt_sigprocmask", "rt_sigaction", "sigaltstack",
    "getpid",     "gettid",        "getppid",        "tgkill",       "tkill",       "read",
    "write",      "close",         "fcntl",          "fstat",        "newfstatat",  "stat",
    "lstat",      "openat",        "getdents64",     "capget",       "capset",      "prctl",
    "setgroups",  "setuid",        "setgid",         "setresuid",    "setresgid",   "chdir",
    "fchdir",     "arch_prctl",    "set_tid_address", "set_robust_list", "rseq",    "clock_gettime",
    "restart_syscall", "fstatfs",     "statfs",
};

// Capabilities a root process needs for syscalls it made (capabilities(7)); for the others
// (DAC_OVERRIDE, FOWNER) verify under the policy is the check.
struct CapRule {
  const char* cap;
  std::initializer_list<const char*> syscalls;
};
const CapRule kCapRules[] = {
    {"CHOWN", {"chown", "fchown", "lchown", "fchownat"}},
    {"SETUID", {"setuid", "setreuid", "setresuid", "setfsuid"}},
    {"SETGID", {"setgid", "setregid", "setresgid", "setfsgid", "setgroups"}},
    {"MKNOD", {"mknod", "mknodat"}},
    {"SYS_CHROOT", {"chroot"}},
};

std::string parent_of(const std::string& p) {
  auto slash = p.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

bool under(const std::string& path, const std::string& dir) {
  return dir == "/" || path == dir || (path.starts_with(dir) && path[dir.size()] == '/');
}

// The runtime gives these their own mounts (proc, sysfs, a tmpfs /dev, /dev/shm, /dev/pts) and
// bind-mounts resolv.conf, hosts and hostname: writes there need nothing from the image.
bool runtime_provided(const std::string& path) {
  for (const char* d : {"/proc", "/sys", "/dev"})
    if (under(path, d)) return true;
  return path == "/etc/resolv.conf" || path == "/etc/hosts" || path == "/etc/hostname";
}

uint32_t arch_token(const std::string& arch) { return arch == "aarch64" ? SCMP_ARCH_AARCH64 : SCMP_ARCH_X86_64; }

// An image architecture's syscall ABI and the profile's architectures: the native one, then the
// ones the same kernel runs beside it, as moby's default profile maps them (profiles/seccomp/
// default.json "archMap": SCMP_ARCH_X86_64 with SCMP_ARCH_X86 and SCMP_ARCH_X32, SCMP_ARCH_AARCH64
// with SCMP_ARCH_ARM) and Podman's containers/common copies. Docker writes that entry for the
// host's architecture into the OCI config; here it is the image's.
struct ArchMap {
  const char* platform;  // OCI/GOARCH
  const char* arch;      // libseccomp's name of the ABI (trace.json "syscall_arch")
  std::initializer_list<const char*> architectures;
};
const ArchMap kArchMap[] = {
    {"amd64", "x86_64", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
    {"arm64", "aarch64", {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}},
};

std::string volume_name(const std::string& dir) {
  std::string n = "minify";
  for (char c : dir) n += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-';
  while (n.find("--") != std::string::npos) n.replace(n.find("--"), 2, "-");
  if (n.ends_with('-')) n.pop_back();
  return n.substr(0, 63);
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,@") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

Result<Policy> derive_policy(const PolicyInput& in) {
  if (in.trace == nullptr || in.trace->syscall_arch.empty())
    return bad_input("derive policy", "", "the trace has no syscall record (trace with --record-syscalls)");
  const TraceLog& t = *in.trace;
  Policy p;
  p.arch = t.syscall_arch;
  p.user = in.user;
  const ArchMap* am = nullptr;
  for (const auto& m : kArchMap)
    if (in.platform.empty() ? t.syscall_arch == m.arch : in.platform == m.platform) am = &m;
  if (am == nullptr)
    return bad_input("derive policy", in.platform.empty() ? t.syscall_arch : in.platform,
                     "no seccomp profile for this architecture (amd64 and arm64 only)");
  if (t.syscall_arch != am->arch)
    p.notes.push_back(std::string("the image is ") + am->platform + " but the trace's syscalls are " + t.syscall_arch +
                      "'s: the profile allows the same names on " + am->arch);
  p.arch = am->arch;
  for (const char* a : am->architectures) p.architectures.push_back(a);

  // 1. Syscalls: what it used and what the runtime needs to start it.
  std::set<std::string> seen;
  for (const auto& s : t.syscalls)
    if (!s.starts_with("#")) seen.insert(s);
    else p.notes.push_back("syscall " + s + " has no name in this libseccomp: not in the profile");
  p.syscalls_seen = seen.size();
  std::set<std::string> allowed = seen;
  for (const char* s : kRuntimeSyscalls)
    if (seccomp_syscall_resolve_name_arch(arch_token(p.arch), s) >= 0) allowed.insert(s);
  // The ptrace tracer failed io_uring_setup with ENOSYS and the program fell back: the same
  // answer under the profile keeps that path. glibc >= 2.34 tries clone3 first and falls back
  // to clone on ENOSYS only (Docker's default profile answers ENOSYS for it too).
  for (const char* s : {"io_uring_setup", "io_uring_enter", "io_uring_register", "clone3"})
    if (!allowed.contains(s) && seccomp_syscall_resolve_name_arch(arch_token(p.arch), s) >= 0) p.enosys.push_back(s);
  p.syscalls.assign(allowed.begin(), allowed.end());

  // 2. Writable paths: each written path's directory, up to the first one the image had (a
  // directory the program made itself lives on the tmpfs of the one it was made in).
  auto created = [&](const std::string& path) {
    auto it = t.paths.find(path);
    return it != t.paths.end() && it->second.succeeded.has(AccessKind::Create);
  };
  std::set<std::string> dirs;
  for (const auto& [path, use] : t.paths) {
    const AccessSet& ok = use.succeeded;
    bool wrote = ok.has(AccessKind::Write) || ok.has(AccessKind::Create) || ok.has(AccessKind::Remove) ||
                 ok.has(AccessKind::Rename) || ok.has(AccessKind::Link) || ok.has(AccessKind::Symlink) ||
                 (ok.has(AccessKind::Socket) && use.access.has(AccessKind::Create));
    if (!wrote || runtime_provided(path)) continue;
    std::string dir = parent_of(path);
    while (dir != "/" && created(dir)) dir = parent_of(dir);
    if (dir == "/") {
      p.read_only_root = false;
      p.notes.push_back("wrote " + path + " directly under /: the root cannot be read-only");
      continue;
    }
    dirs.insert(dir);
  }
  for (const auto& d : dirs)
    if (std::none_of(p.writable.begin(), p.writable.end(), [&](const std::string& w) { return under(d, w); }))
      p.writable.push_back(d);
  // A tmpfs hides what the image has under it (an app in /tmp/build that writes /tmp): then the
  // root stays writable rather than the program losing its files. What the program created
  // itself while traced is its output, not the image's.
  if (in.files != nullptr && p.read_only_root)
    for (const auto& w : p.writable) {
      auto hidden = std::find_if(in.files->begin(), in.files->end(), [&](const auto& e) {
        return e.first != w && under(e.first, w) && !created(e.first);
      });
      if (hidden != in.files->end()) {
        p.read_only_root = false;
        p.notes.push_back("wrote under " + w + ", where the image ships " + hidden->first +
                          ": a tmpfs there would hide it, so the root cannot be read-only");
        break;
      }
    }

  // 3. The user.
  if (!in.user.empty() && in.root != nullptr) {
    if (auto ids = resolve_user(*in.root, in.user)) {
      p.uid = ids->first;
      p.gid = ids->second;
    }
  } else if (in.user.empty()) {
    p.uid = 0;
    p.gid = 0;
  }

  // 4. Capabilities. A process that is not root has none in effect (the runtime's bounding set
  // only caps what a setuid exec could gain); binding a port below 1024 needs NET_BIND_SERVICE
  // either way where ip_unprivileged_port_start is the kernel's 1024 (Kubernetes; Docker sets 0).
  for (const auto& l : t.listens)
    if (l.port > 0 && l.port < 1024) {
      p.capability_why["NET_BIND_SERVICE"] = "listened on " + l.proto + " port " + std::to_string(l.port);
      break;
    }
  if (!p.uid || *p.uid == 0)
    for (const CapRule& r : kCapRules)
      for (const char* s : r.syscalls)
        if (seen.contains(s)) {
          p.capability_why[r.cap] = std::string("called ") + s;
          break;
        }
  for (const auto& [cap, why] : p.capability_why) p.capabilities.push_back(cap);

  // 5. Privilege escalation: only a setuid/setgid program exec'd needs it.
  for (const auto& e : t.execs) {
    if (!e.succeeded) continue;
    mode_t mode = 0;
    if (in.special_modes != nullptr)
      if (auto it = in.special_modes->find(e.path); it != in.special_modes->end()) mode = it->second;
    if (mode == 0 && in.root != nullptr)
      if (auto st = in.root->stat(e.path)) mode = st->st_mode;
    if ((mode & (S_ISUID | S_ISGID)) != 0) {
      p.allow_privilege_escalation = true;
      p.privilege_escalation_why = "exec'd " + e.path + ", which is setuid/setgid";
      break;
    }
  }
  return p;
}

nlohmann::json seccomp_profile(const Policy& p) {
  nlohmann::json j;
  j["defaultAction"] = "SCMP_ACT_ERRNO";
  j["defaultErrnoRet"] = EPERM;
  j["architectures"] = p.architectures;
  nlohmann::json rules = nlohmann::json::array();
  rules.push_back({{"names", p.syscalls}, {"action", "SCMP_ACT_ALLOW"}});
  if (!p.enosys.empty()) rules.push_back({{"names", p.enosys}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  j["syscalls"] = std::move(rules);
  return j;
}

std::string kubernetes_yaml(const Policy& p) {
  std::ostringstream y;
  y << "# Written by minify from the traced run: the container's securityContext and the pod's volumes.\n"
    << "# seccomp.json goes on each node under the kubelet's seccomp directory\n"
    << "# (/var/lib/kubelet/seccomp/minify/seccomp.json for the localhostProfile below).\n"
    << "securityContext:\n"
    << "  seccompProfile:\n    type: Localhost\n    localhostProfile: minify/seccomp.json\n"
    << "  readOnlyRootFilesystem: " << (p.read_only_root ? "true" : "false") << "\n"
    << "  allowPrivilegeEscalation: " << (p.allow_privilege_escalation ? "true" : "false") << "\n";
  if (p.uid) {
    y << "  runAsNonRoot: " << (*p.uid != 0 ? "true" : "false") << "\n";
    y << "  runAsUser: " << *p.uid << "\n";
    if (p.gid) y << "  runAsGroup: " << *p.gid << "\n";
  }
  y << "  capabilities:\n    drop: [\"ALL\"]\n";
  if (!p.capabilities.empty()) {
    y << "    add: [";
    for (std::size_t i = 0; i < p.capabilities.size(); ++i) y << (i ? ", " : "") << '"' << p.capabilities[i] << '"';
    y << "]\n";
  }
  if (p.read_only_root && !p.writable.empty()) {
    y << "volumeMounts:\n";
    for (const auto& d : p.writable) y << "  - name: " << volume_name(d) << "\n    mountPath: " << d << "\n";
    y << "volumes:\n";
    for (const auto& d : p.writable) y << "  - name: " << volume_name(d) << "\n    emptyDir: {}\n";
  }
  return y.str();
}

std::string run_command(const Policy& p, const std::string& tool, const std::string& profile,
                        const std::string& image) {
  std::string c = tool + " run --security-opt seccomp=" + shell_quote(profile);
  if (!p.allow_privilege_escalation) c += " --security-opt no-new-privileges";
  c += " --cap-drop ALL";
  for (const auto& cap : p.capabilities) c += " --cap-add " + cap;
  if (p.read_only_root) {
    c += " --read-only";
    for (const auto& d : p.writable) c += " --tmpfs " + shell_quote(d);
  }
  if (p.uid) c += " --user " + std::to_string(*p.uid) + (p.gid ? ":" + std::to_string(*p.gid) : "");
  return c + " " + shell_quote(image);
}

nlohmann::json to_json(const Policy& p) {
  nlohmann::json j;
  j["arch"] = p.arch;
  j["architectures"] = p.architectures;
  j["syscalls"] = {{"allowed", p.syscalls.size()}, {"seen", p.syscalls_seen}, {"names", p.syscalls}, {"enosys", p.enosys}};
  j["read_only_root"] = p.read_only_root;
  j["writable"] = p.writable;
  nlohmann::json caps = nlohmann::json::array();
  for (const auto& [cap, why] : p.capability_why) caps.push_back({{"name", cap}, {"why", why}});
  j["capabilities"] = std::move(caps);
  j["user"] = p.user;
  if (p.uid) j["uid"] = *p.uid;
  if (p.gid) j["gid"] = *p.gid;
  j["allow_privilege_escalation"] = p.allow_privilege_escalation;
  if (!p.privilege_escalation_why.empty()) j["privilege_escalation_why"] = p.privilege_escalation_why;
  j["notes"] = p.notes;
  return j;
}

Status write_policy(const Policy& p, const std::string& dir, const std::string& image) {
  auto out = AtomicDir::create(dir);
  if (!out) return out.error();
  auto put = [&](const std::string& name, const std::string& text) -> Status {
    std::ofstream f(out->path() + "/" + name, std::ios::binary);
    f << text;
    f.close();
    if (!f) return sys_error("write", dir + "/" + name);
    return Ok{};
  };
  std::string profile = dir + "/seccomp.json";
  if (auto st = put("seccomp.json", seccomp_profile(p).dump(2) + "\n"); !st) return st;
  if (auto st = put("policy.json", to_json(p).dump(2) + "\n"); !st) return st;
  if (auto st = put("kubernetes.yaml", kubernetes_yaml(p)); !st) return st;
  std::string sh = "# Written by minify: the image run under the policy it was verified with.\n" +
                   run_command(p, "docker", profile, image) + "\n" + run_command(p, "podman", profile, image) + "\n";
  if (auto st = put("run.sh", sh); !st) return st;
  return out->commit();
}

Status load_seccomp_profile(const nlohmann::json& profile) {
  try {
    auto action = [](const std::string& name, int err) -> std::optional<uint32_t> {
      if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
      if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(static_cast<uint16_t>(err));
      if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
      if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
      if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
      return std::nullopt;
    };
    auto def = action(profile.at("defaultAction").get<std::string>(), profile.value("defaultErrnoRet", EPERM));
    if (!def) return bad_input("load seccomp profile", "", "unknown defaultAction");
    scmp_filter_ctx ctx = seccomp_init(*def);
    if (ctx == nullptr) return bad_input("seccomp_init", "", "libseccomp failed to initialise");
    std::unique_ptr<void, void (*)(void*)> guard(ctx, [](void* c) { seccomp_release(c); });
    // As runc: each listed architecture added (SCMP_ARCH_X86 -> "x86"); one libseccomp does not
    // know is skipped, the native one is there already.
    for (const auto& a : profile.value("architectures", nlohmann::json::array())) {
      std::string name = a.get<std::string>();
      if (!name.starts_with("SCMP_ARCH_")) return bad_input("load seccomp profile", name, "not an SCMP_ARCH_ name");
      name = name.substr(10);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      uint32_t token = seccomp_arch_resolve_name(name.c_str());
      if (token == 0) continue;
      if (int rc = seccomp_arch_add(ctx, token); rc < 0 && rc != -EEXIST) return sys_error("seccomp_arch_add", name, -rc);
    }
    for (const auto& rule : profile.value("syscalls", nlohmann::json::array())) {
      auto act = action(rule.at("action").get<std::string>(), rule.value("errnoRet", EPERM));
      if (!act) return bad_input("load seccomp profile", "", "unknown action " + rule.at("action").dump());
      if (*act == *def) continue;
      for (const auto& n : rule.at("names")) {
        int nr = seccomp_syscall_resolve_name(n.get<std::string>().c_str());
        if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture: as runc, skipped
        if (int rc = seccomp_rule_add(ctx, *act, nr, 0); rc < 0 && rc != -EEXIST)
          return sys_error("seccomp_rule_add", n.get<std::string>(), -rc);
      }
    }
    if (int rc = seccomp_load(ctx); rc < 0) return sys_error("seccomp_load", "", -rc);
    return Ok{};
  } catch (const nlohmann::json::exception& e) {
    return bad_input("load seccomp profile", "", e.what());
  }
}

}  // namespace minify
