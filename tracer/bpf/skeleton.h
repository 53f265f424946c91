/* A C interface to the light skeleton bpftool generates from trace.bpf.c (trace.lskel.h is C and
 * is compiled in skeleton.c only). Loading runs the skeleton's loader program in the kernel, which
 * also does the CO-RE relocations against the kernel's own BTF. */
#ifndef MINIFY_TRACER_BPF_SKELETON_H
#define MINIFY_TRACER_BPF_SKELETON_H

#include "events.h"

#ifdef __cplusplus
extern "C" {
#endif

struct minify_bpf;

struct minify_bpf_config {
  const struct sc_desc *table; /* MINIFY_BPF_MAX_NR entries */
  int proc_visible;            /* the traced root has a procfs at /proc */
  int count_syscalls;          /* record the syscall numbers of counted processes */
  const char *count_after;     /* NULL or "": every traced process is counted; else see trace.bpf.c */
};

/* Opens, fills in the configuration, loads and attaches every program. Returns 0, or a negative
 * errno with *stage naming the step that failed. */
int minify_bpf_open(const struct minify_bpf_config *config, struct minify_bpf **out, const char **stage);
/* The syscall numbers counted processes entered: MINIFY_BPF_COUNT_NR bytes, non-zero for each. */
void minify_bpf_syscalls_seen(const struct minify_bpf *b, unsigned char *seen);
int minify_bpf_tgids_fd(const struct minify_bpf *b);
int minify_bpf_events_fd(const struct minify_bpf *b);
/* Records the ring buffer had no room for. */
__u64 minify_bpf_dropped(const struct minify_bpf *b);
/* Program runs the kernel skipped because the same program was already running on that CPU. */
__u64 minify_bpf_misses(const struct minify_bpf *b);
void minify_bpf_close(struct minify_bpf *b);

#ifdef __cplusplus
}
#endif

#endif
