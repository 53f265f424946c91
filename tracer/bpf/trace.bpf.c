// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* The kernel side of minify's eBPF tracer: observes the traced process tree and sends what it
 * touched to user space through a ring buffer (the records are in events.h). It only observes:
 * starting, signalling and waiting for the program stay in user space.
 *
 *  - Which processes: a hash of traced thread-group ids. User space adds the command's process
 *    before it execs; sched_process_fork adds every child of a traced process and
 *    sched_process_exit removes a thread group when its last thread exits. Everything else
 *    returns after one lookup (and most syscalls after reading one byte of the table).
 *  - Syscalls: raw tracepoints on sys_enter/sys_exit, filtered by a table of syscall numbers
 *    user space fills from the ptrace tracer's own table. At the entry the path strings are
 *    copied, and a relative path's directory (the cwd or the dirfd's file) is turned into a path
 *    by walking its dentries up to the caller's root, as d_path() does: user space never looks
 *    at /proc after the fact, so an fd closed or a cwd changed right after the call does not
 *    matter. /proc/self/fd/N/..., /dev/fd/N, /proc/self/cwd, root and exe are followed the same
 *    way through the caller's own tables. The exit adds the return value.
 *  - io_uring: its open and statx requests from the io_uring_submit_req and io_uring_complete
 *    tracepoints (no syscall names their paths).
 *  - For a policy (count_syscalls, fixed when the programs are loaded): every syscall number a
 *    counted process enters, in a byte array user space reads at the end.
 *
 * Why raw tracepoints and not the BPF LSM (file_open with bpf_d_path) or fentry: both need BPF
 * trampolines, which kernels may refuse (this project's test machines return EPERM for every
 * trampoline program); raw tracepoints need nothing but CAP_BPF and CAP_PERFMON, and the light
 * skeleton relocates them in the kernel (no vmlinux BTF parsed in user space, which alone took
 * ~200 ms). The cost: every syscall on the machine runs sys_enter/sys_exit up to the table check.
 *
 * Every record that does not fit in the ring buffer is counted in `dropped`, and user space fails
 * the trace when it is not zero. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define AT_FDCWD -100
#define AT_EMPTY_PATH 0x1000
#define TS_COMPAT 0x0002
#define IORING_OP_OPENAT 18
#define IORING_OP_STATX 21
#define IORING_OP_OPENAT2 28

#define STR_MAX 4096         /* PATH_MAX */
#define BUF_SIZE 16384       /* a record is at most this long (a per-CPU value is at most 32 KiB) */
#define BUF_MASK (BUF_SIZE - 1)
#define BUF_ROOM (BUF_SIZE - STR_MAX - 64) /* start no field past this */
#define MAX_COMPS 64         /* path components walked */
#define ARGV_MAX 256         /* as the ptrace tracer */
#define ARGV_BYTES 8192

/* Filled by user space before loading. */
const volatile struct sc_desc sc_table[MINIFY_BPF_MAX_NR] = {};
const volatile __u8 proc_visible = 1; /* the traced root has a procfs at /proc */
/* Record every syscall number the counted processes enter (a seccomp policy needs the set). A
 * constant when the programs are verified: without it the verifier removes the counting code, so
 * a run that does not ask pays nothing for it. */
const volatile __u8 count_syscalls = 0;
/* Non-empty: a traced process is counted from the lookup of this path on (a sandbox's launcher
 * names it right before it execs the program), with the processes it starts from then on;
 * empty: every traced process is. */
const volatile char count_after[MINIFY_BPF_MARKER_MAX] = {};

/* The syscall numbers counted processes entered (1: entered); user space reads it at the end. A
 * byte each, set with a plain store: two CPUs setting bits of one word could lose one. */
__u8 syscalls_seen[MINIFY_BPF_COUNT_NR] = {};

__u64 dropped = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20); /* mapped twice by the reader: 32 MiB of its RSS */
} events SEC(".maps");

/* Both hashes allocate their elements as they are added (BPF_F_NO_PREALLOC): preallocating 65,536
 * elements took ~40 ms of every load, and a trace rarely holds more than a few hundred. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u8);
} tgids SEC(".maps");

/* io_uring requests sent to user space, until they complete (deleted then; a request that never
 * completes is one the program was killed in). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, __u8);
} uring_reqs SEC(".maps");

/* Per thread: which path arguments of the syscall in progress could not be read at the entry. */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, __u32);
} faults SEC(".maps");

struct scratch {
  __u8 buf[BUF_SIZE + STR_MAX + 256];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch_map SEC(".maps");

struct comps {
  __u64 name[MAX_COMPS];
  __u32 len[MAX_COMPS];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct comps);
} comps_map SEC(".maps");

/* An offset into the scratch buffer the verifier can bound: the mask is done in the register
 * used for the access (clang drops a mask it can prove redundant, and the verifier then cannot). */
static __always_inline __u64 at(__u64 x) {
  asm volatile("%[x] &= %[mask]" : [x] "+r"(x) : [mask] "i"(BUF_MASK));
  return x;
}

static __always_inline struct scratch *get_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&scratch_map, &zero);
}

static __always_inline int traced(__u32 tgid) { return bpf_map_lookup_elem(&tgids, &tgid) != 0; }

/* count_syscalls: notes syscall `id` when the calling process is counted. */
static __always_inline void note_syscall(long id, __u32 tgid) {
  if (id < 0 || id >= MINIFY_BPF_COUNT_NR) return;
  __u8 *v = bpf_map_lookup_elem(&tgids, &tgid);
  if (v && (*v & TGID_COUNTED) && !syscalls_seen[id]) syscalls_seen[id] = 1;
}

/* The reader is woken only when the buffer holds this much: it reads every tick (20 ms) anyway.
 * By default the kernel wakes it for every record written while it is idle, which on a program
 * making syscalls slower than the reader reads them is a wakeup (an irq_work and a context switch
 * on the other CPU) per record. 2 MiB is an eighth of the buffer, so a burst has 14 MiB of room
 * while the woken reader gets going. */
#define WAKE_BYTES (2u << 20)

static __always_inline void send(struct scratch *s, __u64 size) {
  /* Clamped in the register the helper gets: clang would otherwise clamp a copy. */
  asm volatile("if %[size] <= %[max] goto +1\n\t%[size] = %[max]" : [size] "+r"(size) : [max] "i"(BUF_SIZE));
  ((struct ev_header *)s->buf)->size = size;
  __u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_output(&events, s->buf, size, flags) != 0) __sync_fetch_and_add(&dropped, 1);
}

/* Starts a field at *off; returns where its data goes, or -1 when the record is full. */
static __always_inline long field_start(__u32 off) { return off > BUF_ROOM ? -1 : (long)(off + sizeof(struct ev_field)); }

static __always_inline __u32 field_end(struct scratch *s, __u32 off, __u8 tag, __u8 slot, __u32 len) {
  struct ev_field *f = (struct ev_field *)&s->buf[at(off)];
  f->tag = tag;
  f->slot = slot;
  f->len = len;
  return off + sizeof(struct ev_field) + len;
}

/* ---- struct path -> string ------------------------------------------------------------------- */

struct walk {
  struct dentry *d;
  struct vfsmount *mnt;
  struct dentry *root_d;
  struct vfsmount *root_mnt;
  __u32 n;
  __u32 outside;
  __u32 off; /* where the string goes in the scratch buffer */
  __u32 len;
};

static __always_inline struct mount *real_mount(struct vfsmount *mnt) {
  return (struct mount *)((void *)mnt - bpf_core_field_offset(struct mount, mnt));
}

/* One step up from w->d: a component, or a mount crossing. Stops at the caller's root, and at
 * the top of the mount tree when the root was never met (the file is outside it). */
static long walk_up(__u32 i, void *ctx) {
  struct walk *w = ctx;
  __u32 zero = 0;
  struct comps *c = bpf_map_lookup_elem(&comps_map, &zero);
  if (!c) return 1;
  /* Locals: CO-RE relocations are for kernel types, not for struct walk. */
  struct dentry *d = w->d;
  struct vfsmount *mnt = w->mnt;
  if (d == w->root_d && mnt == w->root_mnt) return 1;
  struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt_root);
  if (d == mnt_root) {
    struct mount *m = real_mount(mnt);
    struct mount *parent = BPF_CORE_READ(m, mnt_parent);
    if (parent == m || !parent) {
      w->outside = 1;
      return 1;
    }
    w->d = BPF_CORE_READ(m, mnt_mountpoint);
    w->mnt = (struct vfsmount *)((void *)parent + bpf_core_field_offset(struct mount, mnt));
    return 0;
  }
  struct dentry *up = BPF_CORE_READ(d, d_parent);
  if (!up || up == d) {
    w->outside = 1; /* the root of a detached tree */
    return 1;
  }
  __u32 n = w->n;
  if (n >= MAX_COMPS) {
    w->outside = 1;
    return 1;
  }
  c->name[n & (MAX_COMPS - 1)] = (__u64)BPF_CORE_READ(d, d_name.name);
  c->len[n & (MAX_COMPS - 1)] = BPF_CORE_READ(d, d_name.len);
  w->n = n + 1;
  w->d = up;
  return 0;
}

/* Writes component n-1-i ("/name") at w->off. */
static long put_comp(__u32 i, void *ctx) {
  struct walk *w = ctx;
  __u32 zero = 0;
  struct comps *c = bpf_map_lookup_elem(&comps_map, &zero);
  struct scratch *s = get_scratch();
  if (!c || !s || i >= w->n) return 1;
  __u32 j = (w->n - 1 - i) & (MAX_COMPS - 1);
  __u32 len = c->len[j] & 255;
  if (w->len + 1 + len >= STR_MAX) {
    w->outside = 1; /* longer than PATH_MAX: say so rather than truncate */
    return 1;
  }
  __u32 pos = w->off + w->len;
  s->buf[at(pos)] = '/';
  bpf_probe_read_kernel(&s->buf[at(pos + 1)], len, (void *)c->name[j]);
  w->len += 1 + len;
  return 0;
}

/* The helpers below that turn arguments into fields are global functions: the verifier checks
 * each once instead of once per call site (inlined, sys_enter alone took 400,000 instructions and
 * seconds to verify). They take scalars only, and find the scratch buffer themselves. */

/* Adds a F_BASE (or F_PROC with `proc_rest`) field holding the struct path at `path` as the
 * caller sees it. */
__noinline __u32 add_path_field(__u32 off, __u32 tag, __u32 slot, __u64 path, __u32 proc_rest) {
  struct scratch *s = get_scratch();
  long data = field_start(off);
  if (!s || data < 0) return off;
  struct path *p = (struct path *)path;
  struct task_struct *task = bpf_get_current_task_btf();
  struct walk w = {};
  w.d = BPF_CORE_READ(p, dentry);
  w.mnt = BPF_CORE_READ(p, mnt);
  w.root_d = BPF_CORE_READ(task, fs, root.dentry);
  w.root_mnt = BPF_CORE_READ(task, fs, root.mnt);
  w.off = data;
  if (tag == F_PROC) {
    s->buf[at(data)] = proc_rest & 0xff;
    s->buf[at(data + 1)] = (proc_rest >> 8) & 0xff;
    w.off = data + 2;
  }
  if (!w.d || !w.mnt) return off;
  bpf_loop(MAX_COMPS * 2, walk_up, &w, 0);
  if (!w.outside) bpf_loop(w.n, put_comp, &w, 0);
  if (w.outside) return field_end(s, off, F_BASE_OUTSIDE, slot, 0);
  if (w.len == 0) { /* the root itself */
    s->buf[at(w.off)] = '/';
    w.len = 1;
  }
  return field_end(s, off, tag, slot, w.off - data + w.len);
}

/* ---- The caller's tables: fds, cwd, root, exe ------------------------------------------------ */

static __always_inline struct file *fd_file(struct task_struct *task, long fd) {
  if (fd < 0) return 0;
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || (__u64)fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *f = 0;
  bpf_probe_read_kernel(&f, sizeof f, &fds[fd]);
  return f;
}

/* The directory a relative path starts from: the cwd, or the file open as `dirfd`. */
__noinline __u32 add_base(__u32 off, __u32 slot, __s64 dirfd) {
  struct task_struct *task = bpf_get_current_task_btf();
  if ((int)dirfd == AT_FDCWD) {
    struct fs_struct *fs = BPF_CORE_READ(task, fs);
    return add_path_field(off, F_BASE, slot, (__u64)fs + bpf_core_field_offset(struct fs_struct, pwd), 0);
  }
  struct file *f = fd_file(task, (int)dirfd);
  struct scratch *s = get_scratch();
  if (!f) return s && off <= BUF_ROOM ? field_end(s, off, F_BASE_OUTSIDE, slot, 0) : off;
  return add_path_field(off, F_BASE, slot, (__u64)f + bpf_core_field_offset(struct file, f_path), 0);
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The socket open as `fd` after a successful bind or listen (F_SOCKET): its type, family and the
 * local port the kernel keeps in host order (skc_num), the port an ephemeral bind picked too. */
__noinline __u32 add_socket(__u32 off, __s64 fd) {
  struct scratch *s = get_scratch();
  long data = field_start(off);
  if (!s || data < 0) return off;
  struct file *f = fd_file(bpf_get_current_task_btf(), (int)fd);
  if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK) return off;
  struct socket *sock = BPF_CORE_READ(f, private_data);
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return off;
  struct ev_socket e = {};
  e.family = BPF_CORE_READ(sk, __sk_common.skc_family);
  e.type = BPF_CORE_READ(sock, type);
  e.port = BPF_CORE_READ(sk, __sk_common.skc_num);
  bpf_probe_read_kernel(&s->buf[at(data)], sizeof e, &e);
  return field_end(s, off, F_SOCKET, 0, sizeof e);
}

enum proc_link { LINK_NONE, LINK_FD, LINK_CWD, LINK_ROOT, LINK_EXE };

static __always_inline int byte_at(struct scratch *s, __u32 start, __u32 i) { return s->buf[at(start + i)]; }

/* Eight bytes of the string at `start` + i, little-endian, for comparing with W("...") words. */
static __always_inline __u64 word_at(struct scratch *s, __u32 start, __u32 i) {
  __u64 w = 0;
  bpf_probe_read_kernel(&w, sizeof w, &s->buf[at(start + i)]);
  return w;
}

/* The first n (<= 8) bytes of a literal as a little-endian word, and its mask. */
#define W1(l, k) ((__u64)(__u8)(sizeof(l) > (k) + 1 ? l[k] : 0) << (8 * (k)))
#define W(l) (W1(l, 0) | W1(l, 1) | W1(l, 2) | W1(l, 3) | W1(l, 4) | W1(l, 5) | W1(l, 6) | W1(l, 7))
#define MASK(n) ((n) >= 8 ? ~0ull : (1ull << (8 * (n))) - 1)
#define PREFIX(w, l) (((w) & MASK(sizeof(l) - 1)) == W(l))

static __always_inline int end_or_slash(int c) { return c == 0 || c == '/'; }

struct number_ctx {
  __u32 start, i;
  long value;
  __u32 digits;
};

static long digit(__u32 k, void *ctx) {
  struct number_ctx *n = ctx;
  struct scratch *s = get_scratch();
  if (!s) return 1;
  int c = byte_at(s, n->start, n->i);
  if (c < '0' || c > '9') return 1;
  n->value = n->value * 10 + (c - '0');
  n->i++;
  n->digits++;
  return 0;
}

/* A decimal number at position *i, ended by '/' or the end; -1 when there is none. */
static __always_inline long number(struct scratch *s, __u32 start, __u32 *i) {
  struct number_ctx n = {.start = start, .i = *i};
  bpf_loop(10, digit, &n, 0);
  if (!n.digits || !end_or_slash(byte_at(s, start, n.i))) return -1;
  *i = n.i;
  return n.value;
}

/* Follows /proc/self/fd/N..., /proc/thread-self/..., /proc/<own pid>/..., /dev/fd/N and
 * /dev/std{in,out,err} through the caller's tables (the string, NUL-terminated, is at `start`).
 * A number that is not the caller's own pid or tid names another process: left as named. */
__noinline __u32 add_proc(__u32 off, __u32 slot, __u32 start) {
  struct scratch *s = get_scratch();
  if (!s) return off;
  struct task_struct *task = bpf_get_current_task_btf();
  /* Read with BPF_CORE_READ, not `task->group_leader`: the verifier checks a pointer loaded
   * from a trusted one by searching all of the kernel's types by name, each time it meets the
   * load, in each of the three programs that include this (the verification of all programs
   * went from ~120 ms to ~85 ms at load 8 without it). */
  struct task_struct *who = task;
  __u32 i = 0;
  int link = LINK_NONE;
  long fd = -1;
  __u64 w = word_at(s, start, 0);
  if (w == W("/dev/fd/")) {
    i = 8;
    fd = number(s, start, &i);
    link = LINK_FD;
  } else if (w == W("/dev/std")) {
    __u64 rest = word_at(s, start, 8);
    if (PREFIX(rest, "in") && end_or_slash(byte_at(s, start, 10))) fd = 0, i = 10;
    else if (PREFIX(rest, "out") && end_or_slash(byte_at(s, start, 11))) fd = 1, i = 11;
    else if (PREFIX(rest, "err") && end_or_slash(byte_at(s, start, 11))) fd = 2, i = 11;
    if (fd >= 0) link = LINK_FD;
  } else if (PREFIX(w, "/proc/")) {
    __u64 id = bpf_get_current_pid_tgid();
    __u64 next = word_at(s, start, 6);
    if (PREFIX(next, "self") && end_or_slash(byte_at(s, start, 10))) {
      who = BPF_CORE_READ(task, group_leader);
      i = 10;
    } else if (next == W("thread-s") && PREFIX(word_at(s, start, 14), "elf") && end_or_slash(byte_at(s, start, 17))) {
      i = 17;
    } else {
      i = 6;
      long pid = number(s, start, &i);
      if (pid == (long)(id >> 32)) who = BPF_CORE_READ(task, group_leader);
      else if (pid != (long)(__u32)id) return off;
      if (PREFIX(word_at(s, start, i), "/task/")) {
        i += 6;
        if (number(s, start, &i) != (long)(__u32)id) return off;
        who = task;
      }
    }
    __u64 tail = word_at(s, start, i);
    if (PREFIX(tail, "/fd/")) {
      i += 4;
      fd = number(s, start, &i);
      link = LINK_FD;
    } else if (PREFIX(tail, "/cwd") && end_or_slash(byte_at(s, start, i + 4))) {
      i += 4;
      link = LINK_CWD;
    } else if (PREFIX(tail, "/root") && end_or_slash(byte_at(s, start, i + 5))) {
      i += 5;
      link = LINK_ROOT;
    } else if (PREFIX(tail, "/exe") && byte_at(s, start, i + 4) == 0) {
      i += 4;
      link = LINK_EXE;
    }
  }
  if (link == LINK_NONE) return off;
  __u64 p = 0;
  if (link == LINK_FD) {
    struct file *f = fd_file(who, fd);
    if (!f) return off; /* no such fd: the call fails, the name stays */
    p = (__u64)f + bpf_core_field_offset(struct file, f_path);
  } else if (link == LINK_EXE) {
    struct file *f = BPF_CORE_READ(who, mm, exe_file);
    if (!f) return off;
    p = (__u64)f + bpf_core_field_offset(struct file, f_path);
  } else {
    struct fs_struct *fs = BPF_CORE_READ(who, fs);
    if (!fs) return off;
    p = (__u64)fs + (link == LINK_CWD ? bpf_core_field_offset(struct fs_struct, pwd)
                                      : bpf_core_field_offset(struct fs_struct, root));
  }
  return add_path_field(off, F_PROC, slot, p, i);
}

/* ---- Path arguments ------------------------------------------------------------------------- */

/* Copies the user string at `uptr` as an F_PATH field (F_PATH_FAULT when it cannot be read yet),
 * then adds what it is relative to. Returns the new end; sets *fault when the string was not
 * readable. */
#define FAULT_BIT 0x80000000u

__noinline __u32 add_path_arg(__u32 off, __u32 slot, __s64 dirfd, __u64 uptr) {
  struct scratch *s = get_scratch();
  long data = field_start(off);
  if (!s || data < 0) return off;
  long n = bpf_probe_read_user_str(&s->buf[at(data)], STR_MAX, (const char *)uptr);
  if (n <= 0) {
    off = field_end(s, off, F_PATH_FAULT, slot, 0);
    return add_base(off, slot, dirfd) | FAULT_BIT; /* a guess that costs little: relative or not */
  }
  __u32 start = data;
  __u32 end = field_end(s, off, F_PATH, slot, n - 1);
  int first = byte_at(s, start, 0);
  if (first == '/') {
    if (proc_visible && (byte_at(s, start, 1) == 'p' || byte_at(s, start, 1) == 'd')) {
      s->buf[at(start + n - 1)] = 0;
      return add_proc(end, slot, start);
    }
    return end;
  }
  return add_base(end, slot, dirfd);
}

static __always_inline __u64 arg_of(struct pt_regs *regs, int i) {
#if defined(__TARGET_ARCH_x86)
  switch (i) {
    case 0: return BPF_CORE_READ(regs, di);
    case 1: return BPF_CORE_READ(regs, si);
    case 2: return BPF_CORE_READ(regs, dx);
    case 3: return BPF_CORE_READ(regs, r10);
    case 4: return BPF_CORE_READ(regs, r8);
    default: return BPF_CORE_READ(regs, r9);
  }
#elif defined(__TARGET_ARCH_arm64)
  if (i == 0) return BPF_CORE_READ(regs, orig_x0); /* x0 becomes the return value */
  return BPF_CORE_READ(regs, regs[i & 7]);
#else
#error "the eBPF tracer knows the syscall registers of x86-64 and arm64 only"
#endif
}

static __always_inline long syscall_nr(struct pt_regs *regs) {
#if defined(__TARGET_ARCH_x86)
  return BPF_CORE_READ(regs, orig_ax);
#else
  return BPF_CORE_READ(regs, syscallno);
#endif
}

struct argv_ctx {
  const char *const *uargv;
  __u32 off; /* next string's place */
  __u32 start;
  __u32 truncated;
  __u32 any_hole;
  __u64 holes[ARGV_MAX / 64];
};

/* One argv string. One in a page the program never touched cannot be read here: it is written
 * empty and marked, and user space takes it from the new program's argv when the exec works. */
static long copy_arg(__u32 i, void *ctx) {
  struct argv_ctx *a = ctx;
  struct scratch *s = get_scratch();
  if (!s) return 1;
  const char *p = 0;
  if (bpf_probe_read_user(&p, sizeof p, &a->uargv[i]) != 0 || !p) return 1;
  if (a->off - a->start > ARGV_BYTES - STR_MAX || a->off > BUF_ROOM) {
    a->truncated = 1;
    return 1;
  }
  long n = bpf_probe_read_user_str(&s->buf[at(a->off)], STR_MAX, p);
  if (n <= 0) {
    s->buf[at(a->off)] = 0;
    n = 1;
    a->holes[(i / 64) & (ARGV_MAX / 64 - 1)] |= 1ull << (i % 64);
    a->any_hole = 1;
  }
  a->off += n;
  return 0;
}

__noinline __u32 add_argv(__u32 off, __u64 uargv) {
  struct scratch *s = get_scratch();
  long data = field_start(off);
  if (!s || data < 0 || !uargv) return off;
  struct argv_ctx a = {.uargv = (const char *const *)uargv, .off = data, .start = data};
  bpf_loop(ARGV_MAX, copy_arg, &a, 0);
  off = field_end(s, off, F_ARGV, 0, a.off - data);
  if (a.truncated) off = field_end(s, off, F_TRUNCATED, 0, 0);
  long holes = field_start(off);
  if (a.any_hole && holes >= 0) {
    bpf_probe_read_kernel(&s->buf[at(holes)], sizeof a.holes, a.holes);
    off = field_end(s, off, F_ARGV_HOLES, 0, sizeof a.holes);
  }
  return off;
}

static __always_inline __u32 header(struct scratch *s, __u16 type, __u32 tid, __u32 tgid) {
  struct ev_header *h = (struct ev_header *)s->buf;
  h->type = type;
  h->pad = 0;
  h->tid = tid;
  h->tgid = tgid;
  return sizeof(*h);
}

/* ---- Syscalls ---------------------------------------------------------------------------------- */

/* count_after: the first path argument (the F_PATH field right after the ev_enter) names the
 * marker: the process is counted from its next syscall on (as under ptrace, the lookup itself is
 * not the program's). */
static __always_inline void count_from_marker(struct scratch *s, __u32 tgid) {
  if (s->buf[sizeof(struct ev_enter)] != F_PATH) return;
  __u8 *v = bpf_map_lookup_elem(&tgids, &tgid);
  if (!v || (*v & TGID_COUNTED)) return;
  if (bpf_strncmp((const char *)&s->buf[sizeof(struct ev_enter) + sizeof(struct ev_field)], MINIFY_BPF_MARKER_MAX,
                  (const char *)count_after) == 0)
    *v |= TGID_COUNTED;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id) {
  if (count_syscalls) note_syscall(id, bpf_get_current_pid_tgid() >> 32);
  if (id < 0 || id >= MINIFY_BPF_MAX_NR) return 0;
  struct sc_desc d = sc_table[id];
  if (!d.row) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
  if (!traced(tgid)) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
#if defined(__TARGET_ARCH_x86)
  struct task_struct *task = bpf_get_current_task_btf();
  if (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) {
    send(s, header(s, EV_COMPAT, tid, tgid));
    return 0;
  }
#endif
  struct ev_enter *e = (struct ev_enter *)s->buf;
  header(s, EV_ENTER, tid, tgid);
  e->nr = id;
  e->aux = 0;
  for (int i = 0; i < 6; i++) e->args[i] = arg_of(regs, i);
  if (d.kind == SC_SKIP_EMPTY && d.aux >= 0 && (e->args[d.aux & 7] & AT_EMPTY_PATH)) return 0;
  __u32 off = sizeof(*e);
  int fault0 = 0, fault1 = 0;
  if (d.path >= 0) {
    long dirfd = d.dirfd >= 0 ? (long)e->args[d.dirfd & 7] : AT_FDCWD;
    off = add_path_arg(off, 0, dirfd, e->args[d.path & 7]);
    fault0 = (off & FAULT_BIT) != 0;
    off &= ~FAULT_BIT;
    if (count_syscalls && count_after[0] && !fault0) count_from_marker(s, tgid);
  } else if (d.dirfd >= 0) {
    off = add_base(off, 0, (long)e->args[d.dirfd & 7]); /* fchdir */
  }
  if (d.path2 >= 0) {
    long dirfd = d.dirfd2 >= 0 ? (long)e->args[d.dirfd2 & 7] : AT_FDCWD;
    off = add_path_arg(off, 1, dirfd, e->args[d.path2 & 7]);
    fault1 = (off & FAULT_BIT) != 0;
    off &= ~FAULT_BIT;
  }
  if (d.kind == SC_EXEC && d.aux >= 0) {
    off = add_argv(off, e->args[d.aux & 7]);
  } else if (d.kind == SC_OPENAT2) {
    __u64 flags = 0;
    bpf_probe_read_user(&flags, sizeof flags, (void *)e->args[2]);
    e->aux = flags;
  } else if (d.kind == SC_SOCKADDR) {
    long data = field_start(off);
    __u64 len = e->args[2];
    if (data >= 0 && len > 2) {
      if (len > 110) len = 110; /* sizeof(struct sockaddr_un) */
      if (bpf_probe_read_user(&s->buf[at(data)], len & 127, (void *)e->args[1]) == 0) {
        off = field_end(s, off, F_SOCKADDR, 0, len);
        /* a relative socket path starts from the cwd */
        if (s->buf[at(data)] == 1 /* AF_UNIX */ && s->buf[at(data + 2)] != 0 &&
            s->buf[at(data + 2)] != '/')
          off = add_base(off, 0, AT_FDCWD);
      }
    }
  }
  if (fault0 || fault1) {
    __u32 *f = bpf_task_storage_get(&faults, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (f) *f = (fault0 ? 1 : 0) | (fault1 ? 2 : 0);
  }
  send(s, off);
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret) {
  long id = syscall_nr(regs);
  if (id < 0 || id >= MINIFY_BPF_MAX_NR) return 0;
  struct sc_desc d = sc_table[id];
  if (!d.row) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
  if (!traced(tgid)) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  if (d.kind == SC_SKIP_EMPTY && d.aux >= 0 && (arg_of(regs, d.aux & 7) & AT_EMPTY_PATH)) return 0;
  struct ev_exit *e = (struct ev_exit *)s->buf;
  header(s, EV_EXIT, tid, tgid);
  e->nr = id;
  e->ret = ret;
  __u32 off = sizeof(*e);
  /* A path the entry could not read (a string in a page the program never touched): the kernel
   * has read it since, so it is resident now. Not after a successful exec: that memory is gone,
   * and the exec record has the name the kernel executed. */
  __u32 *f = bpf_task_storage_get(&faults, bpf_get_current_task_btf(), 0, 0);
  if (f && *f) {
    if (!(d.kind == SC_EXEC && ret == 0)) {
      for (int slot = 0; slot < 2; slot++) {
        if (!(*f & (1 << slot))) continue;
        int pi = slot == 0 ? d.path : d.path2;
        if (pi < 0) continue;
        long data = field_start(off);
        if (data < 0) break;
        long n = bpf_probe_read_user_str(&s->buf[at(data)], STR_MAX, (const char *)arg_of(regs, pi & 7));
        if (n <= 0) continue;
        __u32 start = data;
        off = field_end(s, off, F_PATH, slot, n - 1);
        if (proc_visible && byte_at(s, start, 0) == '/') {
          s->buf[at(start + n - 1)] = 0;
          off = add_proc(off, slot, start);
        }
      }
    }
    *f = 0;
  }
  if ((d.kind == SC_SOCKADDR || d.kind == SC_SOCKET) && d.aux >= 0 && ret == 0)
    off = add_socket(off, (long)arg_of(regs, d.aux & 7));
  send(s, off);
  return 0;
}

/* ---- Processes ------------------------------------------------------------------------------- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child) {
  __u32 ptgid = parent->tgid;
  __u8 *pv = bpf_map_lookup_elem(&tgids, &ptgid);
  if (!pv) return 0;
  __u32 ctgid = child->tgid;
  if (ctgid != ptgid) {
    __u8 v = *pv; /* traced, and counted when the parent is */
    /* A full map would leave the child untraced: count it as lost, which fails the trace. */
    if (bpf_map_update_elem(&tgids, &ctgid, &v, BPF_ANY) != 0) __sync_fetch_and_add(&dropped, 1);
  }
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct ev_fork *e = (struct ev_fork *)s->buf;
  header(s, EV_FORK, parent->pid, ptgid);
  e->child_tid = child->pid;
  e->child_tgid = ctgid;
  send(s, sizeof(*e));
  return 0;
}

#define ARGV_PIECE 8192
#define ARGV_PIECES 8 /* 64 KiB of argv at most */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
  __u32 tgid = p->tgid;
  if (!traced(tgid)) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct ev_exec *e = (struct ev_exec *)s->buf;
  header(s, EV_EXEC, p->pid, tgid);
  e->old_tid = old_pid;
  __u64 arg_start = BPF_CORE_READ(p, mm, arg_start), arg_end = BPF_CORE_READ(p, mm, arg_end);
  __u64 argv_len = arg_end > arg_start ? arg_end - arg_start : 0;
  if (argv_len > ARGV_PIECE * ARGV_PIECES) argv_len = ARGV_PIECE * ARGV_PIECES;
  e->argv_len = argv_len;
  __u32 off = sizeof(*e);
  long data = field_start(off);
  const char *name = BPF_CORE_READ(bprm, filename);
  if (data >= 0 && name) {
    long n = bpf_probe_read_kernel_str(&s->buf[at(data)], STR_MAX, name);
    if (n > 0) off = field_end(s, off, F_PATH, 0, n - 1);
  }
  send(s, off);
  for (int i = 0; i < ARGV_PIECES; i++) {
    __u64 done = (__u64)i * ARGV_PIECE;
    if (done >= argv_len) break;
    __u64 n = argv_len - done;
    if (n > ARGV_PIECE) n = ARGV_PIECE;
    struct ev_argv *a = (struct ev_argv *)s->buf;
    header(s, EV_ARGV, p->pid, tgid);
    a->offset = done;
    a->pad = 0;
    if (bpf_probe_read_user(&s->buf[sizeof(*a)], n & (ARGV_PIECE * 2 - 1), (void *)(arg_start + done)) != 0) break;
    send(s, sizeof(*a) + n);
  }
  return 0;
}

/* The last thread's exit decrements signal->live to zero before this tracepoint on every kernel
 * (do_exit), so this works without the group_dead argument newer kernels pass. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *p) {
  __u32 tgid = p->tgid;
  if (!traced(tgid)) return 0;
  int live = BPF_CORE_READ(p, signal, live.counter);
  if (live == 0) bpf_map_delete_elem(&tgids, &tgid);
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct ev_task_exit *e = (struct ev_task_exit *)s->buf;
  header(s, EV_TASK_EXIT, p->pid, tgid);
  e->group_dead = live == 0;
  e->pad = 0;
  send(s, sizeof(*e));
  return 0;
}

/* ---- io_uring ---------------------------------------------------------------------------------- */

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(uring_submit, struct io_kiocb *req) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  if (!traced(tgid)) return 0;
  __u8 opcode = BPF_CORE_READ(req, opcode);
  if (opcode != IORING_OP_OPENAT && opcode != IORING_OP_OPENAT2 && opcode != IORING_OP_STATX) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct ev_uring *e = (struct ev_uring *)s->buf;
  header(s, EV_URING, (__u32)pid_tgid, tgid);
  e->req = (__u64)req;
  e->opcode = opcode;
  e->nfields = 0;
  struct filename *name;
  void *cmd = (void *)req + bpf_core_field_offset(struct io_kiocb, cmd);
  if (opcode == IORING_OP_STATX) {
    struct io_statx *sx = cmd;
    e->dfd = BPF_CORE_READ(sx, dfd);
    e->flags = BPF_CORE_READ(sx, flags);
    name = BPF_CORE_READ(sx, filename);
  } else {
    struct io_open *op = cmd;
    e->dfd = BPF_CORE_READ(op, dfd);
    e->flags = BPF_CORE_READ(op, how.flags);
    name = BPF_CORE_READ(op, filename);
  }
  __u32 off = sizeof(*e);
  long data = field_start(off);
  if (!name || data < 0) return 0;
  const char *kname = BPF_CORE_READ(name, name);
  long n = bpf_probe_read_kernel_str(&s->buf[at(data)], STR_MAX, kname);
  if (n <= 0) return 0;
  off = field_end(s, off, F_PATH, 0, n - 1);
  __s64 dfd = e->dfd;
  if (byte_at(s, data, 0) != '/') off = add_base(off, 0, dfd);
  else if (proc_visible) off = add_proc(off, 0, data);
  __u8 one = 1;
  __u64 key = (__u64)req;
  bpf_map_update_elem(&uring_reqs, &key, &one, BPF_ANY);
  send(s, off);
  return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(uring_complete, void *ring, void *req, struct io_uring_cqe *cqe) {
  __u64 key = (__u64)req;
  if (!bpf_map_lookup_elem(&uring_reqs, &key)) return 0;
  bpf_map_delete_elem(&uring_reqs, &key);
  struct scratch *s = get_scratch();
  if (!s) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  struct ev_uring_done *e = (struct ev_uring_done *)s->buf;
  header(s, EV_URING_DONE, (__u32)pid_tgid, pid_tgid >> 32);
  e->req = key;
  e->res = BPF_CORE_READ(cqe, res);
  send(s, sizeof(*e));
  return 0;
}
