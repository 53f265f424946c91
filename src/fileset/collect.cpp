// analyze() and build_fileset(): see include/minify/collect.hpp.
//
// What enters the set, and why:
// - each program that runs, its PT_INTERP and its whole DT_NEEDED closure (with every glibc-hwcaps
//   variant), and for scripts the #! interpreter chain: the kernel and ld.so open these without a
//   syscall the tracer would attribute to the program;
// - with implicit needs on, what the headers say the program needs at run time (CA bundles,
//   zoneinfo, nsswitch.conf and its libnss_* modules, dlopen() targets with their closures);
// - every path the trace saw succeed, except what the program itself created or wrote, and
//   regular files (and links to them) it only stat'ed after finding them by listing their
//   directory (a walk: find, du, PHP's timezone index, minify's own directory scans), unless
//   --keep-walked; those are listed as walked;
// - --keep; minus --exclude; /proc, /sys and /dev never (FileSet's rule);
// - /etc/ld.so.cache when a library was found through it outside the loader's system
//   directories, so that the minimal root's loader finds it the same way (--static-only too);
// - through the package database (packages.hpp): --keep-package, --granularity, the release and
//   copyright files scanners read, then the status.d / apk metadata of the packages that ship.
#include "minify/collect.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace minify {

namespace {

// Scripts nest (#!/usr/bin/env python3 -> env -> python3); a loop of scripts stops here.
constexpr int kMaxInterpreterDepth = 8;

}  // namespace

Analysis analyze(const Root& root, const std::vector<std::pair<std::string, std::string>>& programs,
                 const AnalyzeOptions& options, Context& ctx) {
  Analysis out;
  Resolver resolver(root, options.env, &ctx);
  InspectOptions iopt;
  iopt.env = options.env;
  Inspector inspector(root, iopt);
  std::set<std::string> seen;
  std::vector<std::tuple<std::string, std::string, int>> todo;
  for (const auto& [path, why] : programs) todo.emplace_back(path, why, 0);
  for (size_t i = 0; i < todo.size(); ++i) {
    auto [path, why, depth] = todo[i];
    if (!seen.insert(path).second) continue;
    ProgramAnalysis p;
    p.path = path;
    p.why = why;
    if (auto c = resolver.closure(path)) {
      p.closure = std::move(*c);
    } else if (c.error().err != 0) {
      p.error = c.error().message();
      out.programs.push_back(std::move(p));
      continue;
    }
    // inspect also tells scripts apart and names their interpreter.
    if (options.implicit || !p.closure) {
      if (auto r = inspector.inspect(path, &ctx)) {
        p.report = std::move(*r);
      } else if (!p.closure) {
        p.error = r.error().message();
      }
    }
    if (p.report && p.report->script && p.report->script->resolved && depth < kMaxInterpreterDepth)
      todo.emplace_back(*p.report->script->resolved, "#! interpreter of " + path, depth + 1);
    bool runnable = p.closure || (p.report && p.report->kind == FileKind::Script);
    if (!runnable && p.error.empty()) p.error = "not an ELF file or a script";
    out.programs.push_back(std::move(p));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> traced_programs(const TraceLog& trace) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : trace.execs) {
    if (!e.succeeded) continue;
    out.emplace_back(e.path, "exec'd during the trace");
    for (const auto& interp : e.interpreters) out.emplace_back(interp, "interpreter the kernel ran for " + e.path);
  }
  return out;
}

namespace {

class Collector {
 public:
  Collector(const Root& root, Collected& out, Context& ctx) : root_(root), out_(out), ctx_(ctx) {}

  void add(const std::string& path, ReasonKind kind, std::string detail, bool recursive = false) {
    auto r = out_.set.add(root_, path, Reason{kind, std::move(detail)}, recursive);
    if (!r) ctx_.warn("fileset", r.error().message());
  }

  void add_program(const ProgramAnalysis& p, bool implicit) {
    ReasonKind kind = p.why == "the program" ? ReasonKind::Program
                      : p.why.rfind("#!", 0) == 0 ? ReasonKind::Shebang
                                                   : ReasonKind::Exec;
    add(p.path, kind, p.why);
    if (p.closure) add_closure(*p.closure);
    if (implicit && p.report) add_findings(*p.report);
  }

  void add_closure(const Closure& c) {
    const std::string& prog = c.objects[0].path;
    for (size_t i = 1; i < c.objects.size(); ++i) {
      const LoadedObject& o = c.objects[i];
      if (o.how == FoundBy::Interpreter) {
        add(o.path, ReasonKind::Interpreter, "PT_INTERP of " + prog);
      } else {
        std::string by = o.loader >= 0 ? c.objects[static_cast<size_t>(o.loader)].path : prog;
        add(o.path, ReasonKind::Needed, "needed by " + by + " (" + found_by_name(o.how) + ")");
      }
      for (const auto& h : o.hwcaps) add(h, ReasonKind::Needed, "glibc-hwcaps variant of " + o.path);
      // The minimal root's loader must find this library the way this one did: through the cache.
      if (o.how == FoundBy::LdSoCache &&
          std::find(c.default_dirs.begin(), c.default_dirs.end(), o.search_dir) == c.default_dirs.end())
        cache_needed_by_ = o.path;
    }
    for (const auto& m : c.missing)
      out_.missing.push_back(m.name + " (needed by " +
                             (m.needed_by >= 0 ? c.objects[static_cast<size_t>(m.needed_by)].path : "/etc/ld.so.preload") + ")");
    // A version the loaded library lacks stops ld.so as surely as a missing library.
    for (const auto& v : c.version_problems) {
      if (!v.fatal) continue;
      const std::string& by = c.objects[static_cast<size_t>(v.object)].path;
      if (v.version.empty() || v.provider < 0)
        out_.missing.push_back(version_problem_message(c, v));
      else
        out_.missing.push_back("version `" + v.version + "' of " + v.file + " (needed by " + by + "; " +
                               c.objects[static_cast<size_t>(v.provider)].path + " does not define it)");
    }
  }

  void add_findings(const FileReport& r) {
    for (const auto& need : r.needs) {
      if (need.optional) continue;
      std::string why = need_kind_name(need.kind);
      if (!need.evidence.empty()) why += ": " + need.evidence.front().detail + " in " + need.evidence.front().object;
      for (const auto& p : need.paths) {
        if (p.empty() || p.front() != '/') continue;
        bool dir = p.back() == '/';
        auto st = root_.stat(p);
        if (!st) continue;  // a candidate location the root does not have
        add(dir ? p.substr(0, p.size() - 1) : p, ReasonKind::Implicit, why, dir);
      }
    }
    for (const auto& m : r.nss_modules)
      if (!m.builtin && m.path) add(*m.path, ReasonKind::Implicit, "NSS module for " + m.database + ": " + m.service + " (nsswitch.conf)");
    for (const auto& d : r.dlopen) {
      if (!d.resolved) continue;
      add(d.path, ReasonKind::Dlopen, "dlopen(\"" + d.name + "\") in " + d.object);
      for (const auto& dep : d.closure) add(dep, ReasonKind::Needed, "needed by " + d.path + " (dlopen target)");
    }
  }

  // Was `path` only found by a walk: a regular file the program stat'ed (nothing more) after
  // listing its directory, and not the source of a compiled file it read?
  bool only_walked(const TraceLog& trace, const std::string& path, const PathUse& use) {
    if (!use.found_by_listing || use.succeeded != AccessSet{AccessKind::Stat}) return false;
    auto st = root_.stat(path, FollowLast::No);
    if (!st) return false;
    if (S_ISLNK(st->st_mode)) {
      // A link found by listing and only stat'ed (PHP's timezone index lists /usr/share/zoneinfo
      // and stats every entry, following the 365 zone aliases) is walked past like a file, and
      // with it the file it leads to: shipping the link would ship its target. A link to a
      // directory stays (a walk may go on through it), and so does a dangling one.
      auto target = root_.stat(path, FollowLast::Yes);
      if (!target || !S_ISREG(target->st_mode)) return false;
    } else if (!S_ISREG(st->st_mode)) {
      return false;  // directories are kept as before
    }
    // Python finds a module in its cached listing of the directory (importlib's FileFinder),
    // stats the .py for the mtime its .pyc records and reads __pycache__/NAME.TAG.pyc (PEP 3147)
    // or NAME.pyc beside it: the .py is used, and without it the import fails.
    std::string dir = dirname_of(path), base = path.substr(dir.size() + (dir == "/" ? 0 : 1));
    std::string stem = base.substr(0, base.rfind('.'));
    auto read_under = [&](const std::string& prefix) {
      for (auto it = trace.paths.lower_bound(prefix); it != trace.paths.end() && it->first.starts_with(prefix); ++it)
        if (it->second.succeeded.has(AccessKind::Read)) return true;
      return false;
    };
    if (base.ends_with(".py") && (read_under(join_path(dir, "__pycache__/" + stem + ".")) ||
                                  read_under(join_path(dir, stem + ".pyc"))))
      return false;
    walked_size_ = static_cast<uint64_t>(st->st_size);
    return true;
  }

  void add_trace(const TraceLog& trace, const std::optional<std::pair<uid_t, gid_t>>& image_user, bool keep_walked) {
    // Outputs of the program are not inputs: a path it created, wrote, removed or renamed is
    // left out even when it was read afterwards. The directories it wrote into are not outputs:
    // the image must have them, writable by the image's user.
    const std::vector<AccessKind> outputs = {AccessKind::Write, AccessKind::Create, AccessKind::Remove,
                                             AccessKind::Rename, AccessKind::Link, AccessKind::Symlink};
    std::set<std::string> written_into, created_dirs;
    for (const auto& [path, use] : trace.paths) {
      const AccessSet attempted = use.access, succeeded = use.succeeded;  // clang 14 cannot capture a structured binding
      bool wrote = std::any_of(outputs.begin(), outputs.end(), [&](AccessKind k) { return succeeded.has(k); });
      bool tried = std::any_of(outputs.begin(), outputs.end(), [&](AccessKind k) { return attempted.has(k); });
      if (wrote) {
        ++out_.traced_skipped;
        if (path != "/") written_into.insert(dirname_of(path));
        if (succeeded.has(AccessKind::Create))
          if (auto st = root_.stat(path, FollowLast::No); st && S_ISDIR(st->st_mode)) created_dirs.insert(path);
        continue;
      }
      if (tried && !use.any_succeeded()) {
        // mkdir, mknod, link, rename or O_CREAT|O_EXCL that failed on a path the root has (EEXIST,
        // rmdir's ENOTEMPTY): the program expects it to be there.
        if (root_.stat(path, FollowLast::No)) {
          add(path, ReasonKind::Evidence, "the program's create or remove of it failed because it was there (EEXIST, ENOTEMPTY): it expects it");
          ++out_.traced_added;
        }
        continue;
      }
      if (!use.any_succeeded()) continue;
      if (succeeded.has(AccessKind::Socket) || succeeded.has(AccessKind::Watch)) {
        ++out_.traced_skipped;
        continue;
      }
      if (!keep_walked && only_walked(trace, path, use)) {
        out_.set.note_walked({path, dirname_of(path), walked_size_});
        continue;
      }
      std::string kinds;
      for (AccessKind k : use.succeeded.kinds()) kinds += (kinds.empty() ? "" : ",") + std::string(access_kind_name(k));
      auto r = out_.set.add(root_, path, Reason{ReasonKind::Opened, "used during the trace (" + kinds + ")"});
      if (r && *r == AddOutcome::Added)
        ++out_.traced_added;
      else
        ++out_.traced_skipped;  // gone since (a temporary file), excluded, or a socket/device
    }
    // A directory the program created is its output, made again in the image (git clone DIR, mkdir
    // without -p refuse one that exists): neither it nor anything under it ships, and its parent is
    // handed to the image's user below. Only where that parent stays root's (a system directory,
    // under a non-root user) does it ship, empty and the user's, for the user to write into.
    auto created_under = [&](const std::string& p) {
      for (std::string a = p; a != "/" && !a.empty(); a = dirname_of(a))
        if (created_dirs.count(a)) return true;
      return false;
    };
    bool user_root = !image_user || image_user->first == 0;
    for (const auto& d : created_dirs) {
      std::string parent = dirname_of(d);
      if (created_under(parent) || user_root || !is_system_dir(parent)) continue;
      add(d, ReasonKind::Writable, "created by the program in " + parent + ", which stays root's: shipped empty, for the image's user to write");
      make_writable(d, image_user);
    }
    for (const auto& d : written_into)
      if (!created_under(d)) make_writable(d, image_user);
  }

  static bool is_system_dir(const std::string& dir) {
    static const std::set<std::string> kSystem = {"/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/var", "/opt", "/srv", "/home"};
    return kSystem.count(dir) != 0;
  }

  // A directory the program wrote into becomes the image's user's, so that the image runs where
  // the trace ran as root. World-writable ones (/tmp) already are; the top of the tree is not
  // handed over.
  void make_writable(const std::string& dir, const std::optional<std::pair<uid_t, gid_t>>& user) {
    auto st = root_.stat(dir, FollowLast::Yes);
    if (!st || !S_ISDIR(st->st_mode)) return;
    if (out_.set.is_excluded(dir)) return;
    add(dir, ReasonKind::Writable, "the program wrote into it during the trace");
    // World-writable (/tmp, 1777) is writable as it is; an image without it (no base under the
    // layer) would have none.
    if (st->st_mode & 0002) return;
    const Entry* e = out_.set.find(dir);
    if (!e || e->type != EntryType::Directory || !user || user->first == 0) return;
    if (is_system_dir(dir)) {
      ctx_.warn("fileset", "the program wrote into " + dir + " during the trace; the image's user (uid " +
                               std::to_string(user->first) + ") cannot: run it as --user 0, or have it write elsewhere");
      return;
    }
    Entry copy = *e;
    copy.uid = user->first;
    copy.gid = user->second;
    out_.set.put(std::move(copy));
  }

  void add_loader_cache() {
    if (cache_needed_by_.empty()) return;
    add("/etc/ld.so.cache", ReasonKind::Implicit, "the loader finds " + cache_needed_by_ + " through it");
  }

 private:
  const Root& root_;
  Collected& out_;
  Context& ctx_;
  std::string cache_needed_by_;
  uint64_t walked_size_ = 0;  // only_walked()'s file size
};

}  // namespace

Result<Collected> build_fileset(const Root& root, const Analysis& analysis, const TraceLog* trace,
                                const CollectOptions& options, Context& ctx) {
  Collected out;
  for (const auto& g : options.exclude) out.set.exclude(g);
  for (const auto& p : options.exclude_paths) out.set.exclude_path(p);
  withhold_secrets(out.set, options.keep, ctx);
  Collector c(root, out, ctx);
  for (const auto& p : analysis.programs) {
    if (!p.error.empty()) {
      if (p.why == "the program") return bad_input("analyse", p.path, p.error);
      ctx.warn("analyze", p.path + ": " + p.error);
      continue;
    }
    c.add_program(p, options.implicit);
  }
  if (trace) c.add_trace(*trace, resolve_user(root, options.image_user), options.keep_walked);
  for (const auto& [path, why] : options.repairs) c.add(path, ReasonKind::Repair, why);
  // A User given by name is looked up by the runtime in the image's /etc/passwd (and a group
  // name in /etc/group): they ship, rewritten with the accounts the image needs (write_accounts).
  {
    std::string_view spec = options.image_user;
    std::string_view user = spec.substr(0, spec.find(':'));
    std::string_view group = spec.find(':') == std::string_view::npos ? std::string_view() : spec.substr(spec.find(':') + 1);
    auto is_name = [](std::string_view s) { return !s.empty() && !parse_account_id(s); };
    if (is_name(user) || is_name(group))
      for (const char* f : {"/etc/passwd", "/etc/group"})
        if (root.stat(f, FollowLast::No)) c.add(f, ReasonKind::Implicit, "the image's User " + options.image_user + " is a name");
  }
  c.add_loader_cache();
  for (const auto& k : options.keep) {
    auto n = out.set.keep(root, k, Reason{ReasonKind::Kept, "--keep " + k});
    if (!n) return n.error();
    if (*n == 0) ctx.warn("fileset", "--keep " + k + " matched nothing");
  }

  auto t0 = std::chrono::steady_clock::now();
  auto db = PackageDb::read(root, PackageDbLoad::Lazy);  // the lists only for the set's paths
  if (!db) return db.error();
  out.package_db = std::move(*db);
  auto sel = apply_package_selection(out.set, root, out.package_db, options.packages, &ctx);
  if (!sel) return sel.error();
  if (auto st = write_accounts(out.set, root, options.image_user, options.keep, options.uid_shift); !st) return st.error();
  out.packages = account_packages(out.set, root, out.package_db);
  if (auto st = add_package_metadata(out.set, root, out.package_db, out.packages); !st) return st.error();
  out.package_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace minify
