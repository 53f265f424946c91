// Symbol versions over a link map: ld.so's start-up version check, and what a closure needs from
// glibc (is a base image's glibc new enough).
//
// The check follows glibc 2.36 elf/dl-version.c. rtld.c runs _dl_check_all_versions over every
// object of the link map, verbose, before relocation; the program starts only if no fatal
// problem was found. For each object with a DT_STRTAB (none: "we must be ok"), _dl_check_map_versions
//   - refuses a first Verneed whose vn_version is not 1 ("unsupported version N of Verneed record"),
//   - finds the loaded object each vn_file names (find_needed: any loaded object whose name or
//     names-it-was-loaded-by match; none is an assertion failure in ld.so),
//   - and for every Vernaux calls match_symbol on that object:
//       no DT_VERDEF at all: "no version information available (required by X)", a warning only;
//       a Verdef with vd_version != 1 met before a match: "unsupported version N of Verdef
//         record", fatal;
//       a Verdef with the same vd_hash and name: satisfied. Every Verdef takes part, the
//         VER_FLG_BASE one (the file's own name) included: VER_FLG_BASE only keeps the base name
//         out of the table that binds symbols, not out of this check;
//       none: "weak version `V' not found (required by X)" when vna_flags has VER_FLG_WEAK, a
//         warning only, else "version `V' not found (required by X)", fatal.
//   - then, when the object has DT_VERNEED, DT_NEEDED and DT_RELR but requires no
//     GLIBC_ABI_DT_RELR, and one of its DT_NEEDED names starts with "libc.so.": "DT_RELR without
//     GLIBC_ABI_DT_RELR dependency", fatal.
// In trace mode (ldd) objects that were not found are stubs and are skipped; minify does the same
// with its missing libraries, which are reported on their own. musl does not check versions.
#include <elf.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <string_view>

#include "minify/resolve.hpp"

namespace minify {

namespace {

// _dl_elf_hash("GLIBC_ABI_DT_RELR"), which dl-version.c compares before the name.
constexpr uint32_t kRelrAbiHash = 0xfd0e42;

// find_needed (dl-version.c): the first loaded object that answers to `file` by the path it was
// opened by, the name it was asked for, its soname, or a DT_NEEDED name that resolved to it.
int find_needed(const Closure& c, std::string_view file) {
  int found = -1;
  for (size_t i = 0; i < c.objects.size() && found < 0; ++i) {
    const LoadedObject& o = c.objects[i];
    if (o.path == file || o.name == file || o.elf->soname == file) found = static_cast<int>(i);
  }
  for (const auto& o : c.objects)
    for (size_t k = 0; k < o.deps.size() && k < o.elf->needed.size(); ++k)
      if (o.deps[k] >= 0 && (found < 0 || o.deps[k] < found) && o.elf->needed[k] == file) found = o.deps[k];
  return found;
}

// "GLIBC_2.34" -> "2.34"; "" for names that are not a numbered glibc version.
std::string_view glibc_number(std::string_view version) {
  if (version.rfind("GLIBC_", 0) != 0) return {};
  std::string_view n = version.substr(6);
  if (n.empty() || !std::isdigit(static_cast<unsigned char>(n.front()))) return {};
  return n;
}

// The glibc release a libc.so defines: its newest numbered GLIBC_x.y Verdef.
std::string glibc_release(const ElfInfo& libc) {
  std::string newest;
  for (const auto& d : libc.verdef) {
    std::string_view n = glibc_number(d.name);
    if (!n.empty() && (newest.empty() || compare_glibc_versions(n, newest) > 0)) newest = std::string(n);
  }
  return newest;
}

}  // namespace

bool Closure::incomplete() const {
  return !missing.empty() ||
         std::any_of(version_problems.begin(), version_problems.end(), [](const VersionProblem& p) { return p.fatal; });
}

std::string version_problem_message(const Closure& c, const VersionProblem& p) {
  auto path = [&](int i) { return c.objects[static_cast<size_t>(i)].path; };
  // The object ld.so names first (its DSO_FILENAME): the library asked, or the asking object for
  // problems of its own records.
  std::string subject = p.provider >= 0 ? path(p.provider) : !p.file.empty() ? p.file : path(p.object);
  return subject + ": " + p.reason;
}

void check_versions(Closure& c, size_t first) {
  if (c.family != LoaderFamily::Glibc) return;
  auto is_missing = [&](std::string_view file) {
    return std::any_of(c.missing.begin(), c.missing.end(), [&](const MissingLibrary& m) { return m.name == file; });
  };
  for (size_t i = first; i < c.objects.size(); ++i) {
    const LoadedObject& o = c.objects[i];
    const ElfInfo& e = *o.elf;
    int obj = static_cast<int>(i);
    if (!e.has_strtab) continue;
    auto problem = [&](int provider, std::string file, std::string version, bool fatal, std::string reason) {
      c.version_problems.push_back({obj, provider, std::move(file), std::move(version), fatal, std::move(reason)});
    };
    bool relr_ref = false;
    if (!e.verneed.empty() && e.verneed.front().version != 1) {
      problem(-1, "", "", true, "unsupported version " + std::to_string(e.verneed.front().version) + " of Verneed record");
      continue;  // _dl_signal_exception: ld.so stops here
    }
    for (const auto& need : e.verneed) {
      // vn_file is nearly always one of the object's own DT_NEEDED names, and the object that
      // name bound to is the first loaded object answering to it: find_needed's answer.
      int provider = -1;
      bool own = false;
      for (size_t k = 0; k < e.needed.size() && k < o.deps.size() && !own; ++k)
        if (e.needed[k] == need.file) own = true, provider = o.deps[k];
      if (!own) provider = find_needed(c, need.file);
      if (provider < 0) {
        // Not loaded because it was not found: reported as a missing library already (ldd
        // skips its stub). Otherwise ld.so itself fails an assertion on this file.
        if (!is_missing(need.file))
          problem(-1, need.file, "", true, "version requirements name a library that is not loaded (required by " + o.path + ")");
        continue;
      }
      const ElfInfo& p = *c.objects[static_cast<size_t>(provider)].elf;
      for (const auto& v : need.versions) {
        if (v.hash == kRelrAbiHash && v.name == "GLIBC_ABI_DT_RELR") relr_ref = true;
        if (!p.has_verdef) {
          problem(provider, need.file, v.name, false, "no version information available (required by " + o.path + ")");
          continue;
        }
        bool found = false, bad_record = false;
        for (const auto& d : p.verdef) {
          if (d.version != 1) {
            problem(provider, need.file, v.name, true, "unsupported version " + std::to_string(d.version) + " of Verdef record");
            bad_record = true;
            break;
          }
          if (d.hash == v.hash && d.name == v.name) {
            found = true;
            break;
          }
        }
        if (found || bad_record) continue;
        if (v.weak())
          problem(provider, need.file, v.name, false, "weak version `" + v.name + "' not found (required by " + o.path + ")");
        else
          problem(provider, need.file, v.name, true, "version `" + v.name + "' not found (required by " + o.path + ")");
      }
    }
    if (!e.verneed.empty() && !e.needed.empty() && e.has_relr && !relr_ref &&
        std::any_of(e.needed.begin(), e.needed.end(), [](const std::string& n) { return n.rfind("libc.so.", 0) == 0; }))
      problem(-1, "", "", true, "DT_RELR without GLIBC_ABI_DT_RELR dependency");
  }
}

bool is_glibc_library(std::string_view soname) {
  static constexpr std::string_view kGlibc[] = {"libc.so.", "libm.so.", "libpthread.so.", "libdl.so.", "librt.so.",
                                                "libresolv.so.", "libutil.so.", "libanl.so.", "libnss_", "ld-linux",
                                                "ld64.so.", "ld.so.", "libmvec.so.", "libBrokenLocale.so.",
                                                "libthread_db.so.", "libc_malloc_debug.so.", "libmemusage.so", "libpcprofile.so"};
  return std::any_of(std::begin(kGlibc), std::end(kGlibc), [&](std::string_view p) { return soname.rfind(p, 0) == 0; });
}

int compare_glibc_versions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    auto take = [](std::string_view& s) {
      unsigned long v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      (void)ec;
      s.remove_prefix(static_cast<size_t>(end - s.data()));
      if (!s.empty()) s.remove_prefix(1);  // the '.'
      return v;
    };
    unsigned long x = take(a), y = take(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

GlibcNeeds glibc_needs(const Closure& c) {
  GlibcNeeds out;
  for (size_t i = 0; i < c.objects.size(); ++i) {
    const LoadedObject& o = c.objects[i];
    std::string soname = o.elf->soname.empty() ? basename_of(o.path) : o.elf->soname;
    if (is_glibc_library(soname)) {
      if (soname.rfind("libc.so.", 0) == 0 && out.root_glibc.empty()) out.root_glibc = glibc_release(*o.elf);
      continue;
    }
    for (const auto& need : o.elf->verneed) {
      if (!is_glibc_library(need.file)) continue;
      for (const auto& v : need.versions) {
        out.requirements.push_back({static_cast<int>(i), need.file, v.name, v.weak()});
        std::string_view n = glibc_number(v.name);
        if (!v.weak() && !n.empty() && (out.newest.empty() || compare_glibc_versions(n, glibc_number(out.newest)) > 0)) out.newest = v.name;
      }
    }
  }
  return out;
}

BaseGlibcCheck check_base_glibc(const Closure& c, std::string_view base_glibc) {
  BaseGlibcCheck out;
  out.base_glibc = std::string(base_glibc);
  GlibcNeeds needs = glibc_needs(c);
  out.newest = needs.newest;
  std::set<std::string> seen;
  for (const auto& r : needs.requirements) {
    if (r.weak) continue;  // ld.so starts the program without a weak version
    std::string why;
    std::string_view n = glibc_number(r.version);
    if (!n.empty()) {
      if (compare_glibc_versions(n, base_glibc) > 0) why = "glibc " + std::string(n) + " or newer";
    } else if (r.version == "GLIBC_ABI_DT_RELR") {
      // glibc 2.36 added DT_RELR and this marker version with it.
      if (compare_glibc_versions(base_glibc, "2.36") < 0) why = "glibc 2.36 or newer (DT_RELR relocations)";
    } else if (r.version == "GLIBC_PRIVATE") {
      // glibc's internal interface changes with every release: only the same release has it.
      if (needs.root_glibc.empty() || compare_glibc_versions(needs.root_glibc, base_glibc) != 0)
        why = "exactly glibc " + (needs.root_glibc.empty() ? std::string("of the build root") : needs.root_glibc) +
              " (GLIBC_PRIVATE is glibc's internal interface)";
    } else if (needs.root_glibc.empty() || compare_glibc_versions(needs.root_glibc, base_glibc) > 0) {
      why = "glibc " + (needs.root_glibc.empty() ? std::string("of the build root") : needs.root_glibc) + " or newer";
    }
    if (why.empty()) continue;
    std::string line = r.version + " from " + r.file + " (required by " + c.objects[static_cast<size_t>(r.object)].path +
                       "): needs " + why;
    if (seen.insert(line).second) out.too_new.push_back(std::move(line));
  }
  out.ok = out.too_new.empty();
  return out;
}

}  // namespace minify
