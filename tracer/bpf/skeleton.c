/* See skeleton.h. */
#include "skeleton.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "trace.lskel.h"

int minify_bpf_open(const struct minify_bpf_config *config, struct minify_bpf **out, const char **stage) {
  *out = NULL;
  *stage = "open";
  if (config->count_after && strlen(config->count_after) >= MINIFY_BPF_MARKER_MAX) return -ENAMETOOLONG;
  struct minify_trace *skel = minify_trace__open();
  if (!skel) return errno ? -errno : -ENOMEM;
  memcpy(skel->rodata->sc_table, config->table, sizeof skel->rodata->sc_table);
  skel->rodata->proc_visible = config->proc_visible ? 1 : 0;
  skel->rodata->count_syscalls = config->count_syscalls ? 1 : 0;
  if (config->count_after) strcpy((char *)skel->rodata->count_after, config->count_after);
  *stage = "load";
  int err = minify_trace__load(skel);
  if (err == 0) {
    *stage = "attach";
    err = minify_trace__attach(skel);
  }
  if (err != 0) {
    minify_trace__destroy(skel);
    return err < 0 ? err : -err;
  }
  *out = (struct minify_bpf *)skel;
  return 0;
}

int minify_bpf_tgids_fd(const struct minify_bpf *b) { return ((const struct minify_trace *)b)->maps.tgids.map_fd; }

int minify_bpf_events_fd(const struct minify_bpf *b) { return ((const struct minify_trace *)b)->maps.events.map_fd; }

void minify_bpf_syscalls_seen(const struct minify_bpf *b, unsigned char *seen) {
  const struct minify_trace *s = (const struct minify_trace *)b;
  for (int i = 0; i < MINIFY_BPF_COUNT_NR; i++) seen[i] = __atomic_load_n(&s->bss->syscalls_seen[i], __ATOMIC_RELAXED);
}

__u64 minify_bpf_dropped(const struct minify_bpf *b) {
  return __atomic_load_n(&((const struct minify_trace *)b)->bss->dropped, __ATOMIC_RELAXED);
}

static __u64 misses_of(int prog_fd) {
  struct bpf_prog_info info;
  memset(&info, 0, sizeof info);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.info.bpf_fd = prog_fd;
  attr.info.info_len = sizeof info;
  attr.info.info = (__u64)(unsigned long)&info;
  if (syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof attr) != 0) return 0;
  return info.recursion_misses;
}

__u64 minify_bpf_misses(const struct minify_bpf *b) {
  const struct minify_trace *s = (const struct minify_trace *)b;
  return misses_of(s->progs.sys_enter.prog_fd) + misses_of(s->progs.sys_exit.prog_fd) +
         misses_of(s->progs.process_fork.prog_fd) + misses_of(s->progs.process_exec.prog_fd) +
         misses_of(s->progs.process_exit.prog_fd) + misses_of(s->progs.uring_submit.prog_fd) +
         misses_of(s->progs.uring_complete.prog_fd);
}

void minify_bpf_close(struct minify_bpf *b) {
  if (b) minify_trace__destroy((struct minify_trace *)b);
}
