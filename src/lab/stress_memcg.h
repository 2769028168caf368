/* A memory cgroup for `sonde stress`: a child cgroup with a low limit that a
 * tracer's process group is moved into, watched (peak usage, limit hits, OOM
 * kills) and removed afterwards. cgroup v2 (memory.max, memory.events) where
 * the memory controller is there, else the v1 hierarchy
 * (memory.limit_in_bytes, memory.failcnt, memory.oom_control). Only what is
 * charged after the move counts against the limit: neither version moves a
 * process's earlier charges (BPF maps included) with it. */
#ifndef SONDE_LAB_STRESS_MEMCG_H
#define SONDE_LAB_STRESS_MEMCG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LAB_MEMCG_PATH_BYTES 512

struct lab_memcg {
	int version;                     /* 1 or 2; 0: not created */
	char path[LAB_MEMCG_PATH_BYTES]; /* the child cgroup's directory */
	char home[LAB_MEMCG_PATH_BYTES]; /* cgroup processes go back to (the lab's own) */
};

struct lab_memcg_stats {
	double peak_mb;   /* highest usage seen by the kernel, MB; NaN unknown */
	double usage_mb;
	double limit_hits; /* v2 memory.events "max", v1 memory.failcnt */
	double oom_kills;  /* v2 memory.events "oom_kill", v1 oom_control "oom_kill" */
};

/* Create <hierarchy>/<name> with the limit (bytes, > 0). 0, or a negative
 * errno with a one-line reason ("no memory cgroup controller", EACCES, ...).
 * The path is remembered for lab_memcg_cleanup_signal_safe. */
int lab_memcg_create(struct lab_memcg *m, const char *name, uint64_t limit_bytes, char *err,
		     size_t len);
/* Move every process of group pgid in: how many moved, or a negative errno. */
int lab_memcg_move_pgrp(struct lab_memcg *m, pid_t pgid);
/* Put pid in the cgroup (e.g. a child before it execs). 0 or -errno. */
int lab_memcg_move_pid(struct lab_memcg *m, pid_t pid);
/* New limit; 0 lifts it. 0 or -errno. */
int lab_memcg_set_limit(struct lab_memcg *m, uint64_t limit_bytes);
int lab_memcg_stats(const struct lab_memcg *m, struct lab_memcg_stats *s);
/* Move what is still inside back home, remove the cgroup. Idempotent. */
void lab_memcg_destroy(struct lab_memcg *m);
/* rmdir of the last cgroup created (its processes must be dead):
 * async-signal-safe, for lab_install_cleanup. */
void lab_memcg_cleanup_signal_safe(void);

#endif
