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

/* Opens, fills the syscall table (MINIFY_BPF_MAX_NR entries), loads and attaches every program.
 * Returns 0, or a negative errno with *stage naming the step that failed. */
int minify_bpf_open(const struct sc_desc *table, int proc_visible, struct minify_bpf **out, const char **stage);
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
