/* What every tracer needs before it opens a BPF object: libbpf's messages
 * routed (hidden unless verbose), tracefs mounted so tracepoints can be found,
 * the per-CPU counters read back the same way, and uprobe-multi links, which
 * the Debian 12 libbpf (1.1) cannot make. */
#ifndef SONDE_LOADER_BPF_ENV_H
#define SONDE_LOADER_BPF_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stats.h"

/* Route libbpf's messages to stderr only when verbose, and mount tracefs at
 * /sys/kernel/tracing if it is not mounted. 0 or a negative errno: -EACCES
 * when tracefs is mounted but this process may not read it (no mount is
 * tried then), else the mount's error. */
int bpf_env_prepare(bool verbose);
/* One line (no newline) for bpf_env_prepare's error err: "tracefs is
 * mounted but not readable ..." for -EACCES, "tracefs is not mounted and
 * could not be: ..." otherwise. */
const char *bpf_env_prepare_strerror(int err);

/* BPF_TRACE_UPROBE_MULTI (kernel 6.6+): the attach type a kprobe-type
 * program must be loaded with to be attached by a uprobe-multi link, and
 * the flag that makes the link's probes return probes. Not in Debian 12's
 * <linux/bpf.h>. */
#define BPF_ENV_TRACE_UPROBE_MULTI 48
#define BPF_ENV_F_UPROBE_MULTI_RETURN 1U

/* Does this kernel make uprobe-multi links? 1 yes, 0 no, or a negative
 * errno when it cannot be told (no program may be loaded here). Found once
 * per process by loading a two-instruction program and asking for a link
 * on "/" (a kernel that knows the link type answers EBADF: not a regular
 * file), then remembered; ~0.2 ms. */
int bpf_env_uprobe_multi_supported(void);

/* Attach prog_fd (loaded with BPF_ENV_TRACE_UPROBE_MULTI) to cnt offsets in
 * the file at path with one BPF_LINK_CREATE, as return probes when retprobe;
 * pid 0: every process, else only that one. The kernel checks no capability
 * here (the program's load did): unlike a perf-event uprobe, which needs
 * CAP_SYS_ADMIN since 2025. The link fd (close it to detach), or a negative
 * errno. */
int bpf_env_uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
				size_t cnt, bool retprobe, pid_t pid);

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
