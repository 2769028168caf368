/* A decoded record of the process tracer: what the kernel sent, checked and
 * split (argv into strings) without copying. Pointers refer into the raw
 * ring-buffer record, valid only while that record is. */
#ifndef SONDE_PIPELINE_EXEC_RECORD_H
#define SONDE_PIPELINE_EXEC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"

/* Each captured argument takes at least one byte (its NUL), so this is
 * enough for any record the kernel can send. */
#define EXEC_RECORD_ARGS_MAX EXEC_ARGS_BYTES_MAX

struct exec_arg {
	const char *ptr;
	uint32_t len;
};

struct exec_record {
	enum exec_event_kind kind;
	uint32_t pid;
	uint32_t ppid;
	uint32_t flags;          /* EXEC_F_* / EXIT_F_* from the kernel */
	uint64_t ts_ns;
	char comm[EXEC_COMM_LEN + 1];
	/* exec */
	uint32_t uid;
	int32_t retval;          /* 0 or -errno of a failed exec */
	uint64_t cgroup_id;
	const char *filename;
	uint32_t filename_len;
	uint32_t argc;           /* arguments captured */
	uint32_t argc_total;     /* in the process, 0 if unknown */
	uint32_t args_bytes;     /* argv bytes in the process, 0 if unknown */
	bool args_truncated;
	/* exit */
	int exit_code;           /* exit status, 0..255 */
	int signal;              /* terminating signal, 0 if none */
	bool core_dumped;
	uint64_t duration_ns;
	/* last: everything before it is cleared per record, this only as used */
	struct exec_arg args[EXEC_RECORD_ARGS_MAX];
};

/* Decode one raw record of size bytes. 0, or -EINVAL when the record is
 * malformed (short, unknown kind, lengths past its end). O(size). */
int exec_record_decode(const void *data, size_t size, struct exec_record *out);

#endif
