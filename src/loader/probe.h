/* Kernel capability probing: each check finds out whether a BPF feature works
 * here by trying it (create the map, load and attach a tiny program, make it
 * fire), never by reading kernel config files. Used by `sonde doctor`, and by
 * any loader that wants the reason a hook is missing. */
#ifndef SONDE_LOADER_PROBE_H
#define SONDE_LOADER_PROBE_H

#include <stdbool.h>

enum probe_id {
	PROBE_BTF = 0,     /* vmlinux BTF loads (CO-RE) */
	PROBE_RINGBUF,     /* a BPF_MAP_TYPE_RINGBUF map can be created */
	PROBE_SYSCALL_TP,  /* tp/syscalls/sys_enter_getpid attaches and fires */
	PROBE_SCHED_TP,    /* tp/sched/sched_process_fork attaches and fires */
	PROBE_RAW_TP,      /* raw_tp/sys_enter attaches and fires */
	PROBE_KPROBE,      /* a kprobe attaches to a kernel function and fires */
	PROBE_FENTRY,      /* an fentry program loads, attaches and fires */
	PROBE_UPROBE,      /* a uprobe on a function of this binary fires */
	PROBE_BPF_STATS,   /* BPF_ENABLE_STATS gives non-zero run_time_ns */
	PROBE_LOCKDOWN,    /* lockdown still lets programs read kernel memory */
	PROBE_MEMLOCK,     /* BPF memory is memcg-accounted (rlimit irrelevant) */
	PROBE_CAPS,        /* this process holds CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN */
	PROBE_COUNT
};

/* Longest explanation of one result, NUL included. */
#define PROBE_DETAIL_MAX 320

struct probe_result {
	bool ok;                        /* the feature works */
	char detail[PROBE_DETAIL_MAX];  /* what was seen: why missing, or how it worked */
};

/* Stable name of a check, as printed and in JSON ("btf", "kprobes", ...). */
const char *probe_name(enum probe_id id);

/* Run one check; res is always filled. Returns 0 when the feature works, or
 * the negative errno of the step that failed (-ENOENT when a hook attached
 * but never fired). Checks are independent and leave nothing behind: every
 * object, link and fd they open is closed before they return. */
int probe_run(enum probe_id id, struct probe_result *res);

/* A function of this binary the uprobe check attaches to and calls. Not
 * static and never inlined, so the symbol table names it. */
void probe_uprobe_target(void);

#endif
