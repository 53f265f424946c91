/* The records the eBPF tracer's kernel side (trace.bpf.c) sends to user space (bpf_tracer.cpp)
 * through its ring buffer, and the syscall descriptors user space hands the kernel side before
 * loading it. Plain C, shared by both sides; every field has a fixed width so clang -target bpf
 * and the host compiler lay the structs out identically.
 *
 * One traced syscall makes two records from the same thread, in order: EV_ENTER at the entry
 * (its raw arguments and, for each path argument, the string and the directory it is relative
 * to, read in the kernel at that moment) and EV_EXIT at the exit (the return value, and any path
 * string that could not be read at the entry because its page was not resident yet). */
#ifndef MINIFY_TRACER_BPF_EVENTS_H
#define MINIFY_TRACER_BPF_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Syscall numbers below this have a descriptor (x86-64's highest file syscall is 452). */
#define MINIFY_BPF_MAX_NR 512
/* Syscall numbers below this are counted for a policy (the ptrace tracer counts below 4096; both
 * architectures' highest is below 470). */
#define MINIFY_BPF_COUNT_NR 1024
/* The longest path (with its NUL) that can start the counting (TraceOptions::record_syscalls_after). */
#define MINIFY_BPF_MARKER_MAX 64

/* The value of a traced thread group in the kernel side's map: traced, and counted (its syscall
 * numbers recorded). A child gets its parent's. */
#define TGID_TRACED 1
#define TGID_COUNTED 2

/* How the kernel side treats a syscall's arguments (struct sc_desc.kind). */
enum sc_kind {
  SC_PLAIN = 0,      /* path arguments only */
  SC_EXEC = 1,       /* execve/execveat: also copy argv (argument `aux`) */
  SC_OPENAT2 = 2,    /* openat2: also read struct open_how's flags (argument `aux`) */
  SC_SOCKADDR = 3,   /* bind/connect: copy the sockaddr (argument 1, length argument 2) */
  SC_SKIP_EMPTY = 4, /* newfstatat/statx: nothing to record when argument `aux` has AT_EMPTY_PATH */
  SC_SOCKET = 5,     /* listen: no path; the socket (fd argument `aux`) is read at the exit */
};
/* SC_SOCKADDR and SC_SOCKET with `aux` >= 0 (bind, listen): a successful call's exit record carries
 * an F_SOCKET field, the socket open as argument `aux` as it is then. */

/* One syscall, from the same table the ptrace tracer uses (syscalls.cpp): where its path
 * arguments are. -1 means none; a dirfd without a path (fchdir) names the fd itself. */
struct sc_desc {
  __u8 row; /* index + 1 into the user-space table; 0: not traced */
  __u8 kind;
  signed char dirfd, path, dirfd2, path2;
  signed char aux;
  __u8 pad;
};

enum ev_type {
  EV_ENTER = 1,     /* struct ev_enter, then fields */
  EV_EXIT = 2,      /* struct ev_exit, then fields (paths re-read) */
  EV_FORK = 3,      /* struct ev_fork: a traced task made a thread or process */
  EV_EXEC = 4,      /* struct ev_exec: a traced process exec'd (after the point of no return) */
  EV_TASK_EXIT = 5, /* struct ev_task_exit */
  EV_URING = 6,     /* struct ev_uring, then fields: an io_uring request of a traced process */
  EV_URING_DONE = 7, /* struct ev_uring_done: its completion */
  EV_COMPAT = 8,    /* a traced task made a syscall through another ABI (32-bit) */
  EV_ARGV = 9,      /* struct ev_argv, then bytes: a piece of a successful exec's argv */
};

struct ev_header {
  __u16 type;
  __u16 pad;
  __u32 size; /* the whole record, header and fields included */
  __u32 tid;
  __u32 tgid;
};

struct ev_enter {
  struct ev_header h;
  __u32 nr;
  __u32 nfields;
  __u64 args[6];
  __u64 aux; /* SC_OPENAT2: open_how.flags */
};

struct ev_exit {
  struct ev_header h;
  __u32 nr;
  __u32 nfields;
  __s64 ret;
};

struct ev_fork {
  struct ev_header h; /* the task that forked */
  __u32 child_tid;
  __u32 child_tgid;
};

/* Then an F_PATH field: the file name the kernel executed (linux_binprm.filename, as passed, or
 * "/dev/fd/N[/name]" for execveat), and EV_ARGV records with the argv as the new program has it
 * (its strings are resident in the new image, where those passed to execve may not have been). */
struct ev_exec {
  struct ev_header h; /* tid: the thread group's leader after the exec */
  __u32 old_tid;      /* the thread that called execve (another one when it was not the leader) */
  __u32 argv_len;     /* bytes of argv (NUL-separated), the EV_ARGV records that follow carry */
};

struct ev_argv {
  struct ev_header h;
  __u32 offset; /* of this piece in argv */
  __u32 pad;
};

struct ev_task_exit {
  struct ev_header h;
  __u32 group_dead; /* the last thread of the thread group */
  __u32 pad;
};

/* IORING_OP_OPENAT, IORING_OP_OPENAT2 and IORING_OP_STATX (include/uapi/linux/io_uring.h). */
struct ev_uring {
  struct ev_header h;
  __u64 req; /* identifies the request until its completion */
  __u32 opcode;
  __u32 nfields;
  __s64 dfd;
  __u64 flags; /* open flags, or statx's AT_* flags */
};

struct ev_uring_done {
  struct ev_header h;
  __u64 req;
  __s64 res;
};

/* A field: struct ev_field, then `len` bytes. Strings carry no NUL. */
enum field_tag {
  F_PATH = 1,     /* the path argument as named */
  F_PATH_FAULT = 2, /* the path argument could not be read (the exit re-reads it) */
  F_BASE = 3,     /* the directory a relative path starts from (the cwd or the dirfd), or the file
                     an fd-only call names; inside the caller's root */
  F_BASE_OUTSIDE = 4, /* that directory is not under the caller's root (or was not found) */
  F_PROC = 5,     /* the path goes through the caller's /proc tables: the file they reach now;
                     the field's first two bytes are where the rest of F_PATH starts */
  F_ARGV = 6,     /* execve's argv, each string NUL-terminated */
  F_SOCKADDR = 7, /* bind/connect: the struct sockaddr as passed */
  F_TRUNCATED = 8, /* something did not fit (a path over PATH_MAX, argv over the cap) */
  F_ARGV_HOLES = 9, /* 256 bits: the F_ARGV strings that could not be read (written empty) */
  F_SOCKET = 10,  /* struct ev_socket */
};

/* A socket after a successful bind or listen: sock->type, sk_family and the local port. */
struct ev_socket {
  __u16 family;
  __u16 type;
  __u16 port; /* host order (inet_sk's num) */
  __u16 pad;
};

struct ev_field {
  __u8 tag;
  __u8 slot; /* 0: the first path argument, 1: the second */
  __u16 len;
};

#endif
