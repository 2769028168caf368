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
	PROBE_UPROBE_MULTI, /* a uprobe-multi link on the same function fires */
	PROBE_OPENSSL,     /* the system libssl's internal read/write functions
			    * are recognised (cheaper SSL uprobes) */
	PROBE_BPF_STATS,   /* BPF_ENABLE_STATS gives non-zero run_time_ns */
	PROBE_LOCKDOWN,    /* lockdown still lets programs read kernel memory */
	PROBE_MEMLOCK,     /* BPF memory is memcg-accounted (rlimit irrelevant) */
	PROBE_CAPS,        /* this process holds CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN */
	PROBE_HELPERS,     /* every helper sonde's programs call is offered to their types */
	PROBE_TASK_STORAGE, /* task storage maps, usable from uprobe programs */
	PROBE_PROGRAMS,    /* sonde's own BPF objects (exec, http) load */
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

/* The oldest mainline kernel that has the feature a check tries ("5.8"),
 * or "" when it is not a matter of version (lockdown, capabilities). See
 * docs/kernel-requirements.md for where each number comes from. */
const char *probe_since(enum probe_id id);

/* The oldest mainline kernel sonde runs on, and the feature that sets it:
 * bpf_loop, called by both the exec and the http programs. */
#define PROBE_KERNEL_MIN_MAJOR 5
#define PROBE_KERNEL_MIN_MINOR 17
#define PROBE_KERNEL_MIN_TEXT "5.17"
#define PROBE_KERNEL_MIN_WHY "bpf_loop, used by the exec and http programs"

/* The running kernel's major.minor from uname(2); 0 or -EINVAL when the
 * release string does not start with them. */
int probe_kernel_version(int *major, int *minor);

/* Run one check; res is always filled. Returns 0 when the feature works, or
 * the negative errno of the step that failed (-ENOENT when a hook attached
 * but never fired). Checks are independent and leave nothing behind: every
 * object, link and fd they open is closed before they return. */
int probe_run(enum probe_id id, struct probe_result *res);

/* May programs of prog_type (enum bpf_prog_type) call helper func_id (enum
 * bpf_func_id)? 1 yes, 0 the verifier says no (unknown helper, or not for
 * this type), negative errno when no verdict could be had (not permitted to
 * load programs). Loads one two-instruction program. */
int probe_helper(int prog_type, int func_id);

/* A function of this binary the uprobe check attaches to and calls. Not
 * static and never inlined, so the symbol table names it. */
void probe_uprobe_target(void);

#endif
