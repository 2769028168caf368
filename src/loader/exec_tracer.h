/* The process tracer as a library: open, load and attach one implementation
 * of bpf/exec.bpf.c, poll its ring buffer into decoded records, stop and
 * account. Used by `sonde exec` and by the kernel tests alike. */
#ifndef SONDE_LOADER_EXEC_TRACER_H
#define SONDE_LOADER_EXEC_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/exec_record.h"
#include "pipeline/tracer_stats.h"

enum exec_impl {
	EXEC_IMPL_TRACEPOINT = 0, /* sched_process_exec/fork/exit tracepoints */
	EXEC_IMPL_RAW_TRACEPOINT, /* the same, as raw tracepoints */
	EXEC_IMPL_SYSCALLS,       /* execve/execveat enter+exit: failed execs too */
	EXEC_IMPL_KPROBE,         /* bprm_execve kprobe+kretprobe */
	EXEC_IMPL_COUNT
};

#define EXEC_RINGBUF_KB_DEFAULT 8192

struct exec_tracer_opts {
	enum exec_impl impl;
	uint32_t filter_pid;      /* 0: all */
	bool filter_uid_on;
	uint32_t filter_uid;
	const char *filter_comm;  /* NULL: all */
	uint32_t ringbuf_kb;      /* 0: EXEC_RINGBUF_KB_DEFAULT; rounded up to a power of 2 */
	bool forks;               /* also fork records (their hook is not attached otherwise) */
};

/* Called for each record; return 0 when it was delivered, a negative errno
 * when the output failed (counted as an output_error drop). */
typedef int (*exec_record_fn)(const struct exec_record *r, void *ctx);

struct exec_tracer;

int exec_impl_parse(const char *s, enum exec_impl *out);
const char *exec_impl_name(enum exec_impl impl);

/* Open, load and attach. On failure returns a negative errno and writes a
 * one-line reason (no newline) to err. */
int exec_tracer_open(struct exec_tracer **out, const struct exec_tracer_opts *opts,
		     exec_record_fn fn, void *ctx, char *err, size_t err_size);
/* Wait up to timeout_ms for records and deliver them. Returns the number of
 * records handled or a negative errno. */
int exec_tracer_poll(struct exec_tracer *t, int timeout_ms);
/* Detach every program, then deliver what is still in the ring buffer, so
 * that the counters are final. */
int exec_tracer_stop(struct exec_tracer *t);
/* Counters so far (final after exec_tracer_stop). */
int exec_tracer_stats(struct exec_tracer *t, struct tracer_stats *out);
void exec_tracer_close(struct exec_tracer *t);

#endif
