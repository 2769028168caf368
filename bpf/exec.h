/* Events of the process tracer (`sonde exec`), shared by bpf/exec.bpf.c and
 * the loader. Fixed-width types only; records are variable-length: an exec
 * record ends with the argument bytes that were captured (args_len), and
 * may have unused bytes after them (the kernel side reserves in size
 * classes); readers go by args_len, never by the record's size. */
#ifndef SONDE_EXEC_H
#define SONDE_EXEC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define EXEC_COMM_LEN 16
#define EXEC_FILENAME_BYTES_MAX 256
/* Captured argv bytes (NUL-separated strings). A power of two: the verifier
 * bounds offsets with a mask. */
#define EXEC_ARGS_BYTES_MAX 4096
/* syscalls implementation: argv pointers walked at execve entry. */
#define EXEC_ARGS_COUNT_MAX 64
#define EXEC_ARG_BYTES_MAX 1024

enum exec_event_kind {
	EXEC_EV_EXEC = 1,
	EXEC_EV_FORK = 2,
	EXEC_EV_EXIT = 3,
};

/* exec record flags */
#define EXEC_F_ARGS_TRUNCATED (1u << 0)  /* argv longer than was captured */
#define EXEC_F_ARGS_FAULT (1u << 1)      /* argv could not be read */
#define EXEC_F_FILENAME_TRUNCATED (1u << 2)
#define EXEC_F_FAILED (1u << 3)          /* execve returned an error (syscalls impl) */
/* exit record flags */
#define EXIT_F_SINCE_FORK (1u << 0) /* duration counts from fork (the kernel
				     * always sends that; userspace makes it
				     * since exec when it saw the exec) */

struct exec_event_hdr {
	__u32 kind;                /* enum exec_event_kind */
	__u32 pid;                 /* thread-group id of the process */
	__u32 ppid;                /* thread-group id of the real parent */
	__u32 flags;               /* EXEC_F_* or EXIT_F_* */
	__u64 ts_ns;               /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	char comm[EXEC_COMM_LEN];  /* task comm, NUL-terminated */
};

struct exec_event {
	struct exec_event_hdr hdr;
	__u32 uid;                 /* real uid */
	__s32 retval;              /* execve result: 0 or -errno (syscalls impl) */
	__u64 cgroup_id;           /* cgroup v2 id of the process */
	__u32 args_total_bytes;    /* whole argv size in the process, bytes */
	__u32 args_len;            /* bytes of args[] captured */
	__u32 argc_total;          /* argument count if known, else 0 */
	__u32 filename_len;        /* bytes in filename, without the NUL */
	char filename[EXEC_FILENAME_BYTES_MAX];
	char args[EXEC_ARGS_BYTES_MAX]; /* only args_len bytes are sent */
};

struct exec_fork_event {
	struct exec_event_hdr hdr; /* pid = child, ppid = parent */
};

struct exec_exit_event {
	struct exec_event_hdr hdr;
	__u32 exit_status;         /* task->exit_code: code << 8 | signal */
	__u32 pad;
	__u64 duration_ns;         /* since exec (or fork, see EXIT_F_SINCE_FORK) */
};

/* Bytes of an exec record before args[]: what is always sent. */
#define EXEC_EVENT_HEAD_BYTES __builtin_offsetof(struct exec_event, args)

#endif
