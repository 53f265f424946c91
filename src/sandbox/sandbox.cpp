// The sandbox launcher and its traced runner (see sandbox.hpp).
//
// Three processes, as in bubblewrap's --unshare-pid mode:
//  - the launcher (host root): creates the mount points the root lacks (removed afterwards),
//    clone()s the init process into new user/mount/pid/UTS/IPC namespaces, writes its uid_map and
//    gid_map (we hold CAP_SETUID in the parent namespace, so a 65536-id range is allowed without
//    newuidmap, user_namespaces(7) "Defining user and group ID mappings"), forwards signals and
//    ends the way the program ended;
//  - init (pid 1 of the new pid namespace, root of the user namespace): builds the mounts,
//    pivot_root(2)s into the root and detaches the old one (pivot_root(2) "EXAMPLES"), then forks
//    the program and reaps children until it exits; a pid 1 without handlers would ignore the
//    tracer's SIGTERM (pid_namespaces(7)), so init forwards it;
//  - the program: user and working directory set, no_new_privs, execve.
// Every mount target inside the root is opened with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS)
// and mounted through /proc/self/fd/N, so an image's "/tmp -> /etc" cannot redirect a mount.
#include "minify/sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <elf.h>
#include <fstream>
#include <iostream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "minify/policy.hpp"
#include "minify/rootfs.hpp"

extern char** environ;

namespace minify {

namespace {

// The program touches this path right before its execve: everything the tracer saw before it
// was the launcher's own work.
constexpr const char* kMarker = "/.minify-sandbox-exec";

// The pid signals are forwarded to. A signal handler can reach nothing else.
volatile pid_t g_forward_to = 0;

void forward_signal(int sig) {
  if (g_forward_to > 0) ::kill(g_forward_to, sig);
}

void install_forwarders() {
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);
}

[[noreturn]] void die(const std::string& what, int err = errno) {
  std::string line = "minify: sandbox: " + what + (err ? std::string(": ") + std::strerror(err) : "") + "\n";
  (void)!::write(2, line.data(), line.size());
  ::_exit(127);
}

struct LaunchArgs {
  std::string rootfs;
  std::vector<std::string> env;
  std::string workdir = "/";
  std::string user;
  uid_t uid_base = kSandboxUidBase;
  std::vector<std::string> command;
  std::optional<nlohmann::json> seccomp;  // read by the launcher: the program cannot reach the file
  bool read_only_root = false;
  std::vector<std::string> tmpfs;
  std::optional<std::vector<int>> caps;
};

UniqueFd open_in_root(int root_fd, const std::string& rel, int flags, bool no_symlinks = true) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (no_symlinks ? RESOLVE_NO_SYMLINKS : 0);
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how)));
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// A directory or file to mount on, opened inside the root; false when it is not there (or is a
// symlink, or the wrong type).
bool mount_on(int root_fd, const std::string& rel, bool dir, const char* source, const char* type,
              unsigned long flags, const char* data) {
  UniqueFd fd = open_in_root(root_fd, rel, O_PATH | (dir ? O_DIRECTORY : 0));
  if (!fd.valid()) return false;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) return false;
  return ::mount(source, fd_path(fd.get()).c_str(), type, flags, data) == 0;
}

void setup_dev(int root_fd) {
  if (!mount_on(root_fd, "dev", true, "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m"))
    die("mount tmpfs on /dev");
  UniqueFd dev = open_in_root(root_fd, "dev", O_PATH | O_DIRECTORY);
  if (!dev.valid()) die("open /dev");
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
    UniqueFd f(::openat(dev.get(), node, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666));
    if (!f.valid()) die(std::string("create /dev/") + node);
    std::string host = std::string("/dev/") + node;
    if (!mount_on(root_fd, std::string("dev/") + node, false, host.c_str(), nullptr, MS_BIND, nullptr))
      die("bind " + host);
  }
  ::mkdirat(dev.get(), "pts", 0755);
  ::mkdirat(dev.get(), "shm", 01777);
  if (mount_on(root_fd, "dev/pts", true, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=620"))
    (void)!::symlinkat("pts/ptmx", dev.get(), "ptmx");
  mount_on(root_fd, "dev/shm", true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  (void)!::symlinkat("/proc/self/fd", dev.get(), "fd");
  (void)!::symlinkat("/proc/self/fd/0", dev.get(), "stdin");
  (void)!::symlinkat("/proc/self/fd/1", dev.get(), "stdout");
  (void)!::symlinkat("/proc/self/fd/2", dev.get(), "stderr");
}

void bind_read_only(int root_fd, const std::string& rel, const char* host) {
  if (::access(host, R_OK) != 0) return;
  if (!mount_on(root_fd, rel, false, host, nullptr, MS_BIND, nullptr)) return;
  mount_on(root_fd, rel, false, nullptr, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr);
}

// The capabilities a container's root has under Docker's and Podman's default profile
// (moby/oci/caps/defaults.go); the program gets no more, so that verify does not pass on a
// capability the image will not have, and CAP_SYS_ADMIN (mount), CAP_DAC_READ_SEARCH
// (open_by_handle_at) and CAP_SYS_PTRACE are out of its reach.
constexpr int kDefaultCaps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,     CAP_FOWNER,           CAP_MKNOD,
                                CAP_NET_RAW, CAP_SETGID,      CAP_SETUID,     CAP_SETFCAP,          CAP_SETPCAP,
                                CAP_NET_BIND_SERVICE,         CAP_SYS_CHROOT, CAP_KILL,             CAP_AUDIT_WRITE};

// A policy's list replaces the default one.
// capabilities(7) names without CAP_, as Docker, Kubernetes and policy.hpp write them.
int cap_number(const std::string& name) {
  static constexpr std::pair<const char*, int> kNames[] = {
      {"CHOWN", CAP_CHOWN}, {"DAC_OVERRIDE", CAP_DAC_OVERRIDE}, {"DAC_READ_SEARCH", CAP_DAC_READ_SEARCH},
      {"FOWNER", CAP_FOWNER}, {"FSETID", CAP_FSETID}, {"KILL", CAP_KILL}, {"SETGID", CAP_SETGID},
      {"SETUID", CAP_SETUID}, {"SETPCAP", CAP_SETPCAP}, {"NET_BIND_SERVICE", CAP_NET_BIND_SERVICE},
      {"NET_RAW", CAP_NET_RAW}, {"SYS_CHROOT", CAP_SYS_CHROOT}, {"MKNOD", CAP_MKNOD},
      {"AUDIT_WRITE", CAP_AUDIT_WRITE}, {"SETFCAP", CAP_SETFCAP}};
  for (const auto& [n, nr] : kNames)
    if (name == n) return nr;
  return -1;
}

void drop_capabilities(const std::optional<std::vector<int>>& keep) {
  for (int cap = 0; cap <= 63; ++cap) {
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;  // past the kernel's last capability
    if (keep ? std::find(keep->begin(), keep->end(), cap) != keep->end()
             : std::find(std::begin(kDefaultCaps), std::end(kDefaultCaps), cap) != std::end(kDefaultCaps))
      continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) die("drop capability " + std::to_string(cap));
  }
}

[[noreturn]] void run_program(const LaunchArgs& a) {
  drop_capabilities(a.caps);  // needs CAP_SETPCAP: before a user switch takes it away
  if (!a.user.empty()) {
    // As a container runtime does: a name must be in the root's /etc/passwd (read as text:
    // glibc's getpwnam would load the image's NSS modules into us), a uid need not.
    auto root = Root::open("/");
    auto ids = root ? resolve_user(*root, a.user) : std::nullopt;
    if (!ids) die("user `" + a.user + "` is not in the root's /etc/passwd or /etc/group", 0);
    auto [uid, gid] = *ids;
    if (::setgroups(0, nullptr) != 0) die("setgroups");
    if (::setresgid(gid, gid, gid) != 0) die("setgid " + std::to_string(gid));
    if (::setresuid(uid, uid, uid) != 0) die("setuid " + std::to_string(uid));
  }
  if (::chdir(a.workdir.c_str()) != 0) die("chdir `" + a.workdir + "`");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("set no_new_privs");
  std::vector<std::string> env = a.env;
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> cmd = a.command;
  for (auto& c : cmd) argv.push_back(c.data());
  argv.push_back(nullptr);
  environ = envp.data();  // execvp searches the PATH of the program's environment
  // What a container runtime adds to an image's Env: PATH when it has none, HOME from the
  // user's passwd line ("/" without one).
  if (::getenv("PATH") == nullptr) ::setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
  if (::getenv("HOME") == nullptr) {
    std::string home = "/";
    if (auto root = Root::open("/"))
      for (const auto& u : read_account_lines(*root, "/etc/passwd", 7))
        if (parse_account_id(u[2]) == ::getuid()) {
          home = u[5];
          break;
        }
    ::setenv("HOME", home.c_str(), 0);
  }
  ::faccessat(AT_FDCWD, kMarker, F_OK, 0);
  // The policy's filter last, as runc and crun load it: the marker above must still reach the
  // tracer (an ERRNO answer would hide it), and only execve and what fails it run under it.
  if (a.seccomp)
    if (auto st = load_seccomp_profile(*a.seccomp); !st) die("load the seccomp profile: " + st.error().message(), 0);
  ::execvp(argv[0], argv.data());
  die("exec `" + a.command[0] + "`");
}

// Closes every descriptor from 3 on except `keep` (-1: none).
void close_all_but(int keep) {
  if (keep < 3) {
    (void)!::close_range(3, ~0U, 0);
    return;
  }
  if (keep > 3) (void)!::close_range(3, static_cast<unsigned>(keep) - 1, 0);
  (void)!::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
}

[[noreturn]] void run_init(const LaunchArgs& a, int sync_fd, int status_fd) {
  char c;
  if (::read(sync_fd, &c, 1) != 1) die("wait for the uid map");
  ::close(sync_fd);
  // Until setresuid below we still have the host's kuid 0: the owner of root-owned host
  // directories (a 0700 temporary directory holding the root), which we must traverse to mount.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("make / private");
  if (::mount(a.rootfs.c_str(), a.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) die("bind " + a.rootfs);
  UniqueFd root(::open(a.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) die("open " + a.rootfs);
  // Now become root of the user namespace (host uid_base): the capabilities stay, since the old
  // ids were not that namespace's root (capabilities(7), "Effect of user ID changes"). Files
  // created on the tmpfs mounts below need an owner mapped in the namespace.
  if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) die("become root in the user namespace");
  (void)!::setgroups(0, nullptr);
  // A fresh proc for the pid namespace we are init of, never the host's: the host's /proc/1/root
  // is the host's root. Where proc is masked (inside some containers) the kernel refuses it, and
  // so do we.
  if (!mount_on(root.get(), "proc", true, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr))
    die("mount a fresh /proc for the sandbox's pid namespace");
  setup_dev(root.get());
  // sysfs itself cannot be mounted from a user namespace that does not own the network
  // namespace; the host's is bound read-only, as rootless podman does (runtimes read
  // /sys/fs/cgroup, /sys/devices/system/cpu).
  if (mount_on(root.get(), "sys", true, "/sys", nullptr, MS_BIND | MS_REC, nullptr))
    mount_on(root.get(), "sys", true, nullptr, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
             nullptr);
  bind_read_only(root.get(), "etc/resolv.conf", "/etc/resolv.conf");
  bind_read_only(root.get(), "etc/hosts", "/etc/hosts");
  // The policy's writable directories: an empty tmpfs each, as `--tmpfs DIR` and an emptyDir
  // give (what the image had there is hidden, as it will be).
  for (const auto& dir : a.tmpfs) {
    std::string rel = dir.substr(dir.find_first_not_of('/'));
    if (!mount_on(root.get(), rel, true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"))
      die("mount a tmpfs on " + dir + " (the image has no directory there)");
  }
  if (::fchdir(root.get()) != 0) die("chdir " + a.rootfs);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) die("detach the old root");
  if (::chdir("/") != 0) die("chdir /");
  (void)!::sethostname("minify", 6);
  // Nothing of ours may lead outside the new root: a descriptor opened before pivot_root still
  // refers to the host's mount, and ".." from it walks the host (a program reaching it through
  // /proc/1/fd would be out). Only the status pipe stays, and it is close-on-exec. Non-dumpable,
  // /proc/1/{fd,cwd,root,map_files} are closed to the program even so.
  root = UniqueFd();
  close_all_but(status_fd);
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) die("set non-dumpable");

  // A WorkingDir the root lacks is created, as runc does for the process cwd.
  if (::access(a.workdir.c_str(), F_OK) != 0) {
    for (size_t i = 1; i <= a.workdir.size(); ++i)
      if (i == a.workdir.size() || a.workdir[i] == '/') ::mkdir(a.workdir.substr(0, i).c_str(), 0755);
  }
  if (a.read_only_root) {
    // Flags the kernel locked on our bind (from the host's mount) must be kept on a remount.
    struct statvfs sv {};
    unsigned long keep = 0;
    if (::statvfs("/", &sv) == 0) {
      if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
      if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
      if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
      if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
      if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
    }
    if (::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, nullptr) != 0)
      die("remount the root read-only");
  }
  pid_t prog = ::fork();
  if (prog < 0) die("fork");
  if (prog == 0) run_program(a);
  g_forward_to = prog;
  install_forwarders();
  int status = 0;
  for (;;) {  // reap everything; stop when the program itself is gone
    int st;
    pid_t p = ::waitpid(-1, &st, 0);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) break;
    if (p == prog) {
      status = st;
      break;
    }
  }
  (void)!::write(status_fd, &status, sizeof status);
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

bool write_text(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// The program's stdout and stderr are pipes owned by its user, relayed by the launcher, as runc
// hands a container's stdio to its user (libcontainer's fixStdioPermissions): a program that opens
// /dev/stderr (apache's ErrorLog, nginx's error_log) reopens the descriptor, which takes the
// inode's permission, and minify's own (a terminal, a file or FIFO of root's) is not the image
// user's; root of the user namespace cannot open it either, its owner being unmapped there.
struct StdioRelay {
  int target = -1;  // our descriptor the program's output goes to
  int read_end = -1, write_end = -1;
};

std::vector<StdioRelay> make_stdio_relays(const LaunchArgs& a) {
  uid_t uid = 0;
  gid_t gid = 0;
  if (!a.user.empty())
    if (auto root = Root::open(a.rootfs))
      if (auto ids = resolve_user(*root, a.user)) std::tie(uid, gid) = *ids;
  std::vector<StdioRelay> out;
  for (int fd : {1, 2}) {
    int p[2];
    if (::fcntl(fd, F_GETFD) < 0 || ::pipe2(p, O_CLOEXEC) != 0) continue;
    // A pipe's two ends share one inode: its owner is the one reopening /proc/self/fd/N checks.
    if (uid < 65536 && gid < 65536) (void)!::fchown(p[1], a.uid_base + uid, a.uid_base + gid);
    out.push_back({fd, p[0], p[1]});
  }
  return out;
}

// Copies the program's output to ours until every writer is gone: the pid namespace ends with
// its init, which closes the last ones.
void relay_stdio(std::vector<StdioRelay>& relays) {
  std::vector<pollfd> fds;
  for (const auto& r : relays) fds.push_back({r.read_end, POLLIN, 0});
  size_t open = fds.size();
  char buf[65536];
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(relays[i].target, buf + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;  // our output is gone: drain the program's all the same
        done += w;
      }
    }
  }
}

Result<LaunchArgs> parse_launch(const std::vector<std::string>& args) {
  LaunchArgs a;
  size_t i = 0;
  auto value = [&](const std::string& opt) -> Result<std::string> {
    if (i + 1 >= args.size()) return bad_input("parse", opt, "needs a value");
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--") {
      a.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    Result<std::string> v = std::string();
    if (s == "--env" || s == "--workdir" || s == "--user" || s == "--uid-base" || s == "--seccomp" ||
        s == "--tmpfs" || s == "--caps") {
      v = value(s);
      if (!v) return v.error();
    }
    if (s == "--env") a.env.push_back(*v);
    else if (s == "--workdir") a.workdir = *v;
    else if (s == "--user") a.user = *v;
    else if (s == "--read-only") a.read_only_root = true;
    else if (s == "--tmpfs") a.tmpfs.push_back(*v);
    else if (s == "--seccomp") {
      std::ifstream f(*v);
      auto j = nlohmann::json::parse(f, nullptr, false);
      if (!f || j.is_discarded()) return bad_input("read", *v, "not a seccomp profile (JSON)");
      a.seccomp = std::move(j);
    } else if (s == "--caps") {
      a.caps.emplace();
      for (size_t b = 0; b < v->size();) {
        size_t e = v->find(',', b);
        if (e == std::string::npos) e = v->size();
        std::string name = v->substr(b, e - b);
        b = e + 1;
        if (name.empty()) continue;
        int nr = cap_number(name);
        if (nr < 0) return bad_input("parse", "--caps", "unknown capability " + name);
        a.caps->push_back(nr);
      }
    }
    else if (s == "--uid-base") {
      auto id = parse_account_id(*v);
      if (!id) return bad_input("parse", "--uid-base", "not an id: `" + *v + "`");
      a.uid_base = static_cast<uid_t>(*id);
    }
    else if (a.rootfs.empty()) a.rootfs = s;
    else return bad_input("parse", s, "unexpected argument");
  }
  if (a.rootfs.empty() || a.command.empty()) return bad_input("parse", "__sandbox-exec", "usage: ROOTFS -- CMD...");
  return a;
}

// Interpreters the kernel runs for `path` inside `root` (#! lines, then PT_INTERP), like the
// tracer does for its own root; the tracer's would be read from the host here.
std::vector<std::string> interpreters_in(const Root& root, const std::string& path) {
  std::vector<std::string> out;
  std::string current = path;
  for (int depth = 0; depth < 5; ++depth) {
    auto head = root.open_read(current);
    if (!head) break;
    char buf[256];
    ssize_t n = ::pread(head->get(), buf, sizeof buf - 1, 0);
    if (n < 4) break;
    buf[n] = 0;
    if (std::memcmp(buf, ELFMAG, SELFMAG) == 0) {
      if (buf[EI_CLASS] != ELFCLASS64 || n < static_cast<ssize_t>(sizeof(Elf64_Ehdr))) break;
      Elf64_Ehdr eh;
      std::memcpy(&eh, buf, sizeof eh);
      for (unsigned i = 0; i < eh.e_phnum && i < 512; ++i) {
        Elf64_Phdr ph;
        if (::pread(head->get(), &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != sizeof ph) break;
        if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) continue;
        std::string interp(ph.p_filesz, '\0');
        if (::pread(head->get(), interp.data(), interp.size(), static_cast<off_t>(ph.p_offset)) > 0) {
          interp.resize(std::strlen(interp.c_str()));
          if (!interp.empty() && interp[0] == '/') out.push_back(normalize_path(interp));
        }
      }
      break;
    }
    if (buf[0] != '#' || buf[1] != '!') break;
    std::string line(buf + 2, std::strcspn(buf + 2, "\n"));
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) break;
    std::string interp = line.substr(b, line.find_first_of(" \t", b) - b);
    if (interp.empty() || interp[0] != '/') break;
    out.push_back(normalize_path(interp));
    current = out.back();
  }
  return out;
}

// A fresh network namespace with loopback up for the calling thread; the old one comes back on
// destruction.
class NetnsGuard {
 public:
  Status enter() {
    saved_ = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!saved_.valid()) return sys_error("open", "/proc/thread-self/ns/net");
    if (::unshare(CLONE_NEWNET) != 0) {
      saved_ = UniqueFd();
      return sys_error("unshare", "network namespace");
    }
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (!s.valid() || ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("configure", "lo");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("bring up", "lo");
    // Root of the sandbox's user namespace does not own this namespace; let it bind port 80.
    write_text("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0");
    return Ok{};
  }
  ~NetnsGuard() {
    if (saved_.valid()) (void)!::setns(saved_.get(), CLONE_NEWNET);
  }

 private:
  UniqueFd saved_;
};

}  // namespace

std::vector<std::string> sandbox_command(const SandboxOptions& o, const std::vector<std::string>& command) {
  // ROOTFS first, right after the launcher's own argv.
  std::vector<std::string> argv = o.launcher;
  argv.push_back(o.rootfs);
  for (const auto& e : o.env) argv.insert(argv.end(), {"--env", e});
  argv.insert(argv.end(), {"--workdir", o.workdir.empty() ? "/" : o.workdir});
  if (!o.user.empty()) argv.insert(argv.end(), {"--user", o.user});
  argv.insert(argv.end(), {"--uid-base", std::to_string(o.uid_base)});
  if (!o.seccomp_profile.empty()) argv.insert(argv.end(), {"--seccomp", o.seccomp_profile});
  if (o.read_only_root) argv.push_back("--read-only");
  for (const auto& d : o.tmpfs) argv.insert(argv.end(), {"--tmpfs", d});
  if (o.capabilities) {
    std::string list;
    for (const auto& c : *o.capabilities) list += (list.empty() ? "" : ",") + c;
    argv.insert(argv.end(), {"--caps", list});
  }
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

int sandbox_exec_main(const std::vector<std::string>& args) {
  // Whatever minify's caller left open is not the program's (nor a way out of the root).
  close_all_but(-1);
  auto parsed = parse_launch(args);
  if (!parsed) {
    std::cerr << "minify: sandbox: " << parsed.error().message() << "\n";
    return 127;
  }
  LaunchArgs& a = *parsed;
  char real[PATH_MAX];
  if (::realpath(a.rootfs.c_str(), real) == nullptr) die("resolve root `" + a.rootfs + "`");
  a.rootfs = real;
  UniqueFd root(::open(a.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) die("open root `" + a.rootfs + "`");

  // Mount points the root lacks (a minimal root has no /proc): made now, removed at the end.
  // Removal goes through the descriptors of the directories they were made in, never through
  // a path: the program may have replaced "etc" with a symlink to the host's /etc meanwhile, and
  // we are host root here.
  struct Made {
    int dir_fd;
    std::string name;
    bool is_dir;
  };
  std::vector<Made> made;
  for (const char* d : {"proc", "dev", "sys", "tmp"})
    if (::mkdirat(root.get(), d, 0755) == 0) made.push_back({root.get(), d, true});
  UniqueFd etc(::openat(root.get(), "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (etc.valid())
    for (const char* f : {"resolv.conf", "hosts"}) {
      UniqueFd fd(::openat(etc.get(), f, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (fd.valid()) made.push_back({etc.get(), f, false});
    }
  auto cleanup = [&] {
    for (auto it = made.rbegin(); it != made.rend(); ++it)
      ::unlinkat(it->dir_fd, it->name.c_str(), it->is_dir ? AT_REMOVEDIR : 0);
  };

  std::vector<StdioRelay> relays = make_stdio_relays(a);
  int sync[2], status_pipe[2];
  if (::pipe2(sync, O_CLOEXEC) != 0 || ::pipe2(status_pipe, O_CLOEXEC) != 0) die("pipe");
  long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  pid_t init = static_cast<pid_t>(::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr));
  if (init < 0) {
    int err = errno;
    cleanup();
    die("clone into new namespaces", err);
  }
  if (init == 0) {
    for (const auto& r : relays) {
      ::dup2(r.write_end, r.target);  // not close-on-exec: the program's stdout and stderr
      ::close(r.read_end);
    }
    ::close(sync[1]);
    ::close(status_pipe[0]);
    run_init(a, sync[0], status_pipe[1]);
  }
  ::close(sync[0]);
  ::close(status_pipe[1]);
  for (auto& r : relays) ::close(r.write_end);
  std::string proc = "/proc/" + std::to_string(init);
  std::string map = "0 " + std::to_string(a.uid_base) + " 65536\n";
  if (!write_text(proc + "/uid_map", map) || !write_text(proc + "/gid_map", map)) {
    int err = errno;
    ::kill(init, SIGKILL);
    ::waitpid(init, nullptr, 0);
    cleanup();
    die("write the uid/gid map of " + proc, err);
  }
  g_forward_to = init;
  install_forwarders();
  (void)!::write(sync[1], "x", 1);
  ::close(sync[1]);
  relay_stdio(relays);
  int st = 0;
  while (::waitpid(init, &st, 0) < 0 && errno == EINTR) {
  }
  int prog_status = 0;
  bool have = ::read(status_pipe[0], &prog_status, sizeof prog_status) == sizeof prog_status;
  cleanup();
  if (!have) return WIFEXITED(st) ? WEXITSTATUS(st) : 127;
  if (WIFSIGNALED(prog_status)) {
    int sig = WTERMSIG(prog_status);
    ::signal(sig, SIG_DFL);
    ::kill(::getpid(), sig);
    return 128 + sig;
  }
  return WEXITSTATUS(prog_status);
}

Result<TraceLog> run_sandboxed(const SandboxOptions& options, TraceOptions trace) {
  if (!trace.root.empty()) return bad_input("run", options.rootfs, "the sandbox sets its own root");
  if (options.launcher.empty()) return bad_input("run", options.rootfs, "no sandbox launcher given");
  auto root = Root::open(options.rootfs);
  if (!root) return root.error();
  std::vector<std::string> command = trace.command;
  trace.command = sandbox_command(options, command);
  // The tracer checks lookups against its own root when it does not wait for results; ours is
  // the sandbox's, so wait for the real ones.
  trace.exact_results = true;
  if (trace.record_syscalls) trace.record_syscalls_after = kMarker;  // the program's, not the launcher's

  // Only what the program did after the launcher's marker, and not the launcher's waiting.
  std::map<std::string, PathUse> paths;
  pid_t launcher_pid = 0;
  bool started = false;
  auto user_cb = trace.on_event;
  trace.on_event = [&](const TraceEvent& ev) {
    if (launcher_pid == 0) launcher_pid = ev.pid;
    if (!started) {
      started = ev.path == kMarker;
      return;
    }
    if (ev.pid == launcher_pid) return;
    if (!ev.path.empty()) {
      PathUse& u = paths[ev.path];
      u.access.add(ev.access);
      if (ev.succeeded) u.succeeded.add(ev.access);
    }
    if (user_cb) user_cb(ev);
  };

  NetnsGuard netns;
  if (!options.host_network)
    if (auto st = netns.enter(); !st) return st.error();
  auto log = run_trace(trace);
  if (!log) return log.error();
  if (!started) {
    std::string why = "the sandbox did not start";
    if (log->exit.shell_status() == 127) why += " (see the launcher's message above)";
    return bad_input("run in sandbox", command.empty() ? options.rootfs : command[0], why);
  }
  log->command = command;
  log->root = root->host_dir();
  log->paths = std::move(paths);
  std::vector<ExecRecord> execs;
  auto is_launcher = [&](const ExecRecord& e) {
    return e.argv.size() >= options.launcher.size() &&
           std::equal(options.launcher.begin() + 1, options.launcher.end(), e.argv.begin() + 1);
  };
  for (auto& e : log->execs) {
    if (e.pid == launcher_pid || is_launcher(e)) continue;
    e.interpreters = interpreters_in(*root, e.path);
    execs.push_back(std::move(e));
  }
  log->execs = std::move(execs);
  log->process_count = std::max(0, log->process_count - 2);
  return log;
}

}  // namespace minify
