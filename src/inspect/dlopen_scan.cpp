// Recovers the library names a program passes to dlopen, statically, with Capstone.
// The scan never disassembles a whole text segment. It first finds where dlopen-like functions
// are reached: their GOT slots (JUMP_SLOT/GLOB_DAT relocations), the PLT stubs that jump through
// those slots, and their addresses in .dynsym/.symtab (static binaries). A byte-level pass then
// looks for direct calls to those addresses (x86-64 `call rel32`/`jmp rel32`/`call *slot(%rip)`,
// AArch64 `bl`/`b`), and only the function around each call site is disassembled, from its start
// in .eh_frame_hdr (or .symtab) up to the call, tracking which argument registers hold constant
// addresses. A constant pointing at a string is the name, also when it was loaded from a pointer
// in read-only data (`static const char *const name = "..."`, relocated by a RELATIVE
// relocation); anything else, writable variables included, is reported as computed, with the
// instruction that set the register, never guessed.
// Calling conventions: System V AMD64 ABI (rdi, rsi) and AAPCS64 (x0, x1).
//
// Capstone is loaded with dlopen the first time a scan runs, not linked: relocating its tables
// (77,000 relative relocations over 1.8 MB) cost every minify process 10 ms of page faults at
// start, `minify deps` and `minify trace` included, which never disassemble anything.
#include "minify/version.hpp"
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <elf.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <type_traits>

#include "minify/inspect.hpp"

namespace minify {

namespace {

struct Target {
  std::string_view function;
  int arg;  // which argument is the file name
};
constexpr Target kTargets[] = {
    {"dlopen", 0}, {"dlmopen", 1}, {"__libc_dlopen_mode", 0}, {"g_module_open", 0}, {"g_module_open_full", 0},
};

const Target* target_of(std::string_view name) {
  for (const auto& t : kTargets)
    if (t.function == name) return &t;
  return nullptr;
}

constexpr uint64_t kMaxFunctionWindow = 64 * 1024;  // a longer "function" means a bad start
constexpr uint64_t kFallbackWindow = 512;           // no known function start: look back this far
constexpr size_t kMaxString = 4096;
constexpr size_t kMaxSites = 256;

// The Capstone functions the scan calls, from the library built for the header compiled
// against (its soname carries CS_API_MAJOR; the structures of cs_detail differ between majors).
#define MINIFY_STR2(x) #x
#define MINIFY_STR(x) MINIFY_STR2(x)
constexpr const char* kCapstoneSoname = "libcapstone.so." MINIFY_STR(CS_API_MAJOR);

struct CapstoneApi {
  decltype(&::cs_open) open = nullptr;
  decltype(&::cs_option) option = nullptr;
  decltype(&::cs_close) close = nullptr;
  decltype(&::cs_disasm) disasm = nullptr;
  decltype(&::cs_free) free = nullptr;
  decltype(&::cs_reg_name) reg_name = nullptr;
  decltype(&::cs_regs_access) regs_access = nullptr;
  bool ok = false;
};

// Loaded once per process, on first use (thread-safe: a function-local static); never unloaded.
const CapstoneApi& capstone() {
  static const CapstoneApi api = [] {
    CapstoneApi a;
    void* lib = ::dlopen(kCapstoneSoname, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return a;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      return fn != nullptr;
    };
    a.ok = sym(a.open, "cs_open") && sym(a.option, "cs_option") && sym(a.close, "cs_close") &&
           sym(a.disasm, "cs_disasm") && sym(a.free, "cs_free") && sym(a.reg_name, "cs_reg_name") &&
           sym(a.regs_access, "cs_regs_access");
    return a;
  }();
  return api;
}

struct CsHandle {
  csh h = 0;
  bool ok = false;
  CsHandle(cs_arch arch, cs_mode mode) {
    ok = capstone().ok && capstone().open(arch, mode, &h) == CS_ERR_OK;
    if (ok) capstone().option(h, CS_OPT_DETAIL, CS_OPT_ON);
  }
  ~CsHandle() {
    if (ok) capstone().close(&h);
  }
  CsHandle(const CsHandle&) = delete;
  CsHandle& operator=(const CsHandle&) = delete;
};

struct InsnDeleter {
  size_t n;
  void operator()(cs_insn* p) const { capstone().free(p, n); }
};

// What a register holds at a point of the linear walk.
struct RegValue {
  bool known = false;
  uint64_t value = 0;
  std::string how;  // for an unknown value: what set it last
};

// ---- x86-64 ----------------------------------------------------------------------------------

int x86_full_reg(unsigned r) {
  switch (r) {
    case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL: return X86_REG_RDI;
    case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL: return X86_REG_RSI;
    case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AL: return X86_REG_RAX;
    case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL: return X86_REG_RBX;
    case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL: return X86_REG_RCX;
    case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: return X86_REG_RDX;
    case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL: return X86_REG_RBP;
    case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B: return X86_REG_R8;
    case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B: return X86_REG_R9;
    case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B: return X86_REG_R10;
    case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B: return X86_REG_R11;
    case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B: return X86_REG_R12;
    case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B: return X86_REG_R13;
    case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B: return X86_REG_R14;
    case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B: return X86_REG_R15;
    default: return -1;
  }
}

constexpr std::array<int, 9> kX86CallerSaved = {X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RSI, X86_REG_RDI,
                                                X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11};
constexpr int kX86Args[] = {X86_REG_RDI, X86_REG_RSI};

// Steps the register state over one instruction.
// Reads a load-time constant pointer (read_constant_pointer), for loads from read-only data.
using Deref = std::function<std::optional<uint64_t>(uint64_t)>;

void x86_step(csh h, const cs_insn& in, std::map<int, RegValue>& regs, const Deref& deref) {
  const cs_x86& x = in.detail->x86;
  uint64_t next = in.address + in.size;
  auto set_unknown = [&](int r, std::string how) {
    if (r >= 0) regs[r] = {false, 0, std::move(how)};
  };
  if (in.id == X86_INS_CALL) {
    for (int r : kX86CallerSaved) set_unknown(r, "the result of a call");
    return;
  }
  if (x.op_count == 2 && x.operands[0].type == X86_OP_REG) {
    int dst = x86_full_reg(x.operands[0].reg);
    const cs_x86_op& src = x.operands[1];
    bool narrow_ok = x.operands[0].size >= 4;  // 32-bit writes zero-extend
    if (dst >= 0 && narrow_ok) {
      if (in.id == X86_INS_LEA && src.type == X86_OP_MEM && src.mem.index == X86_REG_INVALID) {
        if (src.mem.base == X86_REG_RIP) {
          regs[dst] = {true, next + static_cast<uint64_t>(src.mem.disp), {}};
          return;
        }
        auto base = regs.find(x86_full_reg(src.mem.base));
        if (base != regs.end() && base->second.known) {
          regs[dst] = {true, base->second.value + static_cast<uint64_t>(src.mem.disp), {}};
          return;
        }
      }
      if (in.id == X86_INS_MOV && src.type == X86_OP_MEM && src.size == 8 && src.mem.index == X86_REG_INVALID &&
          src.mem.segment == X86_REG_INVALID) {
        std::optional<uint64_t> at;
        if (src.mem.base == X86_REG_RIP) at = next + static_cast<uint64_t>(src.mem.disp);
        if (auto base = regs.find(x86_full_reg(src.mem.base)); base != regs.end() && base->second.known)
          at = base->second.value + static_cast<uint64_t>(src.mem.disp);
        if (at)
          if (auto v = deref(*at)) {
            regs[dst] = {true, *v, {}};
            return;
          }
      }
      if (in.id == X86_INS_MOV || in.id == X86_INS_MOVABS) {
        if (src.type == X86_OP_IMM) {
          regs[dst] = {true, static_cast<uint64_t>(src.imm), {}};
          return;
        }
        if (src.type == X86_OP_REG && x86_full_reg(src.reg) >= 0) {
          auto from = regs.find(x86_full_reg(src.reg));
          if (from != regs.end())
            regs[dst] = from->second;
          else
            regs[dst] = {false, 0, std::string("copied from ") + capstone().reg_name(h, src.reg) + ", not set in this function"};
          return;
        }
      }
      if (in.id == X86_INS_XOR && src.type == X86_OP_REG && x86_full_reg(src.reg) == dst) {
        regs[dst] = {true, 0, {}};
        return;
      }
    }
  }
  cs_regs rd, wr;
  uint8_t nrd = 0, nwr = 0;
  if (capstone().regs_access(h, &in, rd, &nrd, wr, &nwr) == CS_ERR_OK)
    for (uint8_t i = 0; i < nwr; ++i) set_unknown(x86_full_reg(wr[i]), std::string(in.mnemonic) + " " + in.op_str);
}

// ---- AArch64 ---------------------------------------------------------------------------------

int a64_full_reg(unsigned r) {
  if (r >= ARM64_REG_X0 && r <= ARM64_REG_X28) return static_cast<int>(r - ARM64_REG_X0);
  if (r >= ARM64_REG_W0 && r <= ARM64_REG_W30) return static_cast<int>(r - ARM64_REG_W0);
  if (r == ARM64_REG_X29) return 29;
  if (r == ARM64_REG_X30) return 30;
  return -1;
}

void a64_step(csh h, const cs_insn& in, std::map<int, RegValue>& regs, const Deref& deref) {
  const cs_arm64& a = in.detail->arm64;
  auto set_unknown = [&](int r, std::string how) {
    if (r >= 0) regs[r] = {false, 0, std::move(how)};
  };
  if (in.id == ARM64_INS_BL || in.id == ARM64_INS_BLR) {
    for (int r = 0; r <= 18; ++r) set_unknown(r, "the result of a call");
    return;
  }
  if (a.op_count >= 2 && a.operands[0].type == ARM64_OP_REG) {
    int dst = a64_full_reg(a.operands[0].reg);
    const cs_arm64_op& s1 = a.operands[1];
    if (dst >= 0) {
      if ((in.id == ARM64_INS_ADRP || in.id == ARM64_INS_ADR) && s1.type == ARM64_OP_IMM) {
        regs[dst] = {true, static_cast<uint64_t>(s1.imm), {}};
        return;
      }
      if (in.id == ARM64_INS_ADD && a.op_count == 3 && s1.type == ARM64_OP_REG && a.operands[2].type == ARM64_OP_IMM &&
          a.operands[2].shift.type == ARM64_SFT_INVALID) {
        auto src = regs.find(a64_full_reg(s1.reg));
        if (src != regs.end() && src->second.known) {
          regs[dst] = {true, src->second.value + static_cast<uint64_t>(a.operands[2].imm), {}};
          return;
        }
      }
      if (in.id == ARM64_INS_LDR && a.op_count == 2 && s1.type == ARM64_OP_MEM && s1.mem.index == ARM64_REG_INVALID &&
          a.operands[0].reg >= ARM64_REG_X0 && a.operands[0].reg <= ARM64_REG_X28 && !a.writeback) {
        auto base = regs.find(a64_full_reg(s1.mem.base));
        if (base != regs.end() && base->second.known)
          if (auto v = deref(base->second.value + static_cast<uint64_t>(static_cast<int64_t>(s1.mem.disp)))) {
            regs[dst] = {true, *v, {}};
            return;
          }
      }
      if ((in.id == ARM64_INS_MOV || in.id == ARM64_INS_MOVZ) && a.op_count == 2) {
        if (s1.type == ARM64_OP_IMM && s1.shift.type == ARM64_SFT_INVALID) {
          regs[dst] = {true, static_cast<uint64_t>(s1.imm), {}};
          return;
        }
        if (s1.type == ARM64_OP_REG && a64_full_reg(s1.reg) >= 0) {
          auto from = regs.find(a64_full_reg(s1.reg));
          if (from != regs.end())
            regs[dst] = from->second;
          else
            regs[dst] = {false, 0, std::string("copied from ") + capstone().reg_name(h, s1.reg) + ", not set in this function"};
          return;
        }
      }
    }
  }
  cs_regs rd, wr;
  uint8_t nrd = 0, nwr = 0;
  if (capstone().regs_access(h, &in, rd, &nrd, wr, &nwr) == CS_ERR_OK)
    for (uint8_t i = 0; i < nwr; ++i) set_unknown(a64_full_reg(wr[i]), std::string(in.mnemonic) + " " + in.op_str);
  // Capstone 4 does not always list explicit destinations among written registers.
  if (a.op_count >= 1 && a.operands[0].type == ARM64_OP_REG && (a.operands[0].access & CS_AC_WRITE))
    set_unknown(a64_full_reg(a.operands[0].reg), std::string(in.mnemonic) + " " + in.op_str);
}

// ---- the scan --------------------------------------------------------------------------------

struct Exec {
  uint64_t vaddr;
  std::string_view bytes;
};

std::vector<Exec> exec_regions(const ElfDetail& elf, std::string_view image) {
  std::vector<Exec> out;
  for (const auto& s : elf.segments)
    if (s.type == PT_LOAD && (s.flags & PF_X) && s.offset < image.size())
      out.push_back({s.vaddr, image.substr(s.offset, std::min<uint64_t>(s.filesz, image.size() - s.offset))});
  return out;
}

const Exec* region_of(const std::vector<Exec>& ex, uint64_t addr) {
  for (const auto& e : ex)
    if (addr >= e.vaddr && addr - e.vaddr < e.bytes.size()) return &e;
  return nullptr;
}

int32_t rd32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86-64 and our AArch64 targets are little-endian
  return static_cast<int32_t>(v);
}

std::optional<std::string> string_at(const ElfDetail& elf, std::string_view image, uint64_t addr) {
  std::string_view s = bytes_at(elf, image, addr, kMaxString);
  size_t n = s.find('\0');
  if (n == std::string_view::npos || n == 0) return std::nullopt;
  s = s.substr(0, n);
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f) return std::nullopt;
  return std::string(s);
}

// Every i in [0, n - 5] where the 32-bit little-endian word at p + i + 1, plus base + i, equals
// one of `keys` (mod 2^32): the displacement test of a `call rel32` at i or `call *disp32(%rip)`
// at i - 1. 32 byte offsets per step with 8-lane vectors (AVX2 when the CPU has it, two SSE2
// halves otherwise), then a scalar recheck of any step that matched.
using V8 = uint32_t __attribute__((vector_size(32)));

__attribute__((target_clones("avx2", "default"))) void rel32_matches(const char* p, size_t n, uint32_t base,
                                                                    const std::vector<uint32_t>& keys,
                                                                    std::vector<size_t>& out) {
  const V8 lane = {0, 4, 8, 12, 16, 20, 24, 28};
  auto scalar = [&](size_t from, size_t to) {
    for (size_t i = from; i < to && i + 5 <= n; ++i) {
      uint32_t v;
      std::memcpy(&v, p + i + 1, 4);
      v += base + static_cast<uint32_t>(i);
      for (uint32_t k : keys)
        if (v == k) {
          out.push_back(i);
          break;
        }
    }
  };
  size_t i = 0;
  // A step reads bytes p[i + 1] .. p[i + 1 + 3 + 32 - 1].
  for (; i + 36 <= n && out.size() < kMaxSites; i += 32) {
    V8 any = {};
    for (uint32_t s = 0; s < 4; ++s) {
      V8 x;
      std::memcpy(&x, p + i + 1 + s, sizeof x);
      V8 v = x + (lane + (base + static_cast<uint32_t>(i) + s));
      for (uint32_t k : keys) any |= (V8)(v == k);
    }
    uint64_t w[4];
    std::memcpy(w, &any, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3]) != 0) scalar(i, i + 32);
  }
  scalar(i, n);
}

struct Site {
  uint64_t addr;
  const Target* target;
};

}  // namespace

std::vector<DlopenCall> scan_dlopen_calls(const ElfDetail& elf, std::string_view image, const std::vector<ElfSymbol>& symtab) {
  bool x86 = elf.ident.machine == EM_X86_64, a64 = elf.ident.machine == EM_AARCH64;
  if ((!x86 && !a64) || elf.ident.data != ELFDATA2LSB) return {};

  // 1. Where the targets are reached: direct addresses and GOT slots.
  std::map<uint64_t, const Target*> direct, slots, call_slots;
  for (const auto& s : elf.import_slots)
    if (const Target* t = target_of(s.symbol)) {
      slots[s.slot] = t;
      // Code reads a slot itself (`call *slot(%rip)`) only when it was compiled with -fno-plt,
      // which binds the slot with GLOB_DAT; a JUMP_SLOT slot is read by its PLT stub alone.
      if (!s.plt) call_slots[s.slot] = t;
    }
  auto add_defined = [&](const std::vector<ElfSymbol>& syms) {
    for (const auto& s : syms)
      if (s.defined && s.type == STT_FUNC && s.value != 0)
        if (const Target* t = target_of(s.name)) direct[s.value] = t;
  };
  add_defined(elf.dynsym);
  add_defined(symtab);
  if (direct.empty() && slots.empty()) return {};

  std::vector<Exec> ex = exec_regions(elf, image);
  // PLT stubs jumping through a slot become direct targets. Scan the PLT sections when known.
  std::vector<Exec> plt_scan;
  for (const auto& s : elf.sections)
    if ((s.name == ".plt" || s.name == ".plt.sec" || s.name == ".plt.got") && s.offset < image.size())
      plt_scan.push_back({s.addr, image.substr(s.offset, std::min<uint64_t>(s.size, image.size() - s.offset))});
  if (elf.sections.empty()) plt_scan = ex;
  if (!slots.empty()) {
    for (const auto& r : plt_scan) {
      const char* p = r.bytes.data();
      if (x86) {
        for (size_t i = 0; i + 6 <= r.bytes.size(); ++i) {
          if (static_cast<unsigned char>(p[i]) != 0xff || static_cast<unsigned char>(p[i + 1]) != 0x25) continue;
          uint64_t at = r.vaddr + i;
          auto it = slots.find(at + 6 + static_cast<uint64_t>(static_cast<int64_t>(rd32(p + i + 2))));
          if (it == slots.end()) continue;
          uint64_t start = at;
          if (i >= 1 && static_cast<unsigned char>(p[i - 1]) == 0xf2) start -= 1;  // bnd jmp
          size_t sidx = static_cast<size_t>(start - r.vaddr);
          if (sidx >= 4 && std::memcmp(p + sidx - 4, "\xf3\x0f\x1e\xfa", 4) == 0) start -= 4;  // endbr64
          direct[start] = it->second;  // calls land on the stub's first instruction
        }
      } else {
        for (size_t i = 0; i + 8 <= r.bytes.size(); i += 4) {
          auto adrp = static_cast<uint32_t>(rd32(p + i)), ldr = static_cast<uint32_t>(rd32(p + i + 4));
          if ((adrp & 0x9f000000u) != 0x90000000u || (ldr & 0xffc00000u) != 0xf9400000u) continue;
          if (((ldr >> 5) & 0x1f) != (adrp & 0x1f)) continue;
          uint64_t pc = r.vaddr + i;
          int64_t imm = static_cast<int64_t>((((adrp >> 5) & 0x7ffff) << 2) | ((adrp >> 29) & 3));
          if (imm & (1 << 20)) imm -= (1 << 21);
          uint64_t slot = (pc & ~uint64_t{0xfff}) + static_cast<uint64_t>(imm * 4096) + ((ldr >> 10) & 0xfff) * 8;
          auto it = slots.find(slot);
          if (it == slots.end()) continue;
          uint64_t start = pc;
          if (i >= 4 && static_cast<uint32_t>(rd32(p + i - 4)) == 0xd503245fu) start -= 4;  // bti c
          direct[start] = it->second;
        }
      }
    }
  }

  // 2. Candidate call sites: a byte pass, validated below by disassembling up to each one.
  std::vector<Site> sites;
  for (const auto& r : ex) {
    const char* p = r.bytes.data();
    size_t n = r.bytes.size();
    if (x86) {
      // `call/jmp rel32` at i reaches vaddr+i+5+rel32; `call/jmp *disp32(%rip)` at i-1 reads
      // vaddr+i+5+disp32. Both are one 32-bit comparison per byte offset, against each wanted
      // address minus 5 (mod 2^32); the opcode is checked only on a match.
      struct Key {
        uint32_t k;
        uint64_t addr;
        bool slot;
        const Target* t;
      };
      std::vector<Key> keys;
      for (const auto& [a, t] : direct) keys.push_back({static_cast<uint32_t>(a - 5), a, false, t});
      for (const auto& [a, t] : call_slots) keys.push_back({static_cast<uint32_t>(a - 5), a, true, t});
      std::vector<uint32_t> wanted;
      for (const Key& k : keys) wanted.push_back(k.k);
      std::vector<size_t> hits;
      rel32_matches(p, n, static_cast<uint32_t>(r.vaddr), wanted, hits);
      for (size_t i : hits) {
        if (sites.size() >= kMaxSites) break;
        for (const Key& k : keys) {
          uint64_t to = r.vaddr + i + 5 + static_cast<uint64_t>(static_cast<int64_t>(rd32(p + i + 1)));
          if (to != k.addr) continue;
          auto op = static_cast<unsigned char>(p[i]);
          if (!k.slot && (op == 0xe8 || op == 0xe9)) {
            sites.push_back({r.vaddr + i, k.t});
          } else if (k.slot && i >= 1 && static_cast<unsigned char>(p[i - 1]) == 0xff && (op == 0x15 || op == 0x25)) {
            uint64_t at = r.vaddr + i - 1;
            // PLT stubs jump through the slot too; they are targets, not call sites.
            if (!direct.count(at) && !direct.count(at - 1) && !direct.count(at - 4) && !direct.count(at - 5))
              sites.push_back({at, k.t});
          }
        }
      }
    } else {
      for (size_t i = 0; i + 4 <= n && sites.size() < kMaxSites; i += 4) {
        auto w = static_cast<uint32_t>(rd32(p + i));
        if ((w & 0x7c000000u) != 0x14000000u) continue;  // b / bl
        int64_t imm = w & 0x3ffffff;
        if (imm & (1 << 25)) imm -= (1 << 26);
        uint64_t to = r.vaddr + i + static_cast<uint64_t>(imm * 4);
        if (auto it = direct.find(to); it != direct.end()) sites.push_back({r.vaddr + i, it->second});
      }
    }
  }
  if (sites.empty()) return {};

  // Function starts: .eh_frame_hdr, plus .symtab functions.
  std::vector<uint64_t> starts = read_function_starts(elf, image);
  for (const auto& s : symtab)
    if (s.type == STT_FUNC && s.defined && s.value != 0) starts.push_back(s.value);
  std::sort(starts.begin(), starts.end());

  ConstantPointerReader pointers(elf, image);
  Deref deref = [&](uint64_t addr) { return pointers.at(addr); };
  CsHandle cs(x86 ? CS_ARCH_X86 : CS_ARCH_ARM64, x86 ? CS_MODE_64 : CS_MODE_ARM);
  if (!cs.ok) return {};
  std::vector<DlopenCall> out;
  for (const Site& site : sites) {
    const Exec* r = region_of(ex, site.addr);
    if (r == nullptr) continue;
    uint64_t fn = 0;
    auto it = std::upper_bound(starts.begin(), starts.end(), site.addr);
    if (it != starts.begin() && site.addr - *std::prev(it) <= kMaxFunctionWindow) fn = *std::prev(it);
    std::vector<uint64_t> tries;
    if (fn != 0 && fn >= r->vaddr) {
      tries.push_back(fn);
    } else {
      uint64_t lo = site.addr - std::min<uint64_t>(kFallbackWindow, site.addr - r->vaddr);
      for (uint64_t k = 0; k < (x86 ? 16u : 1u) && lo + k < site.addr; ++k) tries.push_back(lo + k);
      if (tries.empty()) tries.push_back(site.addr);
    }
    bool done = false;
    for (uint64_t start : tries) {
      if (done) break;
      std::string_view code = r->bytes.substr(static_cast<size_t>(start - r->vaddr), static_cast<size_t>(site.addr - start) + 16);
      cs_insn* raw = nullptr;
      size_t count = capstone().disasm(cs.h, reinterpret_cast<const uint8_t*>(code.data()), code.size(), start, 0, &raw);
      std::unique_ptr<cs_insn, InsnDeleter> insns(raw, InsnDeleter{count});
      std::map<int, RegValue> regs;
      for (size_t i = 0; i < count; ++i) {
        const cs_insn& in = raw[i];
        if (in.address > site.addr) break;
        if (in.address == site.addr) {
          bool is_branch = x86 ? (in.id == X86_INS_CALL || in.id == X86_INS_JMP)
                               : (in.id == ARM64_INS_BL || in.id == ARM64_INS_B);
          if (!is_branch) break;
          int reg = x86 ? kX86Args[site.target->arg] : site.target->arg;
          auto rv = regs.find(reg);
          DlopenCall call{std::string(site.target->function), site.addr, std::nullopt, {}};
          if (rv == regs.end()) {
            call.unknown_reason = "argument not set in the calling function (passed in from its caller)";
          } else if (!rv->second.known) {
            call.unknown_reason = "argument computed at run time (" + rv->second.how + ")";
          } else if (rv->second.value == 0) {
            done = true;  // dlopen(NULL): the program itself
            break;
          } else if (auto s = string_at(elf, image, rv->second.value)) {
            call.name = std::move(*s);
          } else {
            call.unknown_reason = "argument is a constant address that holds no string";
          }
          out.push_back(std::move(call));
          done = true;
          break;
        }
        if (x86)
          x86_step(cs.h, in, regs, deref);
        else
          a64_step(cs.h, in, regs, deref);
      }
    }
  }
  return out;
}

// Capstone is dlopen'ed (see capstone() above); cs_version() of the library found now is what a
// scan would use.
LibraryVersion capstone_version() {
  LibraryVersion v{"Capstone", std::to_string(CS_API_MAJOR) + "." + std::to_string(CS_API_MINOR) + "." +
                                   std::to_string(CS_VERSION_EXTRA), {}, {}};
  void* lib = ::dlopen(kCapstoneSoname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    v.note = std::string("not loadable, the dlopen scan is off: ") + (why ? why : kCapstoneSoname);
    return v;
  }
  using VersionFn = unsigned (*)(int*, int*);
  if (auto fn = reinterpret_cast<VersionFn>(::dlsym(lib, "cs_version")); fn != nullptr) {
    int major = 0, minor = 0;
    fn(&major, &minor);
    v.running = std::to_string(major) + "." + std::to_string(minor);
  }
  ::dlclose(lib);
  return v;
}

}  // namespace minify
