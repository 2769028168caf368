/* What every tracer needs before it opens a BPF object: libbpf's messages
 * routed (hidden unless verbose), tracefs mounted so tracepoints can be found,
 * and the per-CPU counters read back the same way. */
#ifndef SONDE_LOADER_BPF_ENV_H
#define SONDE_LOADER_BPF_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "stats.h"

/* Route libbpf's messages to stderr only when verbose, and mount tracefs at
 * /sys/kernel/tracing if it is not mounted. 0 or a negative errno. */
int bpf_env_prepare(bool verbose);

/* Sum the per-CPU counters of a `stats` map (see bpf/common.bpf.h) into
 * out[STAT_COUNT]. 0 or a negative errno. */
int bpf_env_read_stats(int stats_map_fd, uint64_t out[STAT_COUNT]);

/* Stable name of a counter for output ("ringbuf_full", ...). */
const char *bpf_env_stat_name(enum sonde_stat s);

struct bpf_object_skeleton;
/* Detach every program of a skeleton at once: one thread per link, because
 * each tracepoint detach waits for RCU grace periods in the kernel (~70 ms
 * here), which overlap when done in parallel (26 links: ~1.8 s -> ~0.1 s).
 * The skeleton's link pointers are NULL afterwards, so X_bpf__destroy does
 * not detach again. Falls back to one at a time if threads cannot start. */
void bpf_env_detach_parallel(struct bpf_object_skeleton *s);

#endif
